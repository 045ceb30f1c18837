"""Who may do what under /torc-service/v1: authentication on every route but /ping, a workflow
seen by its owner's group (any role) and staff, changed by Write/Admin members and staff.

The route lists come from the URL resolver, so a route added to config/routes/torc.py is
covered (and must answer 401 to anonymous requests) without touching this file."""

import re

import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from apps.files.models import File, UserData
from apps.groups.models import Group
from apps.groups.services import group_set_roles
from apps.jobs.models import Job, JobDependency, Result
from apps.workers.models import ComputeNode
from apps.workflows.models import Event, ResourceRequirements, Workflow
from apps.workflows.services import workflow_create
from conftest import basic_header

pytestmark = pytest.mark.django_db
BASE = "/torc-service/v1"
PUBLIC = {"ping"}  # route names that need no authentication
HANDLERS = ("get", "post", "put", "patch", "delete")


# SECTION helpers


def torc_routes():
    """(name, route, view class) of every URL mounted under /torc-service/v1/."""
    resolver = next(p for p in get_resolver().url_patterns
                    if isinstance(p, URLResolver) and str(p.pattern) == "torc-service/v1/")
    out = []
    for pattern in resolver.url_patterns:
        assert not isinstance(pattern, URLResolver), "nested includes under /torc-service/v1 need this test updated"
        out.append((pattern.name, str(pattern.pattern), pattern.callback.view_class))
    return out


def methods_of(view_class) -> list[str]:
    return [m for m in HANDLERS if hasattr(view_class, m)]


def fill(route: str, ids: dict) -> str:
    """A concrete path: each <int:x> from ids (by parameter name), <str:status> a status name."""

    def value(match):
        converter, name = match.group(1), match.group(2)
        if converter == "str":
            return ids.get(name, "completed")
        return str(ids.get(name, 1))

    return f"{BASE}/" + re.sub(r"<(\w+):(\w+)>", value, route)


def client_for(username=None, password=None, **extra):
    c = APIClient()
    if username:
        c.credentials(HTTP_AUTHORIZATION=basic_header(username, password), HTTP_USER_AGENT="curl/8.5.0", **extra)
    return c


