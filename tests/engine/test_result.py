import json
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pytest

from engine import SolveResult, Status
from engine.errors import BackendError, InfeasibleError, InvalidInputError, SolveLimitError, StoppedError, UnboundedError


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
