"""Torc (seed 000) jobs and results: CRUD, bulk creation, status changes in the seed's form and
the real server's, start/complete/retry. Views translate; apps.jobs.services decides."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.core import torc
from apps.core.torc import MAX_INT32
from apps.core.exceptions import FieldValidationError, Unprocessable
from apps.core.torc import TorcView, bool_param, int_param
from apps.workers.models import ComputeNode
from apps.workflows.services import object_in_workflow, workflow_for

from .. import services
from ..services.lifecycle import check_run_id
from ..models import Job, JobDependency, Result
from ..states import COMPLETE, Status
from ..services.batch import MAX_BATCH, Completion
from .torc_input import METRICS, clean_job, clean_result, in_range, is_id, parse_status
from .torc_repr import JOB_COLUMNS, created_job_dict, job_dict, jobs_payload, one_job, relations, result_dict

TAG = "Torc"
ANY = OpenApiTypes.OBJECT
MAX_BULK = 10_000


def job_for(request, job_id, *, write: bool = False) -> Job:
    return object_in_workflow(request.user, Job.objects.select_related("workflow"), job_id, label="Job",
                              write=write)


# SECTION jobs


class JobListView(TorcView):
    @extend_schema(
        tags=[TAG], operation_id="torc_list_jobs", responses={200: ANY},
        parameters=[OpenApiParameter("workflow_id", int, required=True), OpenApiParameter("status", str),
                    OpenApiParameter("include_relationships", bool), OpenApiParameter("offset", int),
                    OpenApiParameter("limit", int), OpenApiParameter("upstream_job_id", int),
                    OpenApiParameter("needs_file_id", int), OpenApiParameter("active_compute_node_id", int)],
    )
    def get(self, request):
        workflow = workflow_for(request.user, int_param(request, "workflow_id", required=True))
        qs = Job.objects.filter(workflow=workflow).order_by("id")
        if request.query_params.get("status"):
            qs = qs.filter(status=parse_status(request.query_params["status"]))
        upstream = int_param(request, "upstream_job_id", None)
        if upstream is not None:
            qs = qs.filter(pk__in=JobDependency.objects.filter(depends_on_id=upstream).values("job_id"))
        needs_file = int_param(request, "needs_file_id", None)
        if needs_file is not None:
            qs = qs.filter(file_links__file_id=needs_file, file_links__is_output=False)
        node = int_param(request, "active_compute_node_id", None)
        if node is not None:
            qs = qs.filter(compute_node_id=node)
        include = bool_param(request, "include_relationships", False)

        def with_relations(rows):
            return relations([row["id"] for row in rows]) if include else None

        body = torc.paged(request, qs.values(*JOB_COLUMNS), seed_key="jobs", to_dict=job_dict,
                          prepare=with_relations)
        return Response(body)

    @extend_schema(tags=[TAG], operation_id="torc_create_job", request=ANY, responses={200: ANY})
    def post(self, request):
        data = clean_job(request.data)
        workflow = workflow_for(request.user, data["workflow_id"], write=True)
        job_id = services.job_create(workflow=workflow, owner=request.user, data=data)
        return Response(one_job(job_id))


class BulkJobsView(TorcView):
    parser_classes = [torc.BulkJSONParser]  # 10,000 jobs exceed Django's 2.5 MB body cap

    @extend_schema(tags=[TAG], operation_id="torc_create_jobs", request=ANY, responses={200: ANY})
    def post(self, request):
        items = request.data.get("jobs") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            raise FieldValidationError("required, a list of jobs", field="jobs")
        if len(items) > MAX_BULK:
            raise FieldValidationError(f"at most {MAX_BULK} jobs a request, got {len(items)}", field="jobs")
        if not items:
            return Response({"jobs": []})
        cleaned = [clean_job(item, where=f"jobs.{i}.") for i, item in enumerate(items)]
        workflow_ids = {item["workflow_id"] for item in cleaned}
        if len(workflow_ids) > 1:
            raise Unprocessable("all jobs of a bulk request must belong to one workflow", field="jobs.workflow_id")
        workflow = workflow_for(request.user, workflow_ids.pop(), write=True)
        ids = services.jobs_create(workflow=workflow, owner=request.user, items=cleaned)
        if workflow.initialized:  # the new jobs were placed: read their statuses back
            return Response({"jobs": jobs_payload(ids)})
        return Response({"jobs": [created_job_dict(job_id, item) for job_id, item in zip(ids, cleaned, strict=True)]})


class JobDetailView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_job", responses={200: ANY})
    def get(self, request, job_id):
        return Response(one_job(job_for(request, job_id).pk))

    @extend_schema(tags=[TAG], operation_id="torc_update_job", request=ANY, responses={200: ANY})
    def put(self, request, job_id):
        job = job_for(request, job_id, write=True)
        data = clean_job(request.data, partial=True)
        if data.get("workflow_id", job.workflow_id) != job.workflow_id:
            raise FieldValidationError("a job cannot move to another workflow", field="workflow_id")
        services.job_update(job=job, data=data)
        return Response(one_job(job.pk))

    @extend_schema(tags=[TAG], operation_id="torc_delete_job", responses={200: ANY})
    def delete(self, request, job_id):
        job = job_for(request, job_id, write=True)
        body = one_job(job.pk)
        services.job_delete(job=job)
        return Response(body)


class ManageStatusChangeView(TorcView):
    """The seed's form: POST {"target_status": "running"}."""

    @extend_schema(tags=[TAG], operation_id="torc_manage_status_change_seed", request=ANY, responses={200: ANY})
    def post(self, request, job_id):
        job = job_for(request, job_id, write=True)
        target = request.data.get("target_status") if isinstance(request.data, dict) else None
        if not isinstance(target, str):
            raise FieldValidationError("required, one of " + ", ".join(s.label for s in Status), field="target_status")
        services.transition(job_id=job.pk, target=parse_status(target, field="target_status"))
        return Response(one_job(job.pk))


