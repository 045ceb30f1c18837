"""Every state change of a job goes through these functions (one transaction each); the Torc,
Mitosis, Batches and Infernet APIs, the console, Celery tasks and workers all call them."""

from .batch import Completion, complete_jobs
from .claim import NodeResources, Scope, claim, claim_by_resources
from .create import job_create, job_delete, job_update, jobs_create
from .graph import find_cycle, initialize_jobs, release_dependents, reset_downstream
from .lifecycle import complete_job, record_result, retry_job, start_job
from .transitions import transition
from .workflow_ops import (
    cancel_workflow_jobs,
    initialize_workflow,
    process_changed_job_inputs,
    reset_job_status,
)

__all__ = [
    "Completion", "NodeResources", "Scope", "cancel_workflow_jobs", "claim", "claim_by_resources", "complete_job",
    "complete_jobs", "find_cycle",
    "initialize_jobs", "initialize_workflow", "job_create", "job_delete", "job_update", "jobs_create",
    "process_changed_job_inputs", "record_result", "release_dependents", "reset_downstream", "reset_job_status",
    "retry_job", "start_job", "transition",
]
