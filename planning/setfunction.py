"""The objective interface of :mod:`planning.objectives`: :class:`SubmodularFunction` and its
incremental :class:`GainState`, the combinator :class:`Mixture`, and the two simplest objectives,
:class:`Modular` and :class:`SetFunction` (any Python callable).

Every objective is a set function ``f`` over the ground set ``{0, ..., n-1}`` with ``f(∅) = 0``;
``evaluate(S)`` computes it from scratch and ``new_state()`` returns an incremental state with
vectorised marginal gains (see :mod:`planning.objectives` for the catalogue). The checks every
objective and optimiser shares (:func:`as_index_array`, :func:`check_weights`,
:func:`check_objective`) live here too. All names are re-exported by :mod:`planning.objectives`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np

from engine.errors import InvalidInputError
from engine.validation import as_float_array, check_int

__all__ = ["SubmodularFunction", "GainState", "Modular", "Mixture", "SetFunction", "as_index_array", "check_weights",
           "check_objective"]


# ============================================================================ base classes
def as_index_array(S: Any, n: int, where: str, name: str = "S") -> np.ndarray:
    """``S`` (indices, a set, one index or a boolean mask of length ``n``) as an int64 array of
    indices in ``[0, n)``; InvalidInputError naming ``where`` and ``name`` otherwise."""
    if isinstance(S, (set, frozenset)):
        S = sorted(S)
    if isinstance(S, (numbers.Integral,)) and not isinstance(S, (bool, np.bool_)):
        S = [S]
    arr = np.asarray(S if not isinstance(S, np.ndarray) else S)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise InvalidInputError(f"{where}: a boolean {name} must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr).astype(np.int64)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer)
                            or (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))):
        raise InvalidInputError(f"{where}: {name} must be a 1-D collection of element indices, got {arr!r}")
    out = arr.astype(np.int64)
    if out.min() < 0 or out.max() >= n:
        bad = out[(out < 0) | (out >= n)][0]
        raise InvalidInputError(f"{where}: {name} holds index {bad} outside the ground set [0, {n})")
    return out


class GainState:
    """Incremental state of an objective at a growing set (start: the empty set).

    ``cheap_gains`` is True when the state keeps every candidate's gain exact (a gain is a
    lookup); :func:`planning.submodular.lazy_greedy` then scans instead of keeping a heap.

    Attributes
    ----------
    value : float
        ``f`` of the current set, accumulated from the gains of the picks.
    selected : list of int
        The picks, in order.
    """

    cheap_gains = False

    def __init__(self, f: "SubmodularFunction") -> None:
        self.f = f
        self.value = 0.0
        self.selected: list[int] = []

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        """Marginal gains ``f(S + c) - f(S)`` for an int64 array of candidates not in ``S``.

        (The value for a member of ``S`` is unspecified: the optimisers never ask for it.)
        """
        raise NotImplementedError

    def gain(self, c: int) -> float:
        """Marginal gain of one candidate (bit-for-bit equal to ``gains([c])[0]``)."""
        return float(self.gains(np.array([c], dtype=np.int64))[0])

    def add(self, c: int) -> float:
        """Add ``c`` to the set; return its marginal gain."""
        g = self._add(int(c))
        self.value += g
        self.selected.append(int(c))
        return g

    def _add(self, c: int) -> float:
        raise NotImplementedError

    def copy(self) -> "GainState":
        raise NotImplementedError


class SubmodularFunction:
    """Base class: a monotone submodular set function on ``{0, ..., n-1}`` with ``f(∅) = 0``.

    Subclasses implement :meth:`new_state` (and may override :meth:`evaluate` with a
    from-scratch formula). ``monotone`` tells the optimisers whether the data-dependent upper
    bounds they report are valid.
    """

    n: int = 0
    monotone: bool = True
    name: str = "objective"

    def new_state(self) -> GainState:
        """A fresh :class:`GainState` at the empty set."""
        raise NotImplementedError

    def evaluate(self, S: Any) -> float:
        """``f(S)`` for a collection of indices (repeats ignored) or a boolean mask."""
        idx = np.unique(as_index_array(S, self.n, f"{type(self).__name__}.evaluate()"))
        state = self.new_state()
        for j in idx:
            state.add(int(j))
        return float(state.value)

    def marginal_gains(self, S: Any = (), candidates: Any = None) -> np.ndarray:
        """Gains ``f(S + c) - f(S)`` of ``candidates`` (default: all elements) at the set ``S``."""
        where = f"{type(self).__name__}.marginal_gains()"
        state = self.new_state()
        chosen = np.unique(as_index_array(S, self.n, where))
        for j in chosen:
            state.add(int(j))
        cands = np.arange(self.n, dtype=np.int64) if candidates is None else \
            as_index_array(candidates, self.n, where, "candidates")
        out = np.asarray(state.gains(cands), dtype=np.float64)
        # f(S + c) - f(S) is 0 for c already in S; the states only define gains of new elements
        out[np.isin(cands, chosen)] = 0.0
        return out

    def path_gains(self, paths: Any, *, modular: bool = False) -> np.ndarray:
        """Marginal gains along each row of a 2-D int array of elements (visits in order).

        ``out[b, t] = f(P_b[:t+1]) - f(P_b[:t])`` where repeats gain nothing; with
        ``modular=True`` each visit instead earns its singleton value ``f({p})`` again (the
        "modular RL" reward that counts revisits).
        """
        P = self._check_paths(paths)
        out = np.zeros(P.shape, dtype=np.float64)
        if modular:
            single = self.new_state().gains(np.arange(self.n, dtype=np.int64))
            return single[P]
        for b in range(P.shape[0]):
            state = self.new_state()
            seen: set[int] = set()
            for t in range(P.shape[1]):
                j = int(P[b, t])
                if j not in seen:
                    seen.add(j)
                    out[b, t] = state.add(j)
        return out

    def _check_paths(self, paths: Any) -> np.ndarray:
        """``paths`` as a 2-D int64 array of elements of the ground set (what :meth:`path_gains` takes)."""
        P = np.asarray(paths, dtype=np.int64)
        if P.ndim != 2:
            raise InvalidInputError(f"{type(self).__name__}.path_gains(): paths must be 2-D, got shape {P.shape}")
        if P.size and (P.min() < 0 or P.max() >= self.n):
            raise InvalidInputError(f"{type(self).__name__}.path_gains(): an element lies outside [0, {self.n})")
        return P

    # mixtures -----------------------------------------------------------------------------
    def __add__(self, other: "SubmodularFunction") -> "Mixture":
        if not isinstance(other, SubmodularFunction):
            return NotImplemented
        return Mixture([self, other])

    def __radd__(self, other: Any) -> "SubmodularFunction":
        if isinstance(other, numbers.Number) and other == 0:
            return self  # sum([...]) starts from 0
        return NotImplemented

    def __mul__(self, weight: Any) -> "Mixture":
        if not isinstance(weight, numbers.Real) or isinstance(weight, (bool, np.bool_)):
            return NotImplemented
        return Mixture([self], [weight])

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n})"


# ============================================================================ checks shared by the objectives
def check_objective(f: Any, where: str) -> "SubmodularFunction":
    """``f`` if it is a :class:`SubmodularFunction`, else :class:`~engine.errors.InvalidInputError`."""
    if not isinstance(f, SubmodularFunction):
        raise InvalidInputError(f"{where}: f must be a planning.submodular objective (SubmodularFunction), "
                                f"got {type(f).__name__}")
    return f


def check_weights(weights: Any, size: int, where: str, name: str = "weights") -> np.ndarray:
    """Non-negative weights of shape ``(size,)`` (all ones when None)."""
    if weights is None:
        return np.ones(size, dtype=np.float64)
    w = as_float_array(weights, name, where, ndim=1)
    if w.shape != (size,):
        raise InvalidInputError(f"{where}: {name} must have shape ({size},), got {w.shape}")
    if w.size and w.min() < 0:
        raise InvalidInputError(f"{where}: {name} must be >= 0 (the objective is monotone only with non-negative "
                                f"weights), got {w.min()}")
    return w


# ============================================================================ modular, mixtures, callables
class _ModularState(GainState):
    cheap_gains = True
    f: "Modular"  # the objective this state belongs to (narrows GainState.f)


    def gains(self, candidates: np.ndarray) -> np.ndarray:
        return self.f.weights[candidates].astype(np.float64)

    def _add(self, c: int) -> float:
        return float(self.f.weights[c])

    def copy(self) -> "_ModularState":
        new = _ModularState(self.f)
        new.value, new.selected = self.value, list(self.selected)
        return new


class Modular(SubmodularFunction):
    """Modular ``f(S) = sum of weights[j] over j in S`` (weights ``>= 0``).

    Examples
    --------
    >>> Modular([1.0, 2.0, 3.0]).evaluate([0, 2])
    4.0
    """

    name = "modular"

    def __init__(self, weights: Any) -> None:
        where = f"{type(self).__name__}()"
        w = as_float_array(weights, "weights", where, ndim=1)
        if w.size == 0:
            raise InvalidInputError(f"{where}: weights must not be empty")
        self.weights = check_weights(w, w.size, where)
        self.n = w.size

    def new_state(self) -> GainState:
        return _ModularState(self)


class _MixtureState(GainState):
    f: "Mixture"  # the objective this state belongs to (narrows GainState.f)

    def __init__(self, f: "Mixture") -> None:
        super().__init__(f)
        self.parts = [g.new_state() for g in f.components]
        self.cheap_gains = all(getattr(p, "cheap_gains", False) for p in self.parts)

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        out = np.zeros(candidates.shape[0], dtype=np.float64)
        for w, st in zip(self.f.weights, self.parts):
            out += w * st.gains(candidates)
        return out

    def gain(self, c: int) -> float:
        return float(sum(w * st.gain(c) for w, st in zip(self.f.weights, self.parts)))

    def _add(self, c: int) -> float:
        return float(sum(w * st.add(c) for w, st in zip(self.f.weights, self.parts)))

    def copy(self) -> "_MixtureState":
        new = _MixtureState.__new__(_MixtureState)
        new.f, new.value, new.selected = self.f, self.value, list(self.selected)
        new.parts = [st.copy() for st in self.parts]
        return new


class Mixture(SubmodularFunction):
    """Non-negative combination ``f(S) = sum_i weights[i] * components[i](S)``.

    Built by ``f + g`` and ``2.0 * f`` as well. All components share the ground set.

    Examples
    --------
    >>> from planning.objectives import Modular, WeightedCoverage
    >>> f = 2.0 * Modular([1.0, 1.0]) + WeightedCoverage([[0], [0]])
    >>> f.evaluate([0, 1])
    5.0
    """

    name = "mixture"

    def __init__(self, components: Sequence[SubmodularFunction], weights: Any = None) -> None:
        where = f"{type(self).__name__}()"
        comps = list(components)
        if not comps or not all(isinstance(c, SubmodularFunction) for c in comps):
            raise InvalidInputError(f"{where}: components must be a non-empty list of objectives")
        w = check_weights(weights, len(comps), where)
        flat_c: list[SubmodularFunction] = []
        flat_w: list[float] = []
        for c, wi in zip(comps, w):  # flatten nested mixtures
            if isinstance(c, Mixture):
                flat_c.extend(c.components)
                flat_w.extend(wi * c.weights)
            else:
                flat_c.append(c)
                flat_w.append(wi)
        sizes = {c.n for c in flat_c}
        if len(sizes) != 1:
            raise InvalidInputError(f"{where}: components must share one ground set, got sizes {sorted(sizes)}")
        self.components: list[SubmodularFunction] = flat_c
        self.weights: np.ndarray = np.asarray(flat_w, dtype=np.float64)
        self.n = flat_c[0].n
        self.monotone = all(c.monotone for c in flat_c)

    def new_state(self) -> GainState:
        return _MixtureState(self)

    def evaluate(self, S: Any) -> float:
        return float(sum(w * c.evaluate(S) for w, c in zip(self.weights, self.components)))

    def path_gains(self, paths: Any, *, modular: bool = False) -> np.ndarray:
        return sum(w * c.path_gains(paths, modular=modular) for w, c in zip(self.weights, self.components))


class _CallableState(GainState):
    f: "SetFunction"  # the objective this state belongs to (narrows GainState.f)

    def __init__(self, f: "SetFunction") -> None:
        super().__init__(f)
        self.members: list[int] = []

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        base = self.value
        call = self.f._call
        return np.array([call(frozenset(self.members + [int(c)])) - base for c in candidates], dtype=np.float64)

    def _add(self, c: int) -> float:
        g = self.f._call(frozenset(self.members + [c])) - self.value
        self.members.append(c)
        return g

    def copy(self) -> "_CallableState":
        new = _CallableState(self.f)
        new.value, new.selected, new.members = self.value, list(self.selected), list(self.members)
        return new


class SetFunction(SubmodularFunction):
    """Any Python set function ``func(frozenset) -> float`` on ``{0, ..., n-1}``.

    Every gain calls ``func`` once, so this is for prototypes and brute-force checks.
    ``func(frozenset())`` must be 0. Declare ``monotone=False`` if it is not monotone (the
    optimisers then report no data-dependent bound). Every value must be a finite real number:
    a NaN, an infinity or a non-number raises :class:`~engine.errors.InvalidInputError` naming
    the set, from :meth:`evaluate` and from every optimiser (which never report such a run as
    OPTIMAL or FEASIBLE).

    Examples
    --------
    >>> f = SetFunction(lambda S: float(len(S) ** 0.5), n=4)
    >>> f.evaluate([1, 2, 3, 0])
    2.0
    """

    name = "set_function"

    def __init__(self, func: Callable[[frozenset], float], n: int, *, monotone: bool = True) -> None:
        where = f"{type(self).__name__}()"
        if not callable(func):
            raise InvalidInputError(f"{where}: func must be callable, got {func!r}")
        self.func = func
        self.n = check_int(n, "n", where, lower=1)
        self.monotone = bool(monotone)
        empty = func(frozenset())
        if isinstance(empty, (bool, np.bool_)) or not isinstance(empty, numbers.Real) \
                or not abs(float(empty)) <= 1e-12:
            raise InvalidInputError(f"{where}: func(frozenset()) must be 0, got {empty!r}")

    def _call(self, S: frozenset) -> float:
        """``func(S)`` as a float; a NaN, an infinity or a non-number is an error, never a value."""
        value = self.func(S)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
                or not math.isfinite(float(value)):
            shown = sorted(S) if len(S) <= 20 else sorted(S)[:20] + ["..."]
            raise InvalidInputError(f"{type(self).__name__}: func({{{', '.join(map(str, shown))}}}) returned "
                                    f"{value!r}; a set function must return a finite real number")
        return float(value)

    def new_state(self) -> GainState:
        return _CallableState(self)

    def evaluate(self, S: Any) -> float:
        idx = as_index_array(S, self.n, f"{type(self).__name__}.evaluate()")
        return self._call(frozenset(int(j) for j in idx))
