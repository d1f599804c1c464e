"""``gameplan/submodular`` instance files: :func:`instance_to_dict` writes an objective and its
constraint as a JSON document, :func:`load_instance` reads one (a mapping, JSON text or a path)
as a :class:`SubmodularInstance`. Files are untrusted input: the document is validated against
its schema, every array is checked, and errors name the JSON path. Re-exported by
:mod:`planning.submodular`, whose :func:`~planning.submodular.solve_instance` runs the optimiser
an instance's constraint calls for.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Optional

import numpy as np

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.schemas import load_document
from engine.validation import as_float_array, as_int_array, check_choice, check_int, check_real
from planning.objectives import FacilityLocation, LogDet, Modular, SubmodularFunction, WeightedCoverage, check_objective

__all__ = ["SubmodularInstance", "instance_to_dict", "load_instance"]


class SubmodularInstance(NamedTuple):
    """An objective and its constraint, as read by :func:`load_instance`.

    ``constraint`` is ``None`` or a dict in the ``gameplan/submodular`` form:
    ``{"type": "cardinality", "k": int}``, ``{"type": "knapsack", "costs": [...], "budget": float}``
    or ``{"type": "partition_matroid", "partition": [...], "capacities": [...]}``.
    """

    objective: SubmodularFunction
    constraint: Optional[dict]
    name: str = ""


def _objective_out(f: Any, where: str) -> dict:
    if isinstance(f, FacilityLocation):
        sim = f.similarity.toarray() if f.sparse else np.asarray(f.similarity)
        return {"type": "facility_location", "similarity": np.asarray(sim, dtype=np.float64).tolist()}
    if isinstance(f, WeightedCoverage):      # GraphCoverage included: stored as its incidence
        inc = f.incidence
        sets = [inc.indices[inc.indptr[j]:inc.indptr[j + 1]].astype(int).tolist() for j in range(f.n)]
        return {"type": "weighted_coverage", "sets": sets, "weights": np.asarray(f.weights, dtype=float).tolist()}
    if isinstance(f, Modular):               # f(S) = sum w[S] is the coverage of singleton sets
        return {"type": "weighted_coverage", "sets": [[j] for j in range(f.n)],
                "weights": np.asarray(f.weights, dtype=float).tolist()}
    if isinstance(f, LogDet):
        return {"type": "log_det", "kernel": np.asarray(f.kernel, dtype=float).tolist(), "noise": float(f.noise)}
    raise UnsupportedProblemError(f"{where}: the gameplan/submodular v1 format stores FacilityLocation, "
                                  f"WeightedCoverage (GraphCoverage, Modular) and LogDet objectives, got "
                                  f"{type(f).__name__}")


def _constraint_check(c: Any, n: int, where: str, prefix: str) -> Optional[dict]:
    """A normalised constraint dict (plain Python values), or InvalidInputError naming ``prefix[...]``."""
    if c is None:
        return None
    if not isinstance(c, Mapping):
        raise InvalidInputError(f"{where}: {prefix} must be a mapping with a 'type', got {type(c).__name__}")
    kind = check_choice(c.get("type"), f"{prefix}['type']", where, ("cardinality", "knapsack", "partition_matroid"))
    if kind == "cardinality":
        k = check_int(c.get("k"), f"{prefix}['k']", where, lower=0, upper=n)
        return {"type": kind, "k": k}
    if kind == "knapsack":
        costs = as_float_array(c.get("costs"), f"{prefix}['costs']", where, shape=(n,))
        if costs.size and costs.min() <= 0:
            i = int(np.argmin(costs))
            raise InvalidInputError(f"{where}: {prefix}['costs'][{i}] must be > 0, got {costs[i]}")
        budget = check_real(c.get("budget"), f"{prefix}['budget']", where, lower=0.0)
        return {"type": kind, "costs": costs.tolist(), "budget": budget}
    part = as_int_array(c.get("partition"), f"{prefix}['partition']", where, ndim=1, lower=0)
    if part.shape != (n,):
        raise InvalidInputError(f"{where}: {prefix}['partition'] must give a block for each of the {n} elements, "
                                f"got {part.size}")
    cap = as_int_array(c.get("capacities"), f"{prefix}['capacities']", where, ndim=1, lower=0)
    if part.size and part.max() >= cap.size:
        i = int(np.argmax(part >= cap.size))
        raise InvalidInputError(f"{where}: {prefix}['partition'][{i}] = {int(part[i])} names a block but "
                                f"{prefix}['capacities'] has only {cap.size}")
    return {"type": kind, "partition": part.tolist(), "capacities": cap.tolist()}


def instance_to_dict(objective: SubmodularFunction, constraint: Optional[Mapping[str, Any]] = None, *,
                     name: str = "") -> dict[str, Any]:
    """A ``gameplan/submodular`` v1 JSON document for ``objective`` and an optional constraint.

    Parameters
    ----------
    objective : FacilityLocation, WeightedCoverage or LogDet
        A sparse :class:`FacilityLocation` is written dense (missing entries are 0), a
        :class:`GraphCoverage` as its incidence and a :class:`Modular` as the coverage of
        singleton sets: the values of every set are unchanged.
    constraint : dict, optional
        ``{"type": "cardinality", "k": k}``, ``{"type": "knapsack", "costs": c, "budget": b}`` or
        ``{"type": "partition_matroid", "partition": p, "capacities": caps}``.
    name : str
        Stored as the document's ``name``.

    Raises
    ------
    engine.errors.UnsupportedProblemError
        Another objective type (FeatureBased, Mixture, SetFunction).
    engine.errors.InvalidInputError
        A constraint that does not fit the objective (wrong lengths, ``k > n``, ...).

    Examples
    --------
    >>> doc = instance_to_dict(WeightedCoverage([[0, 1], [1]], weights=[1, 2]), {"type": "cardinality", "k": 1})
    >>> doc["objective"]
    {'type': 'weighted_coverage', 'sets': [[0, 1], [1]], 'weights': [1.0, 2.0]}
    """
    where = "instance_to_dict()"
    f = check_objective(objective, where)
    doc: dict[str, Any] = {"schema": "gameplan/submodular", "version": 1}
    if name:
        doc["name"] = str(name)
    doc["objective"] = _objective_out(f, where)
    c = _constraint_check(constraint, f.n, where, "constraint")
    if c is not None:
        doc["constraint"] = c
    return doc


def load_instance(source: Any) -> SubmodularInstance:
    """Read a ``gameplan/submodular`` document (a mapping, JSON text or a path).

    The document is validated against its schema (migrated from older versions, refused with
    a clear message when it cannot be), then the objective is built and the constraint checked
    against it; errors name the JSON path (``$['objective']['kernel']``).

    Returns
    -------
    SubmodularInstance
        ``(objective, constraint, name)``: a :class:`FacilityLocation`, :class:`WeightedCoverage`
        or :class:`LogDet`, and the constraint dict (or ``None``).

    Examples
    --------
    >>> f = LogDet([[1.0, 0.5], [0.5, 1.0]], noise=0.1)
    >>> g, constraint, _ = load_instance(instance_to_dict(f, {"type": "cardinality", "k": 1}))
    >>> g.evaluate([0, 1]) == f.evaluate([0, 1]), constraint
    (True, {'type': 'cardinality', 'k': 1})
    """
    where = "load_instance()"
    try:
        doc = load_document(source, expected="gameplan/submodular", where=where)
    except InvalidInputError:
        raise
    except RecursionError:
        raise InvalidInputError(f"{where}: the document is nested too deeply to read") from None
    except (ValueError, OverflowError) as err:  # json: integers beyond 4300 digits, bad UTF-8 in a file
        raise InvalidInputError(f"{where}: cannot read the document: {str(err)[:200]}") from None
    try:
        return _instance_from(doc, where)
    except OverflowError as err:  # a JSON integer beyond the float64 range (10**400)
        raise InvalidInputError(f"{where}: a number of the document is beyond the float64 range ({err})") from None


def _instance_from(doc: dict, where: str) -> SubmodularInstance:
    obj = doc["objective"]
    kind = obj["type"]
    try:
        if kind == "facility_location":
            path = "$['objective']['similarity']"
            f: SubmodularFunction = FacilityLocation(_regular_2d(obj["similarity"], path, where))
        elif kind == "weighted_coverage":
            path = "$['objective']"
            weights = np.asarray(obj["weights"], dtype=np.float64)
            top = max((max(s) for s in obj["sets"] if s), default=-1)
            if top >= weights.size:
                raise InvalidInputError(f"$['objective']['sets'] names item {top} but $['objective']['weights'] "
                                        f"has {weights.size} items")
            f = WeightedCoverage(obj["sets"], weights, n_items=weights.size)
        else:
            path = "$['objective']['kernel']"
            f = LogDet(_regular_2d(obj["kernel"], path, where), noise=obj.get("noise", 1.0))
    except InvalidInputError as err:
        msg = str(err)
        raise InvalidInputError(msg if msg.startswith(where) else f"{where}: {path}: {msg}") from err
    constraint = _constraint_check(doc.get("constraint"), f.n, where, "$['constraint']")
    return SubmodularInstance(f, constraint, doc.get("name", ""))


def _regular_2d(value: Any, path: str, where: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as err:
        raise InvalidInputError(f"{where}: {path} must be a regular (non-ragged) 2-D array of numbers within the "
                                f"float64 range") from err
    if arr.ndim != 2:
        raise InvalidInputError(f"{where}: {path} must be a regular (non-ragged) 2-D array, got shape {arr.shape}")
    return arr
