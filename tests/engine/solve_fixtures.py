"""Input files of every kind for the `engine-bench solve` / `serve` tests, and the README's examples.

The README's CLI section uses `game.nfg`, `sensors.json`, `clinic.json` and `floor.png`, made by
:data:`README_FILES_PY` (the README's Python block) and :data:`GAME_NFG`; :func:`write_inputs`
writes them plus one file of every other accepted form.
"""

from __future__ import annotations

import json
from pathlib import Path

# Battle of the sexes: two pure equilibria and a mixed one (3/5, 2/5), (2/5, 3/5)
GAME_NFG = '''NFG 1 R "Battle of the sexes" { "Alice" "Bob" }
{ { "opera" "football" } { "opera" "football" } }
""
3 2 0 0 0 0 2 3
'''

# README: "make example files" (the same text is a ```python block of the README)
README_FILES_PY = '''\
import json
import bandits
from planning.exploration import maps
from planning.submodular import WeightedCoverage, instance_to_dict

# a coRMAB: 4 arms, pull at most 2 per day
clinic = bandits.make_domain("budget", n_arms=4, budget=2, seed=0)
json.dump(clinic.to_dict(), open("clinic.json", "w"))
# a submodular instance: pick 2 sensor sites covering the most weight
sites = WeightedCoverage([[0, 1, 2], [2, 3], [3, 4], [0]], weights=[1, 1, 2, 1, 1])
json.dump(instance_to_dict(sites, {"type": "cardinality", "k": 2}, name="sensors"), open("sensors.json", "w"))
# an occupancy map as a PNG (free white, walls black)
maps.save_map(maps.indoor(50, seed=1), "floor.png")
'''

# README CLI section: every line runs in tests/engine/test_solve_cli.py::test_readme_cli_example
README_COMMANDS = [
    "engine-bench solve game.nfg",
    "engine-bench solve game.nfg --method qre --lam 2",
    "engine-bench solve game.nfg --method stackelberg --leader 0 --format json",
    "engine-bench solve sensors.json --format json --out result.json",
    "engine-bench solve clinic.json --state '[0,1,2,0]'",
    "engine-bench solve clinic.json",
    "engine-bench solve clinic.json --method sequoia --episodes 20 --save agent.pt",
    "engine-bench solve clinic.json --policy agent.pt --state '[0,1,2,0]'",
    "engine-bench solve floor.png --planner nearest_frontier --time-limit 30",
    "engine-bench run games --instances '*.nfg' --methods nash,qre --lams 2",
]
# README: the same file on standard input (run through a shell)
README_STDIN = "cat game.nfg | engine-bench solve - --format json"

# README serve section (port 8000 there; the test substitutes the port it got)
README_SERVE = "engine-bench serve --port 8000 --workers 2"
README_CURL = [
    "curl -s -X POST 'http://127.0.0.1:8000/v1/solve?method=qre&lam=2' -H 'Content-Type: text/plain' "
    "--data-binary @game.nfg",
    "curl -s -X POST 'http://127.0.0.1:8000/v1/solve?state=%5B0,1,2,0%5D' -H 'Content-Type: application/json' "
    "--data-binary @clinic.json",
    "curl -s http://127.0.0.1:8000/v1/health",
]

# README: the Python client
README_CLIENT_PY = '''\
import httpx
from engine.serve import running_server

game = {"schema": "gameplan/game", "version": 1, "payoffs": [[[3, 0], [0, 2]], [[2, 0], [0, 3]]]}
with running_server() as url:  # or the URL of a running `engine-bench serve`, e.g. http://127.0.0.1:8000
    reply = httpx.post(f"{url}/v1/solve", json=game, params={"time_limit": 5})
    reply.raise_for_status()
    result = reply.json()
print(result["status"], result["message"])
'''

GTALIGN_LINES = [
    {"id": "q1", "matrix": {"DQ_DA": {"LLM": 3.1, "user": 3.5}, "DQ_CQ": {"LLM": 2.0, "user": 2.2},
                            "DQ_AQ": {"LLM": 3.0, "user": 3.9}, "VQ_DA": {"LLM": 1.0, "user": 0.5},
                            "VQ_CQ": {"LLM": 2.5, "user": 3.0}, "VQ_AQ": {"LLM": 2.8, "user": 2.9}}},
    {"id": "q2", "matrix": {"DQ_DA": {"LLM": 1, "user": 1}}},  # five cells missing: refused, the rest scored
]


def write_readme_files(directory: Path) -> None:
    """The README's example files (game.nfg and what README_FILES_PY writes) in ``directory``."""
    import os

    (directory / "game.nfg").write_text(GAME_NFG)
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        exec(compile(README_FILES_PY, "README_FILES_PY", "exec"), {"__name__": "__readme__"})
    finally:
        os.chdir(cwd)


def write_inputs(directory: Path) -> dict[str, Path]:
    """One file of every accepted form; returns ``{label: path}``."""
    import numpy as np

    from games.nfg import read_nfg
    from planning.exploration import maps
    from planning.submodular import WeightedCoverage, instance_to_dict

    write_readme_files(directory)
    game = read_nfg(GAME_NFG)
    files = {"nfg": directory / "game.nfg", "cormab": directory / "clinic.json",
             "submodular": directory / "sensors.json", "map_png": directory / "floor.png"}
    files["game_json"] = directory / "game.json"
    files["game_json"].write_text(json.dumps(game.to_dict()))
    files["knapsack"] = directory / "knapsack.json"
    files["knapsack"].write_text(json.dumps(instance_to_dict(
        WeightedCoverage([[0, 1, 2], [2, 3], [3, 4], [0]]), {"type": "knapsack", "costs": [2, 1, 1, 1], "budget": 2})))
    m = maps.indoor(50, seed=1)
    files["map_json"] = maps.save_map(m, directory / "floor.json")
    files["map_npy"] = maps.save_map(m, directory / "floor.npy")
    files["gtalign"] = directory / "batch.jsonl"
    files["gtalign"].write_text("\n".join(json.dumps(line) for line in GTALIGN_LINES) + "\n")
    assert np.load(files["map_npy"]).shape == (50, 50)
    return files
