"""Operations on all the jobs of a workflow: initialization, input-change detection, resets."""

import hashlib
import json
import os
from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone

from apps.core.exceptions import FieldValidationError
from apps.workflows.models import Workflow
from apps.workflows.services import event_log

from ..models import Job, JobDependency
from ..states import ACTIVE, Status
from . import graph


@transaction.atomic
def initialize_workflow(*, workflow: Workflow, reinitialize: bool = False, ignore_missing_data: bool = False,
                        clear_ephemeral_user_data: bool = False) -> dict:
    """Torc's initialize_jobs. Adds the implicit file/user-data dependencies, refuses cycles and
    missing input files, stores each job's input hash and places every uninitialized job.
    reinitialize=true first sends every job that is neither completed nor held by a worker (and
    what depends on it) back to uninitialized."""
    from apps.files.models import UserData

    reset = 0
    if reinitialize:
        unfinished = list(Job.objects.filter(workflow=workflow).exclude(status__in=[Status.COMPLETED, *ACTIVE])
                          .values_list("pk", flat=True))
        reset = graph.reset_downstream(job_ids=unfinished, include_roots=True)
    implicit = graph.add_implicit_dependencies(workflow_id=workflow.pk)
    refresh_statistics(workflow_id=workflow.pk)
    graph.check_acyclic(workflow_id=workflow.pk)
    if not ignore_missing_data:
        record_input_files(workflow=workflow)
    if clear_ephemeral_user_data:
        UserData.objects.filter(workflow=workflow, is_ephemeral=True).update(data=None)
    store_input_hashes(workflow_id=workflow.pk, only_uninitialized=True)
    placed = graph.initialize_jobs(workflow_id=workflow.pk)
    if placed["ready"] + placed["blocked"] >= ANALYZE_AFTER_PLACING:
        refresh_statistics(workflow_id=workflow.pk, placed=True)
    Workflow.objects.filter(pk=workflow.pk).update(initialized=True)
    summary = {"implicit_dependencies": implicit, "reset": reset, **placed}
    event_log(workflow_id=workflow.pk, category="jobs_initialized", data=summary)
    return summary


ANALYZE_AFTER = 5000  # jobs in a workflow above which initialization refreshes planner statistics
ANALYZE_AFTER_PLACING = 1000  # jobs made ready or blocked above which it refreshes them again


def refresh_statistics(*, workflow_id: int, placed: bool = False) -> None:
    """PostgreSQL plans with table statistics that a large bulk insert leaves stale (autovacuum
    cannot see rows not yet committed); ANALYZE, a fraction of a second, keeps the set-based
    statements of initialization on hash joins instead of per-row loops.
    placed: once the jobs are ready, again. Statistics that still count no ready job made the
    claim read the wrong partial index and sort every ready job of the workflow on each claim
    (20 ms a claim at 20,000 ready jobs), until autovacuum caught up."""
    if connection.vendor != "postgresql":
        return
    if not placed and not Job.objects.filter(workflow_id=workflow_id).values("pk")[ANALYZE_AFTER - 1:ANALYZE_AFTER].exists():
        return
    tables = Job._meta.db_table if placed else f"{Job._meta.db_table}, {JobDependency._meta.db_table}"
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def record_input_files(*, workflow: Workflow) -> None:
    """Input files that no job of the workflow produces must exist; record their mtime."""
    from apps.files.models import File, JobFile

    needed = (File.objects.filter(workflow=workflow, job_links__is_output=False)
              .exclude(pk__in=JobFile.objects.filter(file__workflow=workflow, is_output=True).values("file_id"))
              .distinct())
    missing, stamps = [], []
    for file in needed.only("pk", "name", "path", "st_mtime"):
        try:
            mtime = os.stat(file.path).st_mtime
        except OSError:
            missing.append(f"{file.name} ({file.path})")
            continue
        if file.st_mtime != mtime:
            file.st_mtime = mtime
            stamps.append(file)
    if missing:
        raise FieldValidationError(
            f"input files missing (no job produces them and they do not exist): {', '.join(sorted(missing))}; "
            f"create them or pass ignore_missing_data=true", field="ignore_missing_data")
    File.objects.bulk_update(stamps, ["st_mtime"], batch_size=1000)


