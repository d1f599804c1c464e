"""Tests for games.suites: the ``games`` suite of engine-bench (options, cases, end to end)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.suites import RunContext, Suite
from games.normal_form import NormalFormGame, random_game
from games.suites import METHODS, _logit_residual, build_cases, games_suite


def test_suite_object_and_defaults():
    assert isinstance(games_suite, Suite) and games_suite.name == "games"
    assert [o.name for o in games_suite.options] == ["sizes", "players", "lams", "methods"]
    opts = games_suite.parse_options([])
    assert opts == {"sizes": [5, 10, 20], "players": 2, "lams": [1.0, 5.0, 10.0], "methods": None}
    cases = games_suite.cases(**opts)
    # per size: one QRE case per lambda, then Nash, then Stackelberg
    assert len(cases) == 3 * (3 + 2)
    assert [c.name for c in cases[:5]] == ["qre/n=5/lam=1", "qre/n=5/lam=5", "qre/n=5/lam=10", "nash/n=5",
                                           "stackelberg/n=5"]
    assert cases[0].params == {"n": 5, "players": 2, "method": "qre", "lam": 1.0}
    assert cases[4].params == {"n": 5, "players": 2, "method": "stackelberg"}
    assert len({c.name for c in cases}) == len(cases)


def test_option_parsing():
    opts = games_suite.parse_options(["--sizes", "3,4-6", "--lams=0,2.5", "--methods", "nash,qre,nash",
                                      "--players", "3"])
    assert opts == {"sizes": [3, 4, 5, 6], "players": 3, "lams": [0.0, 2.5], "methods": ["nash", "qre"]}
    cases = games_suite.cases(**opts)
    assert [c.name for c in cases[:3]] == ["qre/n=3/lam=0", "qre/n=3/lam=2.5", "nash/n=3"]
    assert len(cases) == 4 * 3
    assert all(c.params["players"] == 3 for c in cases)


@pytest.mark.parametrize("args, match", [
    (["--sizes", "0"], "--sizes.*>= 1"),
    (["--sizes", "a,b"], "--sizes"),
    (["--sizes", ""], "--sizes"),
    (["--players", "0"], "--players.*>= 1"),
    (["--players", "two"], "--players"),
    (["--lams", "-1"], "--lams.*>= 0"),
    (["--lams", "nan"], "--lams"),
    (["--lams", "inf"], "--lams"),
    (["--methods", "qre,lp"], "--methods.*unknown method 'lp'"),
    (["--size", "3"], "unknown option --size"),
    (["--sizes"], "needs a value"),
    (["5"], "unexpected argument"),
])
def test_bad_options_raise_invalid_input(args, match):
    with pytest.raises(InvalidInputError, match=match):
        games_suite.parse_options(args)


def test_stackelberg_needs_two_players():
    # by default it is dropped for other player counts...
    names = [c.name for c in build_cases(sizes=[2], players=3, lams=[1.0])]
    assert names == ["qre/n=2/lam=1", "nash/n=2"]
    # ...and asking for it explicitly is an error
    with pytest.raises(InvalidInputError, match="stackelberg needs --players 2"):
        build_cases(sizes=[2], players=3, methods=["stackelberg"])


def test_oversized_games_refused():
    with pytest.raises(InvalidInputError, match="contingencies"):
        build_cases(sizes=[1000], players=3)


def test_logit_residual_certificate():
    g = random_game(3, 4, seed=0)
    uniform = [np.full(3, 1 / 3), np.full(4, 1 / 4)]
    assert _logit_residual(g, uniform, 0.0) == 0.0  # lambda = 0: uniform play is the QRE
    assert _logit_residual(g, uniform, 5.0) > 1e-3
    # a strictly dominant strategy: the logit response has the closed form
    A = np.array([[1.0, 1.0], [0.0, 0.0]])
    h = NormalFormGame.from_arrays(A, np.zeros((2, 2)))
    p = 1 / (1 + math.exp(-2.0))
    assert _logit_residual(h, [[p, 1 - p], [0.5, 0.5]], 2.0) == pytest.approx(0.0, abs=1e-15)


# ----------------------------------------------------------------------------- runs (need the solvers)

def _run(case, seed=0):
    return dict(case.run(RunContext(seed=seed, repeat=0)))


def test_runs_report_certificates_and_are_deterministic():
    pytest.importorskip("games.qre")
    pytest.importorskip("games.nash")
    pytest.importorskip("games.stackelberg")
    cases = build_cases(sizes=[4], lams=[2.0])
    first = [_run(c, seed=3) for c in cases]
    again = [_run(c, seed=3) for c in cases]
    other = [_run(c, seed=4) for c in cases]
    qre, nash, stack = first
    assert qre["status"] == "optimal" and qre["residual"] <= 1e-10 and qre["residual_check"] <= 1e-10
    assert nash["n_equilibria"] >= 1 and nash["max_regret"] <= 1e-9 and nash["max_regret_check"] <= 1e-9
    assert stack["follower_regret"] <= 1e-9 and 0 <= stack["follower_action"] < 4
    assert 0.0 <= stack["leader_value"] <= 1.0  # payoffs are uniform in [0, 1]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "runtime"} for r in rows]  # noqa: E731
    assert strip(first) == strip(again)
    assert strip(first) != strip(other)
    assert all(r["runtime"] >= 0 for r in first)


def test_cli_end_to_end_json(capsys):
    pytest.importorskip("games.qre")
    pytest.importorskip("games.nash")
    pytest.importorskip("games.stackelberg")
    from engine.cli import main

    rc = main(["run", "games", "--sizes", "3", "--no-progress", "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = json.loads(out)
    assert [r["case"] for r in rows] == ["qre/n=3/lam=1", "qre/n=3/lam=5", "qre/n=3/lam=10", "nash/n=3",
                                         "stackelberg/n=3"]
    assert all(r["status"] != "error" for r in rows)
    for r in rows[:3]:
        assert r["residual"] <= 1e-10 and r["residual_check"] <= 1e-10
    assert rows[3]["max_regret"] <= 1e-9 and rows[3]["max_regret_check"] <= 1e-9
    assert rows[4]["follower_regret"] <= 1e-9 and math.isfinite(rows[4]["leader_value"])
    assert "5 runs, 0 failed" in err


def test_cli_three_players(capsys):
    pytest.importorskip("games.qre")
    pytest.importorskip("games.nash")
    from engine.cli import main

    rc = main(["run", "games", "--sizes", "2", "--players", "3", "--lams", "1", "--no-progress", "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rows = json.loads(out)
    assert [r["case"] for r in rows] == ["qre/n=2/lam=1", "nash/n=2"]
    assert rows[0]["residual"] <= 1e-10
    # pure-strategy enumeration may find no equilibrium; any it finds has zero regret
    assert rows[1]["n_equilibria"] == 0 or rows[1]["max_regret_check"] <= 1e-9


def test_time_limit_reaches_qre():
    pytest.importorskip("games.qre")
    case = build_cases(sizes=[3], lams=[1.0], methods=["qre"])[0]
    res = dict(case.run(RunContext(seed=0, repeat=0, time_limit=30.0)))
    assert res["status"] == "optimal" and res["residual"] <= 1e-10


# ----------------------------------------------------------------------------- what the CLI hands a run


def test_short_time_limit_returns_time_limit_for_every_method():
    pytest.importorskip("games.qre")
    for case in build_cases(sizes=[6], lams=[5.0]):
        res = dict(case.run(RunContext(seed=0, repeat=0, time_limit=1e-9)))
        assert res["status"] == "time_limit", case.name


def test_callback_sees_qre_iterations_and_can_stop_it():
    pytest.importorskip("games.qre")
    (case,) = build_cases(sizes=[8], lams=[10.0], methods=["qre"])
    events = []
    res = dict(case.run(RunContext(seed=0, repeat=0, callback=events.append)))
    assert res["status"] == "optimal" and events

    def stop(event):
        raise StopIteration

    assert dict(case.run(RunContext(seed=0, repeat=0, callback=stop)))["status"] == "stopped"


def test_threads_reach_the_solvers_and_the_record(monkeypatch):
    pytest.importorskip("games.qre")
    from engine.cli import run_suite
    from games import qre

    seen = []
    real = qre.logit_solve

    def spy(game, lam, **kwargs):
        seen.append(kwargs)
        return real(game, lam, **kwargs)

    spy.__signature__ = __import__("inspect").signature(real)
    monkeypatch.setattr(qre, "logit_solve", spy)
    records = run_suite(games_suite, games_suite.parse_options(["--sizes", "3", "--lams", "1", "--methods", "qre"]),
                        seed=5, threads=2, time_limit=60.0)
    assert records[0]["threads"] == 2 and records[0]["time_limit"] == 60.0 and records[0]["seed"] == 5
    timed = seen[-1]  # the warm-up runs without the run's options; the timed solve gets them
    assert timed["seed"] == 5 and 0 < timed["time_limit"] <= 60.0
    if "threads" in __import__("inspect").signature(real).parameters:
        assert timed["threads"] == 2
