"""Torc (seed 000) workflows, resource requirements, events and workflow-level operations.

Views translate: they parse with a serializer, call apps.workflows.services or
apps.jobs.services, and answer 200 with Torc's shapes (creates too: torc-client reads nothing
from a 201)."""

from django.db.models import Count, Sum
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from apps.core import torc
from apps.core.exceptions import FieldValidationError
from apps.core.parsers import parse_iso_duration, parse_memory
from apps.core.torc import TorcView, bool_param, int_param
from apps.jobs import services as jobs
from apps.jobs.api.torc_input import is_id
from apps.jobs.api.torc_repr import JOB_COLUMNS, claimed_jobs_payload
from apps.jobs.models import Job, Result
from apps.jobs.states import COMPLETE, Status
from apps.workers.models import ComputeNode

from .. import services
from ..spec import workflow_from_spec
from ..models import Event, ResourceRequirements, Workflow

TAG = "Torc"
VERSION = "0.8.0"
API_VERSION = "0.7.0"
CONFIG_DEFAULTS = {
    "compute_node_expiration_buffer_seconds": 60,
    "compute_node_wait_for_new_jobs_seconds": 90,
    "compute_node_ignore_workflow_completion": False,
    "compute_node_wait_for_healthy_database_minutes": 20,
    "compute_node_min_time_for_new_jobs_seconds": 300,
    "jobs_sort_method": "gpus_runtime_memory",
}


MAX_MEMORY_GB = torc.MAX_INT // 1024**3  # memory_gb whose bytes still fit a 64-bit column
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a datetime holds
SORT_METHODS = ("gpus_runtime_memory", "gpus_memory_runtime", "none")


# SECTION representations


def workflow_dict(workflow: Workflow, request) -> dict:
    body = {"id": workflow.pk, "name": workflow.name, "user": workflow.user, "description": workflow.description,
            "timestamp": torc.workflow_timestamp(workflow.created_at, request)}
    if torc.wants_string_timestamp(request):  # the real server's fuller model
        body.update({**CONFIG_DEFAULTS, **workflow.config, "run_id": workflow.run_id,
                     "is_canceled": workflow.is_canceled, "is_archived": workflow.is_archived})
    return body


def requirements_dict(rr: ResourceRequirements) -> dict:
    return {"id": rr.pk, "workflow_id": rr.workflow_id, "name": rr.name, "num_cpus": rr.num_cpus,
            "num_gpus": rr.num_gpus, "num_nodes": rr.num_nodes, "memory": rr.memory, "runtime": rr.runtime}


def event_dict(event: Event) -> dict:
    data = {"category": event.category, **event.data} if isinstance(event.data, dict) else event.data
    return {"id": event.pk, "workflow_id": event.workflow_id, "timestamp": torc.epoch_ms(event.timestamp),
            "data": data}


def status_dict(workflow: Workflow) -> dict:
    """Both clients' shapes: 0.8's WorkflowStatusModel and 0.35's aggregate WorkflowStatusResponse."""
    counts = dict(Job.objects.filter(workflow=workflow).values_list("status").annotate(n=Count("id")))
    by_status = {s.label: counts.get(int(s), 0) for s in Status} | {"pending_failed": 0}
    total = sum(counts.values())
    unfinished = total - sum(counts.get(int(s), 0) for s in COMPLETE) - counts.get(int(Status.DISABLED), 0)
    exec_minutes = Result.objects.filter(workflow=workflow).aggregate(t=Sum("exec_time_minutes"))["t"] or 0.0
    return {
        "id": workflow.pk, "run_id": workflow.run_id, "is_canceled": workflow.is_canceled,
        "is_archived": workflow.is_archived, "has_detected_need_to_run_completion_script": False,
        "workflow_id": workflow.pk, "workflow_name": workflow.name, "workflow_user": workflow.user,
        "is_complete": workflow.is_canceled or unfinished == 0, "total_jobs": total, "jobs_by_status": by_status,
        "active_compute_nodes": ComputeNode.objects.filter(workflow=workflow, is_active=True).count(),
        "active_scheduled_nodes": 0, "pending_scheduled_nodes": 0, "total_exec_time_minutes": exec_minutes,
        "walltime_seconds": (timezone.now() - workflow.created_at).total_seconds(),
    }


# SECTION serializers


