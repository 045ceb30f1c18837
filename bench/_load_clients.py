"""The clients of the load test (python -m bench.load): threads inside processes started with
'spawn' that import no Django, each thread one client with one keep-alive connection
(bench._load_http.Client). Roles, per dialect: submitters, workers (claim and report) and
readers; each runs its loop until the run tells it to stop."""

import queue
import random
import threading
import time

from ._clients import PREFIX, now_iso
from ._load_http import Client, Failed, Record, Shared

TICKETS = 2  # Torc workers serving one workflow at once (claims race each other)
ROUNDS_PER_TICKET = 4  # claims a Torc worker makes on one workflow before passing it on
HEARTBEAT_S = 10.0  # Mitosis workers; well inside DROVER_WORKER_TIMEOUT (600 s)
IDLE_S = 0.03  # a worker with nothing to claim waits this long
THINK_S = 0.1  # readers pause up to this long between rounds (a dashboard, not a flood)


# SECTION Torc (/torc-service/v1, X-API-Key)


def torc_submitter(c: Client, rng: random.Random, index: int) -> None:
    """A round: create a workflow, bulk_jobs its parents, bulk_jobs its children (each depends
    on one or two parents), initialize_jobs; then hand the workflow to TICKETS workers."""
    shared, serial = c.shared, 0
    while not shared.stop_submit.is_set():
        if not shared.room("torc"):
            time.sleep(IDLE_S)
            continue
        serial += 1
        try:
            wf = c.call("torc create_workflow", "POST", "/workflows",
                        {"name": f"load-{index}-{serial}", "description": "bench.load"})[1]["id"]
            parents = [{"workflow_id": wf, "name": f"p{i}", "command": "true"} for i in range(rng.randint(5, 30))]
            made = c.call("torc bulk_jobs", "POST", "/bulk_jobs", {"jobs": parents})[1]["jobs"]
            parent_ids = [job["id"] for job in made]
            c.record.keep("torc_submitted", parent_ids)
            children = [{"workflow_id": wf, "name": f"c{i}", "command": "true",
                         "depends_on_job_ids": sorted(set(rng.sample(parent_ids, rng.randint(1, 2))))}
                        for i in range(rng.randint(0, len(parent_ids)))]
            if children:
                made = c.call("torc bulk_jobs", "POST", "/bulk_jobs", {"jobs": children})[1]["jobs"]
                c.record.keep("torc_submitted", [job["id"] for job in made])
            summary = c.call("torc initialize_jobs", "POST", f"/workflows/{wf}/initialize_jobs",
                             {"reinitialize": False, "ignore_missing_data": False})[1]
            if (summary.get("ready"), summary.get("blocked")) != (len(parents), len(children)):
                c.failed("torc initialize_jobs", "unexpected", 200,
                         f"workflow {wf}: {summary} for {len(parents)} parents, {len(children)} children")
        except Failed:
            time.sleep(IDLE_S)
            continue
        shared.add("torc_submitted", len(parents) + len(children))
        for _ in range(TICKETS):
            shared.torc_tickets.put(wf)


def _result(job_id: int, wf: int, run_id: int, node: int) -> dict:
    return {"job_id": job_id, "workflow_id": wf, "run_id": run_id, "compute_node_id": node, "return_code": 0,
            "status": "completed", "exec_time_minutes": 0.0, "completion_time": now_iso()}


def _torc_report(c: Client, rng: random.Random, wf: int, run_id: int, node: int, jobs: list[dict]) -> None:
    """Half the claims: start_job then complete_job for each job; the other half: one
    batch_complete_jobs (as run_worker reports jobs that end at once)."""
    ids = [job["id"] for job in jobs]
    if rng.random() < 0.5:
        for job_id in ids:
            c.call("torc start_job", "PUT", f"/jobs/{job_id}/start_job/{run_id}/{node}")
            body = c.call("torc complete_job", "POST", f"/jobs/{job_id}/complete_job/completed/{run_id}",
                          _result(job_id, wf, run_id, node))[1]
            if body.get("status") != "completed":
                c.failed("torc complete_job", "unexpected", 200, f"job {job_id} is {body.get('status')} after it")
            c.record.keep("torc_completed", [job_id])
            c.shared.add("torc_finished")
        return
    completions = [{"job_id": job_id, "run_id": run_id, "status": "completed",
                    "result": _result(job_id, wf, run_id, node)} for job_id in ids]
    answer = c.call("torc batch_complete_jobs", "POST", f"/workflows/{wf}/batch_complete_jobs",
                    {"completions": completions})[1]
    done = [job_id for job_id in answer["completed"] if job_id in set(ids)]
    c.record.keep("torc_completed", done)
    c.shared.add("torc_finished", len(done))
    if answer["errors"] or len(done) != len(ids):
        c.failed("torc batch_complete_jobs", "unexpected", 200, f"workflow {wf}: {answer['errors'][:3]}")


