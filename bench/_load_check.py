"""The exactly-once check after a load run, in SQL on the server's database (psycopg, no
Django). Every job the clients submitted exists, and no other job of the run's user; each is
completed, on its first attempt, with exactly one result row; the server's own event log says
it was claimed once (jobs_claimed), completed once (job_completed, jobs_completed) and went
through no other transition (a Torc job may be started once); the clients saw each claimed and
completed once. Mitosis: the reporter recorded on the task is the worker that fetched it."""

from collections import Counter

import psycopg

STATUS_NAMES = ("uninitialized", "blocked", "ready", "pending", "running", "completed", "failed", "canceled",
                "terminated", "disabled")  # apps.jobs.states.Status: Torc's integers

JOBS = """SELECT id, uuid::text, workflow_id IS NOT NULL, status, attempt, spec->>'reporter_uuid'
          FROM drover_job WHERE owner_id = %s"""
RESULTS = """SELECT r.job_id, count(*) FROM drover_result r JOIN drover_job j ON j.id = r.job_id
             WHERE j.owner_id = %s GROUP BY r.job_id"""
# Claims log one event a statement with the ids; a single transition one event a job; a batch
# completion one event with the ids.
IDS_IN = "CROSS JOIN LATERAL jsonb_array_elements_text(e.data->'job_ids') x"
CLAIMS = f"SELECT x::bigint, count(*) FROM drover_event e {IDS_IN} WHERE e.category = 'jobs_claimed' GROUP BY 1"
TRANSITIONS = f"""
    SELECT category, (data->>'job_id')::bigint FROM drover_event WHERE category LIKE 'job\\_%' AND data ? 'job_id'
    UNION ALL
    SELECT 'job_completed', x::bigint FROM drover_event e {IDS_IN} WHERE e.category = 'jobs_completed'"""
OWN = {"torc": ("job_running", "job_completed"), "mitosis": ("job_completed",)}  # a Mitosis fetch claims and starts


def not_once(counts: Counter | dict, keys) -> list:
    """Keys whose count is not exactly 1 (0 included)."""
    return sorted(k for k in keys if counts.get(k, 0) != 1)


def dialect_check(dialect: str, rows: list[tuple], submitted: list, claimed: list, completed: list,
                  server: dict) -> dict:
    """rows: (id, uuid, status, attempt, reporter) of the dialect's jobs. The clients know a Torc
    job by its id, a Mitosis task by its uuid."""
    key = (lambda r: r[0]) if dialect == "torc" else (lambda r: r[1])
    known = {key(r) for r in rows}
    ids = [r[0] for r in rows]
    mine, want = set(ids), set(submitted)
    statuses = Counter(STATUS_NAMES[r[2]] for r in rows)
    transitions = server["transitions"]
    starts = Counter(j for c, j in transitions if c == "job_running")
    completions = Counter(j for c, j in transitions if c == "job_completed")
    other = Counter(c for c, j in transitions if j in mine and c not in OWN[dialect])
    bad = {
        "lost": sorted(want - known), "unknown_in_database": sorted(known - want),
        "not_completed": [key(r) for r in rows if STATUS_NAMES[r[2]] != "completed"],
        "attempt_not_1": [key(r) for r in rows if r[3] != 1],
        "results_not_1": not_once(server["results"], ids),
        "server_claims_not_1": not_once(server["claims"], ids),
        "server_completions_not_1": not_once(completions, ids),
        "server_started_twice": [j for j in ids if starts[j] > 1],
        "client_claimed_not_submitted": sorted(set(claimed) - want),
        "client_never_claimed": sorted(want - set(claimed)),
        "client_never_completed": sorted(want - set(completed)),
    }
    out = {"submitted": len(submitted), "in_database": len(rows), "statuses": dict(statuses),
           "client_claims": len(claimed), "client_completions": len(completed),
           "submitted_twice": len(submitted) - len(want),
           "client_claims_duplicated": len(claimed) - len(set(claimed)),
           "client_completions_duplicated": len(completed) - len(set(completed)),
           **{name: len(values) for name, values in bad.items()}, "other_transitions": dict(other)}
    out["examples"] = {name: [str(x) for x in values[:5]] for name, values in bad.items() if values}
    out["verified"] = (not any(bad.values()) and not other and not out["submitted_twice"]
                       and not out["client_claims_duplicated"] and not out["client_completions_duplicated"])
    return out


def check(dsn: str, owner_id: int, ids: dict) -> dict:
    """ids: what the clients recorded (bench._load_run.merge)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        jobs = conn.execute(JOBS, (owner_id,)).fetchall()
        server = {"results": dict(conn.execute(RESULTS, (owner_id,)).fetchall()),
                  "claims": dict(conn.execute(CLAIMS).fetchall()),
                  "transitions": conn.execute(TRANSITIONS).fetchall()}
    torc_rows = [(i, u, s, a, rep) for i, u, torc, s, a, rep in jobs if torc]
    task_rows = [(i, u, s, a, rep) for i, u, torc, s, a, rep in jobs if not torc]
    fetched = ids.get("mitosis_claimed", [])  # [task uuid, worker uuid]
    torc = dialect_check("torc", torc_rows, ids.get("torc_submitted", []), ids.get("torc_claimed", []),
                         ids.get("torc_completed", []), server)
    mitosis = dialect_check("mitosis", task_rows, ids.get("mitosis_submitted", []), [u for u, _ in fetched],
                            ids.get("mitosis_completed", []), server)
    reporter = {r[1]: r[4] for r in task_rows}
    mitosis["reporter_not_fetcher"] = sum(1 for u, w in fetched if reporter.get(u) != w)
    mitosis["verified"] = mitosis["verified"] and not mitosis["reporter_not_fetcher"]
    return {"torc": torc, "mitosis": mitosis, "verified": torc["verified"] and mitosis["verified"]}
