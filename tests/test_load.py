"""The load test of issue 7 (bench/load.py), CI-sized: 50 clients mixing submits, claims, reports
and reads over Torc and Mitosis for DROVER_LOAD_SECONDS (20) against gunicorn with production
settings on the PostgreSQL test database; then no 5xx, no connection error, no unexpected
answer, every operation kind exercised, and every submitted job ended exactly once (SQL). The
check is shown to fail on a database where one job has two results and one task is unfinished;
the clients' counting of 5xx and connection errors against a stub server."""

import json
import multiprocessing as mp
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import load
from bench._load_check import check
from bench._load_http import Client, Failed, Record, Shared
from bench._server import Gunicorn, free_port, server_env

SECONDS = float(os.environ.get("DROVER_LOAD_SECONDS", "20"))
OPERATIONS = {
    "torc create_workflow", "torc bulk_jobs", "torc initialize_jobs", "torc get_workflow", "torc create_compute_node",
    "torc claim_next_jobs", "torc start_job", "torc complete_job", "torc batch_complete_jobs", "torc is_complete",
    "torc list_workflows", "torc workflow_status", "torc list_jobs", "torc count_jobs",
    "mitosis submit_task", "mitosis batch_submit", "mitosis register_worker", "mitosis fetch_task",
    "mitosis report_finish", "mitosis report_commit", "mitosis heartbeat", "mitosis unregister_worker",
    "mitosis query_tasks", "mitosis count_tasks", "mitosis get_task",
}
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.skipif(not ON_POSTGRES, reason="the load test runs gunicorn on PostgreSQL (DATABASE_URL=postgres://...); "
                                            "SQLite serves one writer at a time")
def test_fifty_clients_mixing_both_dialects_lose_nothing(settings, tmp_path):
    pytest.importorskip("gunicorn", reason="gunicorn is the server under load (requirements/prod.txt)")
    from tests.faults._procs import current_db_env

    # The server runs production settings: the user's password must use a hasher they know.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    dsn = current_db_env()["DATABASE_URL"]
    user, key, password, groups = load.credentials()
    server = Gunicorn(server_env(dsn), tmp_path)
    server.start()
    try:
        result = load.execute(server, dsn, user, key, password, groups, clients=50, seconds=SECONDS, drain_s=45,
                              backlog=300)
    finally:
        server.stop()

    totals, samples = result["totals"], result["failure_samples"]
    assert totals["5xx"] == 0, samples
    assert totals["connection_errors"] == 0 and totals["unexpected"] == 0, samples
    assert result["client_errors"] == []
    assert result["drained"], result["counters"]
    once = result["exactly_once"]
    assert once["verified"], json.dumps(once, indent=1)
    assert once["torc"]["submitted"] > 100 and once["mitosis"]["submitted"] > 100
    assert {op for op, o in result["operations"].items() if o["requests"]} >= OPERATIONS
    assert result["ok"] and result["totals"]["p99_ms"] > 0

    # The check has teeth: a second result row for one Torc job, one task left running.
    job_id, uuid = result["ids"]["torc_completed"][0], result["ids"]["mitosis_completed"][0]
    from django.db import connection

    with connection.cursor() as cursor:
        columns = ("job_id, workflow_id, run_id, attempt, compute_node_id, return_code, status, exec_time_minutes, "
                   "completion_time, stdout, stderr")
        cursor.execute(f"INSERT INTO drover_result ({columns}) SELECT {columns} FROM drover_result WHERE job_id = %s",
                       [job_id])
        cursor.execute("UPDATE drover_job SET status = 4 WHERE uuid = %s", [uuid])
    again = check(dsn, user.pk, result["ids"])
    assert not again["verified"]
    assert (again["torc"]["results_not_1"], again["torc"]["not_completed"]) == (1, 0)
    assert (again["mitosis"]["results_not_1"], again["mitosis"]["not_completed"]) == (0, 1)
    assert again["torc"]["examples"]["results_not_1"] == [str(job_id)]
    assert again["mitosis"]["examples"]["not_completed"] == [uuid]


class Stub(BaseHTTPRequestHandler):
    """200 JSON, a 503 HTML page, a 418, or a body that is not JSON."""

    def do_GET(self):
        status, body, kind = {"/ok": (200, b'{"fine": true}', "application/json"),
                              "/boom": (503, b"<html>Service Unavailable</html>", "text/html"),
                              "/teapot": (418, b'{"msg": "no"}', "application/json"),
                              "/garbled": (200, b"<html>", "text/html")}[self.path]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_clients_count_5xx_connection_errors_and_unexpected_answers():
    stub = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    shared, record = Shared(mp.get_context("spawn"), backlog=1), Record()
    try:
        client = Client(stub.server_address[1], shared, record, prefix="", headers={})
        assert client.call("fine", "GET", "/ok") == (200, {"fine": True})
        for path in ("/boom", "/teapot", "/garbled"):
            with pytest.raises(Failed):
                client.call(path[1:], "GET", path)
        gone = Client(free_port(), shared, record, prefix="", headers={})  # nothing listens there
        with pytest.raises(Failed):
            gone.call("gone", "GET", "/ok")
    finally:
        stub.shutdown()
        stub.server_close()
    assert record.failures == {"boom|5xx": 1, "teapot|unexpected": 1, "garbled|unexpected": 1, "gone|connection": 1}
    assert shared.get("failures") == 4 and shared.get("requests") == 4  # the refused connection was never answered
    assert record.statuses["boom"] == {"503": 1} and record.statuses["gone"] == {"connection": 1}
    assert [s["kind"] for s in record.samples] == ["5xx", "unexpected", "unexpected", "connection"]
