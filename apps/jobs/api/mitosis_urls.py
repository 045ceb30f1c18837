"""Mitosis task routes (seed 003). Fixed segments (query, cancel, submit) come before <uuid:>."""

from django.urls import path

from . import mitosis as tasks

urlpatterns = [
    path("tasks", tasks.TasksView.as_view(), name="tasks"),
    path("tasks/submit", tasks.BatchSubmitView.as_view(), name="tasks-submit"),
    path("tasks/<uuid:uuid>", tasks.TaskDetailView.as_view(), name="task"),
]
