"""Compute nodes (Torc) and Mitosis workers: the things that run jobs."""

import uuid

from django.db import models
from django.utils import timezone

from apps.groups.choices import Role


class ComputeNode(models.Model):
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="compute_nodes")
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField(null=True, blank=True)
    start_time = models.CharField(max_length=64, blank=True, default="")
    duration_seconds = models.FloatField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    num_cpus = models.PositiveIntegerField(default=1)
    memory_bytes = models.BigIntegerField(default=0)
    memory = models.CharField(max_length=32, blank=True, default="")
    num_gpus = models.PositiveIntegerField(default=0)
    num_nodes = models.PositiveIntegerField(default=1)
    time_limit = models.CharField(max_length=32, blank=True, null=True)
    scheduler = models.JSONField(default=dict, blank=True)
    compute_node_type = models.CharField(max_length=64, blank=True, default="local")
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "drover_compute_node"
        ordering = ["id"]
        indexes = [models.Index(fields=["workflow", "is_active"], name="compute_node_active")]

    def __str__(self) -> str:
        return self.hostname


class Worker(models.Model):
    """A Mitosis worker: it serves groups (with a role) and takes tasks whose tags it has."""

    class State(models.TextChoices):
        NORMAL = "Normal"
        GRACEFUL_SHUTDOWN = "GracefulShutdown"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    creator = models.ForeignKey("groups.User", on_delete=models.CASCADE, related_name="workers")
    tags = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NORMAL)
    last_heartbeat = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "drover_worker"
        ordering = ["id"]

    def __str__(self) -> str:
        return str(self.uuid)

    @property
    def claimer(self) -> str:
        return f"worker:{self.uuid}"


class GroupWorker(models.Model):
    """A group's role on a worker (Mitosis' GroupWorkerRole): Write or Admin get the group's tasks."""

    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="worker_links")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="group_links")
    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.WRITE)

    class Meta:
        db_table = "drover_group_worker"
        constraints = [models.UniqueConstraint(fields=["group", "worker"], name="group_worker_unique")]


class Coordinator(models.Model):
    """Drover's Mitosis coordinator switch, one row (pk 1). POST /admin/shutdown turns
    accepting_workers off: Drover cannot stop its own process from a request (it serves the other
    dialects too), so a "shut down coordinator" drains the Mitosis worker side instead: every
    worker is shut down gracefully and no worker may register until an operator turns it back on
    in the console."""

    accepting_workers = models.BooleanField(default=True)
    shutdown_at = models.DateTimeField(null=True, blank=True)
    shutdown_by = models.ForeignKey("groups.User", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")

    class Meta:
        db_table = "drover_mitosis_coordinator"
        verbose_name = "Mitosis coordinator"

    def __str__(self) -> str:
        return "accepting workers" if self.accepting_workers else f"shut down since {self.shutdown_at}"
