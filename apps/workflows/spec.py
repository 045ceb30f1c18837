"""A whole workflow from one JSON spec, as Torc's spec files describe it: resource requirements,
files and user data by name, jobs naming what they depend on, read and write. One transaction."""

from django.db import transaction

from apps.core.exceptions import FieldValidationError
from apps.core.parsers import parse_iso_duration, parse_memory
from apps.core.torc import MAX_INT32, NUL, find_nul

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
JOB_STRINGS = ("invocation_script",)
JOB_BOOLS = ("cancel_on_blocking_job_failure", "supports_termination")
NAME_LENGTH = 255


def _string(value, field: str, *, required: bool = False, max_length: int | None = None) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise FieldValidationError("required, a non-empty string" if required else f"{_show(value)} is not a string",
                                   field=field)
    if max_length is not None and len(value) > max_length:
        raise FieldValidationError(f"longer than {max_length} characters", field=field)
    if NUL in value:  # PostgreSQL stores no NUL: was a 500
        raise FieldValidationError("null characters are not allowed", field=field)
    return value


def _show(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _count(value, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_INT32:
        raise FieldValidationError(f"{_show(value)} is not an integer between {minimum} and {MAX_INT32}",
                                   field=field)
    return value


def _named(spec: dict, key: str) -> list[dict]:
    items = spec.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FieldValidationError("must be a list of objects", field=key)
    seen = set()
    for index, item in enumerate(items):
        name = _string(item.get("name"), f"{key}.{index}.name", required=True, max_length=NAME_LENGTH)
        if name in seen:
            raise FieldValidationError(f"duplicate name {name!r}", field=f"{key}.{index}.name")
        seen.add(name)
    return items


def _requirements(items: list[dict]) -> list[ResourceRequirements]:
    """Unsaved ResourceRequirements, every value checked (the workflow is set when saving)."""
    out = []
    for index, item in enumerate(items):
        where = f"resource_requirements.{index}."
        if item["name"] == DEFAULT_REQUIREMENTS:
            raise FieldValidationError("'default' exists already", field=f"{where}name")
        rr = ResourceRequirements(name=item["name"])
        for key in ("num_cpus", "num_gpus", "num_nodes"):
            if item.get(key) is not None:
                setattr(rr, key, _count(item[key], f"{where}{key}", minimum=1 if key == "num_nodes" else 0))
        if item.get("memory") is not None:
            rr.memory = _string(item["memory"], f"{where}memory", max_length=32)
            rr.memory_bytes = parse_memory(item["memory"], field=f"{where}memory")
        if item.get("runtime") is not None:
            rr.runtime = _string(item["runtime"], f"{where}runtime", max_length=32)
            rr.runtime_s = parse_iso_duration(item["runtime"], field=f"{where}runtime")
        out.append(rr)
    return out


def _job_fields(item: dict, index: int, requirements: set[str]) -> dict:
    """A job's own fields, checked as POST /jobs checks them (was: copied unchecked, a 500)."""
    where = f"jobs.{index}."
    job = {"name": item["name"], "command": _string(item.get("command"), f"{where}command", required=False)}
    if job["command"] is None:
        raise FieldValidationError("required, a string", field=f"{where}command")
    for key in JOB_STRINGS:
        if item.get(key) is not None:
            job[key] = _string(item[key], f"{where}{key}")
    for key in JOB_BOOLS:
        if item.get(key) is not None:
            if not isinstance(item[key], bool):
                raise FieldValidationError(f"{_show(item[key])} is not true or false", field=f"{where}{key}")
            job[key] = item[key]
    if item.get("priority") is not None:
        job["priority"] = _count(item["priority"], f"{where}priority")
    rr_name = item.get("resource_requirements")
    if rr_name is not None and rr_name not in requirements:
        raise FieldValidationError(f"unknown resource requirements {_show(rr_name)}",
                                   field=f"{where}resource_requirements")
    return job


@transaction.atomic
def workflow_from_spec(*, owner, spec: dict):
    """Returns (workflow, {job name: id}). Everything is checked before anything is written."""
    from apps.files.models import File, UserData
    from apps.jobs.services import jobs_create

    if not isinstance(spec, dict):
        raise FieldValidationError("expected a JSON object", field="body")
    name = _string(spec.get("name"), "name", required=True, max_length=NAME_LENGTH)
    user = _string(spec.get("user"), "user", max_length=NAME_LENGTH)
    description = _string(spec.get("description"), "description") or ""
    rr_specs, file_specs = _named(spec, "resource_requirements"), _named(spec, "files")
    ud_specs, job_specs = _named(spec, "user_data"), _named(spec, "jobs")
    queue = spec.get("queue")
    if queue is not None and queue not in ("", "celery"):
        raise FieldValidationError(f"{_show(queue)} is not a queue; use \"celery\" for Drover's built-in pool",
                                   field="queue")

    new_requirements = _requirements(rr_specs)
    for index, item in enumerate(file_specs):
        _string(item.get("path"), f"files.{index}.path", max_length=4096)
    for index, item in enumerate(ud_specs):
        if item.get("is_ephemeral") is not None and not isinstance(item["is_ephemeral"], bool):
            raise FieldValidationError(f"{_show(item['is_ephemeral'])} is not true or false",
                                       field=f"user_data.{index}.is_ephemeral")
        where = find_nul(item.get("data"))
        if where is not None:
            raise FieldValidationError("null characters are not allowed",
                                       field=f"user_data.{index}.data" + (f".{where}" if where else ""))

    known = {"jobs": {item["name"] for item in job_specs}, "files": {item["name"] for item in file_specs},
             "user_data": {item["name"] for item in ud_specs}}
    rr_names = {DEFAULT_REQUIREMENTS, *(rr.name for rr in new_requirements)}
    jobs, references = [], []
    for index, item in enumerate(job_specs):
        jobs.append(_job_fields(item, index, rr_names))
        names_of = {}
        for key, kind in JOB_NAME_LISTS.items():
            names = item.get(key)
            if names is None:
                names = []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise FieldValidationError("must be a list of names", field=f"jobs.{index}.{key}")
            unknown = [n for n in names if n not in known[kind]]
            if unknown:
                raise FieldValidationError(f"unknown {kind.replace('_', ' ')}: {', '.join(unknown)}",
                                           field=f"jobs.{index}.{key}")
            names_of[key] = names
        references.append(names_of)
    _refuse_cycles(job_specs, references)

    workflow = workflow_create(owner=owner, name=name, user=user, description=description,
                               config={"queue": queue} if queue else None)
    requirements = {DEFAULT_REQUIREMENTS: ResourceRequirements.objects.get(workflow=workflow,
                                                                            name=DEFAULT_REQUIREMENTS).pk}
    for rr in new_requirements:
        rr.workflow = workflow
    ResourceRequirements.objects.bulk_create(new_requirements)
    requirements.update({rr.name: rr.pk for rr in new_requirements})
    files = {f.name: f.pk for f in File.objects.bulk_create(
        File(workflow=workflow, name=item["name"], path=item.get("path") or item["name"])
        for item in file_specs)}
    user_data = {u.name: u.pk for u in UserData.objects.bulk_create(
        UserData(workflow=workflow, name=item["name"], data=item.get("data"),
                 is_ephemeral=bool(item.get("is_ephemeral", False))) for item in ud_specs)}
    lookup = {"files": files, "user_data": user_data}
    for job, item, names_of in zip(jobs, job_specs, references, strict=True):
        if item.get("resource_requirements") is not None:
            job["resource_requirements_id"] = requirements[item["resource_requirements"]]
        for key, kind in JOB_NAME_LISTS.items():
            if kind != "jobs":
                job[ID_KEYS[key]] = [lookup[kind][n] for n in names_of[key]]
    ids = jobs_create(workflow=workflow, owner=owner, items=jobs)
    by_name = dict(zip((item["name"] for item in job_specs), ids, strict=True))
    _add_edges(by_name, [(item["name"], names_of["depends_on"]) for item, names_of in
                         zip(job_specs, references, strict=True)])
    return workflow, by_name


def _refuse_cycles(job_specs: list[dict], references: list[dict]) -> None:
    """The jobs' dependencies, named and implied by files and user data (a reader depends on the
    writer), must not form a cycle: initialize_jobs would refuse the workflow later."""
    from apps.jobs.services.graph import find_cycle

    producers: dict[tuple[str, str], list[str]] = {}
    for item, names_of in zip(job_specs, references, strict=True):
        for key, kind in (("output_files", "files"), ("output_user_data", "user_data")):
            for name in names_of[key]:
                producers.setdefault((kind, name), []).append(item["name"])
    edges = set()
    for item, names_of in zip(job_specs, references, strict=True):
        edges.update((item["name"], dep) for dep in names_of["depends_on"])
        for key, kind in (("input_files", "files"), ("input_user_data", "user_data")):
            for name in names_of[key]:
                edges.update((item["name"], producer) for producer in producers.get((kind, name), ())
                             if producer != item["name"])
    cycle = find_cycle(sorted(edges))
    if cycle:
        index = {item["name"]: i for i, item in enumerate(job_specs)}
        first = min(cycle, key=index.__getitem__)
        start = cycle.index(first)
        ordered = cycle[start:] + cycle[:start]
        listed = " -> ".join(repr(n) for n in ordered + ordered[:1])
        raise FieldValidationError(f"the jobs' dependencies (named, or implied by files and user data) form a "
                                   f"cycle: {listed}", field=f"jobs.{index[first]}.depends_on")


def _add_edges(by_name: dict[str, int], pairs: list[tuple[str, list[str]]]) -> None:
    from apps.jobs.models import JobDependency

    JobDependency.objects.bulk_create(
        [JobDependency(job_id=by_name[name], depends_on_id=by_name[dep]) for name, deps in pairs for dep in set(deps)],
        batch_size=5000, ignore_conflicts=True)
