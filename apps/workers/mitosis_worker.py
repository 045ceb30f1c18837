"""Drover's worker in Mitosis mode: the HTTP sequence of the real `mito worker` (v0.6.8).

Per task: fetch (GET /workers/tasks) -> download spec.resources -> run args without a shell
(apps.workers.runner) with envs, MITO_* variables and the timeout -> Finish, or Cancel when the
timeout killed it -> upload result / exec-log / std-log archives (Upload op, then PUT of the
bytes) -> Commit with the raw wait status. With a redis_url from registration, the task's exec
states are SET and PUBLISHed on task:{uuid} as Mitosis workers do.

--concurrency N registers N Mitosis workers, one slot each, served by one single-threaded loop
(a Mitosis worker holds one task at a time). Any 401 means the coordinator removed that worker
(shutdown, timeout): its slot stops, and the process exits 0 when no slot is left. On SIGTERM or
SIGINT, running tasks are killed and each worker unregisters (DELETE /workers), which puts its
task back to ready; the exit status is 0. Any other unexpected answer is fatal (as in Mitosis):
the workers unregister and the process exits 1."""

import hashlib
import json
import logging
import shutil
import signal
import tarfile
import tempfile
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from apps.core.exceptions import FieldValidationError
from apps.core.parsers import parse_mitosis_duration

from .http import JsonClient, download, upload
from .runner import Running, spawn

logger = logging.getLogger("drover.worker")
S = {"WorkerExited": -1, "FetchResource": 1, "FetchResourceFinished": 2, "FetchResourceError": 3,
     "FetchResourceNotFound": 5, "FetchResourceForbidden": 6, "ExecPending": 10, "ExecSpawned": 11,
     "ExecFinished": 12, "ExecTimeout": 13, "UploadResult": 14, "UploadFinishedResult": 15,
     "UploadCancelledResult": 16, "UploadResultFinished": 17, "TaskCommitted": 19}


class WorkerError(Exception):
    """An answer the worker cannot go on from (Mitosis exits on these too)."""


class Gone(Exception):
    """401: the coordinator no longer knows this worker."""


def wait_status(returncode: int) -> int:
    """Popen's returncode as the raw unix wait status Mitosis reports (exit 1 -> 256, SIGTERM -> 15)."""
    return -returncode if returncode < 0 else returncode << 8


def md5_password(password: str) -> list[int]:
    return list(hashlib.md5(password.encode(), usedforsecurity=False).digest())  # Mitosis' login protocol


class Publisher:
    """Exec states on Redis; silent when there is no Redis or it cannot be reached."""

    def __init__(self, url: str | None):
        self.redis = None
        if url:
            try:
                import redis

                self.redis = redis.Redis.from_url(url, socket_timeout=5)
                self.redis.ping()
            except Exception as exc:  # noqa: BLE001 - Mitosis runs on without Redis too
                logger.warning("redis %s unavailable (%s); exec states are not published", url, exc)
                self.redis = None

    def announce(self, task_uuid: str, state: str, ex: int | None = None) -> None:
        if self.redis is None:
            return
        key, value = f"task:{task_uuid}", S[state]
        try:
            self.redis.set(key, value, ex=ex)
            self.redis.publish(key, value)
        except Exception as exc:  # noqa: BLE001
            logger.warning("redis: %s", exc)


@dataclass
class Slot:
    api: JsonClient
    uuid: str
    home: Path
    task: dict | None = None
    running: Running | None = None
    next_fetch: float = 0.0
    last_beat: float = 0.0
    gone: bool = False

    def dirs(self) -> dict[str, Path]:
        return {name: self.home / name for name in ("result", "exec", "resource", "std")}


