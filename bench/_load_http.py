"""HTTP for the load test's clients (bench._load_clients): one keep-alive connection a client
(bench._clients.Api) with every request timed per operation, and what the clients share across
processes. A 5xx, a connection error or any answer the client did not expect is counted and
sampled, and raises Failed: the client gives up the round and goes on with the next one."""

import http.client
import json
import time
from collections import Counter

from ._clients import Api

TIMEOUT_S = 60.0  # one request; a longer wait is counted as a connection error
MAX_SAMPLES = 20  # failure samples kept per client
COUNTERS = ("requests", "failures", "ready", "submitters", "torc_submitted", "torc_finished", "mitosis_submitted",
            "mitosis_finished")


class Failed(Exception):
    """An answer the role cannot go on with (already counted): the round is abandoned."""


class Shared:
    """What the clients share with the run (created by the parent, inherited through spawn)."""

    def __init__(self, ctx, backlog: int):
        self.counts = ctx.Array("q", len(COUNTERS))
        self.go, self.stop_submit, self.stop_all = ctx.Event(), ctx.Event(), ctx.Event()
        self.torc_tickets = ctx.Queue()
        self.backlog = backlog

    def add(self, name: str, n: int = 1) -> None:
        with self.counts.get_lock():
            self.counts[COUNTERS.index(name)] += n

    def get(self, name: str) -> int:
        return self.counts[COUNTERS.index(name)]

    def snapshot(self) -> dict:
        with self.counts.get_lock():
            return dict(zip(COUNTERS, self.counts[:], strict=True))

    def room(self, dialect: str) -> bool:
        """Submitters wait while this many of their dialect's jobs are unfinished: the drain
        after the run stays bounded and the mix stays a mix."""
        return self.get(f"{dialect}_submitted") - self.get(f"{dialect}_finished") < self.backlog


class Record:
    """One client's measurements: per operation the latencies and statuses; failures by kind
    ("5xx", "connection", "unexpected") with a few samples; ids seen, by what happened to them."""

    def __init__(self):
        self.latencies: dict[str, list[float]] = {}
        self.statuses: dict[str, Counter] = {}
        self.failures: Counter = Counter()
        self.samples: list[dict] = []
        self.ids: dict[str, list] = {}
        self.resends = 0
        self.error: str | None = None

    def timed(self, op: str, status, seconds: float) -> None:
        self.latencies.setdefault(op, []).append(seconds)
        self.statuses.setdefault(op, Counter())[str(status)] += 1

    def fail(self, op: str, kind: str, status, detail: str) -> None:
        self.failures[f"{op}|{kind}"] += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append({"op": op, "kind": kind, "status": status, "detail": detail[:400]})

    def keep(self, what: str, values) -> None:
        self.ids.setdefault(what, []).extend(values)

    def as_dict(self) -> dict:
        return {"latencies": self.latencies, "statuses": {k: dict(v) for k, v in self.statuses.items()},
                "failures": dict(self.failures), "samples": self.samples, "ids": self.ids, "resends": self.resends,
                "error": self.error}


class Conn(Api):
    """Api's connection handling with a bounded timeout, returning every status (a body need not
    be JSON). Like Api, a request on a reused connection the server had closed meanwhile is sent
    again once; those resends are counted."""

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is not None and time.monotonic() - self.last > 1.0:
            self.conn.close()
            self.conn = None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT_S)
            self.fresh = True
        return self.conn

    def send(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, bytes, int]:
        """(status, raw body, resends)."""
        payload = None if body is None else json.dumps(body).encode()
        resends = 0
        while True:
            conn = self._connection()
            fresh, self.fresh = getattr(self, "fresh", True), False
            try:
                conn.request(method, self.prefix + path, body=payload, headers={**self.headers, **(headers or {})})
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self.conn = None
                if fresh or resends:  # only a reused connection the server had closed is resent, once
                    raise
                resends += 1
        self.last = time.monotonic()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            self.conn = None
        return response.status, data, resends


class Client:
    """One simulated client: its connection, its record, the shared counters."""

    def __init__(self, port: int, shared: Shared, record: Record, *, prefix: str, headers: dict):
        self.conn = Conn(port, prefix=prefix, headers=headers)
        self.shared, self.record = shared, record

    def call(self, op: str, method: str, path: str, body=None, *, ok=(200,), headers: dict | None = None):
        """(status, JSON body or None); anything but a status in `ok` with a JSON body is counted
        and raises Failed."""
        t = time.perf_counter()
        try:
            status, data, resends = self.conn.send(method, path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.record.timed(op, "connection", time.perf_counter() - t)
            self.conn.close()
            self.conn.conn = None
            self.failed(op, "connection", None, repr(exc))
        self.record.timed(op, status, time.perf_counter() - t)
        self.record.resends += resends
        self.shared.add("requests")
        if status >= 500:
            self.failed(op, "5xx", status, data.decode(errors="replace"))
        if status not in ok:
            self.failed(op, "unexpected", status, data.decode(errors="replace"))
        try:
            return status, (json.loads(data) if data else None)
        except ValueError:
            self.failed(op, "unexpected", status, "not JSON: " + data[:200].decode(errors="replace"))

    def failed(self, op: str, kind: str, status, detail: str):
        """Count and sample a failure, and abandon the round. For an answer that is a 200 whose
        content says the operation did not happen (a batch entry refused): kind "unexpected"."""
        self.record.fail(op, kind, status, detail)
        self.shared.add("failures")
        raise Failed(op)

    def close(self) -> None:
        self.conn.close()
