"""The server process (`manage.py serve`, a real subprocess on the PostgreSQL test database)
SIGKILLed (1) in the middle of a 10,000-job POST /torc-service/v1/bulk_jobs and (2) while 4
client processes claim and complete jobs. After a restart: no job lost, none half-created (a
bulk request is one transaction), none claimed twice; checked with SQL at the end."""

import json
import os
import subprocess
import sys
import time
from collections import Counter

import psycopg
import pytest
from django.db import connection

from apps.groups import services as groups
from apps.jobs.services import initialize_workflow
from apps.workers.services import expire_leases
from apps.workflows.spec import workflow_from_spec

from ._procs import BASE_DIR, Server, current_db_env, kill_group, server_env, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="needs PostgreSQL (DATABASE_URL=postgres://...): the server subprocess and the SQL "
                              "checks use the test database; SQLite has no concurrent server to kill"),
]
APP_NAME = "drover-faults-server"  # libpq's PGAPPNAME: the server's sessions in pg_stat_activity
LEASE = 8
CLAIM_JOBS = 2000
CLIENTS = 4
CLAIM_STATEMENT = "WITH picked AS MATERIALIZED"  # the claim's last statement: it returns the claimed rows


def sql(query: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def client(command: str, server: Server, key: str, *args, out) -> subprocess.Popen:
    with open(str(out) + ".err", "w") as err:
        return subprocess.Popen([sys.executable, "-m", "tests.faults._clients", command, server.base, key,
                                 *map(str, args), str(out)], cwd=BASE_DIR, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


def server_sessions_gone(monitor) -> bool:
    """The killed server's backends have noticed and rolled back (before counting rows)."""
    return monitor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (APP_NAME,)).fetchone()[0] == 0


@pytest.fixture
def setup(alice, tmp_path):
    _, key = groups.api_key_create(user=alice)
    env = server_env(current_db_env(), PGAPPNAME=APP_NAME, DROVER_LEASE_SECONDS=str(LEASE))
    server = Server(env, tmp_path)
    monitor = psycopg.connect(current_db_env()["DATABASE_URL"], autocommit=True)
    procs: list[subprocess.Popen] = []
    try:
        yield server, key, monitor, procs
    finally:
        for proc in procs:
            kill_group(proc)
        server.kill()
        wait_for(lambda: server_sessions_gone(monitor), timeout=30, what="the server's sessions to end")
        monitor.close()


def test_bulk_submit_is_all_or_nothing_across_a_server_kill(setup, alice, tmp_path):
    server, key, monitor, procs = setup
    wf, _ = workflow_from_spec(owner=alice, spec={"name": "bulk", "jobs": []})
    out = tmp_path / "bulk.jsonl"
    server.start()
    procs.append(client("bulk", server, key, wf.pk, 4, out=out))
    wait_for(lambda: any(e["event"] == "acked" for e in events(out)), timeout=90, what="the first bulk request")

    def inserting():  # the server holds the bulk INSERT's transaction open (or is running it)
        return monitor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND query ILIKE 'INSERT INTO drover_job %%'"
            " AND state IN ('active', 'idle in transaction')", (APP_NAME,)).fetchone()[0]

    wait_for(inserting, timeout=90, what="the second bulk request's INSERT", interval=0.002)
    server.kill()
    wait_for(lambda: server_sessions_gone(monitor), timeout=30, what="the killed server's sessions to end")
    server.start()
    assert procs[0].wait(timeout=120) == 0, (tmp_path / "bulk.jsonl.err").read_text()

    outcome = {e["batch"]: e for e in events(out) if e["event"] in ("acked", "failed", "refused")}
    assert [outcome[b]["event"] for b in range(4)] == ["acked", "failed", "acked", "acked"], outcome
    counts = dict(sql("SELECT split_part(name, '-', 1), count(*) FROM drover_job WHERE workflow_id = %s GROUP BY 1",
                      [wf.pk]))
    assert counts.get("b1", 0) in (0, 10_000), counts  # the killed request: all its jobs or none
    assert {b: counts.get(f"b{b}") for b in (0, 2, 3)} == {0: 10_000, 2: 10_000, 3: 10_000}  # acked: none lost
    assert all(e["count"] == 10_000 for e in outcome.values() if e["event"] == "acked")
    assert sql("SELECT count(*) FROM (SELECT name FROM drover_job WHERE workflow_id = %s GROUP BY name "
               "HAVING count(*) > 1) d", [wf.pk]) == [(0,)]
    assert "Traceback" not in server.output()


