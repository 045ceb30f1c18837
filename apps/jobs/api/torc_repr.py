"""Torc's JobModel and ResultModel as dicts, built from values() rows: list and claim endpoints
return thousands of jobs, and a serializer per row would be most of the cost."""

from collections import defaultdict

from django.db import connection

from apps.core.torc import iso_ms

from ..models import Job, JobDependency, Result
from ..states import Status

JOB_COLUMNS = ("id", "workflow_id", "name", "command", "invocation_script", "status",
               "cancel_on_blocking_job_failure", "supports_termination", "resource_requirements_id", "priority",
               "attempt", "compute_node_id")
RELATION_KEYS = ("depends_on_job_ids", "input_file_ids", "output_file_ids", "input_user_data_ids",
                 "output_user_data_ids")
LABELS = {int(s): s.label for s in Status}


def relations(ids: list[int], keys=RELATION_KEYS) -> dict[str, dict[int, list[int]]]:
    """Relationship id lists for many jobs, in one UNION ALL statement over the edge tables
    (every job answer carries them; three ORM queries cost more to build than to run)."""
    from apps.files.models import JobFile, JobUserData

    out: dict[str, dict[int, list[int]]] = {key: defaultdict(list) for key in keys}
    if not ids:
        return out
    parts = []
    if "depends_on_job_ids" in keys:
        parts.append(f"SELECT 0, job_id, depends_on_id FROM {JobDependency._meta.db_table} WHERE job_id IN ({{ids}})")
    if {"input_file_ids", "output_file_ids"} & set(keys):
        parts.append(f"SELECT CASE WHEN is_output THEN 2 ELSE 1 END, job_id, file_id FROM {JobFile._meta.db_table} "
                     "WHERE job_id IN ({ids})")
    if {"input_user_data_ids", "output_user_data_ids"} & set(keys):
        parts.append(f"SELECT CASE WHEN is_output THEN 4 ELSE 3 END, job_id, user_data_id "
                     f"FROM {JobUserData._meta.db_table} WHERE job_id IN ({{ids}})")
    names = RELATION_KEYS  # kind -> key, in the order of the CASEs above
    for chunk in _chunks(ids, 10_000 // max(len(parts), 1)):  # bound the bind parameters (SQLite)
        marks = ", ".join(["%s"] * len(chunk))
        sql = " UNION ALL ".join(part.replace("{ids}", marks) for part in parts) + " ORDER BY 1, 3"
        with connection.cursor() as cursor:
            cursor.execute(sql, chunk * len(parts))
            for kind, job, other in cursor.fetchall():
                key = names[kind]
                if key in out:
                    out[key][job].append(other)
    return out


def _chunks(ids: list[int], size: int):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def job_dict(row: dict, rel: dict | None = None) -> dict:
    job_id = row["id"]
    body = {
        "id": job_id, "workflow_id": row["workflow_id"], "name": row["name"], "command": row["command"],
        "invocation_script": row["invocation_script"], "status": LABELS[row["status"]],
        "cancel_on_blocking_job_failure": row["cancel_on_blocking_job_failure"],
        "supports_termination": row["supports_termination"],
        "resource_requirements_id": row["resource_requirements_id"], "scheduler_id": None,
        "priority": row["priority"], "attempt_id": row["attempt"], "compute_node_id": row["compute_node_id"],
    }
    for key in RELATION_KEYS:
        body[key] = list(rel[key].get(job_id, [])) if rel is not None and key in rel else None
    return body


def created_job_dict(job_id: int, item: dict) -> dict:
    """A job just created from `item` (defaults filled by jobs_create), as an uninitialized job,
    without reading 10,000 rows back."""
    row = {"id": job_id, "workflow_id": item["workflow_id"], "name": item.get("name", ""),
           "command": item.get("command", ""), "invocation_script": item.get("invocation_script"),
           "status": int(Status.UNINITIALIZED),
           "cancel_on_blocking_job_failure": item.get("cancel_on_blocking_job_failure", True),
           "supports_termination": item.get("supports_termination", False),
           "resource_requirements_id": item.get("resource_requirements_id"), "priority": item.get("priority", 0),
           "attempt": 1, "compute_node_id": None}
    rel = {key: {job_id: sorted(set(item.get(key) or []))} for key in RELATION_KEYS}
    return job_dict(row, rel)


def jobs_payload(ids: list[int], *, keys=RELATION_KEYS) -> list[dict]:
    rows = Job.objects.filter(pk__in=ids).order_by("id").values(*JOB_COLUMNS)
    rel = relations(ids, keys)
    return [job_dict(row, rel) for row in rows]


def claimed_jobs_payload(rows: list[dict]) -> list[dict]:
    """Claimed rows (from the claim's RETURNING, with outputs=True) as the real server answers a
    claim: outputs filled (runners check them), inputs not."""
    rel = {key: {row["id"]: row[key] for row in rows} for key in ("output_file_ids", "output_user_data_ids")}
    return [job_dict(row, rel) for row in rows]


def one_job(job_id: int) -> dict:
    return jobs_payload([job_id])[0]


def result_dict(result: Result) -> dict:
    return {
        "id": result.pk, "job_id": result.job_id, "workflow_id": result.workflow_id, "run_id": result.run_id,
        "attempt_id": result.attempt, "compute_node_id": result.compute_node_id or 0,
        "return_code": result.return_code, "exit_code": result.return_code,
        "exec_time_minutes": result.exec_time_minutes, "completion_time": iso_ms(result.completion_time),
        "status": LABELS[result.status], "stdout": result.stdout, "stderr": result.stderr,
        "peak_memory_bytes": result.peak_memory_bytes, "avg_memory_bytes": result.avg_memory_bytes,
        "peak_cpu_percent": result.peak_cpu_percent, "avg_cpu_percent": result.avg_cpu_percent,
    }

