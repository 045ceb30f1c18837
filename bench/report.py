"""The suite's outputs from a results dict: the table on stdout, the targets, docs/PERFORMANCE.md
and its PNG plots (matplotlib; without it the page says so and has no plots)."""

from pathlib import Path

from . import groups
from ._util import table

HEADERS = ("#", "what", "result", "reference (same run)", "ratio", "target", "")


def rows(result: dict) -> list[tuple]:
    out = []
    for name, r in result["groups"].items():
        if "error" in r:
            out.append(("", f"{name}: FAILED: {r['error'][:200]}", "", "", "", "", "FAILED"))
        else:
            out += groups.load(name).rows(r)
    return out


def targets(result: dict) -> list[dict]:
    out = []
    for name, r in result["groups"].items():
        if "error" not in r:
            out += groups.load(name).targets(r)
    return out


def header(result: dict) -> str:
    g, m, s = result["git"], result["machine"], result["settings"]
    dirty = " + uncommitted changes" if g.get("dirty_files") else ""
    return (f"{'quick' if result['quick'] else 'full'} run {result['started_utc']}, commit "
            f"{(g.get('commit') or '?')[:10]}{dirty}; {m['cores']} cores, {m.get('memory_total_gib')} GiB; "
            f"{s['gunicorn']['command'].split(' -b ')[0]}, {s['env']['DJANGO_SETTINGS_MODULE']}; "
            f"PostgreSQL {result['versions'].get('postgres', '?').split(' ')[0]}")


def print_report(result: dict) -> None:
    print(header(result) + "\n")
    print(table(rows(result), HEADERS))
    listed = targets(result)
    if listed:
        print("\nTargets (ratios measured in this run):")
        for t in listed:
            print(f"  [{'met' if t['met'] else 'MISSED'}] {t['scenario']}. {t['what']}: {t['value']} "
                  f"(target {t['target']}; {t['by']})")


# SECTION plots


def plot_throughput(result: dict, path: Path) -> bool:
    """Scenario 2: jobs/s against worker processes, one panel per N; references as markers."""
    e2e = result["groups"].get("end_to_end")
    if not e2e or "error" in e2e or not e2e["sizes"]:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = e2e["sizes"]
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.5 * len(sizes), 4.2), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        lines: dict[str, list] = {}
        for r in size["drover"]:
            if "skipped" not in r:
                lines.setdefault(f"Drover {r['dialect']} {groups.load('end_to_end').MODE[r['mode']]}", []).append(
                    (r["procs"], r["jobs_per_s"]))
        for label, points in lines.items():
            points.sort()
            ax.plot([p for p, _ in points], [v for _, v in points], marker="o", label=label)
        for name, r in size["references"].items():
            if "skipped" not in r:
                ax.axhline(r["jobs_per_s"], linestyle="--", linewidth=1, color="grey")
                ax.plot([r["concurrency"]], [r["jobs_per_s"]], marker="s", linestyle="none",
                        label=f"{name} (concurrency {r['concurrency']})")
        ax.set_xticks(sorted({r["procs"] for r in size["drover"]} | {r["concurrency"] for r in size["references"].values()
                                                                    if "skipped" not in r}))
        ax.set_title(f"{size['n']:,} no-op jobs, first submit to last completion")
        ax.set_xlabel("concurrent worker processes")
        ax.set_ylabel("jobs/s")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_initialize(result: dict, path: Path) -> bool:
    """Scenario 3: create / initialize / total seconds against job count, log-log, with the fit."""
    dag = result["groups"].get("dag")
    if not dag or "error" in dag or not dag["sizes"]:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for dialect, results in dag["sizes"].items():
        done = sorted((r for r in results if "skipped" not in r), key=lambda r: r["jobs"])
        fits = dag["fits"].get(dialect) or {}
        for key, label in (("create_s", "bulk create"), ("initialize_s", "initialize_jobs"), ("total_s", "total")):
            if not done:
                continue
            fit = fits.get(key)
            note = f" (n^{fit['exponent']:.2f})" if fit else ""
            ax.plot([r["jobs"] for r in done], [r[key] for r in done], marker="o", label=f"{dialect} {label}{note}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    sizes = sorted({r["jobs"] for results in dag["sizes"].values() for r in results if "skipped" not in r})
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("jobs (n/2 dependent pairs)")
    ax.set_ylabel("seconds")
    ax.set_title("Create + initialize time against job count")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_plots(result: dict, docs: Path) -> tuple[list[str], str | None]:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return [], "matplotlib is not installed (pip install -r requirements/bench.txt): no plots"
    made = []
    for name, fn in (("bench-throughput.png", plot_throughput), ("bench-initialize.png", plot_initialize)):
        if fn(result, docs / name):
            made.append(name)
    return made, None


# SECTION docs/PERFORMANCE.md


def markdown_table(table_rows: list[tuple]) -> str:
    def cell(x) -> str:
        return str(x).replace("|", "\\|")

    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table_rows]
    return "\n".join(lines)


