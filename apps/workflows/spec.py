"""A whole workflow from one JSON spec, as Torc's spec files describe it: resource requirements,
files and user data by name, jobs naming what they depend on, read and write. One transaction."""

from django.db import transaction

from apps.core.exceptions import FieldValidationError
from apps.core.parsers import parse_iso_duration, parse_memory

from .models import ResourceRequirements
from .services import DEFAULT_REQUIREMENTS, workflow_create

JOB_NAME_LISTS = {
    "depends_on": "jobs",
    "input_files": "files",
    "output_files": "files",
    "input_user_data": "user_data",
    "output_user_data": "user_data",
}
ID_KEYS = {
    "depends_on": "depends_on_job_ids",
    "input_files": "input_file_ids",
    "output_files": "output_file_ids",
    "input_user_data": "input_user_data_ids",
    "output_user_data": "output_user_data_ids",
}
JOB_FIELDS = ("command", "invocation_script", "cancel_on_blocking_job_failure", "supports_termination", "priority")


def _named(spec: dict, key: str) -> list[dict]:
    items = spec.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FieldValidationError("must be a list of objects", field=key)
    seen = set()
    for index, item in enumerate(items):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise FieldValidationError("required, a non-empty string", field=f"{key}.{index}.name")
        if name in seen:
            raise FieldValidationError(f"duplicate name {name!r}", field=f"{key}.{index}.name")
        seen.add(name)
    return items


@transaction.atomic
def workflow_from_spec(*, owner, spec: dict):
    """Returns (workflow, {job name: id})."""
    from apps.files.models import File, UserData
    from apps.jobs.services import jobs_create

    if not isinstance(spec, dict):
        raise FieldValidationError("expected a JSON object", field="body")
    if not isinstance(spec.get("name"), str) or not spec["name"]:
        raise FieldValidationError("required, a non-empty string", field="name")
    rr_specs, file_specs = _named(spec, "resource_requirements"), _named(spec, "files")
    ud_specs, job_specs = _named(spec, "user_data"), _named(spec, "jobs")
    queue = spec.get("queue")
    if queue is not None and queue not in ("", "celery"):
        raise FieldValidationError(f"{queue!r} is not a queue; use \"celery\" for Drover's built-in pool",
                                   field="queue")
    workflow = workflow_create(owner=owner, name=spec["name"], user=spec.get("user"),
                               description=spec.get("description") or "", config={"queue": queue} if queue else None)

    requirements = {DEFAULT_REQUIREMENTS: ResourceRequirements.objects.get(workflow=workflow,
                                                                            name=DEFAULT_REQUIREMENTS).pk}
    for index, item in enumerate(rr_specs):
        if item["name"] == DEFAULT_REQUIREMENTS:
            raise FieldValidationError("'default' exists already", field=f"resource_requirements.{index}.name")
        rr = ResourceRequirements(workflow=workflow, name=item["name"])
        for key in ("num_cpus", "num_gpus", "num_nodes"):
            if item.get(key) is not None:
                if not isinstance(item[key], int) or isinstance(item[key], bool) or item[key] < 0:
                    raise FieldValidationError("must be a non-negative integer",
                                               field=f"resource_requirements.{index}.{key}")
                setattr(rr, key, item[key])
        if item.get("memory") is not None:
            rr.memory = item["memory"]
            rr.memory_bytes = parse_memory(item["memory"], field=f"resource_requirements.{index}.memory")
        if item.get("runtime") is not None:
            rr.runtime = item["runtime"]
            rr.runtime_s = parse_iso_duration(item["runtime"], field=f"resource_requirements.{index}.runtime")
        rr.save()
        requirements[rr.name] = rr.pk
    files = {f.name: f.pk for f in File.objects.bulk_create(
        File(workflow=workflow, name=item["name"], path=str(item.get("path") or item["name"]))
        for item in file_specs)}
    user_data = {u.name: u.pk for u in UserData.objects.bulk_create(
        UserData(workflow=workflow, name=item["name"], data=item.get("data"),
                 is_ephemeral=bool(item.get("is_ephemeral", False))) for item in ud_specs)}

    job_names = {item["name"] for item in job_specs}
    lookup = {"files": files, "user_data": user_data}
    items, edges = [], []
    for index, item in enumerate(job_specs):
        if not isinstance(item.get("command"), str):
            raise FieldValidationError("required, a string", field=f"jobs.{index}.command")
        job = {key: item[key] for key in JOB_FIELDS if item.get(key) is not None}
        job["name"] = item["name"]
        rr_name = item.get("resource_requirements")
        if rr_name is not None:
            if rr_name not in requirements:
                raise FieldValidationError(f"unknown resource requirements {rr_name!r}",
                                           field=f"jobs.{index}.resource_requirements")
            job["resource_requirements_id"] = requirements[rr_name]
        for key, kind in JOB_NAME_LISTS.items():
            names = item.get(key) or []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise FieldValidationError("must be a list of names", field=f"jobs.{index}.{key}")
            known = job_names if kind == "jobs" else lookup[kind]
            unknown = [n for n in names if n not in known]
            if unknown:
                raise FieldValidationError(f"unknown {kind.replace('_', ' ')}: {', '.join(unknown)}",
                                           field=f"jobs.{index}.{key}")
            if kind == "jobs":
                edges.append(names)
            else:
                job[ID_KEYS[key]] = [lookup[kind][n] for n in names]
        items.append(job)
    ids = jobs_create(workflow=workflow, owner=owner, items=items)
    by_name = dict(zip((item["name"] for item in job_specs), ids, strict=True))
    _add_edges(by_name, [(item["name"], deps) for item, deps in zip(job_specs, edges, strict=True)])
    return workflow, by_name


def _add_edges(by_name: dict[str, int], pairs: list[tuple[str, list[str]]]) -> None:
    from apps.jobs.models import JobDependency

    JobDependency.objects.bulk_create(
        [JobDependency(job_id=by_name[name], depends_on_id=by_name[dep]) for name, deps in pairs for dep in deps],
        batch_size=5000, ignore_conflicts=True)
