"""Reading and writing coRMAB problems as ``gameplan/cormab`` v1 JSON documents.

:meth:`bandits.CoRMAB.to_dict` and :meth:`bandits.CoRMAB.from_dict` are the entry points; this
module holds what they do. A document holds the arm arrays (``transitions[J, 2, S, S]``,
``rewards[J, S]``), the feasible set (``A`` in COO form, row and auxiliary bounds with ``None``
for an infinite bound, ``aux_integer``) and ``metadata``: the budget, the birth--death parameters
of :class:`~bandits.MultiStateArms`, the ``make_domain`` spec and the domain's own entry
(:meth:`bandits.constraints.Domain.to_dict`), which rebuilds its fast exact checker.

A document may come from someone else: the sizes it declares are checked against limits
(:data:`MAX_ARMS`, :data:`MAX_AUX`, :data:`MAX_ROWS`, :data:`MAX_DOMAIN_CELLS`) before anything
is allocated, nothing in it is imported or run, and every problem in it is an
:class:`~engine.errors.InvalidInputError` naming the JSON path.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from bandits.arms import Arms, InterventionArms, MultiStateArms
from bandits.constraints import DOMAIN_TYPES, Domain, DomainSizeError, check_cells, generate
from bandits.constraints.base import number_array
from engine.errors import EngineError, InvalidInputError, UnsupportedProblemError
from engine.schemas import load_document
from engine.validation import check_int
from engine.validation import short_repr as _short
from solvers.feasible_set import FeasibleSet

__all__ = ["cormab_document", "read_cormab", "CormabParts", "MAX_ARMS", "MAX_AUX", "MAX_ROWS", "MAX_DOMAIN_CELLS"]

# Limits on the sizes a ``gameplan/cormab`` document may declare (:func:`read_cormab` checks them
# before allocating anything; each has a keyword argument of the same name in lower case).
#: most arms ``J`` (``$['transitions']`` rows, ``n_arms`` of the metadata)
MAX_ARMS = 100_000
#: most auxiliary variables ``$['feasible_set']['n_aux']``
MAX_AUX = 1_000_000
#: most constraint rows ``$['feasible_set']['A']['shape'][0]``
MAX_ROWS = 1_000_000
#: most cells (array entries, list items) that rebuilding a domain's exact checker from
#: ``$['metadata']`` may allocate (path: ``2 J**2`` parity distances; matching:
#: ``J * workers * slots`` compatible pairs; capacity: ``J * workers`` assignment columns)
MAX_DOMAIN_CELLS = 10_000_000


@dataclass(frozen=True)
class CormabParts:
    """What a document describes: the :class:`~bandits.CoRMAB` constructor's arguments.

    ``domain`` is the rebuilt domain when the metadata describes one whose feasible set is
    exactly the stored one, else ``None``; ``spec`` is kept only when it rebuilds exactly the
    stored arrays; ``budget`` is the metadata's budget when it is an integer in ``[0, J]``.
    """

    arms: Arms
    feasible_set: FeasibleSet
    name: str
    budget: Optional[int]
    spec: Optional[dict]
    domain: Optional[Domain]


# ---------------------------------------------------------------------------- writing
def cormab_document(name: str, arms: Arms, feasible_set: FeasibleSet, *, budget: Optional[int] = None,
                    spec: Optional[Mapping] = None, domain: Optional[Domain] = None,
                    where: str = "cormab_document()") -> dict[str, Any]:
    """A ``gameplan/cormab`` v1 document (see the module docstring).

    Raises
    ------
    engine.errors.UnsupportedProblemError
        For :class:`~bandits.InterventionArms`: their action vector covers interventions, not
        one pull per arm, so they have no ``[J, 2, S, S]`` transition array.
    """
    if isinstance(arms, InterventionArms):
        raise UnsupportedProblemError(f"{where}: {name!r} has InterventionArms (actions over "
                                      f"{arms.n_actions} interventions, not one pull per arm); the "
                                      f"gameplan/cormab v1 format stores transitions[J, 2, S, S] only")
    fs = feasible_set
    coo = fs.A.tocoo()
    fs_doc: dict[str, Any] = {
        "n_actions": int(fs.n_actions), "n_aux": int(fs.n_aux),
        "A": {"shape": [int(coo.shape[0]), int(coo.shape[1])], "row": coo.row.astype(int).tolist(),
              "col": coo.col.astype(int).tolist(), "data": coo.data.astype(float).tolist()},
        "row_lower": _bounds_out(fs.row_lower), "row_upper": _bounds_out(fs.row_upper)}
    if fs.n_aux:
        fs_doc.update(aux_lower=_bounds_out(fs.aux_lower), aux_upper=_bounds_out(fs.aux_upper),
                      aux_integer=[bool(b) for b in fs.aux_integer])
    doc: dict[str, Any] = {"schema": "gameplan/cormab", "version": 1, "name": name,
                           "transitions": arms.transitions.tolist(), "rewards": arms.rewards.tolist(),
                           "feasible_set": fs_doc}
    meta = _metadata_out(arms, budget, spec, domain)
    if meta:
        doc["metadata"] = meta
    return doc


def _bounds_out(values: np.ndarray) -> list:
    return [None if math.isinf(v) else float(v) for v in np.asarray(values, dtype=float).tolist()]


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into Python ones, or raise TypeError."""

    def conv(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    out = conv(value)
    json.dumps(out, allow_nan=False)
    return out


def _metadata_out(arms: Arms, budget: Optional[int], spec: Optional[Mapping], domain: Optional[Domain]) -> dict:
    meta: dict[str, Any] = {}
    if budget is not None:
        meta["budget"] = int(budget)
    if isinstance(arms, MultiStateArms):
        meta["arms"] = {"kind": "multistate", "p_passive": arms.p_passive.tolist(), "p_active": arms.p_active.tolist()}
    if spec:
        try:
            meta["spec"] = _jsonable(dict(spec))
        except (TypeError, ValueError):
            pass
    if domain is not None:
        try:  # a domain on a graph whose node labels are not JSON has no entry (the feasible set is enough)
            entry = domain.to_dict()
            if entry is not None:
                meta["domain"] = _jsonable(entry)
        except (TypeError, ValueError, AttributeError):
            pass
    return meta


# ---------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class _Limits:
    arms: int
    aux: int
    rows: int
    domain_cells: int


def read_cormab(source: Any, *, max_arms: int = MAX_ARMS, max_aux: int = MAX_AUX, max_rows: int = MAX_ROWS,
                max_domain_cells: int = MAX_DOMAIN_CELLS, where: str = "read_cormab()") -> CormabParts:
    """The parts of a problem from a ``gameplan/cormab`` document (a mapping, JSON text or a path).

    See :meth:`bandits.CoRMAB.from_dict`, which builds the problem from them.
    """
    limits = _Limits(arms=check_int(max_arms, "max_arms", where, lower=1),
                     aux=check_int(max_aux, "max_aux", where, lower=0),
                     rows=check_int(max_rows, "max_rows", where, lower=0),
                     domain_cells=check_int(max_domain_cells, "max_domain_cells", where, lower=0))
    doc = load_document(source, expected="gameplan/cormab", where=where)
    J = len(doc["transitions"])
    if J > limits.arms:
        raise InvalidInputError(f"{where}: $['transitions'] has {J} arms, above max_arms={limits.arms} "
                                f"(bandits.problem.MAX_ARMS; pass max_arms= to read it)")
    P = _regular(doc["transitions"], "$['transitions']", 4, where)
    R = _regular(doc["rewards"], "$['rewards']", 2, where)
    J, _, S, S2 = P.shape
    if S != S2:
        raise InvalidInputError(f"{where}: $['transitions'] must have shape (J, 2, S, S), got {P.shape}")
    if R.shape != (J, S):
        raise InvalidInputError(f"{where}: $['rewards'] must have shape (J, S) = ({J}, {S}), got {R.shape}")
    sums = P.sum(axis=-1)
    bad = np.argwhere(np.abs(sums - 1.0) > 1e-8)
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        path = "$['transitions']" + "".join(f"[{i}]" for i in idx)
        raise InvalidInputError(f"{where}: {path} sums to {sums[idx]!r}, not 1")
    meta = dict(doc.get("metadata") or {})
    fs = _feasible_set_in(doc["feasible_set"], J, where, limits)
    arms = _arms_in(P, R, meta.get("arms"))
    domain = _domain_in(meta.get("domain"), fs, J, where, limits)
    budget = meta.get("budget")
    spec = _spec_in(meta.get("spec"), arms, fs, where, limits)
    return CormabParts(arms=arms, feasible_set=fs, name=doc.get("name", "cormab"),
                       budget=budget if isinstance(budget, int) and not isinstance(budget, bool)
                       and 0 <= budget <= J else None, spec=spec, domain=domain)


def _declared_int(value: Any, path: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{where}: {path} must be an integer, got {_short(value)}")
    return int(value)


def _bounds_in(values: Any, size: int, infinite: float, path: str, where: str) -> np.ndarray:
    if len(values) != size:
        raise InvalidInputError(f"{where}: {path} must have length {size}, got {len(values)}")
    return number_array([infinite if v is None else v for v in values], path, where)


def _index_array(values: Any, path: str, where: str) -> np.ndarray:
    """A list of JSON indices as int64 (an index beyond int64 is an error, not OverflowError)."""
    try:
        return np.asarray(values, dtype=np.int64).reshape(-1)
    except (OverflowError, TypeError, ValueError) as err:
        raise InvalidInputError(f"{where}: {path} must hold integers within the int64 range ({err})") from None


def _regular(value: Any, path: str, ndim: int, where: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as err:
        raise InvalidInputError(f"{where}: {path} must be a regular (non-ragged) {ndim}-D array of numbers "
                                f"within the float64 range") from err
    if arr.ndim != ndim:
        raise InvalidInputError(f"{where}: {path} must be a regular (non-ragged) {ndim}-D array, got {arr.ndim}-D")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{where}: {path} must be finite")
    return arr


def _arms_in(P: np.ndarray, R: np.ndarray, info: Any) -> Arms:
    if isinstance(info, dict) and info.get("kind") == "multistate":
        try:
            ms = MultiStateArms(info["p_passive"], info["p_active"], R)
        except (InvalidInputError, KeyError, TypeError):
            ms = None
        if ms is not None and ms.transitions.shape == P.shape and np.array_equal(ms.transitions, P):
            return ms
    return Arms(P, R)


def _feasible_set_in(d: dict, J: int, where: str, limits: _Limits) -> FeasibleSet:
    path = "$['feasible_set']"
    n = _declared_int(d["n_actions"], f"{path}['n_actions']", where)
    k = _declared_int(d.get("n_aux", 0), f"{path}['n_aux']", where)
    if n != J:
        raise InvalidInputError(f"{where}: $['feasible_set']['n_actions'] = {n} but the arms take {J} actions")
    if k > limits.aux:
        raise InvalidInputError(f"{where}: {path}['n_aux'] = {k} is above max_aux={limits.aux} "
                                f"(bandits.problem.MAX_AUX; pass max_aux= to read it)")
    A = d["A"]
    m, ncol = (_declared_int(v, f"{path}['A']['shape']", where) for v in A["shape"])
    if m > limits.rows:
        raise InvalidInputError(f"{where}: {path}['A']['shape'][0] = {m} rows is above max_rows={limits.rows} "
                                f"(bandits.problem.MAX_ROWS; pass max_rows= to read it)")
    if ncol != n + k:
        raise InvalidInputError(f"{where}: $['feasible_set']['A']['shape'] must have n_actions + n_aux = {n + k} "
                                f"columns, got {ncol}")
    if not len(A["row"]) == len(A["col"]) == len(A["data"]):
        raise InvalidInputError(f"{where}: $['feasible_set']['A'] row, col and data must have equal lengths, got "
                                f"{len(A['row'])}, {len(A['col'])}, {len(A['data'])}")
    # every length the document declares matches a list it holds before any array is built
    for key, size in (("row_lower", m), ("row_upper", m), ("aux_lower", k), ("aux_upper", k), ("aux_integer", k)):
        if key in d and d[key] is not None and len(d[key]) != size:
            raise InvalidInputError(f"{where}: {path}['{key}'] must have length {size}, got {len(d[key])}")
    index = {}
    for key, size in (("row", m), ("col", ncol)):
        idx = _index_array(A[key], f"{path}['A']['{key}']", where)
        if idx.size and idx.max() >= size:
            i = int(np.argmax(idx >= size))
            raise InvalidInputError(f"{where}: $['feasible_set']['A']['{key}'][{i}] = {int(idx[i])} is out of range "
                                    f"for shape {[m, ncol]}")
        index[key] = idx
    data = number_array(A["data"], f"{path}['A']['data']", where)
    M = sp.coo_matrix((data, (index["row"], index["col"])), shape=(m, ncol))
    rl = _bounds_in(d["row_lower"], m, -math.inf, f"{path}['row_lower']", where)
    ru = _bounds_in(d["row_upper"], m, math.inf, f"{path}['row_upper']", where)
    al = _bounds_in(d["aux_lower"], k, -math.inf, f"{path}['aux_lower']", where) if "aux_lower" in d else None
    au = _bounds_in(d["aux_upper"], k, math.inf, f"{path}['aux_upper']", where) if "aux_upper" in d else None
    ai = d.get("aux_integer")
    try:
        return FeasibleSet(n, M.tocsr(), rl, ru, n_aux=k, aux_lower=al, aux_upper=au,
                           aux_integer=None if ai is None else np.asarray(ai, dtype=bool))
    except InvalidInputError as err:
        raise InvalidInputError(f"{where}: {path}: {err}") from err


def _same_feasible_set(a: FeasibleSet, b: FeasibleSet) -> bool:
    if (a.n_actions, a.n_aux, a.n_rows) != (b.n_actions, b.n_aux, b.n_rows):
        return False
    return bool((a.A != b.A).nnz == 0 and np.array_equal(a.row_lower, b.row_lower)
                and np.array_equal(a.row_upper, b.row_upper) and np.array_equal(a.aux_lower, b.aux_lower)
                and np.array_equal(a.aux_upper, b.aux_upper) and np.array_equal(a.aux_integer, b.aux_integer))


def _small_int(value: Any) -> Optional[int]:
    """``value`` as an int when it is a JSON integer (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def _domain_type(info: Any) -> Optional[type[Domain]]:
    """The registered domain class ``info['name']`` names, or None."""
    name = info.get("name") if isinstance(info, dict) else None
    return DOMAIN_TYPES.get(name) if isinstance(name, str) else None


def _spec_in(spec: Any, arms: Arms, fs: FeasibleSet, where: str, limits: _Limits) -> Optional[dict]:
    """``spec`` when ``make_domain(**spec)`` rebuilds exactly these arms and feasible set, else None
    (a spec that no longer describes the stored arrays must not be saved with checkpoints).

    The spec's sizes are compared with the stored arrays first, so a spec that disagrees with
    them is dropped without building anything; a rebuild above ``max_domain_cells`` is refused.
    """
    cls = _domain_type(spec)
    if cls is None:
        return None
    J, S = arms.n_arms, arms.n_states
    n_arms, budget = _small_int(spec.get("n_arms")), _small_int(spec.get("budget"))
    if n_arms != J or budget is None or not 0 <= budget <= J or _small_int(spec.get("n_states", 4)) != S:
        return None
    cells = cls.spec_cells(J, budget, spec)
    if cells is None:
        return None  # (multiple_interventions has InterventionArms, which documents never store)
    check_cells(cells[0], limits.domain_cells, "$['metadata']['spec']", cells[1], where)
    params = {k: v for k, v in spec.items() if k not in ("name", "n_arms", "budget", "seed")}
    try:
        ref = generate(spec["name"], n_arms=J, budget=budget, seed=spec.get("seed", 0), params=params)
        same = (np.array_equal(ref.arms.rewards, arms.rewards) and type(ref.arms) is not InterventionArms
                and np.array_equal(ref.arms.transitions, arms.transitions)
                and _same_feasible_set(ref.domain.feasible_set(), fs))
    except (EngineError, TypeError, ValueError, KeyError, OverflowError):
        return None
    return dict(spec) if same else None


def _domain_in(info: Any, fs: FeasibleSet, J: int, where: str, limits: _Limits) -> Optional[Domain]:
    """The domain ``info`` describes when it rebuilds ``fs`` exactly, else None.

    Sizes are compared with the stored arrays before anything is built (a mismatch gives
    None), and a rebuild above ``max_domain_cells`` is refused.
    """
    cls = _domain_type(info)
    if cls is None:
        return None
    try:
        domain = cls.from_dict(info, J, max_cells=limits.domain_cells, where=where)
        if domain is None or domain.n != J or not _same_feasible_set(domain.feasible_set(), fs):
            return None
    except DomainSizeError:
        raise
    except (EngineError, KeyError, TypeError, ValueError, IndexError, OverflowError):
        return None
    return domain
