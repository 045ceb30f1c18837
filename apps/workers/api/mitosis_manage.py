"""Mitosis (seed 003) worker management for users and admins: query, get, shutdown, tags,
labels, group links; /admin/workers/{uuid}/ and /admin/shutdown. apps.workers.mitosis_manage
decides who may do what."""

import secrets

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import dialects
from apps.core.exceptions import FieldValidationError, PermissionDenied
from apps.core.mitosis import mitosis_time
from apps.core.permissions import IsDroverAdmin
from apps.groups.choices import Role
from apps.jobs.api.mitosis_fields import SeedEnumField

from .. import mitosis
from .. import mitosis_manage as manage
from ..models import Worker

TAG, TAG_ADMIN = "Mitosis: workers", "Mitosis: admin"
# Error answers ({"msg"}) are added per operation by apps.core.schema.add_error_responses, from
# what each operation can really refuse.
UNIT_OK = {200: OpenApiResponse(description="Done (empty body)")}
OP_PARAM = OpenApiParameter("op", str, enum=["graceful", "force"], required=False,
                            description="Graceful (default): the worker finishes its task first; Force: now")


class RoleField(SeedEnumField):
    """GroupWorkerRole: Read, Write, Admin (also read/READ, ... as Mitosis); gives the Role int."""

    component, values = "GroupWorkerRole", tuple(r.label for r in Role)

    def to_internal_value(self, data):
        if isinstance(data, str) and data in {variant for r in Role for variant in (r.label, r.label.lower(),
                                                                                     r.label.upper())}:
            return Role.from_name(data.capitalize())
        self.fail("invalid_choice", input=data)

    def to_representation(self, value):
        return Role(value).label


class ShutdownOpField(SeedEnumField):
    """WorkerShutdownOp: Graceful or Force (also graceful, force); gives True for Force."""

    component, values = "WorkerShutdownOp", ("Graceful", "Force")

    def to_internal_value(self, data):
        if isinstance(data, str) and data.lower() in ("graceful", "force"):
            return data.lower() == "force"
        self.fail("invalid_choice", input=data)


def parse_op(value, *, field: str = "op") -> bool:
    """The ?op= of the shutdown endpoints: graceful (default) or force."""
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("graceful", "force"):
        return value.lower() == "force"
    raise FieldValidationError(f"{value!r} is not one of Graceful, Force", field=field)


class WorkerStateField(SeedEnumField):
    component, values = "WorkerState", tuple(s.value for s in Worker.State)


def strings(**kwargs):
    return serializers.ListField(child=serializers.CharField(max_length=255), **kwargs)


class WorkerQueryInfo(serializers.Serializer):
    worker_id = serializers.UUIDField()
    creator_username = serializers.CharField()
    tags = strings()
    labels = strings()
    created_at = serializers.CharField(help_text='Mitosis time, e.g. "2025-11-03 08:12:45.123456 +00:00:00"')
    updated_at = serializers.CharField()
    state = WorkerStateField()
    last_heartbeat = serializers.CharField()
    assigned_task_id = serializers.UUIDField(allow_null=True, help_text="uuid of the task the worker holds")


class WorkerQueryResp(serializers.Serializer):
    info = WorkerQueryInfo()
    groups = serializers.DictField(child=RoleField())


class WorkerFilter(serializers.Serializer):
    group_name = serializers.CharField(required=False, allow_null=True, help_text="default: your own group")
    role = serializers.ListField(child=RoleField(), required=False, allow_null=True)
    tags = strings(required=False, allow_null=True, help_text="workers having all of these")
    labels = strings(required=False, allow_null=True, help_text="workers having all of these")
    creator_username = serializers.CharField(required=False, allow_null=True)


class WorkersQueryReq(WorkerFilter):
    count = serializers.BooleanField(required=False, default=False)
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=0, help_text="Drover extension")
    offset = serializers.IntegerField(required=False, allow_null=True, min_value=0, help_text="Drover extension")


class WorkersQueryResp(serializers.Serializer):
    count = serializers.IntegerField()
    workers = WorkerQueryInfo(many=True)
    group_name = serializers.CharField()


class WorkersShutdownByFilterReq(WorkerFilter):
    op = ShutdownOpField()


class WorkersShutdownByFilterResp(serializers.Serializer):
    shutdown_count = serializers.IntegerField()
    group_name = serializers.CharField()


class WorkersShutdownByUuidsReq(serializers.Serializer):
    uuids = serializers.ListField(child=serializers.UUIDField())
    op = ShutdownOpField()


class WorkersShutdownByUuidsResp(serializers.Serializer):
    shutdown_count = serializers.IntegerField()
    failed_uuids = serializers.ListField(child=serializers.UUIDField())


class ReplaceWorkerTagsReq(serializers.Serializer):
    tags = strings()


class ReplaceWorkerLabelsReq(serializers.Serializer):
    labels = strings()


class UpdateGroupWorkerRoleReq(serializers.Serializer):
    relations = serializers.DictField(child=RoleField())


class ShutdownReq(serializers.Serializer):
    secret = serializers.CharField()


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def worker_info(worker: Worker, assigned: str | None) -> dict:
    return {
        "worker_id": str(worker.uuid), "creator_username": worker.creator.username, "tags": worker.tags,
        "labels": worker.labels, "created_at": mitosis_time(worker.created_at),
        "updated_at": mitosis_time(worker.updated_at), "state": worker.state,
        "last_heartbeat": mitosis_time(worker.last_heartbeat), "assigned_task_id": assigned,
    }


