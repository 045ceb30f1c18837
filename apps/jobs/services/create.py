"""Creating, changing and deleting jobs with their dependencies and file/user-data links."""

from django.db import connection, transaction

from apps.core.exceptions import FieldValidationError
from apps.workflows.models import ResourceRequirements, Workflow
from apps.workflows.services import default_requirements_id

from ..models import Job, JobDependency
from ..states import WAITING, Status
from . import graph
from .workflow_ops import store_input_hashes

SCALARS = ("name", "command", "invocation_script", "cancel_on_blocking_job_failure", "supports_termination",
           "priority", "resource_requirements_id", "args", "env", "image", "spec", "tags", "labels", "timeout_s",
           "max_attempts", "queue")
RELATIONS = ("depends_on_job_ids", "input_file_ids", "output_file_ids", "input_user_data_ids",
             "output_user_data_ids")


def _check_ids(workflow: Workflow, items: list[dict], key: str, model, *, prefix: str) -> None:
    wanted = {i for item in items for i in (item.get(key) or [])}
    if not wanted:
        return
    found = set(model.objects.filter(workflow=workflow, pk__in=wanted).values_list("pk", flat=True))
    missing = wanted - found
    if not missing:
        return
    for index, item in enumerate(items):
        bad = sorted(set(item.get(key) or []) & missing)
        if bad:
            where = f"{prefix}{index}.{key}" if prefix else key
            raise FieldValidationError(f"{', '.join(map(str, bad))} not found in workflow {workflow.pk}", field=where)


def validate_references(workflow: Workflow, items: list[dict], *, prefix: str = "") -> None:
    """Every id a job names must belong to its workflow (400 naming the field otherwise)."""
    from apps.files.models import File, UserData

    for key, model in (("depends_on_job_ids", Job), ("input_file_ids", File), ("output_file_ids", File),
                       ("input_user_data_ids", UserData), ("output_user_data_ids", UserData)):
        _check_ids(workflow, items, key, model, prefix=prefix)
    rr_ids = {item["resource_requirements_id"] for item in items if item.get("resource_requirements_id")}
    if rr_ids:
        found = set(ResourceRequirements.objects.filter(workflow=workflow, pk__in=rr_ids).values_list("pk", flat=True))
        for index, item in enumerate(items):
            if item.get("resource_requirements_id") and item["resource_requirements_id"] not in found:
                where = f"{prefix}{index}.resource_requirements_id" if prefix else "resource_requirements_id"
                raise FieldValidationError(f"{item['resource_requirements_id']} not found in workflow {workflow.pk}",
                                           field=where)


FAST_KEYS = frozenset({"workflow_id", "name", "command", "invocation_script", "cancel_on_blocking_job_failure",
                       "supports_termination", "priority", "resource_requirements_id", "queue", "max_attempts",
                       *RELATIONS})


def _insert_jobs_unnest(workflow: Workflow, owner, items: list[dict]) -> list[int]:
    """PostgreSQL: Torc-shaped jobs in one INSERT ... SELECT FROM unnest(arrays) per 10,000:
    no model instance and one array parameter per column, where bulk_create spent most of a
    10,000-job request building objects and quoting 200,000 parameters in Python."""
    defaults = Job()
    columns = {
        "name": ("text", lambda i: i.get("name") or ""),
        "command": ("text", lambda i: i.get("command") or ""),
        "invocation_script": ("text", lambda i: i.get("invocation_script")),
        "cancel_on_blocking_job_failure": ("boolean", lambda i: i.get("cancel_on_blocking_job_failure",
                                                                    defaults.cancel_on_blocking_job_failure)),
        "supports_termination": ("boolean", lambda i: i.get("supports_termination", defaults.supports_termination)),
        "priority": ("integer", lambda i: i.get("priority") or 0),
        "resource_requirements_id": ("bigint", lambda i: i.get("resource_requirements_id")),
        "queue": ("text", lambda i: i.get("queue") or ""),
        "max_attempts": ("integer", lambda i: i.get("max_attempts") or defaults.max_attempts),
    }
    names = ", ".join(columns)
    arrays = ", ".join(f"%s::{kind}[]" for kind, _ in columns.values())
    sql = (
        f"INSERT INTO {Job._meta.db_table} (uuid, owner_id, group_id, workflow_id, {names}, args, env, image, spec, "
        f"tags, labels, status, attempt, unfinished_deps, claimed_by, input_hash, created_at) "
        f"SELECT gen_random_uuid(), %s, %s, %s, {names}, '[]', '{{}}', '', '{{}}', '[]', '[]', %s, 1, 0, '', '', "
        f"now() FROM unnest({arrays}) AS t({names}) RETURNING id"
    )
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(items), 10_000):
            part = items[start:start + 10_000]
            params = [[get(item) for item in part] for _, get in columns.values()]
            cursor.execute(sql, [owner.pk, workflow.group_id, workflow.pk, int(Status.UNINITIALIZED), *params])
            ids += [row[0] for row in cursor.fetchall()]
    return ids


def _insert_pairs(table: str, columns: tuple[str, str], pairs: list[tuple], extra: dict) -> None:
    if not pairs:
        return
    names = ", ".join([*columns, *extra])
    extras = ", ".join(["%s"] * len(extra))
    sql = (f"INSERT INTO {table} ({names}) SELECT a, b{', ' + extras if extra else ''} "
           f"FROM unnest(%s::bigint[], %s::bigint[]) AS t(a, b)")
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), 50_000):
            part = pairs[start:start + 50_000]
            cursor.execute(sql, [*extra.values(), [a for a, _ in part], [b for _, b in part]])


