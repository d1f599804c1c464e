import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import InvalidInputError
from engine.sweep import ResultStore, parse_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[2]
TOY = "tests.engine.sweep_fixtures:toy_suite"


def _spec(tmp_path, body, name="s.toml"):
    p = tmp_path / name
    p.write_text(body)
    return p


def _toy(tmp_path, seeds="0-3", sizes='["3", "4"]', extra="", options=""):
    return _spec(tmp_path, f"""[sweep]
name = "toy"
workers = 1
{extra}
[[experiment]]
suite = "{TOY}"
seeds = "{seeds}"
[experiment.options]
{options}
[experiment.grid]
sizes = {sizes}
""")


def _values(store_dir):
    return {r["key"]: (r["case"], r["seed"], r["metrics"]["value"]) for r in ResultStore(store_dir).records()}


def test_grid_expands_and_keys_are_stable(tmp_path):
    spec = parse_sweep(_toy(tmp_path))
    assert len(spec.runs) == 8
    assert {(r.case, r.seed) for r in spec.runs} == {(f"n={n}", s) for n in (3, 4) for s in range(4)}
    again = parse_sweep(_toy(tmp_path))
    assert [r.key for r in spec.runs] == [r.key for r in again.runs]
    assert len({r.key for r in spec.runs}) == 8


@pytest.mark.parametrize("body,line,match", [
    ('[sweep]\nname = "x"\nwrkers = 2\n[[experiment]]\nsuite = "games"\n', 3, "unknown key 'wrkers'"),
    (f'[sweep]\n[[experiment]]\nsuite = "{TOY}"\nseeds = "4-1"\n', 4, "empty range"),
    (f'[[experiment]]\nsuite = "{TOY}"\n[experiment.grid]\nsizes = ["3", "x"]\n', 4, "bad value for --sizes"),
    (f'[[experiment]]\nsuite = "{TOY}"\n[experiment.options]\ncolour = "red"\n', 4, "unknown option --colour"),
    ('[[experiment]]\nsuite = "no_such_suite"\n', 2, "unknown suite"),
    ('[sweep]\nexecutor = "slurm"\n[[experiment]]\nsuite = "games"\n', 2, "executor"),
    (f'[[experiment]]\nsuite = "{TOY}"\n[experiment.grid]\nsizes = "3"\n', 4, "non-empty list"),
])
def test_spec_errors_name_the_line(tmp_path, body, line, match):
    path = _spec(tmp_path, body)
    with pytest.raises(InvalidInputError, match=match) as info:
        parse_sweep(path)
    assert f"{path}:{line}:" in str(info.value)


def test_toml_syntax_error_is_reported_with_position(tmp_path):
    with pytest.raises(InvalidInputError, match=r"line 2"):
        parse_sweep(_spec(tmp_path, "[sweep]\nname = \n"))


def test_resume_skips_done_runs_and_limit(tmp_path):
    spec = parse_sweep(_toy(tmp_path))
    out = tmp_path / "store"
    first = run_sweep(spec, out, limit=3)
    assert (first.ran, first.skipped, first.pending) == (3, 0, 5)
    second = run_sweep(spec, out)
    assert (second.ran, second.skipped, second.pending) == (5, 3, 0)
    third = run_sweep(spec, out)
    assert third.ran == 0 and third.skipped == 8
    index = json.loads((out / "index.json").read_text())
    assert len(index["runs"]) == 8


def test_retry_failed(tmp_path):
    spec = parse_sweep(_toy(tmp_path, options='fail = "true"'))
    out = tmp_path / "store"
    s1 = run_sweep(spec, out)
    assert s1.failed == 4 and s1.pending == 0  # odd seeds fail, and failed runs are done
    assert run_sweep(spec, out).ran == 0
    s3 = run_sweep(spec, out, retry_failed=True)
    assert s3.ran == 4 and s3.failed == 4
    errors = [r for r in ResultStore(out).records() if r["status"] == "error"]
    assert len(errors) == 4 and all("planned failure" in r["error"] for r in errors)


def test_pool_of_two_gives_the_same_records_as_one_process(tmp_path):
    spec = parse_sweep(_toy(tmp_path))
    run_sweep(spec, tmp_path / "one", workers=1)
    run_sweep(spec, tmp_path / "two", workers=2)
    assert _values(tmp_path / "one") == _values(tmp_path / "two")


def test_killed_sweep_loses_only_runs_in_flight(tmp_path):
    spec_path = _toy(tmp_path, seeds="0-9", sizes='["3"]', options="sleep = 0.25")
    out = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "sweep", str(spec_path), "--out", str(out),
                             "--workers", "1", "--no-progress", "-q"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / "records").glob("*.json"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    files = list((out / "records").glob("*.json"))
    assert 3 <= len(files) < 10, "the sweep was not interrupted mid-way"
    for f in files:
        json.loads(f.read_text())  # every record on disk is complete
    assert not [p for p in (out / "records").iterdir() if p.suffix != ".json"], "temp files left behind"
    summary = run_sweep(parse_sweep(spec_path), out)
    assert summary.skipped == len(files) and summary.ran == 10 - len(files) and summary.pending == 0


def test_ray_executor_gives_the_same_records(tmp_path):
    pytest.importorskip("ray")
    spec = parse_sweep(_toy(tmp_path, seeds="0-1"))
    run_sweep(spec, tmp_path / "local", workers=1)
    summary = run_sweep(spec, tmp_path / "ray", executor="ray", workers=2)
    assert summary.executor == "ray" and summary.ran == 4
    assert _values(tmp_path / "local") == _values(tmp_path / "ray")


def test_cli_dry_run_and_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    spec_path = _toy(tmp_path)
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "d"), "--dry-run", "--format", "json"]) == 0
    grid = json.loads(capsys.readouterr().out)
    assert len(grid) == 8 and {g["seed"] for g in grid} == {0, 1, 2, 3}
    assert not (tmp_path / "d").exists()
    bad = _spec(tmp_path, "[sweep]\nbogus = 1\n", "bad.toml")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:2:" in err
    failing = _toy(tmp_path, options='fail = "true"')
    assert main(["sweep", str(failing), "--out", str(tmp_path / "f"), "--no-progress"]) == 1
