"""The one job state machine. Torc's statuses are canonical (their integers are Torc's own);
each dialect maps them to its names. Every transition in Drover is checked against TRANSITIONS.
"""

from django.db import models


class Status(models.IntegerChoices):
    UNINITIALIZED = 0, "uninitialized"
    BLOCKED = 1, "blocked"
    READY = 2, "ready"
    PENDING = 3, "pending"  # claimed by a worker, not started
    RUNNING = 4, "running"
    COMPLETED = 5, "completed"
    FAILED = 6, "failed"
    CANCELED = 7, "canceled"
    TERMINATED = 8, "terminated"
    DISABLED = 9, "disabled"

    @classmethod
    def from_name(cls, name: str) -> "Status":
        for status in cls:
            if status.label == name:
                return status
        raise ValueError(name)


S = Status

# Finished: these release (or cancel) the jobs that depend on them (Torc's is_complete()).
COMPLETE = frozenset({S.COMPLETED, S.FAILED, S.CANCELED, S.TERMINATED})
# Finished without success: dependents with cancel_on_blocking_job_failure are canceled.
UNSUCCESSFUL = frozenset({S.FAILED, S.CANCELED, S.TERMINATED})
# Held by a worker.
ACTIVE = frozenset({S.PENDING, S.RUNNING})
# Not started yet: may still be edited, canceled or disabled.
WAITING = frozenset({S.UNINITIALIZED, S.BLOCKED, S.READY})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.UNINITIALIZED: frozenset({S.BLOCKED, S.READY, S.CANCELED, S.DISABLED}),
    S.BLOCKED: frozenset({S.READY, S.CANCELED, S.UNINITIALIZED, S.DISABLED}),
    # ready -> running: a runner that starts a job without claiming it (the seed's example)
    S.READY: frozenset({S.PENDING, S.RUNNING, S.BLOCKED, S.CANCELED, S.UNINITIALIZED, S.DISABLED}),
    # pending -> ready: the claim was given back (worker stopped, lease expired)
    S.PENDING: frozenset({S.RUNNING, S.READY, S.COMPLETED, S.FAILED, S.CANCELED, S.TERMINATED, S.UNINITIALIZED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.CANCELED, S.TERMINATED, S.READY, S.UNINITIALIZED}),
    S.COMPLETED: frozenset({S.UNINITIALIZED}),
    S.FAILED: frozenset({S.READY, S.UNINITIALIZED}),  # ready: retry
    S.CANCELED: frozenset({S.UNINITIALIZED}),
    S.TERMINATED: frozenset({S.READY, S.UNINITIALIZED}),
    S.DISABLED: frozenset({S.UNINITIALIZED}),
}


def allowed_sources(target: Status) -> frozenset[Status]:
    return frozenset(source for source, targets in TRANSITIONS.items() if target in targets)


def names(statuses) -> str:
    return ", ".join(sorted(Status(s).label for s in statuses)) or "none"


REPORT_KEY = "mitosis_report"  # in Job.spec: a worker's "Finish" or "Cancel" until it commits

# Mitosis' task states (TaskState): Pending waits on a watched task, Running is held by a worker.
# A worker's Finish/Cancel report is visible at once; its Commit then ends the job.
MITOSIS_STATE = {
    S.UNINITIALIZED: "Pending", S.BLOCKED: "Pending", S.READY: "Ready", S.PENDING: "Running",
    S.RUNNING: "Running", S.COMPLETED: "Finished", S.FAILED: "Finished", S.TERMINATED: "Finished",
    S.CANCELED: "Cancelled", S.DISABLED: "Unknown",
}


def mitosis_state(status: int, reported: str | None = None) -> str:
    if status in ACTIVE and reported:
        return "Finished" if reported == "Finish" else "Cancelled"
    return MITOSIS_STATE[Status(status)]
