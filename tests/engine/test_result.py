import json
import math
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pytest

from engine import SolveResult, Status
from engine.errors import BackendError, InfeasibleError, InvalidInputError, SolveLimitError, StoppedError, UnboundedError
from engine.result import MAX_ARRAY_BYTES, from_jsonable, result_class, result_kinds


@dataclass(frozen=True, kw_only=True)
class _DemoResult(SolveResult):
    profile: tuple = ()
    extra: Optional[np.ndarray] = None


def test_round_trip_preserves_subclass_arrays_tuples_and_nan():
    res = _DemoResult(status=Status.OPTIMAL, message="ok", x=np.arange(3, dtype=np.int64), objective=1.5,
                      bound=math.nan, nit=4, runtime=0.1, method="demo", backend="numpy",
                      params={"seed": 3, "lam": (1.0, 2.0)},
                      profile=(np.array([0.25, 0.75]), np.array([1.0])), extra=np.eye(2))
    text = res.to_json()
    back = SolveResult.from_json(text)
    assert type(back) is _DemoResult
    assert back.status is Status.OPTIMAL and back.success
    assert back.x.dtype == np.int64 and np.array_equal(back.x, res.x)
    assert math.isnan(back.bound)
    assert back.params == {"seed": 3, "lam": (1.0, 2.0)}
    assert isinstance(back.profile, tuple) and np.array_equal(back.profile[0], [0.25, 0.75])
    assert np.array_equal(back.extra, np.eye(2))
    assert json.loads(text)["kind"].endswith("_DemoResult")


def test_from_dict_rejects_unknown_fields_and_kinds():
    d = SolveResult(status=Status.FEASIBLE).to_dict()
    d["bogus"] = 1
    with pytest.raises(InvalidInputError, match="unknown fields"):
        SolveResult.from_dict(d)
    with pytest.raises(InvalidInputError, match="unknown result kind"):
        SolveResult.from_dict({"kind": "nowhere.Missing", "status": "optimal"})


@pytest.mark.parametrize("status,exc", [(Status.INFEASIBLE, InfeasibleError), (Status.UNBOUNDED, UnboundedError),
                                        (Status.STOPPED, StoppedError), (Status.ERROR, BackendError),
                                        (Status.TIME_LIMIT, SolveLimitError)])
def test_raise_for_status(status, exc):
    with pytest.raises(exc):
        SolveResult(status=status, method="m").raise_for_status()


def test_raise_for_status_passes_usable_results():
    ok = SolveResult(status=Status.OPTIMAL)
    assert ok.raise_for_status() is ok
    limited = SolveResult(status=Status.TIME_LIMIT, x=np.zeros(2))
    assert limited.raise_for_status() is limited
    assert not limited.success


def test_results_are_frozen():
    res = SolveResult(status=Status.OPTIMAL)
    with pytest.raises(Exception):
        res.objective = 3.0  # type: ignore[misc]


# ---------------------------------------------------------------------------- documents from someone else
@dataclass(frozen=True, kw_only=True)
class _NamedKind(SolveResult, kind="test-named-kind"):
    note: str = ""


def test_subclasses_register_under_a_stable_kind():
    assert _DemoResult.kind == f"{__name__}._DemoResult"
    assert result_kinds()[_DemoResult.kind] is _DemoResult and result_class(_DemoResult.kind) is _DemoResult
    res = _NamedKind(status=Status.FEASIBLE, note="n")
    assert res.to_dict()["kind"] == "test-named-kind"
    back = SolveResult.from_json(res.to_json())
    assert type(back) is _NamedKind and back.note == "n" and back.to_json() == res.to_json()


