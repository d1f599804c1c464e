"""The constraint interface every coRMAB domain implements, and the helpers the domains share.

A :class:`Domain` is the combinatorial part of a :class:`~bandits.CoRMAB`: which 0/1 actions are
allowed. It answers the questions the policies and the learners ask:

``check(action)``
    exact feasibility (an algorithm independent of the MIP encoding);
``partial_check(action)``
    whether a partial action may still be extended (greedy construction; the same as ``check``
    for sets closed under removing pulls);
``sample(rng)``
    a random feasible action;
``enumerate(limit)``
    every feasible action, or ``None`` when there are more than ``limit``;
``feasible_set()``
    the same set as a :class:`solvers.FeasibleSet` (the MIP encoding the solvers optimise over);
``to_dict()`` / ``from_dict(info, n_arms, ...)``
    the ``metadata.domain`` entry of a ``gameplan/cormab`` document that rebuilds the checker;
``generate(n_arms, budget, rng, params, where)``, ``make_arms(base, rng, params, where)``
    the random instance :func:`bandits.make_domain` draws.

A new domain subclasses :class:`Domain`, sets ``name`` and ``parameters`` and is added to
:data:`bandits.constraints.DOMAIN_TYPES`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Callable, ClassVar, Optional

import numpy as np
import scipy.sparse as sp

from bandits.arms import Arms
from engine.errors import InvalidInputError
from solvers.feasible_set import FeasibleSet

__all__ = ["Domain", "DomainSizeError", "RowBuilder", "check_cells", "enumerate_down_closed", "random_maximal",
           "check_action_vector", "number_array"]

INF = math.inf


class DomainSizeError(InvalidInputError):
    """A document whose domain metadata would allocate more than the caller's ``max_domain_cells``.

    Readers drop other errors in the metadata (the feasible set's own checker is used then); this
    one is raised to the caller.
    """


def check_cells(cells: int, limit: int, path: str, what: str, where: str) -> None:
    """Raise :class:`DomainSizeError` when rebuilding a domain needs more than ``limit`` cells."""
    if cells > limit:
        raise DomainSizeError(f"{where}: {path} describes a domain whose exact checker needs {cells} cells ({what}), "
                              f"above max_domain_cells={limit} (bandits.problem.MAX_DOMAIN_CELLS; "
                              f"pass max_domain_cells= to read it)")


class Domain:
    """A combinatorial set of 0/1 actions: exact checker, sampler, enumerator and MIP encoding.

    Subclasses implement :meth:`check`, :meth:`build_feasible_set` and :meth:`generate`, and
    usually :meth:`to_dict` / :meth:`from_dict`; the other methods have generic defaults.

    Attributes
    ----------
    name : str
        The registry key (:func:`bandits.make_domain` name, ``metadata.domain.name``).
    parameters : tuple of str
        The keyword parameters :func:`bandits.make_domain` accepts for this domain.
    n : int
        Length of the action vector.
    """

    name: ClassVar[str] = ""
    parameters: ClassVar[tuple[str, ...]] = ()
    n: int
    _fs: Optional[FeasibleSet] = None

    # ------------------------------------------------------------------ the constraint interface
    def check(self, action: Any) -> bool:
        """Exact feasibility of a 0/1 action."""
        raise NotImplementedError

    def partial_check(self, action: Any) -> bool:
        """Whether a partial action may still be extended to a feasible one (default :meth:`check`)."""
        return self.check(action)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A random feasible action (default: a random maximal set, then a random-sized prefix of it)."""
        return random_maximal(self.n, rng, self.check)

    def enumerate(self, limit: int) -> Optional[np.ndarray]:
        """Every feasible action as rows of a 0/1 array, or ``None`` when there are more than ``limit``.

        The default depth-first enumeration needs a set closed under removing pulls.
        """
        return enumerate_down_closed(self.n, self.check, limit)

    def feasible_set(self) -> FeasibleSet:
        """The set as a :class:`solvers.FeasibleSet` (built once, then shared)."""
        if self._fs is None:
            self._fs = self.build_feasible_set()
        return self._fs

    def build_feasible_set(self) -> FeasibleSet:
        """Build the MIP encoding (called once by :meth:`feasible_set`)."""
        raise NotImplementedError

    def attributes(self) -> dict[str, Any]:
        """Attributes a problem on this domain shows (``problem.graph``, ``problem.costs``, ...)."""
        return {}

    # ------------------------------------------------------------------ documents
    def to_dict(self) -> Optional[dict[str, Any]]:
        """The ``metadata.domain`` entry that rebuilds this domain (``None``: the document holds none)."""
        return None

    @classmethod
    def from_dict(cls, info: Mapping, n_arms: int, *, max_cells: int, where: str) -> Optional["Domain"]:
        """The domain ``info`` (a document's ``metadata.domain``) describes, or ``None``.

        ``info`` comes from a file: sizes are compared with ``n_arms`` before anything is built
        (``None`` on a mismatch) and a rebuild above ``max_cells`` array cells raises
        :class:`DomainSizeError`. Other errors may be raised; the reader then ignores the metadata.
        """
        return None

    @classmethod
    def spec_cells(cls, n_arms: int, budget: int, spec: Mapping) -> Optional[tuple[int, str]]:
        """``(cells, description)`` that :meth:`generate` with ``spec`` would allocate, or ``None``
        when documents never hold this domain's spec (checked before a document's spec is rebuilt)."""
        return None

    # ------------------------------------------------------------------ generation
    @classmethod
    def generate(cls, n_arms: int, budget: int, rng: np.random.Generator, params: dict, where: str) -> "Domain":
        """A random instance on ``n_arms`` arms with budget ``budget`` (:func:`bandits.make_domain`).

        ``params`` holds the caller's values of this domain's :attr:`parameters`; the ones used
        are popped and validated here (errors name ``where``). Every random choice is drawn from
        ``rng``, after the default arms.
        """
        raise NotImplementedError

    def make_arms(self, base: Arms, rng: np.random.Generator, params: dict, where: str) -> Arms:
        """The arms of a generated instance, given the default ones (default: ``base`` itself)."""
        return base


class RowBuilder:
    """Sparse constraint rows ``lower <= A x <= upper`` added one at a time, then a FeasibleSet.

    Examples
    --------
    >>> rows = RowBuilder()
    >>> rows.add([(0, 1.0), (1, 1.0)], -np.inf, 1.0)
    >>> rows.feasible_set(2).contains([1, 0]), rows.feasible_set(2).contains([1, 1])
    (True, False)
    """

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    @property
    def n_rows(self) -> int:
        return len(self.lower)

    def add(self, terms: Iterable[tuple[int, float]], lower: float, upper: float) -> None:
        """One row: ``lower <= sum(value * x[column] for column, value in terms) <= upper``."""
        r = len(self.lower)
        for col, val in terms:
            self.rows.append(r)
            self.cols.append(int(col))
            self.vals.append(float(val))
        self.lower.append(lower)
        self.upper.append(upper)

    def feasible_set(self, n_actions: int, n_aux: int = 0, **aux: Any) -> FeasibleSet:
        """The rows as a :class:`solvers.FeasibleSet` over ``n_actions`` actions and ``n_aux`` auxiliaries."""
        A = sp.csr_matrix((self.vals, (self.rows, self.cols)), shape=(self.n_rows, n_actions + n_aux))
        if n_aux:
            return FeasibleSet(n_actions, A, self.lower, self.upper, n_aux=n_aux, **aux)
        return FeasibleSet(n_actions, A, self.lower, self.upper)


def enumerate_down_closed(n: int, check: Callable[[np.ndarray], bool], limit: int) -> Optional[np.ndarray]:
    """Every feasible 0/1 vector of a family closed under removing ones, by depth-first extension.

    Returns ``None`` when there are more than ``limit``. Each set is generated once (items are
    added in increasing index order) and only feasible sets are extended. A feasible set of size
    ``k`` proves at least ``2**k`` members (all its subsets), which stops the search on large
    families after a few checks instead of ``limit`` of them.
    """
    out: list[np.ndarray] = []
    a = np.zeros(n, dtype=np.int64)
    if not check(a):
        return np.zeros((0, n), dtype=np.int64)
    out.append(a.copy())

    def rec(start: int, size: int) -> bool:
        for j in range(start, n):
            a[j] = 1
            if check(a):
                out.append(a.copy())
                if len(out) > limit or 2 ** (size + 1) > limit or not rec(j + 1, size + 1):
                    a[j] = 0
                    return False
            a[j] = 0
        return True

    if not rec(0, 0) or len(out) > limit:
        return None
    return np.array(out, dtype=np.int64)


def check_action_vector(a: Any, n: int, where: str) -> np.ndarray:
    """``a`` as an int64 0/1 vector of length ``n``, or InvalidInputError."""
    arr = np.asarray(a, dtype=float).reshape(-1)
    if arr.shape != (n,) or not np.all((arr == 0) | (arr == 1)):
        raise InvalidInputError(f"{where}: action must be a 0/1 vector of length {n}, got {a!r}")
    return arr.astype(np.int64)


def number_array(values: Any, path: str, where: str) -> np.ndarray:
    """A list of JSON numbers as float64 (an integer beyond the float range is an error, not OverflowError)."""
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (OverflowError, TypeError, ValueError) as err:
        raise InvalidInputError(f"{where}: {path} must hold numbers within the float64 range ({err})") from None


def random_maximal(n: int, rng: np.random.Generator, partial_ok: Callable[[np.ndarray], bool], *,
                   costs: Optional[np.ndarray] = None) -> np.ndarray:
    """Random greedy maximal set, then a random-sized prefix of it (a "uniform-ish" sampler).

    ``costs``: arm sizes under which a refusal is monotone -- once adding an arm of cost ``c`` is
    refused, adding any arm of cost ``>= c`` to a superset is refused too (feasibility kept when arms
    are removed or made cheaper, as with capacities). Those arms are skipped without calling
    ``partial_ok``: the same draws and the same action, fewer (possibly costly) checks."""
    a = np.zeros(n, dtype=np.int64)
    picked: list[int] = []
    refused = math.inf  # the smallest cost whose addition was refused
    for j in rng.permutation(n):
        if costs is not None and costs[j] >= refused:
            continue
        a[j] = 1
        if partial_ok(a):
            picked.append(int(j))
        else:
            a[j] = 0
            if costs is not None:
                refused = float(costs[j])
    if picked:
        k = int(rng.integers(math.ceil(len(picked) / 2), len(picked) + 1))
        a[:] = 0
        a[picked[:k]] = 1
    return a
