from bandits.suites import cormab_suite, run_cormab, summarize_cormab
from engine.seeding import derive_seed


def test_run_and_summarize_tiny():
    rec = run_cormab("capacity", 6, 2, seed=0, episodes=2, eval_episodes=3, horizon=3,
                     methods=["null", "myopic", "sequoia"], sequoia_options={"warm_start_steps": 10})
    assert {"null_mean", "myopic_mean", "sequoia_mean", "gain_pct", "sequoia_train_time"} <= set(rec)
    rows = summarize_cormab([{"status": "ok", "metrics": rec}])
    assert [r["method"] for r in rows][-1].startswith("gain vs")


def test_run_records_evaluation_solver_stats():
    # the evaluation's argmax solves are counted apart from training's: J = 6 enumerates, so all proven
    rec = run_cormab("capacity", 6, 2, seed=0, episodes=1, eval_episodes=2, horizon=3, methods=["sequoia"],
                     sequoia_options={"warm_start_steps": 5})
    assert 1 <= rec["sequoia_eval_decisions"] <= 2 * 3
    assert rec["sequoia_eval_solves"] == rec["sequoia_eval_decisions"]
    assert rec["sequoia_eval_fraction_proven"] == 1.0 and rec["sequoia_eval_fallbacks"] == 0
    assert rec["sequoia_eval_time_per_solve"] >= 0.0


def test_suite_options():
    opts = cormab_suite.parse_options(["--domain", "all", "--arms", "20,40", "--budget", "5,10", "--seeds", "0-4"])
    assert opts["seeds"] == [0, 1, 2, 3, 4] and len(opts["domain"]) == 4
    assert len(cormab_suite.cases(**opts)) == 4 * 2 * 5


# ----------------------------------------------------------------------------- what the CLI hands a run

import math  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from engine.errors import InvalidInputError  # noqa: E402
from engine.events import Iteration, Progress  # noqa: E402
from engine.suites import RunContext  # noqa: E402

_TINY = dict(episodes=2, eval_episodes=3, horizon=3, methods=["null", "random", "sequoia"],
             sequoia_options={"warm_start_steps": 5})


def test_time_limit_bounds_training_and_evaluation():
    t0 = time.perf_counter()
    rec = run_cormab("capacity", 6, 2, seed=0, episodes=10**6, eval_episodes=5, horizon=3,
                     methods=["null", "myopic", "sequoia"], time_limit=2.0)
    assert time.perf_counter() - t0 < 60  # a million episodes would take hours: the limit bounds training
    assert rec["status"] == "time_limit"
    assert rec["sequoia_train_status"] == "time_limit" and rec["sequoia_train_episodes"] < 10**6
    assert "null_mean" in rec  # what was reached is reported


def test_time_limit_cuts_an_evaluation_to_the_steps_done():
    from bandits import domains, policies
    from bandits.evaluate import evaluate

    problem = domains.make_domain("capacity", n_arms=6, budget=2, seed=0)
    res = evaluate(problem, policies.null(problem), episodes=4, horizon=5, seed=0, time_limit=1e-9)
    assert res.status.value == "time_limit" and res.params["steps_done"] == 0 and math.isnan(res.mean)

    def stop_at_2(event):
        if event.completed >= 2:
            raise StopIteration

    res = evaluate(problem, policies.null(problem), episodes=4, horizon=5, seed=0, callback=stop_at_2)
    assert res.status.value == "stopped" and res.params["steps_done"] == 2 and res.step_rewards.shape == (2,)


def test_run_seed_gives_other_trainings_and_evaluations():
    a = run_cormab("capacity", 6, 2, seed=0, **_TINY)
    b = run_cormab("capacity", 6, 2, seed=0, run_seed=1, **_TINY)
    again = run_cormab("capacity", 6, 2, seed=0, run_seed=1, **_TINY)
    assert (a["train_seed"], a["eval_seed"]) == (0, derive_seed(0, "cormab/eval"))  # both follow the seed
    assert (b["train_seed"], b["eval_seed"]) != (a["train_seed"], a["eval_seed"])
    assert b["random_mean"] == again["random_mean"] and b["random_mean"] != a["random_mean"]


def test_threads_reach_sequoia_and_myopic():
    rec = run_cormab("capacity", 6, 2, seed=0, threads=2, **{**_TINY, "methods": ["myopic", "sequoia"]})
    assert rec["threads"] == 2 and rec["sequoia_params"]["threads"] == 2


def test_callback_sees_episodes_and_steps_and_can_stop():
    events = []
    rec = run_cormab("capacity", 6, 2, seed=0, callback=events.append, **_TINY)
    assert rec["status"] == "feasible"
    episodes = [e for e in events if isinstance(e, Progress) and e.source == "Sequoia.train"]
    steps = [e for e in events if isinstance(e, Progress) and e.source == "evaluate()"]
    assert [e.completed for e in episodes] == [1, 2] and len(steps) == 3 * 3  # 3 methods x horizon 3
    assert any(isinstance(e, Iteration) for e in events)

    def stop_in_training(event):
        if getattr(event, "source", "") == "Sequoia.train":
            raise StopIteration

    rec = run_cormab("capacity", 6, 2, seed=0, callback=stop_in_training, **_TINY)
    assert rec["status"] == "stopped" and rec["sequoia_train_status"] == "stopped" and "sequoia_mean" not in rec


