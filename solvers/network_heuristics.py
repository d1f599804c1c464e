"""Primal heuristics for maximising a ReLU network over a set of 0/1 actions.

They find good feasible actions fast; proofs are elsewhere (the MIP, the action branch-and-bound
and the engine's certificates). Each function takes an :class:`ActionNetwork` (the network's
arrays and the feasible set, built once per ``NetworkMIP``) and ``c0``, the first-layer constant
of the state (``W_state @ state + b_0``); ``sign`` is +1 to maximise the network, -1 to minimise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from solvers.feasible_set import FeasibleSet
from solvers.network_bounds import forward_from_first, gradient_through

__all__ = ["ActionNetwork", "local_search", "action_gradient", "linearised", "multi_start"]


@dataclass(frozen=True)
class ActionNetwork:
    """A network whose first ``n`` inputs are the actions of ``fs``: its layers, the action part of
    the first weight matrix ``Wa`` (and its transpose), and the set's cardinality range (or None)."""

    layers: Sequence[tuple[np.ndarray, np.ndarray]]
    Wa: np.ndarray
    WaT: np.ndarray
    fs: FeasibleSet
    card: Optional[tuple[int, int]]

    @property
    def n(self) -> int:
        return self.Wa.shape[1]

    def value(self, x: np.ndarray, c0: np.ndarray) -> float:
        """The network at one 0/1 action ``x``."""
        return float(forward_from_first((np.asarray(x, dtype=np.float64) @ self.Wa.T)[None, :], c0, self.layers)[0])


def local_search(net: ActionNetwork, x: np.ndarray, c0: np.ndarray, sign: float, max_rounds: int = 50) -> np.ndarray:
    """Best-improvement 1-flip / swap local search on the forward pass (pure-row sets).

    Every round scores all 1-flips and all swaps (one in, one out) in one batched forward pass from
    the first-layer products. On cardinality sets feasibility is a test of the new count (swaps keep
    it); on general sets only the best few candidates are checked.
    """
    n, card, WaT = net.n, net.card, net.WaT
    cur = np.asarray(x) > 0.5
    Y = WaT[cur].sum(axis=0)
    val = sign * forward_from_first(Y[None, :], c0, net.layers)[0]
    count = int(cur.sum())
    for _ in range(max_rounds):
        ones = np.flatnonzero(cur)
        zeros = np.flatnonzero(~cur)
        flip_ok = np.ones(n, dtype=bool)
        if card is not None:
            flip_ok = np.where(cur, count - 1 >= card[0], count + 1 <= card[1])
        flips = np.flatnonzero(flip_ok)
        cand_Y = [Y + np.where(cur[flips, None], -WaT[flips], WaT[flips])]
        oi = zj = np.zeros(0, dtype=np.int64)
        if ones.size and zeros.size:
            oi = np.repeat(ones, zeros.size)
            zj = np.tile(zeros, ones.size)
            cand_Y.append(Y + (WaT[zeros][None, :, :] - WaT[ones][:, None, :]).reshape(-1, WaT.shape[1]))
        CY = np.concatenate(cand_Y)
        vals = sign * forward_from_first(CY, c0, net.layers)
        order = np.argsort(-vals, kind="stable")
        moved = False
        for i in order[:1 if card is not None else 64]:
            if vals[i] <= val + 1e-12:
                break
            nxt = cur.copy()
            if i < flips.size:
                nxt[flips[i]] = not nxt[flips[i]]
            else:
                nxt[oi[i - flips.size]] = False
                nxt[zj[i - flips.size]] = True
            if card is not None or net.fs.contains_many(nxt[None, :].astype(np.float64))[0]:
                cur, Y, val = nxt, CY[i], vals[i]
                count = int(cur.sum())
                moved = True
                break
        if not moved:
            break
    return cur.astype(np.int64)


def action_gradient(net: ActionNetwork, x: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """Gradient of the network with respect to the action at ``x`` (ReLU slopes of ``x``'s pattern)."""
    if len(net.layers) == 1:                 # a linear network
        return net.Wa[0].copy()
    z = x.astype(np.float64) @ net.Wa.T + c0
    masks = []
    for W, b in net.layers[1:]:
        masks.append(z > 0)
        z = W @ np.maximum(z, 0.0) + b
    return gradient_through(masks, net.layers, net.Wa)


def linearised(net: ActionNetwork, set_model, c0: np.ndarray, sign: float, rounds: int = 6,
               deadline: Optional[float] = None) -> Optional[np.ndarray]:
    """Iterated linearisation: maximise the network's gradient at the current action over the set
    (``set_model``: the set alone as a :class:`solvers.LinearModel` MIP, no network), keep the answer
    while the network's value rises.

    The set's own model is small and HiGHS solves it in milliseconds, so this gives sets with
    auxiliary variables (where a flip/swap search would need a MIP per candidate) a strong first
    incumbent.
    """
    n, k = net.n, net.fs.n_aux
    best: Optional[np.ndarray] = None
    best_val = -np.inf
    point = np.zeros(n)
    seen: set[bytes] = set()
    for _ in range(rounds):
        left = 1.0 if deadline is None else min(1.0, deadline - time.perf_counter())
        if left <= 0:
            break
        g = sign * action_gradient(net, point, c0)
        set_model.set_objective(np.concatenate([g, np.zeros(k)]), sense="max")
        res = set_model.solve(time_limit=left, mip_rel_gap=1e-6)
        if res.x is None:
            break
        y = np.round(res.x[:n]).astype(np.int64)
        key = y.astype(np.int8).tobytes()
        if key in seen:
            break
        seen.add(key)
        vy = sign * net.value(y, c0)
        if vy > best_val + 1e-12:
            best, best_val = y, vy
        point = y
    return best


def multi_start(net: ActionNetwork, set_model, c0: np.ndarray, sign: float, rng: np.random.Generator,
                deadline: Optional[float] = None) -> Optional[np.ndarray]:
    """The MIP's first incumbent: iterated linearisation, then (sets without auxiliary variables) local
    search from it, from two random feasible actions and from the empty action when feasible."""
    fs = net.fs
    lin = linearised(net, set_model, c0, sign, deadline=deadline)
    if fs.n_aux:
        return lin
    starts = [fs.sample(rng) for _ in range(2)] + ([] if lin is None else [lin])
    if fs.contains(np.zeros(net.n)):
        starts.append(np.zeros(net.n, dtype=np.int64))
    best, best_val = None, -np.inf
    for s in starts:
        x = local_search(net, s, c0, sign)
        v = sign * net.value(x, c0)
        if v > best_val:
            best, best_val = x, v
    return best
