from django.contrib import admin

from apps.jobs import services as jobs

from . import services
from .models import Event, ResourceRequirements, Workflow


class RequirementsInline(admin.TabularInline):
    model = ResourceRequirements
    extra = 0
    fields = ["name", "num_cpus", "num_gpus", "num_nodes", "memory", "runtime"]
    readonly_fields = fields


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "user", "owner", "group", "run_id", "is_canceled", "is_archived", "created_at"]
    list_filter = ["is_canceled", "is_archived"]
    search_fields = ["name", "user", "owner__username", "group__name"]
    list_select_related = ["owner", "group"]
    raw_id_fields = ["owner", "group"]
    readonly_fields = ["run_id", "is_canceled", "initialized", "created_at"]
    inlines = [RequirementsInline]
    actions = ["initialize", "cancel"]

    @admin.action(description="Initialize jobs of selected workflows")
    def initialize(self, request, queryset):
        for workflow in queryset:
            summary = jobs.initialize_workflow(workflow=workflow)
            self.message_user(request, f"{workflow}: {summary['ready']} ready, {summary['blocked']} blocked")

    @admin.action(description="Cancel selected workflows")
    def cancel(self, request, queryset):
        for workflow in queryset:
            self.message_user(request, f"{workflow}: {services.workflow_cancel(workflow=workflow)} job(s) canceled")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "category", "timestamp"]
    list_filter = ["category"]
    raw_id_fields = ["workflow"]
    readonly_fields = ["workflow", "category", "timestamp", "data"]
    show_full_result_count = False
