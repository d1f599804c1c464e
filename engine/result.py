"""The result core every answer of the engine shares, and its JSON round trip.

Every kind of answer is a frozen dataclass deriving from :class:`SolveResult`
(``kw_only=True`` so subclasses can add required fields). ``to_dict`` produces plain
JSON-compatible data (numpy arrays tagged with their dtype and shape, enums by value);
``SolveResult.from_dict`` restores the exact subclass that wrote it.

Every subclass registers itself, when its module is imported, under a stable kind name
(``"<module>.<qualname>"``, or ``class MyResult(SolveResult, kind="my-result")``); a document's
``kind`` is only ever looked up in that registry, so reading a document never imports a module.
Reading a result of a package that is not imported yet fails with a message that says to import
it. Arrays in a document are checked (dtype :data:`ARRAY_DTYPES`, shape against data, at most
:data:`MAX_ARRAY_BYTES` bytes) before anything is allocated.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
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
from engine.validation import short_repr as _short
from engine.io import json_path, loads_json, MAX_JSON_DEPTH, to_jsonable
from engine.schemas import upgrade

__all__ = ["SolveResult", "to_jsonable", "from_jsonable", "result_class", "result_kinds", "ARRAY_DTYPES",
           "MAX_ARRAY_BYTES", "MAX_STRING_ITEMSIZE"]

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

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls, kind)

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
    def from_dict(cls, data: Mapping[str, Any], *, max_array_bytes: int | None = None,
                  max_depth: int | None = None) -> "SolveResult":
        """Rebuild a result written by :meth:`to_dict` (dispatching on its ``kind``).

        ``kind`` is looked up among the result classes already defined (registered when their
        module is imported); nothing in a document causes an import. An unknown kind is an
        :class:`~engine.errors.InvalidInputError` that says which package to import. Arrays are
        checked before they are allocated (see :func:`from_jsonable`; ``max_array_bytes``,
        ``max_depth``).
        """
        return _from_dict(cls, data, (), 0, _Limits.of(max_array_bytes, max_depth), f"{cls.__name__}.from_dict()")

    @classmethod
    def from_json(cls, text: "str | bytes", *, max_bytes: int | None = None, max_array_bytes: int | None = None,
                  max_depth: int | None = None) -> "SolveResult":
        """Rebuild a result from JSON text (:meth:`to_json`); see :meth:`from_dict` and
        :func:`engine.io.loads_json` for the limits."""

        where = f"{cls.__name__}.from_json()"
        data = loads_json(text, where=where, max_bytes=max_bytes, max_depth=max_depth)
        return _from_dict(cls, data, (), 0, _Limits.of(max_array_bytes, max_depth), where)


SolveResult.kind = "SolveResult"


def _register(cls: type[SolveResult], kind: str | None) -> None:
    name = kind if kind is not None else f"{cls.__module__}.{cls.__qualname__}"
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__qualname__}: a result kind must be a non-empty string, got {name!r}")
    cls.kind = name
    _RESULT_CLASSES[name] = cls  # a redefinition (module reload) replaces the older class


def result_kinds() -> dict[str, type[SolveResult]]:
    """The registered result kinds (``kind -> class``): every subclass defined so far."""
    return {"SolveResult": SolveResult, **_RESULT_CLASSES}


def result_class(kind: str, *, where: str = "SolveResult.from_dict()") -> type[SolveResult]:
    """The result class registered under ``kind``; never imports anything.

    A subclass of :class:`SolveResult` registers itself under ``"<module>.<qualname>"`` (or the
    ``kind=`` class keyword) when its module is imported. A document of a kind whose module has
    not been imported yet is refused with a message that says what to import.
    """
    if not isinstance(kind, str):
        raise InvalidInputError(f"{where}: 'kind' must be a string, got {_short(kind)}")
    if kind == "SolveResult":
        return SolveResult
    found = _RESULT_CLASSES.get(kind)
    if found is not None:
        return found
    package = kind.split(".", 1)[0] if "." in kind else ""
    hint = (f"; if it is defined in an installed package, import that package (e.g. `import {package}`) before "
            f"reading the document" if package.isidentifier() else "")
    raise InvalidInputError(f"{where}: unknown result kind {_short(kind)} (no result class of that kind is "
                            f"defined in this process{hint})")


@dataclass(frozen=True)
class _Limits:
    max_array_bytes: int
    max_depth: int

    @staticmethod
    def of(max_array_bytes: int | None, max_depth: int | None) -> "_Limits":

        return _Limits(MAX_ARRAY_BYTES if max_array_bytes is None else int(max_array_bytes),
                       MAX_JSON_DEPTH if max_depth is None else int(max_depth))


def from_jsonable(value: Any, *, max_array_bytes: int | None = None, max_depth: int | None = None) -> Any:
    """Inverse of :func:`to_jsonable`, safe on documents from someone else.

    Arrays (``{"__ndarray__": data, "dtype": ..., "shape": [...]}``) must have a dtype of
    :data:`ARRAY_DTYPES` (bool, integers, floats, complex) or a string dtype of at most
    :data:`MAX_STRING_ITEMSIZE` bytes per item, a shape that matches the data, and at most
    ``max_array_bytes`` bytes (default :data:`MAX_ARRAY_BYTES`); all of it is checked before
    the array is allocated. Nesting deeper than ``max_depth`` (default
    :data:`engine.io.MAX_JSON_DEPTH`) is refused. Nested results are rebuilt through the
    registry of result kinds (no import). Errors are :class:`InvalidInputError` naming the JSON
    path and the limit.
    """
    return _decode(value, (), 0, _Limits.of(max_array_bytes, max_depth), "from_jsonable()")


def _path(parts: tuple) -> str:

    return json_path(parts)


def _decode(value: Any, path: tuple, depth: int, limits: _Limits, where: str) -> Any:
    if isinstance(value, (dict, list)) and depth >= limits.max_depth:
        raise InvalidInputError(f"{where}: {_path(path)} is nested deeper than {limits.max_depth} levels "
                                f"(max_depth)")
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return _decode_array(value, path, limits, where)
        if "__tuple__" in value:
            items = value["__tuple__"]
            if not isinstance(items, list) or len(value) != 1:
                raise InvalidInputError(f"{where}: {_path(path)}: a tuple is {{'__tuple__': [...]}} alone, got "
                                        f"{_short(value)}")
            return tuple(_decode(v, path + ("__tuple__", i), depth + 1, limits, where) for i, v in enumerate(items))
        if "kind" in value and "status" in value and value.get("schema", "gameplan/result") == "gameplan/result":
            return _from_dict(SolveResult, value, path, depth, limits, where)
        return {k: _decode(v, path + (k,), depth + 1, limits, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, path + (i,), depth + 1, limits, where) for i, v in enumerate(value)]
    return value


#: dtypes an array in a document may have (besides strings, see :data:`MAX_STRING_ITEMSIZE`)
ARRAY_DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                          "float16", "float32", "float64", "complex64", "complex128"})
#: most bytes an array in a document may take once built (keyword ``max_array_bytes``)
MAX_ARRAY_BYTES = 256 * 2**20
#: most bytes per item of a string array (``<U64`` is 256 bytes) in a document
MAX_STRING_ITEMSIZE = 4096
_MAX_NDIM = 32


def _decode_array(spec: Mapping[str, Any], path: tuple, limits: _Limits, where: str) -> np.ndarray:
    at = _path(path)
    extra = set(spec) - {"__ndarray__", "dtype", "shape"}
    if extra:
        raise InvalidInputError(f"{where}: {at}: unknown array keys {sorted(map(str, extra))[:5]}")
    name = spec.get("dtype")
    if not isinstance(name, str) or len(name) > 32:
        raise InvalidInputError(f"{where}: {at}['dtype'] must name a dtype, got {_short(name)}")
    dtype = None
    if name in ARRAY_DTYPES:
        dtype = np.dtype(name)
    elif re.fullmatch(r"[<>|=]?(?:[US][0-9]{1,9}|[biufc][0-9]{1,2}|bool)", name):
        try:
            dtype = np.dtype(name)
        except TypeError:
            dtype = None
        if dtype is not None and dtype.kind in "US":
            if dtype.itemsize > MAX_STRING_ITEMSIZE:
                raise InvalidInputError(f"{where}: {at}['dtype'] = {name!r} has {dtype.itemsize} bytes per item, "
                                        f"more than the limit of {MAX_STRING_ITEMSIZE} (engine.result."
                                        f"MAX_STRING_ITEMSIZE)")
        elif dtype is not None and dtype.kind not in "biufc":
            dtype = None
    if dtype is None:
        raise InvalidInputError(f"{where}: {at}['dtype'] = {_short(name)} is not allowed; allowed: "
                                f"{', '.join(sorted(ARRAY_DTYPES))} and strings (U/S) of at most "
                                f"{MAX_STRING_ITEMSIZE} bytes per item")
    shape = spec.get("shape")
    if (not isinstance(shape, list) or len(shape) > _MAX_NDIM
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise InvalidInputError(f"{where}: {at}['shape'] must be a list of at most {_MAX_NDIM} integers >= 0, "
                                f"got {_short(shape)}")
    count = math.prod(shape)
    if count * dtype.itemsize > limits.max_array_bytes:
        raise InvalidInputError(f"{where}: {at}: an array of shape {tuple(shape)} and dtype {dtype} takes "
                                f"{count * dtype.itemsize} bytes, more than the limit of {limits.max_array_bytes} "
                                f"(max_array_bytes)")
    data = spec["__ndarray__"]
    dims = []
    d = data
    while isinstance(d, list):
        dims.append(len(d))
        if len(dims) > _MAX_NDIM:
            raise InvalidInputError(f"{where}: {at}['__ndarray__'] is nested deeper than {_MAX_NDIM} levels")
        if not d:
            break
        d = d[0]
    if isinstance(d, (dict, list)) and dims and dims[-1]:
        raise InvalidInputError(f"{where}: {at}['__ndarray__'] must hold numbers or strings")
    if math.prod(dims) != count:
        raise InvalidInputError(f"{where}: {at}: the data holds {math.prod(dims)} values (shape {tuple(dims)}) but "
                                f"'shape' says {tuple(shape)}")
    try:
        arr = np.asarray(data, dtype=dtype)
        return arr.reshape(shape)
    except (ValueError, TypeError, OverflowError) as err:
        raise InvalidInputError(f"{where}: {at}: not a regular {dtype} array of shape {tuple(shape)}: "
                                f"{_short(str(err), 120)}") from err


def _from_dict(cls: type[SolveResult], data: Any, path: tuple, depth: int, limits: _Limits, where: str) -> SolveResult:
    at = _path(path)
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{where}: {at}: expected a mapping, got {type(data).__name__}")
    if "schema" in data or "version" in data:

        data = upgrade(data, expected="gameplan/result", where=f"{where} at {at}" if path else where)
    kind = data.get("kind", cls.kind)
    target = result_class(kind, where=where)
    if not issubclass(target, cls):
        raise InvalidInputError(f"{where}: {at}: record kind {kind!r} is not a {cls.__name__}")
    names = {f.name for f in dataclasses.fields(target)}
    unknown = set(data) - names - {"kind", "schema", "version"}
    if unknown:
        raise InvalidInputError(f"{target.__name__}.from_dict(): unknown fields {sorted(map(str, unknown))[:10]}")
    kwargs = {k: _decode(v, path + (k,), depth + 1, limits, where) for k, v in data.items()
              if k not in ("kind", "schema", "version")}
    status = kwargs.get("status", "error")
    try:
        kwargs["status"] = Status(status)
    except (ValueError, TypeError) as err:
        raise InvalidInputError(f"{where}: {_path(path + ('status',))}: unknown status {_short(status)}; known: "
                                f"{[s.value for s in Status]}") from err
    try:
        return target(**kwargs)
    except InvalidInputError:
        raise
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{where}: {at}: cannot build a {target.__name__}: {err}") from err
