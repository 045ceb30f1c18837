from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group as AuthGroup

from . import services
from .models import ApiKey, Group, Membership, User

admin.site.site_header = "Drover console"
admin.site.site_title = "Drover"
admin.site.index_title = "Operations"
# Drover's groups (with Mitosis roles) are the only groups; Django's permission groups would confuse.
admin.site.unregister(AuthGroup)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class DroverUserAdmin(UserAdmin):
    list_display = ["username", "state", "is_staff", "group_quota", "last_login", "date_joined"]
    list_filter = ["state", "is_staff", "is_superuser"]
    search_fields = ["username", "email"]
    readonly_fields = ["state", "auth_signature", "last_login", "date_joined"]
    fieldsets = UserAdmin.fieldsets[:1] + (
        ("Drover", {"fields": ("state", "group_quota", "task_quota", "auth_signature")}),
        ("Permissions", {"fields": ("is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    actions = ["lock_users", "activate_users"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            services.personal_group_ensure(obj)

    @admin.action(description="Lock selected users (their tokens stop working)")
    def lock_users(self, request, queryset):
        for username in queryset.values_list("username", flat=True):
            services.user_set_state(username=username, state="Locked")

    @admin.action(description="Activate selected users")
    def activate_users(self, request, queryset):
        for username in queryset.values_list("username", flat=True):
            services.user_set_state(username=username, state="Active")


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["name", "creator", "state", "storage_quota", "storage_used", "created_at"]
    list_filter = ["state"]
    search_fields = ["name", "creator__username"]
    list_select_related = ["creator"]
    autocomplete_fields = ["creator"]
    readonly_fields = ["storage_used", "created_at", "updated_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "group", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "group__name"]
    list_select_related = ["user", "group"]
    autocomplete_fields = ["user", "group"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        row, key = services.api_key_create(user=obj.user, name=obj.name)
        obj.pk, obj.prefix, obj.key_hash = row.pk, row.prefix, row.key_hash
        messages.warning(request, f"New API key (shown once, store it now): {key}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key_id in queryset.values_list("pk", flat=True):
            services.api_key_revoke(key_id=key_id)
