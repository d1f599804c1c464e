"""The scne and gtalign suites pass on what the CLI hands each run: seed, time limit, threads, callback."""

from __future__ import annotations

import json

from engine.cli import run_suite
from engine.events import Progress
from engine.suites import RunContext
from games.reasoning_suites import gtalign_suite, scne_suite


def _scne(games=20):
    (case,) = scne_suite.cases(**scne_suite.parse_options(["--games", str(games), "--size", "3",
                                                            "--epsilon", "0.05"]))
    return case


def test_scne_seed_time_limit_and_callback():
    case = _scne()
    a, b, again = (dict(case.run(RunContext(seed=s, repeat=0))) for s in (0, 1, 0))
    assert a["status"] == "ok" and a["games"] == 20
    assert a == again and a["mean_gain"] != b["mean_gain"]  # other seed, other games
    cut = dict(case.run(RunContext(seed=0, repeat=0, time_limit=1e-9)))
    assert cut["status"] == "time_limit" and cut["games"] == 0
    events = []
    case.run(RunContext(seed=0, repeat=0, callback=events.append))
    assert [(e.completed, e.total) for e in events if isinstance(e, Progress)][-1] == (20, 20)

    def stop_after_3(event):
        if event.completed >= 3:
            raise StopIteration

    stopped = dict(case.run(RunContext(seed=0, repeat=0, callback=stop_after_3)))
    assert stopped["status"] == "stopped" and stopped["games"] == 3


def test_scne_threads_recorded():
    (record,) = run_suite(scne_suite, scne_suite.parse_options(["--games", "2", "--size", "3", "--epsilon", "0"]),
                          threads=2)
    assert record["threads"] == 2 and record["status"] == "ok"


def _matrices(path, n=6):
    from games.gtalign import CELLS

    lines = []
    for k in range(n):
        matrix = {cell: {"LLM": float((i * 7 + k) % 5), "user": float((i * 3 + k) % 4)} for i, cell in enumerate(CELLS)}
        lines.append(json.dumps({"id": f"m{k}", "matrix": matrix}))
    path.write_text("\n".join(lines) + "\n")


def test_gtalign_seed_time_limit_and_threads(tmp_path):
    src = tmp_path / "in.jsonl"
    _matrices(src)
    opts = gtalign_suite.parse_options(["--input", str(src)])
    (case,) = gtalign_suite.cases(**opts)
    out = dict(case.run(RunContext(seed=0, repeat=0)))
    assert out["status"] == "ok" and out["matrices"] == 6 and out["errors"] == 0
    cut = dict(case.run(RunContext(seed=0, repeat=0, time_limit=1e-9)))
    assert cut["status"] == "time_limit" and cut["matrices"] == 0
    (record,) = run_suite(gtalign_suite, opts, threads=2, seed=4)
    assert record["threads"] == 2 and record["seed"] == 4


def test_gtalign_seed_reaches_score_jsonl(tmp_path, monkeypatch):
    import games.gtalign as gtalign

    seen = {}
    real = gtalign.score_jsonl

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    spy.__signature__ = __import__("inspect").signature(real)
    monkeypatch.setattr(gtalign, "score_jsonl", spy)
    src = tmp_path / "in.jsonl"
    _matrices(src, 2)
    (case,) = gtalign_suite.cases(**gtalign_suite.parse_options(["--input", str(src)]))
    case.run(RunContext(seed=9, repeat=0))
    assert seen["seed"] == 9
