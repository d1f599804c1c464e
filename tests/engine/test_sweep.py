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
    spec = parse_sweep(_toy(tmp_path), allow_import=True)
    assert len(spec.runs) == 8
    assert {(r.case, r.seed) for r in spec.runs} == {(f"n={n}", s) for n in (3, 4) for s in range(4)}
    again = parse_sweep(_toy(tmp_path), allow_import=True)
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
        parse_sweep(path, allow_import=True)
    assert f"{path}:{line}:" in str(info.value)


def test_toml_syntax_error_is_reported_with_position(tmp_path):
    with pytest.raises(InvalidInputError, match=r"line 2"):
        parse_sweep(_spec(tmp_path, "[sweep]\nname = \n"), allow_import=True)


def test_resume_skips_done_runs_and_limit(tmp_path):
    spec = parse_sweep(_toy(tmp_path), allow_import=True)
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
    spec = parse_sweep(_toy(tmp_path, options='fail = "true"'), allow_import=True)
    out = tmp_path / "store"
    s1 = run_sweep(spec, out)
    assert s1.failed == 4 and s1.pending == 0  # odd seeds fail, and failed runs are done
    assert run_sweep(spec, out).ran == 0
    s3 = run_sweep(spec, out, retry_failed=True)
    assert s3.ran == 4 and s3.failed == 4
    errors = [r for r in ResultStore(out).records() if r["status"] == "error"]
    assert len(errors) == 4 and all("planned failure" in r["error"] for r in errors)


def test_pool_of_two_gives_the_same_records_as_one_process(tmp_path):
    spec = parse_sweep(_toy(tmp_path), allow_import=True)
    run_sweep(spec, tmp_path / "one", workers=1)
    run_sweep(spec, tmp_path / "two", workers=2)
    assert _values(tmp_path / "one") == _values(tmp_path / "two")


def test_killed_sweep_loses_only_runs_in_flight(tmp_path):
    spec_path = _toy(tmp_path, seeds="0-9", sizes='["3"]', options="sleep = 0.25")
    out = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "sweep", str(spec_path), "--out", str(out),
                             "--workers", "1", "--no-progress", "-q", "--allow-import"], env=env, cwd=ROOT,
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
    summary = run_sweep(parse_sweep(spec_path, allow_import=True), out)
    assert summary.skipped == len(files) and summary.ran == 10 - len(files) and summary.pending == 0


def test_ray_address_without_a_cluster_is_one_line(tmp_path, capsys, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if ray.is_initialized():
        pytest.skip("Ray already runs in this process")
    spec_path = _toy(tmp_path, seeds="0")
    rc = main(["sweep", str(spec_path), "--out", str(tmp_path / "out"), "--executor", "ray", "--ray-address", "auto",
               "--allow-import", "--no-progress"])
    if rc == 0:
        pytest.skip("a Ray cluster runs on this machine")
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 1 and out == "" and "Traceback" not in err
    assert len(lines) == 1 and "no Ray cluster running on this machine" in lines[0]
    assert "ray start --head" in lines[0] and "leave out --ray-address" in lines[0]
    # a host:port nobody listens on: the same line at once, not minutes of Ray retrying
    rc = main(["sweep", str(spec_path), "--out", str(tmp_path / "out"), "--executor", "ray", "--ray-address",
               "127.0.0.1:1", "--allow-import", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "no Ray cluster at 127.0.0.1:1" in err


def test_ray_executor_gives_the_same_records(tmp_path):
    pytest.importorskip("ray")
    spec = parse_sweep(_toy(tmp_path, seeds="0-1"), allow_import=True)
    run_sweep(spec, tmp_path / "local", workers=1)
    summary = run_sweep(spec, tmp_path / "ray", executor="ray", workers=2)
    assert summary.executor == "ray" and summary.ran == 4
    assert _values(tmp_path / "local") == _values(tmp_path / "ray")


def test_cli_dry_run_and_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    spec_path = _toy(tmp_path)
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "d"), "--dry-run", "--format", "json",
                 "--allow-import"]) == 0
    grid = json.loads(capsys.readouterr().out)
    assert len(grid) == 8 and {g["seed"] for g in grid} == {0, 1, 2, 3}
    assert not (tmp_path / "d").exists()
    bad = _spec(tmp_path, "[sweep]\nbogus = 1\n", "bad.toml")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:2:" in err
    failing = _toy(tmp_path, options='fail = "true"')
    assert main(["sweep", str(failing), "--out", str(tmp_path / "f"), "--no-progress", "--allow-import"]) == 1


