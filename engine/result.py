"""The result core every answer of the engine shares, and its JSON round trip.

Every kind of answer is a frozen dataclass deriving from :class:`SolveResult`
(``kw_only=True`` so subclasses can add required fields). ``to_dict`` produces plain
JSON-compatible data (numpy arrays tagged with their dtype and shape, enums by value);
``SolveResult.from_dict`` restores the exact subclass that wrote it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from engine.errors import (
    InfeasibleError,
    InvalidInputError,
    SolveLimitError,
    StoppedError,
    UnboundedError,
    BackendError,
)
from engine.status import Status

__all__ = ["SolveResult", "to_jsonable", "from_jsonable", "result_class"]

_RESULT_CLASSES: dict[str, type["SolveResult"]] = {}


@dataclass(frozen=True, kw_only=True)
class SolveResult:
    """Core of every result.

    Attributes
    ----------
    status : Status
        Outcome of the run.
    message : str
        Human-readable explanation of the status.
    x : numpy.ndarray or None
        The primary answer (solution vector); domain results add named fields.
    objective : float
        Objective value of ``x`` (``nan`` when there is none).
    bound : float
        Best proven bound on the optimum (``nan`` when the method proves none).
    gap : float
        Absolute gap ``|objective - bound|`` (``nan`` when unknown).
    nit : int
        Iterations (simplex iterations, branch-and-bound nodes, Newton steps, ...).
    runtime : float
        Wall-clock seconds.
    method, backend : str
        The algorithm and the library that ran it.
    params : dict
        Every effective setting, the resolved integer seed included.
    """

    status: Status
    message: str = ""
    x: Any = None
    objective: float = math.nan
    bound: float = math.nan
    gap: float = math.nan
    nit: int = 0
    runtime: float = 0.0
    method: str = ""
    backend: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "SolveResult"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = f"{cls.__module__}.{cls.__qualname__}"
        _RESULT_CLASSES[cls.kind] = cls

    @property
    def success(self) -> bool:
        """True when the answer can be used as is (OPTIMAL or FEASIBLE)."""
        return self.status.success

    def raise_for_status(self) -> "SolveResult":
        """Return ``self`` if successful, else raise the exception matching the status."""
        exc = {
            Status.INFEASIBLE: InfeasibleError,
            Status.UNBOUNDED: UnboundedError,
            Status.STOPPED: StoppedError,
            Status.ERROR: BackendError,
        }.get(self.status)
        if exc is None and self.status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT):
            if self.x is not None:
                return self
            exc = SolveLimitError
        if exc is not None:
            raise exc(f"{self.method or type(self).__name__}: {self.status.value}: {self.message}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict; ``SolveResult.from_dict`` restores an equal object."""
        out: dict[str, Any] = {"schema": "gameplan/result", "version": 1, "kind": type(self).kind}
        for f in dataclasses.fields(self):
            out[f.name] = to_jsonable(getattr(self, f.name))
        return out

    def to_json(self, **kwargs: Any) -> str:
        """The result as a JSON string (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), allow_nan=True, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SolveResult":
        """Rebuild a result written by :meth:`to_dict` (dispatching on its ``kind``)."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"SolveResult.from_dict(): expected a mapping, got {type(data).__name__}")
        if "schema" in data or "version" in data:
            from engine.schemas import upgrade

            data = upgrade(data, expected="gameplan/result", where=f"{cls.__name__}.from_dict()")
        kind = data.get("kind", cls.kind)
        target = result_class(kind) if kind != "SolveResult" else SolveResult
        if not issubclass(target, cls):
            raise InvalidInputError(f"{cls.__name__}.from_dict(): record kind {kind!r} is not a {cls.__name__}")
        names = {f.name for f in dataclasses.fields(target)}
        unknown = set(data) - names - {"kind", "schema", "version"}
        if unknown:
            raise InvalidInputError(f"{target.__name__}.from_dict(): unknown fields {sorted(unknown)}")
        kwargs = {k: from_jsonable(v) for k, v in data.items() if k not in ("kind", "schema", "version")}
        kwargs["status"] = Status(kwargs.get("status", "error"))
        return target(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> "SolveResult":
        return cls.from_dict(json.loads(text))


SolveResult.kind = "SolveResult"


def result_class(kind: str) -> type[SolveResult]:
    """The result class registered under ``kind`` (importing its module if needed)."""
    if kind in _RESULT_CLASSES:
        return _RESULT_CLASSES[kind]
    module = kind.rsplit(".", 1)[0]
    try:
        __import__(module)
    except ImportError as err:
        raise InvalidInputError(f"SolveResult.from_dict(): unknown result kind {kind!r}") from err
    if kind not in _RESULT_CLASSES:
        raise InvalidInputError(f"SolveResult.from_dict(): unknown result kind {kind!r}")
    return _RESULT_CLASSES[kind]


def to_jsonable(value: Any) -> Any:
    """Convert numpy arrays/scalars, enums, tuples and nested containers to JSON data."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, SolveResult):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [to_jsonable(v) for v in value]}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value


def from_jsonable(value: Any) -> Any:
    """Inverse of :func:`to_jsonable`."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            arr = np.asarray(value["__ndarray__"], dtype=value.get("dtype", None))
            return arr.reshape(value.get("shape", arr.shape))
        if "__tuple__" in value:
            return tuple(from_jsonable(v) for v in value["__tuple__"])
        if "kind" in value and "status" in value and value.get("schema", "gameplan/result") == "gameplan/result":
            return SolveResult.from_dict(value)
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value
