"""Torc (seed 000) compute nodes. Updating a node (as runners do periodically) is its heartbeat."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.core import torc
from apps.core.parsers import format_memory, parse_memory
from apps.core.torc import MAX_INT, MAX_INT32, TorcView, bool_param, int_param
from apps.workflows.services import object_in_workflow, workflow_for

from .. import services
from ..models import ComputeNode

TAG = "Torc"
ANY = OpenApiTypes.OBJECT
GB = 1024**3


def node_dict(n: ComputeNode) -> dict:
    return {
        "id": n.pk, "workflow_id": n.workflow_id, "hostname": n.hostname, "pid": n.pid or 0,
        "start_time": n.start_time, "duration_seconds": n.duration_seconds, "is_active": n.is_active,
        "num_cpus": n.num_cpus, "memory_gb": n.memory_bytes / GB, "memory": n.memory or format_memory(n.memory_bytes),
        "num_gpus": n.num_gpus, "num_nodes": n.num_nodes, "time_limit": n.time_limit,
        "scheduler_config_id": None, "compute_node_type": n.compute_node_type, "scheduler": n.scheduler or None,
    }


class NodeIn(serializers.Serializer):
    """The seed's body (memory "256g") or torc-client's ComputeNodeModel (memory_gb, pid, ...)."""

    # Bounds and lengths are the columns' (PositiveIntegerField, CharField(n), BigIntegerField
    # bytes): a value beyond them was a 500 (PostgreSQL) or silently stored (SQLite).
    workflow_id = serializers.IntegerField(min_value=0, max_value=MAX_INT)
    hostname = serializers.CharField(max_length=255, allow_blank=True)
    num_cpus = serializers.IntegerField(min_value=0, max_value=MAX_INT32, required=False, default=1)
    num_gpus = serializers.IntegerField(min_value=0, max_value=MAX_INT32, required=False, default=0)
    num_nodes = serializers.IntegerField(min_value=1, max_value=MAX_INT32, required=False, default=1)
    memory = serializers.CharField(max_length=32, required=False, allow_null=True)
    memory_gb = serializers.FloatField(min_value=0, max_value=MAX_INT // GB, required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False, default=True, allow_null=True)
    pid = serializers.IntegerField(min_value=0, max_value=MAX_INT32, required=False, allow_null=True)
    start_time = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    duration_seconds = serializers.FloatField(required=False, allow_null=True)
    time_limit = serializers.CharField(max_length=32, required=False, allow_null=True)
    compute_node_type = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    scheduler = serializers.JSONField(required=False, allow_null=True, validators=[torc.no_null_characters])

    def model_fields(self) -> dict:
        data = dict(self.validated_data)
        memory, memory_gb = data.pop("memory", None), data.pop("memory_gb", None)
        if memory is not None:
            data["memory_bytes"], data["memory"] = parse_memory(memory, field="memory"), memory
        elif memory_gb is not None:
            data["memory_bytes"], data["memory"] = int(memory_gb * GB), ""
        if data.get("is_active") is None:
            data["is_active"] = True
        for key in ("start_time", "compute_node_type"):
            if data.get(key) is None:
                data.pop(key, None)
        if data.get("scheduler") is None:
            data["scheduler"] = {}
        return data


def valid(data) -> NodeIn:
    serializer = NodeIn(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


def node_for(request, node_id, *, write=False) -> ComputeNode:
    return object_in_workflow(request.user, ComputeNode.objects.all(), node_id, label="Compute node", write=write)


class NodeListView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_compute_nodes", responses={200: ANY},
                   parameters=[OpenApiParameter("workflow_id", int, required=True),
                               OpenApiParameter("is_active", bool), OpenApiParameter("hostname", str)])
    def get(self, request):
        workflow = workflow_for(request.user, int_param(request, "workflow_id", required=True))
        qs = ComputeNode.objects.filter(workflow=workflow).order_by("id")
        active = bool_param(request, "is_active", None)
        if active is not None:
            qs = qs.filter(is_active=active)
        if torc.str_param(request, "hostname"):
            qs = qs.filter(hostname=torc.str_param(request, "hostname"))
        return Response(torc.paged(request, qs, seed_key="compute_nodes", to_dict=node_dict))

    @extend_schema(tags=[TAG], operation_id="torc_create_compute_node", request=NodeIn, responses={200: ANY})
    def post(self, request):
        data = valid(request.data)
        workflow_for(request.user, data.validated_data["workflow_id"], write=True)
        return Response(node_dict(services.compute_node_save(**data.model_fields())))


class NodeDetailView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_compute_node", responses={200: ANY})
    def get(self, request, node_id):
        return Response(node_dict(node_for(request, node_id)))

    @extend_schema(tags=[TAG], operation_id="torc_update_compute_node", request=NodeIn, responses={200: ANY})
    def put(self, request, node_id):
        node = node_for(request, node_id, write=True)
        fields = valid(request.data).model_fields()
        fields["workflow_id"] = node.workflow_id
        if not fields.get("hostname"):  # the runner's closing update blanks identity fields
            for key in ("hostname", "start_time", "compute_node_type", "num_cpus", "num_gpus", "memory_bytes",
                        "memory", "scheduler"):
                fields.pop(key, None)
        return Response(node_dict(services.compute_node_save(instance=node, **fields)))

    @extend_schema(tags=[TAG], operation_id="torc_delete_compute_node", responses={200: ANY})
    def delete(self, request, node_id):
        node = node_for(request, node_id, write=True)
        body = node_dict(node)
        node.delete()
        return Response(body)
