"""Mitosis (seed 003) tasks: submit (one or a batch), get, cancel. A task is a Job of a group."""

from drf_spectacular.types import OpenApiTypes
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

from ..models import Job
from ..services import tasks
from ..states import Status

TAG = "Mitosis: tasks"


class TaskSpecIn(serializers.Serializer):
    args = serializers.ListField(child=serializers.CharField(allow_blank=True), allow_empty=False)
    envs = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)
    resources = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    terminal_output = serializers.BooleanField(required=False, default=False)
    watch = serializers.ListField(required=False, allow_null=True, min_length=2, max_length=2)


class SubmitTaskReq(serializers.Serializer):
    group_name = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list)
    labels = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list)
    timeout = serializers.CharField()
    priority = serializers.IntegerField(required=False, default=0, min_value=-(2**31), max_value=2**31 - 1)
    task_spec = TaskSpecIn()


class SubmitTaskResp(serializers.Serializer):
    task_id = serializers.IntegerField()
    uuid = serializers.UUIDField()


def submit(user, data) -> Job:
    serializer = SubmitTaskReq(data=data)
    serializer.is_valid(raise_exception=True)
    v = serializer.validated_data
    return tasks.task_submit(user=user, group_name=v["group_name"], tags=v["tags"], labels=v["labels"],
                             timeout_s=duration_in(v["timeout"], field="timeout"), priority=v["priority"],
                             spec=dict(v["task_spec"]))


def submitted(job: Job) -> dict:
    return {"task_id": job.spec["task_id"], "uuid": str(job.uuid)}


MITOSIS_STATE = {
    Status.UNINITIALIZED: "Pending", Status.BLOCKED: "Pending", Status.READY: "Ready", Status.PENDING: "Running",
    Status.RUNNING: "Running", Status.COMPLETED: "Finished", Status.FAILED: "Finished",
    Status.TERMINATED: "Finished", Status.CANCELED: "Cancelled", Status.DISABLED: "Unknown",
}


def task_state(job: Job) -> str:
    reported = (job.spec or {}).get(tasks.REPORT_KEY)
    if job.status in (Status.PENDING, Status.RUNNING) and reported:
        return "Finished" if reported == "Finish" else "Cancelled"
    return MITOSIS_STATE[Status(job.status)]


def task_info(job: Job) -> dict:
    spec = job.spec or {}
    return {
        "uuid": str(job.uuid), "creator_username": job.owner.username, "group_name": job.group.name,
        "task_id": spec.get("task_id"), "tags": job.tags, "labels": job.labels,
        "created_at": mitosis_time(job.created_at),
        "updated_at": mitosis_time(job.finished_at or job.started_at or job.ready_at or job.created_at),
        "state": task_state(job), "timeout": job.timeout_s, "priority": job.priority,
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


class BatchSubmitView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="submitTasks", request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        items = request.data.get("tasks") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            raise FieldValidationError("required, a list of tasks", field="tasks")
        if not items:
            raise FieldValidationError("Tasks list cannot be empty", field="tasks")
        results = []
        for index, item in enumerate(items):  # one bad item does not stop the others
            try:
                results.append({"Ok": submitted(submit(request.user, item))})
            except serializers.ValidationError as exc:
                results.append({"Err": {"msg": f"tasks.{index}: " + "; ".join(flatten_detail(exc.detail))}})
            except ApplicationError as exc:
                results.append({"Err": {"msg": f"tasks.{index}: {exc}"}})
        return Response({"results": results})


def visible_task(user, uuid) -> Job:
    job = tasks.task_by_uuid(uuid)
    if not user.is_staff and not Membership.objects.filter(user=user, group=job.group, role__gte=Role.READ).exists():
        raise NotFound(f"Task with uuid {uuid} not found")
    return job


class TaskDetailView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="getTask", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, uuid):
        job = visible_task(request.user, uuid)
        return Response({"info": task_info(job), "artifacts": []})

    @extend_schema(tags=[TAG], operation_id="cancelTask", responses={200: OpenApiResponse(description="Cancelled")})
    def delete(self, request, uuid):
        visible_task(request.user, uuid)
        tasks.task_cancel(user=request.user, uuid=uuid)
        return Response(status=200)