def torc_worker(c: Client, rng: random.Random, index: int) -> None:
    """Takes a workflow ticket, registers a compute node for it the first time, claims with
    claim_next_jobs?num_jobs=1..10 and reports; passes the ticket on after a few claims, and
    drops it once is_complete says the workflow is done. Runs until the drain ends."""
    shared = c.shared
    seen: dict[int, tuple[int, int]] = {}  # workflow -> (run_id, compute node)
    while not shared.stop_all.is_set():
        try:
            wf = shared.torc_tickets.get(timeout=0.2)
        except queue.Empty:
            continue
        keep = True
        try:
            if wf not in seen:
                run_id = c.call("torc get_workflow", "GET", f"/workflows/{wf}",
                                headers={"X-Torc-Timestamp-Format": "string"})[1]["run_id"]
                node = c.call("torc create_compute_node", "POST", "/compute_nodes", {
                    "workflow_id": wf, "hostname": f"load-{index}", "num_cpus": 8, "memory_gb": 8.0, "num_gpus": 0,
                    "num_nodes": 1, "is_active": True, "compute_node_type": "local"})[1]["id"]
                seen[wf] = (run_id, node)
            run_id, node = seen[wf]
            for _ in range(ROUNDS_PER_TICKET):
                jobs = c.call("torc claim_next_jobs", "POST",
                              f"/workflows/{wf}/claim_next_jobs?num_jobs={rng.randint(1, 10)}")[1]["jobs"]
                if jobs:
                    c.record.keep("torc_claimed", [job["id"] for job in jobs])
                    _torc_report(c, rng, wf, run_id, node, jobs)
                    continue
                # nothing ready: done, or another worker holds the parents of what is blocked
                keep = not c.call("torc is_complete", "GET", f"/workflows/{wf}/is_complete")[1]["is_complete"]
                if keep:
                    time.sleep(IDLE_S)
                break
        except Failed:
            time.sleep(IDLE_S)
        if keep:
            shared.torc_tickets.put(wf)


def torc_reader(c: Client, rng: random.Random, index: int) -> None:
    """The newest workflows, then one of them: its status, a page of list_jobs, a count of its
    completed jobs (list_jobs?status=completed&limit=0)."""
    shared = c.shared
    while not shared.stop_submit.is_set():
        try:
            listed = c.call("torc list_workflows", "GET", "/workflows?reverse_sort=true&limit=20")[1]["items"]
            if listed:
                wf = rng.choice(listed)["id"]
                c.call("torc workflow_status", "GET", f"/workflows/{wf}/status")
                c.call("torc list_jobs", "GET", f"/jobs?workflow_id={wf}&offset=0&limit=50")
                c.call("torc count_jobs", "GET", f"/jobs?workflow_id={wf}&status=completed&limit=0")
        except Failed:
            pass
        time.sleep(rng.random() * THINK_S)


# SECTION Mitosis (root paths, bearer tokens)


def _task(group: str, rng: random.Random) -> dict:
    return {"group_name": group, "tags": [], "labels": ["load"], "timeout": "10m", "priority": rng.randint(0, 3),
            "task_spec": {"args": ["true"], "envs": {}, "resources": [], "terminal_output": False, "watch": None}}


def mitosis_submitter(c: Client, rng: random.Random, index: int, groups: list[str]) -> None:
    """Alternately POST /tasks (one task) and POST /tasks/submit (5-30 tasks) to one of the
    run's groups."""
    shared = c.shared
    while not shared.stop_submit.is_set():
        if not shared.room("mitosis"):
            time.sleep(IDLE_S)
            continue
        group = rng.choice(groups)
        try:
            if rng.random() < 0.5:
                uuids = [c.call("mitosis submit_task", "POST", "/tasks", _task(group, rng))[1]["uuid"]]
            else:
                tasks = [_task(group, rng) for _ in range(rng.randint(5, 30))]
                results = c.call("mitosis batch_submit", "POST", "/tasks/submit", {"tasks": tasks})[1]["results"]
                uuids = [r["Ok"]["uuid"] for r in results if "Ok" in r]
                if len(uuids) != len(tasks):
                    c.record.keep("mitosis_submitted", uuids)
                    shared.add("mitosis_submitted", len(uuids))
                    c.failed("mitosis batch_submit", "unexpected", 200,
                             f"{len(tasks) - len(uuids)} items refused: {results[:2]}")
        except Failed:
            time.sleep(IDLE_S)
            continue
        c.record.keep("mitosis_submitted", uuids)
        shared.add("mitosis_submitted", len(uuids))


def mitosis_register(c: Client, groups: list[str], index: int) -> tuple[Client, str]:
    """POST /workers with the user's token: a worker of every group of the run (role Write)."""
    answer = c.call("mitosis register_worker", "POST", "/workers",
                    {"tags": [], "labels": ["load", f"w{index}"], "groups": groups, "lifetime": None})[1]
    worker = Client(c.conn.port, c.shared, c.record, prefix="", headers={"Authorization": f"Bearer {answer['token']}"})
    return worker, answer["worker_id"]