class MitosisWorker:
    def __init__(self, *, url: str, token: str | None = None, username: str | None = None,
                 password: str | None = None, tags=(), labels=(), groups=(), concurrency: int = 1,
                 heartbeat_every: float = 300.0, poll: float = 10.0, lifetime: str | None = None,
                 work_dir: str | None = None, out=print):
        self.url, self.token, self.username, self.password = url, token, username, password
        self.tags, self.labels, self.groups = list(tags), list(labels), list(groups)
        self.concurrency, self.heartbeat_every, self.poll, self.lifetime = concurrency, heartbeat_every, poll, lifetime
        self.own_work_dir = work_dir is None  # only a directory we made is removed at the end
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="drover-mitosis-"))
        self.out = out
        self.slots: list[Slot] = []
        self.publisher = Publisher(None)
        self.stopping = False
        self.counts = {"finished": 0, "cancelled": 0}

    # SECTION lifecycle

    def run(self) -> dict:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self._register()
            while not self.stopping and any(not s.gone for s in self.slots):
                for slot in self.slots:
                    if not slot.gone and not self.stopping:
                        self._step(slot)
                time.sleep(self._idle_time())
        finally:
            self._leave()
        self.out(f"worker: done, {self.counts['finished']} finished, {self.counts['cancelled']} cancelled")
        return self.counts

    def _idle_time(self) -> float:
        """Until the next thing to do: a fetch or heartbeat due, or a look at a running task
        (often while it is young: short tasks are reported at once; rarely once it runs long)."""
        now, waits = time.monotonic(), [0.2]  # bounded: signals are noticed within 0.2 s
        for slot in self.slots:
            if slot.gone:
                continue
            waits.append(slot.last_beat + self.heartbeat_every - now)
            if slot.running is not None:
                age = now - slot.running.started
                waits.append(0.005 if age < 0.2 else 0.02 if age < 2 else 0.1)
            else:
                waits.append(slot.next_fetch - now)
        return max(0.0, min(waits))

    def _on_signal(self, signum, frame):
        self.out(f"worker: signal {signum}, giving tasks back")
        self.stopping = True

    def _register(self) -> None:
        token = self.token or self._login()
        user = JsonClient(self.url, {"Authorization": f"Bearer {token}"})
        body = {"tags": self.tags, "labels": self.labels, "groups": self.groups, "lifetime": self.lifetime}
        for index in range(self.concurrency):
            status, text, _ = user.exchange("POST", "/workers", body)
            if status != 200:
                raise WorkerError(f"registration refused ({status}): {text[:300]}")
            answer = json.loads(text)
            api = JsonClient(self.url, {"Authorization": f"Bearer {answer['token']}"})
            home = self.work_dir / answer["worker_id"]  # unique: several workers may share --work-dir
            self.slots.append(Slot(api=api, uuid=answer["worker_id"], home=home, last_beat=time.monotonic()))
            if index == 0:
                self.publisher = Publisher(answer.get("redis_url"))
            self.out(f"worker: registered {answer['worker_id']}")
        user.close()

    def _login(self) -> str:
        client = JsonClient(self.url, {})
        # retain: a worker must not end the user's other sessions
        status, text, _ = client.exchange("POST", "/login", {"username": self.username,
                                                             "md5_password": md5_password(self.password or ""),
                                                             "retain": True})
        client.close()
        if status != 200:
            raise WorkerError(f"login refused ({status}): {text[:300]}")
        return json.loads(text)["token"]

    def _leave(self) -> None:
        for slot in self.slots:
            if slot.running is not None:
                slot.running.terminate()
                slot.running.outcome()
                self.publisher.announce(slot.task["uuid"], "WorkerExited", 60)
                slot.running = None
            if not slot.gone:
                slot.api.close()
                slot.api.retry_for, slot.api.timeout = 3.0, 3.0  # as Mitosis: do not hang on exit
                try:
                    slot.api.exchange("DELETE", "/workers")  # the server puts its task back to ready
                except OSError as exc:
                    logger.warning("could not unregister %s: %s", slot.uuid, exc)
            shutil.rmtree(slot.home, ignore_errors=True)
            slot.api.close()
        if self.own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # SECTION one slot

    def _call(self, slot: Slot, method: str, path: str, body=None, *, tolerate=()) -> tuple[int, str, dict]:
        status, text, headers = slot.api.exchange(method, path, body)
        if status == 401:
            raise Gone()
        if status >= 300 and status not in tolerate:
            raise WorkerError(f"{method} {path} -> {status}: {text[:300]}")
        return status, text, headers

    def _step(self, slot: Slot) -> None:
        try:
            now = time.monotonic()
            if now - slot.last_beat >= self.heartbeat_every:
                slot.last_beat = now
                self._call(slot, "POST", "/workers/heartbeat")
            if slot.running is not None:
                if slot.running.poll() is not None:
                    self._complete(slot)
            elif now >= slot.next_fetch:
                self._fetch(slot)
        except Gone:
            self.out(f"worker: {slot.uuid} was removed by the coordinator; its slot stops")
            if slot.running is not None:
                slot.running.terminate()
                slot.running.outcome()
                slot.running = None
            slot.gone = True

    def _fetch(self, slot: Slot) -> None:
        status, text, _ = self._call(slot, "GET", "/workers/tasks")
        task = json.loads(text) if status == 200 and text else None
        if not task:
            slot.next_fetch = time.monotonic() + self.poll
            return
        slot.task = task
        for path in slot.dirs().values():
            path.mkdir(parents=True, exist_ok=True)
        failure = self._fetch_resources(slot, task)
        if failure:
            self._report(slot, "Cancel")
            self._commit(slot, 0, failure)
            return
        self._start(slot, task)

    def _fetch_resources(self, slot: Slot, task: dict) -> str | None:
        """Download spec.resources into MITO_RESOURCE_DIR; a failure is the Commit msg."""
        resources = task["spec"].get("resources") or []
        if not resources:
            return None
        self.publisher.announce(task["uuid"], "FetchResource", 360)
        for resource in resources:
            remote = resource.get("remote_file") or {}
            if "Artifact" in remote:
                path = f"/workers/tasks/{remote['Artifact']['uuid']}/artifacts/{remote['Artifact']['content_type']}"
            else:
                path = f"/workers/tasks/{task['uuid']}/attachments/{quote(remote.get('Attachment', {}).get('key', ''))}"
            status, text, headers = self._call(slot, "GET", path, tolerate=(302, 403, 404))
            if status in (403, 404):
                state, msg = ("FetchResourceNotFound", "ResourceNotFound") if status == 404 else \
                    ("FetchResourceForbidden", "ResourceForbidden")
                self.publisher.announce(task["uuid"], state, 60)
                return msg
            url = headers.get("location") if status == 302 else json.loads(text)["url"]
            dest = slot.home / "resource" / resource["local_path"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                download(slot.api.absolute(url), str(dest))
            except (urllib.error.URLError, OSError) as exc:
                logger.warning("download of %s failed: %s", path, exc)
                self.publisher.announce(task["uuid"], "FetchResourceError", 60)
                return "ResourceForbidden"
        self.publisher.announce(task["uuid"], "FetchResourceFinished")
        return None

    def _start(self, slot: Slot, task: dict) -> None:
        dirs = slot.dirs()
        env = {str(k): str(v) for k, v in (task["spec"].get("envs") or {}).items()}
        env.update(MITO_RESULT_DIR=str(dirs["result"]), MITO_EXEC_DIR=str(dirs["exec"]),
                   MITO_RESOURCE_DIR=str(dirs["resource"]), MITO_TASK_UUID=task["uuid"],
                   MITO_NEW_TASK=str(slot.home / "new_task.json"))
        if task.get("upstream_task_uuid"):
            env["MITO_UPSTREAM_TASK_UUID"] = task["upstream_task_uuid"]
        try:
            timeout = parse_mitosis_duration(task["timeout"], field="timeout")
        except FieldValidationError:
            timeout = None
        self.publisher.announce(task["uuid"], "ExecPending", (timeout or 0) + 60)
        try:
            slot.running = spawn(job_id=task["id"], argv=[str(a) for a in task["spec"]["args"]], env=env,
                                 timeout_s=timeout, log_dir=str(dirs["std"]))
        except OSError as exc:  # as `/usr/bin/env missing-program`: exit status 127
            (dirs["std"] / "stderr").write_text(f"{exc}\n")
            (dirs["std"] / "stdout").write_text("")
            self._finish(slot, task, exit_status=127 << 8, timed_out=False)
            return
        self.publisher.announce(task["uuid"], "ExecSpawned")
        self.out(f"worker: {slot.uuid} started task {task['uuid']}")

    def _complete(self, slot: Slot) -> None:
        running, slot.running = slot.running, None
        outcome = running.outcome()
        self._finish(slot, slot.task, exit_status=wait_status(outcome.return_code), timed_out=running.timed_out)

    def _finish(self, slot: Slot, task: dict, *, exit_status: int, timed_out: bool) -> None:
        uuid = task["uuid"]
        self.publisher.announce(uuid, "ExecTimeout" if timed_out else "ExecFinished", 60 if timed_out else 660)
        self.publisher.announce(uuid, "UploadResult", 660)
        self.publisher.announce(uuid, "UploadCancelledResult" if timed_out else "UploadFinishedResult", 660)
        self._report(slot, "Cancel" if timed_out else "Finish")
        self._upload(slot, task)
        self.publisher.announce(uuid, "UploadResultFinished", 60)
        msg = "ExecTimeout" if timed_out else self._submit_new_task(slot, task)
        self._commit(slot, exit_status, msg)

    def _report(self, slot: Slot, op) -> dict | None:
        """404: the task is no longer ours (ignored, as Mitosis)."""
        status, text, _ = self._call(slot, "POST", "/workers/tasks", {"id": slot.task["id"], "op": op},
                                     tolerate=(404,))
        return json.loads(text) if status == 200 and text else None

    def _upload(self, slot: Slot, task: dict) -> None:
        """result, exec-log, std-log archives; the server refusing one (quota, no storage) skips
        the rest and the task is still committed."""
        dirs = slot.dirs()
        archives = []
        for content_type, folder in (("result", "result"), ("exec-log", "exec")):
            if any(dirs[folder].iterdir()):
                archives.append((content_type, [(dirs[folder], content_type)]))
        if task["spec"].get("terminal_output"):
            archives.append(("std-log", [(dirs["std"] / "stdout", "std-log/stdout.log"),
                                         (dirs["std"] / "stderr", "std-log/stderr.log")]))
        for content_type, members in archives:
            archive = slot.home / f"{content_type}.tar.gz"
            with tarfile.open(archive, "w:gz") as tar:
                for path, name in members:
                    tar.add(path, arcname=name)
            op = {"Upload": {"content_type": content_type, "content_length": archive.stat().st_size}}
            status, text, _ = self._call(slot, "POST", "/workers/tasks", {"id": task["id"], "op": op},
                                         tolerate=(400, 403, 404))
            if status != 200:
                logger.warning("upload of %s refused (%s): %s; skipping the rest", content_type, status, text[:200])
                return
            upload(slot.api.absolute(json.loads(text)["url"]), str(archive))

    def _submit_new_task(self, slot: Slot, task: dict) -> str | None:
        """MITO_NEW_TASK: a SubmitTaskReq the task left for its downstream task."""
        path = slot.home / "new_task.json"
        if not path.exists() or not path.stat().st_size:
            return None
        try:
            request = json.loads(path.read_text())
            status, _, _ = self._call(slot, "POST", "/workers/tasks", {"id": task["id"], "op": {"Submit": request}},
                                      tolerate=(400, 403, 404, 422))
        except ValueError:
            return "SubmitNewTaskFailed"
        return None if status == 200 else "SubmitNewTaskFailed"

    def _commit(self, slot: Slot, exit_status: int, msg: str | None) -> None:
        task = slot.task
        self._report(slot, {"Commit": {"exit_status": exit_status, "msg": msg}})
        self.publisher.announce(task["uuid"], "TaskCommitted", 60)
        self.counts["finished" if msg is None else "cancelled"] += 1
        self.out(f"worker: {slot.uuid} committed task {task['uuid']} (exit status {exit_status}, msg {msg})")
        slot.task, slot.next_fetch = None, 0.0  # fetch again at once
        for path in list(slot.home.iterdir()):  # the next task starts from empty directories
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
