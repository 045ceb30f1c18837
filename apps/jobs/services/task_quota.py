"""A user's task quota: how many of their Mitosis tasks may wait (Pending or Ready) at once.

Mitosis itself has no such limit (its user `group_quota` counts groups a user may create, which
apps/groups enforces); Drover adds this one so that one user cannot flood a shared pool's queue.
Off unless set: User.task_quota, else DROVER_DEFAULT_TASK_QUOTA (0 = no limit)."""

from django.conf import settings

from apps.core.exceptions import QuotaExceeded
from apps.groups.models import User

from ..models import Job
from ..states import WAITING


def _effective(quota: int | None) -> int | None:
    quota = quota if quota is not None else settings.DROVER_DEFAULT_TASK_QUOTA
    return quota or None


def admit(user, wanted: int) -> tuple[int, QuotaExceeded | None]:
    """How many of `wanted` new tasks the user may queue now, and the refusal for the rest. With
    a quota, the user's row is locked and re-read first, so two concurrent submits cannot both
    take the last places. (The request's user may be up to DROVER_AUTH_CACHE_SECONDS old: a quota
    set on a user without one applies from their next look-up.)"""
    if _effective(user.task_quota) is None:
        return wanted, None
    quota = _effective(User.objects.select_for_update().values_list("task_quota", flat=True).get(pk=user.pk))
    if quota is None:
        return wanted, None
    queued = Job.objects.filter(owner=user, workflow__isnull=True, status__in=WAITING).count()
    refusal = QuotaExceeded(f"Task quota exceeded: {user.username} may have at most {quota} tasks waiting "
                            "(Pending or Ready); wait for some to run or cancel some")
    return max(0, min(wanted, quota - queued)), refusal
