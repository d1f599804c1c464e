from bandits.suites import cormab_suite, run_cormab, summarize_cormab


def test_run_and_summarize_tiny():
    rec = run_cormab("capacity", 6, 2, 0, episodes=2, eval_episodes=3, horizon=3,
                     methods=["null", "myopic", "sequoia"], sequoia_options={"warm_start_steps": 10})
    assert {"null_mean", "myopic_mean", "sequoia_mean", "gain_pct", "sequoia_train_time"} <= set(rec)
    rows = summarize_cormab([{"status": "ok", "metrics": rec}])
    assert [r["method"] for r in rows][-1].startswith("gain vs")


def test_run_records_evaluation_solver_stats():
    # the evaluation's argmax solves are counted apart from training's: J = 6 enumerates, so all proven
    rec = run_cormab("capacity", 6, 2, 0, episodes=1, eval_episodes=2, horizon=3, methods=["sequoia"],
                     sequoia_options={"warm_start_steps": 5})
    assert 1 <= rec["sequoia_eval_decisions"] <= 2 * 3
    assert rec["sequoia_eval_solves"] == rec["sequoia_eval_decisions"]
    assert rec["sequoia_eval_fraction_proven"] == 1.0 and rec["sequoia_eval_fallbacks"] == 0
    assert rec["sequoia_eval_time_per_solve"] >= 0.0


def test_suite_options():
    opts = cormab_suite.parse_options(["--domain", "all", "--arms", "20,40", "--budget", "5,10", "--seeds", "0-4"])
    assert opts["seeds"] == [0, 1, 2, 3, 4] and len(opts["domain"]) == 4
    assert len(cormab_suite.cases(**opts)) == 4 * 2 * 5