def test_suite_run_passes_the_context():
    opts = cormab_suite.parse_options(["--arms", "6", "--budget", "2", "--episodes", "2", "--eval-episodes", "2",
                                       "--horizon", "3", "--methods", "null,random"])
    (case,) = cormab_suite.cases(**opts)
    out = dict(case.run(RunContext(seed=3, repeat=0, threads=2)))
    assert out["status"] == "feasible" and out["threads"] == 2 and out["train_seed"] != 0
    cut = dict(case.run(RunContext(seed=0, repeat=0, time_limit=1e-9)))
    assert cut["status"] == "time_limit"


@pytest.mark.parametrize("args, match", [
    (["--budget", "-1"], "bad value for --budget: '-1' (must be >= 1"),
    (["--arms", "4", "--budget", "5"], "--budget 5 exceeds --arms 4"),
    (["--arms", "4,6", "--budget", "2"], "same number of entries"),
    (["--horizon", "0"], "bad value for --horizon"),
    (["--methods", "myopic,oracle"], "unknown method 'oracle'"),
])
def test_bad_options_one_line_exit_2(capsys, args, match):
    from engine.cli import main

    assert main(["run", "cormab", "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err, err


def test_summary_sem_and_gain_unit():
    rec = run_cormab("capacity", 6, 2, seed=0, **{**_TINY, "methods": ["null", "sequoia"]})
    rows = summarize_cormab([{"status": "feasible", "metrics": rec}])
    assert all(math.isnan(r["sem"]) for r in rows)  # one seed: no SEM (the table shows —)
    assert rows[-1]["method"] == "gain vs null (%)"
    cut = summarize_cormab([{"status": "time_limit", "metrics": {**rec}}])
    assert cut[0]["cut"] == 1 and not any(r["method"].startswith("gain") for r in cut)


def test_plot_file_png_writes_that_file(tmp_path):
    target = tmp_path / "curves.png"
    opts = cormab_suite.parse_options(["--arms", "6", "--budget", "2", "--episodes", "2", "--eval-episodes", "2",
                                       "--horizon", "3", "--methods", "sequoia", "--seeds", "0,1",
                                       "--plot", str(target)])
    for case in cormab_suite.cases(**opts):
        case.run(RunContext(seed=0, repeat=0))
    assert target.is_file() and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]


def test_every_method_as_a_fraction_of_the_certified_bound():
    from bandits.bounds import fluid_bound
    from bandits.domains import make_domain
    from bandits.evaluate import start_states
    from bandits.suites import gain_over_best

    rec = run_cormab("path", 5, 2, seed=1, eval_episodes=3, horizon=4, methods=["null", "myopic", "fluid"])
    p = make_domain("path", n_arms=5, budget=2, seed=1)
    fb = fluid_bound(p, horizon=4, initial=start_states(p, 3, seed=rec["eval_seed"]))  # the evaluation's starts
    assert rec["certified_bound"] == pytest.approx(fb.certified, abs=1e-9)
    for m in ("null", "myopic", "fluid"):
        assert rec[f"{m}_fraction"] == pytest.approx(rec[f"{m}_mean"] / rec["certified_bound"])
    assert rec["fluid_fraction"] >= rec["null_fraction"]
    rows = summarize_cormab([rec, {**rec, "seed": 2}])
    by = {r["method"]: r for r in rows}
    assert by["fluid"]["fraction_of_bound"] == pytest.approx(rec["fluid_fraction"])
    assert by["certified bound"]["mean"] == pytest.approx(rec["certified_bound"])
    assert "gain_pct" not in rec and not any(r["method"].startswith("gain") for r in rows)  # no SEQUOIA
    assert gain_over_best({"a": 1.0, "sequoia": 0.5}) == ("a", -50.0) and gain_over_best({"a": 1.0}) is None
    off = run_cormab("path", 5, 2, seed=1, eval_episodes=2, horizon=3, methods=["null"], bound=False)
    assert "certified_bound" not in off and "null_fraction" not in off
    # each_start: every start state bounded on its own, the same evaluation, a bound no looser
    each = run_cormab("path", 5, 2, seed=1, eval_episodes=3, horizon=4, methods=["null", "myopic", "fluid"],
                      each_start=True)
    fb_each = fluid_bound(p, horizon=4, initial=start_states(p, 3, seed=rec["eval_seed"]), each_start=True)
    assert each["certified_bound"] == pytest.approx(fb_each.certified, abs=1e-9)
    assert each["certified_bound"] <= rec["certified_bound"] + 1e-9
    assert each["fluid_mean"] == pytest.approx(rec["fluid_mean"], abs=1e-12)  # the policy's episodes unchanged
    # units="matching": pairs of neighbouring stations; the policy starts cold and plays the same episodes
    paired = run_cormab("path", 5, 2, seed=1, eval_episodes=3, horizon=4, methods=["fluid"], each_start=True,
                        units="matching")
    assert paired["certified_bound"] <= each["certified_bound"] + 1e-9
    assert paired["fluid_mean"] == pytest.approx(rec["fluid_mean"], abs=1e-12)
    assert "units" in paired["fluid_warm_start_skipped"]
    with pytest.raises(InvalidInputError, match="graph"):
        run_cormab("budget", 4, 2, seed=0, eval_episodes=2, horizon=3, methods=["null"], units="matching")