def filters(data: dict) -> dict:
    return {"group_name": data.get("group_name"), "roles": data.get("role"), "tags": data.get("tags"),
            "labels": data.get("labels"), "creator_username": data.get("creator_username")}


class MitosisView(APIView):
    dialect = dialects.MITOSIS


class WorkersQueryView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="queryWorkers", request=WorkersQueryReq,
                   responses={200: WorkersQueryResp})
    def post(self, request):
        data = valid(WorkersQueryReq, request.data)
        group, count, workers = manage.workers_query(user=request.user, count=data["count"], limit=data.get("limit"),
                                                     offset=data.get("offset") or 0, **filters(data))
        assigned = manage.assigned_tasks(workers)
        return Response({"count": count, "workers": [worker_info(w, assigned.get(w.pk)) for w in workers],
                         "group_name": group.name})


class WorkerDetailView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="getWorker", responses={200: WorkerQueryResp})
    def get(self, request, uuid):
        worker = manage.worker_get(user=request.user, uuid=uuid)
        assigned = manage.assigned_tasks([worker]).get(worker.pk)
        return Response({"info": worker_info(worker, assigned), "groups": manage.worker_groups(worker)})

    @extend_schema(tags=[TAG], operation_id="shutdownWorker", parameters=[OP_PARAM], responses=UNIT_OK)
    def delete(self, request, uuid):
        force = parse_op(request.query_params.get("op"))
        manage.worker_shutdown(user=request.user, uuid=uuid, force=force)
        return Response(status=200)


class WorkerTagsView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="updateWorkerTags", request=ReplaceWorkerTagsReq, responses=UNIT_OK)
    def put(self, request, uuid):
        manage.worker_set_tags(user=request.user, uuid=uuid, tags=valid(ReplaceWorkerTagsReq, request.data)["tags"])
        return Response(status=200)


class WorkerLabelsView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="updateWorkerLabels", request=ReplaceWorkerLabelsReq, responses=UNIT_OK)
    def put(self, request, uuid):
        labels = valid(ReplaceWorkerLabelsReq, request.data)["labels"]
        manage.worker_set_labels(user=request.user, uuid=uuid, labels=labels)
        return Response(status=200)


class WorkerGroupsView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="updateWorkerGroups", request=UpdateGroupWorkerRoleReq,
                   responses=UNIT_OK)
    def put(self, request, uuid):
        relations = valid(UpdateGroupWorkerRoleReq, request.data)["relations"]
        manage.worker_set_groups(user=request.user, uuid=uuid, relations=relations)
        return Response(status=200)

    @extend_schema(tags=[TAG], operation_id="removeWorkerGroupsParams", responses=UNIT_OK, parameters=[
        OpenApiParameter("groups", {"type": "array", "items": {"type": "string"}}, style="form", explode=False,
                         description="groups=a,b or groups=a&groups=b")])
    def delete(self, request, uuid):
        names = [name for value in request.query_params.getlist("groups") for name in value.split(",") if name]
        manage.worker_remove_groups(user=request.user, uuid=uuid, names=names)
        return Response(status=200)


class WorkersShutdownView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="shutdownWorkersByFilter", request=WorkersShutdownByFilterReq,
                   responses={200: WorkersShutdownByFilterResp})
    def post(self, request):
        data = valid(WorkersShutdownByFilterReq, request.data)
        group, count = manage.workers_shutdown_by_filter(user=request.user, force=data["op"], **filters(data))
        return Response({"shutdown_count": count, "group_name": group.name})


class WorkersShutdownListView(MitosisView):
    @extend_schema(tags=[TAG], operation_id="shutdownWorkersByUuids", request=WorkersShutdownByUuidsReq,
                   responses={200: WorkersShutdownByUuidsResp})
    def post(self, request):
        data = valid(WorkersShutdownByUuidsReq, request.data)
        count, failed = manage.workers_shutdown_by_uuids(user=request.user, uuids=data["uuids"], force=data["op"])
        return Response({"shutdown_count": count, "failed_uuids": failed})


class AdminWorkerView(MitosisView):
    permission_classes = [IsDroverAdmin]

    @extend_schema(tags=[TAG_ADMIN], operation_id="adminShutdownWorker", parameters=[OP_PARAM], responses=UNIT_OK)
    def delete(self, request, uuid):
        manage.admin_worker_shutdown(uuid=uuid, force=parse_op(request.query_params.get("op")), actor=request.user)
        return Response(status=200)


class AdminShutdownView(MitosisView):
    """Drover keeps serving (other dialects, users, the console); what stops is the Mitosis
    worker side: see apps.workers.mitosis.coordinator_shutdown."""

    permission_classes = [IsDroverAdmin]

    @extend_schema(tags=[TAG_ADMIN], operation_id="adminShutdownCoordinator", request=ShutdownReq,
                   responses={**UNIT_OK, 403: OpenApiResponse(description="Not staff, or wrong secret")})
    def post(self, request):
        secret = valid(ShutdownReq, request.data)["secret"]
        configured = getattr(settings, "DROVER_SHUTDOWN_SECRET", None)
        if not configured:
            raise PermissionDenied("Coordinator shutdown is disabled: DROVER_SHUTDOWN_SECRET is not set",
                                   field="secret")
        if not secrets.compare_digest(secret.encode(), str(configured).encode()):
            raise PermissionDenied(f"{manage.DENIED}: wrong shutdown secret", field="secret")
        mitosis.coordinator_shutdown(user=request.user)
        return Response(status=200)


@extend_schema(exclude=True)  # the seed documents the trailing-slash path; this one is for real clients
class AdminWorkerNoSlashView(AdminWorkerView):
    pass
