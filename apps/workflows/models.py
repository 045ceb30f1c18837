"""Workflows (Torc; EWMS later), their resource requirements and their event log."""

from django.conf import settings
from django.db import models


class Workflow(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="workflows")
    group = models.ForeignKey("groups.Group", on_delete=models.PROTECT, related_name="workflows")
    name = models.CharField(max_length=255)
    # Torc's free-text "user" field; defaults to the owner's username.
    user = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    run_id = models.PositiveIntegerField(default=0)  # Torc starts at 0; a reinitializing runner bumps it
    is_canceled = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False)
    # Set by initialize_jobs: jobs added later are initialized as they are created.
    initialized = models.BooleanField(default=False)
    # Dialect settings Drover stores and echoes but does not act on (Torc's compute_node_* etc.).
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "drover_workflow"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"


class ResourceRequirements(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="resource_requirements")
    name = models.CharField(max_length=255)
    num_cpus = models.PositiveIntegerField(default=1)
    num_gpus = models.PositiveIntegerField(default=0)
    num_nodes = models.PositiveIntegerField(default=1)
    memory_bytes = models.BigIntegerField(default=1024**2)
    runtime_s = models.BigIntegerField(default=60)
    # The strings as the client sent them ("128g", "PT8H"), returned unchanged.
    memory = models.CharField(max_length=32, default="1m")
    runtime = models.CharField(max_length=32, default="P0DT1M")

    class Meta:
        db_table = "drover_resource_requirements"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="events", null=True)
    timestamp = models.DateTimeField(db_index=True)
    category = models.CharField(max_length=64)
    data = models.JSONField(default=dict)

    class Meta:
        db_table = "drover_event"
        indexes = [models.Index(fields=["workflow", "-id"], name="event_workflow_newest")]

    def __str__(self) -> str:
        return f"{self.category} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"
