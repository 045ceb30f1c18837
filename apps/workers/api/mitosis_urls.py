"""Mitosis worker routes (seed 003). Fixed segments (tasks, heartbeat, query, shutdown) never
match <uuid:>, so GET /workers/tasks and GET /workers/{uuid} cannot be confused; a malformed
uuid matches nothing and is a 404 in Mitosis' {"msg"} shape (config.urls handler404)."""

from django.urls import path

from . import mitosis as workers
from . import mitosis_manage as manage

urlpatterns = [
    path("workers", workers.WorkersView.as_view(), name="workers"),
    path("workers/heartbeat", workers.HeartbeatView.as_view(), name="worker-heartbeat"),
    path("workers/tasks", workers.WorkerTasksView.as_view(), name="worker-tasks"),
    path("workers/tasks/<uuid:uuid>", workers.WorkerTaskDetailView.as_view(), name="worker-task"),
    path("workers/query", manage.WorkersQueryView.as_view(), name="workers-query"),
    path("workers/shutdown", manage.WorkersShutdownView.as_view(), name="workers-shutdown"),
    path("workers/shutdown/list", manage.WorkersShutdownListView.as_view(), name="workers-shutdown-list"),
    path("workers/<uuid:uuid>", manage.WorkerDetailView.as_view(), name="worker"),
    path("workers/<uuid:uuid>/tags", manage.WorkerTagsView.as_view(), name="worker-tags"),
    path("workers/<uuid:uuid>/labels", manage.WorkerLabelsView.as_view(), name="worker-labels"),
    path("workers/<uuid:uuid>/groups", manage.WorkerGroupsView.as_view(), name="worker-groups"),
    # The seed's path has the trailing slash; the real Mitosis client sends none: both are served.
    path("admin/workers/<uuid:uuid>/", manage.AdminWorkerView.as_view(), name="admin-worker"),
    path("admin/workers/<uuid:uuid>", manage.AdminWorkerNoSlashView.as_view(), name="admin-worker-no-slash"),
    path("admin/shutdown", manage.AdminShutdownView.as_view(), name="admin-shutdown"),
]