class ManageStatusChangeRealView(TorcView):
    """The real server's form: PUT /jobs/{id}/manage_status_change/{status}/{run_id}; finished
    statuses go through complete_job, which records a result."""

    @extend_schema(tags=[TAG], operation_id="torc_manage_status_change", request=None, responses={200: ANY})
    def put(self, request, job_id, status, run_id):
        job = job_for(request, job_id, write=True)
        target = parse_status(status)
        if target in COMPLETE:
            raise Unprocessable(f"use complete_job to set {target.label}; it records the result", field="status")
        check_run_id(job, run_id)
        services.transition(job_id=job.pk, target=target)
        return Response(one_job(job.pk))


class StartJobView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_start_job", request=None, responses={200: ANY})
    def put(self, request, job_id, run_id, compute_node_id):
        job = job_for(request, job_id, write=True)
        if not ComputeNode.objects.filter(pk=compute_node_id, workflow_id=job.workflow_id).exists():
            raise FieldValidationError(f"compute node {compute_node_id} not found in workflow {job.workflow_id}",
                                       field="compute_node_id")
        services.start_job(job_id=job.pk, run_id=run_id, compute_node_id=compute_node_id)
        return Response(one_job(job.pk))


class CompleteJobView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_complete_job", request=ANY, responses={200: ANY})
    def post(self, request, job_id, status, run_id):
        job = job_for(request, job_id, write=True)
        target = parse_status(status)
        result = clean_result(request.data, job_id=job.pk)
        result.pop("status", None)  # the path says it
        result.pop("job_id"), result.pop("workflow_id")
        result["run_id"] = run_id
        node = result.pop("compute_node_id", None)
        if node and ComputeNode.objects.filter(pk=node, workflow_id=job.workflow_id).exists():
            result["compute_node_id"] = node
        result["metrics"] = {k: result.pop(k) for k in METRICS if k in result}  # was: a TypeError, a 500
        services.complete_job(job_id=job.pk, status=target, **result)
        return Response(one_job(job.pk))


class BatchCompleteJobsView(TorcView):
    """Torc 0.35: POST /workflows/{id}/batch_complete_jobs {"completions": [{job_id, run_id, status,
    result}]} -> {"completed": [ids], "errors": [{job_id, message}]}. A malformed entry refuses the
    request (400, nothing changed); an entry the job's state refuses is listed in "errors"."""

    parser_classes = [torc.BulkJSONParser]

    @extend_schema(tags=[TAG], operation_id="torc_batch_complete_jobs", request=ANY, responses={200: ANY})
    def post(self, request, workflow_id):
        workflow = workflow_for(request.user, workflow_id, write=True)
        items = request.data.get("completions") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            raise FieldValidationError("required, a list of completions", field="completions")
        if len(items) > MAX_BATCH:
            raise FieldValidationError(f"at most {MAX_BATCH} completions a request, got {len(items)}",
                                       field="completions")
        entries = [completion_in(item, index, workflow.pk) for index, item in enumerate(items)]
        completed, errors = services.complete_jobs(workflow=workflow, completions=entries)
        return Response({"completed": completed,
                         "errors": [{"job_id": job_id, "message": message} for job_id, message in errors]})


