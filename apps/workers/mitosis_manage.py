"""Managing Mitosis workers as a user: look-ups, queries, tags, labels, group links, shutdown.

Who may do what (Mitosis' helpers, staff act everywhere):
- see a worker: a member (any role) of a group the worker serves; others get 404;
- tags and labels (WW): Write or Admin in a group whose role on the worker is Write or Admin;
- shutdown and group links (WA): Admin in a group whose role on the worker is Admin;
  a visible worker without that role is 403."""

from django.db import connection, transaction
from django.db.models import BooleanField, Exists, OuterRef
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.core.authentication import forget_workers
from apps.core.exceptions import FieldValidationError, NotFound, PermissionDenied
from apps.groups.choices import Role
from apps.groups.models import Group, Membership
from apps.jobs.models import Job
from apps.jobs.states import ACTIVE

from .mitosis import groups_user_may_serve, workers_shutdown
from .models import GroupWorker, Worker

DENIED = "Authentication error: Permission denied"


def worker_get(*, user, uuid, needed: Role | None = None) -> Worker:
    """The worker if `user` may see it (and, with `needed`, act on it at that role)."""
    worker = Worker.objects.select_related("creator").filter(uuid=uuid).first()
    if worker is None:
        raise NotFound(f"Worker {uuid} not found")
    if user.is_staff:
        return worker
    links = list(GroupWorker.objects.filter(worker=worker, group__memberships__user=user)
                 .values_list("role", "group__memberships__role"))
    if not links:
        raise NotFound(f"Worker {uuid} not found")
    if needed is not None and not any(w >= needed and u >= needed for w, u in links):
        raise PermissionDenied(f"{DENIED}: needs the {needed.label} role in a group with the {needed.label} "
                               f"role on this worker")
    return worker


def assigned_tasks(workers) -> dict[int, str]:
    """worker id -> uuid of the task it holds, in one query."""
    by_claimer = {w.claimer: w.pk for w in workers}
    if not by_claimer:
        return {}
    rows = Job.objects.filter(claimed_by__in=list(by_claimer), status__in=ACTIVE).values_list("claimed_by", "uuid")
    return {by_claimer[claimer]: str(uuid) for claimer, uuid in rows}


def worker_groups(worker: Worker) -> dict[str, str]:
    return {name: Role(role).label for name, role in
            GroupWorker.objects.filter(worker=worker).values_list("group__name", "role").order_by("group__name")}


# SECTION queries


def json_array_has_all(column: str, values: list[str]):
    """A filter expression: the JSON array `column` (of drover_worker) holds every value."""
    table = Worker._meta.db_table
    if connection.vendor == "postgresql":
        import json

        return RawSQL(f'"{table}"."{column}" @> %s::jsonb', [json.dumps(values)], output_field=BooleanField())
    checks = " AND ".join([f'EXISTS (SELECT 1 FROM json_each("{table}"."{column}") t WHERE t.value = %s)'] * len(values))
    return RawSQL(checks or "1 = 1", list(values), output_field=BooleanField())


def _group_for(user, group_name: str | None, needed: Role) -> Group:
    """The query's group (default: the user's own). Not a member at `needed`: 403, as Mitosis;
    a group that does not exist looks the same to non-staff."""
    name = group_name or user.username
    group = Group.objects.filter(name=name).first()
    if user.is_staff:
        if group is None:
            raise NotFound(f"Group {name} not found", field="group_name")
        return group
    role = Membership.objects.filter(user=user, group=group).values_list("role", flat=True).first() \
        if group is not None else None
    if role is None or role < needed:
        raise PermissionDenied(f"{DENIED}: needs the {needed.label} role in group {name}", field="group_name")
    return group


def _filtered(group: Group, *, roles=None, tags=None, labels=None, creator_username=None):
    """Workers of the group; `roles` applies to the same group link (one join)."""
    link = {"group_links__group": group}
    if roles:
        link["group_links__role__in"] = list(roles)
    queryset = Worker.objects.filter(**link)
    if tags:
        queryset = queryset.filter(json_array_has_all("tags", list(tags)))
    if labels:
        queryset = queryset.filter(json_array_has_all("labels", list(labels)))
    if creator_username:
        queryset = queryset.filter(creator__username=creator_username)
    return queryset


def workers_query(*, user, group_name=None, roles=None, tags=None, labels=None, creator_username=None,
                  count=False, limit=None, offset=0) -> tuple[Group, int, list[Worker]]:
    group = _group_for(user, group_name, Role.READ)
    queryset = _filtered(group, roles=roles, tags=tags, labels=labels, creator_username=creator_username)
    if count:
        return group, queryset.count(), []
    queryset = queryset.select_related("creator").order_by("pk")
    workers = list(queryset[offset:offset + limit] if limit is not None else queryset[offset:])
    return group, len(workers), workers


