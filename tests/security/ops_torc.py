"""The Torc rows of the isolation matrix (tests/security/matrix.py): every operation under
/torc-service/v1. A workflow belongs to its owner's group: any member reads it, Write/Admin
members change it, others get the object's own 404 (never a hint that it exists)."""

from .matrix import OWN, PUBLIC, READ, Op, T, filtered, lit


def result_body(w: dict, job: str, code: int = 0) -> dict:
    return {"workflow_id": w["wid"], "job_id": w[job], "return_code": code, "exec_time_minutes": 0.5,
            "completion_time": "2025-01-01T00:00:00Z"}


def workflows_hidden(body, w):
    assert w["wid"] not in [item["id"] for item in body["items"]], body


WF = T + "/workflows/{workflow_id}"
OPS = [
    Op("GET", T + "/ping", PUBLIC, stranger=OWN),
    Op("GET", T + "/version", stranger=OWN),
    Op("GET", T + "/workflows", stranger=filtered(workflows_hidden), reader=READ),
    Op("POST", T + "/workflows", body={"name": "new"}, stranger=OWN),
    Op("POST", T + "/workflow_specifications", body={"name": "spec", "jobs": [{"name": "s", "command": "true"}]},
       stranger=OWN),
    Op("GET", WF),
    Op("PUT", WF, body={"name": "renamed"}),
    Op("DELETE", WF),
    Op("GET", WF + "/status"),
    Op("PUT", WF + "/status", body={"run_id": 1}),
    Op("POST", WF + "/reset_status"),
    Op("PUT", WF + "/cancel"),
    Op("GET", WF + "/is_complete"),
    Op("GET", WF + "/is_uninitialized"),
    Op("GET", WF + "/job_ids"),
    Op("GET", WF + "/required_existing_files"),
    Op("GET", WF + "/missing_user_data"),
    Op("POST", WF + "/initialize_jobs", body={}),
    Op("POST", WF + "/batch_complete_jobs", body=lambda w: {"completions": [
        {"job_id": w["job_running"], "run_id": 0, "status": "completed", "result": result_body(w, "job_running")}]}),
    Op("POST", WF + "/claim_next_jobs", query="limit=1"),
    Op("POST", WF + "/claim_jobs_based_on_resources/{limit}", params={"limit": lit(5)},
       body={"num_cpus": 4, "memory_gb": 4, "num_gpus": 0, "num_nodes": 1}),
    Op("POST", WF + "/process_changed_job_inputs"),
    Op("POST", WF + "/reset_job_status"),
    Op("GET", T + "/jobs", query="workflow_id={wid}"),
    Op("POST", T + "/jobs", body=lambda w: {"workflow_id": w["wid"], "name": "new", "command": "true"}),
    Op("POST", T + "/bulk_jobs", body=lambda w: {"jobs": [{"workflow_id": w["wid"], "name": "new", "command": "true"}]}),
    Op("GET", T + "/jobs/{job_id}"),
    Op("PUT", T + "/jobs/{job_id}", body={"command": "echo changed"}),
    Op("DELETE", T + "/jobs/{job_id}"),
    Op("POST", T + "/jobs/{job_id}/manage_status_change", body={"target_status": "disabled"}),
    Op("PUT", T + "/jobs/{job_id}/manage_status_change/{status}/{run_id}", params={"status": lit("disabled")}),
    Op("PUT", T + "/jobs/{job_id}/start_job/{run_id}/{compute_node_id}", params={"job_id": "job_pending"}),
    Op("POST", T + "/jobs/{job_id}/complete_job/{status}/{run_id}",
       params={"job_id": "job_running", "status": lit("completed")}, body=lambda w: result_body(w, "job_running")),
    Op("POST", T + "/jobs/{job_id}/retry/{run_id}", params={"job_id": "job_failed"}),
    Op("GET", T + "/results", query="workflow_id={wid}"),
    Op("POST", T + "/results", body=lambda w: result_body(w, "job_running")),
    Op("GET", T + "/results/{result_id}"),
    Op("GET", T + "/events", query="workflow_id={wid}"),
    Op("POST", T + "/events", body=lambda w: {"workflow_id": w["wid"], "data": {"x": 1}}),
    Op("GET", T + "/events/{event_id}"),
]
# The four resources with list/create and get/update/delete, and the body that creates one.
for _plural, _param, _body in (
        ("files", "file_id", {"name": "g", "path": "/tmp/g"}),
        ("user_data", "user_data_id", {"name": "v"}),
        ("resource_requirements", "rr_id", {"name": "big", "num_cpus": 8}),
        ("compute_nodes", "node_id", {"hostname": "m"})):
    def _with_workflow(w, _body=_body):
        return {"workflow_id": w["wid"], **_body}

    _detail = f"{T}/{_plural}/{{{_param}}}"
    OPS += [Op("GET", f"{T}/{_plural}", query="workflow_id={wid}"), Op("POST", f"{T}/{_plural}", body=_with_workflow),
            Op("GET", _detail), Op("PUT", _detail, body=_with_workflow), Op("DELETE", _detail)]
