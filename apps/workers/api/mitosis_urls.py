"""Mitosis worker routes (seed 003). Fixed segments (tasks, heartbeat, query) come before <uuid:>."""

from django.urls import path

from . import mitosis as workers

urlpatterns = [
    path("workers", workers.WorkersView.as_view(), name="workers"),
    path("workers/heartbeat", workers.HeartbeatView.as_view(), name="worker-heartbeat"),
    path("workers/tasks", workers.WorkerTasksView.as_view(), name="worker-tasks"),
]
