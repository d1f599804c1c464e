"""Hostile inputs across packages: result kinds of every domain, and JSON Lines batches.

The kernel's own hostile-input tests live in ``tests/engine`` (test_io, test_result, test_schemas,
test_sweep); these need the domain packages.
"""

import dataclasses
import importlib
import json
import sys

import numpy as np
import pytest

from engine import SolveResult, Status
from engine.errors import InvalidInputError
from engine.result import result_kinds

# every module of the repository that defines a SolveResult subclass
RESULT_MODULES = ["solvers.highs", "solvers.network_mip", "games.minimax", "games.gtalign", "games.causal", "games.qre",
                  "games.markov", "games.security", "games.nash", "games.stackelberg", "games.qarl",
                  "bandits.evaluate", "bandits.sequoia", "planning.sqirl", "planning.submodular", "planning.subrl",
                  "planning.exploration.local", "planning.exploration.explore"]


def _fill(field):
    if field.name == "status":
        return Status.FEASIBLE
    return 1.5


def test_every_result_class_of_the_repository_round_trips():
    for name in RESULT_MODULES:
        importlib.import_module(name)
    kinds = result_kinds()
    defined = [k for k in kinds if k.split(".", 1)[0] in ("solvers", "games", "bandits", "planning")]
    assert len(defined) >= len(RESULT_MODULES)
    for kind in defined:
        cls = kinds[kind]
        # the kind names where the class is importable (its module, or the module that re-exports it
        # under its old name, e.g. solvers.highs.LinearResult)
        module, _, qualname = kind.rpartition(".")
        assert cls.kind == kind and getattr(importlib.import_module(module), qualname) is cls, kind
        required = {f.name: _fill(f) for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        res = cls(**{**required, "x": np.arange(3.0), "params": {"seed": 1, "shape": (2, 3)}})
        back = SolveResult.from_json(res.to_json())
        assert type(back) is cls and back.to_json() == res.to_json(), kind
        nested = SolveResult(status=Status.OPTIMAL, params={"inner": res})
        assert type(SolveResult.from_json(nested.to_json()).params["inner"]) is cls


def test_kind_of_a_module_not_imported_yet_is_refused_without_importing_it():
    module = "planning.exploration.figures"  # defines no result and is imported by nothing here
    was = module in sys.modules
    with pytest.raises(InvalidInputError, match=r"unknown result kind .*import planning"):
        SolveResult.from_dict({"kind": f"{module}.Anything", "status": "optimal"})
    assert (module in sys.modules) == was


def test_score_jsonl_gives_one_error_record_per_hostile_line(tmp_path):
    from games.gtalign import score_jsonl

    cells = {f"{t}_{a}": {"LLM": 1.0 + i, "user": 2.0 - i}
             for i, (t, a) in enumerate((t, a) for t in ("DQ", "VQ") for a in ("DA", "CQ", "AQ"))}
    good = json.dumps({"id": "ok", "matrix": cells}).encode()
    lines = [
        good,
        b'{"id": "utf8", "matrix": "caf\xe9"}',                      # invalid UTF-8
        b"[" * 5000 + b"]" * 5000,                                    # deep nesting
        b'{"id": "bigint", "n": ' + b"9" * 5000 + b"}",               # integer past Python's digit limit
        json.dumps({"id": "overflow", "matrix": {**cells, "DQ_DA": {"LLM": 10**400, "user": 1}}}).encode(),
        b'{"id": "trunc", "matrix": {"DQ_DA": {"LLM": 1',            # truncated
        b'["a list", "not a matrix"]',
        good,
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    summary = score_jsonl(src, out)
    assert summary["matrices"] == 2 and summary["errors"] == 6
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 8 and [("error" in r) for r in recs] == [False] + [True] * 6 + [False]
    assert "invalid JSON (not valid UTF-8" in recs[1]["error"] and "line 2" in recs[1]["error"]
    assert "nested deeper than" in recs[2]["error"]
    assert "5000 digits" in recs[3]["error"]
    assert recs[4]["id"] == "overflow" and "line 5" in recs[4]["error"]
    assert "invalid JSON (not valid JSON" in recs[5]["error"]
    assert "must be a JSON object" in recs[6]["error"]
