from django.contrib import admin

from .models import File, UserData


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "path", "workflow", "st_mtime"]
    search_fields = ["name", "path"]
    raw_id_fields = ["workflow"]


@admin.register(UserData)
class UserDataAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "workflow", "is_ephemeral"]
    list_filter = ["is_ephemeral"]
    search_fields = ["name"]
    raw_id_fields = ["workflow"]
