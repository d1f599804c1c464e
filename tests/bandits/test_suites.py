from bandits.suites import cormab_suite, run_cormab, summarize_cormab


def test_run_and_summarize_tiny():
    rec = run_cormab("capacity", 6, 2, 0, episodes=2, eval_episodes=3, horizon=3,
                     methods=["null", "myopic", "sequoia"], sequoia_options={"warm_start_steps": 10})
    assert {"null_mean", "myopic_mean", "sequoia_mean", "gain_pct", "sequoia_train_time"} <= set(rec)
    rows = summarize_cormab([{"status": "ok", "metrics": rec}])
    assert [r["method"] for r in rows][-1].startswith("gain vs")


def test_suite_options():
    opts = cormab_suite.parse_options(["--domain", "all", "--arms", "20,40", "--budget", "5,10", "--seeds", "0-4"])
    assert opts["seeds"] == [0, 1, 2, 3, 4] and len(opts["domain"]) == 4
    assert len(cormab_suite.cases(**opts)) == 4 * 2 * 5
