"""Mitosis (seed 003) at the root paths. Later issues add workers, tasks, attachments here."""

from django.urls import path

from apps.groups.api import mitosis as groups
from apps.jobs.api import mitosis as tasks
from apps.workers.api import mitosis as workers

urlpatterns = [
    path("login", groups.LoginView.as_view(), name="login"),
    path("auth", groups.AuthView.as_view(), name="auth"),
    path("redis", groups.RedisView.as_view(), name="redis"),
    path("users/groups", groups.UserGroupsView.as_view(), name="user-groups"),
    path("users/<str:username>/password", groups.ChangePasswordView.as_view(), name="user-password"),
    path("groups", groups.GroupCreateView.as_view(), name="group-create"),
    path("groups/<str:group_name>", groups.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<str:group_name>/users", groups.GroupUsersView.as_view(), name="group-users"),
    path("workers", workers.WorkersView.as_view(), name="workers"),
    path("workers/heartbeat", workers.HeartbeatView.as_view(), name="worker-heartbeat"),
    path("workers/tasks", workers.WorkerTasksView.as_view(), name="worker-tasks"),
    path("tasks", tasks.TasksView.as_view(), name="tasks"),
    path("tasks/submit", tasks.BatchSubmitView.as_view(), name="tasks-submit"),
    path("tasks/<uuid:uuid>", tasks.TaskDetailView.as_view(), name="task"),
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
]
