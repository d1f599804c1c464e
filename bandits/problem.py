"""The coupled restless bandit (coRMAB): arms plus a combinatorial feasible set of actions.

Reward convention (used everywhere in :mod:`bandits`)
-----------------------------------------------------
The reward of step ``t`` is the **expected next-step reward**

``R(s_t, a_t) = sum_j E[ r_j(s'_j) | s_t, a_t ]``

where ``s'`` is the joint state the arms land in. Evaluation averages ``R`` over the steps of an
episode (as the SEQUOIA paper does); the simulator still *samples* ``s'`` to move on, so the
randomness of a run comes from the transitions only, not from the reward draw.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping
from typing import Any, Callable, Optional

import numpy as np

from bandits.arms import Arms, InterventionArms, MultiStateArms, _as_actions, _as_states
from engine.errors import EngineError, InvalidInputError, UnsupportedProblemError
from engine.schemas import load_document
from engine.seeding import resolve_seed
from engine.validation import check_int
from engine.validation import short_repr as _short

__all__ = ["CoRMAB", "action_key", "MAX_ARMS", "MAX_AUX", "MAX_ROWS", "MAX_DOMAIN_CELLS"]

# Limits on the sizes a ``gameplan/cormab`` document may declare (:meth:`CoRMAB.from_dict` checks
# them before allocating anything; each has a keyword argument of the same name in lower case).
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


def action_key(action: np.ndarray) -> bytes:
    """A hashable key of a 0/1 action (or a state) vector."""
    return np.asarray(action, dtype=np.int8).tobytes()


class CoRMAB:
    """A combinatorial restless multi-armed bandit.

    Parameters
    ----------
    arms : Arms
        :class:`~bandits.Arms`, :class:`~bandits.MultiStateArms` or
        :class:`~bandits.InterventionArms`.
    feasible_set : solvers.FeasibleSet
        The feasible actions (its first ``arms.n_actions`` variables are the action vector; more
        variables are auxiliary).
    checker : callable, optional
        ``checker(action) -> bool``, an exact feasibility test (default ``feasible_set.contains``).
    sampler : callable, optional
        ``sampler(rng) -> action``, a random feasible action (default ``feasible_set.sample``).
    partial_checker : callable, optional
        Feasibility of a *partial* action during greedy construction (default ``checker``; differs
        for sets that are not closed under removing pulls, e.g. "exactly B interventions").
    enumerator : callable, optional
        ``enumerator(limit) -> array (K, n)`` of every feasible action, or ``None`` beyond ``limit``.
    name : str
        Domain name (``"budget"``, ``"path"``, ...).
    budget : int, optional
        The budget ``B`` when the problem has one (used by the Whittle policy).
    spec : dict, optional
        ``make_domain`` arguments that rebuild the problem (saved with SEQUOIA checkpoints).

    Examples
    --------
    >>> import bandits, solvers
    >>> arms = bandits.MultiStateArms([0.1, 0.1, 0.1], [0.8, 0.8, 0.8], [[0, 0, 1]] * 3)
    >>> problem = bandits.CoRMAB(arms, solvers.FeasibleSet.budget(n=3, budget=1))
    >>> problem.n_arms, problem.n_actions, len(problem.feasible_actions())
    (3, 3, 4)
    """

    # Domain-specific extras that make_domain attaches to some problems (absent on the others;
    # declared here for type checking only, so getattr(problem, "constraint", None) still works).
    graph: Any
    source: Any
    constraint: Any
    arm_slots: np.ndarray
    worker_slots: np.ndarray
    costs: np.ndarray
    capacities: np.ndarray
    n_interventions: int

    def __init__(self, arms: Arms, feasible_set: Any, *, checker: Optional[Callable] = None,
                 sampler: Optional[Callable] = None, partial_checker: Optional[Callable] = None,
                 enumerator: Optional[Callable] = None, name: str = "cormab", budget: Optional[int] = None,
                 spec: Optional[dict] = None) -> None:
        where = "CoRMAB()"
        if not isinstance(arms, Arms):
            raise InvalidInputError(f"{where}: arms must be a bandits.Arms (or subclass), got {type(arms).__name__}")
        n_fs = getattr(feasible_set, "n_actions", None)
        if n_fs is None:
            raise InvalidInputError(f"{where}: feasible_set must be a solvers.FeasibleSet, got "
                                    f"{type(feasible_set).__name__}")
        if int(n_fs) != arms.n_actions:
            raise InvalidInputError(f"{where}: feasible_set has {n_fs} action variables but the arms take "
                                    f"{arms.n_actions}")
        for label, fn in (("checker", checker), ("sampler", sampler), ("partial_checker", partial_checker),
                          ("enumerator", enumerator)):
            if fn is not None and not callable(fn):
                raise InvalidInputError(f"{where}: {label} must be callable or None, got {_short(fn)}")
        if not isinstance(name, str):
            raise InvalidInputError(f"{where}: name must be a string, got {_short(name)}")
        if budget is not None:
            budget = check_int(budget, "budget", where, lower=0)
        if spec is not None and not isinstance(spec, Mapping):
            raise InvalidInputError(f"{where}: spec must be a mapping (make_domain arguments) or None, got "
                                    f"{_short(spec)}")
        self.arms = arms
        self.feasible_set = feasible_set
        self.name = name
        if budget is None:
            budget = _budget_of(feasible_set)
        self.budget = None if budget is None else int(budget)
        self.spec = dict(spec) if spec else None
        self._checker = checker
        self._sampler = sampler
        self._partial = partial_checker
        self._enumerator = enumerator
        self._actions_cache: dict[int, Optional[np.ndarray]] = {}
        try:
            raw = self._draw(np.random.default_rng(0))
        except EngineError as err:
            raise InvalidInputError(f"{where}: the constraint set is infeasible (no feasible action): {err}") from err
        first = self._as_sample(raw, where)
        if not self.contains(first):
            raise InvalidInputError(f"{where}: the constraint set is infeasible (no feasible action found)")

    # ------------------------------------------------------------------ sizes
    @property
    def n_arms(self) -> int:
        return self.arms.n_arms

    @property
    def n_states(self) -> int:
        return self.arms.n_states

    @property
    def n_actions(self) -> int:
        return self.arms.n_actions

    @property
    def is_budget_only(self) -> bool:
        """True when the only constraint is ``sum(a) <= budget`` on a pull vector (Whittle applies)."""
        return _budget_of(self.feasible_set) is not None and self.arms.n_actions == self.arms.n_arms

    # ------------------------------------------------------------------ actions
    def contains(self, action: Any) -> bool:
        """Exact feasibility of a 0/1 action."""
        a = np.asarray(action)
        if self._checker is not None:
            return bool(self._checker(a))
        return bool(self.feasible_set.contains(a))

    def partial_ok(self, action: Any) -> bool:
        """Whether a partial action may still be extended (greedy construction)."""
        if self._partial is not None:
            return bool(self._partial(np.asarray(action)))
        return self.contains(action)

    def sample_action(self, rng: np.random.Generator) -> np.ndarray:
        """A random feasible action (the domain's sampler, else the feasible set's)."""
        return self._as_sample(self._draw(rng), "CoRMAB.sample_action()")

    def _draw(self, rng: np.random.Generator) -> Any:
        if self._sampler is not None:
            return self._sampler(rng)
        return self.feasible_set.sample(rng)

    def _as_sample(self, raw: Any, where: str) -> np.ndarray:
        """The first ``n_actions`` entries of a sampler's answer as a 0/1 int64 vector, or InvalidInputError."""
        n = self.n_actions
        source = "sampler(rng)" if self._sampler is not None else "feasible_set.sample(rng)"
        try:
            arr = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 1 or arr.shape[0] < n:
            raise InvalidInputError(f"{where}: {source} returned {_short(raw)}; expected a 0/1 vector of length {n}")
        head = arr[:n]
        a = np.round(head)
        if not (np.all((a == 0) | (a == 1)) and np.all(np.abs(head - a) <= 1e-6)):
            raise InvalidInputError(f"{where}: {source} returned {_short(raw)}; expected a 0/1 vector of length {n}")
        return a.astype(np.int64)

    def feasible_actions(self, limit: int = 100_000) -> Optional[np.ndarray]:
        """Every feasible action as rows of a 0/1 array, or ``None`` when there are more than ``limit``."""
        if limit in self._actions_cache:
            return self._actions_cache[limit]
        out: Optional[np.ndarray]
        if self._enumerator is not None:
            out = self._enumerator(limit)
        elif self.n_actions <= 16 and self._checker is not None:
            rows = [a for a in itertools.product((0, 1), repeat=self.n_actions) if self._checker(np.array(a))]
            out = np.array(rows, dtype=np.int64).reshape(-1, self.n_actions) if len(rows) <= limit else None
        else:
            try:
                out = np.asarray(self.feasible_set.enumerate(limit), dtype=np.int64)[:, : self.n_actions]
            except EngineError:
                out = None
        if out is not None:
            out = np.ascontiguousarray(out, dtype=np.int64)
            out.setflags(write=False)
        self._actions_cache[limit] = out
        return out

    # ------------------------------------------------------------------ dynamics
    def expected_reward(self, states: Any, actions: Any) -> np.ndarray:
        """Expected next-step reward ``sum_j E[r_j(s'_j) | s, a]``, shape ``(B,)``."""
        return self.arms.expected_reward(states, actions)

    def initial_states(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """``n`` joint states drawn uniformly (each arm independently), shape ``(n, J)``."""
        return rng.integers(0, self.n_states, size=(int(n), self.n_arms))

    def step(self, states: Any, actions: Any, rng: Any = None, *, check: bool = True) -> np.ndarray:
        """Sample the next joint states, vectorised over a batch.

        Parameters
        ----------
        states : array_like, shape (J,) or (B, J)
        actions : array_like, shape (n,) or (B, n)
        rng : numpy Generator, int or None
        check : bool
            Verify every action against the constraints (``InvalidInputError`` otherwise).

        Returns
        -------
        numpy.ndarray, shape (B, J)
        """
        where = "CoRMAB.step()"
        s = _as_states(states, self.n_arms, self.n_states, where)
        a = _as_actions(actions, self.n_actions, where)
        if a.shape[0] != s.shape[0]:
            if a.shape[0] != 1:
                raise InvalidInputError(f"{where}: {a.shape[0]} actions for {s.shape[0]} states")
            a = np.repeat(a, s.shape[0], axis=0)
        if check:
            for i in range(a.shape[0]):
                if not self.contains(a[i]):
                    raise InvalidInputError(f"{where}: action {a[i].tolist()} violates the {self.name} constraints")
        if not isinstance(rng, np.random.Generator):
            rng = resolve_seed(rng, where=where).generator("step")
        rows = self.arms._rows(s, a)
        return sample_rows(rows, rng)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        """The problem as a ``gameplan/cormab`` v1 JSON document (see :mod:`engine.schemas`).

        The document holds the arm arrays (``transitions[J, 2, S, S]``, ``rewards[J, S]``) and
        the feasible set (``A`` in COO form, row and auxiliary bounds with ``None`` for an
        infinite bound, ``aux_integer``). ``metadata`` keeps what rebuilds the fast exact
        domain checkers on :meth:`from_dict` (path graph and source, capacity costs and
        capacities, matching slots), the budget, the birth--death parameters of
        :class:`~bandits.MultiStateArms` and the ``make_domain`` spec.

        Raises
        ------
        engine.errors.UnsupportedProblemError
            For :class:`~bandits.InterventionArms`: their action vector covers interventions,
            not one pull per arm, so they have no ``[J, 2, S, S]`` transition array.

        Examples
        --------
        >>> import bandits, solvers
        >>> arms = bandits.MultiStateArms([0.1, 0.1], [0.8, 0.8], [[0, 1], [0, 2]])
        >>> doc = bandits.CoRMAB(arms, solvers.FeasibleSet.budget(2, 1)).to_dict()
        >>> doc["schema"], doc["feasible_set"]["row_lower"], doc["feasible_set"]["row_upper"]
        ('gameplan/cormab', [None], [1.0])
        """
        where = "CoRMAB.to_dict()"
        if isinstance(self.arms, InterventionArms):
            raise UnsupportedProblemError(f"{where}: {self.name!r} has InterventionArms (actions over "
                                          f"{self.arms.n_actions} interventions, not one pull per arm); the "
                                          f"gameplan/cormab v1 format stores transitions[J, 2, S, S] only")
        fs = self.feasible_set
        coo = fs.A.tocoo()
        fs_doc: dict[str, Any] = {
            "n_actions": int(fs.n_actions), "n_aux": int(fs.n_aux),
            "A": {"shape": [int(coo.shape[0]), int(coo.shape[1])], "row": coo.row.astype(int).tolist(),
                  "col": coo.col.astype(int).tolist(), "data": coo.data.astype(float).tolist()},
            "row_lower": _bounds_out(fs.row_lower), "row_upper": _bounds_out(fs.row_upper)}
        if fs.n_aux:
            fs_doc.update(aux_lower=_bounds_out(fs.aux_lower), aux_upper=_bounds_out(fs.aux_upper),
                          aux_integer=[bool(b) for b in fs.aux_integer])
        doc: dict[str, Any] = {"schema": "gameplan/cormab", "version": 1, "name": self.name,
                               "transitions": self.arms.transitions.tolist(), "rewards": self.arms.rewards.tolist(),
                               "feasible_set": fs_doc}
        meta = _metadata_out(self)
        if meta:
            doc["metadata"] = meta
        return doc

    @classmethod
    def from_dict(cls, source: Any, *, max_arms: int = MAX_ARMS, max_aux: int = MAX_AUX, max_rows: int = MAX_ROWS,
                  max_domain_cells: int = MAX_DOMAIN_CELLS) -> "CoRMAB":
        """A problem from a ``gameplan/cormab`` document (a mapping, JSON text or a path).

        The document is validated against its schema (migrated from older versions, refused
        with a clear message when it cannot be) and then checked for consistency: regular
        array shapes, transition rows summing to 1, ``A`` indices within its shape, bound
        lengths. Errors name the JSON path (``$['transitions'][0][1][2]``).

        A document may come from someone else, so the sizes it declares are checked against
        limits before anything is allocated: at most ``max_arms`` arms (default
        :data:`MAX_ARMS`), ``max_aux`` auxiliary variables (:data:`MAX_AUX`), ``max_rows``
        constraint rows (:data:`MAX_ROWS`), and rebuilding a domain's checker from the metadata
        may take at most ``max_domain_cells`` array cells (:data:`MAX_DOMAIN_CELLS`). A document
        above a limit raises :class:`~engine.errors.InvalidInputError` naming the field and the
        limit; pass a larger value to read it anyway.

        Arms come back as :class:`~bandits.Arms` (as :class:`~bandits.MultiStateArms` when the
        metadata's birth--death parameters reproduce the stored transitions exactly). When the
        metadata describes a budget, path, capacity or matching domain whose constraint rebuilds
        the stored feasible set exactly, that domain's exact checker, sampler and enumerator are
        attached again (same action order as :func:`~bandits.make_domain`); otherwise the
        feasible set's own (exact, slower) ones are used. The ``make_domain`` spec is kept only
        when it rebuilds exactly the stored arrays (a spec whose sizes disagree with the stored
        arrays is dropped without building anything).

        Examples
        --------
        >>> import bandits, solvers
        >>> arms = bandits.MultiStateArms([0.1, 0.1], [0.8, 0.8], [[0, 1], [0, 2]])
        >>> p = bandits.CoRMAB(arms, solvers.FeasibleSet.budget(2, 1), name="tiny")
        >>> q = bandits.CoRMAB.from_dict(p.to_dict())
        >>> q.name, q.budget, bool((q.arms.transitions == p.arms.transitions).all())
        ('tiny', 1, True)
        """
        where = "CoRMAB.from_dict()"
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
        kwargs = _domain_in(meta.get("domain"), fs, J, where, limits)
        budget = meta.get("budget")
        spec = _spec_in(meta.get("spec"), arms, fs, where, limits)
        extras = kwargs.pop("attributes", {})
        try:
            problem = cls(arms, fs, name=doc.get("name", "cormab"),
                          budget=budget if isinstance(budget, int) and not isinstance(budget, bool)
                          and 0 <= budget <= J else None, spec=spec, **kwargs)
        except InvalidInputError as err:
            raise InvalidInputError(f"{where}: {err}") from err
        for key, value in extras.items():
            setattr(problem, key, value)
        return problem

    def __repr__(self) -> str:
        return (f"CoRMAB(name={self.name!r}, J={self.n_arms}, S={self.n_states}, n_actions={self.n_actions}, "
                f"budget={self.budget})")


# ---------------------------------------------------------------------------- JSON helpers
class _Limits:
    __slots__ = ("arms", "aux", "rows", "domain_cells")

    def __init__(self, *, arms: int, aux: int, rows: int, domain_cells: int) -> None:
        self.arms, self.aux, self.rows, self.domain_cells = arms, aux, rows, domain_cells


def _declared_int(value: Any, path: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{where}: {path} must be an integer, got {_short(value)}")
    return int(value)


class _LimitError(InvalidInputError):
    """A document above a size limit (raised through the metadata readers, which drop other errors)."""


def _check_domain_cells(cells: int, path: str, what: str, where: str, limits: "_Limits") -> None:
    if cells > limits.domain_cells:
        raise _LimitError(f"{where}: {path} describes a domain whose exact checker needs {cells} cells ({what}), "
                          f"above max_domain_cells={limits.domain_cells} (bandits.problem.MAX_DOMAIN_CELLS; "
                          f"pass max_domain_cells= to read it)")


def _bounds_out(values: np.ndarray) -> list:
    return [None if math.isinf(v) else float(v) for v in np.asarray(values, dtype=float).tolist()]


def _bounds_in(values: Any, size: int, infinite: float, path: str, where: str) -> np.ndarray:
    if len(values) != size:
        raise InvalidInputError(f"{where}: {path} must have length {size}, got {len(values)}")
    return _number_array([infinite if v is None else v for v in values], path, where)


def _number_array(values: Any, path: str, where: str) -> np.ndarray:
    """A list of JSON numbers as float64 (an integer beyond the float range is an error, not OverflowError)."""
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (OverflowError, TypeError, ValueError) as err:
        raise InvalidInputError(f"{where}: {path} must hold numbers within the float64 range ({err})") from None


def _index_array(values: Any, path: str, where: str) -> np.ndarray:
    """A list of JSON indices as int64 (an index beyond int64 is an error, not OverflowError)."""
    try:
        return np.asarray(values, dtype=np.int64).reshape(-1)
    except (OverflowError, TypeError, ValueError) as err:
        raise InvalidInputError(f"{where}: {path} must hold integers within the int64 range ({err})") from None


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into Python ones, or raise TypeError."""
    import json

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


def _metadata_out(problem: "CoRMAB") -> dict:
    meta: dict[str, Any] = {}
    if problem.budget is not None:
        meta["budget"] = int(problem.budget)
    arms = problem.arms
    if isinstance(arms, MultiStateArms):
        meta["arms"] = {"kind": "multistate", "p_passive": arms.p_passive.tolist(), "p_active": arms.p_active.tolist()}
    if problem.spec:
        try:
            meta["spec"] = _jsonable(problem.spec)
        except (TypeError, ValueError):
            pass
    domain: Optional[dict] = None
    con: Any = getattr(problem, "constraint", None)
    kind = type(con).__name__
    try:
        if kind == "PathConstraint":
            g = con.graph
            domain = {"name": "path", "nodes": list(g.nodes), "edges": [list(e) for e in g.edges],
                      "source": con.source_node, "budget": int(con.budget)}
        elif kind == "CapacityConstraint":
            domain = {"name": "capacity", "costs": con.costs.tolist(), "capacities": con.capacities.tolist()}
        elif problem.spec and problem.spec.get("name") == "budget" and problem.budget is not None:
            domain = {"name": "budget", "budget": int(problem.budget)}
        elif kind == "MatchingConstraint":
            domain = {"name": "matching", "arm_slots": con.arm_slots.tolist(),
                      "worker_slots": con.worker_slots.tolist(), "max_pulls": int(con.max_pulls)}
        if domain is not None:
            meta["domain"] = _jsonable(domain)
    except (TypeError, ValueError, AttributeError):
        pass
    return meta


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


def _feasible_set_in(d: dict, J: int, where: str, limits: "_Limits") -> Any:
    import scipy.sparse as sp

    from solvers.feasible_set import FeasibleSet

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
    data = _number_array(A["data"], f"{path}['A']['data']", where)
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


def _same_feasible_set(a: Any, b: Any) -> bool:
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


def _spec_in(spec: Any, arms: Arms, fs: Any, where: str, limits: "_Limits") -> Optional[dict]:
    """``spec`` when ``make_domain(**spec)`` rebuilds exactly these arms and feasible set, else None
    (a spec that no longer describes the stored arrays must not be saved with checkpoints).

    The spec's sizes are compared with the stored arrays first, so a spec that disagrees with
    them is dropped without building anything; a rebuild above ``max_domain_cells`` is refused.
    """
    if not isinstance(spec, dict) or spec.get("name") not in ("budget", "path", "matching", "capacity"):
        return None  # (multiple_interventions has InterventionArms, which documents never store)
    J, S = arms.n_arms, arms.n_states
    n_arms, budget = _small_int(spec.get("n_arms")), _small_int(spec.get("budget"))
    if n_arms != J or budget is None or not 0 <= budget <= J or _small_int(spec.get("n_states", 4)) != S:
        return None
    path = "$['metadata']['spec']"
    name = spec["name"]
    if name == "path":
        _check_domain_cells(_path_cells(J, budget), path, f"a path domain on {J} arms", where, limits)
    elif name == "matching":
        slots = _small_int(spec.get("n_slots", 5))
        ws = spec.get("worker_slots")
        workers = len(ws) if isinstance(ws, list) else budget
        if slots is None or slots < 1:
            return None
        _check_domain_cells(_matching_cells(J, workers, slots), path,
                            f"{J} arms, {workers} workers, {slots} slots", where, limits)
    elif name == "capacity":
        caps = spec.get("capacities")
        n_workers = len(caps) if isinstance(caps, list) else _small_int(spec.get("n_workers", budget))
        if n_workers is None or n_workers < 0:
            return None
        _check_domain_cells(J * max(n_workers, 1), path, f"{J} arms, {n_workers} workers", where, limits)
    from bandits.domains import domain_from_spec

    try:
        ref = domain_from_spec(spec)
    except (EngineError, TypeError, ValueError, KeyError, OverflowError):
        return None
    same = (np.array_equal(ref.arms.rewards, arms.rewards) and type(ref.arms) is not InterventionArms
            and np.array_equal(ref.arms.transitions, arms.transitions) and _same_feasible_set(ref.feasible_set, fs))
    return dict(spec) if same else None


def _path_cells(n: int, budget: int) -> int:
    """Cells a path constraint allocates: parity distances ``[n, n, 2]`` plus its time-unrolled arcs (bound)."""
    return 2 * n * n + 2 * budget * 3 * n


def _matching_cells(n: int, workers: int, slots: int) -> int:
    """Cells a matching constraint allocates: compatible pairs and slot tables, plus Hall's rows."""
    hall = (1 << slots) * n if slots <= 12 else 0
    return n * max(workers, 1) * slots + (n + workers) * slots + hall


def _domain_in(info: Any, fs: Any, J: int, where: str, limits: "_Limits") -> dict:
    """Checker/sampler/enumerator of a known domain when its constraint rebuilds ``fs`` exactly, else {}.

    Sizes are compared with the stored arrays before anything is built (a mismatch gives {}),
    and a rebuild above ``max_domain_cells`` is refused.
    """
    if not isinstance(info, dict):
        return {}
    from bandits import domains as dom

    name = info.get("name")
    path = "$['metadata']['domain']"
    budget = _small_int(info.get("budget"))
    try:
        if name == "budget":
            if budget is None or not 0 <= budget <= J:
                return {}
            # the budget domain's own checker, sampler and enumerator (same action order as make_domain)
            ref = dom.make_domain("budget", n_arms=J, budget=budget, seed=0)
            if not _same_feasible_set(ref.feasible_set, fs):
                return {}
            return {"checker": ref._checker, "sampler": ref._sampler, "enumerator": ref._enumerator}
        if name == "path":
            import networkx as nx

            if budget is None or not 0 <= budget <= J or not isinstance(info["nodes"], list) \
                    or len(info["nodes"]) != J:
                return {}
            g = nx.Graph()
            g.add_nodes_from(info["nodes"])
            if g.number_of_nodes() != J:
                return {}
            g.add_edges_from(tuple(e) for e in info["edges"])
            if g.number_of_nodes() != J:
                return {}  # an edge named a node that is not in the list
            _check_domain_cells(_path_cells(J, budget), path, f"a path domain on {J} arms", where, limits)
            con: Any = dom.PathConstraint(g, info["source"], budget)
            attributes = {"graph": g, "source": info["source"], "constraint": con}
            sampler = con.sample
        elif name == "capacity":
            costs = _number_array(info["costs"], f"{path}['costs']", where)
            caps = _number_array(info["capacities"], f"{path}['capacities']", where)
            if costs.shape != (J,):
                return {}
            _check_domain_cells(J * max(caps.size, 1), path, f"{J} arms, {caps.size} workers", where, limits)
            con = dom.CapacityConstraint(costs, caps)
            attributes = {"costs": con.costs, "capacities": con.capacities, "constraint": con}
            sampler = lambda r: dom._random_maximal(J, r, con.check)  # noqa: E731
        elif name == "matching":
            arm_slots = np.asarray(info["arm_slots"], dtype=np.int64)
            worker_slots = np.asarray(info["worker_slots"], dtype=np.int64)
            if arm_slots.ndim != 2 or worker_slots.ndim != 2 or arm_slots.shape[0] != J \
                    or arm_slots.shape[1] != worker_slots.shape[1] or arm_slots.shape[1] < 1:
                return {}
            slots, workers = arm_slots.shape[1], worker_slots.shape[0]
            _check_domain_cells(_matching_cells(J, workers, slots), path,
                                f"{J} arms, {workers} workers, {slots} slots", where, limits)
            con = dom.MatchingConstraint(arm_slots, worker_slots, int(info["max_pulls"]))
            attributes = {"arm_slots": con.arm_slots, "worker_slots": con.worker_slots, "constraint": con}
            sampler = lambda r: dom._random_maximal(J, r, con.check)  # noqa: E731
        else:
            return {}
        if con.n != J or not _same_feasible_set(con.feasible_set(), fs):
            return {}
    except _LimitError:
        raise
    except (EngineError, KeyError, TypeError, ValueError, IndexError, OverflowError):
        return {}
    if name == "capacity":
        con.fs = fs
    return {"checker": con.check, "sampler": sampler,
            "enumerator": lambda limit: dom.enumerate_down_closed(J, con.check, limit), "attributes": attributes}


def _budget_of(fs: Any) -> Optional[int]:
    """``B`` when ``fs`` is exactly ``{a : sum(a) <= B}`` (no auxiliaries, one all-ones row), else None."""
    try:
        if fs.n_aux != 0 or fs.n_rows != 1:
            return None
        row = np.asarray(fs.A.toarray()).ravel()
        lo, hi = float(fs.row_lower[0]), float(fs.row_upper[0])
    except AttributeError:
        return None
    if not np.all(row == 1.0) or lo > 0 or not math.isfinite(hi):
        return None
    return int(math.floor(hi + 1e-9))


def sample_rows(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one index per distribution in ``rows[..., S]`` (inverse-CDF, vectorised)."""
    cdf = np.cumsum(rows, axis=-1)
    u = rng.random(rows.shape[:-1])
    idx = (u[..., None] >= cdf).sum(axis=-1)
    return np.minimum(idx, rows.shape[-1] - 1).astype(np.int64)


def n_joint_states(problem: CoRMAB) -> int:
    return int(problem.n_states) ** int(problem.n_arms)


def log_joint_states(problem: CoRMAB) -> float:
    return problem.n_arms * math.log(problem.n_states)