class WorkflowIn(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    user = serializers.CharField(max_length=255, required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    compute_node_expiration_buffer_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    compute_node_wait_for_new_jobs_seconds = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    compute_node_ignore_workflow_completion = serializers.BooleanField(required=False, allow_null=True)
    compute_node_wait_for_healthy_database_minutes = serializers.IntegerField(required=False, allow_null=True,
                                                                              min_value=0)
    compute_node_min_time_for_new_jobs_seconds = serializers.IntegerField(required=False, allow_null=True,
                                                                          min_value=0)
    jobs_sort_method = serializers.ChoiceField(SORT_METHODS, required=False, allow_null=True)
    project = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    metadata = serializers.DictField(required=False, allow_null=True, validators=[torc.no_null_characters])

    def config(self) -> dict:
        return {k: v for k, v in self.validated_data.items()
                if k not in ("name", "user", "description") and v is not None}


class RequirementsIn(serializers.Serializer):
    workflow_id = serializers.IntegerField()
    name = serializers.CharField(max_length=255)
    # bounded by their columns (PositiveIntegerField, CharField(32)): larger values were a 500
    num_cpus = serializers.IntegerField(min_value=0, max_value=torc.MAX_INT32, required=False, allow_null=True)
    num_gpus = serializers.IntegerField(min_value=0, max_value=torc.MAX_INT32, required=False, allow_null=True)
    num_nodes = serializers.IntegerField(min_value=1, max_value=torc.MAX_INT32, required=False, allow_null=True)
    memory = serializers.CharField(max_length=32, required=False, allow_null=True)
    runtime = serializers.CharField(max_length=32, required=False, allow_null=True)

    def fields_for_model(self) -> dict:
        data = {k: v for k, v in self.validated_data.items() if v is not None}
        if "memory" in data:
            data["memory_bytes"] = parse_memory(data["memory"], field="memory")
        if "runtime" in data:
            data["runtime_s"] = parse_iso_duration(data["runtime"], field="runtime")
        return data


class NodeResourcesIn(serializers.Serializer):
    # bounded so that the SQL parameters fit in 64 bits (memory_gb * 2**30 too); beyond was a 500
    num_cpus = serializers.IntegerField(min_value=0, max_value=torc.MAX_INT32)
    memory_gb = serializers.FloatField(min_value=0, max_value=MAX_MEMORY_GB)
    num_gpus = serializers.IntegerField(min_value=0, max_value=torc.MAX_INT32)
    num_nodes = serializers.IntegerField(min_value=1, max_value=torc.MAX_INT32)
    time_limit = serializers.CharField(required=False, allow_null=True)
    scheduler_config_id = serializers.IntegerField(required=False, allow_null=True, min_value=0,
                                                   max_value=torc.MAX_INT)
    id = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=torc.MAX_INT)


class InitializeIn(serializers.Serializer):
    reinitialize = serializers.BooleanField(required=False, default=False)
    ignore_missing_data = serializers.BooleanField(required=False, default=False)


class EventIn(serializers.Serializer):
    workflow_id = serializers.IntegerField()
    timestamp = serializers.IntegerField(required=False, allow_null=True)
    data = serializers.JSONField(validators=[torc.no_null_characters])


def valid(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer


ANY = OpenApiTypes.OBJECT


# SECTION workflows


class WorkflowListView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_workflows", responses={200: ANY})
    def get(self, request):
        qs = services.visible_workflows(request.user).order_by("id")
        for name in ("name", "user", "description"):
            if torc.str_param(request, name):
                qs = qs.filter(**{name: torc.str_param(request, name)})
        archived = bool_param(request, "is_archived", None)
        if archived is not None:
            qs = qs.filter(is_archived=archived)
        return Response(torc.paged(request, qs, seed_key="workflows", to_dict=lambda w: workflow_dict(w, request)))

    @extend_schema(tags=[TAG], operation_id="torc_create_workflow", request=WorkflowIn, responses={200: ANY})
    def post(self, request):
        data = valid(WorkflowIn, request.data)
        workflow = services.workflow_create(owner=request.user, name=data.validated_data["name"],
                                            user=data.validated_data.get("user"),
                                            description=data.validated_data.get("description") or "",
                                            config=data.config())
        return Response(workflow_dict(workflow, request))


class WorkflowDetailView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_workflow", responses={200: ANY})
    def get(self, request, workflow_id):
        return Response(workflow_dict(services.workflow_for(request.user, workflow_id), request))

    @extend_schema(tags=[TAG], operation_id="torc_update_workflow", request=WorkflowIn, responses={200: ANY})
    def put(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        data = valid(WorkflowIn, request.data)
        fields = {"name": data.validated_data["name"], "config": {**workflow.config, **data.config()}}
        if data.validated_data.get("user"):
            fields["user"] = data.validated_data["user"]
        if data.validated_data.get("description") is not None:
            fields["description"] = data.validated_data["description"]
        return Response(workflow_dict(services.workflow_update(workflow=workflow, fields=fields), request))

    @extend_schema(tags=[TAG], operation_id="torc_delete_workflow", responses={200: ANY})
    def delete(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        body = workflow_dict(workflow, request)
        services.workflow_delete(workflow=workflow)
        return Response(body)


class WorkflowStatusView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_workflow_status", responses={200: ANY})
    def get(self, request, workflow_id):
        return Response(status_dict(services.workflow_for(request.user, workflow_id)))

    @extend_schema(tags=[TAG], operation_id="torc_update_workflow_status", request=ANY, responses={200: ANY})
    def put(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        if not isinstance(request.data, dict):  # an empty body parses to {}
            raise FieldValidationError("the body must be a JSON object (a workflow status)", field="body")
        run_id = request.data.get("run_id")
        if run_id is not None:
            if not isinstance(run_id, int) or isinstance(run_id, bool) or not 0 <= run_id <= torc.MAX_INT32:
                raise FieldValidationError(f"{run_id!r} is not an integer between 0 and {torc.MAX_INT32}",
                                           field="run_id")
            workflow = services.workflow_update(workflow=workflow, fields={"run_id": run_id})
        return Response(status_dict(workflow))


class ResetWorkflowStatusView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_reset_workflow_status", request=None, responses={200: ANY})
    def post(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        workflow = services.workflow_update(workflow=workflow, fields={"is_canceled": False})
        return Response(status_dict(workflow))


class CancelWorkflowView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_cancel_workflow", request=None, responses={200: ANY})
    def put(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        services.workflow_cancel(workflow=workflow)
        workflow.refresh_from_db()
        return Response(status_dict(workflow))


class IsCompleteView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_is_workflow_complete", responses={200: ANY})
    def get(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id)
        unfinished = Job.objects.filter(workflow=workflow).exclude(
            status__in=[*COMPLETE, Status.DISABLED]).exists()
        return Response({"is_canceled": workflow.is_canceled, "is_complete": workflow.is_canceled or not unfinished,
                         "needs_to_run_completion_script": False})


class IsUninitializedView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_is_workflow_uninitialized", responses={200: ANY})
    def get(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id)
        waiting = Job.objects.filter(workflow=workflow).exclude(status=Status.UNINITIALIZED).exists()
        return Response({"is_uninitialized": not waiting})


class InitializeJobsView(TorcView):
    @extend_schema(
        tags=[TAG], operation_id="torc_initialize_jobs", request=InitializeIn, responses={200: ANY},
        parameters=[OpenApiParameter("only_uninitialized", bool), OpenApiParameter("clear_ephemeral_user_data", bool)],
    )
    def post(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        body = valid(InitializeIn, request.data if request.data else {}).validated_data
        summary = jobs.initialize_workflow(
            workflow=workflow, reinitialize=body["reinitialize"], ignore_missing_data=body["ignore_missing_data"],
            clear_ephemeral_user_data=bool_param(request, "clear_ephemeral_user_data", False),
        )
        return Response({"message": "Initialized job status", **summary})


class ClaimNextJobsView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_claim_next_jobs", request=None, responses={200: ANY},
                   parameters=[OpenApiParameter("num_jobs", int), OpenApiParameter("limit", int)])
    def post(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        name = "num_jobs" if "num_jobs" in request.query_params else "limit"
        limit = int_param(request, name, 10, minimum=1, maximum=torc.MAX_LIMIT)
        if workflow.is_canceled:
            return Response({"jobs": []})
        rows = jobs.claim(scope=jobs.Scope(workflow_id=workflow.pk), claimer=f"user:{request.user.username}",
                          limit=limit, columns=JOB_COLUMNS, outputs=True)
        return Response({"jobs": claimed_jobs_payload(rows)})


class ClaimByResourcesView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_claim_jobs_based_on_resources", request=NodeResourcesIn,
                   responses={200: ANY},
                   parameters=[OpenApiParameter("sort_method", str), OpenApiParameter("strict_scheduler_match", bool)])
    def post(self, request, workflow_id, limit):
        named = request.data.get("id") if isinstance(request.data, dict) else None
        named = named if is_id(named) else None  # checked with the workflow: one statement less a claim
        workflow = services.workflow_for(request.user, workflow_id, write=True, compute_node_id=named)
        if not 1 <= limit <= torc.MAX_LIMIT:
            raise FieldValidationError(f"must be between 1 and {torc.MAX_LIMIT}, got {limit}", field="limit")
        body = valid(NodeResourcesIn, request.data).validated_data
        # Torc keeps jobs whose scheduler_id is NULL or the node's, strictly or with a fallback; Drover's jobs
        # carry no scheduler (scheduler_id is always null), so every job matches either way. Still a boolean.
        bool_param(request, "strict_scheduler_match", False)
        if workflow.is_canceled:
            return Response({"jobs": [], "reason": "Workflow is canceled"})
        time_limit = body.get("time_limit")
        node = jobs.NodeResources(
            num_cpus=body["num_cpus"], memory_bytes=int(body["memory_gb"] * 1024**3), num_gpus=body["num_gpus"],
            num_nodes=body["num_nodes"],
            time_limit_s=parse_iso_duration(time_limit, field="time_limit") if time_limit else None,
        )
        sort_method = request.query_params.get("sort_method") or workflow.config.get("jobs_sort_method") or "none"
        if sort_method not in SORT_METHODS:  # was: silently claimed in id order
            raise FieldValidationError(f"{sort_method[:40]!r} is not one of {', '.join(SORT_METHODS)}",
                                       field="sort_method")
        node_id = body.get("id")
        if node_id is not None and not (workflow.node_known if node_id == named else
                                        ComputeNode.objects.filter(pk=node_id, workflow=workflow).exists()):
            raise FieldValidationError(f"compute node {node_id} not found in workflow {workflow.pk}", field="id")
        claimer = f"compute_node:{node_id}" if node_id else f"user:{request.user.username}"
        rows = jobs.claim_by_resources(workflow_id=workflow.pk, node=node, limit=limit, claimer=claimer,
                                       sort_method=sort_method, compute_node_id=node_id, columns=JOB_COLUMNS,
                                       outputs=True)
        return Response({"jobs": claimed_jobs_payload(rows), "reason": None if rows else "No jobs fit the resources"})


class ProcessChangedInputsView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_process_changed_job_inputs", request=None, responses={200: ANY},
                   parameters=[OpenApiParameter("dry_run", bool)])
    def post(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        names = jobs.process_changed_job_inputs(workflow=workflow, dry_run=bool_param(request, "dry_run", False))
        return Response({"reinitialized_jobs": names})


class ResetJobStatusView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_reset_job_status", request=None, responses={200: ANY},
                   parameters=[OpenApiParameter("failed_only", bool)])
    def post(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id, write=True)
        failed_only = bool_param(request, "failed_only", False)
        count = jobs.reset_job_status(workflow=workflow, failed_only=failed_only)
        body = {"workflow_id": workflow.pk, "updated_count": count, "status": "uninitialized"}
        if failed_only:
            body["reset_type"] = "failed_only"
        return Response(body)


class JobIdsView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_job_ids", responses={200: ANY})
    def get(self, request, workflow_id):
        workflow = services.workflow_for(request.user, workflow_id)
        ids = list(Job.objects.filter(workflow=workflow).order_by("id").values_list("id", flat=True))
        return Response({"job_ids": ids, "count": len(ids)})


class RequiredExistingFilesView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_required_existing_files", responses={200: ANY})
    def get(self, request, workflow_id):
        from apps.files.models import File, JobFile

        workflow = services.workflow_for(request.user, workflow_id)
        produced = JobFile.objects.filter(file__workflow=workflow, is_output=True).values("file_id")
        ids = list(File.objects.filter(workflow=workflow, job_links__is_output=False).exclude(pk__in=produced)
                   .distinct().order_by("id").values_list("id", flat=True))
        return Response({"files": ids})


class MissingUserDataView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_missing_user_data", responses={200: ANY})
    def get(self, request, workflow_id):
        from apps.files.models import JobUserData, UserData

        workflow = services.workflow_for(request.user, workflow_id)
        produced = JobUserData.objects.filter(user_data__workflow=workflow, is_output=True).values("user_data_id")
        ids = list(UserData.objects.filter(workflow=workflow, job_links__is_output=False, data__isnull=True)
                   .exclude(pk__in=produced).distinct().order_by("id").values_list("id", flat=True))
        return Response({"user_data": ids})


# SECTION resource requirements


class RequirementsListView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_resource_requirements", responses={200: ANY},
                   parameters=[OpenApiParameter("workflow_id", int, required=True)])
    def get(self, request):
        workflow = services.workflow_for(request.user, int_param(request, "workflow_id", required=True))
        qs = ResourceRequirements.objects.filter(workflow=workflow).order_by("id")
        if torc.str_param(request, "name"):
            qs = qs.filter(name=torc.str_param(request, "name"))
        return Response(torc.paged(request, qs, seed_key="resource_requirements", to_dict=requirements_dict))

    @extend_schema(tags=[TAG], operation_id="torc_create_resource_requirements", request=RequirementsIn,
                   responses={200: ANY})
    def post(self, request):
        data = valid(RequirementsIn, request.data)
        services.workflow_for(request.user, data.validated_data["workflow_id"], write=True)
        return Response(requirements_dict(services.resource_requirements_save(**data.fields_for_model())))


def requirements_for(request, rr_id, *, write=False) -> ResourceRequirements:
    return services.object_in_workflow(request.user, ResourceRequirements.objects.all(), rr_id,
                                       label="Resource requirements", write=write)


class RequirementsDetailView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_resource_requirements", responses={200: ANY})
    def get(self, request, rr_id):
        return Response(requirements_dict(requirements_for(request, rr_id)))

    @extend_schema(tags=[TAG], operation_id="torc_update_resource_requirements", request=RequirementsIn,
                   responses={200: ANY})
    def put(self, request, rr_id):
        rr = requirements_for(request, rr_id, write=True)
        data = valid(RequirementsIn, request.data)
        fields = data.fields_for_model()
        fields["workflow_id"] = rr.workflow_id  # requirements never move between workflows
        return Response(requirements_dict(services.resource_requirements_save(instance=rr, **fields)))

    @extend_schema(tags=[TAG], operation_id="torc_delete_resource_requirements", responses={200: ANY})
    def delete(self, request, rr_id):
        rr = requirements_for(request, rr_id, write=True)
        body = requirements_dict(rr)
        rr.delete()
        return Response(body)


# SECTION events


class EventListView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_events", responses={200: ANY},
                   parameters=[OpenApiParameter("workflow_id", int, required=True), OpenApiParameter("limit", int),
                               OpenApiParameter("after_timestamp", int), OpenApiParameter("category", str)])
    def get(self, request):
        """Newest first (the seed's use: the latest events of a workflow)."""
        workflow = services.workflow_for(request.user, int_param(request, "workflow_id", required=True))
        qs = Event.objects.filter(workflow=workflow).order_by("-id")
        after = int_param(request, "after_timestamp", None, minimum=0, maximum=MAX_EPOCH_MS)  # was a 500 beyond
        if after is not None:
            from datetime import datetime, timedelta
            from datetime import timezone as tz

            # strictly after that millisecond (events report truncated ms: `> after` on the
            # microsecond column handed back the newest event to a client polling with its time)
            if after >= MAX_EPOCH_MS:
                qs = qs.none()
            else:
                qs = qs.filter(timestamp__gte=datetime(1970, 1, 1, tzinfo=tz.utc) + timedelta(milliseconds=after + 1))
        if torc.str_param(request, "category"):
            qs = qs.filter(category=torc.str_param(request, "category"))
        return Response(torc.paged(request, qs, seed_key="events", to_dict=event_dict))

    @extend_schema(tags=[TAG], operation_id="torc_create_event", request=EventIn, responses={200: ANY})
    def post(self, request):
        data = valid(EventIn, request.data).validated_data
        services.workflow_for(request.user, data["workflow_id"], write=True)
        payload = data["data"] if isinstance(data["data"], dict) else {"value": data["data"]}
        event = Event.objects.create(workflow_id=data["workflow_id"], timestamp=timezone.now(),
                                     category=str(payload.get("category", "user"))[:64], data=payload)
        return Response(event_dict(event))


class EventDetailView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_event", responses={200: ANY})
    def get(self, request, event_id):
        event = services.object_in_workflow(request.user, Event.objects.all(), event_id, label="Event")
        return Response(event_dict(event))


# SECTION service


class PingView(TorcView):
    """Torc's health probe (runners poll it while the database recovers), public like /health."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(tags=[TAG], operation_id="torc_ping", responses={200: ANY})
    def get(self, request):
        return Response({"status": "ok"})


class VersionView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_version", responses={200: ANY})
    def get(self, request):
        return Response({"version": VERSION, "api_version": API_VERSION, "git_hash": None,
                         "server": "drover"})


class WorkflowSpecView(TorcView):
    """A whole workflow (requirements, files, user data, jobs by name) in one request."""

    parser_classes = [torc.BulkJSONParser]  # as bulk_jobs: more than Django's 2.5 MB body cap

    @extend_schema(tags=[TAG], operation_id="torc_create_workflow_from_spec", request=ANY, responses={200: ANY})
    def post(self, request):
        workflow, job_ids = workflow_from_spec(owner=request.user, spec=request.data)
        return Response({**workflow_dict(workflow, request), "job_ids": job_ids})
