"""Shared checks for the ``_validate_...`` function of every public entry point.

Each check raises :class:`~engine.errors.InvalidInputError` whose message starts with the
calling function (``where``, e.g. ``"logit_solve()"``) and names the offending value.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Collection, Mapping, Optional, Sequence

import numpy as np

from engine.errors import InvalidInputError, UnknownOptionWarning

__all__ = [
    "as_float_array",
    "as_int_array",
    "check_real",
    "check_int",
    "check_bool",
    "check_choice",
    "check_time_limit",
    "check_options",
    "short_repr",
]


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages that quote untrusted input.

    Examples
    --------
    >>> short_repr("x" * 100, 10)
    "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_short = short_repr


def as_float_array(value: Any, name: str, where: str, *, ndim: Optional[int | Collection[int]] = None,
                   shape: Optional[Sequence[Optional[int]]] = None, finite: bool = True,
                   lower: Optional[float] = None, upper: Optional[float] = None) -> np.ndarray:
    """``value`` as a float64 array, checked for raggedness, dimensions, shape, NaN/inf and range."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        raise InvalidInputError(f"{where}: {name} must be numeric, got an object array")
    try:
        complex_values = np.iscomplexobj(value)
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError):
        complex_values = False          # ragged or odd input: the conversion below says so
    if complex_values:
        # numpy would drop the imaginary part with a warning: refuse instead of truncating
        raise InvalidInputError(f"{where}: {name} must be real, got complex values")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except OverflowError as err:
        raise InvalidInputError(f"{where}: {name} holds a number beyond the float64 range, got {_short(value)}") from err
    except (ValueError, TypeError, RecursionError) as err:
        raise InvalidInputError(f"{where}: {name} must be a numeric array (not ragged), got {_short(value)}") from err
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise InvalidInputError(f"{where}: {name} must have {' or '.join(map(str, allowed))} dimension(s), "
                                    f"got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise InvalidInputError(f"{where}: {name} must have shape {want}, got {arr.shape}")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].flat[0]
        raise InvalidInputError(f"{where}: {name} must be finite, got {bad}")
    if lower is not None and arr.size and np.nanmin(arr) < lower:
        raise InvalidInputError(f"{where}: {name} must be >= {lower}, got {np.nanmin(arr)}")
    if upper is not None and arr.size and np.nanmax(arr) > upper:
        raise InvalidInputError(f"{where}: {name} must be <= {upper}, got {np.nanmax(arr)}")
    return arr


def as_int_array(value: Any, name: str, where: str, *, ndim: Optional[int] = None,
                 lower: Optional[int] = None, upper: Optional[int] = None) -> np.ndarray:
    """``value`` as an int64 array; non-integral numbers are rejected, not truncated."""
    arr = as_float_array(value, name, where, ndim=ndim)
    if arr.size and not np.all(arr == np.round(arr)):
        raise InvalidInputError(f"{where}: {name} must hold integers, got {arr[arr != np.round(arr)].flat[0]}")
    out = arr.astype(np.int64)
    if lower is not None and out.size and out.min() < lower:
        raise InvalidInputError(f"{where}: {name} must be >= {lower}, got {out.min()}")
    if upper is not None and out.size and out.max() > upper:
        raise InvalidInputError(f"{where}: {name} must be <= {upper}, got {out.max()}")
    return out


def check_real(value: Any, name: str, where: str, *, lower: Optional[float] = None,
               upper: Optional[float] = None, lower_strict: bool = False, allow_inf: bool = False) -> float:
    """A finite real scalar within bounds (``lower_strict`` makes the lower bound exclusive)."""
    if type(value) is float:  # (the usual case, without the abstract-class checks)
        v = value
    else:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise InvalidInputError(f"{where}: {name} must be a real number, got {_short(value)}")
        try:
            v = float(value)
        except OverflowError as err:
            raise InvalidInputError(f"{where}: {name} is beyond the float64 range") from err
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise InvalidInputError(f"{where}: {name} must be finite, got {value!r}")
    if lower is not None and (v < lower or (lower_strict and v == lower)):
        raise InvalidInputError(f"{where}: {name} must be {'>' if lower_strict else '>='} {lower}, got {value!r}")
    if upper is not None and v > upper:
        raise InvalidInputError(f"{where}: {name} must be <= {upper}, got {value!r}")
    return v


def check_int(value: Any, name: str, where: str, *, lower: Optional[int] = None,
              upper: Optional[int] = None) -> int:
    """An integer scalar within bounds (bools rejected)."""
    if type(value) is int:  # (the usual case, without the abstract-class checks)
        v = value
    else:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise InvalidInputError(f"{where}: {name} must be an integer, got {_short(value)}")
        v = int(value)
    if lower is not None and v < lower:
        raise InvalidInputError(f"{where}: {name} must be >= {lower}, got {v}")
    if upper is not None and v > upper:
        raise InvalidInputError(f"{where}: {name} must be <= {upper}, got {v}")
    return v


def check_bool(value: Any, name: str, where: str) -> bool:
    """``True`` or ``False`` (numpy's bool too; not 0/1 or other truthy values)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: {name} must be a bool, got {_short(value)}")
    return bool(value)


def check_choice(value: Any, name: str, where: str, choices: Collection[str]) -> str:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidInputError(f"{where}: unknown {name} {value!r}; choose from {sorted(choices)}")
    return value


def check_time_limit(value: Any, where: str) -> Optional[float]:
    """``None`` (no limit) or a positive number of seconds."""
    if value is None:
        return None
    return check_real(value, "time_limit", where, lower=0.0, lower_strict=True, allow_inf=True)


def check_options(options: Optional[Mapping[str, Any]], known: Collection[str], where: str) -> dict[str, Any]:
    """Backend ``options``: a mapping; keys outside ``known`` warn and are dropped."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidInputError(f"{where}: options must be a mapping, got {_short(options)}")
    out = {}
    for key, val in options.items():
        if key not in known:
            warnings.warn(f"{where}: unknown backend option {key!r} ignored", UnknownOptionWarning, stacklevel=3)
            continue
        out[key] = val
    return out
