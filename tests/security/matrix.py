"""The isolation matrix: for every operation Drover serves, who may call it and what everyone
else gets. tests/security/test_isolation_matrix.py checks that this table names exactly the
operations of the OpenAPI schema (plus the routed ones the schema leaves out), so an endpoint
that lands without a row here fails the suite until someone decides who may call it.

Each row (Op) gives the request (path parameters and body built from the world of
tests/security/world.py) and:
- kind: PUBLIC (no credentials), USER (a user's credentials), WORKER (a Mitosis worker token),
  ADMIN (staff);
- ok: the status the principal that may call it gets (alice, her worker, staff, anyone);
- stranger: what bob (a user of no group of alice's) or bob's worker gets;
- reader: what rita (Read member of alice's group) gets; by default READ for reads and
  DENY_403 for writes of USER rows whose stranger is denied.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

PUBLIC, USER, WORKER, ADMIN = "public", "user", "worker", "admin"
T = "/torc-service/v1"
DOWNLOAD = frozenset({200, 302})  # single downloads redirect (seed) or answer JSON (real Mitosis)


@dataclass(frozen=True)
class Expect:
    """deny: one of `statuses` in the dialect's error shape, nothing changed, and the same answer
    as for an object that does not exist; filtered: 2xx, `check(body, world)` passes and nothing
    changed (unless `changes`: the caller's own rows may appear); read: as the owner (ok);
    own: the operation acts in the caller's own scope only: not a cross-tenant request."""

    kind: str
    statuses: frozenset = frozenset({403, 404})
    check: Callable | None = None
    changes: bool = False
    reason: str = ""
    same_for_missing_group: bool = False  # deny: also the answer for a group that does not exist


DENY = Expect("deny")
DENY_403 = Expect("deny", frozenset({403}))  # a member who sees the object may not change it
DENY_404 = Expect("deny", frozenset({404}))
READ = Expect("read")
OWN = Expect("own")


def deny_400(reason: str) -> Expect:
    """A 400 is no leak when it is the same for a group that does not exist (checked)."""
    return Expect("deny", frozenset({400}), reason=reason, same_for_missing_group=True)


def filtered(check: Callable, *, changes: bool = False, reason: str = "") -> Expect:
    return Expect("filtered", check=check, changes=changes, reason=reason)


# Path parameters by name -> key of the world; Op.params overrides (a callable: a literal).
PARAMS = {"workflow_id": "wid", "job_id": "job_ready", "file_id": "file", "user_data_id": "ud", "rr_id": "rr",
          "node_id": "node", "result_id": "result", "event_id": "event", "run_id": "run_id",
          "compute_node_id": "node", "group_name": "group", "key": "att_key", "uuid": "task_ready",
          "content_type": "content_type", "username": "username"}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    kind: str = USER
    body: Callable | dict | None = None
    query: str = ""
    params: dict = field(default_factory=dict)
    ok: frozenset = frozenset({200})
    stranger: Expect = DENY
    reader: Expect | None = None
    read: bool | None = None  # default: GET
    in_schema: bool = True
    bugs: dict = field(default_factory=dict)  # test name -> "BUG: ..." (a strict xfail of that case)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_read(self) -> bool:
        return self.method == "GET" if self.read is None else self.read

    @property
    def reader_expect(self) -> Expect | None:
        if self.reader is not None or self.kind != USER or self.stranger.kind != "deny":
            return self.reader
        return READ if self.is_read else DENY_403

    def url(self, world: dict) -> str:
        path = self.path
        for name in [part.split("}")[0] for part in path.split("{")[1:]]:
            source = self.params.get(name, PARAMS.get(name))
            value = source(world) if callable(source) else world[source]
            path = path.replace("{" + name + "}", str(value))
        return path + ("?" + self.query.format(**world) if self.query else "")

    def data(self, world: dict):
        return self.body(world) if callable(self.body) else self.body


def lit(value):
    """A path parameter that is this literal, not a key of the world."""
    return lambda world: value


def md5(password: str) -> list[int]:
    """A Mitosis password as its clients send it: the MD5 digest as 16 ints."""
    import hashlib

    return list(hashlib.md5(password.encode()).digest())


def operations() -> list[Op]:
    from . import ops_mitosis, ops_torc

    ops = ops_torc.OPS + ops_mitosis.OPS
    keys = [op.key for op in ops]
    assert len(keys) == len(set(keys)), "an operation is listed twice in the matrix"
    return ops
