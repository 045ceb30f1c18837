"""The Mitosis task filter, one queryset over Job: POST /tasks/query and /tasks/cancel use it, and
so can the artifacts' batch operations. Filter semantics are Mitosis' (netmito apply_task_filters):
all given filters ANDed; tags and labels: the task has ALL of them; creators and states: ANY.

Where Drover differs from Mitosis (which keeps finished tasks in a second table): one ordered
list (by id), so limit/offset apply once, not per table; exit_status compares integers (Mitosis
compares the text "10" < "5")."""

import json

from django.db.models import BooleanField, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery

from apps.core.exceptions import FieldValidationError, PermissionDenied
from apps.core.parsers import comparison_to_q, parse_comparison
from apps.groups.choices import Role
from apps.groups.models import Group, Membership

from ..models import Job
from ..states import ACTIVE, Status
from .tasks import REPORT_KEY

TASK_STATES = ("Pending", "Ready", "Running", "Finished", "Cancelled", "Unknown")
_REPORTED = Q(**{f"spec__{REPORT_KEY}__isnull": False})


def state_q(name: str) -> Q:
    """Jobs in the Mitosis state `name` (tasks.task_state is the same mapping, per row)."""
    if name == "Pending":
        return Q(status__in=(Status.UNINITIALIZED, Status.BLOCKED))
    if name == "Ready":
        return Q(status=Status.READY)
    if name == "Running":
        return Q(status__in=ACTIVE) & ~_REPORTED
    if name == "Finished":
        return Q(status__in=(Status.COMPLETED, Status.FAILED, Status.TERMINATED)) | Q(
            status__in=ACTIVE, **{f"spec__{REPORT_KEY}": "Finish"})
    if name == "Cancelled":
        return Q(status=Status.CANCELED) | Q(status__in=ACTIVE, **{f"spec__{REPORT_KEY}": "Cancel"})
    if name == "Unknown":
        return Q(status=Status.DISABLED)
    raise FieldValidationError(f"{name!r} is not a task state; use one of {', '.join(TASK_STATES)}", field="states")


class JSONContainsAll(Func):
    """The JSON array column holds every value of `values` (jsonb @> on PostgreSQL; SQLite has
    no containment operator, so: no wanted value is missing from the array)."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, field: str, values: list):
        super().__init__(F(field))
        self.values_json = json.dumps(values)

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{column} @> %s::jsonb", [*params, self.values_json]
        present = f"SELECT t.value FROM json_each({column}) t"
        sql = f"NOT EXISTS (SELECT 1 FROM json_each(%s) w WHERE w.value NOT IN ({present}))"
        return sql, [self.values_json, *params]


def task_group(user, group_name: str | None, *, needed: Role = Role.READ) -> Group:
    """The group a query or batch operation works in (the user's own group by default), with
    the caller's role in one query. Not a member, or no such group: 400, as in Mitosis."""
    name = group_name if group_name is not None else user.username
    role = Membership.objects.filter(user=user, group=OuterRef("pk")).values("role")[:1]
    group = Group.objects.filter(name=name).annotate(role=Subquery(role, output_field=IntegerField())).first()
    role = Role.ADMIN if group is not None and user.is_staff else (group.role if group is not None else None)
    if role is None:
        raise FieldValidationError(f"Group with name {name} not found or user is not in the group",
                                   field="group_name")
    if role < needed:
        raise PermissionDenied(f"Group {name} needs the {Role(needed).label} role", field="group_name")
    return group


def _non_empty(filters: dict, key: str, what: str):
    value = filters.get(key)
    if value is not None and not value:
        raise FieldValidationError(f"{what} cannot be empty if specified", field=key)
    return value


def filter_tasks(user, filters: dict, *, group: Group | None = None) -> QuerySet:
    """Tasks of one group (filters["group_name"], default the user's own; Read needed, staff may
    read any) matching Mitosis' TasksQueryReq filter keys: creator_usernames, tags, labels,
    states, exit_status and priority comparisons (">=1", "!=0", "5"), reporter_uuid. Keys that
    are absent or None do not filter. Ordered by id, owner and group joined."""
    group = group or task_group(user, filters.get("group_name"))
    tasks = Job.objects.filter(group=group, workflow__isnull=True)
    creators = _non_empty(filters, "creator_usernames", "Creator username")
    if creators is not None:
        tasks = tasks.filter(owner__username__in=creators)
    for key, what in (("tags", "Tags"), ("labels", "Labels")):
        wanted = _non_empty(filters, key, what)
        if wanted is not None:
            tasks = tasks.filter(JSONContainsAll(key, sorted(set(wanted))))
    states = _non_empty(filters, "states", "State")
    if states is not None:
        q = Q()
        for name in set(states):
            q |= state_q(name)
        tasks = tasks.filter(q)
    if filters.get("exit_status") is not None:
        # Only ended tasks have an exit status: "!=0" must not match a task still waiting.
        comparison = parse_comparison(filters["exit_status"], field="exit_status")
        tasks = tasks.filter(comparison_to_q("exit_code", comparison), exit_code__isnull=False)
    if filters.get("priority") is not None:
        tasks = tasks.filter(comparison_to_q("priority", parse_comparison(filters["priority"], field="priority")))
    if filters.get("reporter_uuid") is not None:
        tasks = tasks.filter(spec__reporter_uuid=str(filters["reporter_uuid"]))
    return tasks.select_related("owner", "group").order_by("id")
