"""Client processes of the server-kill test (standard library and apps.workers.http only, no
Django). Each appends what the server acknowledged to an output file, one JSON line per event,
flushed at once, so that the test still knows after a SIGKILL of the server what every client saw.

  python -m tests.faults._clients bulk  URL KEY WORKFLOW_ID BATCHES OUT
  python -m tests.faults._clients claim URL KEY WORKFLOW_ID OUT
"""

import http.client
import json
import socket
import sys
import time
from urllib.parse import urlsplit

from apps.workers.http import JsonClient

BULK_SIZE = 10_000
CLAIM_LIMIT = 10
V1 = "/torc-service/v1"


def emit(out, **event) -> None:
    out.write(json.dumps(event) + "\n")
    out.flush()


def post_once(url: str, key: str, path: str, body: dict, timeout: float = 120) -> tuple[int, dict | None]:
    """One POST without any retry (a retried bulk request could create its jobs twice)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", V1 + path, body=json.dumps(body), headers={"X-API-Key": key,
                                                                       "Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else None
    finally:
        conn.close()


def wait_up(url: str, seconds: float = 90) -> None:
    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not come back")


def bulk(url: str, key: str, workflow_id: int, batches: int, out) -> None:
    for batch in range(batches):
        jobs = [{"workflow_id": workflow_id, "name": f"b{batch}-{i}", "command": "true"} for i in range(BULK_SIZE)]
        emit(out, event="sent", batch=batch)
        try:
            status, body = post_once(url, key, "/bulk_jobs", {"jobs": jobs})
        except (OSError, http.client.HTTPException) as exc:
            emit(out, event="failed", batch=batch, error=repr(exc))
            wait_up(url)
            continue
        emit(out, event="acked" if status == 200 else "refused", batch=batch, status=status,
             count=len((body or {}).get("jobs") or []))


def claim(url: str, key: str, workflow_id: int, out) -> None:
    """A worker's loop: claim up to 10 jobs by resources, complete them in one batch. The worker's
    own client retries connection errors and 502-504 while the server is away."""
    api = JsonClient(url + V1, {"X-API-Key": key}, timeout=30, retry_for=90)
    node = api.post("/compute_nodes", {
        "workflow_id": workflow_id, "hostname": socket.gethostname(), "pid": 0, "start_time": "2026-01-01T00:00:00Z",
        "num_cpus": CLAIM_LIMIT, "memory_gb": 16, "num_gpus": 0, "num_nodes": 1, "compute_node_type": "local",
        "is_active": True})["id"]
    emit(out, event="node", node=node)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        jobs = api.post(f"/workflows/{workflow_id}/claim_jobs_based_on_resources/{CLAIM_LIMIT}", {
            "id": node, "num_cpus": CLAIM_LIMIT, "memory_gb": 16, "num_gpus": 0, "num_nodes": 1})["jobs"]
        ids = [job["id"] for job in jobs]
        if not ids:
            if api.get(f"/workflows/{workflow_id}/is_complete")["is_complete"]:
                emit(out, event="done")
                return
            time.sleep(0.2)  # the rest is held by others (or by claims lost with the server)
            continue
        emit(out, event="claimed", node=node, ids=ids)
        answer = api.post(f"/workflows/{workflow_id}/batch_complete_jobs", {"completions": [
            {"job_id": job_id, "status": "completed", "result": {
                "job_id": job_id, "workflow_id": workflow_id, "compute_node_id": node, "return_code": 0,
                "exec_time_minutes": 0.0, "status": "completed"}} for job_id in ids]})
        emit(out, event="completed", node=node, ids=answer["completed"],
             errors=[e["job_id"] for e in answer["errors"]])
    raise SystemExit("claim client: deadline passed")


if __name__ == "__main__":
    command, url, key, workflow_id = sys.argv[1:5]
    with open(sys.argv[-1], "a") as output:
        if command == "bulk":
            bulk(url, key, int(workflow_id), int(sys.argv[5]), output)
        else:
            claim(url, key, int(workflow_id), output)
