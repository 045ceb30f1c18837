"""The Mitosis rows of the isolation matrix (tests/security/matrix.py), and Drover's own public
routes. A group's tasks, attachments, artifacts and workers are its members' (Read reads,
Write/Admin change; worker management needs the role on the worker too); a stranger gets 404
(or 403 / Mitosis' 400 where that answer is the same for a missing object); a worker reaches
only what its groups hold."""

from .matrix import ADMIN, DENY_404, DOWNLOAD, OWN, PUBLIC, READ, WORKER, Op, deny_400, filtered, lit, md5
from .world import SHUTDOWN_SECRET

# Mitosis answers a query in a group the caller is not in with 400 "Group with name <g> not
# found or user is not in the group": the same words for a group that does not exist.
NOT_IN_GROUP = deny_400("Mitosis' answer for a group the caller is not in; the same for a missing group")


def task_body(w: dict) -> dict:
    return {"group_name": w["group"], "tags": [], "labels": [], "timeout": "10m", "priority": 0,
            "task_spec": {"args": ["true"]}}


# SECTION checks of filtered answers: alice's objects stay out of a stranger's answer


def not_in_groups(body, w):
    assert w["group"] not in body["groups"], body


def submit_refused(body, w):
    assert list(body["results"][0]) == ["Err"], body


def uuid_failed(count_key: str, uuid_key: str):
    def check(body, w):
        assert (body[count_key], body["failed_uuids"]) == (0, [w[uuid_key]]), body

    return check


def no_downloads(body, w):
    assert body["downloads"] == [], body


def no_task(body, w):
    assert body is None, body  # 204 (no body) or null: nothing of alice's group


def serves_no_foreign_group(body, w):
    from apps.workers.models import GroupWorker

    assert not GroupWorker.objects.filter(worker__uuid=body["worker_id"], group__name=w["group"]).exists()


# WorkersView serves both with authentication_classes [WorkerToken, SignedJWT], and the schema
# documents both for each method; reality: POST takes only a user's token, DELETE a worker's.

G = "/groups/{group_name}"
WORKER_ID = {"uuid": "worker"}