@pytest.mark.parametrize("module", ["this", "antigravity", "http.server", "xmlrpc.server", "os"])
def test_a_documents_kind_never_imports_anything(module):
    code = f"""
import json, sys
from engine import SolveResult
from engine.errors import InvalidInputError
was = {module!r} in sys.modules
docs = [{{"kind": "{module}.X", "status": "optimal"}}, {{"kind": "{module}:system", "status": "optimal"}},
        {{"kind": "SolveResult", "status": "optimal", "params": {{"r": {{"kind": "{module}.Y", "status": "ok"}}}}}},
        {{"kind": "SolveResult", "status": "optimal", "x": {{"__tuple__": [{{"kind": "{module}.Z", "status": "error"}}]}}}}]
for doc in docs:
    try:
        SolveResult.from_json(json.dumps(doc))
    except InvalidInputError as err:
        assert "unknown result kind" in str(err), err
    else:
        raise SystemExit("accepted " + json.dumps(doc))
assert ({module!r} in sys.modules) == was, "imported"
print("ok", was)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")  # and nothing printed by `this` (the Zen of Python)
    assert "Zen" not in out.stdout


def test_unknown_kind_says_what_to_import():
    with pytest.raises(InvalidInputError, match=r"unknown result kind 'games\.nothing\.X'.*import games"):
        SolveResult.from_dict({"kind": "games.nothing.X", "status": "optimal"})
    for kind in (["a"], 3, None, {"k": 1}):
        with pytest.raises(InvalidInputError, match="'kind' must be a string"):
            SolveResult.from_dict({"kind": kind, "status": "optimal"})


def _arr(data, dtype, shape):
    return {"kind": "SolveResult", "status": "optimal", "x": {"__ndarray__": data, "dtype": dtype, "shape": shape}}


def test_huge_itemsize_dtypes_are_refused_before_allocation():
    # a 6 KB document that would build a 1 GB array
    doc = _arr(["a"] * 1000, "S1000000", [1000])
    assert len(json.dumps(doc)) < 6000
    with pytest.raises(InvalidInputError, match=r"\$\['x'\]\['dtype'\] = 'S1000000' has 1000000 bytes per item, more "
                                                r"than the limit of 4096"):
        SolveResult.from_json(json.dumps(doc))
    for dtype in ("O", "object", "V8", "(1000000,)f8", "float64,int32", "M8[ns]", "U1000000", "<U2000", "f8" * 20):
        with pytest.raises(InvalidInputError, match=r"from_jsonable\(\): \$\['dtype'\] (= |must name)"):
            from_jsonable(_arr(["a"], dtype, [1])["x"])


def test_declared_array_sizes_are_checked_against_the_limit():
    with pytest.raises(InvalidInputError, match=rf"\$: an array of shape \(100000, 100000\) and dtype float64 takes "
                                                rf"80000000000 bytes, more than the limit of {MAX_ARRAY_BYTES} "
                                                rf"\(max_array_bytes\)"):
        from_jsonable({"__ndarray__": [], "dtype": "float64", "shape": [100000, 100000]})
    small = _arr([[1.0, 2.0], [3.0, 4.0]], "float64", [2, 2])
    with pytest.raises(InvalidInputError, match=r"\$\['x'\]: an array .* takes 32 bytes, more than the limit of 16"):
        SolveResult.from_dict(small, max_array_bytes=16)
    assert SolveResult.from_dict(small, max_array_bytes=32).x.shape == (2, 2)
    # the data must match the declared shape (a small shape cannot hide a large array)
    with pytest.raises(InvalidInputError, match=r"the data holds 1000 values \(shape \(1000,\)\) but 'shape' says \(1,\)"):
        from_jsonable({"__ndarray__": ["a"] * 1000, "dtype": "<U5", "shape": [1]})
    for shape in ([-1], [1.5], "3", [True], [1] * 40):
        with pytest.raises(InvalidInputError, match="'shape'"):
            from_jsonable({"__ndarray__": [1], "dtype": "int64", "shape": shape})
    with pytest.raises(InvalidInputError, match="not a regular int64 array"):
        from_jsonable({"__ndarray__": [[1, 2], [3]], "dtype": "int64", "shape": [2, 2]})
    with pytest.raises(InvalidInputError, match="not a regular int64 array"):
        from_jsonable({"__ndarray__": [10**30], "dtype": "int64", "shape": [1]})


def test_allowed_dtypes_round_trip():
    for arr in (np.arange(4, dtype=np.int8).reshape(2, 2), np.array([True, False]), np.array(["ab", "c"]),
                np.zeros((0, 3)), np.float32(1.5) * np.ones(3, dtype=np.float32), np.array(7, dtype=np.uint16)):
        res = _DemoResult(status=Status.OPTIMAL, extra=arr)
        back = SolveResult.from_json(res.to_json())
        assert back.extra.dtype == arr.dtype and back.extra.shape == arr.shape and np.array_equal(back.extra, arr)


def test_parse_errors_of_result_documents_are_invalid_input():
    deep = '{"kind": "SolveResult", "status": "optimal", "params": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(InvalidInputError, match=r"nested deeper than 100 levels .*\(\$\['params'\]"):
        SolveResult.from_json(deep)
    with pytest.raises(InvalidInputError, match="integer with 5000 digits"):
        SolveResult.from_json('{"kind": "SolveResult", "status": "optimal", "nit": ' + "9" * 5000 + "}")
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        SolveResult.from_json(b'{"kind": "SolveResult", "status": "optimal", "message": "\xc3"}')
    with pytest.raises(InvalidInputError, match=r"not valid JSON"):
        SolveResult.from_json('{"kind": "SolveResult", "status": "opt')
    with pytest.raises(InvalidInputError, match="expected JSON text"):
        SolveResult.from_json(["not", "text"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"unknown status 'bogus'"):
        SolveResult.from_dict({"kind": "SolveResult", "status": "bogus"})
    with pytest.raises(InvalidInputError, match="expected a mapping"):
        SolveResult.from_dict([1, 2])  # type: ignore[arg-type]
    nested = {"kind": "SolveResult", "status": "optimal", "params": {}}
    node = nested["params"]
    for _ in range(150):  # deep Python data (not text) is refused too
        node["a"] = {}
        node = node["a"]
    with pytest.raises(InvalidInputError, match="nested deeper than 100 levels"):
        SolveResult.from_dict(nested)
    assert SolveResult.from_dict(nested, max_depth=200).status is Status.OPTIMAL
