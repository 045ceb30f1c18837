"""Compute nodes (Torc) that run jobs; Mitosis workers arrive with the Mitosis issue."""

from django.db import models


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