def completion_in(item, index: int, workflow_id: int) -> Completion:
    where = f"completions[{index}]"
    if not isinstance(item, dict):
        raise FieldValidationError("expected a JSON object", field=where)
    try:
        job_id = item.get("job_id")
        if not is_id(job_id):
            raise FieldValidationError("required, an integer id", field="job_id")
        status = parse_status(item.get("status"))
        result = clean_result(item.get("result"), job_id=job_id)
        if result["workflow_id"] != workflow_id:
            raise FieldValidationError(f"{result['workflow_id']} is not the workflow in the path ({workflow_id})",
                                       field="result.workflow_id")
        run_id = item.get("run_id", result.get("run_id"))
        if run_id is not None and not in_range(run_id, 0, MAX_INT32):
            raise FieldValidationError(f"{run_id!r} is not an integer between 0 and {MAX_INT32}", field="run_id")
    except FieldValidationError as exc:
        raise FieldValidationError(exc.message, field=f"{where}.{exc.field}") from None
    metrics = {k: result[k] for k in METRICS if k in result}
    return Completion(job_id=job_id, status=status, return_code=result["return_code"], run_id=run_id,
                      compute_node_id=result.get("compute_node_id"),
                      exec_time_minutes=result.get("exec_time_minutes", 0.0),
                      completion_time=result.get("completion_time"), stdout=result.get("stdout", ""),
                      stderr=result.get("stderr", ""), metrics=metrics)


class RetryJobView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_retry_job", request=None, responses={200: ANY})
    def post(self, request, job_id, run_id):
        job = job_for(request, job_id, write=True)
        services.retry_job(job_id=job.pk, run_id=run_id)
        return Response(one_job(job.pk))


# SECTION results


class ResultListView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_list_results", responses={200: ANY},
                   parameters=[OpenApiParameter("workflow_id", int, required=True), OpenApiParameter("job_id", int)])
    def get(self, request):
        workflow = workflow_for(request.user, int_param(request, "workflow_id", required=True))
        qs = Result.objects.filter(workflow=workflow).order_by("id")
        job_id = int_param(request, "job_id", None)
        if job_id is not None:
            qs = qs.filter(job_id=job_id)
        run_id = int_param(request, "run_id", None)
        if run_id is not None:
            qs = qs.filter(run_id=run_id)
        return Response(torc.paged(request, qs, seed_key="results", to_dict=result_dict))

    @extend_schema(tags=[TAG], operation_id="torc_create_result", request=ANY, responses={200: ANY})
    def post(self, request):
        data = clean_result(request.data)
        workflow = workflow_for(request.user, data.pop("workflow_id"), write=True)
        job = Job.objects.select_related("workflow").filter(pk=data.pop("job_id"), workflow=workflow).first()
        if job is None:
            raise FieldValidationError(f"job not found in workflow {workflow.pk}", field="job_id")
        status = data.pop("status", None)
        if status is None:
            status = Status.COMPLETED if data["return_code"] == 0 else Status.FAILED
        elif status not in COMPLETE:  # was: "uninitialized" (0, falsy) silently became completed/failed
            raise FieldValidationError(f"a result is {status.label}; use one of "
                                       + ", ".join(s.label for s in Status if s in COMPLETE), field="status")
        node = data.pop("compute_node_id", None)
        if node and ComputeNode.objects.filter(pk=node, workflow=workflow).exists():
            data["compute_node_id"] = node
        metrics = {k: data.pop(k) for k in METRICS if k in data}
        result = services.record_result(job=job, status=status, metrics=metrics, **data)
        return Response(result_dict(result))


class ResultDetailView(TorcView):
    @extend_schema(tags=[TAG], operation_id="torc_get_result", responses={200: ANY})
    def get(self, request, result_id):
        result = object_in_workflow(request.user, Result.objects.all(), result_id, label="Result")
        return Response(result_dict(result))
