"""Which generated values name an object of the fuzz world (world.py), so harness.py can swap
them for real ids: a parameter or top-level body property by its name, and "uuid" by the path it
is in. A location generated as schema-violating is never touched: it must stay invalid, while a
real id beside it lets the server get as far as judging it (not a 404 on the path first)."""

# name -> the World.ids entry whose values may replace it (path, query and top-level body alike)
BY_NAME = {
    "group_name": "group_name",
    "username": "username",
    "key": "attachment_key",
    "content_type": "content_type",
    "workflow_id": "workflow_id",
    "job_id": "job_id",
    "file_id": "file_id",
    "user_data_id": "user_data_id",
    "rr_id": "rr_id",
    "resource_requirements_id": "rr_id",
    "node_id": "node_id",
    "compute_node_id": "compute_node_id",
    "event_id": "event_id",
    "result_id": "result_id",
    "run_id": "run_id",
    "consumer_job_id": "job_id",
    "producer_job_id": "job_id",
    "reporter_uuid": "worker_uuid",
}


def _uuid_kind(path: str) -> str:
    """A "uuid" is a worker's under /workers/{uuid} and /admin/workers/{uuid}/, else a task's
    (/tasks/..., /admin/tasks/..., /workers/tasks/{uuid}/...)."""
    if path.startswith(("/workers/{uuid}", "/admin/workers/")):
        return "worker_uuid"
    return "task_uuid"


def _list_kind(path: str) -> str:
    """"uuids" lists: workers' under /workers/..., tasks' elsewhere."""
    return "worker_uuid" if path.startswith("/workers/") else "task_uuid"


def slots(case, ids: dict, containers=("path_parameters", "query", "body")) -> list[tuple[str, str, list]]:
    """(container, name, candidates) for every value of `case` that may name a world object.
    Candidates of a list-valued slot ("uuids") are lists."""
    found = []
    path = case.operation.path
    for container in ("path_parameters", "query"):
        if container not in containers:
            continue
        values = getattr(case, container) or {}
        for name in values:
            kind = _uuid_kind(path) if name == "uuid" else BY_NAME.get(name)
            if kind in ids:
                found.append((container, name, ids[kind]))
    if "body" in containers and isinstance(case.body, dict):
        for name, value in case.body.items():
            if name == "uuids" and isinstance(value, list):
                found.append(("body", name, [ids[_list_kind(path)]]))
            elif name == "id" and path == "/workers/tasks" and "task_id" in ids:
                found.append(("body", name, ids["task_id"]))
            elif BY_NAME.get(name) in ids and not isinstance(value, (list, dict)):
                found.append(("body", name, ids[BY_NAME[name]]))
    return found


def apply(case, chosen: list[tuple[str, str, object]]):
    for container, name, value in chosen:
        if value is None:
            continue
        if container == "body":
            case.body[name] = value
        else:
            getattr(case, container)[name] = value
    return case
