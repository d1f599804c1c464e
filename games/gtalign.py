"""GTAlign: game-theoretic response selection for LLM assistants.

After "GTAlign: Game-Theoretic Alignment of LLM Assistants for Mutual Welfare". The assistant
writes a payoff matrix -- user type {``DQ`` clear question, ``VQ`` vague question} x assistant
action {``DA`` direct answer, ``CQ`` clarifying question, ``AQ`` answer plus follow-up} -- whose
cells are (LLM, user) payoff pairs, and picks the mutually best action.

* :class:`PayoffMatrix` -- from arrays or from the strict JSON an LLM writes,
  ``{"DQ_DA": {"LLM": 3.1, "user": 3.5}, ..., "VQ_AQ": {...}}`` (all six cells, nothing else,
  finite numbers with ``|x| <= PAYOFF_LIMIT = 1e150``, so that every rule's score -- a product of
  two shifted payoffs at worst -- is finite; every violation is an
  :class:`~engine.errors.InvalidInputError` naming the cell).
* :func:`select` / :func:`select_batch` -- selection rules over the candidate cells:
  ``sum`` (utilitarian), ``product`` (Nash bargaining), ``geometric`` (Cobb-Douglas
  ``(L+s)^w (U+s)^(1-w)``), ``user_first`` / ``llm_first`` (lexicographic). **Shift**: when some
  candidate payoff is negative, ``product`` and ``geometric`` add ``s = 1 - min(payoffs)`` to
  both parties' payoffs (the disagreement point is one unit below the worst payoff), so every
  factor is ``>= 1`` and two negative payoffs never make a positive product; with non-negative
  payoffs ``s = 0``. Ties (within ``1e-12`` relative) go to Pareto-optimal candidates, then to the first candidate in the order
  ``DQ_DA, DQ_CQ, DQ_AQ, VQ_DA, VQ_CQ, VQ_AQ`` or, with ``tie_break="random"``, to a seeded
  uniform choice among the tied ones. Candidates: all six cells (default), one row
  (``user_type="DQ"``), or the three actions under a belief ``P(DQ) = p`` (expected payoffs).
* Pricing: :func:`scale_llm`, :func:`scale_user` (multiply one party's payoffs), :func:`price_shift`
  (subtract ``price * cost[action]`` from one party) and :func:`flip_point`, the price at which the
  chosen action changes.
* :func:`mutual_welfare_reward` -- the training reward: user and LLM components combined by the
  geometric mean, with the ``linear``, ``user_only`` and ``llm_only`` ablations.
* :func:`score_jsonl` -- JSON Lines in, JSON Lines out, vectorised over the batch
  (``engine-bench run gtalign --input FILE``).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, cast

import numpy as np

from engine.errors import InvalidInputError
from engine.io import atomic_write_text, loads_json
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import as_float_array, check_choice, check_int, check_real

__all__ = ["USER_TYPES", "ACTIONS", "CELLS", "RULES", "PAYOFF_LIMIT", "PayoffMatrix", "Selection", "FlipResult", "RewardBreakdown",
           "select", "select_batch", "pareto_mask", "scale_llm", "scale_user", "price_shift", "flip_point",
           "mutual_welfare_reward", "score_jsonl", "rule_scores"]

USER_TYPES = ("DQ", "VQ")
ACTIONS = ("DA", "CQ", "AQ")
CELLS = tuple(f"{t}_{a}" for t in USER_TYPES for a in ACTIONS)
RULES = ("sum", "product", "geometric", "user_first", "llm_first")
_PARTY_KEYS = ("LLM", "user")
#: Largest accepted ``|payoff|``. Scores are at most ``(2 * PAYOFF_LIMIT + 1) ** 2`` (``product``
#: with the shift), far below the float maximum 1.8e308, so no score overflows to inf or NaN.
PAYOFF_LIMIT = 1e150


def _check_payoff_range(arr: np.ndarray, name: str, where: str) -> np.ndarray:
    """Refuse payoffs beyond :data:`PAYOFF_LIMIT` (their scores would overflow)."""
    if arr.size:
        big = np.abs(arr) > PAYOFF_LIMIT
        if big.any():
            raise InvalidInputError(f"{where}: {name} must lie within +-{PAYOFF_LIMIT:g} so that every score is "
                                    f"finite, got {arr[big].flat[0]!r}")
    return arr


def _check_scores(scores: np.ndarray, where: str) -> None:
    """Every score finite (guaranteed by :data:`PAYOFF_LIMIT`; checked so no inf/NaN is ever chosen)."""
    if scores.size and not np.all(np.isfinite(scores)):
        raise InvalidInputError(f"{where}: a score is not finite ({scores[~np.isfinite(scores)].flat[0]}); "
                                f"the payoffs are too large")


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


@dataclass(frozen=True, eq=False)
class PayoffMatrix:
    """A GTAlign payoff matrix: ``llm[t, a]`` and ``user[t, a]`` for user type ``t`` and action ``a``.

    Examples
    --------
    >>> pm = PayoffMatrix.from_json('{"DQ_DA": {"LLM": 4, "user": 4}, "DQ_CQ": {"LLM": 2, "user": 2},'
    ...     '"DQ_AQ": {"LLM": 3, "user": 4.5}, "VQ_DA": {"LLM": 1, "user": 1}, "VQ_CQ": {"LLM": 3, "user": 3},'
    ...     '"VQ_AQ": {"LLM": 2, "user": 3.5}}')
    >>> pm.llm.shape, select(pm, "sum").cell
    ((2, 3), 'DQ_DA')
    """

    llm: Any
    user: Any

    def __post_init__(self) -> None:
        where = "PayoffMatrix()"
        L = _check_payoff_range(as_float_array(self.llm, "llm", where, shape=(2, 3)), "llm", where)
        U = _check_payoff_range(as_float_array(self.user, "user", where, shape=(2, 3)), "user", where)
        L.setflags(write=False)
        U.setflags(write=False)
        object.__setattr__(self, "llm", L)
        object.__setattr__(self, "user", U)

    @classmethod
    def from_json(cls, data: "str | Mapping[str, Any]") -> "PayoffMatrix":
        """Parse the strict JSON an LLM writes (a string or an already-decoded mapping).

        Raises :class:`InvalidInputError` for invalid JSON, a missing cell, an extra key, a cell
        that is not ``{"LLM": number, "user": number}``, a non-number, NaN or infinity.
        """
        L, U = _parse_cells(data, "PayoffMatrix.from_json()")
        return cls(L, U)

    def to_dict(self) -> dict:
        """The JSON form ``{"DQ_DA": {"LLM": ..., "user": ...}, ...}``."""
        return {f"{t}_{a}": {"LLM": float(self.llm[i, j]), "user": float(self.user[i, j])}
                for i, t in enumerate(USER_TYPES) for j, a in enumerate(ACTIONS)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PayoffMatrix) and np.array_equal(self.llm, other.llm)
                and np.array_equal(self.user, other.user))


def _parse_cells(data: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, (str, bytes)):
        try:  # bounded: size, nesting, digits, UTF-8 (engine.io)
            data = loads_json(data, where=where)
        except InvalidInputError as err:
            line, col = getattr(err, "line", None), getattr(err, "column", None)
            at = f" at line {line} column {col}" if line else ""
            raise InvalidInputError(f"{where}: invalid JSON ({getattr(err, 'reason', err)}{at})") from err
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{where}: the payoff matrix must be a JSON object, got {type(data).__name__}")
    missing = [c for c in CELLS if c not in data]
    if missing:
        raise InvalidInputError(f"{where}: missing cell(s) {missing}")
    extra = sorted(str(k) for k in data if k not in CELLS)
    if extra:
        raise InvalidInputError(f"{where}: unexpected key(s) {extra}; cells are {list(CELLS)}")
    L = np.zeros((2, 3))
    U = np.zeros((2, 3))
    for i, t in enumerate(USER_TYPES):
        for j, a in enumerate(ACTIONS):
            cell = f"{t}_{a}"
            val = data[cell]
            if not isinstance(val, Mapping):
                raise InvalidInputError(f"{where}: cell {cell} must be an object {{\"LLM\": x, \"user\": y}}, "
                                        f"got {val!r}")
            miss = [k for k in _PARTY_KEYS if k not in val]
            if miss:
                raise InvalidInputError(f"{where}: cell {cell} is missing {miss}")
            ex = sorted(str(k) for k in val if k not in _PARTY_KEYS)
            if ex:
                raise InvalidInputError(f"{where}: cell {cell} has unexpected key(s) {ex}")
            for k, arr in zip(_PARTY_KEYS, (L, U)):
                v = val[k]
                if not _is_number(v):
                    raise InvalidInputError(f"{where}: {cell}.{k} must be a number, got {v!r}")
                try:
                    fv = float(v)
                except OverflowError:  # an int beyond the float range
                    fv = math.inf
                if not math.isfinite(fv):
                    raise InvalidInputError(f"{where}: {cell}.{k} must be finite, got {v!r}")
                if abs(fv) > PAYOFF_LIMIT:
                    raise InvalidInputError(f"{where}: {cell}.{k} must lie within +-{PAYOFF_LIMIT:g} so that every "
                                            f"score is finite, got {v!r}")
                arr[i, j] = fv
    return L, U


# ============================================================================ selection
def _candidates(L: np.ndarray, U: np.ndarray, user_type: Any):
    """Batch arrays ``(B, 2, 3)`` -> candidate payoffs ``(B, K)`` and labels."""
    B = L.shape[0]
    if user_type is None:
        return L.reshape(B, 6), U.reshape(B, 6), list(CELLS)
    if isinstance(user_type, str):
        i = USER_TYPES.index(user_type)
        return L[:, i], U[:, i], [f"{user_type}_{a}" for a in ACTIONS]
    p = float(user_type)
    w = np.array([p, 1 - p])
    return np.einsum("t,bta->ba", w, L), np.einsum("t,bta->ba", w, U), list(ACTIONS)


def _check_user_type(user_type: Any, where: str) -> Any:
    if user_type is None or (isinstance(user_type, str) and user_type in USER_TYPES):
        return user_type
    if isinstance(user_type, str):
        raise InvalidInputError(f"{where}: unknown user_type {user_type!r}; choose from {list(USER_TYPES)}, "
                                f"a probability P(DQ) or None")
    return check_real(user_type, "user_type (P(DQ))", where, lower=0.0, upper=1.0)


def _shift(Lc: np.ndarray, Uc: np.ndarray) -> np.ndarray:
    lo = np.minimum(Lc.min(axis=1), Uc.min(axis=1))
    return np.where(lo < 0, 1.0 - lo, 0.0)[:, None]


def rule_scores(Lc: Any, Uc: Any, rule: str = "product", *, weight: float = 0.5) -> np.ndarray:
    """Scores of candidates under ``sum``, ``product`` or ``geometric`` (arrays ``(B, K)`` or ``(K,)``).

    Examples
    --------
    >>> rule_scores([-2.0, 1.0], [-3.0, 0.5], "product").tolist()   # shift s = 1 - (-3) = 4
    [2.0, 22.5]
    """
    where = "rule_scores()"
    check_choice(rule, "rule", where, ("sum", "product", "geometric"))
    L = _check_payoff_range(as_float_array(Lc, "Lc", where, ndim=(1, 2)), "Lc", where)
    U = _check_payoff_range(as_float_array(Uc, "Uc", where, ndim=(1, 2)), "Uc", where)
    weight = check_real(weight, "weight", where, lower=0.0, upper=1.0)
    if L.shape != U.shape:
        raise InvalidInputError(f"{where}: Lc and Uc differ in shape: {L.shape} vs {U.shape}")
    one = L.ndim == 1
    out = _scores(np.atleast_2d(L), np.atleast_2d(U), rule, weight)
    _check_scores(out, where)
    return out[0] if one else out


def _scores(Lc: np.ndarray, Uc: np.ndarray, rule: str, weight: float) -> np.ndarray:
    if rule == "sum":
        return Lc + Uc
    s = _shift(Lc, Uc)
    if rule == "product":
        return (Lc + s) * (Uc + s)
    return (Lc + s) ** weight * (Uc + s) ** (1 - weight)


def _argmax_ties(score: np.ndarray, alive: np.ndarray, tie_break: str, rng) -> tuple[np.ndarray, np.ndarray]:
    sc = np.where(alive, score, -np.inf)
    best = sc.max(axis=1, keepdims=True)
    tol = 1e-12 * np.maximum(1.0, np.abs(best))
    ties = alive & (sc >= best - tol)
    return ties, best


def _select_core(Lc: np.ndarray, Uc: np.ndarray, rule: str, weight: float, tie_break: str, rng):
    """Chosen candidate per row, scores ``(B, K)``, tie counts."""
    Bn, K = Lc.shape
    alive = np.ones((Bn, K), dtype=bool)
    if rule in ("user_first", "llm_first"):
        first, second = (Uc, Lc) if rule == "user_first" else (Lc, Uc)
        ties, _ = _argmax_ties(first, alive, tie_break, rng)
        ties, _ = _argmax_ties(second, ties, tie_break, rng)
        scores = first
    else:
        scores = _scores(Lc, Uc, rule, weight)
        ties, _ = _argmax_ties(scores, alive, tie_break, rng)
    # among tied candidates prefer Pareto-optimal ones (a tie within the tolerance must not pick a
    # candidate that another tied candidate dominates)
    front = ties & _pareto(Lc, Uc)
    ties = np.where(front.any(axis=1, keepdims=True), front, ties)
    if tie_break == "first":
        choice = np.argmax(ties, axis=1)
    else:
        u = rng.random((Bn, K))
        choice = np.argmax(np.where(ties, u, -1.0), axis=1)
    return choice, scores, ties.sum(axis=1)


def pareto_mask(Lc: Any, Uc: Any) -> np.ndarray:
    """True for candidates no other candidate weakly improves for both parties (strictly for one).

    Examples
    --------
    >>> pareto_mask([1, 2, 0], [2, 1, 0]).tolist()
    [True, True, False]
    """
    L = np.atleast_2d(as_float_array(Lc, "Lc", "pareto_mask()", ndim=(1, 2)))
    U = np.atleast_2d(as_float_array(Uc, "Uc", "pareto_mask()", ndim=(1, 2)))
    if L.shape != U.shape:
        raise InvalidInputError(f"pareto_mask(): Lc and Uc differ in shape: {L.shape} vs {U.shape}")
    out = _pareto(L, U)
    return out[0] if np.ndim(Lc) == 1 else out


def _pareto(L: np.ndarray, U: np.ndarray) -> np.ndarray:
    ge = (L[:, None, :] >= L[:, :, None]) & (U[:, None, :] >= U[:, :, None])      # [b, k, k']: k' >= k
    gt = (L[:, None, :] > L[:, :, None]) | (U[:, None, :] > U[:, :, None])
    return cast(np.ndarray, ~(ge & gt).any(axis=2))  # numpy stubs widen .any(axis=...) to a scalar union


@dataclass(frozen=True, kw_only=True)
class Selection(SolveResult):
    """The selected response of one payoff matrix.

    Attributes
    ----------
    action : str
        ``"DA"``, ``"CQ"`` or ``"AQ"``.
    cell : str
        The chosen candidate (``"DQ_AQ"``; the action alone under a belief).
    index : int
        Its index among the candidates (``x``).
    candidates : tuple of str
    scores : numpy.ndarray
        Rule score per candidate (the primary key for the lexicographic rules).
    pareto : numpy.ndarray of bool
        Pareto-frontier membership per candidate.
    llm_payoff, user_payoff : float
        Payoffs of the chosen candidate.
    ties : int
        How many candidates tied for the best score.
    """

    action: str = ""
    cell: str = ""
    index: int = -1
    candidates: tuple = ()
    scores: Any = None
    pareto: Any = None
    llm_payoff: float = math.nan
    user_payoff: float = math.nan
    ties: int = 1


def _validate_select(rule, weight, tie_break, user_type, where):
    check_choice(rule, "rule", where, RULES)
    weight = check_real(weight, "weight", where, lower=0.0, upper=1.0)
    check_choice(tie_break, "tie_break", where, ("first", "random"))
    user_type = _check_user_type(user_type, where)
    return weight, user_type


def select(matrix: Any, /, rule: str = "product", *, user_type: Any = None, weight: float = 0.5,
           tie_break: str = "first", seed: Any = 0) -> Selection:
    """Select the mutually best response of one payoff matrix.

    Parameters
    ----------
    matrix : PayoffMatrix, mapping or JSON string
    rule : {"product", "sum", "geometric", "user_first", "llm_first"}
    user_type : None, "DQ", "VQ" or float
        Candidates: all six cells (None), one row, or the three actions under ``P(DQ) = p``.
    weight : float
        The LLM's exponent ``w`` of the ``geometric`` rule (the user's is ``1 - w``).
    tie_break : {"first", "random"}
        Lowest candidate index, or a seeded uniform choice among ties.
    seed : int, Generator or None
        Used by ``tie_break="random"``.

    Returns
    -------
    Selection

    Examples
    --------
    >>> pm = PayoffMatrix([[3, 1, 2], [0, 2, 1]], [[3, 1, 3.5], [0, 3, 2]])
    >>> select(pm, "sum").cell, select(pm, "llm_first").cell, select(pm, "sum", user_type="VQ").action
    ('DQ_DA', 'DQ_DA', 'CQ')
    """
    where = "select()"
    pm = matrix if isinstance(matrix, PayoffMatrix) else PayoffMatrix.from_json(matrix)
    weight, user_type = _validate_select(rule, weight, tie_break, user_type, where)
    seed_obj = resolve_seed(seed, where=where)
    t0 = time.perf_counter()
    Lc, Uc, labels = _candidates(pm.llm[None], pm.user[None], user_type)
    choice, scores, nties = _select_core(Lc, Uc, rule, weight, tie_break, seed_obj.generator("gtalign.ties"))
    _check_scores(scores, where)
    k = int(choice[0])
    label = labels[k]
    params = {"rule": rule, "user_type": user_type, "weight": weight, "tie_break": tie_break, "seed": seed_obj.root}
    return Selection(status=Status.OPTIMAL, message="", x=k, objective=float(scores[0, k]), runtime=time.perf_counter() - t0,
                     method=rule, backend="numpy", params=params, action=label.split("_")[-1], cell=label, index=k,
                     candidates=tuple(labels), scores=scores[0], pareto=_pareto(Lc, Uc)[0],
                     llm_payoff=float(Lc[0, k]), user_payoff=float(Uc[0, k]), ties=int(nties[0]))


def select_batch(llm: Any, user: Any, /, rule: str = "product", *, user_type: Any = None, weight: float = 0.5,
                 tie_break: str = "first", seed: Any = 0) -> dict:
    """Vectorised selection for a batch of matrices ``llm, user`` of shape ``(B, 2, 3)``.

    Returns a dict of arrays: ``index`` (chosen candidate), ``action`` (index into :data:`ACTIONS`),
    ``scores`` ``(B, K)``, ``pareto`` ``(B, K)``, ``ties`` and the ``candidates`` labels.

    Examples
    --------
    >>> import numpy as np
    >>> out = select_batch(np.ones((4, 2, 3)), np.ones((4, 2, 3)), "sum")
    >>> out["index"].tolist()
    [0, 0, 0, 0]
    """
    where = "select_batch()"
    L = _check_payoff_range(as_float_array(llm, "llm", where, ndim=3), "llm", where)
    U = _check_payoff_range(as_float_array(user, "user", where, ndim=3), "user", where)
    if L.shape[1:] != (2, 3) or U.shape != L.shape:
        raise InvalidInputError(f"{where}: llm and user must both have shape (B, 2, 3), got {L.shape} and {U.shape}")
    weight, user_type = _validate_select(rule, weight, tie_break, user_type, where)
    seed_obj = resolve_seed(seed, where=where)
    Lc, Uc, labels = _candidates(L, U, user_type)
    choice, scores, nties = _select_core(Lc, Uc, rule, weight, tie_break, seed_obj.generator("gtalign.ties"))
    _check_scores(scores, where)
    action = choice % 3 if user_type is None else choice
    return {"index": choice, "action": action, "scores": scores, "pareto": _pareto(Lc, Uc), "ties": nties,
            "candidates": labels}


# ============================================================================ pricing
def _pm(matrix: Any, where: str) -> PayoffMatrix:
    if isinstance(matrix, PayoffMatrix):
        return matrix
    try:
        return PayoffMatrix.from_json(matrix)
    except InvalidInputError as err:
        raise InvalidInputError(f"{where}: {err}") from err


def _transformed(L: np.ndarray, U: np.ndarray, where: str) -> PayoffMatrix:
    """The transformed matrix; payoffs pushed beyond :data:`PAYOFF_LIMIT` are an InvalidInputError
    naming the pricing function."""
    try:
        return PayoffMatrix(L, U)
    except InvalidInputError as err:
        raise InvalidInputError(f"{where}: the transformed payoffs are out of range ({err})") from err


def scale_llm(matrix: Any, /, factor: float) -> PayoffMatrix:
    """The matrix with the LLM's payoffs multiplied by ``factor`` (e.g. a price change of its tokens).

    Examples
    --------
    >>> float(scale_llm(PayoffMatrix(np.ones((2, 3)), np.ones((2, 3))), 2.0).llm[0, 0])
    2.0
    """
    pm = _pm(matrix, "scale_llm()")
    f = check_real(factor, "factor", "scale_llm()")
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range results are refused below
        L = pm.llm * f
    return _transformed(L, pm.user, "scale_llm()")


def scale_user(matrix: Any, /, factor: float) -> PayoffMatrix:
    """The matrix with the user's payoffs multiplied by ``factor``.

    Examples
    --------
    >>> float(scale_user(PayoffMatrix(np.ones((2, 3)), np.ones((2, 3))), 0.5).user[1, 2])
    0.5
    """
    pm = _pm(matrix, "scale_user()")
    f = check_real(factor, "factor", "scale_user()")
    with np.errstate(over="ignore", invalid="ignore"):
        U = pm.user * f
    return _transformed(pm.llm, U, "scale_user()")


def _costs(costs: Any, where: str) -> np.ndarray:
    return as_float_array(costs, "costs", where, shape=(3,))


def price_shift(matrix: Any, /, price: float, costs: Any, *, party: str = "llm") -> PayoffMatrix:
    """Subtract ``price * costs[action]`` from one party's payoffs (costs per action ``DA, CQ, AQ``).

    Examples
    --------
    >>> price_shift(PayoffMatrix(np.ones((2, 3)), np.ones((2, 3))), 0.5, [2, 1, 4]).llm[0].tolist()
    [0.0, 0.5, -1.0]
    """
    where = "price_shift()"
    pm = _pm(matrix, where)
    p = check_real(price, "price", where)
    c = _costs(costs, where)
    check_choice(party, "party", where, ("llm", "user"))
    with np.errstate(over="ignore", invalid="ignore"):
        if party == "llm":
            L, U = pm.llm - p * c[None], pm.user
        else:
            L, U = pm.llm, pm.user - p * c[None]
    return _transformed(L, U, where)


@dataclass(frozen=True, kw_only=True)
class FlipResult(SolveResult):
    """Where the selected candidate changes along a pricing transform (:func:`flip_point`).

    Attributes
    ----------
    flip_at : float
        The parameter at which the choice changes (``nan`` if it never does in the range); also
        ``objective``. For ``scale_*`` it is the factor, for ``shift_*`` the price.
    before, after : str
        Chosen candidate at the start and just past the flip.
    """

    flip_at: float = math.nan
    before: str = ""
    after: str = ""


def flip_point(matrix: Any, /, transform: str = "shift_llm", *, rule: str = "product", costs: Any = (1.0, 1.0, 1.0),
               to: Optional[float] = None, user_type: Any = None, weight: float = 0.5, grid: int = 512,
               tol: float = 1e-10) -> FlipResult:
    """The pricing parameter at which the chosen action flips.

    The parameter runs from its identity value (factor 1 for ``scale_llm``/``scale_user``,
    price 0 for ``shift_llm``/``shift_user``) to ``to``; the first change of the selected
    candidate on a ``grid`` is located by bisection to ``tol``.

    Parameters
    ----------
    matrix : PayoffMatrix, mapping or JSON string
    transform : {"shift_llm", "shift_user", "scale_llm", "scale_user"}
    rule, user_type, weight
        As in :func:`select` (ties to the first candidate).
    costs : array_like, shape (3,)
        Per-action costs of the ``shift_*`` transforms.
    to : float, optional
        End of the range (default: 0 for ``scale_*``, 10 for ``shift_*``).

    Examples
    --------
    >>> pm = PayoffMatrix([[3, 1, 2], [0, 2, 1]], [[3, 1, 3.5], [0, 3, 2]])
    >>> r = flip_point(pm, "shift_llm", rule="sum", costs=[2, 0, 0], user_type="DQ")
    >>> round(r.flip_at, 6), r.before, r.after
    (0.25, 'DQ_DA', 'DQ_AQ')
    """
    where = "flip_point()"
    pm = _pm(matrix, where)
    check_choice(transform, "transform", where, ("shift_llm", "shift_user", "scale_llm", "scale_user"))
    weight, user_type = _validate_select(rule, weight, "first", user_type, where)
    c = _costs(costs, where)
    start = 1.0 if transform.startswith("scale") else 0.0
    end = (0.0 if transform.startswith("scale") else 10.0) if to is None else check_real(to, "to", where)
    grid = check_int(grid, "grid", where, lower=2)
    tol = check_real(tol, "tol", where, lower=0.0, lower_strict=True)
    t0 = time.perf_counter()

    def arrays(t: np.ndarray):
        L = np.broadcast_to(pm.llm, (t.size, 2, 3)).copy()
        U = np.broadcast_to(pm.user, (t.size, 2, 3)).copy()
        tt = t[:, None, None]
        if transform == "scale_llm":
            L = L * tt
        elif transform == "scale_user":
            U = U * tt
        elif transform == "shift_llm":
            L = L - tt * c[None, None]
        else:
            U = U - tt * c[None, None]
        return L, U

    def choose(t: np.ndarray) -> np.ndarray:
        L, U = arrays(t)
        Lc, Uc, _ = _candidates(L, U, user_type)
        return _select_core(Lc, Uc, rule, weight, "first", None)[0]

    _, _, labels = _candidates(pm.llm[None], pm.user[None], user_type)
    # the transforms are linear in the parameter: its two ends bound every payoff on the way
    with np.errstate(over="ignore", invalid="ignore"):
        ends = arrays(np.array([start, end]))
    for name, arr in zip(("llm", "user"), ends):
        _check_payoff_range(arr, f"{name} payoffs at the ends of the range [{start:g}, {end:g}]", where)
    ts = np.linspace(start, end, grid)
    ch = choose(ts)
    first = ch[0]
    diff = np.flatnonzero(ch != first)
    params = {"transform": transform, "rule": rule, "costs": c.tolist(), "to": end, "user_type": user_type,
              "weight": weight, "grid": grid, "tol": tol}
    if diff.size == 0:
        return FlipResult(status=Status.INFEASIBLE, message="the choice does not flip in the range",
                          runtime=time.perf_counter() - t0, method="grid_bisection", backend="numpy", params=params,
                          before=labels[first], after=labels[first])
    lo, hi = ts[diff[0] - 1], ts[diff[0]]
    nit = 0
    while abs(hi - lo) > tol and nit < 200:
        mid = 0.5 * (lo + hi)
        if choose(np.array([mid]))[0] == first:
            lo = mid
        else:
            hi = mid
        nit += 1
    after = labels[int(choose(np.array([hi]))[0])]
    return FlipResult(status=Status.OPTIMAL, message="", x=hi, objective=float(0.5 * (lo + hi)), gap=abs(hi - lo),
                      nit=nit, runtime=time.perf_counter() - t0, method="grid_bisection", backend="numpy",
                      params=params, flip_at=float(0.5 * (lo + hi)), before=labels[first], after=after)


# ============================================================================ reward
@dataclass(frozen=True)
class RewardBreakdown:
    """User and LLM reward components and their combination (floats or arrays)."""

    user: Any
    llm: Any
    reward: Any
    length_term: Any
    reasoning_penalty: Any


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def two_sided_logistic(length: Any, low: float, high: float, scale: float) -> np.ndarray:
    """``sigmoid((L - low)/scale) * sigmoid((high - L)/scale)``: ~1 inside ``[low, high]``, -> 0 outside."""
    return _sigmoid((np.asarray(length, float) - low) / scale) * _sigmoid((high - np.asarray(length, float)) / scale)


def mutual_welfare_reward(*, answer_quality: Any, length: Any, reasoning_length: Any = 0.0, format_ok: Any = True,
                          payoff_consistent: Any = True, mode: str = "geometric", length_low: float = 50.0,
                          length_high: float = 400.0, length_scale: float = 25.0, reasoning_budget: float = 512.0,
                          reasoning_scale: float = 64.0, w_quality: float = 1.0, w_length: float = 0.5,
                          w_reasoning: float = 0.5, w_format: float = 0.25, w_consistency: float = 0.25
                          ) -> RewardBreakdown:
    """The mutual-welfare training reward (plain numbers or arrays in, any judge can feed it).

    * user component ``U = w_quality * answer_quality + w_length * T(length)`` with the two-sided
      logistic ``T(L) = sigmoid((L - length_low)/length_scale) * sigmoid((length_high - L)/length_scale)``;
    * LLM component ``M = w_quality * answer_quality - w_reasoning * sigmoid((reasoning_length -
      reasoning_budget)/reasoning_scale) + w_format * format_ok + w_consistency * payoff_consistent``;
    * ``mode="geometric"``: ``sqrt(max(U, 0) * max(M, 0))`` (mutual welfare); ablations
      ``"linear"`` (``(U + M) / 2``), ``"user_only"`` (``U``), ``"llm_only"`` (``M``).

    Examples
    --------
    >>> r = mutual_welfare_reward(answer_quality=1.0, length=200, reasoning_length=100)
    >>> round(float(r.user), 3), round(float(r.llm), 3), round(float(r.reward), 3)
    (1.499, 1.499, 1.499)
    """
    where = "mutual_welfare_reward()"
    check_choice(mode, "mode", where, ("geometric", "linear", "user_only", "llm_only"))
    q = as_float_array(answer_quality, "answer_quality", where)
    L = as_float_array(length, "length", where, lower=0.0)
    R = as_float_array(reasoning_length, "reasoning_length", where, lower=0.0)
    F = _as_flag(format_ok, "format_ok", where)
    C = _as_flag(payoff_consistent, "payoff_consistent", where)
    for name, v in (("length_low", length_low), ("length_high", length_high), ("reasoning_budget", reasoning_budget)):
        check_real(v, name, where, lower=0.0)
    for name, v in (("length_scale", length_scale), ("reasoning_scale", reasoning_scale)):
        check_real(v, name, where, lower=0.0, lower_strict=True)
    for name, v in (("w_quality", w_quality), ("w_length", w_length), ("w_reasoning", w_reasoning),
                    ("w_format", w_format), ("w_consistency", w_consistency)):
        check_real(v, name, where, lower=0.0)
    if length_high < length_low:
        raise InvalidInputError(f"{where}: length_high ({length_high}) must be >= length_low ({length_low})")
    try:
        shape = np.broadcast_shapes(q.shape, L.shape, R.shape, F.shape, C.shape)
    except ValueError as err:
        raise InvalidInputError(f"{where}: inputs do not broadcast together ({err})") from err
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused below
        T = two_sided_logistic(L, length_low, length_high, length_scale)
        pen = _sigmoid((R - reasoning_budget) / reasoning_scale)
        U = w_quality * q + w_length * T
        M = w_quality * q - w_reasoning * pen + w_format * F + w_consistency * C
        if mode == "geometric":
            # sqrt(U) * sqrt(M), not sqrt(U * M): finite whenever both components are
            out = np.sqrt(np.maximum(U, 0)) * np.sqrt(np.maximum(M, 0))
        elif mode == "linear":
            out = 0.5 * U + 0.5 * M
        elif mode == "user_only":
            out = U + 0 * M
        else:
            out = M + 0 * U
    for name, arr in (("user component", U), ("LLM component", M), ("reward", out)):
        if not np.all(np.isfinite(arr)):
            raise InvalidInputError(f"{where}: the {name} is not finite ({np.asarray(arr)[~np.isfinite(arr)].flat[0]}); "
                                    f"answer_quality or a weight is too large")

    def fin(a):
        a = np.broadcast_to(a, shape)
        return float(a) if a.ndim == 0 else np.array(a)

    return RewardBreakdown(user=fin(U), llm=fin(M), reward=fin(out), length_term=fin(T), reasoning_penalty=fin(pen))


def _as_flag(v: Any, name: str, where: str) -> np.ndarray:
    arr = np.asarray(v)
    if arr.dtype == bool:
        return arr.astype(float)
    arr = as_float_array(v, name, where)
    if arr.size and not np.isin(arr, (0.0, 1.0)).all():
        raise InvalidInputError(f"{where}: {name} must be booleans (or 0/1), got {arr[~np.isin(arr, (0.0, 1.0))].flat[0]}")
    return arr


# ============================================================================ JSON Lines
def score_jsonl(input_path: "str | os.PathLike[str]", output_path: "Optional[str | os.PathLike[str]]" = None, /, *,
                rule: str = "product", user_type: Any = None, weight: float = 0.5, tie_break: str = "first",
                seed: Any = 0) -> dict:
    """Score every payoff matrix of a JSON Lines file; write one JSON line per input line.

    Each input line is a matrix object (``{"DQ_DA": {...}, ...}``) or ``{"id": ..., "matrix":
    {...}, "user_type": optional}``. Output lines: ``{"id", "action", "cell", "score", "pareto",
    "llm", "user"}``, or ``{"id", "error"}`` for a line that fails validation (the others are still
    scored). Parsing is per line; selection runs vectorised over the whole batch (per user type).

    Returns a summary ``{"matrices", "errors", "actions": {action: count}, "seconds",
    "matrices_per_second"}``.
    """
    where = "score_jsonl()"
    weight, user_type = _validate_select(rule, weight, tie_break, user_type, where)
    src = Path(input_path)
    if not src.is_file():
        raise InvalidInputError(f"{where}: input file {str(input_path)!r} does not exist")
    t0 = time.perf_counter()
    ids: list[Any] = []
    Ls: list[np.ndarray] = []
    Us: list[np.ndarray] = []
    uts: list[Any] = []
    records: list[Optional[dict[str, Any]]] = []
    with open(src, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rec_id: Any = lineno
            line_where = f"{where} line {lineno}"
            try:
                obj = loads_json(line, where=line_where)
            except InvalidInputError as err:  # syntax, bad UTF-8, nesting, huge integers: one record
                col = getattr(err, "column", None)
                reason = f"{getattr(err, 'reason', err)}{f' at column {col}' if col else ''}"
                records.append({"id": rec_id, "error": f"{line_where}: invalid JSON ({reason})"})
                continue
            try:
                ut = user_type
                if isinstance(obj, Mapping) and "matrix" in obj:
                    rec_id = obj.get("id", lineno)
                    ut = _check_user_type(obj.get("user_type", user_type), line_where)
                    obj = obj["matrix"]
                L, U = _parse_cells(obj, line_where)
            except InvalidInputError as err:
                records.append({"id": rec_id, "error": str(err)})
                continue
            except (ValueError, TypeError, OverflowError, RecursionError) as err:  # e.g. an integer too large for a float
                records.append({"id": rec_id, "error": f"{line_where}: {type(err).__name__}: {err}"})
                continue
            records.append(None)
            ids.append(rec_id)
            Ls.append(L)
            Us.append(U)
            uts.append(ut)
    n_ok = len(ids)
    results: list = [None] * n_ok
    actions = {a: 0 for a in ACTIONS}
    if n_ok:
        L = np.stack(Ls)
        U = np.stack(Us)
        groups: dict = {}
        for k, ut in enumerate(uts):
            groups.setdefault(ut if not isinstance(ut, float) else ("p", ut), []).append(k)
        for key, idx in groups.items():
            ut = key[1] if isinstance(key, tuple) else key
            idx = np.array(idx)
            out = select_batch(L[idx], U[idx], rule, user_type=ut, weight=weight, tie_break=tie_break, seed=seed)
            Lc, Uc, labels = _candidates(L[idx], U[idx], ut)
            for r, k in enumerate(idx):
                c = int(out["index"][r])
                act = ACTIONS[int(out["action"][r])]
                actions[act] += 1
                results[k] = {"id": ids[k], "action": act, "cell": labels[c], "score": float(out["scores"][r, c]),
                              "pareto": [labels[i] for i in np.flatnonzero(out["pareto"][r])],
                              "llm": float(Lc[r, c]), "user": float(Uc[r, c])}
    it = iter(results)
    lines = [json.dumps(rec if rec is not None else next(it)) for rec in records]
    if output_path is not None:
        atomic_write_text(Path(output_path), "\n".join(lines) + ("\n" if lines else ""))
    secs = time.perf_counter() - t0
    return {"matrices": n_ok, "errors": len(records) - n_ok, "actions": actions, "seconds": secs,
            "matrices_per_second": n_ok / secs if secs > 0 else math.nan}
