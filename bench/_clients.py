"""HTTP clients of the benchmarks. Client processes are started with the 'spawn' context and
import only this module (no Django): they are what a Torc runner is to the server, separate
processes speaking HTTP/1.1 with keep-alive."""

import http.client
import json
import time
from datetime import UTC, datetime

PREFIX = "/torc-service/v1"


class HttpError(RuntimeError):
    pass


class Api:
    """A keep-alive HTTP/1.1 connection with Drover's API-key header (Torc) or other headers (a
    Mitosis bearer token, prefix ""). A connection idle for more than a second is reopened first
    (gunicorn closes idle keep-alive connections after 2 s)."""

    def __init__(self, port: int, key: str | None = None, *, prefix: str = PREFIX, headers: dict | None = None):
        self.port, self.key, self.prefix = port, key, prefix
        self.conn: http.client.HTTPConnection | None = None
        self.last = 0.0
        self.headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if key:
            self.headers["X-API-Key"] = key
        self.headers.update(headers or {})

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is not None and time.monotonic() - self.last > 1.0:
            self.conn.close()
            self.conn = None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        return self.conn

    def request(self, method: str, path: str, body=None, headers: dict | None = None, ok=(200,)):
        """(status, parsed JSON body or None); a status outside `ok` raises HttpError."""
        payload = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, self.prefix + path, body=payload, headers={**self.headers, **(headers or {})})
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed a keep-alive connection before reading the request: resend once.
                conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        self.last = time.monotonic()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            self.conn = None
        if response.status not in ok:
            raise HttpError(f"{method} {path}: {response.status} {data[:500]!r}")
        return response.status, (json.loads(data) if data else None)

    def call(self, method: str, path: str, body=None, headers: dict | None = None):
        return self.request(method, path, body, headers)[1]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def warm_up(api: Api, workflow_id: int, n: int = 6) -> None:
    """Open the keep-alive connection and let the server threads open their DB connections."""
    for _ in range(n):
        api.call("GET", f"/workflows/{workflow_id}")


def claim_client(port: int, key: str, workflow_id: int, batch: int, barrier, counter, results, index: int) -> None:
    """POST claim_next_jobs?num_jobs=batch until the answer is empty."""
    api = Api(port, key)
    try:
        warm_up(api, workflow_id)
        barrier.wait()
        cpu0 = time.process_time()
        ids, latencies = [], []
        path = f"/workflows/{workflow_id}/claim_next_jobs?num_jobs={batch}"
        while True:
            t = time.perf_counter()
            jobs = api.call("POST", path)["jobs"]
            latencies.append(time.perf_counter() - t)
            if not jobs:
                break
            ids.extend(job["id"] for job in jobs)
            with counter.get_lock():
                counter.value += len(jobs)
        results.put({"index": index, "ids": ids, "latencies": latencies, "cpu_s": time.process_time() - cpu0,
                     "error": None})
    except BaseException as exc:  # reported to the parent, which fails the step
        results.put({"index": index, "ids": [], "latencies": [], "error": repr(exc)})
        barrier.abort()
    finally:
        api.close()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def complete_client(port: int, key: str, workflow_id: int, run_id: int, node_id: int, job_ids: list[int], barrier,
                    counter, results, index: int) -> None:
    """For each job: PUT start_job, then POST complete_job/completed with a ResultModel body."""
    api = Api(port, key)
    try:
        warm_up(api, workflow_id)
        barrier.wait()
        cpu0 = time.process_time()
        starts, completes = [], []
        for job_id in job_ids:
            t = time.perf_counter()
            api.call("PUT", f"/jobs/{job_id}/start_job/{run_id}/{node_id}")
            t1 = time.perf_counter()
            result = {"job_id": job_id, "workflow_id": workflow_id, "run_id": run_id, "compute_node_id": node_id,
                      "return_code": 0, "status": "completed", "exec_time_minutes": 0.01,
                      "completion_time": now_iso()}
            body = api.call("POST", f"/jobs/{job_id}/complete_job/completed/{run_id}", result)
            t2 = time.perf_counter()
            if body["status"] != "completed":
                raise HttpError(f"job {job_id} is {body['status']} after complete_job")
            starts.append(t1 - t)
            completes.append(t2 - t1)
            with counter.get_lock():
                counter.value += 1
        results.put({"index": index, "starts": starts, "completes": completes, "cpu_s": time.process_time() - cpu0,
                     "error": None})
    except BaseException as exc:
        results.put({"index": index, "starts": [], "completes": [], "error": repr(exc)})
        barrier.abort()
    finally:
        api.close()


