"""A task's artifacts: one archive per content type (result, exec-log, std-log), uploaded by the
worker running it (report op Upload) or by a user with Write on the task's group."""

from django.db import transaction

from apps.core.exceptions import FieldValidationError, NotFound
from apps.core.mitosis import mitosis_time
from apps.groups.choices import Role
from apps.groups.models import Group
from apps.jobs.models import Job
from apps.jobs.services.task_query import filter_tasks, task_group
from apps.jobs.states import ACTIVE

from .. import backends
from ..models import Artifact, artifact_object_name
from . import common


def _missing(uuid, content_type: str) -> str:
    return f"Artifact with uuid {uuid} and content type {common.display_name(content_type)} not found"


def _task_for(user, uuid, needed: Role) -> Job:
    job = common.with_role(Job.objects.filter(uuid=uuid, workflow__isnull=True), user, "group_id").first()
    if job is None:
        raise NotFound(f"Task {uuid} not found")
    common.check_role(user, job, needed, f"Task {uuid} not found")
    return job


@transaction.atomic
def artifact_upload(*, user, uuid, content_type: str, content_length: int) -> tuple[bool, str]:
    """(existed, upload URL) for a task of a group where the user has Write, active or finished."""
    content_type = common.parse_content_type(content_type)
    content_length = common.validate_size(content_length)
    return _reserve(_task_for(user, uuid, Role.WRITE), content_type, content_length)


@transaction.atomic
def artifact_upload_url(*, worker, job_id: int, content_type: str, content_length: int) -> str:
    """The worker report op {"Upload": {content_type, content_length}}: an upload URL for the
    task the worker holds (anything else is 404, as for the other report ops)."""
    content_type = common.parse_content_type(content_type, field="op.Upload.content_type")
    content_length = common.validate_size(content_length, field="op.Upload.content_length")
    job = Job.objects.filter(pk=job_id, claimed_by=worker.claimer, status__in=ACTIVE, workflow__isnull=True).first()
    if job is None:
        raise NotFound(f"Task {job_id} not found")
    return _reserve(job, content_type, content_length)[1]


def _reserve(job: Job, content_type: str, content_length: int) -> tuple[bool, str]:
    group = common.locked_group(job.group_id)
    row, existed = common.upsert_reserved(Artifact, group, {"job": job, "content_type": content_type},
                                          content_length)
    url = backends.upload_url(artifact_object_name(job.uuid, content_type), content_length=content_length,
                              ref=("artifact", row.pk))
    return existed, url


def artifact_download(*, user, uuid, content_type: str) -> tuple[str, int]:
    content_type = common.parse_content_type(content_type)
    row = common.with_role(Artifact.objects.filter(job__uuid=uuid, job__workflow__isnull=True,
                                                   content_type=content_type), user, "job__group_id").first()
    if row is None:
        raise NotFound(_missing(uuid, content_type))
    common.check_role(user, row, Role.READ, _missing(uuid, content_type))
    return backends.download_url(artifact_object_name(uuid, content_type), size=row.size), row.size


@transaction.atomic
def artifact_delete(*, user, uuid, content_type: str, admin: bool = False) -> None:
    """Write on the task's group, and not updated within the last hour; staff through the admin
    endpoint skip both checks."""
    content_type = common.parse_content_type(content_type)
    if admin:
        job = Job.objects.filter(uuid=uuid, workflow__isnull=True).first()
        if job is None:
            raise NotFound(f"Task {uuid} not found")
    else:
        job = _task_for(user, uuid, Role.WRITE)
    common.locked_group(job.group_id)
    row = Artifact.objects.filter(job=job, content_type=content_type).first()
    if row is None:
        raise NotFound(_missing(uuid, content_type))
    if not admin and row.updated_at > common.deletable_before():
        raise FieldValidationError("Cannot delete artifact that has been updated in the last hour",
                                   field="content_type")
    _forget([(row.pk, job.group_id, job.uuid, content_type, row.size)])


def artifacts_download(*, user, content_type: str, filters: dict | None = None,
                       uuids: list | None = None) -> list[dict]:
    """Download URLs (valid one day) of one content type for the tasks a filter (/tasks/query's:
    apps.jobs filter_tasks) or a uuid list names; tasks without that artifact, or that the user
    cannot see, are skipped."""
    content_type = common.parse_content_type(content_type)
    if uuids is not None:
        jobs = _visible_jobs(user, uuids, Role.READ)
    else:
        jobs = filter_tasks(user, filters or {})
    rows = Artifact.objects.filter(job__in=jobs, content_type=content_type).order_by("job_id")
    return [{"uuid": str(uuid), "size": size,
             "url": backends.download_url(artifact_object_name(uuid, content_type), size=size, batch=True)}
            for uuid, size in rows.values_list("job__uuid", "size")]


@transaction.atomic
def artifacts_delete(*, user, content_type: str, filters: dict | None = None,
                     uuids: list | None = None) -> tuple[int, list[str]]:
    """Delete one content type's artifacts of the tasks a filter (Write on its group, else 403)
    or a uuid list (tasks of groups where the user has Write) names, skipping those updated within
    the last hour. Returns (deleted count, uuids of the list not deleted)."""
    content_type = common.parse_content_type(content_type)
    if uuids is not None:
        jobs = _visible_jobs(user, uuids, Role.WRITE)
    else:
        filters = filters or {}
        jobs = filter_tasks(user, filters, group=task_group(user, filters.get("group_name"), needed=Role.WRITE))
    candidates = Artifact.objects.filter(job__in=jobs, content_type=content_type)
    group_ids = sorted(set(candidates.values_list("job__group_id", flat=True)))
    list(Group.objects.select_for_update().filter(pk__in=group_ids).order_by("pk").values_list("pk", flat=True))
    cutoff = common.deletable_before()
    doomed = [(pk, group_id, uuid, content_type, size)
              for pk, group_id, uuid, size, updated in candidates.values_list(
                  "pk", "job__group_id", "job__uuid", "size", "updated_at") if updated <= cutoff]
    _forget(doomed)
    if uuids is None:
        return len(doomed), []
    gone = {str(uuid) for _, _, uuid, _, _ in doomed}
    return len(doomed), [u for u in dict.fromkeys(str(u) for u in uuids) if u not in gone]


def artifacts_for(job: Job) -> list[dict]:
    """The seed's ArtifactQueryResp list of GET /tasks/{uuid} (one query)."""
    rows = Artifact.objects.filter(job=job).order_by("content_type").values(
        "content_type", "size", "created_at", "updated_at")
    return [{"content_type": r["content_type"], "size": r["size"], "created_at": mitosis_time(r["created_at"]),
             "updated_at": mitosis_time(r["updated_at"])} for r in rows]


def _visible_jobs(user, uuids: list, needed: Role):
    if not uuids:
        raise FieldValidationError("UUIDs list cannot be empty", field="uuids")
    jobs = Job.objects.filter(uuid__in=uuids, workflow__isnull=True)
    if user.is_staff:
        return jobs
    return jobs.filter(group__memberships__user=user, group__memberships__role__gte=needed)


def _forget(rows: list[tuple]) -> None:
    """Delete rows (id, group id, task uuid, content type, size) whose groups are locked, free
    their bytes, and remove the objects once the transaction has committed."""
    if not rows:
        return
    Artifact.objects.filter(pk__in=[row[0] for row in rows]).delete()
    freed: dict[int, int] = {}
    for _, group_id, _, _, size in rows:
        freed[group_id] = freed.get(group_id, 0) + size
    common.release(freed)
    common.delete_after_commit([artifact_object_name(uuid, ct) for _, _, uuid, ct, _ in rows])