def markdown(result: dict, plots: list[str], plot_note: str | None, results_file: str) -> str:
    m, v = result["machine"], result["versions"]
    listed = targets(result)
    parts = [
        "# Drover performance",
        "",
        "Generated by `make bench` (`python -m bench`) from "
        f"`{results_file}`; do not edit by hand. Absolute numbers vary between runs on a shared machine: "
        "the ratios, measured against references in the same run, are the figures.",
        "",
        *(["> A quick run (CI smoke sizes, see `sizes` in the results file): not the figures of record; "
            "`make bench` replaces this page.", ""] if result["quick"] else []),
        f"**Run:** {header(result)}.  ",
        f"**Machine:** {m['cpu_model']}, {m['cores']} cores, {m.get('memory_total_gib')} GiB, {m['platform']}.  ",
        f"**Versions:** Python {v['python']}, Django {v['django']}, DRF {v['djangorestframework']}, gunicorn "
        f"{v.get('gunicorn')}, psycopg {v['psycopg']}, PostgreSQL {v['postgres']} "
        f"({', '.join(f'{k}={x}' for k, x in v['postgres_settings'].items())}), Celery {v.get('celery')}, "
        f"procrastinate {v.get('procrastinate')}.",
        "",
        "## Targets",
        "",
    ]
    parts += [f"- **{'met' if t['met'] else 'MISSED'}**: {t['scenario']}. {t['what']}: {t['value']} "
              f"(target {t['target']}; {t['by']})" for t in listed] or ["- (no target measured in this run)"]
    parts += ["", "## Results", "", markdown_table(rows(result)), ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{name}]({name})" for name in plots] + [""]
    elif plot_note:
        parts += [f"_{plot_note}_", ""]
    parts += [
        "## What is measured",
        "",
        "1. **Claims**: each dialect's claim endpoint drained by 4 client processes (HTTP/1.1 keep-alive), "
        "against `pg_claim_limit.py` (the same claim as one raw SQL statement) right before and after.",
        "2. **End to end**: N jobs submitted in batches of 1,000 (Torc `bulk_jobs` + `initialize_jobs`, Mitosis "
        "`/tasks/submit`), run by Drover workers (`manage.py run_worker` running `true`, or the dispatch-only "
        "client that claims and reports through the same endpoints with no process in between); from the first "
        "submit to the last completion recorded by the server. Celery (prefork, concurrency 2, acks_late, a "
        "group, results in Redis) and procrastinate (concurrency 2, its own database) run the same N no-op tasks.",
        "3. **DAG scale**: n jobs as n/2 dependent pairs created through `bulk_jobs` and initialized; the "
        "exponent of a power-law fit of time against n; a fan-in of many jobs into one.",
        "4. **Unblocking**: completing jobs that each release one dependent (services in-process, and HTTP "
        "from 4 clients); one `complete_job` releasing a large fan-out.",
        "5. **Read paths**: listing jobs page by page and counting per status, 4 clients.",
        "6. **Memory**: peak RSS (VmHWM, reset at the start of each run) of the gunicorn processes and of the "
        "workers during scenario 2.",
        "",
        "Every job is created, claimed, run and recorded through Drover's real code path; each scenario checks "
        "the database afterwards (the last column). See bench/README.md for the method and the profiling tools.",
        "",
    ]
    return "\n".join(parts)


def write_docs(result: dict, docs: Path, results_file: str) -> list[Path]:
    docs.mkdir(parents=True, exist_ok=True)
    plots, note = write_plots(result, docs)
    page = docs / "PERFORMANCE.md"
    page.write_text(markdown(result, plots, note, results_file))
    return [page, *(docs / p for p in plots)]
