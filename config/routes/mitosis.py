"""Mitosis (seed 003) at the root paths: users and groups here; tasks, workers and storage from
their apps. Fixed segments and ids share positions, so ids use the uuid converter."""

from django.urls import include, path

from apps.groups.api import mitosis as groups

urlpatterns = [
    path("login", groups.LoginView.as_view(), name="login"),
    path("auth", groups.AuthView.as_view(), name="auth"),
    path("redis", groups.RedisView.as_view(), name="redis"),
    path("users/groups", groups.UserGroupsView.as_view(), name="user-groups"),
    path("users/<str:username>/password", groups.ChangePasswordView.as_view(), name="user-password"),
    path("groups", groups.GroupCreateView.as_view(), name="group-create"),
    path("groups/<str:group_name>", groups.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<str:group_name>/users", groups.GroupUsersView.as_view(), name="group-users"),
    path("admin/users", groups.AdminUsersView.as_view(), name="admin-users"),
    path("admin/users/<str:username>", groups.AdminUserView.as_view(), name="admin-user"),
    path("admin/users/<str:username>/password", groups.AdminUserPasswordView.as_view(), name="admin-user-password"),
    path("admin/users/<str:username>/group-quota", groups.AdminUserGroupQuotaView.as_view(), name="admin-user-group-quota"),
    path("admin/users/<str:username>/state", groups.AdminUserStateView.as_view(), name="admin-user-state"),
    path(
        "admin/groups/<str:group_name>/storage-quota",
        groups.AdminGroupStorageQuotaView.as_view(),
        name="admin-group-storage-quota",
    ),
    path("", include("apps.jobs.api.mitosis_urls")),
    path("", include("apps.workers.api.mitosis_urls")),
    path("", include("apps.storage.urls")),
]
