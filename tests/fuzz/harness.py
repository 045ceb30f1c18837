"""Schemathesis over Drover's own /openapi.json, in process (WSGI, config.wsgi.application), for
every operation of every dialect. One pytest item per operation (test_schema_fuzz.py); this
module holds the pieces: the schema and its budget, who a request is sent as, the hook that aims
generated ids at real objects, and the checks with the tolerances of known.py.

Budget (environment): DROVER_FUZZ_EXAMPLES (Hypothesis examples per operation, positive and
negative mixed, default TOTAL_EXAMPLES spread over the operations; the coverage phase adds its
own boundary cases on top), DROVER_FUZZ_SEED (a seed: random exploration; by default the run is
derandomized, so CI sees the same cases every run for a given schema), DROVER_FUZZ_SURVEY=<file>
(record every operation's statuses and failures there as JSON instead of failing: how known.py
is refreshed)."""

import json
import os
from pathlib import Path

import schemathesis
from hypothesis import strategies as st
from schemathesis.core import NotSet
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import ignored_auth, is_unexpected_http_status_case

from config.wsgi import application

from . import ids, known
from .checks import error_shape
from .world import World, ensure_worker

SEED = os.environ.get("DROVER_FUZZ_SEED")
SURVEY = os.environ.get("DROVER_FUZZ_SURVEY")
# Generated requests in all (the coverage phase adds its own): with 124 operations (80 each) the
# run takes ~3 min on PostgreSQL here; more operations get fewer examples each, not more time.
TOTAL_EXAMPLES = 10000

CONFIG = schemathesis.Config.from_dict({
    "generation": {
        "mode": "all",  # schema-valid and schema-violating requests
        "max-examples": 1,  # set below, once the operations are counted
        "deterministic": SEED is None,
        "database": "none",  # regressions are plain tests in test_regressions.py, not Hypothesis' files
        # Credentials are ours (headers_for); generated ones would only be refused.
        "with-security-parameters": False,
    },
    **({"seed": int(SEED)} if SEED else {}),
    "suppress-health-check": ["all"],  # slow data generation and function-scoped fixtures are intended
    "checks": {
        # Validation beyond JSON Schema (names, durations, quotas, ids that must exist) is the
        # servers' right: schema-valid data may get a 400. What it must never do is a 500 or
        # accepting schema-violating data (negative_data_rejection).
        "positive_data_acceptance": {"enabled": False},
    },
})