def _links(job_ids: list[int], items: list[dict]):
    from apps.files.models import JobFile, JobUserData

    if connection.vendor == "postgresql":  # same rows, without model instances
        edges = [(job_id, dep) for job_id, item in zip(job_ids, items, strict=True)
                 for dep in set(item.get("depends_on_job_ids") or [])]
        _insert_pairs(JobDependency._meta.db_table, ("job_id", "depends_on_id"), edges, {"implicit": False})
        for model, target, keys in ((JobFile, "file_id", ("input_file_ids", "output_file_ids")),
                                    (JobUserData, "user_data_id", ("input_user_data_ids", "output_user_data_ids"))):
            for is_output, key in zip((False, True), keys, strict=True):
                pairs = [(job_id, t) for job_id, item in zip(job_ids, items, strict=True)
                         for t in set(item.get(key) or [])]
                _insert_pairs(model._meta.db_table, ("job_id", target), pairs, {"is_output": is_output})
        return
    edges, files, datas = [], [], []
    for job_id, item in zip(job_ids, items, strict=True):
        edges += [JobDependency(job_id=job_id, depends_on_id=dep) for dep in set(item.get("depends_on_job_ids") or [])]
        for is_output, key in ((False, "input_file_ids"), (True, "output_file_ids")):
            files += [JobFile(job_id=job_id, file_id=f, is_output=is_output) for f in set(item.get(key) or [])]
        for is_output, key in ((False, "input_user_data_ids"), (True, "output_user_data_ids")):
            datas += [JobUserData(job_id=job_id, user_data_id=u, is_output=is_output) for u in set(item.get(key) or [])]
    JobDependency.objects.bulk_create(edges, batch_size=5000)
    JobFile.objects.bulk_create(files, batch_size=5000)
    JobUserData.objects.bulk_create(datas, batch_size=5000)


@transaction.atomic
def jobs_create(*, workflow: Workflow, owner, items: list[dict], prefix: str = "jobs.") -> list[int]:
    """Create jobs in bulk (one INSERT per 5,000 rows), with their edges and links. In a workflow
    that was initialized already, the new jobs are placed (ready/blocked) at once."""
    validate_references(workflow, items, prefix=prefix)
    default_rr = default_requirements_id(workflow.pk)
    queue = workflow.config.get("queue", "")
    for item in items:
        if not item.get("resource_requirements_id"):
            item["resource_requirements_id"] = default_rr
        item.setdefault("queue", queue)
    if connection.vendor == "postgresql" and all(FAST_KEYS.issuperset(item) for item in items):
        ids = _insert_jobs_unnest(workflow, owner, items)
    else:
        jobs = [Job(workflow=workflow, owner=owner, group_id=workflow.group_id,
                    **{k: item[k] for k in SCALARS if k in item and item[k] is not None}) for item in items]
        Job.objects.bulk_create(jobs, batch_size=5000)
        ids = [job.pk for job in jobs]
    _links(ids, items)
    if workflow.initialized:
        store_input_hashes(workflow_id=workflow.pk, only_uninitialized=True)
        graph.initialize_jobs(workflow_id=workflow.pk)
    return ids


def job_create(*, workflow: Workflow, owner, data: dict) -> int:
    return jobs_create(workflow=workflow, owner=owner, items=[data], prefix="")[0]


@transaction.atomic
def job_update(*, job: Job, data: dict) -> Job:
    """Replace a job's fields and, where given, its relations. A waiting job whose dependencies
    changed is placed again."""
    from apps.files.models import JobFile, JobUserData

    workflow = job.workflow
    validate_references(workflow, [data])
    scalars = {k: data[k] for k in SCALARS if k in data and data[k] is not None}
    Job.objects.filter(pk=job.pk).update(**scalars)
    relations_changed = any(key in data and data[key] is not None for key in RELATIONS)
    if relations_changed:
        if data.get("depends_on_job_ids") is not None:
            JobDependency.objects.filter(job=job, implicit=False).delete()
        for key, model, is_output in (("input_file_ids", JobFile, False), ("output_file_ids", JobFile, True),
                                      ("input_user_data_ids", JobUserData, False),
                                      ("output_user_data_ids", JobUserData, True)):
            if data.get(key) is not None:
                model.objects.filter(job=job, is_output=is_output).delete()
        _links([job.pk], [{k: v for k, v in data.items() if k in RELATIONS and v is not None}])
        graph.check_acyclic(workflow_id=workflow.pk)
        if job.status in WAITING and workflow.initialized:
            graph.reset_downstream(job_ids=[job.pk], include_roots=True)
            graph.initialize_jobs(workflow_id=workflow.pk)
    job.refresh_from_db()
    return job


@transaction.atomic
def job_delete(*, job: Job) -> None:
    dependents = list(JobDependency.objects.filter(depends_on=job).values_list("job_id", flat=True))
    workflow = job.workflow
    job.delete()
    if dependents and workflow and workflow.initialized:
        graph.reset_downstream(job_ids=dependents, include_roots=True)
        graph.initialize_jobs(workflow_id=workflow.pk)


def status_names() -> list[str]:
    return [s.label for s in Status]
