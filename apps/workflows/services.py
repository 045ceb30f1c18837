"""Writes on workflows, resource requirements and the event log."""

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import Conflict, NotFound, PermissionDenied
from apps.groups.choices import Role
from apps.groups.models import Group, Membership, User
from apps.workers.models import ComputeNode

from .models import Event, ResourceRequirements, Workflow


def event_log(*, workflow_id: int | None, category: str, data: dict) -> None:
    Event.objects.create(workflow_id=workflow_id, timestamp=timezone.now(), category=category, data=data)


def events_log(rows: list[tuple[int | None, str, dict]]) -> None:
    """Several events in one INSERT."""
    now = timezone.now()
    Event.objects.bulk_create(Event(workflow_id=w, timestamp=now, category=c, data=d) for w, c, d in rows)


# SECTION access


def visible_workflows(user: User):
    """Owner, members of the workflow's group (any role) and staff see a workflow."""
    qs = Workflow.objects.all()
    if user.is_staff:
        return qs
    return qs.filter(group__in=Membership.objects.filter(user=user).values("group"))


def workflow_for(user: User, workflow_id, *, write: bool = False, compute_node_id: int | None = None) -> Workflow:
    """The workflow if `user` may see it (404 otherwise) and, for writes, change it (403).

    Every Torc request of a worker starts here, so it is one raw statement (the workflow and the
    caller's role in its group): building the equivalent ORM query cost more than running it.
    With `compute_node_id`, the same statement tells whether that node is one of the workflow's
    (`workflow.node_known`): a worker's claim names its node."""
    workflow = None
    if str(workflow_id).isdigit() and int(workflow_id) < 2**63:
        if compute_node_id is None:
            sql, params = _WORKFLOW_WITH_ROLE, [user.pk, int(workflow_id)]
        else:
            sql, params = _WORKFLOW_WITH_ROLE_AND_NODE, [user.pk, compute_node_id, int(workflow_id)]
        workflow = next(iter(Workflow.objects.raw(sql, params)), None)
    if workflow is None or not (user.is_staff or workflow.member_role is not None):
        raise NotFound(f"Workflow not found with ID: {workflow_id}")
    if write and not (user.is_staff or workflow.owner_id == user.pk or workflow.member_role >= Role.WRITE):
        raise PermissionDenied(f"Workflow {workflow_id} needs the Write role in group {workflow.group_id}")
    return workflow


_WORKFLOW_WITH_ROLE = (
    f"SELECT w.*, (SELECT m.role FROM {Membership._meta.db_table} m WHERE m.group_id = w.group_id"
    f" AND m.user_id = %s) AS member_role FROM {Workflow._meta.db_table} w WHERE w.id = %s"
)
_WORKFLOW_WITH_ROLE_AND_NODE = (
    f"SELECT w.*, (SELECT m.role FROM {Membership._meta.db_table} m WHERE m.group_id = w.group_id"
    f" AND m.user_id = %s) AS member_role, EXISTS (SELECT 1 FROM {ComputeNode._meta.db_table} n WHERE n.id = %s"
    f" AND n.workflow_id = w.id) AS node_known FROM {Workflow._meta.db_table} w WHERE w.id = %s"
)


def object_in_workflow(user: User, queryset, pk, *, label: str, write: bool = False):
    """An object that belongs to a workflow (job, file, requirements, node, event...), if
    `user` may see the workflow (and, for writes, change it). Whatever is not visible answers
    with the object's own "not found": "Workflow not found with ID: 7" for a job id would tell
    a stranger that the job exists and where."""
    not_found = f"{label} not found with ID: {pk}"
    obj = queryset.filter(pk=pk, workflow__isnull=False).first()
    if obj is None:
        raise NotFound(not_found)
    try:
        workflow_for(user, obj.workflow_id, write=write)
    except NotFound:
        raise NotFound(not_found) from None
    return obj


# SECTION workflows


DEFAULT_REQUIREMENTS = "default"


@transaction.atomic
def workflow_create(*, owner: User, name: str, user: str | None = None, description: str = "",
                    group: Group | None = None, config: dict | None = None) -> Workflow:
    if group is None:
        group = Group.objects.get(name=owner.username)
    workflow = Workflow.objects.create(owner=owner, group=group, name=name, user=user or owner.username,
                                       description=description or "", config=config or {})
    # As Torc's server: every workflow has a "default" requirement that jobs without one get.
    ResourceRequirements.objects.create(workflow=workflow, name=DEFAULT_REQUIREMENTS)
    event_log(workflow_id=workflow.pk, category="workflow_created", data={"name": name})
    return workflow


def default_requirements_id(workflow_id: int) -> int | None:
    return (ResourceRequirements.objects.filter(workflow_id=workflow_id, name=DEFAULT_REQUIREMENTS)
            .values_list("pk", flat=True).first())


def workflow_update(*, workflow: Workflow, fields: dict) -> Workflow:
    for key, value in fields.items():
        setattr(workflow, key, value)
    workflow.save(update_fields=list(fields))
    return workflow


@transaction.atomic
def workflow_delete(*, workflow: Workflow) -> None:
    workflow.delete()


@transaction.atomic
def workflow_cancel(*, workflow: Workflow) -> int:
    from apps.jobs.services import cancel_workflow_jobs

    Workflow.objects.filter(pk=workflow.pk).update(is_canceled=True)
    canceled = cancel_workflow_jobs(workflow_id=workflow.pk)
    event_log(workflow_id=workflow.pk, category="workflow_canceled", data={"canceled_jobs": canceled})
    return canceled


# SECTION resource requirements


def resource_requirements_save(*, instance: ResourceRequirements | None = None, **fields) -> ResourceRequirements:
    name = fields.get("name", instance.name if instance else None)
    workflow_id = fields.get("workflow_id", instance.workflow_id if instance else None)
    clash = ResourceRequirements.objects.filter(workflow_id=workflow_id, name=name)
    if instance is not None:
        clash = clash.exclude(pk=instance.pk)
    if name == DEFAULT_REQUIREMENTS and clash.exists():
        raise Conflict(f"workflow {workflow_id} already has resource requirements named {name!r}", field="name")
    instance = instance or ResourceRequirements()
    for key, value in fields.items():
        setattr(instance, key, value)
    instance.save()
    return instance
