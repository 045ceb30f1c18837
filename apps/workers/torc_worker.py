"""Drover's worker in Torc mode: registers a compute node, claims jobs that fit its free
resources over HTTP, runs them (apps.workers.runner) a bounded number at a time, heartbeats,
reports results, and on SIGTERM puts its unfinished jobs back before leaving.

Requests per job are the cost of short jobs, so: a job is marked running (start_job) only once
it has run START_AFTER seconds (a job done sooner goes from pending straight to its result, a
transition the state machine allows); results finished together go in one batch_complete_jobs
request (Torc 0.35; complete_job per job on a server without it); a finished child wakes the
loop at once (SIGCHLD through a wake-up pipe) instead of the next poll."""

import datetime as dt
import logging
import os
import select
import signal
import socket
import time

from .http import ApiError, JsonClient
from .runner import Running, spawn

logger = logging.getLogger("drover.worker")
GB = 1024**3
STRING_TIMESTAMPS = {"X-Torc-Timestamp-Format": "string"}
REAP_INTERVAL = 0.05
START_AFTER = 1.0  # seconds a job runs before the server is told it started
TAKEN_AWAY = {404, 409, 422}  # start_job refused: the job is no longer this node's to run


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class TorcWorker:
    def __init__(self, client: JsonClient, workflow_id: int, *, cpus: int, memory_bytes: int, gpus: int = 0,
                 poll: float = 1.0, heartbeat_every: float = 30.0, once: bool = False, out=print,
                 max_idle: float | None = None):
        self.api, self.workflow_id = client, workflow_id
        self.cpus, self.memory, self.gpus = cpus, memory_bytes, gpus
        self.poll, self.heartbeat_every, self.once, self.out = poll, heartbeat_every, once, out
        self.max_idle = max_idle
        self.running: dict[int, Running] = {}
        self.requirements: dict[int, dict] = {}
        self.stopping = False
        self.node_id: int | None = None
        self.run_id = 0
        self.counts = {"completed": 0, "failed": 0}
        self.batch_complete = True  # until the server says it has no batch_complete_jobs
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        client.headers.update(STRING_TIMESTAMPS)

    # SECTION lifecycle

    def run(self) -> dict:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # its byte on the wake-up pipe is the point
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        workflow = self.api.get(f"/workflows/{self.workflow_id}")
        self.run_id = workflow.get("run_id", 0)
        self.node_id = self._register()
        self.out(f"worker: compute node {self.node_id} on workflow {self.workflow_id} "
                 f"({self.cpus} cpus, {self.memory / GB:.1f} GB, {self.gpus} gpus)")
        last_beat = idle_since = time.monotonic()
        last_claim = 0.0
        claimed_once = False
        try:
            while True:
                finished = self._reap()
                if self.stopping:
                    break
                due = finished or time.monotonic() - last_claim >= self.poll
                if due and not (self.once and claimed_once):
                    last_claim = time.monotonic()
                    if self._claim():
                        claimed_once = True
                        idle_since = time.monotonic()
                if not self.running:
                    if self.once and claimed_once:
                        break
                    if due and self.api.get(f"/workflows/{self.workflow_id}/is_complete")["is_complete"]:
                        break
                    if self.max_idle is not None and time.monotonic() - idle_since > self.max_idle:
                        break
                if time.monotonic() - last_beat > self.heartbeat_every:
                    self._heartbeat()
                    last_beat = time.monotonic()
                self._start_long_runners()
                # a child's exit wakes us at once; claim at most every `poll` seconds when idle
                self._wait(REAP_INTERVAL if self.running else self.poll)
        finally:
            self._give_back()
            self._deregister()
        self.out(f"worker: done, {self.counts['completed']} completed, {self.counts['failed']} failed")
        return self.counts

    def _wait(self, seconds: float) -> None:
        try:
            select.select([self._wake_r], [], [], seconds)
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _on_signal(self, signum, frame):
        self.out(f"worker: signal {signum}, putting unfinished jobs back")
        self.stopping = True

    # SECTION compute node

    def _register(self) -> int:
        node = self.api.post("/compute_nodes", {
            "workflow_id": self.workflow_id, "hostname": socket.gethostname(), "pid": os.getpid(),
            "start_time": now_iso(), "num_cpus": self.cpus, "memory_gb": self.memory / GB, "num_gpus": self.gpus,
            "num_nodes": 1, "compute_node_type": "local", "is_active": True, "scheduler": {"type": "drover"},
        })
        return node["id"]

    def _node_body(self, active: bool) -> dict:
        return {"workflow_id": self.workflow_id, "hostname": socket.gethostname(), "pid": os.getpid(),
                "num_cpus": self.cpus, "memory_gb": self.memory / GB, "num_gpus": self.gpus, "num_nodes": 1,
                "is_active": active, "compute_node_type": "local"}

    def _heartbeat(self) -> None:
        self.api.put(f"/compute_nodes/{self.node_id}", self._node_body(True))

    def _deregister(self) -> None:
        if self.node_id is not None:
            try:
                self.api.put(f"/compute_nodes/{self.node_id}", self._node_body(False))
            except (ApiError, OSError) as exc:
                logger.warning("could not deactivate compute node %s: %s", self.node_id, exc)

    # SECTION jobs

    def _free(self) -> tuple[int, int, int]:
        cpus = self.cpus - sum(r.cpus for r in self.running.values())
        memory = self.memory - sum(r.memory_bytes for r in self.running.values())
        gpus = self.gpus - sum(r.gpus for r in self.running.values())
        return cpus, memory, gpus

    def _claim(self) -> int:
        cpus, memory, gpus = self._free()
        if cpus <= 0:
            return 0
        answer = self.api.post(
            f"/workflows/{self.workflow_id}/claim_jobs_based_on_resources/{cpus}",
            {"id": self.node_id, "num_cpus": cpus, "memory_gb": max(memory, 0) / GB, "num_gpus": max(gpus, 0),
             "num_nodes": 1},
        )
        for job in answer.get("jobs") or []:
            self._start(job)
        return len(answer.get("jobs") or [])

    def _requirements(self, rr_id: int | None) -> dict:
        if rr_id is None:
            return {"num_cpus": 1, "num_gpus": 0, "memory": "0", "runtime_s": None}
        if rr_id not in self.requirements:
            self.requirements[rr_id] = self.api.get(f"/resource_requirements/{rr_id}")
        return self.requirements[rr_id]

    def _start(self, job: dict) -> None:
        from apps.core.parsers import parse_iso_duration, parse_memory

        rr = self._requirements(job.get("resource_requirements_id"))
        env = {"TORC_API_URL": self.api.base_url,
               "TORC_WORKFLOW_ID": str(self.workflow_id), "TORC_JOB_ID": str(job["id"])}
        self.running[job["id"]] = spawn(
            job_id=job["id"], command=job["command"], invocation_script=job.get("invocation_script"), env=env,
            cpus=rr.get("num_cpus", 1), gpus=rr.get("num_gpus", 0),
            memory_bytes=parse_memory(rr.get("memory") or "0"),
            timeout_s=parse_iso_duration(rr["runtime"]) * 2 if rr.get("runtime") else None,
        )
        self.running[job["id"]].extra["announced"] = False
        self.out(f"worker: started job {job['id']} ({job['name']})")

    def _start_long_runners(self) -> None:
        """start_job for the jobs that have run START_AFTER seconds (their lease grows with it).
        A job the server refuses to start was taken away meanwhile (canceled, its workflow run
        restarted, or its claim lapsed and another node holds it): its result would be refused
        too, so it is stopped and forgotten, and the other jobs carry on."""
        now = time.monotonic()
        for job_id, running in list(self.running.items()):
            if not running.extra.get("announced") and now - running.started >= START_AFTER:
                try:
                    self.api.put(f"/jobs/{job_id}/start_job/{self.run_id}/{self.node_id}")
                except ApiError as exc:
                    if exc.status not in TAKEN_AWAY:
                        raise
                    logger.warning("job %s: start refused by the server, stopping it: %s", job_id, exc)
                    self.out(f"worker: job {job_id} refused by the server ({exc.status}), stopped")
                    running.terminate()
                    running.outcome()
                    del self.running[job_id]
                    continue
                running.extra["announced"] = True

    def _reap(self) -> int:
        done = []
        for job_id, running in list(self.running.items()):
            if running.poll() is None:
                continue
            outcome = running.outcome()
            status = "completed" if outcome.return_code == 0 else "failed"
            done.append((job_id, status, {
                "job_id": job_id, "workflow_id": self.workflow_id, "run_id": self.run_id,
                "compute_node_id": self.node_id, "return_code": outcome.return_code,
                "exec_time_minutes": outcome.exec_time_minutes, "completion_time": now_iso(), "status": status,
                "stdout": outcome.stdout, "stderr": outcome.stderr,
            }))
            del self.running[job_id]
        if done:
            self._report(done)
        for job_id, status, result in done:
            self.counts[status] += 1
            self.out(f"worker: job {job_id} {status} (exit {result['return_code']})")
        return len(done)

    def _report(self, done: list[tuple[int, str, dict]]) -> None:
        if self.batch_complete:
            try:
                answer = self.api.post(f"/workflows/{self.workflow_id}/batch_complete_jobs", {"completions": [
                    {"job_id": job_id, "run_id": self.run_id, "status": status, "result": result}
                    for job_id, status, result in done]})
            except ApiError as exc:
                if exc.status not in (404, 405):
                    raise
                self.batch_complete = False  # an older server: one request per job
            else:
                for error in answer.get("errors") or []:
                    logger.warning("job %s: result refused: %s", error.get("job_id"), error.get("message"))
                return
        for job_id, status, result in done:
            self.api.post(f"/jobs/{job_id}/complete_job/{status}/{self.run_id}", result)

    def _give_back(self) -> None:
        """Stop what still runs and hand those jobs back as ready for another worker."""
        for job_id, running in list(self.running.items()):
            running.terminate()
            running.outcome()
            try:
                self.api.put(f"/jobs/{job_id}/manage_status_change/ready/{self.run_id}")
            except (ApiError, OSError) as exc:
                logger.warning("could not give job %s back: %s (its lease will expire)", job_id, exc)
            del self.running[job_id]