def claim_committed(monitor):
    """A predicate: true once a server session has committed a claim (Torc requests are one
    transaction; a claim's last statement is the claim itself, which returns the claimed rows
    for its answer)."""
    last: dict[int, str] = {}

    def check() -> bool:
        rows = monitor.execute("SELECT pid, state, query FROM pg_stat_activity WHERE application_name = %s",
                               (APP_NAME,)).fetchall()
        for pid, state, query in rows:
            if state == "idle" and query == "COMMIT" and last.get(pid, "").startswith(CLAIM_STATEMENT):
                return True
            last[pid] = query
        return False

    return check


def test_claiming_survives_a_server_kill_without_double_claims(setup, alice, tmp_path):
    server, key, monitor, procs = setup
    wf, _ = workflow_from_spec(owner=alice, spec={"name": "claims", "jobs": [
        {"name": f"j{i}", "command": "true"} for i in range(CLAIM_JOBS)]})
    initialize_workflow(workflow=wf)
    server.start()
    outs = [tmp_path / f"claim-{i}.jsonl" for i in range(CLIENTS)]
    procs += [client("claim", server, key, wf.pk, out=out) for out in outs]

    def completed() -> int:
        return monitor.execute("SELECT count(*) FROM drover_job WHERE workflow_id = %s AND status = 5",
                               (wf.pk,)).fetchone()[0]

    wait_for(lambda: completed() >= CLAIM_JOBS // 4, timeout=120, what="a quarter of the jobs to complete")
    wait_for(claim_committed(monitor), timeout=60, what="a claim's commit", interval=0)
    server.kill()  # its answer is on the way: that claim is held by no one who knows it
    killed_at = completed()
    assert killed_at < CLAIM_JOBS, "the clients finished before the kill; nothing was tested"
    wait_for(lambda: server_sessions_gone(monitor), timeout=30, what="the killed server's sessions to end")
    server.start()
    deadline = time.monotonic() + 120
    while any(proc.poll() is None for proc in procs):  # the beat: claims lost with the server expire
        assert time.monotonic() < deadline, "clients did not finish within 120 s after the restart"
        expire_leases()
        time.sleep(0.5)
    failures = {str(out): (out.parent / (out.name + ".err")).read_text()[-3000:]
                for proc, out in zip(procs, outs, strict=True) if proc.returncode != 0}
    assert not failures, failures

    # SQL: nothing lost, nothing completed twice, every claim after the first followed a lease expiry.
    assert sql("SELECT status, count(*) FROM drover_job WHERE workflow_id = %s GROUP BY status", [wf.pk]) == \
        [(5, CLAIM_JOBS)]
    assert sql("SELECT count(*), count(DISTINCT job_id) FROM drover_result WHERE workflow_id = %s", [wf.pk]) == \
        [(CLAIM_JOBS, CLAIM_JOBS)]
    claims = dict(sql(
        "SELECT (e.id)::bigint, count(*) FROM drover_event ev, jsonb_array_elements(ev.data->'job_ids') AS e(id) "
        "WHERE ev.workflow_id = %s AND ev.category = 'jobs_claimed' GROUP BY 1", [wf.pk]))
    attempts = dict(sql("SELECT id, attempt FROM drover_job WHERE workflow_id = %s", [wf.pk]))
    assert set(claims) == set(attempts)
    assert {job: n for job, n in claims.items() if n != attempts[job]} == {}
    # Client side: a job acknowledged to two claims was requeued in between (its attempt says so).
    seen = Counter(job for out in outs for e in events(out) if e["event"] == "claimed" for job in e["ids"])
    assert {job: n for job, n in seen.items() if n > attempts[job]} == {}
    # Requeued jobs: only the claims in flight when the server died (at most 10 per client).
    assert sum(a - 1 for a in attempts.values()) <= CLIENTS * 10
    assert "Traceback" not in server.output()
