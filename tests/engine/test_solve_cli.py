"""End-to-end tests of `engine-bench solve` (engine/solve.py) on files the tests write: one per
kind and form, standard input, the README's examples, errors and exit codes, `run --instances`."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import bandits.documents  # noqa: F401 - registers the result kinds the documents name
import games.documents  # noqa: F401
from engine.cli import main
from engine.result import SolveResult
from engine.schemas import validate
from engine.solve import Source, detect, load_kinds, strict_json

from tests.engine.solve_fixtures import (README_COMMANDS, README_STDIN, write_inputs, write_readme_files)

SCRIPTS = Path(sysconfig.get_path("scripts"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("inputs"))


def solve(capsys, *args):
    """Run `engine-bench solve ARGS`; return (exit code, stdout, stderr)."""
    rc = main(["solve", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def solve_json(capsys, *args):
    rc, out, err = solve(capsys, *args, "--format", "json")
    doc = json.loads(out)
    validate(doc, expected="gameplan/result")
    return rc, doc, err


def test_kinds_are_installed_entry_points():
    assert {k.name for k in load_kinds()} >= {"game", "gtalign", "cormab", "submodular", "map"}


@pytest.mark.parametrize("label, kind", [("nfg", "game"), ("game_json", "game"), ("cormab", "cormab"),
                                         ("submodular", "submodular"), ("knapsack", "submodular"),
                                         ("map_json", "map"), ("map_png", "map"), ("map_npy", "map"),
                                         ("gtalign", "gtalign")])
def test_detects_kind_by_content_not_name(inputs, tmp_path, label, kind):
    data = inputs[label].read_bytes()
    assert detect(Source(data, name="x")).name == kind
    odd = tmp_path / "input.txt"  # the name says nothing
    odd.write_bytes(data)
    assert detect(Source(odd.read_bytes(), name=odd.name, path=odd)).name == kind


def test_nfg_default_is_every_nash_equilibrium_with_certificates(inputs, capsys):
    rc, doc, err = solve_json(capsys, inputs["nfg"])
    assert rc == 0
    res = SolveResult.from_dict(doc)
    assert res.method == "vertex_enumeration" and res.n_equilibria == 3
    assert max(res.max_regrets) <= 1e-12
    assert res.rational[1] == (("3/5", "2/5"), ("2/5", "3/5"))
    assert doc["params"]["input"] == {"kind": "game", "name": "game.nfg", "bytes": inputs["nfg"].stat().st_size}
    assert "game.nfg: game, vertex_enumeration: optimal" in err


def test_nfg_table_lists_equilibria(inputs, capsys):
    rc, out, _ = solve(capsys, inputs["nfg"])
    assert rc == 0 and "3/5 2/5" in out and "vertex_enumeration" in out


def test_game_json_qre_residual_certificate(inputs, capsys):
    rc, doc, _ = solve_json(capsys, inputs["game_json"], "--method", "qre", "--lam", "2")
    res = SolveResult.from_dict(doc)
    assert rc == 0 and res.status.value == "optimal" and res.residual < 1e-10
    np.testing.assert_allclose(res.lam, [2.0, 2.0])


def test_game_branch_and_stackelberg(inputs, capsys):
    rc, doc, _ = solve_json(capsys, inputs["nfg"], "--method", "branch")
    assert rc == 0 and doc["max_regret"] <= 1e-8
    rc, doc, _ = solve_json(capsys, inputs["nfg"], "--method", "stackelberg", "--leader", "1")
    res = SolveResult.from_dict(doc)
    assert rc == 0 and res.leader == 1 and res.leader_value == pytest.approx(3.0)


def test_stdin(inputs, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(inputs["nfg"].read_bytes())))
    rc, doc, _ = solve_json(capsys, "-")
    assert rc == 0 and doc["params"]["input"]["name"] == "<stdin>" and len(doc["equilibria"]["__tuple__"]) == 3


def test_cormab_default_is_myopic_evaluated(inputs, capsys):
    rc, doc, _ = solve_json(capsys, inputs["cormab"], "--eval-episodes", "5", "--horizon", "4", "--seed", "3")
    res = SolveResult.from_dict(doc)
    assert rc == 0 and res.method == "myopic+monte_carlo" and res.status.value == "feasible"  # an estimate
    assert res.returns.shape == (5,) and res.params["seed"] == 3 and res.params["policy"] == "myopic"


def test_cormab_state_returns_the_action(inputs, capsys):
    from bandits.problem import CoRMAB

    rc, doc, _ = solve_json(capsys, inputs["cormab"], "--state", "[0,1,2,0]")
    res = SolveResult.from_dict(doc)
    problem = CoRMAB.from_dict(inputs["cormab"])
    assert rc == 0 and res.status.value == "optimal" and problem.contains(res.action)
    best = max(problem.expected_reward(np.array([[0, 1, 2, 0]] * len(a)), a)[0] for a in problem.feasible_actions()[:, None])
    assert res.objective == pytest.approx(best)


def test_cormab_sequoia_trains_saves_and_decides_with_saved_agent(inputs, capsys, tmp_path):
    from bandits.problem import CoRMAB
    from bandits.sequoia import Sequoia

    agent_path = tmp_path / "agent.pt"
    rc, doc, err = solve_json(capsys, inputs["cormab"], "--method", "sequoia", "--episodes", "2",
                              "--warm-start-steps", "10", "--eval-episodes", "2", "--horizon", "3",
                              "--save", agent_path)
    assert rc == 0 and agent_path.is_file() and doc["params"]["training"]["episodes"] == 2
    assert "agent saved to" in doc["message"]
    rc, doc, _ = solve_json(capsys, inputs["cormab"], "--policy", agent_path, "--state", "[0,1,2,0]")
    problem = CoRMAB.from_dict(inputs["cormab"])
    expected = Sequoia.load(agent_path, problem).act([0, 1, 2, 0])
    assert rc == 0 and doc["method"] == "sequoia" and doc["action"]["__ndarray__"] == expected.tolist()


def test_cormab_sequoia_time_limit_cuts_training(inputs, capsys):
    rc, doc, _ = solve_json(capsys, inputs["cormab"], "--method", "sequoia", "--episodes", "100000",
                            "--warm-start-steps", "10", "--horizon", "3", "--eval-episodes", "2",
                            "--time-limit", "0.5")
    assert rc == 1 and doc["status"] == "time_limit"
    assert doc["params"]["training"]["status"] in ("stopped", "time_limit")
    assert doc["params"]["training"]["episodes"] < 100000


def test_submodular_cardinality_and_knapsack(inputs, capsys):
    rc, doc, _ = solve_json(capsys, inputs["submodular"])
    assert rc == 0 and doc["selected"]["__ndarray__"] == [0, 2] and doc["value"] == 6.0  # every item: the optimum
    rc, doc, _ = solve_json(capsys, inputs["knapsack"])
    res = SolveResult.from_dict(doc)
    assert rc == 0 and type(res).__name__ == "KnapsackResult" and res.cost <= 2


@pytest.mark.parametrize("label", ["map_json", "map_png", "map_npy"])
def test_map_explored(inputs, capsys, label):
    rc, doc, _ = solve_json(capsys, inputs[label], "--planner", "nearest_frontier")
    res = SolveResult.from_dict(doc)
    assert rc == 0 and res.finish_reason == "explored" and res.explored[-1] == pytest.approx(1.0)
    assert res.method == "nearest_frontier"


def test_map_time_limit_returns_incumbent_exit_1(capsys, tmp_path):
    from planning.exploration import maps

    path = maps.save_map(maps.indoor(200, seed=0), tmp_path / "big.json")
    rc, doc, err = solve_json(capsys, path, "--time-limit", "0.3")
    assert rc == 1 and doc["status"] == "time_limit" and doc["finish_reason"] == "time_limit"
    assert len(doc["trajectory"]["__ndarray__"]) >= 1 and "time_limit" in err


def test_gtalign_jsonl(inputs, capsys):
    rc, doc, _ = solve_json(capsys, inputs["gtalign"])
    res = SolveResult.from_dict(doc)
    assert rc == 0 and res.status.value == "feasible" and res.matrices == 1 and res.errors == 1
    assert res.records[0]["action"] == "AQ" and "missing cell" in res.records[1]["error"]


def test_out_writes_the_document_atomically(inputs, capsys, tmp_path):
    out = tmp_path / "res" / "result.json"
    rc, stdout, _ = solve(capsys, inputs["submodular"], "--out", out)
    assert rc == 0 and "selected" in stdout  # the table on stdout, the document in the file
    doc = json.loads(out.read_text())
    validate(doc, expected="gameplan/result")
    assert doc == strict_json(doc) and not list(out.parent.glob(".*tmp*"))
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_strict_json_has_no_nan(inputs, capsys):
    rc, out, _ = solve(capsys, inputs["nfg"], "--method", "qre", "--format", "json")
    assert "NaN" not in out and "Infinity" not in out
    assert json.loads(out)["bound"] is None  # nan in the result, null in the document


@pytest.mark.parametrize("content, needle", [
    (b"hello world", "cannot tell what"),
    (b"", "is empty"),
    (b'{"schema": "gameplan/run_record", "version": 1}', "which solve does not take"),
    (b'{"payoffs": [[1]]', "is not valid JSON"),
    (b'{"a": 1}', "names no known 'schema'"),
])
def test_unknown_input_is_usage_error_naming_what_is_accepted(capsys, tmp_path, content, needle):
    path = tmp_path / "input"
    path.write_bytes(content)
    rc, out, err = solve(capsys, path)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err
    if needle != "is empty":
        assert "accepted:" in err and "Gambit .nfg" in err and "gameplan/cormab" in err and "PNG" in err


def test_malformed_document_names_the_field(inputs, capsys, tmp_path):
    doc = json.loads(inputs["cormab"].read_text())
    doc["rewards"][1][0] = "x"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    rc, _, err = solve(capsys, path)
    assert rc == 2 and "$['rewards'][1][0]" in err and err.count("\n") == 1


@pytest.mark.parametrize("args, needle", [
    (["--method", "simplex"], "has no method 'simplex'"),
    (["--lam", "-1", "--method", "qre"], "bad value for --lam"),
    (["--bogus", "1"], "takes no option --bogus"),
    (["--leader", "0"], "--leader applies to --method stackelberg"),
    (["--time-limit", "0"], "time limit must be > 0"),
    (["--threads", "0"], "threads must be an integer >= 1"),
])
def test_bad_options_exit_2_one_line(inputs, capsys, args, needle):
    rc, _, err = solve(capsys, inputs["nfg"], *args)
    assert rc == 2 and needle in err and err.count("\n") == 1


def test_missing_file_and_input_limit(capsys, tmp_path, inputs):
    rc, _, err = solve(capsys, tmp_path / "nope.nfg")
    assert rc == 2 and "no such file" in err
    rc, _, err = solve(capsys, inputs["nfg"], "--max-bytes", "10")
    assert rc == 2 and "input limit of 10" in err


def test_debug_shows_the_traceback(capsys, tmp_path):
    path = tmp_path / "x"
    path.write_text("hello")
    assert main(["--debug", "solve", str(path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_help_lists_kinds_methods_and_options(capsys):
    assert main(["solve", "--help"]) == 0
    out = capsys.readouterr().out
    for needle in ("game: Gambit .nfg", "--lam", "stackelberg", "cormab:", "--state", "--policy", "map:",
                   "--planner", "submodular:", "gtalign:"):
        assert needle in out


def test_run_instances_games_and_submodular(inputs, capsys):
    directory = inputs["nfg"].parent
    rc = main(["run", "games", "--instances", str(directory / "*.nfg"), "--methods", "nash,stackelberg",
               "--format", "json", "--no-progress", "-q"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["case"] for r in rows] == [f"nash/{directory / 'game.nfg'}",
                                                     f"stackelberg/{directory / 'game.nfg'}"]
    assert rows[0]["n_equilibria"] == 1 and rows[0]["max_regret_check"] <= 1e-9  # lemke_howson finds one
    rc = main(["run", "submodular", "--instances", str(directory / "sensors.json"), "--methods", "lazy,greedy",
               "--format", "json", "--no-progress", "-q"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(rows) == 2 and all(r["value"] == r["value_check"] == 6.0 for r in rows)
    assert all("/k=2/" in r["case"] for r in rows)  # the instance's own k


def test_run_instances_cormab(inputs, capsys):
    """The cormab suite's baselines on the user's problem file, summarised per file, each method as a
    fraction of the certified fluid bound on the same evaluation start states (a row of its own)."""
    from bandits import CoRMAB

    rc = main(["run", "cormab", "--instances", str(inputs["cormab"]), "--methods", "myopic,random",
               "--eval-episodes", "4", "--horizon", "5", "--seeds", "0,1", "--format", "json", "--no-progress", "-q"])
    rows = json.loads(capsys.readouterr().out)
    problem = CoRMAB.from_dict(inputs["cormab"])
    name = inputs["cormab"].name
    case = f"{name} J={problem.n_arms} B={problem.budget}"
    assert rc == 0 and [(r["case"], r["method"], r["seeds"]) for r in rows] == [
        (case, "myopic", 2), (case, "random", 2), (case, "certified bound", 2)]
    assert all(np.isfinite(r["mean"]) for r in rows)
    bound = rows[2]["mean"]
    for r in rows[:2]:  # the mean of the per-seed fractions: near mean / bound (both seeds share the instance)
        assert 0 < r["fraction_of_bound"] and abs(r["fraction_of_bound"] - r["mean"] / bound) < 0.05


def test_run_instances_exploration(inputs, capsys):
    """The exploration suite's planners on the user's map file (a PNG here), one run per planner."""
    rc = main(["run", "exploration", "--instances", str(inputs["map_png"]), "--planners", "nearest_frontier",
               "--format", "json", "--no-progress", "-q"])
    rows = json.loads(capsys.readouterr().out)
    per_map = [r for r in rows if r["map"] == inputs["map_png"].name]
    assert rc == 0 and len(per_map) == 1 and per_map[0]["planner"] == "nearest_frontier", rows
    assert per_map[0]["runs"] == 1 and per_map[0]["failed"] == 0


def test_run_instances_refuses_other_kinds(inputs, capsys):
    rc = main(["run", "games", "--instances", str(inputs["cormab"]), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "is a cormab" in err
    rc = main(["run", "games", "--instances", str(inputs["nfg"].parent / "*.nothing"), "--no-progress"])
    assert rc == 2 and "no file matches" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the README's examples
@pytest.fixture(scope="module")
def readme_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    write_readme_files(d)
    return d


@pytest.mark.parametrize("line", README_COMMANDS)
def test_readme_cli_example(readme_dir, capsys, monkeypatch, line):
    monkeypatch.chdir(readme_dir)
    argv = shlex.split(line)
    assert argv[0] == "engine-bench"
    if "--policy" in argv and not (readme_dir / "agent.pt").exists():
        assert main(shlex.split(README_COMMANDS[6])[1:] + ["-q"]) == 0  # the --save example makes agent.pt
        capsys.readouterr()
    if "--instances" not in argv:
        argv.append("-q")
    rc = main(argv[1:])
    out, err = capsys.readouterr()
    assert rc == 0, err
    if "--format" in argv:
        validate(json.loads(out), expected="gameplan/result")
    if "--out" in argv:
        validate(json.loads((readme_dir / "result.json").read_text()), expected="gameplan/result")


def test_readme_stdin_example_through_the_console_script(readme_dir):
    env = {**os.environ, "PATH": f"{SCRIPTS}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-c", README_STDIN], cwd=readme_dir, env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    validate(doc, expected="gameplan/result")
    assert doc["params"]["input"]["name"] == "<stdin>" and doc["method"] == "vertex_enumeration"


# ---------------------------------------------------------------------------- game trees (.efg)
def test_solve_game_tree_file(tmp_path, capsys):
    """A Gambit .efg file (Kuhn poker): the sequence-form LP gives the value -1/18 with a zero-regret
    certificate; Stackelberg with the second player leading; the document is schema-valid."""
    from games import write_efg
    from games.efg import kuhn_poker

    path = tmp_path / "kuhn.efg"
    write_efg(kuhn_poker(), path)
    rc = main(["solve", str(path), "--format", "json", "-q"])
    doc = json.loads(capsys.readouterr().out)
    validate(doc, expected="gameplan/result")
    assert rc == 0 and doc["method"] == "sequence_form_lp" and doc["status"] == "optimal"
    assert abs(doc["value"] + 1 / 18) < 1e-9 and doc["max_regret"] <= 1e-9
    rc = main(["solve", str(path), "--method", "stackelberg", "--leader", "1", "--format", "json", "-q"])
    doc = json.loads(capsys.readouterr().out)
    validate(doc, expected="gameplan/result")
    assert rc == 0 and doc["status"] == "optimal"
    rc = main(["solve", str(path), "--method", "subgame_perfect", "--format", "json", "-q"])
    doc = json.loads(capsys.readouterr().out)  # hidden cards: no proper subgame, the LP on the whole tree
    assert rc == 0 and doc["subgame_max_regret"] <= 1e-9 and abs(doc["payoffs"]["__ndarray__"][0] + 1 / 18) < 1e-9


def test_solve_cormab_fluid_policy_with_the_certified_bound(inputs, capsys):
    """--method fluid evaluates the fluid re-planning policy and quotes the certified fluid bound on every
    policy's value: the Monte Carlo mean is below it up to its noise, and myopic is not above it either."""
    rc, doc, _ = solve_json(capsys, inputs["cormab"], "--method", "fluid", "--eval-episodes", "40", "--horizon", "10")
    bound = doc["params"]["certified_bound"]
    assert rc == 0 and doc["status"] == "feasible" and doc["method"] == "fluid+monte_carlo"
    assert doc["mean"] <= bound + 4 * doc["sem"] + 1e-9 and "certified bound" in doc["message"]
