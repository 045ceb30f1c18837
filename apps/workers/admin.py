from django.contrib import admin

from .models import ComputeNode


@admin.register(ComputeNode)
class ComputeNodeAdmin(admin.ModelAdmin):
    list_display = ["id", "hostname", "workflow", "is_active", "num_cpus", "num_gpus", "memory", "last_seen_at"]
    list_filter = ["is_active", "compute_node_type"]
    search_fields = ["hostname"]
    raw_id_fields = ["workflow"]
