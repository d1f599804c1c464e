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
    assert "toy" in out and "--n --fail" in out


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