# SECTION changes


def worker_set_tags(*, user, uuid, tags: list[str]) -> None:
    if not tags:
        raise FieldValidationError("Empty tags; give at least one tag", field="tags")
    worker = worker_get(user=user, uuid=uuid, needed=Role.WRITE)
    Worker.objects.filter(pk=worker.pk).update(tags=sorted(set(tags)), updated_at=timezone.now())
    forget_workers([worker.uuid])  # an UPDATE sends no signal


def worker_set_labels(*, user, uuid, labels: list[str]) -> None:
    if not labels:
        raise FieldValidationError("Empty labels; give at least one label", field="labels")
    worker = worker_get(user=user, uuid=uuid, needed=Role.WRITE)
    Worker.objects.filter(pk=worker.pk).update(labels=sorted(set(labels)), updated_at=timezone.now())
    forget_workers([worker.uuid])  # an UPDATE sends no signal


def _missing(names, found, *, field: str) -> FieldValidationError:
    missing = sorted(set(names) - {g.name for g in found})
    return FieldValidationError(f"Some groups do not exist: {', '.join(missing)}", field=field)


@transaction.atomic
def worker_set_groups(*, user, uuid, relations: dict[str, Role]) -> None:
    """Add group links or change their role. A group the user may not submit to counts as
    missing (see groups_user_may_serve)."""
    if not relations:
        raise FieldValidationError("Empty group relations", field="relations")
    worker = worker_get(user=user, uuid=uuid, needed=Role.ADMIN)
    groups = groups_user_may_serve(user, relations)
    if len(groups) != len(relations):
        raise _missing(relations, groups, field="relations")
    GroupWorker.objects.bulk_create(
        [GroupWorker(group=g, worker=worker, role=relations[g.name]) for g in groups],
        update_conflicts=True, unique_fields=["group", "worker"], update_fields=["role"])


@transaction.atomic
def worker_remove_groups(*, user, uuid, names: list[str]) -> int:
    if not names:
        raise FieldValidationError("Empty group names", field="groups")
    worker = worker_get(user=user, uuid=uuid, needed=Role.ADMIN)
    groups = list(Group.objects.filter(name__in=names))
    if len(groups) != len(set(names)):
        raise _missing(names, groups, field="groups")
    deleted, _ = GroupWorker.objects.filter(worker=worker, group__in=groups).delete()
    return deleted


def worker_shutdown(*, user, uuid, force: bool) -> None:
    worker = worker_get(user=user, uuid=uuid, needed=Role.ADMIN)
    workers_shutdown(worker_ids=[worker.pk], force=force, reason=f"shutdown_by:{user.username}")


def admin_worker_shutdown(*, uuid, force: bool, actor) -> None:
    worker = Worker.objects.filter(uuid=uuid).values_list("pk", flat=True).first()
    if worker is None:
        raise NotFound(f"Worker {uuid} not found")
    workers_shutdown(worker_ids=[worker], force=force, reason=f"admin_shutdown_by:{actor.username}")


def workers_shutdown_by_filter(*, user, force: bool, group_name=None, roles=None, tags=None, labels=None,
                               creator_username=None) -> tuple[Group, int]:
    """Only workers on which the group's role is Admin are affected (as Mitosis)."""
    group = _group_for(user, group_name, Role.ADMIN)
    roles = [Role.ADMIN] if roles is None else [r for r in roles if r == Role.ADMIN]
    if not roles:
        return group, 0
    ids = list(_filtered(group, roles=roles, tags=tags, labels=labels, creator_username=creator_username)
               .values_list("pk", flat=True))
    return group, workers_shutdown(worker_ids=ids, force=force, reason=f"shutdown_by:{user.username}")


def workers_shutdown_by_uuids(*, user, uuids: list, force: bool) -> tuple[int, list[str]]:
    """Each worker needs WA; returns (shut down, the input uuids that were not)."""
    if not uuids:
        raise FieldValidationError("UUIDs list cannot be empty", field="uuids")
    queryset = Worker.objects.filter(uuid__in=uuids)
    if not user.is_staff:
        admin_links = GroupWorker.objects.filter(
            worker=OuterRef("pk"), role=Role.ADMIN, group__memberships__user=user,
            group__memberships__role=Role.ADMIN)
        queryset = queryset.filter(Exists(admin_links))
    permitted = dict(queryset.values_list("uuid", "pk"))
    count = workers_shutdown(worker_ids=list(permitted.values()), force=force,
                             reason=f"shutdown_by:{user.username}") if permitted else 0
    failed = list(dict.fromkeys(str(u) for u in uuids if u not in permitted))
    return count, failed
