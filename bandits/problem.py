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
from collections.abc import Mapping
from typing import Any, Callable, Optional

import numpy as np

from bandits.arms import Arms, _as_actions, _as_states
from bandits.constraints import Domain
from bandits.io import MAX_ARMS, MAX_AUX, MAX_DOMAIN_CELLS, MAX_ROWS, cormab_document, read_cormab
from engine.errors import EngineError, InvalidInputError
from engine.seeding import resolve_seed
from engine.validation import check_int
from engine.validation import short_repr as _short

# MAX_*: the limits of CoRMAB.from_dict on the sizes a document declares (defined in bandits.io)
__all__ = ["CoRMAB", "action_key", "MAX_ARMS", "MAX_AUX", "MAX_ROWS", "MAX_DOMAIN_CELLS"]


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
    domain : bandits.constraints.Domain, optional
        The domain's constraint object (:func:`~bandits.make_domain` passes it): its exact
        checker, sampler, partial checker and enumerator are the problem's, and its attributes
        (``graph``, ``source``, ``costs``, ...) are the problem's too. Give either ``domain`` or the
        callables below.
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

    def __init__(self, arms: Arms, feasible_set: Any, *, domain: Optional[Domain] = None,
                 checker: Optional[Callable] = None, sampler: Optional[Callable] = None,
                 partial_checker: Optional[Callable] = None, enumerator: Optional[Callable] = None,
                 name: str = "cormab", budget: Optional[int] = None, spec: Optional[dict] = None) -> None:
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
        if domain is not None:
            if not isinstance(domain, Domain):
                raise InvalidInputError(f"{where}: domain must be a bandits.constraints.Domain or None, got "
                                        f"{_short(domain)}")
            if domain.n != arms.n_actions:
                raise InvalidInputError(f"{where}: the domain has {domain.n} action variables but the arms take "
                                        f"{arms.n_actions}")
            if any(fn is not None for fn in (checker, sampler, partial_checker, enumerator)):
                raise InvalidInputError(f"{where}: give either domain= or checker/sampler/partial_checker/"
                                        f"enumerator, not both")
            checker, sampler = domain.check, domain.sample
            partial_checker, enumerator = domain.partial_check, domain.enumerate
        if not isinstance(name, str):
            raise InvalidInputError(f"{where}: name must be a string, got {_short(name)}")
        if budget is not None:
            budget = check_int(budget, "budget", where, lower=0)
        if spec is not None and not isinstance(spec, Mapping):
            raise InvalidInputError(f"{where}: spec must be a mapping (make_domain arguments) or None, got "
                                    f"{_short(spec)}")
        self.arms = arms
        self.feasible_set = feasible_set
        self.domain = domain
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
            raw = self._draw(np.random.default_rng(0))  # a feasibility probe, not a random choice of a run
        except EngineError as err:
            raise InvalidInputError(f"{where}: the constraint set is infeasible (no feasible action): {err}") from err
        first = self._as_sample(raw, where)
        if not self.contains(first):
            raise InvalidInputError(f"{where}: the constraint set is infeasible (no feasible action found)")

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: the domain's attributes (problem.graph,
        # problem.costs, problem.constraint, ...), so a problem shows what its domain declares.
        domain = self.__dict__.get("domain")
        if domain is not None and not name.startswith("__"):
            attributes = domain.attributes()
            if name in attributes:
                return attributes[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        infinite bound, ``aux_integer``). ``metadata`` keeps the domain's own entry
        (:meth:`bandits.constraints.Domain.to_dict`: path graph and source, capacity costs and
        capacities, matching slots), which rebuilds its fast exact checker on :meth:`from_dict`,
        the budget, the birth--death parameters of :class:`~bandits.MultiStateArms` and the
        ``make_domain`` spec. The writing is :func:`bandits.io.cormab_document`.

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
        return cormab_document(self.name, self.arms, self.feasible_set, budget=self.budget, spec=self.spec,
                               domain=self.domain, where="CoRMAB.to_dict()")

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
        metadata describes a registered domain (:data:`bandits.constraints.DOMAIN_TYPES`: budget,
        path, capacity or matching) whose constraint rebuilds the stored feasible set exactly,
        the problem gets that :attr:`domain` again, with its exact checker, sampler and
        enumerator (same action order as :func:`~bandits.make_domain`); otherwise ``domain`` is
        None and the feasible set's own (exact, slower) ones are used. The ``make_domain`` spec
        is kept only when it rebuilds exactly the stored arrays (a spec whose sizes disagree
        with the stored arrays is dropped without building anything). The reading is
        :func:`bandits.io.read_cormab`.

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
        parts = read_cormab(source, max_arms=max_arms, max_aux=max_aux, max_rows=max_rows,
                            max_domain_cells=max_domain_cells, where=where)
        try:
            return cls(parts.arms, parts.feasible_set, domain=parts.domain, name=parts.name, budget=parts.budget,
                       spec=parts.spec)
        except InvalidInputError as err:
            raise InvalidInputError(f"{where}: {err}") from err

    def __repr__(self) -> str:
        return (f"CoRMAB(name={self.name!r}, J={self.n_arms}, S={self.n_states}, n_actions={self.n_actions}, "
                f"budget={self.budget})")


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
