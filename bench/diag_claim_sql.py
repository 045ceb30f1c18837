"""The claim statement alone, on PostgreSQL: what one claim transaction costs the database
for Drover's job table (all its indexes), for the same rows with fewer indexes, and for the raw
bench's narrow table. One connection, statements prepared (psycopg's default), no Django.

    python -m bench.diag_claim_sql [--dsn ...] [--jobs 20000] [--batch 100]

Builds copies of drover_job (bench_claim_*) from a fresh ready workflow's rows in the bench
database; run it after bench.torc_figures (which migrated the database).
"""

import argparse
import time
from pathlib import Path

import psycopg

from .torc_figures import DEFAULT_DSN

TICK = 100


def backend_cpu_s(conn) -> float:
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def build(conn, name: str, n: int, keep_indexes) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} AS SELECT * FROM drover_job LIMIT 0")
    # Copy real rows instead of guessing the column list: the newest n ready-or-claimed jobs.
    conn.execute(f"INSERT INTO {name} SELECT * FROM drover_job ORDER BY id DESC LIMIT %s", (n,))
    conn.execute(f"UPDATE {name} SET status = 2, workflow_id = 1, claimed_by = '', lease_expires_at = NULL")
    conn.execute(f"ALTER TABLE {name} ADD PRIMARY KEY (id)")
    for (definition,) in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'drover_job' "
                                      "AND indexname <> 'drover_job_pkey'").fetchall():
        index = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
        if keep_indexes is None or index in keep_indexes:
            conn.execute(definition.replace(f" {index} ON public.drover_job ", f" {name}_{index} ON public.{name} ")
                         .replace(f" {index} ON drover_job ", f" {name}_{index} ON {name} "))
    conn.execute(f"ANALYZE {name}")


def run(conn, table: str, batch: int, narrow: bool) -> dict:
    if narrow:
        sql = (f"UPDATE {table} SET status=3, claimed_by=%s, claims=claims+1 WHERE id IN (SELECT id FROM {table} "
               f"WHERE status=2 ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id")
        params = (1, batch)
    else:
        sql = (f"UPDATE {table} SET status = 3, claimed_by = %s, lease_expires_at = now() + interval '10 minutes', "
               f"compute_node_id = NULL WHERE id IN (SELECT id FROM {table} WHERE status = 2 AND workflow_id = %s "
               f"ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id")
        params = ("bench", 1, batch)
    wal0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    conn.commit()
    cpu0, t0, txns, rows = backend_cpu_s(conn), time.perf_counter(), 0, 0
    while True:
        got = conn.execute(sql, params).fetchall()
        conn.commit()
        if not got:
            break
        txns += 1
        rows += len(got)
    wall, cpu = time.perf_counter() - t0, backend_cpu_s(conn) - cpu0
    wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (wal0,)).fetchone()[0]
    conn.commit()
    indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", (table,)).fetchone()[0]
    return {"table": table, "indexes": indexes, "transactions": txns, "rows": rows, "wall_ms_per_txn": 1000 * wall / txns,
            "backend_cpu_ms_per_txn": 1000 * cpu / txns, "wal_bytes_per_row": int(wal) / rows}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)
    lean = {"job_ready_by_workflow", "job_workflow_status", "job_leased"}
    with psycopg.connect(args.dsn) as conn:
        conn.execute("SET synchronous_commit = off")
        build(conn, "bench_claim_all", args.jobs, None)
        build(conn, "bench_claim_lean", args.jobs, lean)
        conn.execute("DROP TABLE IF EXISTS bench_claim_narrow")
        conn.execute("CREATE TABLE bench_claim_narrow(id bigserial primary key, status smallint not null, "
                     "priority int not null, claimed_by int, claims int not null default 0)")
        conn.execute("INSERT INTO bench_claim_narrow(status, priority) SELECT 2, g %% 10 FROM generate_series(1, %s) g",
                     (args.jobs,))
        conn.execute("CREATE INDEX ON bench_claim_narrow(priority DESC, id) WHERE status = 2")
        conn.execute("ANALYZE bench_claim_narrow")
        conn.commit()
        results = [run(conn, "bench_claim_all", args.batch, False), run(conn, "bench_claim_lean", args.batch, False),
                   run(conn, "bench_claim_narrow", args.batch, True)]
        for name in ("bench_claim_all", "bench_claim_lean", "bench_claim_narrow"):
            conn.execute(f"DROP TABLE {name}")
        conn.commit()
    print(f"claim statement, batch {args.batch}, {args.jobs:,} rows, one connection (prepared):")
    for r in results:
        print(f"  {r['table']:<20} {r['indexes']:>2} indexes  {r['wall_ms_per_txn']:6.2f} ms/txn wall  "
              f"{r['backend_cpu_ms_per_txn']:6.2f} ms/txn backend CPU  {r['wal_bytes_per_row']:7.0f} WAL bytes/row")


if __name__ == "__main__":
    main()
