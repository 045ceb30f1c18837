"""Drover's dialects as benchmark subjects: one module per dialect.

A dialect module defines the functions of the scenario groups (bench/groups/) it can run; a
group calls every dialect that has its function, so a new dialect adds one module here and its
name to DIALECTS:

    available(ctx) -> str | None                  why the server cannot run this dialect, or None
    claim(ctx, n, batch) -> dict                  1. claims over HTTP, `ctx.clients` processes
    E2E_MODES, end_to_end(ctx, n, procs, mode)    2. submit n jobs, procs workers run them
    dag(ctx, n, batch), fan_in(ctx, n, batch)     3. bulk create + initialize
    unblock(ctx, n), fan_out(ctx, n, batch)       4. completing jobs that release dependents
    reads(ctx, sizes) -> dict                     5. paging through a list, counting per status

A function raises Skip(reason) when the server lacks what it needs (the group records the
reason and goes on)."""

from importlib import import_module


class Skip(Exception):
    """The server lacks an endpoint or mode this scenario needs; the message says which."""


DIALECTS = ("torc", "mitosis")


def dialects(only: set[str] | None = None) -> dict:
    return {name: import_module(f"{__name__}.{name}") for name in DIALECTS if not only or name in only}
