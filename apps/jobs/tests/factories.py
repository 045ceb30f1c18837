from apps.files.models import File
from apps.jobs import services
from apps.jobs.models import Job
from apps.workflows.services import workflow_create


def workflow(owner, name="wf"):
    return workflow_create(owner=owner, name=name)


def jobs(wf, owner, specs: dict[str, dict]) -> dict[str, int]:
    """specs: name -> {"after": [names], **job fields}; returns name -> id, created in order."""
    ids: dict[str, int] = {}
    for name, spec in specs.items():
        spec = dict(spec)
        after = spec.pop("after", [])
        ids[name] = services.job_create(workflow=wf, owner=owner,
                                        data={"name": name, "command": spec.pop("command", "true"),
                                              "depends_on_job_ids": [ids[a] for a in after], **spec})
    return ids


def statuses(ids: dict[str, int]) -> dict[str, str]:
    by_id = dict(Job.objects.filter(pk__in=ids.values()).values_list("pk", "status"))
    from apps.jobs.states import Status

    return {name: Status(by_id[pk]).label for name, pk in ids.items()}


def file(wf, name, path):
    return File.objects.create(workflow=wf, name=name, path=str(path))
