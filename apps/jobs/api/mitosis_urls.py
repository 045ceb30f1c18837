"""Mitosis task routes (seed 003). Fixed segments (query, cancel, submit) come before <uuid:>."""

from django.urls import path

from . import mitosis as tasks
from . import mitosis_query as query

urlpatterns = [
    path("tasks", tasks.TasksView.as_view(), name="tasks"),
    path("tasks/submit", tasks.BatchSubmitView.as_view(), name="tasks-submit"),
    path("tasks/query", query.TasksQueryView.as_view(), name="tasks-query"),
    path("tasks/cancel", query.TasksCancelView.as_view(), name="tasks-cancel"),
    path("tasks/cancel/list", query.TasksCancelListView.as_view(), name="tasks-cancel-list"),
    path("tasks/<uuid:uuid>", tasks.TaskDetailView.as_view(), name="task"),
    path("tasks/<uuid:uuid>/labels", tasks.TaskLabelsView.as_view(), name="task-labels"),
]
