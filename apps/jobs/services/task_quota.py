"""A user's task quota: how many of their Mitosis tasks may wait (Pending or Ready) at once.

Mitosis itself has no such limit (its user `group_quota` counts groups a user may create, which
apps/groups enforces); Drover adds this one so that one user cannot flood a shared pool's queue.
Off unless set: User.task_quota, else DROVER_DEFAULT_TASK_QUOTA (0 = no limit)."""

from django.conf import settings

from apps.core.exceptions import QuotaExceeded
from apps.groups.models import User

from ..models import Job
from ..states import WAITING


def task_quota(user) -> int | None:
    quota = user.task_quota if user.task_quota is not None else settings.DROVER_DEFAULT_TASK_QUOTA
    return quota or None


def room_for(user, wanted: int) -> int:
    """How many of `wanted` new tasks the user may queue now. With a quota, the user's row is
    locked first, so two concurrent submits cannot both take the last places."""
    if task_quota(user) is None:
        return wanted
    quota = User.objects.select_for_update().values_list("task_quota", flat=True).get(pk=user.pk)
    quota = quota if quota is not None else settings.DROVER_DEFAULT_TASK_QUOTA
    if not quota:
        return wanted
    queued = Job.objects.filter(owner=user, workflow__isnull=True, status__in=WAITING).count()
    return max(0, min(wanted, quota - queued))


def over_quota(user) -> QuotaExceeded:
    return QuotaExceeded(f"Task quota exceeded: {user.username} may have at most {task_quota(user)} tasks "
                         "waiting (Pending or Ready); wait for some to run or cancel some")
