"""Tests for the engine-bench CLI (list / run), on a toy suite and on the installed entry points."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import engine.cli
import engine.suites
from engine.cli import main, run_suite
from engine.suites import Case, RunContext, Suite, SuiteOption, discover_suites, parse_int_list


def _toy_build(*, n, fail=False):
    def make(k):
        def run(ctx: RunContext):
            if fail and k == 1:
                raise RuntimeError("toy failure")
            return {"status": "optimal", "runtime": 0.001 * k, "value": k * 10 + ctx.seed, "label": f"k{k}"}

        return run

    return [Case(f"toy k={k}", {"k": k}, make(k)) for k in n]


TOY = Suite(name="toy", description="A toy suite for the CLI tests.", build=_toy_build,
            options=(SuiteOption("n", parse_int_list, [1, 2], "cases"),
                     SuiteOption("fail", lambda t: t == "yes", False, "case k=1 raises")))


class _ToyEntryPoint:
    name = "toy"

    def load(self):
        return TOY


@pytest.fixture
def toy(monkeypatch):
    real = discover_suites

    def fake():
        eps = dict(real())
        eps["toy"] = _ToyEntryPoint()
        return eps

    monkeypatch.setattr(engine.suites, "discover_suites", fake)
    monkeypatch.setattr(engine.cli, "discover_suites", fake)
    return TOY


def test_list_shows_installed_games_suite(capsys):
    if "games" not in discover_suites():
        pytest.skip("the package is not installed (pip install -e .): no entry points")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "games" in out and "--sizes" in out and "failed to load" not in out


def test_console_script_lists_games():
    exe = Path(sysconfig.get_path("scripts")) / "engine-bench"
    if not exe.exists() or "games" not in discover_suites():
        pytest.skip("engine-bench console script not installed")
    proc = subprocess.run([str(exe), "list"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "games" in proc.stdout


def test_list_includes_toy(toy, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "--n: cases (default: 1,2)" in out and "--fail: case k=1 raises" in out


def test_unknown_suite_exit_2_one_line(capsys):
    rc = main(["run", "no-such-suite", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "unknown suite 'no-such-suite'" in lines[0]
    assert "Traceback" not in err


def test_debug_shows_traceback(capsys):
    rc = main(["--debug", "run", "no-such-suite", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" in err and "unknown suite" in err


@pytest.mark.parametrize("args, match", [
    (["--n", "x"], "bad value for --n: 'x'"),
    (["--n", "3-1"], "bad value for --n"),
    (["--m", "1"], "unknown option --m"),
    (["--n"], "needs a value"),
])
def test_bad_suite_option_exit_2(toy, capsys, args, match):
    rc = main(["run", "toy", "--no-progress", *args])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], err


def test_negative_seed_exit_2(toy, capsys):
    assert main(["run", "toy", "--seed", "-1", "--no-progress"]) == 2
    assert "--seed must be >= 0" in capsys.readouterr().err


def test_bad_common_option_is_usage_error(toy, capsys):
    assert main(["run", "toy", "--format", "xml", "--no-progress"]) == 2
    assert main(["run", "toy", "--repeat", "0", "--no-progress"]) == 2


def test_format_json(toy, capsys):
    rc = main(["run", "toy", "--n", "1-3", "--seed", "5", "--no-progress", "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 0
    rows = json.loads(out)
    assert [r["case"] for r in rows] == ["toy k=1", "toy k=2", "toy k=3"]
    assert [r["value"] for r in rows] == [15, 25, 35]
    assert all(r["status"] == "optimal" and r["seed"] == 5 for r in rows)
    assert "3 runs, 0 failed" in err


def test_format_csv_parses(toy, capsys):
    rc = main(["run", "toy", "--repeat", "2", "--no-progress", "--format", "csv"])
    out = capsys.readouterr().out
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4
    assert list(rows[0]) == ["case", "seed", "status", "runtime", "value", "label"]
    assert [(r["case"], int(r["seed"]), int(r["value"])) for r in rows] == [
        ("toy k=1", 0, 10), ("toy k=1", 1, 11), ("toy k=2", 0, 20), ("toy k=2", 1, 21)]


def test_format_table(toy, capsys):
    assert main(["run", "toy", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "engine-bench toy" in out and "toy k=2" in out and "optimal" in out


def test_out_dir_one_record_per_run(toy, tmp_path, capsys):
    out_dir = tmp_path / "results"
    rc = main(["run", "toy", "--n", "1,2,3", "--repeat", "2", "--seed", "7", "--out", str(out_dir),
               "--no-progress", "-q", "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""  # -q: nothing on stderr
    files = sorted((out_dir / "toy").glob("*.json"))
    assert len(files) == 6
    records = [json.loads(f.read_text()) for f in files]
    assert {(r["case"], r["seed"], r["repeat"]) for r in records} == {
        (f"toy k={k}", 7 + r, r) for k in (1, 2, 3) for r in (0, 1)}
    for r in records:
        assert r["suite"] == "toy" and r["status"] == "optimal"
        assert r["metrics"]["value"] == r["params"]["k"] * 10 + r["seed"]
        assert r["engine_version"]
    assert not list((out_dir / "toy").glob(".*tmp*"))  # atomic writes left no temp files


def test_failed_run_exit_1_others_still_run(toy, tmp_path, capsys):
    rc = main(["run", "toy", "--n", "0-2", "--fail", "yes", "--no-progress", "--format", "json", "-v",
               "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    rows = json.loads(out)
    assert [r["status"] for r in rows] == ["optimal", "error", "optimal"]
    assert rows[1]["error"] == "RuntimeError: toy failure"
    assert "3 runs, 1 failed" in err and "toy failure" in err
    rec = json.loads((tmp_path / "toy" / "toy_k=1__seed0.json").read_text())
    assert rec["status"] == "error" and rec["metrics"] == {}


def test_run_suite_progress_events(toy):
    events = []
    records = run_suite(TOY, {"n": [1, 2], "fail": False}, seed=3, repeat=2, callback=events.append)
    assert len(records) == 4
    assert [(e.completed, e.total) for e in events] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert [r["seed"] for r in records] == [3, 4, 3, 4]


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert "engine-bench" in capsys.readouterr().out


@pytest.mark.parametrize("args, match", [
    (["--time-limit", "0"], "--time-limit must be > 0"),
    (["--time-limit", "-2"], "--time-limit must be > 0"),
    (["--time-limit", "nan"], "--time-limit must be > 0"),
    (["--threads", "0"], "--threads must be >= 1"),
])
def test_bad_limits_exit_2(toy, capsys, args, match):
    assert main(["run", "toy", "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err


def test_limits_reach_the_runs(toy):
    seen = []
    suite = Suite(name="ctx", description="", build=lambda: [Case("c", {}, lambda ctx: seen.append(ctx) or {})])
    run_suite(suite, {}, seed=2, time_limit=1.5, threads=3)
    assert (seen[0].seed, seen[0].time_limit, seen[0].threads) == (2, 1.5, 3)


def test_colliding_record_names_refused(tmp_path):
    from engine.errors import InvalidInputError

    suite = Suite(name="dup", description="", build=lambda: [Case("a b", {}, lambda ctx: {}),
                                                              Case("a/b", {}, lambda ctx: {})])
    with pytest.raises(InvalidInputError, match="same record file"):
        run_suite(suite, {}, out=tmp_path)
    assert len(run_suite(suite, {})) == 2  # without --out nothing collides


# ----------------------------------------------------------------------------- issue 17 §3: flags, failures, help


def _ctx_build(*, n):
    """Cases that use every part of the RunContext: the callback (one Progress per step, honouring
    StopIteration), the time limit (status time_limit) and the seed/threads (in the metrics)."""
    from engine.events import Progress

    def make(k):
        def run(ctx: RunContext):
            for step in range(3):
                if ctx.expired():
                    return {"status": "time_limit", "steps": step}
                if ctx.emit(Progress("toy.work", completed=step + 1, total=3, description=f"k{k}")):
                    return {"status": "stopped", "steps": step + 1}
            return {"status": "feasible", "steps": 3, "seed_seen": ctx.seed, "threads_seen": ctx.threads}

        return run

    return [Case(f"ctx k={k}", {"k": k}, make(k)) for k in n]


CTX = Suite(name="ctx", description="Uses every RunContext field.", build=_ctx_build,
            options=(SuiteOption("n", parse_int_list, [1, 2], "cases, e.g. 1-3"),))


def _summarize_toy(records):
    ok = [r for r in records if r["status"] != "error"]
    return [{"case": "all", "runs": len(ok), "mean_value": sum(r["metrics"]["value"] for r in ok) / max(len(ok), 1)}]


SUMMARIZED = Suite(name="toysum", description="The toy suite with a summary table.", build=_toy_build,
                   options=TOY.options, summarize=_summarize_toy)


@pytest.fixture
def suites(monkeypatch):
    real = discover_suites

    class _EP:
        def __init__(self, name, suite):
            self.name, self._suite = name, suite

        def load(self):
            return self._suite

    def fake():
        eps = dict(real())
        for suite in (TOY, CTX, SUMMARIZED):
            eps[suite.name] = _EP(suite.name, suite)
        return eps

    monkeypatch.setattr(engine.suites, "discover_suites", fake)
    monkeypatch.setattr(engine.cli, "discover_suites", fake)


def test_run_context_reaches_every_run_and_the_record():
    records = run_suite(CTX, {"n": [1]}, seed=4, repeat=2, time_limit=30.0, threads=2)
    assert [r["metrics"]["seed_seen"] for r in records] == [4, 5]
    assert all(r["metrics"]["threads_seen"] == 2 and r["threads"] == 2 and r["time_limit"] == 30.0
               for r in records)


def test_run_context_options_for_picks_what_a_function_takes():
    def solver(x, *, time_limit=None, threads=None, callback=None, seed=0):
        return None

    def plain(x, **options):
        return None

    ctx = RunContext(seed=3, repeat=0, time_limit=10.0, threads=2, callback=print)
    opts = ctx.options_for(solver)
    assert set(opts) == {"time_limit", "threads", "callback", "seed"}
    assert 0 < opts["time_limit"] <= 10.0 and opts["threads"] == 2 and opts["seed"] == 3
    assert ctx.options_for(plain) == {}  # a **kwargs catch-all is not a promise to take them
    assert set(RunContext(seed=0, repeat=0).options_for(solver)) == {"seed"}  # None values are left out
    assert ctx.options_for(solver, seed=None).get("seed") is None


def test_short_time_limit_gives_status_time_limit():
    (record,) = run_suite(CTX, {"n": [1]}, time_limit=1e-9)
    assert record["status"] == "time_limit" and record["metrics"]["steps"] == 0


def test_progress_events_reach_the_callback_and_stop_iteration_stops():
    events = []
    run_suite(CTX, {"n": [1]}, callback=events.append)
    inner = [e for e in events if e.source == "toy.work"]
    assert [(e.completed, e.total) for e in inner] == [(1, 3), (2, 3), (3, 3)]

    def stop_at_second_step(event):
        if event.source == "toy.work" and event.completed >= 2:
            raise StopIteration

    records = run_suite(CTX, {"n": [1, 2, 3]}, callback=stop_at_second_step)
    assert len(records) == 1  # the run in progress stops, the others do not start
    assert records[0]["status"] == "stopped" and records[0]["metrics"]["steps"] == 2


def test_stop_iteration_escaping_a_run_is_recorded_as_stopped():
    def run(ctx):
        raise StopIteration

    (record,) = run_suite(Suite(name="s", description="", build=lambda: [Case("c", {}, run)]), {})
    assert record["status"] == "stopped" and "error" not in record


def test_cli_stopped_run_exit_1(suites, capsys, monkeypatch):
    import engine.progress

    real_call = engine.progress.RichProgress.__call__

    def stopping(self, event):
        if event.source == "toy.work":
            raise StopIteration
        return real_call(self, event)

    monkeypatch.setattr(engine.progress.RichProgress, "__call__", stopping)
    rc = main(["run", "ctx", "--n", "1-3", "--no-progress", "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert [r["status"] for r in json.loads(out)] == ["stopped"]
    assert "stopped (2 not run)" in err


def test_failed_run_reason_on_stderr_without_verbose(toy, capsys):
    rc = main(["run", "toy", "--n", "0-2", "--fail", "yes", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "failed: toy k=1 (seed 0): RuntimeError: toy failure" in err
    assert "3 runs, 1 failed" in err and "Traceback" not in err


def test_failed_run_reason_even_with_summary_table(suites, capsys):
    rc = main(["run", "toysum", "--n", "1", "--fail", "yes", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "failed: toy k=1 (seed 0): RuntimeError: toy failure" in err
    rc = main(["run", "toysum", "--n", "1,2", "--fail", "yes", "--no-progress", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert rows[0] == {"case": "all", "runs": 1, "mean_value": 20.0}
    assert rows[1]["status"] == "error" and rows[1]["error"] == "RuntimeError: toy failure"


def test_run_suite_help_lists_options_with_defaults(suites, capsys):
    assert main(["run", "toy", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Suite 'toy': A toy suite for the CLI tests." in out
    assert "--n VALUE" in out and "cases (default: 1,2)" in out
    assert "--fail VALUE" in out and "case k=1 raises (default: False)" in out
    assert "--time-limit" in out  # the common options too
    assert main(["run", "--help"]) == 0
    assert "engine-bench run SUITE --help" in capsys.readouterr().out
    assert main(["run", "no-such-suite", "-h"]) == 2


@pytest.mark.parametrize("argv", [
    ["run", "toy", "--no-progress", "--debug", "-v"],
    ["--debug", "run", "toy", "-v", "--no-progress"],
    ["run", "toy", "--n", "1", "-q", "--no-progress", "--debug"],
    ["list", "--no-progress", "-v", "--debug"],
    ["-v", "list"],
])
def test_common_flags_in_any_position(suites, capsys, argv):
    assert main(argv) == 0, capsys.readouterr().err


def test_common_flags_after_report_and_compare(capsys):
    data = Path(__file__).parent / "data" / "results_small"
    assert main(["report", str(data), "--no-plots", "--out", "/dev/null/x"]) == 1  # cannot write there
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["report", str(data), "--no-plots", "--out", "/dev/null/x", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err  # --debug after the subcommand works
    assert main(["compare", str(data), str(data), "--no-progress", "-v", "--format", "json"]) == 0


def test_debug_after_the_subcommand_shows_traceback(capsys):
    rc = main(["run", "no-such-suite", "--no-progress", "--debug"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" in err and "unknown suite" in err


def test_table_fits_the_terminal_and_keeps_the_key_column(monkeypatch):
    import math

    from engine.cli import render

    rows = [{"case": f"qre/n=10/lam={lam}/players=2", "status": "optimal", "runtime": 0.1234,
             "residual": 1e-13, "residual_check": 2e-13, "sem": math.nan, "another_long_metric": 3.0}
            for lam in (1, 5, 10)]
    text = render(rows, "table", width=60)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 60
    for lam in (1, 5, 10):  # every key whole, on one line
        assert any(f"qre/n=10/lam={lam}/players=2" in line for line in lines)
    assert "not shown at this width" in text and "another_long_metric" in text
    monkeypatch.setenv("COLUMNS", "70")
    assert max(len(line) for line in render(rows, "table").splitlines()) <= 70
    wide = render(rows, "table", width=500)
    assert "another_long_metric" in wide and "not shown" not in wide
    assert "—" in wide and "nan" not in wide  # a missing value (an SEM over one seed) is a dash


def test_rich_progress_bars_follow_the_work():
    from rich.console import Console

    from engine.events import Iteration, Progress
    from engine.progress import RichProgress

    buf = io.StringIO()
    with RichProgress("suite", console=Console(file=buf, width=120, force_terminal=False)) as bar:
        bar(Progress("engine-bench", completed=0, total=2, description="suite"))
        bar(Iteration("train", nit=1))
        bar(Progress("train", completed=1, total=10, description="training"))
        bar(Iteration("train", nit=2))  # the same loop's Progress (with its total) drives the bar
        assert bar._progress.tasks[1].total == 10 and bar._progress.tasks[1].completed == 1
        bar(Progress("evaluate", completed=3, total=5, description="myopic"))
        assert bar._progress.tasks[1].description == "myopic" and bar._progress.tasks[1].completed == 3
        bar(Progress("engine-bench", completed=1, total=2, description="suite"))
        assert bar._progress.tasks[0].completed == 1
        bar.request_stop()
        with pytest.raises(StopIteration):
            bar(Progress("evaluate", completed=4, total=5, description="myopic"))


def test_threads_hold_for_the_blas_pools_during_a_run():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy  # noqa: F401  (loads the BLAS)

    seen = []

    def run(ctx):
        seen.append(sorted({i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}))
        return {}

    suite = Suite(name="blas", description="", build=lambda: [Case("c", {}, run)])
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    if not before:
        pytest.skip("no BLAS library loaded")
    (record,) = run_suite(suite, {}, threads=2)
    assert record["threads"] == 2 and seen == [[2]]
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] == before
