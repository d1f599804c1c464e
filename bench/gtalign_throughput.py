"""GTAlign throughput: matrices per second, vectorised batch vs one-by-one, and the JSONL path.

    python bench/gtalign_throughput.py --n 100000

Prints, per rule, matrices/second of ``select_batch`` (one call for the whole batch) and of a
Python loop of ``select`` (on a 2,000-matrix subset), with the ratio; then the end-to-end JSON
Lines throughput of ``score_jsonl`` (parsing + validation + selection + writing).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from games.gtalign import RULES, PayoffMatrix, score_jsonl, select, select_batch

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    L = np.round(rng.uniform(-1, 5, size=(a.n, 2, 3)), 1)
    U = np.round(rng.uniform(-1, 5, size=(a.n, 2, 3)), 1)
    k = min(2000, a.n)
    print(f"{'rule':<12}{'batch /s':>14}{'loop /s':>12}{'ratio':>9}{'agree':>7}")
    for rule in RULES:
        t0 = time.perf_counter()
        out = select_batch(L, U, rule)
        tb = time.perf_counter() - t0
        t0 = time.perf_counter()
        loop = [select(PayoffMatrix(L[i], U[i]), rule).index for i in range(k)]
        tl = time.perf_counter() - t0
        agree = bool(np.array_equal(np.array(loop), out["index"][:k]))
        print(f"{rule:<12}{a.n / tb:>14.4g}{k / tl:>12.4g}{(a.n / tb) / (k / tl):>9.1f}{str(agree):>7}")
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.jsonl"
        with open(src, "w") as fh:
            for i in range(a.n):
                fh.write(json.dumps({"id": i, "matrix": PayoffMatrix(L[i], U[i]).to_dict()}) + "\n")
        s = score_jsonl(src, Path(d) / "out.jsonl", rule="product")
    print(f"score_jsonl: {s['matrices']} matrices in {s['seconds']:.2f} s = {s['matrices_per_second']:.4g} /s")
