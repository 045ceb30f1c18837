"""Seed a database that the test process is not connected to (a private PostgreSQL): run as
`python -m tests.faults._seed < spec.json` with DATABASE_URL set. Creates user alice with an API
key and the Torc workflow of the spec (initialized); prints {"key", "workflow_id"} as JSON."""

import json
import sys

import django

if __name__ == "__main__":
    django.setup()
    from apps.groups import services as groups
    from apps.jobs.services import initialize_workflow
    from apps.workflows.spec import workflow_from_spec

    alice = groups.user_create(username="alice", password="pw-alice")
    _, key = groups.api_key_create(user=alice)
    workflow, _ = workflow_from_spec(owner=alice, spec=json.load(sys.stdin))
    initialize_workflow(workflow=workflow)
    print(json.dumps({"key": key, "workflow_id": workflow.pk}))
