"""The one unit of work: Torc jobs, Mitosis tasks, Batches jobs and Infernet jobs are all Job."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from .states import Status


class Job(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Foreign keys without their own index where a composite or partial index below serves the
    # reads: every index is rewritten on each claim and transition (status changes are never HOT).
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs",
                              db_index=False)
    group = models.ForeignKey("groups.Group", on_delete=models.PROTECT, related_name="jobs", db_index=False)
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="jobs", null=True,
                                 blank=True, db_index=False)
    name = models.CharField(max_length=255, blank=True, default="")
    command = models.TextField(blank=True, default="")
    invocation_script = models.TextField(blank=True, null=True)
    args = models.JSONField(default=list, blank=True)
    env = models.JSONField(default=dict, blank=True)
    image = models.CharField(max_length=512, blank=True, default="")
    # Dialect-specific extras (Infernet containers, Mitosis task_spec, ...).
    spec = models.JSONField(default=dict, blank=True)
    resource_requirements = models.ForeignKey("workflows.ResourceRequirements", on_delete=models.SET_NULL,
                                              related_name="jobs", null=True, blank=True, db_index=False)
    priority = models.IntegerField(default=0)
    timeout_s = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=list, blank=True)
    # "" = taken by external workers (HTTP); "celery" = run by Drover's built-in Celery pool.
    queue = models.CharField(max_length=64, blank=True, default="")

    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.UNINITIALIZED)
    attempt = models.PositiveIntegerField(default=1)
    max_attempts = models.PositiveIntegerField(default=3)  # runs before a lost or failed job stays failed
    # Dependencies not yet complete; unblocking decrements it in set-based UPDATEs.
    unfinished_deps = models.PositiveIntegerField(default=0)
    cancel_on_blocking_job_failure = models.BooleanField(default=True)
    supports_termination = models.BooleanField(default=False)

    # Who holds it: a worker or compute node (runners), until lease_expires_at.
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    compute_node = models.ForeignKey("workers.ComputeNode", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="jobs", db_index=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    input_hash = models.CharField(max_length=64, blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "drover_job"
        ordering = ["id"]
        indexes = [
            # The claim queue: only ready jobs are in it, in claim order.
            models.Index(fields=["workflow", "-priority", "id"], condition=Q(status=Status.READY),
                         name="job_ready_by_workflow"),
            models.Index(fields=["group", "-priority", "id"], condition=Q(status=Status.READY),
                         name="job_ready_by_group"),
            models.Index(fields=["queue", "-priority", "id"], condition=Q(status=Status.READY) & ~Q(queue=""),
                         name="job_ready_by_queue"),
            models.Index(fields=["workflow", "status"], name="job_workflow_status"),
            models.Index(fields=["group", "status"], name="job_group_status"),
            # Mitosis task listings (/tasks/query): a group's tasks in id order, pages without a
            # sort. Partial: workflow jobs (Torc) are not in it and never pay for its upkeep.
            models.Index(fields=["group", "id"], condition=Q(workflow__isnull=True), name="job_task_by_group"),
            models.Index(fields=["lease_expires_at"], condition=Q(lease_expires_at__isnull=False),
                         name="job_leased"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.uuid} (#{self.pk})"

    @property
    def status_name(self) -> str:
        return Status(self.status).label


class JobDependency(models.Model):
    """job depends on depends_on. implicit: derived from files/user data at initialization.
    watch: a Mitosis watch, the TaskExecState name depends_on must reach (NULL on Torc edges);
    services.watch decides from how depends_on ended whether the job is released or canceled."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dependency_edges")
    depends_on = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dependent_edges")
    implicit = models.BooleanField(default=False)
    # NULL rather than "" so that the partial index below is matched by "watch IS NOT NULL".
    watch = models.CharField(max_length=32, null=True, blank=True)

    class Meta:
        db_table = "drover_job_dependency"
        constraints = [models.UniqueConstraint(fields=["job", "depends_on"], name="job_dependency_unique")]
        indexes = [
            models.Index(fields=["depends_on", "job"], name="job_dependency_reverse"),
            # Every completion looks for watches on the finished jobs: Torc edges never enter it.
            models.Index(fields=["depends_on"], condition=Q(watch__isnull=False), name="job_dependency_watch"),
        ]


class Result(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="results")
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="results", null=True)
    run_id = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=1)
    compute_node = models.ForeignKey("workers.ComputeNode", on_delete=models.SET_NULL, null=True, blank=True)
    return_code = models.IntegerField()
    status = models.PositiveSmallIntegerField(choices=Status.choices)
    exec_time_minutes = models.FloatField(default=0)
    completion_time = models.DateTimeField()
    stdout = models.TextField(blank=True, default="")
    stderr = models.TextField(blank=True, default="")
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    avg_memory_bytes = models.BigIntegerField(null=True, blank=True)
    peak_cpu_percent = models.FloatField(null=True, blank=True)
    avg_cpu_percent = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "drover_result"
        ordering = ["id"]
        indexes = [models.Index(fields=["workflow", "job"], name="result_workflow_job")]
