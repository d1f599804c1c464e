"""The cormab suite hands its certified bound to the fluid policy as a warm start (issue 19): the
first decision starts from the bound's basis, and the values do not change."""

import json
import math

import pytest

import bandits
import bandits.documents  # noqa: F401 - registers the cormab document kind
import bandits.suites as suites
from bandits.bounds import fluid_bound
from bandits.evaluate import start_states
from bandits.suites import run_cormab
from engine.cli import main

_RUN = {"seed": 0, "episodes": 1, "eval_episodes": 4, "horizon": 5, "methods": ["fluid"]}


def _capture(monkeypatch):
    """Record the fluid policies run_cormab builds."""
    made = []
    real = suites.policies.fluid

    def fluid(*args, **kwargs):
        pol = real(*args, **kwargs)
        made.append(pol)
        return pol

    monkeypatch.setattr(suites.policies, "fluid", fluid)
    return made


@pytest.mark.parametrize("dom", ["budget", "matching", "capacity"])
def test_suite_warm_starts_fluid_from_the_bound(dom, monkeypatch):
    made = _capture(monkeypatch)
    warm = run_cormab(dom, 8, 3, bound=True, **_RUN)
    cold = run_cormab(dom, 8, 3, bound=False, **_RUN)
    assert warm["fluid_warm_start"] is True and "fluid_warm_start_skipped" not in warm
    assert cold["fluid_warm_start"] is False
    w, c = made
    assert w.stats["warm_start"] and not c.stats["warm_start"]
    # the first decision loaded the bound's basis (kept as the h = H basis)
    assert w.stats["basis_loads"] >= 1
    assert c.stats["basis_loads"] < w.stats["basis_loads"]
    assert math.isfinite(warm["fluid_fraction"])
    # a warm start changes the work, not the LP's optimum: the same decisions, the same returns
    assert warm["fluid_mean"] == pytest.approx(cold["fluid_mean"], abs=1e-12)
    assert warm["fluid_sem"] == pytest.approx(cold["fluid_sem"], abs=1e-12)


def test_suite_skips_a_bound_with_merged_units(monkeypatch):
    made = _capture(monkeypatch)
    out = run_cormab("multiple_interventions", 8, 3, bound=True, **_RUN)
    assert out["fluid_warm_start"] is False
    assert "merges arms" in out["fluid_warm_start_skipped"]
    assert not made[0].stats["warm_start"]
    assert math.isfinite(out["fluid_mean"]) and math.isfinite(out["certified_bound"])


@pytest.mark.parametrize("dom", ["matching", "capacity"])
def test_cli_solve_fluid_warm_starts_from_its_bound(dom, tmp_path, capsys):
    """`engine-bench solve problem.json --method fluid` computes the bound first and warm-starts the policy
    from it (documents hold pull-bit arms only: the LPs match); the value is the previous cold 20-step
    policy's on the same starts."""
    p = bandits.make_domain(dom, n_arms=8, budget=3, seed=2)
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(p.to_dict()))
    rc = main(["solve", str(path), "--method", "fluid", "--eval-episodes", "4", "--horizon", "5", "--format", "json",
               "-q"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["params"]["bound"]["warm_start"] is True
    cold = bandits.evaluate(p, bandits.policies.fluid(p, horizon=20), episodes=4, horizon=5, seed=0)
    assert doc["mean"] == pytest.approx(cold.mean, abs=1e-12)
    # the bound computed first is the one on the evaluation's own start states
    fb = fluid_bound(p, horizon=5, initial=start_states(p, 4, seed=0))
    assert doc["params"]["certified_bound"] == pytest.approx(fb.certified, abs=1e-9)
