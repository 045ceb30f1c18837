"""Mitosis (seed 003) tasks: submit (one or a batch), get, change, relabel, cancel. A task is a Job
of a group without a workflow; query and batch cancel are in mitosis_query."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import dialects
from apps.core.errors import flatten_detail
from apps.core.exceptions import ApplicationError, FieldValidationError, NotFound
from apps.core.mitosis import duration_in, mitosis_time
from apps.groups.choices import Role
from apps.groups.models import Membership
from apps.storage.services import artifacts_for

from ..models import Job
from ..services import tasks
from ..services.tasks import MITOSIS_STATE, task_state  # noqa: F401 - imported from here by other apps
from .mitosis_fields import ArtifactQueryResp, ErrorMsg, SeedSchema, TaskResultSpec, TaskSpec, TaskStateField

TAG = "Mitosis: tasks"
INT32 = {"min_value": -(2**31), "max_value": 2**31 - 1}


class SubmitTaskReq(serializers.Serializer):
    group_name = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list)
    labels = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list)
    timeout = serializers.CharField(help_text='humantime, e.g. "10m", "2h", "1h 30m"')
    priority = serializers.IntegerField(required=False, default=0, **INT32)
    task_spec = TaskSpec()


class SubmitTaskResp(serializers.Serializer):
    task_id = serializers.IntegerField()
    uuid = serializers.UUIDField()


class TasksSubmitReq(serializers.Serializer):
    tasks = SubmitTaskReq(many=True)


class TaskSubmitResultField(SeedSchema, serializers.Field):
    def openapi(self, auto_schema, direction):
        ok = auto_schema.resolve_serializer(SubmitTaskResp, direction).ref
        err = auto_schema.resolve_serializer(ErrorMsg, direction).ref
        return {"oneOf": [{"type": "object", "required": ["Ok"], "properties": {"Ok": ok}},
                          {"type": "object", "required": ["Err"], "properties": {"Err": err}}]}


class TasksSubmitResp(serializers.Serializer):
    results = serializers.ListField(child=TaskSubmitResultField())


class ChangeTaskReq(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=255), required=False, allow_null=True)
    timeout = serializers.CharField(required=False, allow_null=True)
    priority = serializers.IntegerField(required=False, allow_null=True, **INT32)
    task_spec = TaskSpec(required=False, allow_null=True)


class UpdateTaskLabelsReq(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField(max_length=255))


class ParsedTaskQueryInfo(serializers.Serializer):
    uuid = serializers.UUIDField()
    reporter_uuid = serializers.UUIDField(allow_null=True, required=False)
    creator_username = serializers.CharField()
    group_name = serializers.CharField()
    task_id = serializers.IntegerField()
    tags = serializers.ListField(child=serializers.CharField())
    labels = serializers.ListField(child=serializers.CharField())
    created_at = serializers.CharField(help_text='Mitosis time, e.g. "2025-11-03 08:12:45.123456 +00:00:00"')
    updated_at = serializers.CharField()
    state = TaskStateField()
    timeout = serializers.IntegerField(help_text="seconds")
    priority = serializers.IntegerField()
    spec = TaskSpec()
    result = TaskResultSpec(allow_null=True, required=False)
    upstream_task_uuid = serializers.UUIDField(allow_null=True, required=False)
    downstream_task_uuid = serializers.UUIDField(allow_null=True, required=False)


class TaskQueryResp(serializers.Serializer):
    info = ParsedTaskQueryInfo()
    artifacts = ArtifactQueryResp(many=True)


def submit_item(data, serializer: SubmitTaskReq | None = None) -> dict:
    """One SubmitTaskReq as tasks_submit takes it. A batch passes one serializer for all its
    items: building a serializer deep-copies its fields, most of a small item's cost."""
    if serializer is None or data is None:  # is_valid's own message for a null item
        serializer = SubmitTaskReq(data=data)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
    else:
        v = serializer.run_validation(data)
    return {"group_name": v["group_name"], "tags": v["tags"], "labels": v["labels"],
            "timeout_s": duration_in(v["timeout"], field="timeout"), "priority": v["priority"],
            "spec": dict(v["task_spec"])}


def submit(user, data) -> Job:
    return tasks.task_submit(user=user, **submit_item(data))


def submitted(job: Job) -> dict:
    return {"task_id": job.spec["task_id"], "uuid": str(job.uuid)}


def updated_at(job: Job):
    return job.finished_at or job.started_at or job.ready_at or job.created_at


