"""Results of the game-tree solvers: :class:`EFGResult` (behaviour strategies, payoffs, the
max-regret certificate).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.result import SolveResult
from engine.status import Status
from games.efg.tree import ExtensiveFormGame


# ====================================================================== results
@dataclass(frozen=True, kw_only=True)
class EFGResult(SolveResult):
    """An equilibrium (or strategy profile) of a game tree.

    ``behavior``: one array per player, the action probabilities of its information sets in order
    (``x`` is their concatenation); ``payoffs``: expected payoff per player; ``max_regret``: the
    largest gain of a unilateral deviation (the certificate); ``realization``: the realization
    plans (probability per sequence) for the sequence-form methods; ``value``: the value of a
    zero-sum game to player 1. ``subgame_regrets``: for :func:`subgame_perfect`, the max regret
    in every proper subgame (order of ``game.subgame_roots()``), ``subgame_max_regret`` their
    largest (the subgame-perfection certificate)."""

    behavior: tuple = ()
    payoffs: Optional[np.ndarray] = None
    max_regret: float = math.nan
    realization: tuple = ()
    value: float = math.nan
    equilibria: tuple = ()
    subgame_regrets: Optional[np.ndarray] = None
    subgame_max_regret: float = math.nan


def _finish(game: ExtensiveFormGame, behavior: list, *, status: Status, method: str, backend: str,
            t0: float, params: dict, message: str = "", nit: int = 0, realization: tuple = (),
            objective: float = math.nan, bound: float = math.nan, value: float = math.nan) -> EFGResult:
    beh = tuple(np.asarray(b, dtype=np.float64) for b in behavior)
    pays, regrets = game._solver_payoffs_and_regrets(beh)
    reg = float(max(0.0, regrets.max(initial=0.0)))
    gap = abs(objective - bound) if math.isfinite(objective) and math.isfinite(bound) else math.nan
    return EFGResult(status=status, message=message, x=np.concatenate(beh) if beh else np.zeros(0),
                     objective=objective, bound=bound, gap=gap, nit=nit, runtime=time.perf_counter() - t0,
                     method=method, backend=backend, params=params, behavior=beh, payoffs=pays,
                     max_regret=reg, realization=realization, value=value)


def _check_game(game: Any, where: str) -> ExtensiveFormGame:
    if not isinstance(game, ExtensiveFormGame):
        raise InvalidInputError(f"{where}: expected an ExtensiveFormGame, got {type(game).__name__}")
    return game
