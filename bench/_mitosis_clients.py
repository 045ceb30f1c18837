"""Mitosis HTTP clients of the benchmarks (no Django: started with 'spawn', like _clients). They
speak the seed's worker protocol through the real endpoints: POST /workers to register, GET
/workers/tasks to fetch (the server claims and starts the task), POST /workers/tasks with
"Finish" and then {"Commit": ...} to report."""

import hashlib
import time

from ._clients import Api, HttpError

HEARTBEAT_EVERY = 60.0  # well inside DROVER_WORKER_TIMEOUT (600 s)


def login(port: int, username: str, password: str) -> str:
    """POST /login as a Mitosis client does (the password's MD5 digest as 16 ints): a bearer token."""
    api = Api(port, prefix="")
    try:
        body = {"username": username, "md5_password": list(hashlib.md5(password.encode()).digest()), "retain": False}
        return api.call("POST", "/login", body)["token"]
    finally:
        api.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def register(port: int, user_token: str, group: str) -> tuple[Api, str]:
    """A worker of `group` (role Write): its API connection and uuid."""
    user = Api(port, prefix="", headers=bearer(user_token))
    try:
        answer = user.call("POST", "/workers", {"tags": [], "labels": ["bench"], "groups": [group], "lifetime": None})
    finally:
        user.close()
    worker = Api(port, prefix="", headers=bearer(answer["token"]))
    worker.call("POST", "/workers/heartbeat")  # opens the connection; the server thread connects
    return worker, answer["worker_id"]


def fetch(worker: Api) -> dict | None:
    """GET /workers/tasks: a task, or None (Drover answers 204, Mitosis 200 null: both accepted)."""
    status, task = worker.request("GET", "/workers/tasks", ok=(200, 204))
    return task if status == 200 else None


def fetch_client(port: int, user_token: str, group: str, barrier, counter, results, index: int) -> None:
    """Scenario 1: fetch until nothing is left; the uuids fetched and each request's latency."""
    worker = None
    try:
        worker, uuid = register(port, user_token, group)
        barrier.wait()
        cpu0 = time.process_time()
        uuids, latencies = [], []
        while True:
            t = time.perf_counter()
            task = fetch(worker)
            latencies.append(time.perf_counter() - t)
            if task is None:
                break
            uuids.append(task["uuid"])
            with counter.get_lock():
                counter.value += 1
        results.put({"index": index, "worker": uuid, "ids": uuids, "latencies": latencies,
                     "cpu_s": time.process_time() - cpu0, "error": None})
    except BaseException as exc:
        results.put({"index": index, "ids": [], "latencies": [], "error": repr(exc)})
        barrier.abort()
    finally:
        if worker is not None:
            worker.close()


def noop_worker(port: int, user_token: str, group: str, total: int, barrier, counter, results, index: int) -> None:
    """Scenario 2, dispatch-only: fetch, report Finish, Commit exit status 0, with no process run
    in between; polls every 20 ms while nothing is ready; unregisters when `total` tasks are
    committed by all clients."""
    worker = None
    try:
        worker, uuid = register(port, user_token, group)
        barrier.wait()
        cpu0 = time.process_time()
        done = polls = empty = 0
        beat = time.monotonic()
        while counter.value < total:
            if time.monotonic() - beat > HEARTBEAT_EVERY:
                worker.call("POST", "/workers/heartbeat")
                beat = time.monotonic()
            task = fetch(worker)
            polls += 1
            if task is None:
                empty += 1
                time.sleep(0.02)
                continue
            worker.call("POST", "/workers/tasks", {"id": task["id"], "op": "Finish"})
            answer = worker.call("POST", "/workers/tasks", {"id": task["id"],
                                                           "op": {"Commit": {"exit_status": 0, "msg": None}}})
            if answer not in (None, {"url": None}):
                raise HttpError(f"unexpected Commit answer {answer!r}")
            done += 1
            with counter.get_lock():
                counter.value += 1
        worker.request("DELETE", "/workers")
        results.put({"index": index, "worker": uuid, "done": done, "claims": polls, "empty_claims": empty,
                     "cpu_s": time.process_time() - cpu0, "error": None})
    except BaseException as exc:
        results.put({"index": index, "done": 0, "error": repr(exc)})
        barrier.abort()
    finally:
        if worker is not None:
            worker.close()