# ---------------------------------------------------------------------------- hostile sweep files
@pytest.mark.parametrize("body,line,match", [
    ("[sweep]\nworkers = 1000000000000000000000000000000\n[[experiment]]\nsuite = \"games\"\n", 2,
     r"workers must be an integer in \[1, 1024\]"),
    ("[sweep]\nname = \"x\"\ntime_limit = nan\n[[experiment]]\nsuite = \"games\"\n", 3,
     "time_limit must be a positive finite number"),
    ("[sweep]\ntime_limit = inf\n[[experiment]]\nsuite = \"games\"\n", 2, "time_limit must be a positive finite"),
    ("[sweep]\ngpus_per_run = nan\n[[experiment]]\nsuite = \"games\"\n", 2, "gpus_per_run"),
    ("[sweep]\nthreads = 99999999\n[[experiment]]\nsuite = \"games\"\n", 2, "threads must be an integer"),
    ("[sweep]\nname = 3\n[[experiment]]\nsuite = \"games\"\n", 2, "name must be a string"),
    ("[[experiment]]\nsuite = \"games\"\nseeds = \"0-99999999999\"\n", 3, "'0-99999999999' has more than 100000 integers"),
    ("[[experiment]]\nsuite = \"games\"\nseeds = [-1]\n", 3, r"seeds must lie in \[0, 2\*\*63 - 1\]"),
    ("[[experiment]]\nsuite = 5\n", 2, "suite must be a suite name"),
    ("[sweep]\n[[experiment]]\nsuite = \"os:system\"\n", 3, "is an import path.*--allow-import"),
    ("# comment [[[[\n[[experiment]]\nsuite = \"games\"\n[experiment.options]\nx = \"[[[\"\ny = " + "[" * 5000
     + "]" * 5000 + "\n", 6, "nested deeper than 32 levels"),
    ("x = 1" + "0" * 5000 + "\n", 1, "digits"),
])
def test_hostile_sweep_files_are_usage_errors_with_a_line(tmp_path, body, line, match):
    path = _spec(tmp_path, body)
    with pytest.raises(InvalidInputError, match=match) as info:
        parse_sweep(path)
    assert f"{path}:{line}:" in str(info.value)


def test_sweep_file_with_invalid_utf8_names_the_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_bytes(b'[sweep]\nname = "ok"\nworkers = 1 # caf\xe9\n')
    with pytest.raises(InvalidInputError, match=rf"{path}:3: not valid UTF-8"):
        parse_sweep(path)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:3:" in err and "Traceback" not in err


def test_a_huge_grid_is_refused_before_it_is_expanded(tmp_path, capsys):
    values = ", ".join(f'"{i}"' for i in range(10))
    grid = "\n".join(f"k{j} = [{values}]" for j in range(7))  # 10**7 combinations
    path = _spec(tmp_path, f'[[experiment]]\nsuite = "{TOY}"\nseeds = "0-9"\n[experiment.grid]\n{grid}\n')
    with pytest.raises(InvalidInputError, match=r"10000000 option combinations x 10 seeds = 100000000 runs .* limit of "
                                                r"100000 runs") as info:
        parse_sweep(path, allow_import=True)
    assert f"{path}:4:" in str(info.value)
    small = _toy(tmp_path, seeds="0-3")  # 8 runs
    with pytest.raises(InvalidInputError, match="limit of 5 runs"):
        parse_sweep(small, allow_import=True, max_runs=5)
    assert len(parse_sweep(small, allow_import=True, max_runs=8).runs) == 8
    assert main(["sweep", str(small), "--out", str(tmp_path / "o"), "--allow-import", "--max-runs", "5"]) == 2
    assert "limit of 5 runs" in capsys.readouterr().err


