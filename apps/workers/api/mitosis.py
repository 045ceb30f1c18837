"""Mitosis (seed 003) worker protocol: register, unregister, heartbeat, fetch a task, report.

Worker endpoints take only worker tokens (from POST /workers); user endpoints never do."""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import dialects
from apps.core.authentication import SignedJWTAuthentication, WorkerTokenAuthentication
from apps.core.exceptions import FieldValidationError, NotFound
from apps.core.mitosis import duration_in, duration_out
from apps.jobs.api.mitosis import TaskQueryResp, task_info
from apps.jobs.api.mitosis_fields import TaskSpec
from apps.jobs.models import Job
from apps.jobs.services import tasks
from apps.storage.api.common import absolute
from apps.storage.services import artifact_upload_url, artifacts_for

from .. import mitosis as services
from ..models import GroupWorker, Worker

TAG = "Mitosis: workers"


def json_null() -> HttpResponse:
    """Mitosis answers these with a JSON null body (DRF would send an empty one)."""
    return HttpResponse(b"null", content_type="application/json")


class IsWorker(BasePermission):
    message = "Authentication error: Invalid token"

    def has_permission(self, request, view):
        return isinstance(request.auth, Worker)


class IsUserNotWorker(BasePermission):
    message = "A worker token cannot call user endpoints"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and not isinstance(request.auth, Worker))


class WorkerView(APIView):
    dialect = dialects.MITOSIS
    authentication_classes = [WorkerTokenAuthentication]
    permission_classes = [IsAuthenticated, IsWorker]


class RegisterWorkerReq(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=255))
    labels = serializers.ListField(child=serializers.CharField(max_length=255), required=False, default=list)
    groups = serializers.ListField(child=serializers.CharField(max_length=300))
    lifetime = serializers.CharField(required=False, allow_null=True)


class RegisterWorkerResp(serializers.Serializer):
    worker_id = serializers.UUIDField()
    token = serializers.CharField()
    redis_url = serializers.CharField(allow_null=True)


