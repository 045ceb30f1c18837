"""PostgreSQL restarted while real workers claim: a private cluster (initdb in a temp dir, never
the shared dev server) serves a Drover server subprocess and two `manage.py run_worker`
processes. While it is down, requests get 503 in the dialect's JSON shape; the workers back off
and retry; when it is back every job finishes, each exactly once, checked with SQL."""

import json
import subprocess
import sys
import time

import psycopg
import pytest

from ._procs import BASE_DIR, PrivatePostgres, Server, http, kill_group, pg_bin, server_env, text, torc_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.skipif(pg_bin() is None, reason="needs PostgreSQL server binaries "
                                                                            "(/usr/lib/postgresql/*/bin)")]
QUICK, LONG = 40, 6  # jobs: quick ones finish before they are announced, long ones call start_job


@pytest.fixture
def private_pg():
    pg = PrivatePostgres()
    try:
        pg.init().start()
        yield pg
    finally:
        pg.close()


def prepare(pg: PrivatePostgres, env: dict, spec: dict) -> dict:
    url = pg.create_database("drover")
    env = {**env, "DATABASE_URL": url}
    for argv, stdin in ((["manage.py", "migrate", "--noinput", "-v", "0"], None),
                        (["-m", "tests.faults._seed"], json.dumps(spec))):
        done = subprocess.run([sys.executable, *argv], cwd=BASE_DIR, env=env, input=stdin, check=False,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_workers_ride_out_a_postgres_restart(private_pg, tmp_path):
    runs = tmp_path / "runs"
    spec = {"name": "pg-restart", "jobs": [{"name": f"q{i}", "command": f"echo q{i} >> {runs}; sleep 0.1"}
                                           for i in range(QUICK)]
            + [{"name": f"l{i}", "command": f"echo l{i} >> {runs}; sleep 1.5"} for i in range(LONG)]}
    # API keys stay remembered through the outage: requests get past authentication and meet the
    # dead database in the view, as most do in production (the cache is per process, 5 s).
    env = server_env({"DATABASE_URL": private_pg.url("drover")}, DROVER_AUTH_CACHE_SECONDS="60")
    seeded = prepare(private_pg, env, spec)
    key, workflow_id = seeded["key"], seeded["workflow_id"]
    server = Server(env, tmp_path).start()
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    workers = []
    db = private_pg.url("drover")

    def finished() -> int:
        with psycopg.connect(db, connect_timeout=3) as conn:
            return conn.execute("SELECT count(*) FROM drover_job WHERE status = 5").fetchone()[0]

    try:
        workers = [torc_worker(server.base, key, workflow_id, log, "--cpus", "3") for log in logs]
        wait_for(lambda: finished() >= QUICK // 4, timeout=90, what="a quarter of the jobs to finish")
        private_pg.stop("fast")  # ends every session, refuses new ones
        probes = []
        down_since = time.monotonic()
        while time.monotonic() - down_since < 3:  # the outage, seen by a client
            probes.append(http(server.base, "GET", f"/torc-service/v1/workflows/{workflow_id}",
                               headers={"X-API-Key": key}, timeout=10))
            # a write request (whose transaction cannot open), harmless once the database is back
            probes.append(http(server.base, "POST", "/torc-service/v1/bulk_jobs", {"jobs": []},
                               headers={"X-API-Key": key}, timeout=10))
            time.sleep(0.2)
        health = http(server.base, "GET", "/health", timeout=10)
        private_pg.start()
        for proc in workers:
            assert proc.wait(timeout=120) == 0
    finally:
        for proc in workers:
            kill_group(proc)
        server.kill()
    output = [text(log) for log in logs]

    unavailable = {"error": {"message": "Database unavailable, retry later"}}
    assert probes and all(probe == (503, unavailable) for probe in probes), probes
    assert health == (503, {"status": "unavailable", "error": "database: OperationalError"})
    assert any("503" in out and "retrying" in out for out in output), output  # they did back off
    assert sum(int(out.rsplit("worker: done, ", 1)[1].split()[0]) for out in output) == QUICK + LONG, output
    ran = runs.read_text().split()
    assert len(ran) == len(set(ran)) == QUICK + LONG  # every job ran, none twice
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT status, count(*), max(attempt) FROM drover_job GROUP BY status").fetchall() == \
            [(5, QUICK + LONG, 1)]
        assert conn.execute("SELECT count(*), count(DISTINCT job_id) FROM drover_result").fetchone() == \
            (QUICK + LONG, QUICK + LONG)
        claims = conn.execute("SELECT e.id, count(*) FROM drover_event ev, jsonb_array_elements(ev.data->'job_ids') "
                              "AS e(id) WHERE ev.category = 'jobs_claimed' GROUP BY 1 HAVING count(*) > 1").fetchall()
        assert claims == []
    assert "Traceback" not in server.output(), server.output()[-5000:]
