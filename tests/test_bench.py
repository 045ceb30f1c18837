"""Smoke tests of the benchmark suite's machinery that need no server: the power-law fit, the
DAG layouts, the report (table, targets, PERFORMANCE.md, plots) and the results writer, on a
fake result shaped like a real run's."""

import json
import os

import pytest

from bench import report, suite
from bench._util import RssMeter, proc_status_kb
from bench.analysis import power_law_fit
from bench.groups import end_to_end
from bench.scenarios.torc_graph import EXPECTED, layout_batches


def test_power_law_fit_recovers_the_exponent():
    sizes = [10_000, 100_000, 1_000_000]
    linear = power_law_fit(sizes, [0.002 * n for n in sizes])
    assert linear["exponent"] == pytest.approx(1.0) and linear["r2"] == pytest.approx(1.0)
    assert linear["coefficient"] == pytest.approx(0.002)
    assert power_law_fit(sizes, [1e-9 * n**2 for n in sizes])["exponent"] == pytest.approx(2.0)
    bent = power_law_fit([1, 10, 100], [1, 10, 1000])  # least squares: slope 1.5 on log-log
    assert bent["exponent"] == pytest.approx(1.5) and bent["r2"] < 1


def test_power_law_fit_needs_two_usable_points():
    assert power_law_fit([1000], [1.0]) is None
    assert power_law_fit([1000, 1000], [1.0, 2.0]) is None
    assert power_law_fit([1000, 10_000], [0.0, 1.0]) is None  # a zero time has no logarithm


@pytest.mark.parametrize("layout,n,batch", [("pairs", 8_000, 2_000), ("figure_a", 6_000, 1_000),
                                            ("fan_in", 2_500, 1_000), ("fan_out", 2_500, 1_000)])
def test_layouts_have_the_documented_shape(layout, n, batch):
    jobs = [item for items in layout_batches(layout, n, batch) for item in items]
    edges = sum(len(deps) for _, deps in jobs)
    assert all(dep < index for index, (_, deps) in enumerate(jobs) for dep in deps)  # earlier jobs only
    roots = sum(1 for _, deps in jobs if not deps)
    ready, blocked, want_edges = EXPECTED[layout](n, batch)
    assert (roots, len(jobs) - roots, edges) == (ready, blocked, want_edges)


