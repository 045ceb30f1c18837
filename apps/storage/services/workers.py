"""What a worker may download: attachments of the groups it serves (a group role of Write or
Admin on the worker: the groups whose tasks it runs), and artifacts the submitter of the task
it runs may read. Anything else is 404."""

from django.db.models import Q

from apps.core.exceptions import NotFound
from apps.groups.choices import Role
from apps.groups.models import Membership, User
from apps.jobs.models import Job
from apps.jobs.states import ACTIVE

from .. import backends
from ..models import Artifact, Attachment, artifact_object_name, attachment_object_name
from . import common


def _served(worker) -> dict:
    return {"group__worker_links__worker": worker, "group__worker_links__role__gte": Role.WRITE}


def _readable_by_holder(worker) -> Q | None:
    """Tasks the submitter of a task this worker holds may read: a worker serving several
    groups must not carry one group's artifacts into another group's task. None: no task held."""
    holders = User.objects.filter(pk__in=Job.objects.filter(claimed_by=worker.claimer, status__in=ACTIVE)
                                  .values("owner"))
    flags = list(holders.values_list("is_staff", flat=True))
    if not flags:
        return None
    if any(flags):
        return Q()
    return Q(group__in=Membership.objects.filter(user__in=holders, role__gte=Role.READ).values("group"))


def worker_artifact_download(*, worker, uuid, content_type: str) -> tuple[str, int]:
    """The artifact of task `uuid` (e.g. an upstream task's result a resource names), if the
    submitter of the task the worker runs may read it."""
    content_type = common.parse_content_type(content_type)
    readable = _readable_by_holder(worker)
    served = (Job.objects.filter(readable, uuid=uuid, workflow__isnull=True) if readable is not None
              else Job.objects.none())
    size = Artifact.objects.filter(job__in=served, content_type=content_type).values_list("size", flat=True).first()
    if size is None:
        raise NotFound(f"Artifact with uuid {uuid} and content type {common.display_name(content_type)} not found")
    return backends.download_url(artifact_object_name(uuid, content_type), size=size), size


def worker_attachment_download(*, worker, uuid, key: str) -> tuple[str, int]:
    """An attachment of the group of task `uuid` (the task the worker runs)."""
    key = common.validate_key(key)
    task = Job.objects.filter(uuid=uuid, workflow__isnull=True, **_served(worker)).values_list(
        "group_id", "group__name").first()
    if task is None:
        raise NotFound(f"Task with uuid {uuid} not found")
    group_id, group_name = task
    size = Attachment.objects.filter(group_id=group_id, key=key).values_list("size", flat=True).first()
    if size is None:
        raise NotFound(f"Attachment of group {group_name} and key {key} not found")
    return backends.download_url(attachment_object_name(group_name, key), size=size), size
