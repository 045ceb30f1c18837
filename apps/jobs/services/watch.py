"""Mitosis watches: a task submitted with spec.watch = [uuid, TaskExecState] is created blocked
(Mitosis "Pending") on a JobDependency edge to the watched task whose `watch` holds the target
state; graph.release_dependents settles it when the watched task ends, as it settles Torc edges.

The server learns how a task ran only when it ends (the worker's Commit, or a cancel), so a
watch is decided then, with the rule a real Mitosis worker applies to a task it reads back from
the coordinator (netmito entity/state.rs, TaskState::is_reach, result present):
- watched task Finished (committed with any exit status, or failed by the server): reached for
  the targets in FINISHED_REACHES;
- Cancelled: reached for CANCELLED_REACHES[result.msg]; never without a msg.
A reached watch makes the watcher ready. Any other target can no longer be reached, so the
watcher is canceled with the result a real worker commits when its watch gives up:
{"exit_status": 0, "msg": "WatchTimeout"} (and its own watchers are settled in turn).
Consequence: targets that happen mid-run (FetchResource, ExecSpawned, ...) are honoured when the
watched task ends, not at the moment the worker passes them.
"""

import json

from django.db.models import F, Func, JSONField

from ..states import Status

TASK_EXEC_STATES = (
    "WorkerExited", "FetchResource", "FetchResourceFinished", "FetchResourceError", "FetchResourceTimeout",
    "FetchResourceNotFound", "FetchResourceForbidden", "Watch", "WatchFinished", "WatchTimeout", "ExecPending",
    "ExecSpawned", "ExecFinished", "ExecTimeout", "UploadResult", "UploadFinishedResult", "UploadCancelledResult",
    "UploadResultFinished", "UploadResultTimeout", "TaskCommitted", "Unknown",
)
TASK_RESULT_MESSAGES = (
    "FetchResourceTimeout", "ExecTimeout", "UploadResultTimeout", "ResourceNotFound", "ResourceForbidden",
    "WatchTimeout", "UserCancellation", "SubmitNewTaskFailed",
)

# Canonical statuses Mitosis shows as Finished / Cancelled once a task has ended.
FINISHED = (Status.COMPLETED, Status.FAILED, Status.TERMINATED)
CANCELLED = Status.CANCELED

FINISHED_REACHES = frozenset({
    "FetchResource", "FetchResourceFinished", "Watch", "WatchFinished", "ExecPending", "ExecSpawned",
    "ExecFinished", "UploadResult", "UploadFinishedResult", "UploadResultFinished", "TaskCommitted",
})
_AFTER_A_FAILED_RUN = frozenset({"UploadResult", "UploadCancelledResult", "UploadResultFinished", "TaskCommitted"})
CANCELLED_REACHES: dict[str, frozenset[str]] = {
    "FetchResourceTimeout": _AFTER_A_FAILED_RUN | {"FetchResourceTimeout"},
    "ExecTimeout": _AFTER_A_FAILED_RUN | {"ExecTimeout"},
    "UploadResultTimeout": _AFTER_A_FAILED_RUN | {"UploadResultTimeout"},
    "ResourceNotFound": _AFTER_A_FAILED_RUN | {"FetchResourceNotFound"},
    "ResourceForbidden": _AFTER_A_FAILED_RUN | {"FetchResourceForbidden"},
    "WatchTimeout": _AFTER_A_FAILED_RUN | {"WatchTimeout"},
    "UserCancellation": frozenset({"TaskCommitted"}),
    "SubmitNewTaskFailed": frozenset({
        "FetchResource", "FetchResourceFinished", "Watch", "WatchFinished", "ExecPending", "ExecSpawned",
        "ExecFinished", "UploadResult", "UploadResultFinished", "TaskCommitted",
    }),
}

USER_CANCELLATION = {"exit_status": 0, "msg": "UserCancellation"}
WATCH_TIMEOUT = {"exit_status": 0, "msg": "WatchTimeout"}


def reached(target: str, status: int, msg: str | None) -> bool:
    """Has a task that ended in `status` (with result msg `msg`) reached `target`?"""
    if status in FINISHED:
        return target in FINISHED_REACHES
    if status == CANCELLED:
        return target in CANCELLED_REACHES.get(msg, ())
    return False


class JSONSetKey(Func):
    """`field` with one top-level key set to a JSON value, inside the UPDATE (no read-modify-write
    of each row): jsonb_set on PostgreSQL, json_set on SQLite."""

    output_field = JSONField()

    def __init__(self, field: str, key: str, value):
        super().__init__(F(field))
        self.key, self.value_json = key, json.dumps(value)

    def as_sql(self, compiler, connection, **extra):
        field_sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"jsonb_set({field_sql}, %s::text[], %s::jsonb)", [*params, "{" + self.key + "}", self.value_json]
        return f"json_set({field_sql}, %s, json(%s))", [*params, f"$.{self.key}", self.value_json]


def with_result(result: dict) -> JSONSetKey:
    """Job.spec with the Mitosis result (what GET /tasks/{uuid} shows as info.result)."""
    return JSONSetKey("spec", "result", result)