def task_info(job: Job) -> dict:
    """TaskQueryInfo / ParsedTaskQueryInfo of a task (owner and group joined by the caller)."""
    spec = job.spec or {}
    return {
        "uuid": str(job.uuid), "creator_username": job.owner.username, "group_name": job.group.name,
        "task_id": spec.get("task_id"), "tags": job.tags, "labels": job.labels,
        "created_at": mitosis_time(job.created_at), "updated_at": mitosis_time(updated_at(job)),
        "state": task_state(job), "timeout": job.timeout_s or 0, "priority": job.priority,
        "spec": {"args": job.args, "envs": job.env, "resources": spec.get("resources", []),
                 "terminal_output": bool(spec.get("terminal_output")), "watch": spec.get("watch")},
        "result": spec.get("result"), "upstream_task_uuid": None, "downstream_task_uuid": None,
        "reporter_uuid": spec.get("reporter_uuid"),
    }


class MitosisView(APIView):
    dialect = dialects.MITOSIS


class TasksView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="submitTask", request=SubmitTaskReq, responses={200: SubmitTaskResp})
    def post(self, request):
        return Response(submitted(submit(request.user, request.data)))


def failed(index: int, msg: str) -> dict:
    return {"Err": {"msg": f"tasks.{index}: {msg}"}}


class BatchSubmitView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="batchSubmitTasks", request=TasksSubmitReq,
                   responses={200: TasksSubmitResp})
    def post(self, request):
        items = request.data.get("tasks") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            raise FieldValidationError("required, a list of tasks", field="tasks")
        if not items:
            raise FieldValidationError("Tasks list cannot be empty", field="tasks")
        results: list = [None] * len(items)
        valid: dict[int, dict] = {}
        serializer = SubmitTaskReq()
        for index, item in enumerate(items):  # an item refused on its merits does not stop the others
            try:
                valid[index] = submit_item(item, serializer)
            except serializers.ValidationError as exc:
                # but one that breaks the schema (a wrong type, a missing key) refuses the request, as
                # Mitosis' typed body does (a 422 there); nothing is created
                raise FieldValidationError("; ".join(flatten_detail(exc.detail)), field=f"tasks.{index}") from None
            except ApplicationError as exc:
                results[index] = failed(index, str(exc))
        outcomes = tasks.tasks_submit(user=request.user, items=list(valid.values())) if valid else []
        for index, outcome in zip(valid, outcomes):
            results[index] = failed(index, str(outcome)) if isinstance(outcome, ApplicationError) else \
                {"Ok": submitted(outcome)}
        return Response({"results": results})


def visible_task(user, uuid) -> Job:
    job = tasks.task_by_uuid(uuid)
    if not user.is_staff and not Membership.objects.filter(user=user, group=job.group, role__gte=Role.READ).exists():
        raise NotFound(f"Task with uuid {uuid} not found")
    return job


class TaskDetailView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="getTask", responses={200: TaskQueryResp})
    def get(self, request, uuid):
        job = visible_task(request.user, uuid)
        return Response({"info": task_info(job), "artifacts": artifacts_for(job)})

    @extend_schema(tags=[TAG], operation_id="updateTask", request=ChangeTaskReq,
                   responses={200: OpenApiResponse(description="Changed (empty body)")})
    def put(self, request, uuid):
        serializer = ChangeTaskReq(data=request.data)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        spec = v.get("task_spec")
        tasks.task_change(
            user=request.user, uuid=uuid, tags=v.get("tags"), priority=v.get("priority"),
            timeout_s=duration_in(v["timeout"], field="timeout") if v.get("timeout") is not None else None,
            spec=dict(spec) if spec is not None else None,
        )
        return Response(status=200)

    @extend_schema(tags=[TAG], operation_id="cancelTask", responses={200: OpenApiResponse(description="Cancelled")})
    def delete(self, request, uuid):
        visible_task(request.user, uuid)
        tasks.task_cancel(user=request.user, uuid=uuid)
        return Response(status=200)


class TaskLabelsView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="updateTaskLabels", request=UpdateTaskLabelsReq,
                   responses={200: OpenApiResponse(description="Labels replaced (empty body)")})
    def put(self, request, uuid):
        serializer = UpdateTaskLabelsReq(data=request.data)
        serializer.is_valid(raise_exception=True)
        tasks.task_set_labels(user=request.user, uuid=uuid, labels=serializer.validated_data["labels"])
        return Response(status=200)
