"""The policy interface every coRMAB policy implements (:class:`Policy`) and what policies share:
problem and state checks, greedy construction over the feasible set with memoised feasibility.

Kept apart from :mod:`bandits.policies` (the baseline factories) so that the policies defined in
their own modules (:mod:`bandits.fluid`, :mod:`bandits.sequoia`, :mod:`bandits.argmax`) build on it
while :mod:`bandits.policies` serves them, without an import cycle.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from bandits.arms import _as_states
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError

__all__ = ["Policy", "greedy_construct"]


def _check_problem(problem: Any, where: str) -> CoRMAB:
    if not isinstance(problem, CoRMAB):
        raise InvalidInputError(f"{where}: problem must be a bandits.CoRMAB, got {type(problem).__name__}")
    return problem


def _state(problem: CoRMAB, state: Any, where: str) -> np.ndarray:
    return _as_states(state, problem.n_arms, problem.n_states, where, single=True, name="state")


class Policy:
    """Base class: ``act(state)`` returns a feasible 0/1 action."""

    name = "policy"
    deterministic = True

    def __init__(self, problem: CoRMAB) -> None:
        self.problem = problem
        self.stats: dict[str, float] = {"fallbacks": 0}

    def reset(self, seed: Any = None) -> None:
        """Reseed the policy's own randomness (no-op for deterministic policies)."""

    def act(self, state: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, problem={self.problem!r})"


def greedy_construct(problem: CoRMAB, state: np.ndarray, score: Any) -> tuple[np.ndarray, bool]:
    """Greedy construction: add the pull with the best ``score(actions[K, n]) -> [K]`` while feasible.

    Stops when the action is feasible and no extension improves the score, or when nothing can be
    added. Returns ``(action, ok)``; ``ok`` is False when the result is not feasible.
    """
    n = problem.n_actions
    a = np.zeros(n, dtype=np.int64)
    current = float(score(a[None])[0])
    while True:
        free = np.flatnonzero(a == 0)
        C = np.repeat(a[None], len(free), axis=0)
        C[np.arange(len(free)), free] = 1
        C = C[_memo_check(problem, C, partial=True)]
        if not len(C):
            break
        vals = np.asarray(score(C), dtype=float)
        k = int(np.argmax(vals))
        if _memo_check(problem, a[None], partial=False)[0] and vals[k] <= current + 1e-12:
            break
        a, current = C[k], float(vals[k])
    return a, bool(_memo_check(problem, a[None], partial=False)[0])


_MEMO_LIMIT = 1_000_000
# (contains memo, partial_ok memo) per problem, dropped with the problem
_MEMOS: weakref.WeakKeyDictionary[CoRMAB, tuple[dict, dict]] = weakref.WeakKeyDictionary()


def _memo_check(problem: CoRMAB, A: np.ndarray, *, partial: bool) -> np.ndarray:
    """``problem.partial_ok`` (or ``contains``) of each row of the 0/1 array ``A``, memoised per problem.

    Feasibility depends on the action alone, and greedy constructions from different states ask
    about the same actions again and again (every construction starts with the same single pulls):
    one dict lookup on the packed bits replaces the domain's exact check (a bin packing, a
    matching) on a hit. The memo is cleared beyond a million actions.
    """
    memos = _MEMOS.get(problem)
    if memos is None:
        memos = _MEMOS[problem] = ({}, {})
    memo = memos[1] if partial else memos[0]
    check = problem.partial_ok if partial else problem.contains
    packed = np.packbits(A.astype(np.uint8), axis=1)
    out = np.empty(len(A), dtype=bool)
    for i in range(len(A)):
        key = packed[i].tobytes()
        v = memo.get(key)
        if v is None:
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            v = memo[key] = bool(check(A[i]))
        out[i] = v
    return out
