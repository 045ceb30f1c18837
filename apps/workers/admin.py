"""Operator console for compute nodes, Mitosis workers and the Mitosis coordinator switch.
Shutdown actions call the same service as the API (apps.workers.mitosis.workers_shutdown)."""

from django.contrib import admin

from . import mitosis
from .models import ComputeNode, Coordinator, GroupWorker, Worker


@admin.register(ComputeNode)
class ComputeNodeAdmin(admin.ModelAdmin):
    list_display = ["id", "hostname", "workflow", "is_active", "num_cpus", "num_gpus", "memory", "last_seen_at"]
    list_filter = ["is_active", "compute_node_type"]
    search_fields = ["hostname"]
    raw_id_fields = ["workflow"]


class GroupWorkerInline(admin.TabularInline):
    model = GroupWorker
    raw_id_fields = ["group"]
    extra = 0


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["uuid", "creator", "state", "tags", "labels", "last_heartbeat", "created_at"]
    list_filter = ["state"]
    search_fields = ["uuid", "creator__username"]
    list_select_related = ["creator"]
    raw_id_fields = ["creator"]
    readonly_fields = ["uuid", "state", "last_heartbeat", "created_at", "updated_at"]
    inlines = [GroupWorkerInline]
    actions = ["shutdown_graceful", "shutdown_force"]

    def _shutdown(self, request, queryset, force: bool):
        count = mitosis.workers_shutdown(worker_ids=list(queryset.values_list("pk", flat=True)), force=force,
                                         reason=f"console:{request.user.username}")
        self.message_user(request, f"Shut down {count} worker(s) ({'force' if force else 'graceful'}).")

    @admin.action(description="Shut down gracefully (finish the current task first)")
    def shutdown_graceful(self, request, queryset):
        self._shutdown(request, queryset, force=False)

    @admin.action(description="Shut down now (the task goes back to ready)")
    def shutdown_force(self, request, queryset):
        self._shutdown(request, queryset, force=True)


@admin.register(Coordinator)
class CoordinatorAdmin(admin.ModelAdmin):
    """After POST /admin/shutdown: tick "accepting workers" to let Mitosis workers register again."""

    list_display = ["__str__", "accepting_workers", "shutdown_at", "shutdown_by"]
    list_editable = ["accepting_workers"]
    list_display_links = None
    readonly_fields = ["shutdown_at", "shutdown_by"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
