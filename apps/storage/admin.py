"""Console views of stored objects. Rows are changed only through the API's services (sizes are
accounted in the group's storage_used), so the console shows them read-only."""

from django.contrib import admin

from .models import Artifact, Attachment


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["key", "group", "size", "created_at", "updated_at"]
    list_select_related = ["group"]
    search_fields = ["key", "group__name"]


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyAdmin):
    list_display = ["job", "content_type", "size", "created_at", "updated_at"]
    list_select_related = ["job"]
    list_filter = ["content_type"]
    search_fields = ["job__uuid"]
