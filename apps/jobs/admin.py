"""Operator console for jobs. Status is read-only here: actions call the same services as the
APIs (transition, reset, lease expiry), so the console can never skip the transition table."""

from django.contrib import admin, messages

from apps.core.exceptions import ApplicationError

from . import services
from .models import Job, JobDependency, Result
from .states import Status


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "workflow", "status", "priority", "attempt", "claimed_by", "exit_code", "created_at"]
    list_filter = ["status", "queue"]
    search_fields = ["name", "uuid", "command", "claimed_by"]
    list_select_related = ["workflow"]
    raw_id_fields = ["workflow", "owner", "group", "resource_requirements", "compute_node"]
    readonly_fields = ["uuid", "status", "attempt", "unfinished_deps", "claimed_by", "lease_expires_at", "exit_code",
                       "input_hash", "created_at", "ready_at", "started_at", "finished_at"]
    show_full_result_count = False  # counting millions of jobs on every page costs more than it tells
    actions = ["cancel", "requeue", "reset"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("spec", "env", "args")

    def _each(self, request, queryset, target: Status, verb: str):
        done, refused = 0, []
        for job_id in queryset.values_list("pk", flat=True):
            try:
                services.transition(job_id=job_id, target=target, reason=f"console:{request.user.username}")
                done += 1
            except ApplicationError as exc:
                refused.append(str(exc))
        self.message_user(request, f"{verb} {done} job(s).")
        for text in refused[:10]:
            self.message_user(request, text, level=messages.WARNING)

    @admin.action(description="Cancel selected jobs")
    def cancel(self, request, queryset):
        self._each(request, queryset, Status.CANCELED, "Canceled")

    @admin.action(description="Put selected jobs back to ready")
    def requeue(self, request, queryset):
        self._each(request, queryset, Status.READY, "Requeued")

    @admin.action(description="Reset selected jobs (and downstream) to uninitialized")
    def reset(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        count = services.reset_downstream(job_ids=ids, include_roots=True)
        self.message_user(request, f"Reset {count} job(s); initialize the workflow to place them again.")


@admin.register(JobDependency)
class JobDependencyAdmin(admin.ModelAdmin):
    list_display = ["job", "depends_on", "implicit"]
    raw_id_fields = ["job", "depends_on"]
    list_filter = ["implicit"]
    show_full_result_count = False


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "workflow", "run_id", "status", "return_code", "completion_time"]
    list_filter = ["status"]
    search_fields = ["job__name"]
    raw_id_fields = ["job", "workflow", "compute_node"]
    list_select_related = ["job", "workflow"]
    show_full_result_count = False