def job_input_hashes(*, workflow_id: int, job_ids: list[int] | None = None,
                     status: Status | None = None) -> dict[int, str]:
    """SHA-256 of what a job runs and reads, as Torc computes it: command, invocation script,
    dependencies, file and user-data ids, and the contents of the user data it reads. Jobs are
    chosen by `status` in SQL or by `job_ids` in chunks (never one IN list of 100,000)."""
    from apps.files.models import JobFile, JobUserData

    jobs = Job.objects.filter(workflow_id=workflow_id)
    if status is not None:
        jobs = jobs.filter(status=status)
    if job_ids is not None:
        rows = [row for part in graph.chunks(job_ids)
                for row in jobs.filter(pk__in=part).values_list("pk", "command", "invocation_script")]
    else:
        rows = list(jobs.values_list("pk", "command", "invocation_script"))
    wanted = {pk for pk, _, _ in rows}
    deps, files, datas = defaultdict(list), defaultdict(lambda: ([], [])), defaultdict(lambda: ([], []))
    for job, dep in JobDependency.objects.filter(job__workflow_id=workflow_id).values_list("job_id", "depends_on_id"):
        if job in wanted:
            deps[job].append(dep)
    for job, file_id, is_output in JobFile.objects.filter(job__workflow_id=workflow_id).values_list(
            "job_id", "file_id", "is_output"):
        if job in wanted:
            files[job][is_output].append(file_id)
    contents = {}
    for job, ud_id, is_output, data in JobUserData.objects.filter(job__workflow_id=workflow_id).values_list(
            "job_id", "user_data_id", "is_output", "user_data__data"):
        if job in wanted:
            datas[job][is_output].append(ud_id)
            if not is_output:
                contents[ud_id] = data
    hashes = {}
    for pk, command, script in rows:
        document = {
            "command": command, "invocation_script": script, "depends_on_job_ids": sorted(deps[pk]),
            "input_file_ids": sorted(files[pk][0]), "output_file_ids": sorted(files[pk][1]),
            "input_user_data_ids": sorted(datas[pk][0]), "output_user_data_ids": sorted(datas[pk][1]),
            "input_user_data_contents": [[i, contents.get(i)] for i in sorted(datas[pk][0])],
        }
        hashes[pk] = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
    return hashes


def store_input_hashes(*, workflow_id: int, only_uninitialized: bool) -> int:
    hashes = job_input_hashes(workflow_id=workflow_id,
                              status=Status.UNINITIALIZED if only_uninitialized else None)
    bulk_set_column(Job._meta.db_table, "input_hash", hashes)
    return len(hashes)


def bulk_set_column(table: str, column: str, values: dict[int, object], chunk: int = 5000) -> None:
    """UPDATE one column of many rows: PostgreSQL joins a VALUES list, others use CASE."""
    items = list(values.items())
    for start in range(0, len(items), chunk):
        part = items[start:start + chunk]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                rows = ", ".join(["(%s::bigint, %s)"] * len(part))
                cursor.execute(f"UPDATE {table} t SET {column} = v.val FROM (VALUES {rows}) AS v(id, val) "
                               f"WHERE t.id = v.id", [x for pair in part for x in pair])
            else:
                cases = " ".join(["WHEN %s THEN %s"] * len(part))
                ids = ", ".join(["%s"] * len(part))
                cursor.execute(f"UPDATE {table} SET {column} = CASE id {cases} END WHERE id IN ({ids})",
                               [x for pair in part for x in pair] + [pk for pk, _ in part])


@transaction.atomic
def process_changed_job_inputs(*, workflow: Workflow, dry_run: bool = False) -> list[str]:
    """Jobs whose input hash changed, or that read a file whose mtime changed on disk, go back to
    uninitialized with everything downstream, then are placed again. Returns their names."""
    from apps.files.models import File

    stored = dict(Job.objects.filter(workflow=workflow).exclude(input_hash="").values_list("pk", "input_hash"))
    current = job_input_hashes(workflow_id=workflow.pk, job_ids=list(stored))
    changed = {pk for pk, digest in current.items() if stored.get(pk) != digest}
    touched_files = []
    for file in File.objects.filter(workflow=workflow, st_mtime__isnull=False).only("pk", "path", "st_mtime"):
        try:
            mtime = os.stat(file.path).st_mtime
        except OSError:
            mtime = None
        if mtime != file.st_mtime:
            file.st_mtime = mtime
            touched_files.append(file)
    if touched_files:
        readers = Job.objects.filter(workflow=workflow, file_links__file__in=touched_files,
                                     file_links__is_output=False).values_list("pk", flat=True)
        changed.update(readers)
    names = sorted(Job.objects.filter(pk__in=changed).values_list("name", flat=True))
    if dry_run or not changed:
        return names
    File.objects.bulk_update(touched_files, ["st_mtime"], batch_size=1000)
    reset = graph.reset_downstream(job_ids=sorted(changed), include_roots=True)
    bulk_set_column(Job._meta.db_table, "input_hash", {pk: current.get(pk, "") for pk in changed})
    placed = graph.initialize_jobs(workflow_id=workflow.pk) if workflow.initialized else {}
    event_log(workflow_id=workflow.pk, category="jobs_inputs_changed",
              data={"changed": names[:1000], "reset": reset, **placed})
    return names


@transaction.atomic
def reset_job_status(*, workflow: Workflow, failed_only: bool = False) -> int:
    """Torc's reset_job_status: jobs (or only failed ones) back to uninitialized."""
    jobs = Job.objects.filter(workflow=workflow).exclude(status__in=ACTIVE)
    jobs = jobs.filter(status=Status.FAILED) if failed_only else jobs.exclude(status=Status.UNINITIALIZED)
    ids = list(jobs.values_list("pk", flat=True))
    count = graph.reset_downstream(job_ids=ids, include_roots=True)
    event_log(workflow_id=workflow.pk, category="jobs_reset", data={"count": count, "failed_only": failed_only})
    return count


@transaction.atomic
def cancel_workflow_jobs(*, workflow_id: int) -> int:
    now = timezone.now()
    return Job.objects.filter(workflow_id=workflow_id).exclude(
        status__in=[Status.COMPLETED, Status.FAILED, Status.CANCELED, Status.TERMINATED]
    ).update(status=Status.CANCELED, finished_at=now, claimed_by="", lease_expires_at=None)