OPS = [
    # Drover's own and Mitosis' public routes
    Op("GET", "/health", PUBLIC, stranger=OWN),
    Op("POST", "/login", PUBLIC, body={"username": "alice", "md5_password": md5("pw-alice"), "retain": True},
       stranger=OWN),
    Op("POST", "/token/", PUBLIC, body={"username": "alice", "password": "pw-alice"}, stranger=OWN),
    Op("POST", "/token/refresh/", PUBLIC, body=lambda w: {"refresh": w["refresh"]}, stranger=OWN),
    Op("GET", "/openapi.json", PUBLIC, stranger=OWN, in_schema=False),
    Op("GET", "/docs/", PUBLIC, stranger=OWN, in_schema=False),
    # users and groups
    Op("GET", "/auth", stranger=OWN),
    Op("GET", "/redis", stranger=OWN),
    Op("GET", "/users/groups", stranger=filtered(not_in_groups), reader=READ),
    Op("POST", "/users/{username}/password", params={"username": lit("alice")},
       body={"old_md5_password": md5("pw-alice"), "new_md5_password": md5("pw-new")}),
    Op("POST", "/groups", body={"group_name": "newgroup"}, stranger=OWN),
    Op("GET", G),
    Op("PUT", G + "/users", body={"relations": {"bob": "Write", "rita": "Admin"}}),
    Op("DELETE", G + "/users", query="users=rita"),
    # attachments (the keys "query" and "list" are served by the fixed routes' GET/DELETE)
    Op("POST", G + "/attachments", body={"key": "new.bin", "content_length": 1}),
    Op("GET", G + "/attachments/{key}"),
    Op("DELETE", G + "/attachments/{key}"),
    Op("GET", G + "/attachments/query", in_schema=False),
    Op("DELETE", G + "/attachments/query", in_schema=False),
    Op("POST", G + "/attachments/query", body={"count": False}, read=True),
    Op("POST", G + "/delete/attachments", body={"key": "data"}),
    Op("POST", G + "/delete/attachments/list", body=lambda w: {"keys": [w["att_key"]]}),
    Op("POST", G + "/download/attachments", body={}, read=True),
    Op("GET", G + "/download/attachments/{key}", ok=DOWNLOAD),
    Op("GET", G + "/download/attachments/list", ok=DOWNLOAD, in_schema=False),
    Op("POST", G + "/download/attachments/list", body=lambda w: {"keys": [w["att_key"]]}, read=True),
    # tasks
    Op("POST", "/tasks", body=task_body),
    Op("POST", "/tasks/submit", body=lambda w: {"tasks": [task_body(w)]}, stranger=filtered(submit_refused),
       reader=filtered(submit_refused)),
    Op("GET", "/tasks/{uuid}"),
    Op("PUT", "/tasks/{uuid}", body={"tags": None, "timeout": "30m", "priority": 5, "task_spec": None}),
    Op("DELETE", "/tasks/{uuid}"),
    Op("PUT", "/tasks/{uuid}/labels", body={"labels": ["x"]}),
    Op("POST", "/tasks/query", body=lambda w: {"group_name": w["group"], "count": False}, read=True,
       stranger=NOT_IN_GROUP),
    Op("POST", "/tasks/cancel", body=lambda w: {"group_name": w["group"]}, stranger=NOT_IN_GROUP),
    Op("POST", "/tasks/cancel/list", body=lambda w: {"uuids": [w["task_ready"]]},
       stranger=filtered(uuid_failed("cancelled_count", "task_ready")),
       reader=filtered(uuid_failed("cancelled_count", "task_ready"))),
    # artifacts
    Op("POST", "/tasks/{uuid}/artifacts", body={"content_type": "exec-log", "content_length": 1}),
    Op("DELETE", "/tasks/{uuid}/artifacts/{content_type}"),
    Op("GET", "/tasks/{uuid}/download/artifacts/{content_type}", ok=DOWNLOAD),
    Op("POST", "/tasks/download/artifacts", body=lambda w: {"group_name": w["group"], "content_type": "result"},
       read=True, stranger=NOT_IN_GROUP),
    Op("POST", "/tasks/download/artifacts/list", body=lambda w: {"uuids": [w["task_ready"]], "content_type": "result"},
       read=True, stranger=filtered(no_downloads), reader=READ),
    Op("POST", "/tasks/delete/artifacts", body=lambda w: {"group_name": w["group"], "content_type": "result"},
       stranger=NOT_IN_GROUP),
    Op("POST", "/tasks/delete/artifacts/list", body=lambda w: {"uuids": [w["task_ready"]], "content_type": "result"},
       stranger=filtered(uuid_failed("deleted_count", "task_ready")),
       reader=filtered(uuid_failed("deleted_count", "task_ready"))),
    # workers, as their users manage them
    Op("POST", "/workers", body=lambda w: {"tags": [], "labels": [], "groups": [w["group"]], "lifetime": None},
       stranger=filtered(serves_no_foreign_group, changes=True),
       reader=filtered(serves_no_foreign_group, changes=True)),
    Op("GET", "/workers/{uuid}", params=WORKER_ID),
    Op("DELETE", "/workers/{uuid}", params=WORKER_ID),
    Op("PUT", "/workers/{uuid}/tags", params=WORKER_ID, body={"tags": ["gpu"]}),
    Op("PUT", "/workers/{uuid}/labels", params=WORKER_ID, body={"labels": ["rack1"]}),
    Op("PUT", "/workers/{uuid}/groups", params=WORKER_ID, body=lambda w: {"relations": {w["group"]: "Write"}}),
    Op("DELETE", "/workers/{uuid}/groups", params=WORKER_ID, query="groups={group}"),
    Op("POST", "/workers/query", body=lambda w: {"group_name": w["group"], "count": False}, read=True),
    Op("POST", "/workers/shutdown", body=lambda w: {"group_name": w["group"], "op": "Force"}),
    Op("POST", "/workers/shutdown/list", body=lambda w: {"uuids": [w["worker"]], "op": "Force"},
       stranger=filtered(uuid_failed("shutdown_count", "worker")),
       reader=filtered(uuid_failed("shutdown_count", "worker"))),
    # the worker protocol (alice's worker may; bob's worker serves only bob's group)
    Op("DELETE", "/workers", WORKER, stranger=OWN),
    Op("POST", "/workers/heartbeat", WORKER, stranger=OWN),
    Op("GET", "/workers/tasks", WORKER, stranger=filtered(no_task)),
    Op("POST", "/workers/tasks", WORKER, body=lambda w: {"id": w["task_held_id"], "op": "Finish"}, stranger=DENY_404),
    Op("GET", "/workers/tasks/{uuid}", WORKER, stranger=DENY_404),
    Op("GET", "/workers/tasks/{uuid}/artifacts/{content_type}", WORKER, ok=DOWNLOAD, stranger=DENY_404),
    Op("GET", "/workers/tasks/{uuid}/attachments/{key}", WORKER, params={"uuid": "task_held"}, ok=DOWNLOAD,
       stranger=DENY_404),
    # admin (staff)
    Op("DELETE", "/admin/groups/{group_name}/attachments/{key}", ADMIN),
    Op("POST", "/admin/groups/{group_name}/storage-quota", ADMIN, body={"storage_quota": "+1GB"}),
    Op("POST", "/admin/shutdown", ADMIN, body={"secret": SHUTDOWN_SECRET}),
    Op("DELETE", "/admin/tasks/{uuid}/artifacts/{content_type}", ADMIN),
    Op("POST", "/admin/users", ADMIN, body={"username": "carol", "md5_password": md5("pw-carol"), "admin": False}),
    Op("DELETE", "/admin/users/{username}", ADMIN),
    Op("POST", "/admin/users/{username}/group-quota", ADMIN, body={"group_quota": "+1"}),
    Op("POST", "/admin/users/{username}/password", ADMIN, body={"new_md5_password": md5("pw-new")}),
    Op("POST", "/admin/users/{username}/state", ADMIN, body={"state": "Locked"}),
    Op("DELETE", "/admin/workers/{uuid}/", ADMIN, params=WORKER_ID),
    Op("DELETE", "/admin/workers/{uuid}", ADMIN, params=WORKER_ID, in_schema=False),
]