def fake_result(**overrides) -> dict:
    """A results dict as `python -m bench` writes it, with one run of each group."""
    lat = {"p50_ms": 5.0, "p95_ms": 8.0, "p99_ms": 9.5, "mean_ms": 5.5}
    memory = {"server": {"processes": 5, "max_process_peak_mib": 90.0, "sum_of_peaks_mib": 380.0},
              "worker": {"processes": 2, "max_process_peak_mib": 70.0, "sum_of_peaks_mib": 140.0}}
    claim = {"what": "Torc claim_next_jobs?num_jobs=100", "jobs": 20_000, "clients": 4, "jobs_per_s": 18_000.0,
             "latency": lat, "verified": True, "ratio": 0.36, "target": 0.35, "met": True}
    claim1 = {**claim, "what": "Torc claim_next_jobs?num_jobs=1", "jobs": 3_000, "jobs_per_s": 600.0,
              "ratio": 0.12, "target": 0.25, "met": False}
    ref = {"concurrency": 2, "seconds": 4.0, "submit_s": 1.0, "verified": True,
           "memory": {"worker": {"processes": 3, "sum_of_peaks_mib": 150.0}}}
    drover = [{"dialect": d, "mode": m, "n": 2_000, "procs": p, "seconds": 20.0, "submit_s": 1.0,
               "jobs_per_s": 100.0 * p, "memory": memory, "verified": True, "ratio": p / 5, "met": False}
              for d in ("torc", "mitosis") for m in ("worker", "noop") for p in (2, 4)]
    drover.append({"dialect": "mitosis", "mode": "noop", "n": 2_000, "procs": 8, "skipped": "no such mode"})
    dag_runs = [{"jobs": n, "edges": n // 2, "requests": n // 10_000, "create_s": n / 5_000, "initialize_s": n / 9_000,
                 "total_s": n / 5_000 + n / 9_000, "verified": True} for n in (10_000, 100_000, 1_000_000)]
    reads = {"what": "list_jobs of 100,000 jobs, pages of 1,000", "requests_per_s": 30.0, "jobs_per_s": 30_000.0,
             "latency": lat, "verified": True}
    result = {
        "started_utc": "20260101T000000Z", "quick": False, "duration_s": 1500.0,
        "git": {"commit": "0123456789abcdef", "dirty_files": []},
        "machine": {"cores": 2, "memory_total_gib": 23.5, "cpu_model": "test cpu", "platform": "Linux"},
        "settings": {"gunicorn": {"command": "gunicorn config.wsgi -w 4 -k gthread --threads 4 -b 127.0.0.1:1"},
                     "env": {"DJANGO_SETTINGS_MODULE": "config.settings.prod"}},
        "versions": {"python": "3.11", "django": "5.2", "djangorestframework": "3.16", "gunicorn": "27",
                     "psycopg": "3.3", "postgres": "15.18 (Debian)", "postgres_settings": {"fsync": "off"},
                     "celery": "5.7.0", "procrastinate": "3.10.0"},
        "groups": {
            "claim": {"batches": {"100": {"raw_jobs_per_s": 50_000.0, "http": {"torc": claim}},
                                  "1": {"raw_jobs_per_s": 5_000.0,
                                        "http": {"torc": claim1, "mitosis": {"skipped": "no batch"}}}},
                      "floor": {"ping": {"path": "/ping", "requests": 3_000, "requests_per_s": 1_500.0}}},
            "end_to_end": {"sizes": [{"n": 2_000, "best_reference_jobs_per_s": 500.0, "drover": drover,
                                      "references": {"celery": {**ref, "jobs_per_s": 500.0},
                                                     "procrastinate": {"skipped": "not installed"}}}]},
            "dag": {"sizes": {"torc": dag_runs},
                    "fits": {"torc": {"create_s": {"exponent": 1.0, "r2": 1.0},
                                      "initialize_s": {"exponent": 1.0, "r2": 1.0},
                                      "total_s": {"exponent": 1.0, "r2": 1.0, "target": 1.15, "met": True}}},
                    "fan_in": {"torc": {"jobs": 10_001, "create_s": 1.0, "initialize_s": 0.5, "total_s": 1.5,
                                        "verified": True}}},
            "unblock": {"pairs": {"torc": {
                "service": {"jobs": 10_000, "seconds": 80.0, "jobs_per_s": 125.0, "complete_s": 50.0, "verified": True},
                "http": {"jobs": 10_000, "clients": 4, "seconds": 180.0, "jobs_per_s": 55.0, "verified": True}}},
                "fan_out": {"torc": {"dependents": 100_000, "complete_s": 2.0, "released_per_s": 50_000.0,
                                     "verified": True}}},
            "reads": {"dialects": {"torc": {"list": reads, "count": {**reads, "what": "per status"}},
                                   "mitosis": {"skipped": "POST /tasks/query answers 404"}}},
        },
    }
    result.update(overrides)
    return result


def test_report_rows_and_targets_of_every_group():
    result = fake_result()
    rows = report.rows(result)
    assert all(len(row) == len(report.HEADERS) for row in rows)
    by_scenario = {row[0] for row in rows}
    assert by_scenario == {"1", "2", "3", "4", "5", "6"}
    claims = [row for row in rows if row[0] == "1" and row[4]]
    assert [(row[4], row[-1]) for row in claims] == [("36%", "met"), ("12%", "MISSED")]
    assert any("mitosis claim batch 1: skipped (no batch)" in row[1] for row in rows)
    assert any(row[0] == "3" and row[2] == "n^1.00" and row[-1] == "met" for row in rows)
    targets = report.targets(result)
    assert [t["met"] for t in targets if t["scenario"] == "1"] == [True, False]
    assert sum(1 for t in targets if t["scenario"] == "2") == 8  # every Drover run against the faster reference
    assert suite.unverified(result) == []  # missed targets are reported, not failures of the run


def test_a_failed_check_or_group_fails_the_run():
    result = fake_result()
    result["groups"]["unblock"]["fan_out"]["torc"]["verified"] = False
    result["groups"]["reads"] = {"error": "SystemExit: a client died"}
    failed = suite.unverified(result)
    assert len(failed) == 2 and any("fan-out" in f for f in failed) and any("reads: FAILED" in f for f in failed)