# The schema exactly as served; loading it needs no database.
schema = schemathesis.openapi.from_wsgi("/openapi.json", application, config=CONFIG)
OPERATION_COUNT = sum(1 for _ in schema.get_all_operations())
EXAMPLES = int(os.environ.get("DROVER_FUZZ_EXAMPLES") or max(10, min(100, TOTAL_EXAMPLES // OPERATION_COUNT)))
schema.config.generation.update(max_examples=EXAMPLES)
WORLD: World | None = None  # set per operation by the fuzz_world fixture


def operation_id(operation) -> str:
    return operation.definition.raw.get("operationId") or operation.label


def schemes(operation) -> set[str]:
    return {name for requirement in operation.definition.raw.get("security") or [] for name in requirement}


# The schema offers "workerAuth or bearerAuth" for both methods of /workers (one view), but
# registering takes a user's JWT and unregistering a worker's token: a gap of the schema.
AS_WORKER = {"unregisterWorker"}


def headers_for(case, world: World) -> dict[str, str]:
    """Worker endpoints get the worker's token; the others the user's API key (an admin's under
    /admin/), or a bearer JWT where the schema offers no API key (POST /workers)."""
    names = schemes(case.operation)
    if not names:
        return {}
    if names == {"workerAuth"} or operation_id(case.operation) in AS_WORKER:
        ensure_worker(world)
        return {"Authorization": "Bearer " + world.worker_token}
    if "apiKeyAuth" in names:
        return {"X-API-Key": world.admin_key if case.operation.path.startswith("/admin/") else world.user_key}
    return {"Authorization": "Bearer " + world.user_jwt}


CONTAINERS = {ParameterLocation.PATH: "path_parameters", ParameterLocation.QUERY: "query",
              ParameterLocation.BODY: "body"}


def _valid_containers(case) -> tuple[str, ...]:
    meta = case.meta
    return tuple(name for location, name in CONTAINERS.items() if meta is None or not meta.is_negative_at(location))


@schema.hook
def flatmap_case(context, case):
    """Generated cases: each id-like value may become a real object's id (ids.py); mostly so in
    the path, where a random id stops the request at a 404."""
    if WORLD is None:
        return st.just(case)
    found = ids.slots(case, WORLD.ids, _valid_containers(case))
    if not found:
        return st.just(case)
    picks = [st.sampled_from([*candidates, *(candidates * 3 if container == "path_parameters" else []), None])
             for container, _, candidates in found]
    return st.tuples(*picks).map(
        lambda values: ids.apply(case, [(c, n, v) for (c, n, _), v in zip(found, values, strict=True)]))


def aim_explicit(case, world: World) -> None:
    """Cases of the coverage and examples phases are built before the world exists, so the hook
    never sees them: give their (valid) path the world's first ids, so their bodies and queries
    are judged rather than 404'd."""
    meta = case.meta
    if meta is None or meta.phase.name == "fuzzing" or "path_parameters" not in _valid_containers(case):
        return
    found = ids.slots(case, world.ids, ("path_parameters",))
    ids.apply(case, [(container, name, candidates[0]) for container, name, candidates in found])


def _failure_key(failure) -> str:
    """The class name of a built-in check's failure; ours (checks.py) by the check's name."""
    name = type(failure).__name__
    if name == "CustomFailure":
        return failure.title.split("`")[1] if "`" in failure.title else failure.title
    return name


TYPE_NEGATIONS = ("Incorrect type", "violates `type`", "incorrect type", "violates `anyOf`")


def sends_nul(case) -> bool:
    """Whether the request carries a NUL character (PostgreSQL refuses them in text)."""
    parts = (case.path_parameters, case.query, None if isinstance(case.body, NotSet) else case.body)
    return "\\u0000" in json.dumps(parts, default=str)


def failure_kinds(failure, *, nul: bool = False) -> set[str]:
    """The keys of known.BUGS a failure matches: its kind; for schema-violating data accepted
    because of a wrong JSON type also "AcceptedNegativeData:type" (in the body) or ":query-type";
    a 5xx only "ServerError:nul", if the request carried a NUL (the only 5xx known.py may list)."""
    name = _failure_key(failure)
    kinds = {name}
    if name == "AcceptedNegativeData" and any(text in failure.message for text in TYPE_NEGATIONS):
        kinds.add(name + (":query-type" if "in query" in failure.message else ":type"))
    if name == "AcceptedNegativeData" and "violates `maxLength`" in failure.message:
        kinds.add(name + ":trimmed-length")  # a kind of its own, should DRF-style trimming come back
    server_error = name in ("ServerError", "ContentTypeServerError") or (
        name == "UndefinedStatusCode" and failure.status_code >= 500)
    if server_error:
        kinds = {"ServerError:nul"} if nul else set()
    return kinds


def tolerated(op: str, failure, *, nul: bool = False) -> bool:
    """known.py: a status the schema does not list yet, or a known bug with its xfail test."""
    kinds = failure_kinds(failure, nul=nul)
    if _failure_key(failure) == "UndefinedStatusCode" and failure.status_code < 500:
        return failure.status_code in known.UNDOCUMENTED.get(op, ())
    return bool(kinds & (set(known.BUGS.get(op, {})) | set(known.BUGS["*"])))


# ignored_auth re-sends a successful request without and with bad credentials: once per
# operation is enough (the tenancy matrix covers auth in depth).
AUTH_PROBED: set[str] = set()


def run_case(case, world: World) -> None:
    op = operation_id(case.operation)
    aim_explicit(case, world)
    headers = headers_for(case, world)
    response = case.call(headers=headers or None)
    # Request-shape probes (HEAD, an undocumented method, ...) are skipped by ignored_auth itself.
    probe = op not in AUTH_PROBED and 200 <= response.status_code < 300 and not is_unexpected_http_status_case(case)
    if probe:
        AUTH_PROBED.add(op)
    try:
        case.validate_response(response, headers=headers or None, excluded_checks=[] if probe else [ignored_auth],
                               additional_checks=[error_shape],
                               transport_kwargs={"app": application, "headers": headers or None})
    except FailureGroup as group:
        nul = sends_nul(case)
        left = [failure for failure in group.exceptions if not tolerated(op, failure, nul=nul)]
        if SURVEY:
            _record(op, case, response, group.exceptions, headers)
        elif left:
            report = "\n\n".join(f"{failure.title}: {failure.message}" for failure in left)
            curl = case.as_curl_command(headers=headers or None)
            raise FailureGroup(left, f"{op}: {response.status_code} {response.text[:300]}\n\n{report}\n\n"
                                     f"Reproduce with:\n    {curl}\n(tolerances: tests/fuzz/known.py)") from None
    else:
        if SURVEY:
            _record(op, case, response, [], headers)


def _record(op: str, case, response, failures, headers) -> None:
    path = Path(SURVEY)
    data = json.loads(path.read_text()) if path.exists() else {}
    entry = data.setdefault(op, {"label": case.operation.label, "statuses": {}, "failures": {}})
    status = str(response.status_code)
    entry["statuses"][status] = entry["statuses"].get(status, 0) + 1
    for failure in failures:
        key = _failure_key(failure) + (f" {failure.status_code}" if _failure_key(failure) == "UndefinedStatusCode"
                                       else "")
        entry["failures"].setdefault(key, {
            "tolerated": tolerated(op, failure, nul=sends_nul(case)), "status": response.status_code,
            "body": response.text[:300], "message": str(failure)[:500],
            "curl": case.as_curl_command(headers=headers or None)[:800]})
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