def mitosis_worker(c: Client, rng: random.Random, index: int, worker: Client, uuid: str) -> None:
    """GET /workers/tasks (the server claims and starts a task), then report Finish and Commit
    exit status 0; a heartbeat every HEARTBEAT_S; unregisters when the drain ends."""
    shared = worker.shared
    beat = time.monotonic()
    while not shared.stop_all.is_set():
        try:
            if time.monotonic() - beat > HEARTBEAT_S:
                worker.call("mitosis heartbeat", "POST", "/workers/heartbeat")
                beat = time.monotonic()
            status, task = worker.call("mitosis fetch_task", "GET", "/workers/tasks", ok=(200, 204))
            if status == 204 or task is None:
                time.sleep(IDLE_S)
                continue
            worker.record.keep("mitosis_claimed", [[task["uuid"], uuid]])
            worker.call("mitosis report_finish", "POST", "/workers/tasks", {"id": task["id"], "op": "Finish"})
            answer = worker.call("mitosis report_commit", "POST", "/workers/tasks",
                                 {"id": task["id"], "op": {"Commit": {"exit_status": 0, "msg": None}}})[1]
            if answer not in (None, {"url": None}):
                worker.failed("mitosis report_commit", "unexpected", 200, f"unexpected Commit answer {answer!r}")
            worker.record.keep("mitosis_completed", [task["uuid"]])
            shared.add("mitosis_finished")
        except Failed:
            time.sleep(IDLE_S)
    try:
        worker.call("mitosis unregister_worker", "DELETE", "/workers")
    except Failed:
        pass


def mitosis_reader(c: Client, rng: random.Random, index: int, groups: list[str]) -> None:
    """POST /tasks/query: a page of a group's tasks, the count of its finished ones; then GET
    /tasks/{uuid} of one task of the page."""
    shared = c.shared
    while not shared.stop_submit.is_set():
        group = rng.choice(groups)
        try:
            page = c.call("mitosis query_tasks", "POST", "/tasks/query", _query(group, limit=20,
                                                                                offset=rng.randint(0, 200)))[1]
            c.call("mitosis count_tasks", "POST", "/tasks/query", _query(group, states=["Finished"], count=True))
            if page["tasks"]:
                c.call("mitosis get_task", "GET", f"/tasks/{rng.choice(page['tasks'])['uuid']}")
        except Failed:
            pass
        time.sleep(rng.random() * THINK_S)


def _query(group: str, **extra) -> dict:
    body = {"creator_usernames": None, "group_name": group, "tags": None, "labels": None, "states": None,
            "exit_status": None, "priority": None, "reporter_uuid": None, "limit": None, "offset": None,
            "count": False}
    return {**body, **extra}


# SECTION a client process: its share of the clients, one thread each

PLAYS = {"torc_submitter": torc_submitter, "torc_worker": torc_worker, "torc_reader": torc_reader,
         "mitosis_submitter": mitosis_submitter, "mitosis_worker": mitosis_worker, "mitosis_reader": mitosis_reader}
ROLES = tuple(PLAYS)


def _client_thread(role: str, index: int, port: int, creds: dict, shared: Shared, record: Record) -> None:
    rng = random.Random(index)
    torc = role.startswith("torc")
    c = Client(port, shared, record, prefix=PREFIX if torc else "",
               headers={"X-API-Key": creds["key"]} if torc else {"Authorization": f"Bearer {creds['token']}"})
    worker = None
    groups = creds["groups"]
    ready = False
    try:
        extra: tuple = ()
        if role == "mitosis_worker":
            worker, uuid = mitosis_register(c, groups, index)  # before the start: part of the warm-up
            extra = (worker, uuid)
        elif role in ("mitosis_submitter", "mitosis_reader"):
            extra = (groups,)
        shared.add("ready")
        ready = True
        if role.endswith("submitter"):
            shared.add("submitters")
        shared.go.wait()
        try:
            PLAYS[role](c, rng, index, *extra)
        finally:
            if role.endswith("submitter"):
                shared.add("submitters", -1)
    except BaseException as exc:  # noqa: BLE001 - reported to the run, which fails
        record.error = f"{role}[{index}]: {exc!r}"
        if not ready:
            shared.add("ready")  # the run does not wait for a client that cannot start
    finally:
        c.close()
        if worker is not None:
            worker.close()


def client_process(port: int, creds: dict, assigned: list[tuple[str, int]], shared: Shared, results) -> None:
    """Runs its clients as threads; reports one merged record when they have all ended."""
    records = [Record() for _ in assigned]
    threads = [threading.Thread(target=_client_thread, args=(role, index, port, creds, shared, record), daemon=True)
               for (role, index), record in zip(assigned, records, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.torc_tickets.cancel_join_thread()  # tickets left at the end need not reach anyone
    results.put({"roles": [role for role, _ in assigned], "records": [r.as_dict() for r in records]})