def test_markdown_page_has_the_run_targets_and_table(tmp_path):
    page = report.markdown(fake_result(), ["bench-throughput.png"], None, "bench/results/x.json")
    assert page.startswith("# Drover performance")
    assert "**MISSED**: 1. torc claim batch 1: 12%" in page and "**met**: 1. torc claim batch 100: 36%" in page
    assert "| # | what | result |" in page and "![bench-throughput.png](bench-throughput.png)" in page
    assert "commit 0123456789" in page and "bench/results/x.json" in page


def test_docs_and_plots_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    written = report.write_docs(fake_result(), tmp_path, "bench/results/x.json")
    assert {p.name for p in written} == {"PERFORMANCE.md", "bench-throughput.png", "bench-initialize.png"}
    for png in written[1:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000


def test_results_writer_round_trips(tmp_path, capsys):
    out = tmp_path / "20260101T000000Z.json"
    suite.write_outputs(fake_result(), out, docs=False)
    assert json.loads(out.read_text())["groups"]["dag"]["fits"]["torc"]["total_s"]["exponent"] == 1.0
    assert "Targets (ratios measured in this run)" in capsys.readouterr().out


def test_group_selection():
    assert suite.selected("e2e,1") == ["claim", "end_to_end"]
    assert suite.selected("reads") == ["dag", "reads"]  # Torc's reads page through scenario 3's workflows
    with pytest.raises(SystemExit):
        suite.selected("nope")


def test_budget_order_puts_the_runs_with_the_target_first():
    class Dialect:
        E2E_MODES = ("worker", "noop")

        def end_to_end(self):
            pass

    order = [(d, m, p) for d, _, m, p in end_to_end.plan({"torc": Dialect(), "mitosis": Dialect()}, (2, 4))]
    assert order[:2] == [("torc", "noop", 4), ("mitosis", "noop", 4)] and order[-1] == ("mitosis", "worker", 2)


def test_the_largest_n_runs_only_what_fits_in_the_budget(monkeypatch):
    class Dialect:
        E2E_MODES = ("noop",)

        def __init__(self):
            self.runs = []

        def end_to_end(self, ctx, n, procs, mode):
            self.runs.append((n, procs))
            return {"dialect": "fake", "mode": mode, "n": n, "procs": procs, "jobs_per_s": 100.0, "verified": True,
                    "group": f"g{n}-{procs}"}

    class Ctx:
        def __init__(self):
            self.cache = {}

    monkeypatch.setattr(end_to_end, "step", lambda title: None)
    monkeypatch.setattr(end_to_end, "references", lambda ctx, n: {"celery": {"jobs_per_s": 50.0, "verified": True}})
    dialect = Dialect()
    sizes = {"e2e_n": (100, 10_000), "e2e_procs": (2, 4), "e2e_budget_s": 60}
    result = end_to_end.run(Ctx(), sizes, {"fake": dialect})
    assert dialect.runs == [(100, 4), (100, 2)]  # 10,000 jobs at 100/s: estimated 130 s > 60 s
    skipped = [r["skipped"] for r in result["sizes"][1]["drover"]]
    assert len(skipped) == 2 and "estimated 130 s" in skipped[0] and "60 s budget" in skipped[0]
    assert result["sizes"][0]["drover"][0]["ratio"] == 2.0
    dialect.runs.clear()
    end_to_end.run(Ctx(), {**sizes, "e2e_budget_s": 1000}, {"fake": dialect})
    assert dialect.runs == [(100, 4), (100, 2), (10_000, 4), (10_000, 2)]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_rss_meter_reads_peaks():
    meter = RssMeter({"me": [os.getpid()]}, interval=0.01)
    meter.start()
    ballast = bytearray(20 * 1024 * 1024)  # noqa: F841 - raises this process's peak
    peak = meter.stop()["me"]
    assert peak["processes"] == 1 and peak["max_process_peak_mib"] >= 20
    assert proc_status_kb(os.getpid(), "VmHWM") >= (peak["max_process_peak_mib"] - 0.1) * 1024  # rounded
