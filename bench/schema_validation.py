"""Schema validation of large documents: plain jsonschema vs engine.schemas.validate (numpy arrays).

    python bench/schema_validation.py [--game 700] [--map 1500] [--repeat 1] [--skip-plain]

Both sides validate the same documents in this process: "plain" is
``jsonschema.Draft202012Validator(schema).iter_errors`` element by element (what
``engine.schemas.validate`` did before), "engine" is ``engine.schemas.validate``, which checks
arrays of numbers with numpy. The load column adds JSON parsing (``engine.io.loads_json``, with
its size and depth checks) to the engine's validation. Both sides must agree that the documents are
valid, and that a document with one bad value at the end is not.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from engine.errors import InvalidInputError
from engine.io import loads_json
from engine.schemas import schema, validate
from harness import best_of


def _documents(n_game: int, n_map: int) -> list[tuple[str, dict]]:
    rng = np.random.default_rng(0)
    game = {"schema": "gameplan/game", "version": 1, "title": f"random {n_game}x{n_game}",
            "payoffs": [rng.normal(size=(n_game, n_game)).round(4).tolist() for _ in range(2)]}
    grid = rng.choice([-1, 0, 1], size=(n_map, n_map), p=[0.1, 0.7, 0.2])
    grid[0, 0] = 0
    occupancy = {"schema": "gameplan/map", "version": 1, "grid": grid.tolist(), "start": [0, 0]}
    return [(f"game {n_game}x{n_game} (2 players)", game), (f"map {n_map}x{n_map}", occupancy)]


def _plain(doc: dict) -> int:
    import jsonschema

    return sum(1 for _ in jsonschema.Draft202012Validator(schema(doc["schema"])).iter_errors(doc))


def _engine(doc: dict) -> int:
    try:
        validate(doc)
    except InvalidInputError:
        return 1
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--game", type=int, default=700, help="strategies per player of the game document")
    ap.add_argument("--map", type=int, default=1500, help="side of the occupancy-map document")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs per side")
    ap.add_argument("--skip-plain", action="store_true", help="only time the engine (plain jsonschema is slow)")
    args = ap.parse_args()
    print("| document | JSON MB | plain jsonschema (s) | engine validate (s) | engine load+validate (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for label, doc in _documents(args.game, args.map):
        text = json.dumps(doc)
        t_eng, bad_eng = best_of(lambda: _engine(doc), args.repeat)
        t0 = time.perf_counter()
        validate(loads_json(text))
        t_load = time.perf_counter() - t0
        if args.skip_plain:
            t_plain, bad_plain = float("nan"), 0
        else:
            t_plain, bad_plain = best_of(lambda: _plain(doc), args.repeat)
        assert bad_eng == 0 and bad_plain == 0, (label, bad_eng, bad_plain)
        ratio = t_plain / t_eng if t_eng > 0 else float("nan")
        print(f"| {label} | {len(text) / 1e6:.1f} | {t_plain:.2f} | {t_eng:.3f} | {t_load:.3f} | {ratio:.0f}x |")
        # one bad value at the very end: both sides refuse it, the engine as fast as a valid one
        last = doc["payoffs"][1][-1] if "payoffs" in doc else doc["grid"][-1]
        last[-1] = "x" if "payoffs" in doc else 2
        t_bad, refused = best_of(lambda: _engine(doc), 1)
        assert refused == 1, label
        print(f"| {label}, last value bad | | | {t_bad:.3f} (refused) | | |")


if __name__ == "__main__":
    main()