def error_message(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message"}, body
    return body["error"]["message"]


def db_state() -> dict:
    models = (Workflow, Job, JobDependency, Result, File, UserData, ResourceRequirements, ComputeNode, Event)
    return {"counts": {m.__name__: m.objects.count() for m in models},
            "jobs": sorted(Job.objects.values_list("pk", "status", "name", "command", "attempt")),
            "workflows": sorted(Workflow.objects.values_list("pk", "name", "run_id", "is_canceled", "config")),
            "files": sorted(File.objects.values_list("pk", "name", "path")),
            "user_data": sorted(UserData.objects.values_list("pk", "name")),
            "requirements": sorted(ResourceRequirements.objects.values_list("pk", "name", "num_cpus")),
            "nodes": sorted(ComputeNode.objects.values_list("pk", "hostname", "is_active"))}


def ok(response):
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def alice_client(alice):
    return client_for("alice", "pw-alice")


@pytest.fixture
def bob_client(bob):
    return client_for("bob", "pw-bob")


@pytest.fixture
def root_client(root):
    return client_for("root", "pw-root")


@pytest.fixture
def world(alice_client):
    """Alice's workflow with one of everything; the ids are named as the routes' parameters."""
    c = alice_client
    wid = ok(c.post(f"{BASE}/workflows", {"name": "alice-wf"}, format="json"))["id"]
    rr = ok(c.post(f"{BASE}/resource_requirements", {"workflow_id": wid, "name": "small", "num_cpus": 1},
                   format="json"))["id"]
    f = ok(c.post(f"{BASE}/files", {"workflow_id": wid, "name": "f", "path": "/tmp/f"}, format="json"))["id"]
    ud = ok(c.post(f"{BASE}/user_data", {"workflow_id": wid, "name": "u", "data": {"a": 1}}, format="json"))["id"]
    job = ok(c.post(f"{BASE}/jobs", {"workflow_id": wid, "name": "j", "command": "true",
                                     "input_file_ids": [f]}, format="json"))["id"]
    node = ok(c.post(f"{BASE}/compute_nodes", {"workflow_id": wid, "hostname": "n", "num_cpus": 2},
                     format="json"))["id"]
    result = ok(c.post(f"{BASE}/results", {"workflow_id": wid, "job_id": job, "return_code": 0},
                       format="json"))["id"]
    event = Event.objects.filter(workflow_id=wid).order_by("id").first().pk
    return {"workflow_id": wid, "job_id": job, "file_id": f, "user_data_id": ud, "rr_id": rr,
            "compute_node_id": node, "node_id": node, "result_id": result, "event_id": event, "run_id": 0,
            "limit": 3, "status": "completed"}


def bodies(ids: dict) -> dict:
    """A valid body for each write route (by route name), so that only access decides."""
    wid = ids["workflow_id"]
    return {
        "workflows": {"name": "new"},
        "workflow": {"name": "renamed"},
        "workflow-status": {"run_id": 1},
        "initialize-jobs": {"ignore_missing_data": True},
        "claim-jobs-based-on-resources": {"num_cpus": 4, "memory_gb": 4, "num_gpus": 0, "num_nodes": 1},
        "jobs": {"workflow_id": wid, "name": "new", "command": "true"},
        "bulk-jobs": {"jobs": [{"workflow_id": wid, "name": "new", "command": "true"}]},
        "job": {"name": "renamed", "command": "false"},
        "manage-status-change": {"target_status": "ready"},
        "complete-job": {"workflow_id": wid, "job_id": ids["job_id"], "return_code": 0},
        "results": {"workflow_id": wid, "job_id": ids["job_id"], "return_code": 0},
        "files": {"workflow_id": wid, "name": "g", "path": "/tmp/g"},
        "file": {"workflow_id": wid, "name": "g", "path": "/tmp/g"},
        "user-data": {"workflow_id": wid, "name": "v"},
        "user-data-detail": {"workflow_id": wid, "name": "v"},
        "resource-requirements": {"workflow_id": wid, "name": "big", "num_cpus": 8},
        "resource-requirements-detail": {"workflow_id": wid, "name": "big", "num_cpus": 8},
        "compute-nodes": {"workflow_id": wid, "hostname": "m"},
        "compute-node": {"workflow_id": wid, "hostname": "m"},
        "events": {"workflow_id": wid, "data": {"x": 1}},
        "workflow-specifications": {"name": "spec", "jobs": [{"name": "s", "command": "true"}]},
    }


def with_query(name: str, url: str, ids: dict, method: str) -> str:
    """List routes read the workflow from the query string."""
    if method == "get" and name in ("jobs", "files", "user-data", "resource-requirements", "compute-nodes",
                                    "results", "events"):
        return f"{url}?workflow_id={ids['workflow_id']}"
    return url


def requests_on_alices_objects(ids):
    """Every (route name, method, url, body) that reads or changes something of alice's."""
    out = []
    own = {("workflows", "get"), ("workflows", "post"), ("workflow-specifications", "post"), ("ping", "get"),
           ("version", "get")}
    for name, route, view in torc_routes():
        for method in methods_of(view):
            if (name, method) in own:
                continue
            url = with_query(name, fill(route, ids), ids, method)
            out.append((name, method, url, bodies(ids).get(name)))
    return out


# SECTION anonymous


def test_the_route_list_is_the_torc_routes_module():
    from config.routes import torc

    assert [name for name, _, _ in torc_routes()] == [p.name for p in torc.urlpatterns]
    assert len(torc_routes()) >= 38
    assert {name for name, _, view in torc_routes() if not methods_of(view)} == set()


@pytest.mark.parametrize("credentials", [None, ("alice", "wrong"), ("nobody", "pw")])
def test_every_route_but_ping_needs_authentication(world, unchanged_db, credentials):
    client = client_for(*credentials) if credentials else APIClient()
    checked = 0
    with unchanged_db():
        for name, route, view in torc_routes():
            for method in methods_of(view):
                url = fill(route, world)
                response = getattr(client, method)(url, bodies(world).get(name) or {}, format="json")
                if name in PUBLIC:
                    assert response.status_code == 200, (method, url)
                    continue
                message = error_message(response, 401)
                assert response.has_header("WWW-Authenticate"), (method, url)
                assert "credentials" in message.lower() or "invalid" in message.lower(), message
                checked += 1
    assert checked == sum(len(methods_of(v)) for n, _, v in torc_routes() if n not in PUBLIC) >= 55


def test_ping_is_public_and_version_is_not():
    assert APIClient().get(f"{BASE}/ping").json() == {"status": "ok"}
    error_message(APIClient().get(f"{BASE}/version"), 401)


@pytest.fixture
def unchanged_db():
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = db_state()
        yield
        assert db_state() == before

    return check


# SECTION other users


def test_workflows_belong_to_the_owners_personal_group(alice, alice_client, world):
    wf = Workflow.objects.get(pk=world["workflow_id"])
    assert wf.owner == alice and wf.group == Group.objects.get(name="alice")
    assert Job.objects.get(pk=world["job_id"]).group_id == wf.group_id
    spec = ok(alice_client.post(f"{BASE}/workflow_specifications",
                                {"name": "s", "jobs": [{"name": "x", "command": "true"}]}, format="json"))
    assert Workflow.objects.get(pk=spec["id"]).group.name == "alice"
    assert set(Job.objects.filter(workflow_id=spec["id"]).values_list("group__name", flat=True)) == {"alice"}
    direct = workflow_create(owner=alice, name="direct")
    assert direct.group.name == "alice" and direct.user == "alice"


def test_a_stranger_sees_empty_lists(bob_client, world):
    for query in ("", "?name=alice-wf", "?user=alice", "?offset=0&limit=10"):
        page = ok(bob_client.get(f"{BASE}/workflows{query}"))
        assert (page["items"], page["workflows"], page["total_count"], page["count"]) == ([], [], 0, 0)


def test_a_stranger_gets_404_everywhere_and_changes_nothing(bob, bob_client, world, unchanged_db):
    requests = requests_on_alices_objects(world)
    assert len(requests) >= 50
    with unchanged_db():
        for name, method, url, body in requests:
            response = getattr(bob_client, method)(url, body or {}, format="json")
            message = error_message(response, 404)
            assert "not found" in message.lower(), (method, url, message)


@pytest.mark.parametrize("path,key,message", [
    ("workflows/{}", "workflow_id", "Workflow not found with ID: {}"),
    ("jobs/{}", "job_id", "Job not found with ID: {}"),
    ("files/{}", "file_id", "File not found with ID: {}"),
    ("user_data/{}", "user_data_id", "User data not found with ID: {}"),
    ("resource_requirements/{}", "rr_id", "Resource requirements not found with ID: {}"),
    ("compute_nodes/{}", "node_id", "Compute node not found with ID: {}"),
    ("results/{}", "result_id", "Result not found with ID: {}"),
    ("events/{}", "event_id", "Event not found with ID: {}"),
])
def test_a_strangers_404_does_not_tell_that_the_object_exists(bob_client, world, path, key, message):
    """The same answer as for an id that does not exist (it used to name the workflow)."""
    existing = bob_client.get(f"{BASE}/{path.format(world[key])}")
    missing = bob_client.get(f"{BASE}/{path.format(world[key] + 1000)}")
    assert error_message(existing, 404) == message.format(world[key])
    assert error_message(missing, 404) == message.format(world[key] + 1000)
    deleted = bob_client.delete(f"{BASE}/{path.format(world[key])}")
    if deleted.status_code != 405:
        assert error_message(deleted, 404) == message.format(world[key])


def test_a_stranger_cannot_reference_alices_objects_from_his_workflow(bob_client, world, unchanged_db):
    mine = ok(bob_client.post(f"{BASE}/workflows", {"name": "bob-wf"}, format="json"))["id"]
    with unchanged_db():
        for field, value in (("depends_on_job_ids", [world["job_id"]]), ("input_file_ids", [world["file_id"]]),
                             ("output_user_data_ids", [world["user_data_id"]]),
                             ("resource_requirements_id", world["rr_id"])):
            r = bob_client.post(f"{BASE}/jobs", {"workflow_id": mine, "name": "x", "command": "true", field: value},
                                format="json")
            assert f"{field}: " in error_message(r, 400)
        r = bob_client.post(f"{BASE}/results", {"workflow_id": mine, "job_id": world["job_id"], "return_code": 0},
                            format="json")
        assert "job_id: " in error_message(r, 400)


# SECTION group roles


def reads_on_alices_objects(ids):
    return [r for r in requests_on_alices_objects(ids) if r[1] == "get"]


def writes_on_alices_objects(ids):
    return [r for r in requests_on_alices_objects(ids) if r[1] != "get"]


def test_read_member_can_read_everything(alice, bob, bob_client, world):
    group_set_roles(actor=alice, group_name="alice", relations={"bob": "Read"})
    page = ok(bob_client.get(f"{BASE}/workflows"))
    assert [w["id"] for w in page["items"]] == [world["workflow_id"]]
    for name, method, url, _ in reads_on_alices_objects(world):
        response = bob_client.get(url)
        assert response.status_code == 200, (url, response.content)
    assert [j["id"] for j in ok(bob_client.get(f"{BASE}/jobs?workflow_id={world['workflow_id']}"))["jobs"]] == [
        world["job_id"]]
    assert ok(bob_client.get(f"{BASE}/events?workflow_id={world['workflow_id']}"))["total_count"] == \
        Event.objects.filter(workflow_id=world["workflow_id"]).count()


def test_read_member_cannot_write(alice, bob, bob_client, world, unchanged_db):
    group_set_roles(actor=alice, group_name="alice", relations={"bob": "Read"})
    writes = writes_on_alices_objects(world)
    assert len(writes) >= 25
    with unchanged_db():
        for name, method, url, body in writes:
            response = getattr(bob_client, method)(url, body or {}, format="json")
            message = error_message(response, 403)
            assert "Write role" in message, (method, url, message)


def test_read_in_another_group_grants_nothing(alice, bob, make_user, world):
    from apps.groups.services import group_create

    make_user("carol", "pw-carol")
    group_create(creator=alice, name="lab")
    group_set_roles(actor=alice, group_name="lab", relations={"carol": "Admin"})
    carol_client = client_for("carol", "pw-carol")
    assert ok(carol_client.get(f"{BASE}/workflows"))["total_count"] == 0
    error_message(carol_client.get(f"{BASE}/jobs/{world['job_id']}"), 404)


@pytest.mark.parametrize("role", ["Write", "Admin"])
def test_write_member_can_write(alice, bob, bob_client, world, role):
    group_set_roles(actor=alice, group_name="alice", relations={"bob": role})
    wid = world["workflow_id"]
    job = ok(bob_client.post(f"{BASE}/jobs", {"workflow_id": wid, "name": "by-bob", "command": "true"},
                             format="json"))
    created = Job.objects.get(pk=job["id"])
    assert created.workflow_id == wid and created.group.name == "alice" and created.owner.username == "bob"
    ok(bob_client.put(f"{BASE}/jobs/{job['id']}", {"command": "echo changed"}, format="json"))
    assert Job.objects.get(pk=job["id"]).command == "echo changed"
    ok(bob_client.put(f"{BASE}/files/{world['file_id']}", {"workflow_id": wid, "name": "f", "path": "/tmp/g"},
                      format="json"))
    assert File.objects.get(pk=world["file_id"]).path == "/tmp/g"
    ok(bob_client.post(f"{BASE}/workflows/{wid}/initialize_jobs", {"ignore_missing_data": True}, format="json"))
    claimed = ok(bob_client.post(f"{BASE}/workflows/{wid}/claim_next_jobs?limit=10", {}, format="json"))["jobs"]
    assert sorted(j["id"] for j in claimed) == sorted([world["job_id"], job["id"]])
    ok(bob_client.delete(f"{BASE}/user_data/{world['user_data_id']}"))
    assert not UserData.objects.filter(pk=world["user_data_id"]).exists()
    ok(bob_client.put(f"{BASE}/workflows/{wid}", {"name": "renamed-by-bob"}, format="json"))
    assert Workflow.objects.get(pk=wid).name == "renamed-by-bob"


def test_role_change_takes_effect_at_once(alice, bob, bob_client, world):
    group_set_roles(actor=alice, group_name="alice", relations={"bob": "Write"})
    url = f"{BASE}/jobs/{world['job_id']}"
    ok(bob_client.put(url, {"command": "echo 1"}, format="json"))
    group_set_roles(actor=alice, group_name="alice", relations={"bob": "Read"})
    error_message(bob_client.put(url, {"command": "echo 2"}, format="json"), 403)
    assert Job.objects.get(pk=world["job_id"]).command == "echo 1"


# SECTION staff


def test_staff_sees_and_changes_everything(root, bob, bob_client, root_client, world):
    bobs = ok(bob_client.post(f"{BASE}/workflows", {"name": "bob-wf"}, format="json"))["id"]
    page = ok(root_client.get(f"{BASE}/workflows"))
    assert sorted(w["id"] for w in page["items"]) == sorted([world["workflow_id"], bobs])
    for name, method, url, _ in reads_on_alices_objects(world):
        assert root_client.get(url).status_code == 200, url
    ok(root_client.put(f"{BASE}/jobs/{world['job_id']}", {"command": "echo root"}, format="json"))
    assert Job.objects.get(pk=world["job_id"]).command == "echo root"
    ok(root_client.delete(f"{BASE}/workflows/{bobs}"))
    assert not Workflow.objects.filter(pk=bobs).exists()
    # staff's own workflows still go to staff's personal group
    mine = ok(root_client.post(f"{BASE}/workflows", {"name": "root-wf"}, format="json"))["id"]
    assert Workflow.objects.get(pk=mine).group.name == "root"
