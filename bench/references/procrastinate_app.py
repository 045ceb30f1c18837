"""The procrastinate reference's own tiny app (no Django): one no-op task, on its own database
(BENCH_PROCRASTINATE_DSN) so it never touches Drover's tables."""

import os

import procrastinate

app = procrastinate.App(connector=procrastinate.PsycopgConnector(
    conninfo=os.environ.get("BENCH_PROCRASTINATE_DSN", "")))


@app.task(name="bench.noop", queue="bench")
async def noop(i: int) -> None:
    """No work: what is measured is dispatch, execution bookkeeping and the recorded status."""
