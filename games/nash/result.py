"""The result of every Nash method and the helpers they share (input checks, profiles, regrets)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from engine.errors import UnsupportedProblemError
from engine.result import SolveResult
from engine.status import Status
from engine.threads import current_threads, default_threads
from games.normal_form import NormalFormGame, batch_payoffs_and_regrets

__all__ = ["NashResult"]


@dataclass(frozen=True, kw_only=True)
class NashResult(SolveResult):
    """Nash equilibria of a normal-form game.

    Attributes
    ----------
    equilibria : tuple of tuple of numpy.ndarray
        Each equilibrium is a profile: one probability vector per player.
    max_regrets : tuple of float
        ``max_regrets[k]`` is ``game.max_regret(equilibria[k])`` (0 at an exact equilibrium).
    payoffs : tuple of numpy.ndarray
        ``payoffs[k][p]``: player ``p``'s expected payoff in equilibrium ``k``.
    value : float
        The row player's value of a zero-sum / constant-sum game (``nan`` otherwise).

    Notes
    -----
    Core fields: ``x`` is the first equilibrium concatenated (``None`` when there is none);
    ``objective`` is its max regret (equilibrium finding as regret minimisation, so ``bound``
    is 0 and ``gap`` equals ``objective``).
    """

    equilibria: tuple = ()
    max_regrets: tuple = ()
    payoffs: tuple = ()
    value: float = math.nan

    @property
    def max_regret(self) -> float:
        """The largest max regret over all returned equilibria (``nan`` when there is none)."""
        return float(max(self.max_regrets)) if self.max_regrets else math.nan

    @property
    def n_equilibria(self) -> int:
        return len(self.equilibria)


# ---------------------------------------------------------------------------- helpers
def _require_two_players(game: NormalFormGame, where: str) -> None:
    if game.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player (bimatrix) game, got {game.n_players} players")


def _profile(vectors: Any) -> tuple:
    out = []
    for v in vectors:
        a = np.array(v, dtype=np.float64)
        a[a < 0] = 0.0
        s = a.sum()
        if s > 0:
            a /= s
        out.append(a)
    return tuple(out)


def _threads_in_force() -> int:
    n = current_threads()
    return int(n) if n is not None else default_threads()


def _result(game: NormalFormGame, equilibria: list, *, method: str, params: dict, runtime: float, nit: int = 0,
            value: float = math.nan, status: Optional[Status] = None, message: str = "",
            backend: str = "numpy", result_cls: type = NashResult, extra: Optional[dict] = None,
            stats: Optional[tuple] = None, x: Optional[np.ndarray] = None) -> NashResult:
    """The result of ``equilibria`` (normalised here); ``stats`` = (regrets, payoffs) and ``x``
    (the first equilibrium concatenated) when the caller has them already (pure equilibria read
    them off the payoff tensor)."""
    if stats is None:
        eqs = tuple(_profile(e) for e in equilibria)
        if eqs:
            P, R = batch_payoffs_and_regrets(game, np.array([np.concatenate(e) for e in eqs]))
            regrets, pays = tuple(R.tolist()), tuple(P)
        else:
            regrets, pays = (), ()
    else:
        eqs = tuple(equilibria)
        regrets, pays = stats
    if status is None:
        status = Status.OPTIMAL if eqs else Status.INFEASIBLE
    if x is None and eqs:
        x = np.concatenate(eqs[0])
    obj = regrets[0] if eqs else math.nan
    if not message:
        message = f"{len(eqs)} equilibri{'um' if len(eqs) == 1 else 'a'} found"
    params["threads"] = _threads_in_force()
    return result_cls(status=status, message=message, x=x, objective=obj, bound=0.0 if eqs else math.nan,
                      gap=obj, nit=nit, runtime=runtime, method=method, backend=backend, params=params,
                      equilibria=eqs, max_regrets=regrets, payoffs=pays, value=value, **(extra or {}))


def _dedupe(equilibria: list, decimals: int = 9) -> list:
    if len(equilibria) < 2:
        return list(equilibria)
    keys = np.round(np.array([np.concatenate(e) for e in equilibria]), decimals) + 0.0  # -0.0 -> 0.0
    seen = set()
    out = []
    for e, key in zip(equilibria, map(tuple, keys.tolist())):
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out
