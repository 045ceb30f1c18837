"""Torc (seed 000) under /torc-service/v1: the seed's operations and the real server's forms
that torc-client calls."""

from django.urls import path

from apps.files.api import torc as files
from apps.jobs.api import torc as jobs
from apps.workers.api import torc as nodes
from apps.workflows.api import torc as workflows

urlpatterns = [
    path("ping", workflows.PingView.as_view(), name="ping"),
    path("version", workflows.VersionView.as_view(), name="version"),
    # workflows
    path("workflows", workflows.WorkflowListView.as_view(), name="workflows"),
    path("workflow_specifications", workflows.WorkflowSpecView.as_view(), name="workflow-specifications"),
    path("workflows/<int:workflow_id>", workflows.WorkflowDetailView.as_view(), name="workflow"),
    path("workflows/<int:workflow_id>/status", workflows.WorkflowStatusView.as_view(), name="workflow-status"),
    path("workflows/<int:workflow_id>/reset_status", workflows.ResetWorkflowStatusView.as_view(),
         name="workflow-reset-status"),
    path("workflows/<int:workflow_id>/cancel", workflows.CancelWorkflowView.as_view(), name="workflow-cancel"),
    path("workflows/<int:workflow_id>/is_complete", workflows.IsCompleteView.as_view(), name="workflow-is-complete"),
    path("workflows/<int:workflow_id>/is_uninitialized", workflows.IsUninitializedView.as_view(),
         name="workflow-is-uninitialized"),
    path("workflows/<int:workflow_id>/initialize_jobs", workflows.InitializeJobsView.as_view(),
         name="initialize-jobs"),
    path("workflows/<int:workflow_id>/batch_complete_jobs", jobs.BatchCompleteJobsView.as_view(),
         name="batch-complete-jobs"),
    path("workflows/<int:workflow_id>/claim_next_jobs", workflows.ClaimNextJobsView.as_view(),
         name="claim-next-jobs"),
    path("workflows/<int:workflow_id>/claim_jobs_based_on_resources/<int:limit>",
         workflows.ClaimByResourcesView.as_view(), name="claim-jobs-based-on-resources"),
    path("workflows/<int:workflow_id>/process_changed_job_inputs", workflows.ProcessChangedInputsView.as_view(),
         name="process-changed-job-inputs"),
    path("workflows/<int:workflow_id>/reset_job_status", workflows.ResetJobStatusView.as_view(),
         name="reset-job-status"),
    path("workflows/<int:workflow_id>/job_ids", workflows.JobIdsView.as_view(), name="job-ids"),
    path("workflows/<int:workflow_id>/required_existing_files", workflows.RequiredExistingFilesView.as_view(),
         name="required-existing-files"),
    path("workflows/<int:workflow_id>/missing_user_data", workflows.MissingUserDataView.as_view(),
         name="missing-user-data"),
    # jobs and results
    path("jobs", jobs.JobListView.as_view(), name="jobs"),
    path("bulk_jobs", jobs.BulkJobsView.as_view(), name="bulk-jobs"),
    path("jobs/<int:job_id>", jobs.JobDetailView.as_view(), name="job"),
    path("jobs/<int:job_id>/manage_status_change", jobs.ManageStatusChangeView.as_view(),
         name="manage-status-change"),
    path("jobs/<int:job_id>/manage_status_change/<str:status>/<int:run_id>",
         jobs.ManageStatusChangeRealView.as_view(), name="manage-status-change-run"),
    path("jobs/<int:job_id>/start_job/<int:run_id>/<int:compute_node_id>", jobs.StartJobView.as_view(),
         name="start-job"),
    path("jobs/<int:job_id>/complete_job/<str:status>/<int:run_id>", jobs.CompleteJobView.as_view(),
         name="complete-job"),
    path("jobs/<int:job_id>/retry/<int:run_id>", jobs.RetryJobView.as_view(), name="retry-job"),
    path("results", jobs.ResultListView.as_view(), name="results"),
    path("results/<int:result_id>", jobs.ResultDetailView.as_view(), name="result"),
    # files, user data, requirements, compute nodes, events
    path("files", files.FileListView.as_view(), name="files"),
    path("files/<int:file_id>", files.FileDetailView.as_view(), name="file"),
    path("user_data", files.UserDataListView.as_view(), name="user-data"),
    path("user_data/<int:user_data_id>", files.UserDataDetailView.as_view(), name="user-data-detail"),
    path("resource_requirements", workflows.RequirementsListView.as_view(), name="resource-requirements"),
    path("resource_requirements/<int:rr_id>", workflows.RequirementsDetailView.as_view(),
         name="resource-requirements-detail"),
    path("compute_nodes", nodes.NodeListView.as_view(), name="compute-nodes"),
    path("compute_nodes/<int:node_id>", nodes.NodeDetailView.as_view(), name="compute-node"),
    path("events", workflows.EventListView.as_view(), name="events"),
    path("events/<int:event_id>", workflows.EventDetailView.as_view(), name="event"),
]
