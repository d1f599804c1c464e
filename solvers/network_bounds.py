"""Bound propagation through ReLU networks over a set of 0/1 actions: free functions over arrays.

The network is ``[(W_0, b_0), ..., (W_H, b_H)]`` (torch convention, ``W`` of shape ``(out, in)``)
with a ReLU after every layer but the last. Its input is ``concat(a, state)``; for one state the
first layer is ``W_a @ a + c0`` with ``c0 = W_s @ state + b_0``. A *cardinality range* ``(lo, hi)``
means the set ``{a : lo <= sum(a) <= hi}``, over which a linear function is maximised exactly by
top-k selection; ``None`` means the box ``[0, 1]^n`` (a valid, looser bound for any set).

Used by :class:`solvers.NetworkMIP` (per-neuron big-M bounds) and its heuristics; the batched
branch-and-bound of :mod:`solvers.network_bab` has its own vectorised version over many nodes.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

__all__ = ["relu_relaxation", "widen", "max_linear", "forward_from_first", "layer_bounds", "gradient_through",
           "MARGIN"]

#: relative widening of every computed bound (rounding of the products that produced it)
MARGIN = 1e-9

Layers = Sequence[tuple[np.ndarray, np.ndarray]]


def relu_relaxation(L: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear relaxations of ReLU on ``[L, U]``: upper ``su * z + iu``, lower ``sl * z``.

    Examples
    --------
    >>> su, iu, sl = relu_relaxation(np.array([-1.0]), np.array([3.0]))
    >>> float(su[0]), float(iu[0]), float(sl[0])
    (0.75, 0.75, 1.0)
    """
    off = U <= 0
    on = L >= 0
    unst = ~(off | on)
    su = np.where(on, 1.0, 0.0)
    iu = np.zeros_like(L)
    sl = np.where(on, 1.0, 0.0)
    if unst.any():
        lam = U[unst] / (U[unst] - L[unst])
        su[unst] = lam
        iu[unst] = -lam * L[unst]
        sl[unst] = np.where(U[unst] > -L[unst], 1.0, 0.0)
    return su, iu, sl


def widen(L: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[L, U]`` widened by :data:`MARGIN` (relative), so rounding never cuts a feasible value."""
    return L - MARGIN * (1.0 + np.abs(L)), U + MARGIN * (1.0 + np.abs(U))


def max_linear(G: np.ndarray, card: Optional[tuple[int, int]]) -> np.ndarray:
    """Upper bound of ``g @ a`` for each row ``g`` of ``G``: exact over a cardinality range, else the box bound.

    Examples
    --------
    >>> max_linear(np.array([[3.0, -1.0, 2.0]]), (0, 1)).tolist(), max_linear(np.array([[3.0, -1.0, 2.0]]), None).tolist()
    ([3.0], [5.0])
    """
    if card is not None:
        lo, hi = card
        S = -np.sort(-G, axis=1)
        P = np.concatenate([np.zeros((G.shape[0], 1)), np.cumsum(S, axis=1)], axis=1)
        return P[:, lo:hi + 1].max(axis=1)
    return np.maximum(G, 0.0).sum(axis=1)


def forward_from_first(Y: np.ndarray, c0: np.ndarray, layers: Layers) -> np.ndarray:
    """The network's output for each row of ``Y = A @ W_a.T`` (first-layer action products) at the
    state whose first-layer constant is ``c0``."""
    z = Y + c0
    for W, b in layers[1:]:
        z = np.maximum(z, 0.0) @ W.T + b
    return z[:, 0]


def _backsubstitute(W: np.ndarray, b: np.ndarray, relax: list, layers: Layers, Wa: np.ndarray, c0: np.ndarray, *,
                    upper: bool) -> tuple[np.ndarray, np.ndarray]:
    """Linear function ``G @ a + const`` bounding ``W @ h_{l-1} + b`` from above (or below)."""
    G = W.copy()
    const = b.copy()
    for m in range(len(relax) - 1, -1, -1):
        su, iu, sl = relax[m]
        pos = G >= 0
        if upper:
            Gz = np.where(pos, G * su, G * sl)
            const = const + np.where(pos, G * iu, 0.0).sum(axis=1)
        else:
            Gz = np.where(pos, G * sl, G * su)
            const = const + np.where(pos, 0.0, G * iu).sum(axis=1)
        if m == 0:
            const = const + Gz @ c0
            G = Gz @ Wa
        else:
            Wm, bm = layers[m]
            const = const + Gz @ bm
            G = Gz @ Wm
    return G, const


def layer_bounds(c0: np.ndarray, action_min: np.ndarray, action_max: np.ndarray, layers: Layers, Wa: np.ndarray,
                 card: Optional[tuple[int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per hidden layer ``(L, U)`` pre-activation bounds valid for every action of the set.

    The first layer is ``c0`` plus the range ``[action_min, action_max]`` of ``W_a @ a`` over the set;
    deeper layers intersect interval arithmetic with linear back-substitution to the actions
    (DeepPoly/CROWN style) whose final linear functions are maximised by :func:`max_linear`.

    Examples
    --------
    >>> layers = [(np.array([[1.0, 1.0, 1.0]]), np.zeros(1)), (np.ones((1, 1)), np.zeros(1))]
    >>> (L, U), = layer_bounds(np.array([0.5]), np.array([0.0]), np.array([1.0]), layers, layers[0][0][:, :2], (0, 1))
    >>> round(float(L[0]), 6), round(float(U[0]), 6)
    (0.5, 1.5)
    """
    bounds = []
    L, U = widen(c0 + action_min, c0 + action_max)
    bounds.append((L, U))
    relax = [relu_relaxation(L, U)]
    for l in range(1, len(layers) - 1):
        W, b = layers[l]
        Lp, Up = bounds[-1]
        hlo, hhi = np.maximum(Lp, 0.0), np.maximum(Up, 0.0)
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        Ui = Wp @ hhi + Wn @ hlo + b
        Li = Wp @ hlo + Wn @ hhi + b
        lin_u = _backsubstitute(W, b, relax, layers, Wa, c0, upper=True)
        lin_l = _backsubstitute(W, b, relax, layers, Wa, c0, upper=False)
        Ub = lin_u[1] + max_linear(lin_u[0], card)
        Lb = lin_l[1] - max_linear(-lin_l[0], card)
        L, U = widen(np.maximum(Li, Lb), np.minimum(Ui, Ub))
        bounds.append((L, U))
        relax.append(relu_relaxation(L, U))
    return bounds


def gradient_through(masks: Sequence[np.ndarray], layers: Layers, Wa: np.ndarray) -> np.ndarray:
    """Action coefficients of the network with each hidden layer's ReLUs fixed on where ``masks`` say
    (the network's gradient with respect to the action for that activation pattern)."""
    g = layers[-1][0][0].copy()
    for l in range(len(masks) - 1, -1, -1):
        g = g * masks[l]
        g = g @ (Wa if l == 0 else layers[l][0])
    return g