class WorkersView(APIView):
    """POST registers a worker (user token); DELETE unregisters the calling worker (its token)."""

    dialect = dialects.MITOSIS
    authentication_classes = [WorkerTokenAuthentication, SignedJWTAuthentication]

    def get_permissions(self):
        return [IsAuthenticated(), IsWorker() if self.request.method == "DELETE" else IsUserNotWorker()]

    @extend_schema(tags=[TAG], operation_id="registerWorker", request=RegisterWorkerReq,
                   responses={200: RegisterWorkerResp}, auth=[{"bearerAuth": []}])
    def post(self, request):
        serializer = RegisterWorkerReq(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        lifetime = duration_in(data["lifetime"], field="lifetime") if data.get("lifetime") else None
        worker, token = services.worker_register(creator=request.user, tags=data["tags"], labels=data["labels"],
                                                 groups=data["groups"], lifetime_s=lifetime)
        return Response({"worker_id": str(worker.uuid), "token": token,
                         "redis_url": settings.DROVER_PUBLIC_REDIS_URL})

    @extend_schema(tags=[TAG], operation_id="unregisterWorker", responses={200: OpenApiResponse(description="JSON null")},
                   auth=[{"workerAuth": []}])
    def delete(self, request):
        services.worker_remove(worker=request.auth, reason="unregistered")
        return json_null()


class HeartbeatView(WorkerView):
    @extend_schema(tags=[TAG], operation_id="workerHeartbeat", request=None, responses={200: OpenApiResponse(description="JSON null")})
    def post(self, request):
        services.worker_heartbeat(worker=request.auth)
        return json_null()


class WorkerTaskResp(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    timeout = serializers.CharField()
    upstream_task_uuid = serializers.UUIDField(allow_null=True)
    spec = TaskSpec()


class FetchedTask(serializers.Serializer):
    """The fetch answer as a response schema: a WorkerTaskResp, or null (the idle 200 `null`)."""


class FetchedTaskSchema(OpenApiSerializerExtension):
    target_class = FetchedTask

    def map_serializer(self, auto_schema, direction):
        return {"allOf": [auto_schema.resolve_serializer(WorkerTaskResp, direction).ref], "nullable": True}


class ReportTaskReq(serializers.Serializer):
    id = serializers.IntegerField()
    op = serializers.JSONField(help_text='"Finish", "Cancel", {"Upload": {"content_type", "content_length"}} '
                                         'or {"Commit": {"exit_status", "msg"}}')


class ReportTaskResp(serializers.Serializer):
    url = serializers.CharField(allow_null=True)


def task_spec(job: Job) -> dict:
    """The spec a worker runs. "watch" is null: Drover settles watches itself (the task stays
    Pending until the watched one reaches its state), so a real mito worker need not wait again."""
    spec = job.spec or {}
    return {"args": job.args, "envs": job.env, "resources": spec.get("resources", []),
            "terminal_output": bool(spec.get("terminal_output", False)), "watch": None}


IDLE_FORMS = ("204", "null")
IDLE_HEADER = "X-Mitosis-Idle"


def idle_form(request) -> str:
    """How to say "no task": the seed's 204, or the real coordinator's 200 `null`
    (DROVER_MITOSIS_IDLE_FETCH, or the X-Mitosis-Idle header of one request)."""
    form = request.headers.get(IDLE_HEADER, settings.DROVER_MITOSIS_IDLE_FETCH).strip().lower()
    if form not in IDLE_FORMS:
        raise FieldValidationError(f"{form[:20]!r} is not one of {', '.join(IDLE_FORMS)}", field=IDLE_HEADER)
    return form


class WorkerTasksView(WorkerView):
    @extend_schema(tags=[TAG], operation_id="fetchTask",
                   parameters=[OpenApiParameter(IDLE_HEADER, str, OpenApiParameter.HEADER, enum=list(IDLE_FORMS),
                                                description="With no task: 204 (default: DROVER_MITOSIS_IDLE_FETCH) "
                                                            "or 200 with body null, as the real coordinator")],
                   responses={200: OpenApiResponse(FetchedTask, description="The task; or null with no task "
                                                   "when X-Mitosis-Idle or DROVER_MITOSIS_IDLE_FETCH say null"),
                              204: OpenApiResponse(description="No task for this worker")})
    def get(self, request):
        idle = idle_form(request)  # a bad header is refused before a task is claimed
        job = services.worker_fetch(worker=request.auth)
        if job is None:
            # DRF renders None as an empty body; the real coordinator sends the JSON literal null
            return Response(status=204) if idle == "204" else HttpResponse(b"null", content_type="application/json")
        return Response({"id": job.pk, "uuid": str(job.uuid), "timeout": duration_out(job.timeout_s) or "0s",
                         "upstream_task_uuid": None, "spec": task_spec(job)})

    @extend_schema(tags=[TAG], operation_id="reportTask", request=ReportTaskReq, responses={200: ReportTaskResp})
    def post(self, request):
        serializer = ReportTaskReq(data=request.data)
        serializer.is_valid(raise_exception=True)
        job_id, op = serializer.validated_data["id"], serializer.validated_data["op"]
        if isinstance(op, dict) and len(op) == 1 and "Upload" in op:
            return Response({"url": absolute(request, upload_url(request.auth, job_id, op["Upload"]))})
        exit_status = msg = None
        if isinstance(op, dict) and len(op) == 1 and "Commit" in op and isinstance(op["Commit"], dict):
            exit_status, msg = op["Commit"].get("exit_status"), op["Commit"].get("msg")
            if not isinstance(exit_status, int) or isinstance(exit_status, bool):
                raise FieldValidationError("required, an integer", field="op.Commit.exit_status")
            if msg is not None and not isinstance(msg, str):
                raise FieldValidationError("a string or null", field="op.Commit.msg")
            op = "Commit"
        if op not in ("Finish", "Cancel", "Commit"):
            raise FieldValidationError(f"{op!r} is not one of Finish, Cancel, {{\"Upload\": ...}}, "
                                       f"{{\"Commit\": ...}}", field="op")
        if op == "Commit":  # a graceful shutdown completes here
            services.worker_commit(worker=request.auth, job_id=job_id, exit_status=exit_status, msg=msg)
        else:
            tasks.task_report(worker=request.auth, job_id=job_id, op=op)
        return Response({"url": None})


def upload_url(worker: Worker, job_id: int, upload) -> str:
    """{"Upload": {"content_type", "content_length"}}: a URL to PUT the artifact to. The storage
    app checks the values, that the worker holds the task, and the group's quota."""
    if not isinstance(upload, dict):
        raise FieldValidationError("an object with content_type and content_length", field="op.Upload")
    return artifact_upload_url(worker=worker, job_id=job_id, content_type=upload.get("content_type"),
                               content_length=upload.get("content_length"))


class WorkerTaskDetailView(WorkerView):
    """Any task's TaskQueryResp, as the real coordinator answers (the seed says WorkerTaskResp);
    Mitosis workers read it as the fallback of a watch."""

    @extend_schema(tags=[TAG], operation_id="getTaskForWorker", responses={200: TaskQueryResp})
    def get(self, request, uuid):
        job = tasks.task_by_uuid(uuid)
        # Mitosis shows any task to any worker; Drover only those of groups the worker serves, as
        # for its downloads: a task's envs and args are its group's business.
        if not GroupWorker.objects.filter(worker=request.auth, group_id=job.group_id).exists():
            raise NotFound(f"Task with uuid {uuid} not found")
        return Response({"info": task_info(job), "artifacts": artifacts_for(job)})