def test_import_paths_need_allow_import(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    spec_path = _toy(tmp_path)
    with pytest.raises(InvalidInputError, match=r":6: suite 'tests.engine.sweep_fixtures:toy_suite' is an import path"):
        parse_sweep(spec_path)
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "d"), "--dry-run"]) == 2
    assert "--allow-import" in capsys.readouterr().err
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "d"), "--dry-run", "--allow-import"]) == 0
    # nothing named in a refused file was imported
    sys.modules.pop("tests.engine._never_imported", None)
    refused = _spec(tmp_path, '[[experiment]]\nsuite = "tests.engine._never_imported:x"\n', "r.toml")
    with pytest.raises(InvalidInputError, match="import path"):
        parse_sweep(refused)
    assert "tests.engine._never_imported" not in sys.modules


# ---------------------------------------------------------------------------- resume and the pool
def test_resume_reruns_a_truncated_record_listed_in_the_index(tmp_path):
    spec = parse_sweep(_toy(tmp_path), allow_import=True)
    out = tmp_path / "store"
    run_sweep(spec, out)
    index = json.loads((out / "index.json").read_text())
    victim = sorted(index["runs"])[0]
    record = out / "records" / f"{victim}.json"
    full = record.read_text()
    record.write_text(full[: len(full) // 2])  # truncated, still listed in index.json
    other = out / "records" / f"{sorted(index['runs'])[1]}.json"
    other.write_text(json.dumps({**json.loads(other.read_text()), "key": "someone-else"}))  # not its own record
    store = ResultStore(out)
    assert victim not in store and set(store.damaged) == {victim, other.stem}
    summary = run_sweep(spec, out)
    assert summary.ran == 2 and summary.skipped == 6 and summary.pending == 0
    assert json.loads(record.read_text()) == json.loads(full) or json.loads(record.read_text())["key"] == victim
    assert not ResultStore(out).damaged


def test_resume_removes_stale_temp_files(tmp_path):
    spec = parse_sweep(_toy(tmp_path, seeds="0"), allow_import=True)
    out = tmp_path / "store"
    run_sweep(spec, out)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / "records" / f".{spec.runs[0].key}.json.{dead.pid}.00000000.tmp"
    stale.write_text('{"half')
    stale_index = out / f".index.json.{dead.pid}.11111111.tmp"
    stale_index.write_text("{")
    run_sweep(spec, out)
    assert not stale.exists() and not stale_index.exists()


def _process_table():
    table = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(d)] = (int(fields[1]), fields[0])  # ppid, state
    return table


def _descendants(pid):
    table = _process_table()
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _) in table.items():
            if ppid == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_killed_sweep_leaves_no_process_behind(tmp_path):
    spec_path = _toy(tmp_path, seeds="0-40", sizes='["3"]', options="sleep = 0.3")
    spec_path.write_text(spec_path.read_text().replace("workers = 1", "workers = 2"))
    out = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "sweep", str(spec_path), "--out", str(out),
                             "--no-progress", "-q", "--allow-import"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(list((out / "records").glob("*.json"))) < 2:
            time.sleep(0.05)
        children = _descendants(proc.pid)
        assert len(children) >= 3, "expected the forkserver, two workers (and the resource tracker)"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.time() + 20
    while True:
        table = _process_table()
        alive = [p for p in children if p in table and table[p][1] != "Z"]
        if not alive or time.time() > deadline:
            break
        time.sleep(0.1)
    for pid in alive:  # do not leave them running for the rest of the test session
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"processes outlived the killed sweep: {alive}"
