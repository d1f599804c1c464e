"""Sequential causal normal-form games (S-CNE): leader-follower games with causal reasoning levels.

After "Sequential Causal Normal Form Games: Theory, Computation, and Strategic Signaling"
(Nov 2025). This module fixes one precise model of it.

The model
---------
Two players, leader payoffs ``A`` and follower payoffs ``B`` (both ``n x m``). The leader picks a
**reasoning level** ``l`` of Pearl's causal hierarchy and, at that level, a mixed strategy ``x``;
the follower **observes the level** ``l`` (the signal) and the commitment ``x``, then responds.

* ``association`` (level 0): the leader acts on instinct -- it plays its instinctive strategy
  ``leader_instinct`` (a pure action or a mix), no optimisation.
* ``intervention`` (level 1): the leader deliberately commits, reasoning about ``do(x)`` with a
  best-responding follower: it commits to the classical strong Stackelberg strategy
  (:func:`games.stackelberg.solve`), whatever the follower actually does.
* ``counterfactual`` (level 2): the leader reasons about what this follower *would* do under each
  commitment, instinct included, and commits to the best ``x`` for the follower's actual
  response rule (backward induction; one LP per follower-response region).

The follower's response to ``(l, x)``: its instinct map gives an instinctive action
``a = follower_instinct[l]`` for each observed level. With ``epsilon > 0`` it is an
``epsilon``-satisficer: it plays ``a`` whenever ``a`` is within ``epsilon`` of its best payoff
(``max_j (x'B)_j - (x'B)_a <= epsilon``); otherwise it best-responds. With ``epsilon = 0`` the
follower **best-responds** (the instinct plays no role); ties among best responses are broken in
the leader's favour (the strong-Stackelberg convention), then by the lowest index.

The **S-CNE** is the leader's best (level, strategy) pair given that response rule: the leader
takes the level with the highest leader value (ties go to the higher level: counterfactual,
then intervention, then association). Where the optimal counterfactual commitment lies on the
boundary ``gap = epsilon`` of a region in which the follower best-responds with an action other
than its instinct, the value is a supremum that commitments arbitrarily close to ``x`` attain
(the follower switches to its instinct exactly on the boundary); ``attained`` is False then.

Consequence (the paper's finding): with best-responding followers (``epsilon = 0``) the
counterfactual LPs are exactly the Stackelberg LPs, association can do no better and
intervention *is* Stackelberg, so the S-CNE leader value equals the strong Stackelberg value
and, for generic games (unique SSE), the welfare gain over Stackelberg is exactly zero.
With ``epsilon > 0`` the gain can be positive or negative (see ``tests/games/test_causal.py``
for hand-derived cases and ``engine-bench run scne`` for the Monte Carlo comparison).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from engine.errors import BackendError, InvalidInputError
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import as_float_array, as_int_array, check_int, check_real
from games.stackelberg import solve as sse_solve
from solvers.highs import LinearModel

__all__ = ["LEVELS", "SequentialCausalGame", "SCNEResult", "solve", "follower_response", "random_causal_game"]

#: The reasoning levels, in order.
LEVELS = ("association", "intervention", "counterfactual")
_TIE = 1e-9


@dataclass(frozen=True, eq=False)
class SequentialCausalGame:
    """A leader-follower game with causal reasoning levels (see the module docstring).

    Parameters
    ----------
    leader_payoffs, follower_payoffs : array_like, shape (n, m)
    leader_instinct : int or array_like, shape (n,)
        The leader's instinctive action (or mix), played at the association level.
    follower_instinct : int or array_like of int, shape (3,)
        The follower's instinctive action for each observed leader level (one int = same for all).
    epsilon : float
        The follower's satisficing tolerance (0 = best-responding follower).

    Examples
    --------
    >>> g = SequentialCausalGame([[1, 4], [0, 2]], [[1, 0], [0, 1]], leader_instinct=0,
    ...                          follower_instinct=1, epsilon=0.2)
    >>> g.shape, g.follower_instinct.tolist()
    ((2, 2), [1, 1, 1])
    """

    leader_payoffs: Any
    follower_payoffs: Any
    leader_instinct: Any = 0
    follower_instinct: Any = 0
    epsilon: float = 0.0

    def __post_init__(self) -> None:
        where = "SequentialCausalGame()"
        A = as_float_array(self.leader_payoffs, "leader_payoffs", where, ndim=2)
        B = as_float_array(self.follower_payoffs, "follower_payoffs", where, ndim=2)
        if A.shape != B.shape:
            raise InvalidInputError(f"{where}: payoff matrices differ in shape: {A.shape} vs {B.shape}")
        if A.size == 0:
            raise InvalidInputError(f"{where}: every player needs at least one action, got shape {A.shape}")
        n, m = A.shape
        li = self.leader_instinct
        if isinstance(li, (int, np.integer)) and not isinstance(li, (bool, np.bool_)):
            x0 = np.zeros(n)
            x0[check_int(li, "leader_instinct", where, lower=0, upper=n - 1)] = 1.0
        else:
            x0 = as_float_array(li, "leader_instinct", where, shape=(n,), lower=0.0)
            if abs(x0.sum() - 1) > 1e-9:
                raise InvalidInputError(f"{where}: leader_instinct must be an action or a mix summing to 1, "
                                        f"got sum {x0.sum()}")
        fi = self.follower_instinct
        if isinstance(fi, (int, np.integer)) and not isinstance(fi, (bool, np.bool_)):
            fi = [fi] * 3
        f = as_int_array(fi, "follower_instinct", where, ndim=1, lower=0, upper=m - 1)
        if f.shape != (3,):
            raise InvalidInputError(f"{where}: follower_instinct needs one action per level {LEVELS}, "
                                    f"got {f.size}")
        eps = check_real(self.epsilon, "epsilon", where, lower=0.0)
        for name, val in (("leader_payoffs", A), ("follower_payoffs", B), ("leader_instinct", x0),
                          ("follower_instinct", f)):
            val.setflags(write=False)
            object.__setattr__(self, name, val)
        object.__setattr__(self, "epsilon", eps)

    @property
    def shape(self) -> tuple:
        return self.leader_payoffs.shape


def random_causal_game(n: int, m: Optional[int] = None, *, epsilon: float = 0.0, seed: Any = 0
                       ) -> SequentialCausalGame:
    """Payoffs uniform in [0, 1], a random pure leader instinct and random follower instincts.

    Examples
    --------
    >>> random_causal_game(3, seed=1).shape
    (3, 3)
    """
    where = "random_causal_game()"
    n = check_int(n, "n", where, lower=1)
    m = n if m is None else check_int(m, "m", where, lower=1)
    rng = resolve_seed(seed, where=where).generator("scne")
    A = rng.uniform(size=(n, m))
    B = rng.uniform(size=(n, m))
    return SequentialCausalGame(A, B, leader_instinct=int(rng.integers(n)),
                                follower_instinct=rng.integers(m, size=3), epsilon=epsilon)


def _check_game(game: Any, where: str) -> SequentialCausalGame:
    if not isinstance(game, SequentialCausalGame):
        raise InvalidInputError(f"{where}: game must be a SequentialCausalGame, got {type(game).__name__}")
    return game


def _response(A: np.ndarray, B: np.ndarray, x: np.ndarray, instinct: int, eps: float) -> int:
    u = x @ B
    best = u.max()
    if eps > 0 and best - u[instinct] <= eps + _TIE:
        return int(instinct)
    ties = np.flatnonzero(u >= best - _TIE)
    lead = x @ A[:, ties]
    return int(ties[int(np.argmax(lead))])


def follower_response(game: SequentialCausalGame, /, level: str, x: Any) -> int:
    """The follower's action when it observes ``level`` and the leader's commitment ``x``.

    Examples
    --------
    >>> g = SequentialCausalGame([[1, 4], [0, 2]], [[1, 0], [0, 1]], follower_instinct=0, epsilon=0.2)
    >>> follower_response(g, "counterfactual", [0.5, 0.5]), follower_response(g, "counterfactual", [0.3, 0.7])
    (0, 1)
    """
    where = "follower_response()"
    game = _check_game(game, where)
    if level not in LEVELS:
        raise InvalidInputError(f"{where}: unknown level {level!r}; choose from {list(LEVELS)}")
    n = game.shape[0]
    xv = as_float_array(x, "x", where, shape=(n,), lower=0.0)
    if abs(xv.sum() - 1) > 1e-9:
        raise InvalidInputError(f"{where}: x must sum to 1, got {xv.sum()}")
    return _response(game.leader_payoffs, game.follower_payoffs, xv, int(game.follower_instinct[LEVELS.index(level)]),
                     game.epsilon)


class _RegionLP:
    """``max A[:, j] x`` over leader mixes with ``B[:, j'] x - v <= 0`` rows; regions by row bounds.

    Region "follower best-responds with j" sets row ``j`` to ``[0, 0]`` (``v`` = its payoff) and,
    for ``epsilon > 0``, row ``a`` (the instinct) to ``<= -epsilon``; region "instinct" sets row
    ``a`` to ``[-epsilon, 0]``. One HiGHS model, re-solved after bound and objective changes.
    """

    def __init__(self, B: np.ndarray) -> None:
        n, m = B.shape
        M = np.zeros((m + 1, n + 1))
        M[:m, :n] = B.T
        M[:m, n] = -1.0
        M[m, :n] = 1.0
        self.n, self.m = n, m
        self.model = LinearModel(np.zeros(n + 1), M, np.concatenate([np.full(m, -np.inf), [1.0]]),
                                 np.concatenate([np.zeros(m), [1.0]]),
                                 col_lower=np.concatenate([np.zeros(n), [-np.inf]]), sense="max")
        self.solves = 0

    def solve(self, c: np.ndarray, lower: np.ndarray, upper: np.ndarray):
        self.model.set_objective(np.concatenate([c, [0.0]]))
        self.model.set_row_bounds(np.arange(self.m), lower, upper)
        res = self.model.solve()
        self.solves += 1
        if res.status == Status.INFEASIBLE:
            return None
        if res.status != Status.OPTIMAL:
            raise BackendError(f"solve(): HiGHS failed on a region LP: {res.status.value}: {res.message}")
        x = np.clip(res.x[:self.n], 0.0, None)
        return x / x.sum()


def _counterfactual(A, B, a, eps, lp: _RegionLP):
    """Best commitment against the follower's actual rule: ``(x, follower_action, attained)``."""
    n, m = A.shape
    best = (-math.inf, None, -1, True)
    regions = [] if eps == 0 else [("instinct", a)]
    regions += [("br", j) for j in range(m)]
    for kind, j in regions:
        lo = np.full(m, -np.inf)
        hi = np.zeros(m)
        if kind == "instinct":
            lo[a] = -eps
        else:
            lo[j] = 0.0
            if eps > 0 and j != a:
                hi[a] = -eps
            elif eps > 0 and j == a:
                continue  # instinct is a best response there: covered by the instinct region
        x = lp.solve(A[:, j], lo, hi)
        if x is None:
            continue
        val = float(x @ A[:, j])
        if val > best[0] + _TIE:
            attained = kind == "instinct" or eps == 0 or j == a or _response(A, B, x, a, eps) == j
            best = (val, x, j, attained)
    return best[1], best[2], best[3]


@dataclass(frozen=True, kw_only=True)
class SCNEResult(SolveResult):
    """The S-CNE of a :class:`SequentialCausalGame`, with the classical Stackelberg answer beside it.

    Attributes
    ----------
    level : str
        The leader's chosen reasoning level.
    leader_strategy : numpy.ndarray
        Its commitment (also ``x``).
    follower_action : int
    leader_value, follower_value, welfare : float
        At the S-CNE (``objective`` = ``leader_value``); welfare = leader + follower value.
    attained : bool
        False when ``leader_value`` is a supremum approached but not attained (module docstring).
    level_leader_values, level_follower_values : numpy.ndarray, shape (3,)
        Values the leader would get at each level (order :data:`LEVELS`).
    level_strategies : numpy.ndarray, shape (3, n)
    level_follower_actions : numpy.ndarray of int, shape (3,)
    stackelberg_strategy : numpy.ndarray
    stackelberg_follower_action : int
    stackelberg_leader_value, stackelberg_follower_value, stackelberg_welfare : float
    welfare_gain : float
        ``welfare - stackelberg_welfare``.
    """

    level: str = ""
    leader_strategy: Any = None
    follower_action: int = -1
    leader_value: float = math.nan
    follower_value: float = math.nan
    welfare: float = math.nan
    attained: bool = True
    level_leader_values: Any = None
    level_follower_values: Any = None
    level_strategies: Any = None
    level_follower_actions: Any = None
    stackelberg_strategy: Any = None
    stackelberg_follower_action: int = -1
    stackelberg_leader_value: float = math.nan
    stackelberg_follower_value: float = math.nan
    stackelberg_welfare: float = math.nan
    welfare_gain: float = math.nan


def solve(game: SequentialCausalGame, /) -> SCNEResult:
    """The S-CNE by backward induction over the leader's (level, mixed strategy) choice.

    Per level: association plays the leader's instinct; intervention commits to the strong
    Stackelberg strategy (:func:`games.stackelberg.solve`); counterfactual solves one LP per
    follower-response region on one HiGHS model. The follower's actual response (module
    docstring) gives each level's values; the leader takes the best level.

    Parameters
    ----------
    game : SequentialCausalGame

    Returns
    -------
    SCNEResult

    Examples
    --------
    >>> g = SequentialCausalGame([[1, 4], [0, 2]], [[1, 0], [0, 1]], follower_instinct=1, epsilon=0.2)
    >>> r = solve(g)
    >>> r.level, r.leader_strategy.round(9).tolist(), round(r.welfare_gain, 9)
    ('counterfactual', [0.6, 0.4], 0.1)
    """
    game = _check_game(game, "solve()")
    t0 = time.perf_counter()
    A, B, eps = game.leader_payoffs, game.follower_payoffs, game.epsilon
    n, m = A.shape
    sse = sse_solve((A, B), leader=0)
    x_sse = np.asarray(sse.leader_strategy, dtype=float)
    lp = _RegionLP(B)
    strategies = np.zeros((3, n))
    actions = np.zeros(3, dtype=np.int64)
    attained = [True, True, True]
    for li, level in enumerate(LEVELS):
        a = int(game.follower_instinct[li])
        if level == "association":
            x = np.asarray(game.leader_instinct, dtype=float)
            j = _response(A, B, x, a, eps)
        elif level == "intervention":
            x = x_sse
            j = _response(A, B, x, a, eps)
            if eps == 0:
                j = int(sse.follower_action) if abs(x @ A[:, sse.follower_action] - x @ A[:, j]) <= _TIE else j
        else:
            x, j, attained[li] = _counterfactual(A, B, a, eps, lp)
        strategies[li] = x
        actions[li] = j
    lv = np.einsum("li,il->l", strategies, A[:, actions])
    fv = np.einsum("li,il->l", strategies, B[:, actions])
    # the best level; ties (within 1e-9) go to the higher level
    top = lv.max()
    best = max(l for l in range(3) if lv[l] >= top - _TIE)
    welfare = float(lv[best] + fv[best])
    sse_w = float(sse.leader_value + sse.follower_value)
    params = {"epsilon": eps, "leader_instinct": game.leader_instinct.tolist(),
              "follower_instinct": game.follower_instinct.tolist(), "region_lps": lp.solves,
              "stackelberg_lps": int(sse.lps_solved)}
    return SCNEResult(status=Status.OPTIMAL, message=f"leader reasons at the {LEVELS[best]} level",
                      x=strategies[best], objective=float(lv[best]), bound=float(lv[best]), gap=0.0,
                      nit=lp.solves + int(sse.lps_solved), runtime=time.perf_counter() - t0, method="backward_induction",
                      backend="highs", params=params, level=LEVELS[best], leader_strategy=strategies[best],
                      follower_action=int(actions[best]), leader_value=float(lv[best]), follower_value=float(fv[best]),
                      welfare=welfare, attained=bool(attained[best]), level_leader_values=lv, level_follower_values=fv,
                      level_strategies=strategies, level_follower_actions=actions, stackelberg_strategy=x_sse,
                      stackelberg_follower_action=int(sse.follower_action),
                      stackelberg_leader_value=float(sse.leader_value),
                      stackelberg_follower_value=float(sse.follower_value), stackelberg_welfare=sse_w,
                      welfare_gain=welfare - sse_w)