def request_client(port: int, key: str, workflow_id: int, method: str, path: str, count: int, barrier, counter,
                   results, index: int) -> None:
    """The same request `count` times: the stack's floor (gunicorn + Django + DRF + auth)."""
    api = Api(port, key)
    try:
        warm_up(api, workflow_id)
        barrier.wait()
        cpu0 = time.process_time()
        latencies = []
        for done in range(1, count + 1):
            t = time.perf_counter()
            api.call(method, path)
            latencies.append(time.perf_counter() - t)
            if done % 10 == 0:
                with counter.get_lock():
                    counter.value += 10
        results.put({"index": index, "latencies": latencies, "cpu_s": time.process_time() - cpu0, "error": None})
    except BaseException as exc:
        results.put({"index": index, "latencies": [], "error": repr(exc)})
        barrier.abort()
    finally:
        api.close()


def torc_noop_worker(port: int, key: str, workflow_id: int, run_id: int, slots: int, total: int, barrier, counter,
                     results, index: int) -> None:
    """The dispatch-only Torc worker: what run_worker does over HTTP for jobs that end at once
    (register a compute node, claim by resources, one batch_complete_jobs per claim) with no
    process run in between. Polls every
    20 ms while nothing is ready; leaves when `total` jobs are completed by all clients."""
    api = Api(port, key)
    try:
        node_id = api.call("POST", "/compute_nodes", {
            "workflow_id": workflow_id, "hostname": f"bench-noop-{index}", "num_cpus": slots, "memory_gb": 8.0,
            "num_gpus": 0, "num_nodes": 1, "is_active": True, "compute_node_type": "local"})["id"]
        warm_up(api, workflow_id, 2)
        barrier.wait()
        cpu0 = time.process_time()
        done, claims, empty = 0, 0, 0
        resources = {"id": node_id, "num_cpus": slots, "memory_gb": 8.0, "num_gpus": 0, "num_nodes": 1}
        while counter.value < total:
            jobs = api.call("POST", f"/workflows/{workflow_id}/claim_jobs_based_on_resources/{slots}", resources)["jobs"]
            claims += 1
            if not jobs:
                empty += 1
                time.sleep(0.02)
                continue
            # as run_worker reports jobs that end within its START_AFTER: no start_job, one batch
            completions = [{"job_id": job["id"], "run_id": run_id, "status": "completed", "result": {
                "job_id": job["id"], "workflow_id": workflow_id, "run_id": run_id, "compute_node_id": node_id,
                "return_code": 0, "status": "completed", "exec_time_minutes": 0.0,
                "completion_time": now_iso()}} for job in jobs]
            answer = api.call("POST", f"/workflows/{workflow_id}/batch_complete_jobs", {"completions": completions})
            if answer["errors"] or len(answer["completed"]) != len(jobs):
                raise HttpError(f"batch_complete_jobs refused: {answer['errors'][:3]}")
            done += len(jobs)
            with counter.get_lock():
                counter.value += len(jobs)
        results.put({"index": index, "done": done, "claims": claims, "empty_claims": empty,
                     "cpu_s": time.process_time() - cpu0, "error": None})
    except BaseException as exc:
        results.put({"index": index, "done": 0, "error": repr(exc)})
        barrier.abort()
    finally:
        api.close()


def read_client(port: int, prefix: str, headers: dict, warm: tuple, requests: list, items_key: str | None,
                id_key: str | None, barrier, counter, results, index: int) -> None:
    """Send a list of (method, path, body) requests in order, one connection: latencies, and the
    ids of the listed items (to check that paging returned every object once). `warm` is a cheap
    (method, path, body) sent a few times first, so connections are open when the clock starts."""
    api = Api(port, prefix=prefix, headers=headers)
    try:
        for _ in range(3):
            api.call(*warm)
        barrier.wait()
        cpu0 = time.process_time()
        latencies, ids, answers = [], [], []
        for method, path, body in requests:
            t = time.perf_counter()
            answer = api.call(method, path, body)
            latencies.append(time.perf_counter() - t)
            if items_key:
                ids.extend(item[id_key] for item in answer[items_key])
            else:
                answers.append(answer)
            with counter.get_lock():
                counter.value += 1
        results.put({"index": index, "latencies": latencies, "ids": ids, "answers": answers,
                     "cpu_s": time.process_time() - cpu0, "error": None})
    except BaseException as exc:
        results.put({"index": index, "latencies": [], "ids": [], "error": repr(exc)})
        barrier.abort()
    finally:
        api.close()
