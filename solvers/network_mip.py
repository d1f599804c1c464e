"""Exact embedding of trained ReLU networks in mixed-integer programs.

:class:`NetworkMIP` maximises (or minimises) a ReLU network ``f(concat(a, state))`` over the 0/1
actions ``a`` of a :class:`solvers.FeasibleSet`, for one state at a time, as SEQUOIA does to
choose each combinatorial action with a trained Q-network.

The formulation
---------------
For every hidden neuron with pre-activation ``z = w @ h_prev + b`` and valid bounds
``L <= z <= U`` (computed per state, see below), the post-activation ``h = max(0, z)`` is::

    h >= z,   h <= z - L (1 - d),   h <= U d,   0 <= h <= max(U, 0),   d in {0, 1}

with **per-neuron** ``L`` and ``U``, never one constant big-M. A neuron with ``U <= 0`` is off
(``h = d = 0``, its rows relaxed: presolve removes it), one with ``L >= 0`` is on (``d = 1``,
``h = z``: linear). Bounds come from

* the first layer, tightened with the feasible set itself: the range of ``W_action @ a`` over
  the set is computed once -- exactly for cardinality sets (budgets: the sum of the top-B
  positive / negative weights), by one LP per neuron over the set's LP relaxation otherwise --
  and the state only shifts it;
* deeper layers, per state: interval arithmetic intersected with linear-relaxation
  back-substitution to the actions (DeepPoly/CROWN style), whose final linear functions of
  ``a`` are again maximised exactly over cardinality sets (box ``[0, 1]`` otherwise);
* optionally (``bound_tightening="lp"``), optimisation-based bound tightening: two LPs per
  unstable neuron of the deeper layers over the LP relaxation of the model built so far.

The HiGHS model is built once per (network, feasible set) from arrays (one ``passModel``
through :class:`solvers.LinearModel`); a solve for a new state only changes row bounds
(first-layer constants ``W_state @ state + b``), column bounds (which neurons are fixed), and
two big-M coefficients per unstable neuron.

Every answer's ``objective`` is the network's own forward pass at ``(x, state)`` in float64,
and ``bound`` is the engine's certified bound (below), so ``gap`` is honest even in the presence
of solver tolerances and solver defects; optimality is reported only when the certificate closes.

Branch-and-bound over the actions (``method="bab"``)
----------------------------------------------------
For cardinality sets (budget, exact budget, cardinality range) :mod:`solvers.network_bab` runs
an exact best-first branch-and-bound over the action bits instead of the MIP: whole batches of
nodes are bounded in one numpy pass by linear relaxation and back-substitution (CROWN/DeepPoly
style) with every linear function maximised exactly over the node's cardinality polytope by
top-k selection; incumbents come from the relaxations' maximisers, a flip/swap local search
and complete enumeration of small nodes. ``method="auto"`` enumerates when the set has at most
``enumerate_limit`` actions, else uses ``"bab"`` on cardinality sets and ``"mip"`` otherwise.

Certificates
------------
No ``"mip"`` answer is taken on HiGHS's word (its branch-and-cut can return a wrong "optimal"):
each is re-proved by the action branch-and-bound on cardinality sets, by enumeration on small sets
without auxiliary variables, or else by :mod:`solvers.certificate` (safe LP dual bounds over the
actions). Measured sizes and decision times are in the README ("Exact ReLU-network argmax"), not
here, so that they are kept up to date with the benchmarks that produce them.

Over 800 lines on purpose: :class:`NetworkMIP` keeps one formulation per network (the MIP, its LP
relaxation, the set's LP) and updates it in place per state; the steps that use those cached
models (formulation, affine shortcut, certificate) stay together. Bound propagation
(:mod:`solvers.network_bounds`), the heuristics (:mod:`solvers.network_heuristics`), the action
branch-and-bound (:mod:`solvers.network_bab`) and the certificate (:mod:`solvers.certificate`)
are modules of their own.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import numpy as np
import scipy.sparse as sp

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.threads import blas_threads
from engine.validation import as_float_array, check_choice, check_int, check_options, check_real, check_time_limit
from solvers.certificate import Certificate, certify_max
from solvers.feasible_set import FeasibleSet
from solvers.highs import LinearModel
from solvers.network_bab import DEFAULT_BATCH_SIZE, DEFAULT_LEAF_LIMIT, CardinalityBaB
from solvers.network_bounds import forward_from_first, gradient_through, layer_bounds, max_linear
from solvers.network_heuristics import ActionNetwork, local_search, multi_start
from solvers.pyomo_backend import solve_pyomo

__all__ = ["NetworkMIP", "NetworkMIPResult", "network_layers", "DEFAULT_ENUMERATE_LIMIT"]

INF = math.inf
#: ``method="auto"`` enumerates when the feasible set has at most this many actions
DEFAULT_ENUMERATE_LIMIT = 20_000
#: ... and at most this many for sets with auxiliary variables (enumerated by MIP no-good cuts)
_AUX_ENUMERATE_LIMIT = 256
#: HiGHS refuses matrix coefficients of this magnitude (its ``large_matrix_value``)
_HIGHS_MAX_COEFFICIENT = 1e15


@dataclass(frozen=True)
class _Settings:
    """One decision's settings, validated once by :meth:`NetworkMIP.solve` and passed whole to each
    private step (the time limit has one form here: ``deadline``, a ``time.perf_counter()`` value)."""

    sense: str
    sign: float
    t0: float
    deadline: Optional[float]
    warm_start: Optional[np.ndarray]
    heuristic: bool
    abs_gap: float
    rel_gap: float
    threads: Optional[int]
    seed: Any
    callback: Optional[Callable]
    options: Mapping[str, Any]
    backend: str
    solver: str
    certificate_node_limit: int
    params: dict  # filled in as the decision goes (n_binaries, ...), recorded in the result

    def remaining(self) -> Optional[float]:
        """Seconds left before the deadline (at least 1 ms, so a solver still returns its incumbent)."""
        return None if self.deadline is None else max(self.deadline - time.perf_counter(), 1e-3)


@dataclass(frozen=True, kw_only=True)
class NetworkMIPResult(SolveResult):
    """Result of :meth:`NetworkMIP.maximize` / :meth:`NetworkMIP.minimize`.

    Attributes (besides the :class:`engine.SolveResult` core)
    ----------------------------------------------------------
    x : numpy.ndarray of int
        The chosen 0/1 action (length ``n_actions``); None when there is none.
    objective : float
        The network's float64 forward pass at ``concat(x, state)``.
    bound : float
        Proven bound on the optimum (upper for maximisation, lower for minimisation).
    gap : float
        Absolute gap between ``bound`` and ``objective`` (>= 0).
    proven_optimal : bool
        True when the gap is within the absolute tolerance ``params["mip_abs_gap"]``.
    sense : str
        ``"max"`` or ``"min"``.
    mip_objective : float
        The objective the MIP reported (nan for enumeration); differs from ``objective`` only
        by solver tolerances.
    n_binaries : int
        Neuron binaries left after fixing the stable neurons for this state (``"bab"``: the
        unstable neurons at the root).
    node_count : int
        Branch-and-bound nodes (``"bab"``: nodes bounded or enumerated, also in ``nit``).
    solver_bound : float
        The bound HiGHS (or the Pyomo solver) reported, not trusted: ``"mip"`` answers are
        re-proved by the engine's own certificate (see :mod:`solvers.certificate`) and ``bound``
        is the certificate's.
    certificate_nodes : int
        LPs the certificate solved (0 for enumeration and ``"bab"``, which are exact themselves).
    """

    proven_optimal: bool = False
    sense: str = "max"
    mip_objective: float = math.nan
    n_binaries: int = 0
    node_count: int = 0
    solver_bound: float = math.nan
    certificate_nodes: int = 0


# ---------------------------------------------------------------------------- networks
def network_layers(net: Any, *, where: str = "network_layers()") -> list[tuple[np.ndarray, np.ndarray]]:
    """The affine layers ``[(W, b), ...]`` (float64) of a Linear/ReLU network.

    ``net`` is a ``torch.nn.Sequential`` of ``Linear`` and ``ReLU`` modules (ReLU after every
    Linear but the last; consecutive Linears are composed; a final ReLU is kept as a layer), or
    a list of ``(W, b)`` pairs with ``W`` of shape ``(out, in)`` (torch convention), with a ReLU
    between consecutive pairs and none after the last. The result always alternates
    ``affine, ReLU, affine, ..., affine``.

    Examples
    --------
    >>> layers = network_layers([(np.ones((3, 2)), np.zeros(3)), (np.ones((1, 3)), [0.5])])
    >>> [W.shape for W, _ in layers]
    [(3, 2), (1, 3)]
    """
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    relu_after: list[bool] = []
    tnn: Any
    try:
        import torch.nn as _tnn

        tnn = _tnn
    except ImportError:  # pragma: no cover - torch is a dependency
        tnn = None
    if tnn is not None and isinstance(net, tnn.Module):
        modules = list(net.children()) if isinstance(net, tnn.Sequential) else [net]
        if not modules:
            raise InvalidInputError(f"{where}: the network has no layers")
        for i, mod in enumerate(modules):
            if isinstance(mod, tnn.Linear):
                W = mod.weight.detach().to("cpu").double().numpy().copy()
                b = (mod.bias.detach().to("cpu").double().numpy().copy() if mod.bias is not None
                     else np.zeros(W.shape[0]))
                if pairs and not relu_after[-1]:
                    W0, b0 = pairs[-1]
                    pairs[-1] = (W @ W0, W @ b0 + b)
                else:
                    pairs.append((W, b))
                    relu_after.append(False)
            elif isinstance(mod, tnn.ReLU):
                if not pairs:
                    raise InvalidInputError(f"{where}: a ReLU before the first Linear layer is not supported")
                relu_after[-1] = True
            else:
                raise InvalidInputError(f"{where}: layer {i} is {type(mod).__name__}; only Linear and ReLU "
                                        "layers are supported")
        if relu_after[-1]:                      # output passes through a ReLU: one more (identity) layer
            pairs.append((np.ones((1, pairs[-1][0].shape[0])) if pairs[-1][0].shape[0] == 1 else
                          np.eye(pairs[-1][0].shape[0]), np.zeros(pairs[-1][0].shape[0])))
    elif isinstance(net, (list, tuple)):
        if not net:
            raise InvalidInputError(f"{where}: the network has no layers")
        for i, item in enumerate(net):
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise InvalidInputError(f"{where}: layer {i} must be a (W, b) pair, got {type(item).__name__}")
            W = as_float_array(item[0], f"W[{i}]", where, ndim=2)
            b = as_float_array(item[1], f"b[{i}]", where, ndim=1)
            if b.shape[0] != W.shape[0]:
                raise InvalidInputError(f"{where}: b[{i}] has length {b.shape[0]} but W[{i}] has {W.shape[0]} rows")
            pairs.append((W.copy(), b.copy()))
    else:
        raise InvalidInputError(f"{where}: net must be a torch nn.Sequential of Linear/ReLU or a list of (W, b), "
                                f"got {type(net).__name__}")
    for i, (W, b) in enumerate(pairs):
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise InvalidInputError(f"{where}: layer {i} has non-finite weights")
        if W.shape[0] == 0 or W.shape[1] == 0:
            raise InvalidInputError(f"{where}: layer {i} has an empty weight matrix {W.shape}")
        if i and W.shape[1] != pairs[i - 1][0].shape[0]:
            raise InvalidInputError(f"{where}: layer {i} expects {W.shape[1]} inputs but layer {i - 1} "
                                    f"gives {pairs[i - 1][0].shape[0]}")
    if pairs[-1][0].shape[0] != 1:
        raise InvalidInputError(f"{where}: the network must have one output, got {pairs[-1][0].shape[0]}")
    return pairs


# ---------------------------------------------------------------------------- bounds helpers
#: HiGHS tolerances of every network-MIP solve (big-M rows need tight feasibility; users' options override)
_HIGHS_TOLERANCES = {"mip_feasibility_tolerance": 1e-9, "primal_feasibility_tolerance": 1e-9}


class NetworkMIP:
    """Maximise or minimise a ReLU network over a feasible set of binary actions, per state.

    Parameters
    ----------
    net : torch.nn.Sequential or list of (W, b)
        Linear/ReLU network with one output whose input is ``concat(action, state)`` (see
        :func:`network_layers`). Weights are read once, as float64.
    feasible_set : FeasibleSet
        The actions (``n_actions`` first inputs of the network).
    state_dim : int, optional
        Length of the state (default: the network's input size minus ``n_actions``).
    method : {"auto", "mip", "enumerate", "bab"}
        ``"mip"``: the big-M formulation solved by HiGHS. ``"enumerate"``: one batched forward
        pass over every feasible action (exact; the action list and its first-layer products
        are cached). ``"bab"``: exact best-first branch-and-bound over the action bits with
        batched linear-relaxation bounds (cardinality sets only, see
        :mod:`solvers.network_bab`; its ``options`` are ``batch_size``, ``leaf_limit`` and
        ``node_limit``). ``"auto"``: enumerate when the set has at most ``enumerate_limit``
        actions (default 20 000; 256 for sets with auxiliary variables), else ``"bab"`` for
        cardinality sets and ``"mip"`` otherwise.
    bound_tightening : {"interval", "lp"}
        Deeper-layer bounds from interval arithmetic and linear back-substitution (default), or
        additionally tightened by LPs (two per unstable neuron and solve).
    enumerate_limit : int, optional
        Threshold of ``method="auto"``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> net = [(rng.normal(size=(8, 6)), rng.normal(size=8)), (rng.normal(size=(1, 8)), np.zeros(1))]
    >>> fs = FeasibleSet.budget(4, 2)
    >>> mip = NetworkMIP(net, fs, state_dim=2, method="mip")
    >>> res = mip.maximize([0.5, -1.0])
    >>> res.status.value, bool(res.x.sum() <= 2)
    ('optimal', True)
    >>> best = NetworkMIP(net, fs, state_dim=2, method="enumerate").maximize([0.5, -1.0])
    >>> bool(abs(res.objective - best.objective) < 1e-6)
    True
    >>> bab = NetworkMIP(net, fs, state_dim=2, method="bab").maximize([0.5, -1.0])
    >>> bab.status.value, bool(abs(bab.objective - best.objective) < 1e-9)
    ('optimal', True)
    """

    def __init__(self, net: Any, feasible_set: FeasibleSet, state_dim: Optional[int] = None, *,
                 method: str = "auto", bound_tightening: str = "interval",
                 enumerate_limit: Optional[int] = None) -> None:
        where = "NetworkMIP()"
        if not isinstance(feasible_set, FeasibleSet):
            raise InvalidInputError(f"{where}: feasible_set must be a FeasibleSet, got {type(feasible_set).__name__}")
        self._method_opt = check_choice(method, "method", where, ("auto", "mip", "enumerate", "bab"))
        self._bt = check_choice(bound_tightening, "bound_tightening", where, ("interval", "lp"))
        layers = network_layers(net, where=where)
        fs = feasible_set
        n = fs.n_actions
        n_in = layers[0][0].shape[1]
        if state_dim is None:
            state_dim = n_in - n
            if state_dim < 0:
                raise InvalidInputError(f"{where}: the network has {n_in} inputs, fewer than n_actions = {n}")
        d = check_int(state_dim, "state_dim", where, lower=0)
        if n_in != n + d:
            raise InvalidInputError(f"{where}: the network has {n_in} inputs but n_actions + state_dim = {n} + {d}")
        if enumerate_limit is None:
            limit = DEFAULT_ENUMERATE_LIMIT if fs.n_aux == 0 else _AUX_ENUMERATE_LIMIT
        else:
            limit = check_int(enumerate_limit, "enumerate_limit", where, lower=0)
        self._fs = fs
        self._n = n
        self._d = d
        self._layers = layers
        self._H = len(layers) - 1                       # hidden layers
        W0, b0 = layers[0]
        self._Wa = np.ascontiguousarray(W0[:, :n])
        self._Ws = np.ascontiguousarray(W0[:, n:])
        self._WaT = np.ascontiguousarray(self._Wa.T)
        self._b0 = b0
        self._widths = [W.shape[0] for W, _ in layers[:-1]]
        self._enumerate_limit = limit
        self._card = fs.cardinality_range
        self._net = ActionNetwork(layers, self._Wa, self._WaT, fs, self._card)
        self._empty = fs.is_empty()
        if self._method_opt == "bab" and self._card is None:
            raise UnsupportedProblemError(f"{where}: method='bab' needs a cardinality-type feasible set "
                                          "(budget, exact_budget, cardinality); use 'mip' or 'auto'")
        if self._method_opt == "auto":
            count = fs.count(limit=limit) if not self._empty else 0
            if count is not None:
                self._method = "enumerate"
            else:
                self._method = "bab" if self._card is not None else "mip"
        else:
            self._method = self._method_opt
        self._enum_cache: Optional[tuple[np.ndarray, np.ndarray]] = None
        self._model: Optional[LinearModel] = None
        self._lp_model: Optional[LinearModel] = None
        self._lp_coefs: Optional[tuple[list, list]] = None
        self._bab: Optional[CardinalityBaB] = None
        self._set_model: Optional[LinearModel] = None        # the feasible set alone (linearisation heuristic)
        self._cert_lp: Optional[LinearModel] = None           # LP relaxation of the MIP (certificates)
        self._cert_coefs: Optional[tuple[list, list]] = None
        self._set_relaxed: Optional[LinearModel] = None       # LP relaxation of the set alone (certificates)
        self._cert_actions: Optional[tuple] = None              # enumerated actions (certificates of small sets)
        # exact / LP range of W_a @ a over the feasible set (state independent)
        self._amin, self._amax = self._action_range(self._Wa)
        self._build_time = 0.0
        if self._method == "mip":
            biggest = max(float(np.abs(W).max()) for W, _ in layers)
            if biggest >= _HIGHS_MAX_COEFFICIENT:
                raise InvalidInputError(f"{where}: a weight of magnitude {biggest:.3g} is beyond HiGHS's matrix "
                                        f"coefficient limit {_HIGHS_MAX_COEFFICIENT:.0e} (method 'mip'); rescale the "
                                        "network or use method='enumerate'/'bab'")
            t0 = time.perf_counter()
            self._build()
            self._build_time = time.perf_counter() - t0

    # ------------------------------------------------------------------ properties
    @property
    def n_actions(self) -> int:
        return self._n

    @property
    def state_dim(self) -> int:
        return self._d

    @property
    def method(self) -> str:
        """The resolved method (``"mip"``, ``"enumerate"`` or ``"bab"``)."""
        return self._method

    @property
    def feasible_set(self) -> FeasibleSet:
        return self._fs

    @property
    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The network's affine layers (copies)."""
        return [(W.copy(), b.copy()) for W, b in self._layers]

    @property
    def model(self):
        """The underlying :class:`solvers.LinearModel` (built on first use)."""
        return self._mip_model()

    def _mip_model(self) -> LinearModel:
        """The MIP (built on first use)."""
        return self._model if self._model is not None else self._build()

    # ------------------------------------------------------------------ forward pass
    def forward(self, actions: Any, state: Any) -> np.ndarray:
        """The network at ``concat(a, state)`` for each row ``a`` of ``actions`` (float64).

        Examples
        --------
        >>> net = [(np.eye(2), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))]
        >>> NetworkMIP(net, FeasibleSet.budget(1, 1), state_dim=1).forward([[1], [0]], [-2.0]).tolist()
        [1.0, 0.0]
        """
        where = "NetworkMIP.forward()"
        X = as_float_array(actions, "actions", where, ndim=(1, 2))
        single = X.ndim == 1
        X = np.atleast_2d(X)
        if X.shape[1] != self._n:
            raise InvalidInputError(f"{where}: actions must have {self._n} columns, got {X.shape[1]}")
        s = self._check_state(state, where)
        out = self._forward_from_first(X @ self._Wa.T, self._Ws @ s + self._b0)
        return out[0] if single else out

    def _forward_from_first(self, Y: np.ndarray, c0: np.ndarray) -> np.ndarray:
        return forward_from_first(Y, c0, self._layers)

    def _action_value(self, x: np.ndarray, c0: np.ndarray) -> float:
        """The network at one 0/1 action ``x`` for the state whose first-layer constant is ``c0``."""
        return float(self._forward_from_first((np.asarray(x, dtype=np.float64) @ self._Wa.T)[None, :], c0)[0])

    def _check_state(self, state: Any, where: str) -> np.ndarray:
        return as_float_array(state, "state", where, shape=(self._d,))

    # ------------------------------------------------------------------ bounds
    def _max_over_set(self, G: np.ndarray) -> np.ndarray:
        return max_linear(G, self._card)

    def _action_range(self, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Range of ``G @ a`` over the feasible set: exact for cardinality sets, the LP relaxation otherwise."""
        if self._empty:
            return np.zeros(G.shape[0]), np.zeros(G.shape[0])
        if self._card is not None or self._fs.n_rows == 0:
            return -self._max_over_set(-G), self._max_over_set(G)
        lp = self._fs.to_linear_model(relax=True)
        k = self._fs.n_aux
        lo = np.empty(G.shape[0])
        hi = np.empty(G.shape[0])
        box_hi = np.maximum(G, 0).sum(axis=1)
        box_lo = np.minimum(G, 0).sum(axis=1)
        for j in range(G.shape[0]):
            c = np.concatenate([G[j], np.zeros(k)])
            for sense, out, box in (("max", hi, box_hi), ("min", lo, box_lo)):
                lp.set_objective(c, sense=sense)
                res = lp.solve()
                if res.status == Status.OPTIMAL and math.isfinite(res.objective):
                    # the LP value can be off by the solver's tolerances: widen slightly
                    v = res.objective + (1e-7 * (1 + abs(res.objective)) if sense == "max"
                                         else -1e-7 * (1 + abs(res.objective)))
                    out[j] = min(v, box[j]) if sense == "max" else max(v, box[j])
                else:
                    out[j] = box[j]
        return lo, hi

    def _compute_bounds(self, c0: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per hidden layer ``(L, U)`` pre-activation bounds for the state with first-layer constant ``c0``."""
        return layer_bounds(c0, self._amin, self._amax, self._layers, self._Wa, self._card)



    def bounds(self, state: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """Pre-activation bounds ``[(L, U), ...]`` of each hidden layer for ``state``.

        Every feasible action drives every hidden pre-activation into its ``[L, U]``
        (with ``bound_tightening="lp"`` these include the LP tightening).

        Examples
        --------
        >>> net = [(np.array([[1.0, 1.0, 1.0]]), np.zeros(1)), (np.ones((1, 1)), np.zeros(1))]
        >>> (L, U), = NetworkMIP(net, FeasibleSet.budget(2, 1), state_dim=1).bounds([0.5])
        >>> round(float(L[0]), 6), round(float(U[0]), 6)
        (0.5, 1.5)
        """
        s = self._check_state(state, "NetworkMIP.bounds()")
        c0 = self._Ws @ s + self._b0
        out = self._compute_bounds(c0)
        if self._bt == "lp" and self._H > 1:
            self._mip_model()
            out = self._lp_tighten(c0, out)
        return [(L.copy(), U.copy()) for L, U in out]

    # ------------------------------------------------------------------ model
    def _build(self) -> LinearModel:
        """Build the MIP once: columns ``[a, aux, h_1, d_1, ..., h_H, d_H]``."""

        fs = self._fs
        n, k = self._n, fs.n_aux
        H = self._H
        widths = self._widths
        col_h, col_d = [], []
        pos = n + k
        for w in widths:
            col_h.append(np.arange(pos, pos + w))
            col_d.append(np.arange(pos + w, pos + 2 * w))
            pos += 2 * w
        ncol = pos
        blocks_r, blocks_c, blocks_v = [], [], []
        FA = fs.A.tocoo()
        blocks_r.append(FA.row)
        blocks_c.append(FA.col)
        blocks_v.append(FA.data)
        row = fs.n_rows
        r1, r2, r3 = [], [], []
        for l, w in enumerate(widths):
            W = self._Wa if l == 0 else self._layers[l][0]
            prev_cols = np.arange(n) if l == 0 else col_h[l - 1]
            rows1 = np.arange(row, row + w)
            rows2 = rows1 + w
            rows3 = rows1 + 2 * w
            row += 3 * w
            r1.append(rows1)
            r2.append(rows2)
            r3.append(rows3)
            Wc = sp.coo_matrix(W)
            for rows in (rows1, rows2):
                blocks_r += [rows, rows[Wc.row]]
                blocks_c += [col_h[l], prev_cols[Wc.col]]
                blocks_v += [np.ones(w), -Wc.data]
            # placeholders for -L (row 2) and -U (row 3): non-zero so the entries exist
            blocks_r += [rows2, rows3, rows3]
            blocks_c += [col_d[l], col_d[l], col_h[l]]
            blocks_v += [np.ones(w), -np.ones(w), np.ones(w)]
        A = sp.csc_matrix((np.concatenate(blocks_v), (np.concatenate(blocks_r), np.concatenate(blocks_c))),
                          shape=(row, ncol))
        c = np.zeros(ncol)
        W_out, b_out = self._layers[-1]
        if H == 0:
            c[:n] = W_out[0, :n]
        else:
            c[col_h[-1]] = W_out[0]
        rl = np.concatenate([fs.row_lower, np.full(row - fs.n_rows, -INF)])
        ru = np.concatenate([fs.row_upper, np.full(row - fs.n_rows, INF)])
        cl = np.concatenate([np.zeros(n), fs.aux_lower, np.zeros(ncol - n - k)])
        cu = np.concatenate([np.ones(n), fs.aux_upper, np.ones(ncol - n - k)])
        integ = np.concatenate([np.ones(n, dtype=bool), fs.aux_integer, np.zeros(ncol - n - k, dtype=bool)])
        for l in range(H):
            integ[col_d[l]] = True
        model = self._model = LinearModel(c, A, rl, ru, col_lower=cl, col_upper=cu, integrality=integ, sense="max",
                                  offset=float(b_out[0]) if H else 0.0)
        self._col_h, self._col_d = col_h, col_d
        self._r1, self._r2, self._r3 = r1, r2, r3
        self._ncol = ncol
        self._c = c
        self._lcoef = [np.full(w, -1.0) for w in widths]     # current value of L in "-L d" (row 2)
        self._ucoef = [np.full(w, 1.0) for w in widths]      # current value of U in "-U d" (row 3)
        self._all_rows = np.concatenate([np.concatenate([a, b_, c_]) for a, b_, c_ in zip(r1, r2, r3)]) \
            if H else np.zeros(0, dtype=np.int64)
        self._all_cols = np.concatenate([np.concatenate([h, d_]) for h, d_ in zip(col_h, col_d)]) \
            if H else np.zeros(0, dtype=np.int64)
        self._sense_set = "max"
        self._lp_model = None
        self._lp_coefs = None
        self._cert_lp = None
        self._cert_coefs = None
        return model

    def _apply_state(self, model, coefs: tuple[list, list], c0: np.ndarray,
                     bounds: list[tuple[np.ndarray, np.ndarray]]) -> int:
        """Write the state-dependent bounds and coefficients into ``model``; returns #binaries."""
        H = self._H
        if H == 0:
            return 0
        lcoef, ucoef = coefs
        row_lo, row_hi, col_lo, col_hi = [], [], [], []
        ch_r, ch_c, ch_v = [], [], []
        n_bin = 0
        for l in range(H):
            L, U = bounds[l]
            b = c0 if l == 0 else self._layers[l][1]
            off = U <= 0
            on = (L >= 0) & ~off
            unst = ~(off | on)
            n_bin += int(unst.sum())
            if unst.any():
                idx = np.flatnonzero(unst)
                lcoef[l][idx] = L[idx]
                ucoef[l][idx] = U[idx]
                ch_r += [self._r2[l][idx], self._r3[l][idx]]
                ch_c += [self._col_d[l][idx], self._col_d[l][idx]]
                ch_v += [-L[idx], -U[idx]]
            w = L.shape[0]
            # row 1: h - W h_prev >= b
            row_lo.append(b)
            row_hi.append(np.full(w, INF))
            # row 2: h - W h_prev - Lc d <= b - Lc   (relaxed for off neurons)
            row_lo.append(np.full(w, -INF))
            row_hi.append(np.where(off, INF, b - lcoef[l]))
            # row 3: h - Uc d <= 0                  (relaxed for on neurons)
            row_lo.append(np.full(w, -INF))
            row_hi.append(np.where(on, INF, 0.0))
            # columns h in [0, max(U, 0)], d fixed for stable neurons
            col_lo += [np.zeros(w), np.where(on, 1.0, 0.0)]
            col_hi += [np.maximum(U, 0.0), np.where(off, 0.0, 1.0)]
        if ch_r:
            model.set_coefficients(np.concatenate(ch_r), np.concatenate(ch_c), np.concatenate(ch_v))
        model.set_row_bounds(self._all_rows, np.concatenate(row_lo), np.concatenate(row_hi))
        model.set_col_bounds(self._all_cols, np.concatenate(col_lo), np.concatenate(col_hi))
        return n_bin

    def _set_sense_and_offset(self, model, sense: str, c0: np.ndarray, state: np.ndarray) -> None:
        if self._H == 0:
            W, b = self._layers[0]
            off = float(W[0, self._n:] @ state + b[0])
            model.set_objective(self._c, offset=off, sense=sense)
        elif model.sense != sense:
            model.set_objective(self._c, sense=sense)

    def _relaxed_copy(self) -> tuple[LinearModel, tuple[list, list]]:
        """A continuous copy of the MIP (its LP relaxation) with its own big-M coefficient record."""
        arr = self._mip_model().arrays()
        lp = LinearModel(self._c.copy(), arr["A"], arr["row_lower"], arr["row_upper"],
                         col_lower=arr["col_lower"], col_upper=arr["col_upper"], sense="max")
        coefs = ([c.copy() for c in self._lcoef], [c.copy() for c in self._ucoef])
        return lp, coefs

    def _lp_tighten(self, c0: np.ndarray, bounds: list) -> list:
        """OBBT: tighten deeper-layer bounds with LPs over the relaxed model, layer by layer."""
        lp, coefs = self._lp_model, self._lp_coefs
        if lp is None or coefs is None:
            lp, coefs = self._lp_model, self._lp_coefs = self._relaxed_copy()
        bounds = [(L.copy(), U.copy()) for L, U in bounds]
        n = self._n
        for l in range(1, self._H):
            self._apply_state(lp, coefs, c0, bounds)
            W, b = self._layers[l]
            L, U = bounds[l]
            prev = self._col_h[l - 1]
            for j in np.flatnonzero((L < 0) & (U > 0)):
                c = np.zeros(self._ncol)
                c[prev] = W[j]
                for sense in ("max", "min"):
                    lp.set_objective(c, offset=float(b[j]), sense=sense)
                    res = lp.solve()
                    if res.status != Status.OPTIMAL or not math.isfinite(res.objective):
                        continue
                    v = res.objective
                    slack = 1e-7 * (1.0 + abs(v))
                    if sense == "max":
                        U[j] = min(U[j], v + slack)
                    else:
                        L[j] = max(L[j], v - slack)
                    if U[j] <= 0 or L[j] >= 0:
                        break
            # deeper layers keep their (looser, still valid) bounds; the next LPs see these
            bounds[l] = (L, U)
        del n
        return bounds

    # ------------------------------------------------------------------ heuristic
    def _local_search(self, x: np.ndarray, c0: np.ndarray, sign: float) -> np.ndarray:
        return local_search(self._net, x, c0, sign)

    def _gradient_through(self, masks: list) -> np.ndarray:
        return gradient_through(masks, self._layers, self._Wa)

    def _set_lp(self) -> LinearModel:
        """The feasible set alone as a MIP (built once; objectives change per use)."""
        if self._set_model is None:
            self._set_model = self._fs.to_linear_model()
        return self._set_model

    def _heuristic(self, c0: np.ndarray, sign: float, seed_obj, deadline: Optional[float] = None) -> Optional[np.ndarray]:
        if self._empty:
            return None
        return multi_start(self._net, self._set_lp(), c0, sign, seed_obj.generator("network_mip.heuristic"), deadline)

    def _full_start(self, x: np.ndarray, c0: np.ndarray) -> np.ndarray:
        """A complete MIP solution vector for action ``x`` (h, d from the forward pass)."""
        start = np.full(self._ncol, np.nan)
        start[: self._n] = x
        if self._fs.n_aux:
            aux_model, A_act = self._fs._aux_model()
            shift = A_act @ x.astype(float)
            aux_model.set_row_bounds(np.arange(self._fs.n_rows), self._fs.row_lower - shift,
                                     self._fs.row_upper - shift)
            res = aux_model.solve()
            if res.x is None:
                return start
            start[self._n:self._n + self._fs.n_aux] = res.x
        z = x.astype(float) @ self._Wa.T + c0
        for l in range(self._H):
            h = np.maximum(z, 0.0)
            start[self._col_h[l]] = h
            start[self._col_d[l]] = (z > 0).astype(float)
            if l + 1 < self._H:
                W, b = self._layers[l + 1]
                z = W @ h + b
        return start

    # ------------------------------------------------------------------ solving
    def _validate_solve(self, where: str, state: Any, sense: str, warm_start: Any, time_limit: Any,
                        mip_abs_gap: Any, mip_rel_gap: Any, threads: Any, backend: str):
        s = self._check_state(state, where)
        check_choice(sense, "sense", where, ("max", "min"))
        tl = check_time_limit(time_limit, where)
        abs_gap = check_real(mip_abs_gap, "mip_abs_gap", where, lower=0.0)
        rel_gap = check_real(mip_rel_gap, "mip_rel_gap", where, lower=0.0)
        if threads is not None:
            check_int(threads, "threads", where, lower=1)
        check_choice(backend, "backend", where, ("highs", "pyomo"))
        ws = None
        if warm_start is not None:
            ws = as_float_array(warm_start, "warm_start", where, shape=(self._n,))
            if not np.all((ws == 0) | (ws == 1)):
                raise InvalidInputError(f"{where}: warm_start must be a 0/1 action vector")
            if not self._fs.contains(ws):
                raise InvalidInputError(f"{where}: warm_start is not in the feasible set")
            ws = ws.astype(np.int64)
        return s, tl, abs_gap, rel_gap, ws

    def maximize(self, state: Any, **options: Any) -> NetworkMIPResult:
        """The feasible action maximising the network at ``state`` (options as in :meth:`solve`)."""
        return self.solve(state, sense="max", **options)

    def minimize(self, state: Any, **options: Any) -> NetworkMIPResult:
        """The feasible action minimising the network at ``state`` (options as in :meth:`solve`)."""
        return self.solve(state, sense="min", **options)

    def solve(self, state: Any, *, sense: str = "max", warm_start: Any = None, heuristic: bool = True,
              time_limit: Optional[float] = None, mip_abs_gap: float = 1e-6, mip_rel_gap: float = 0.0,
              threads: Optional[int] = None, seed: Any = 0, callback: Optional[Callable] = None,
              options: Optional[Mapping[str, Any]] = None, backend: str = "highs",
              solver: str = "appsi_highs", certificate_node_limit: int = 100_000) -> NetworkMIPResult:
        """Optimise the network over the feasible set at ``state``.

        Parameters
        ----------
        state : array_like, shape (state_dim,)
        sense : {"max", "min"}
        warm_start : array_like of 0/1, optional
            A feasible heuristic action given to the MIP as its first incumbent.
        heuristic : bool
            Primal heuristics (default True). For the MIP: iterated linearisation (maximise the
            network's action gradient over the set with a MIP of the set alone, re-linearise at
            the answer while the value rises), then, on sets without auxiliary variables, a
            vectorised 1-flip/swap local search on the forward pass from it and from random
            feasible actions; the best is the MIP's first incumbent. For ``"bab"``: the local
            search from every new incumbent.
        time_limit : float, optional
            Seconds for the whole decision (bounds, heuristics and the search or solver); on
            expiry the best action so far comes back with status TIME_LIMIT and a proven bound.
        mip_abs_gap : float
            Absolute optimality tolerance (default 1e-6); ``mip_rel_gap`` defaults to 0.
        threads, seed, callback, options
            As in :meth:`solvers.LinearModel.solve` (``seed`` also drives the heuristic). With
            ``method="bab"``, ``options`` takes ``batch_size`` (nodes branched per vectorised
            pass, default 64), ``leaf_limit`` (nodes with at most this many completions are
            enumerated, default 256) and ``node_limit`` (status ITERATION_LIMIT when reached);
            the callback receives :class:`engine.events.Incumbent` events, and raising
            ``StopIteration`` stops with status STOPPED. ``threads`` is also the number of BLAS
            threads of the numpy work (enumeration, branch-and-bound, local search; default 1,
            the fastest for these small matrices).
        backend : {"highs", "pyomo"}
            ``"pyomo"`` exports the model for ``state`` and solves it with Pyomo's ``solver``
            (``"appsi_highs"`` gets the time limit, both gaps, ``threads`` and the seed; other solvers
            the time limit and ``mip_rel_gap``, the rest through ``options``). The engine's heuristic,
            ``warm_start`` and ``callback`` are not used there: the settings a backend ignored are
            listed in ``params["ignored"]`` and in the message.
        certificate_node_limit : int
            ``"mip"`` answers are never taken on the solver's word: the engine re-proves them by a
            best-first branch-and-bound over the actions whose node bounds are *safe* dual bounds of
            the LP relaxation, evaluated in numpy with their rounding error (valid whatever the LP
            solver returns; see :mod:`solvers.certificate`). This caps its LPs (default 100 000); when
            it stops first, a solver's "optimal" becomes FEASIBLE with the certificate's proven bound.

        Returns
        -------
        NetworkMIPResult
        """
        where = "NetworkMIP.maximize()" if sense == "max" else (
            "NetworkMIP.minimize()" if sense == "min" else "NetworkMIP.solve()")
        s, tl, abs_gap, rel_gap, ws = self._validate_solve(where, state, sense, warm_start, time_limit,
                                                           mip_abs_gap, mip_rel_gap, threads, backend)
        seed_obj = resolve_seed(seed, where=where)
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            c0 = self._Ws @ s + self._b0
        self._check_scale(c0, where)
        sign = 1.0 if sense == "max" else -1.0
        params = {"sense": sense, "method": self._method, "method_option": self._method_opt,
                  "bound_tightening": self._bt, "enumerate_limit": self._enumerate_limit,
                  "mip_abs_gap": abs_gap, "mip_rel_gap": rel_gap, "time_limit": tl, "threads": threads,
                  "seed": seed_obj.root, "heuristic": bool(heuristic), "warm_start": ws is not None,
                  "backend": backend, "solver": solver if backend == "pyomo" else None,
                  "options": dict(options or {}),
                  "certificate_node_limit": check_int(certificate_node_limit, "certificate_node_limit", where, lower=1)}
        if self._empty:
            return NetworkMIPResult(status=Status.INFEASIBLE, message="the feasible set is empty", x=None,
                                    runtime=time.perf_counter() - t0, method=self._method, backend="none",
                                    params=params, sense=sense)
        st = _Settings(sense=sense, sign=sign, t0=t0, deadline=None if tl is None else t0 + tl, warm_start=ws,
                       heuristic=bool(heuristic), abs_gap=abs_gap, rel_gap=rel_gap, threads=threads, seed=seed_obj,
                       callback=callback, options=dict(options or {}), backend=backend, solver=solver,
                       certificate_node_limit=params["certificate_node_limit"], params=params)
        # the forward passes, the search and the local search multiply small matrices (widths of
        # tens): one BLAS thread is fastest, and on a busy machine several times faster
        with blas_threads(1 if threads is None else threads):
            if self._method == "enumerate":
                return self._solve_enumerate(c0, st)
            if self._method == "bab" and backend == "highs":
                return self._solve_bab(where, c0, st)
            return self._solve_mip(s, c0, st)

    def _enumerated(self) -> tuple[np.ndarray, np.ndarray]:
        if self._enum_cache is None:
            X = self._fs.enumerate(limit=max(self._enumerate_limit, 1) if self._method_opt != "enumerate"
                                   else 10**8)
            self._enum_cache = (X, X.astype(np.float64) @ self._Wa.T)
        return self._enum_cache

    def _solve_enumerate(self, c0: np.ndarray, st: _Settings) -> NetworkMIPResult:
        X, Y = self._enumerated()
        vals = self._forward_from_first(Y, c0)
        i = int(np.argmax(st.sign * vals))
        v = float(vals[i])
        return NetworkMIPResult(status=Status.OPTIMAL, message=f"enumerated {len(X)} feasible actions",
                                x=X[i].astype(np.int64).copy(), objective=v, bound=v, gap=0.0, nit=len(X),
                                runtime=time.perf_counter() - st.t0, method="enumerate", backend="numpy",
                                params=st.params, proven_optimal=True, sense=st.sense)

    def _solve_bab(self, where: str, c0: np.ndarray, st: _Settings) -> NetworkMIPResult:
        sign, params = st.sign, st.params
        opts = check_options(st.options, ("batch_size", "leaf_limit", "node_limit"), where)
        batch = check_int(opts.get("batch_size", DEFAULT_BATCH_SIZE), "options['batch_size']", where, lower=1)
        leaf = check_int(opts.get("leaf_limit", DEFAULT_LEAF_LIMIT), "options['leaf_limit']", where, lower=1)
        node_limit = opts.get("node_limit")
        if node_limit is not None:
            node_limit = check_int(node_limit, "options['node_limit']", where, lower=1)
        params.update({"batch_size": batch, "leaf_limit": leaf, "node_limit": node_limit})
        if self._card is None:          # pragma: no cover - excluded in __init__
            raise UnsupportedProblemError(f"{where}: method='bab' needs a cardinality-type feasible set")
        start = st.warm_start
        # no multi-start heuristic here: the search improves every new incumbent (starting with the
        # root relaxation's maximiser) by local search, which finds the same actions far cheaper
        improve = (lambda x: self._local_search(x, c0, sign)) if st.heuristic else None
        c0b = c0 if self._H else np.concatenate([c0, -c0])
        out = self._bab_search().run(c0b, sign, start=start, abs_gap=st.abs_gap, deadline=st.deadline,
                                     batch_size=batch, leaf_limit=leaf, node_limit=node_limit, improve=improve,
                                     callback=st.callback)
        params["n_binaries"] = out.root_unstable
        x = out.x
        objective = math.nan if x is None else self._action_value(x, c0)
        bound = sign * out.bound if math.isfinite(out.bound) else math.nan
        gap = max(0.0, sign * (bound - objective)) if x is not None and math.isfinite(bound) else math.nan
        if out.finished:
            status, message = Status.OPTIMAL, f"branch-and-bound closed after {out.nodes} nodes"
        elif out.stopped:
            status, message = Status.STOPPED, "stopped by the callback"
        elif node_limit is not None and out.nodes >= node_limit:
            status, message = Status.ITERATION_LIMIT, f"node limit {node_limit} reached"
        else:
            status, message = Status.TIME_LIMIT, f"time limit reached after {out.nodes} nodes"
        proven = bool(out.finished and math.isfinite(gap) and gap <= st.abs_gap + 1e-9 * (1 + abs(objective)))
        if status == Status.OPTIMAL and not proven:
            status = Status.FEASIBLE
        return NetworkMIPResult(status=status, message=message, x=x, objective=objective, bound=bound, gap=gap,
                                nit=out.nodes, runtime=time.perf_counter() - st.t0, method="bab", backend="numpy",
                                params=params, proven_optimal=proven, sense=st.sense, n_binaries=out.root_unstable,
                                node_count=out.nodes)

    def _prepare(self, s: np.ndarray, c0: np.ndarray, sense: str) -> tuple[int, list]:
        model = self._mip_model()
        bounds = self._compute_bounds(c0)
        if self._bt == "lp" and self._H > 1:
            bounds = self._lp_tighten(c0, bounds)
        n_bin = self._apply_state(model, (self._lcoef, self._ucoef), c0, bounds)
        self._set_sense_and_offset(model, sense, c0, s)
        return n_bin, bounds

    def _solve_mip(self, s: np.ndarray, c0: np.ndarray, st: _Settings) -> NetworkMIPResult:
        sign, params = st.sign, st.params
        n_bin, layer_bounds = self._prepare(s, c0, st.sense)
        if n_bin == 0 and self._H and st.backend == "highs" and st.warm_start is None:
            return self._solve_affine(c0, layer_bounds, st)
        start = st.warm_start
        start_val = -INF if start is None else sign * self._action_value(start, c0)
        if st.heuristic and st.backend == "highs":
            half = None if st.deadline is None else st.t0 + 0.5 * (st.deadline - st.t0)
            hx = self._heuristic(c0, sign, st.seed, half)
            if hx is not None:
                hv = sign * self._action_value(hx, c0)
                if hv > start_val:
                    start, start_val = hx, hv
        if st.backend == "pyomo":
            res = self._solve_pyomo(st)
        else:
            hopts = {**_HIGHS_TOLERANCES, **st.options}
            full = self._full_start(start, c0) if start is not None else None
            # the time limit is for the whole decision, not HiGHS alone
            res = self._mip_model().solve(time_limit=st.remaining(), mip_rel_gap=st.rel_gap, mip_abs_gap=st.abs_gap,
                                          threads=st.threads, seed=st.seed, warm_start=full, callback=st.callback,
                                          options=hopts)
        params["n_binaries"] = n_bin
        x = None
        objective = math.nan
        if res.x is not None:
            x = np.round(res.x[: self._n]).astype(np.int64)
            objective = self._action_value(x, c0)
        if x is not None and start is not None and sign * objective < start_val - 1e-12:
            x = start.copy()
            objective = float(sign * start_val)
        solver_bound = float(res.bound) if res.bound is not None else math.nan
        # the solver's "optimal" is a claim: re-prove it with safe LP bounds over the actions
        lp = self._network_lp(c0, layer_bounds, sign, s)
        cert, cert_bound = self._certify(lp, c0, x, st)
        return self._certified_result(res, cert, cert_bound, x, objective, c0, st, n_bin=n_bin,
                                      solver_bound=solver_bound, affine=False)

    def _solve_pyomo(self, st: _Settings):
        """The MIP through Pyomo. HiGHS via ``appsi_highs`` takes the gaps, threads and seed; any other
        solver gets the time limit and relative gap only (option names differ between solvers: pass
        them in ``options``). What the backend ignores is listed in ``params["ignored"]``."""
        opts = dict(st.options)
        ignored = [name for name, used in (("heuristic", not st.heuristic), ("warm_start", st.warm_start is None),
                                           ("callback", st.callback is None)) if not used]
        if st.solver == "appsi_highs":
            opts.setdefault("mip_abs_gap", st.abs_gap)
            if st.threads is not None:
                opts.setdefault("threads", st.threads)
            opts.setdefault("random_seed", st.seed.int_seed("highs"))  # as LinearModel.solve derives it
        else:
            ignored += [name for name, used in (("mip_abs_gap", st.abs_gap == 1e-6), ("threads", st.threads is None))
                        if not used] + ["seed"]
        st.params["ignored"] = ignored
        return solve_pyomo(self._mip_model(), solver=st.solver, time_limit=st.remaining(), mip_rel_gap=st.rel_gap,
                           options=opts)

    def _certified_result(self, res, cert, cert_bound: float, x, objective: float, c0: np.ndarray, st: _Settings, *,
                          n_bin: int, solver_bound: float, affine: bool,
                          objective_shift: float = 0.0) -> NetworkMIPResult:
        """The answer from the solver's result and the engine's certificate: OPTIMAL only when the
        certificate closed; the bound is always the certificate's."""
        sign, params = st.sign, st.params
        improved = cert.x is not None and (x is None or cert.value > sign * objective + 1e-12 * (1 + abs(objective)))
        if improved:
            solver_value = objective
            x = np.asarray(cert.x, dtype=np.int64)[: self._n].copy()
            objective = self._action_value(x, c0)
        if cert.closed and x is not None:
            # the certified optimum and the forward pass of its action agree to rounding: never report a
            # bound on the wrong side of the objective
            cert_bound = max(cert_bound, sign * objective)
        bound = sign * cert_bound if math.isfinite(cert_bound) else math.nan
        gap = max(0.0, sign * (bound - objective)) if x is not None and math.isfinite(bound) else math.nan
        status, message = res.status, res.message
        claimed = status == Status.OPTIMAL
        if claimed and improved:
            message = (f"{message} at {solver_value:.9g} (solver bound {solver_bound:.9g}), but the engine's "
                       f"certificate found {objective:.9g}")
        if cert.closed and x is not None:
            status = Status.OPTIMAL
            how = f"{cert.method}, {cert.nodes} nodes" if cert.nodes else cert.method
            message = (f"{message}; optimality certified by the engine ({how})"
                       if claimed else f"optimality certified by the engine ({how}); the solver said {message}")
        elif cert.closed:               # no feasible action at all, proven
            status, message = Status.INFEASIBLE, "no feasible action (certified by the engine)"
        elif claimed:
            status = Status.FEASIBLE
            message = (f"{message} (solver bound {solver_bound:.9g}); the engine's certificate did not close: "
                       f"{cert.reason}, proven bound {bound:.9g}")
        if affine:
            message = f"every neuron is stable over the set (affine network); {message}"
        if params.get("ignored"):
            message = f"{message}; ignored by the {st.solver} backend: {', '.join(params['ignored'])}"
        proven = status == Status.OPTIMAL
        mip_obj = float(res.objective) + objective_shift if res.x is not None else math.nan
        return NetworkMIPResult(status=status, message=message, x=x, objective=objective, bound=bound, gap=gap,
                                nit=int(res.nit), runtime=time.perf_counter() - st.t0, method="mip",
                                backend=res.backend, params=params, proven_optimal=proven, sense=st.sense,
                                mip_objective=mip_obj,
                                n_binaries=n_bin, node_count=int(getattr(res, "node_count", 0)),
                                solver_bound=solver_bound, certificate_nodes=cert.nodes)

    def _solve_affine(self, c0: np.ndarray, layer_bounds: list, st: _Settings) -> NetworkMIPResult:
        """Every neuron is stable over the set at this state, so the network is affine there:
        ``f(a) = g @ a + const`` with ``g`` from the stable pattern. One MIP of the set alone decides,
        without the network's columns or the heuristics (a network trained with SEQUOIA's
        ReLU-stability penalty is usually in this case)."""
        sign, params = st.sign, st.params
        g = self._gradient_through([L >= 0 for L, _ in layer_bounds])
        model = self._set_lp()
        model.set_objective(np.concatenate([g, np.zeros(self._fs.n_aux)]), sense=st.sense)
        hopts = {**_HIGHS_TOLERANCES, **st.options}
        res = model.solve(time_limit=st.remaining(), mip_rel_gap=st.rel_gap, mip_abs_gap=st.abs_gap,
                          threads=st.threads, seed=st.seed, options=hopts)
        params["n_binaries"] = 0
        params["affine"] = True
        x, objective = None, math.nan
        const = self._action_value(np.zeros(self._n), c0)
        if res.x is not None:
            x = np.round(res.x[: self._n]).astype(np.int64)
            objective = self._action_value(x, c0)
        solver_bound = float(res.bound) + const if res.bound is not None and math.isfinite(res.bound) else math.nan
        # the certificate bounds sign * (g @ a + const); the affine form is exact only up to float rounding:
        # widen by a margin like the per-neuron bounds
        margin = 1e-9 * (1.0 + abs(const) + float(np.abs(g).sum()))
        lp = self._set_relaxation()
        lp.set_objective(np.concatenate([sign * g, np.zeros(self._fs.n_aux)]), offset=sign * const, sense="max")
        cert, cert_bound = self._certify(lp, c0, x, st, margin=margin)
        return self._certified_result(res, cert, cert_bound, x, objective, c0, st, n_bin=0,
                                      solver_bound=solver_bound, affine=True, objective_shift=const)

    def _set_relaxation(self) -> LinearModel:
        """The LP relaxation of the feasible set alone (built once; objectives change per use)."""
        if self._set_relaxed is None:
            self._set_relaxed = self._fs.to_linear_model(relax=True)
        return self._set_relaxed

    def _check_scale(self, c0: np.ndarray, where: str) -> None:
        """Refuse a network whose values at this state overflow float64 (interval arithmetic over the
        set's action range): an inf or NaN objective must never come back with a status."""
        with np.errstate(over="ignore", invalid="ignore"):
            lo, hi = c0 + self._amin, c0 + self._amax
            for W, b in self._layers[1:]:
                lo, hi = np.maximum(lo, 0.0), np.maximum(hi, 0.0)
                Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
                lo, hi = Wp @ lo + Wn @ hi + b, Wp @ hi + Wn @ lo + b
            ok = bool(np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(np.isfinite(c0)))
            # products inside the MIP's rows and the safe bounds need headroom beyond the values
            ok = ok and float(np.max(np.abs(np.concatenate([lo, hi])))) < 1e150
        if not ok:
            raise InvalidInputError(f"{where}: the network's values overflow float64 at this state (weights or "
                                    "state too large); rescale the network or the state")

    # ------------------------------------------------------------------ certificates
    def _leaf(self, c0: np.ndarray, sign: float):
        """Scores a complete action for :func:`solvers.certificate.certify_max`: its signed forward
        value when the set contains it, else None."""
        fs = self._fs

        def leaf(values: np.ndarray):
            a = values[: self._n].astype(np.int64)
            if not fs.contains(a):
                return None
            return sign * self._action_value(a, c0), a

        return leaf

    def _bab_search(self) -> CardinalityBaB:
        """The branch-and-bound over the action bits of a cardinality set (built once)."""
        if self._bab is None:
            lo, hi = self._card                     # type: ignore[misc]
            if self._H:
                self._bab = CardinalityBaB(self._Wa, self._layers[1:], lo, hi)
            else:                     # a linear network: z = relu(z) - relu(-z)
                self._bab = CardinalityBaB(np.vstack([self._Wa, -self._Wa]), [(np.array([[1.0, -1.0]]), np.zeros(1))],
                                           lo, hi)
        return self._bab

    def _certificate_actions(self) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """Every feasible action and its first-layer products, when the set has no auxiliary variables
        and at most ``DEFAULT_ENUMERATE_LIMIT`` actions (exact depth-first enumeration); else None."""
        if self._cert_actions is None:
            X = None
            if self._fs.n_aux == 0 and self._fs.count(limit=DEFAULT_ENUMERATE_LIMIT) is not None:
                X = self._fs.enumerate(limit=DEFAULT_ENUMERATE_LIMIT)
            self._cert_actions = (X, None if X is None else X.astype(np.float64) @ self._Wa.T)
        X, Y = self._cert_actions
        return None if X is None else (X, Y)

    def _certify(self, lp: LinearModel, c0: np.ndarray, x: Optional[np.ndarray], st: _Settings, margin: float = 0.0):
        """Re-prove the solver's answer (its own bound is not trusted): by the exact action
        branch-and-bound on cardinality sets, by enumeration when the set is small and has no auxiliary
        variables, else by a branch-and-bound over the actions with safe LP bounds."""
        sign, deadline, abs_gap, node_limit = st.sign, st.deadline, st.abs_gap, st.certificate_node_limit
        value = -INF if x is None else sign * self._action_value(x, c0)
        if self._card is not None:
            c0b = c0 if self._H else np.concatenate([c0, -c0])
            out = self._bab_search().run(c0b, sign, start=x, abs_gap=max(abs_gap - margin, 0.0), deadline=deadline,
                                         node_limit=node_limit, improve=lambda a: self._local_search(a, c0, sign))
            bx = out.x if out.x is not None else x
            bv = -INF if bx is None else sign * self._action_value(bx, c0)
            bound = bv if out.finished else max(bv, out.bound)
            reason = "" if out.finished else f"action branch-and-bound stopped after {out.nodes} nodes"
            bab = Certificate(x=bx, value=bv, bound=bound, closed=bool(out.finished), nodes=int(out.nodes),
                              reason=reason, method="action branch-and-bound")
            if out.finished or self._certificate_actions() is None:
                return bab, bound + (0.0 if out.finished else margin)
            x, value = bx, bv                    # a small set: enumeration finishes the proof
        actions = self._certificate_actions()
        if actions is not None:
            X, Y = actions
            vals = sign * self._forward_from_first(Y, c0)
            i = int(np.argmax(vals))
            best = float(vals[i])
            if x is not None and value >= best:
                return Certificate(x=x, value=value, bound=best, closed=True, nodes=0,
                                   method=f"enumeration of {len(X)} actions"), best
            return Certificate(x=X[i].astype(np.int64).copy(), value=best, bound=best, closed=True, nodes=0,
                               method=f"enumeration of {len(X)} actions"), best
        cert = certify_max(lp, np.arange(self._n), self._leaf(c0, sign), incumbent=x, incumbent_value=value,
                           abs_gap=max(abs_gap - margin, 0.0), deadline=deadline, node_limit=node_limit)
        return cert, cert.bound + margin

    def _network_lp(self, c0: np.ndarray, bounds: list, sign: float, state: np.ndarray) -> LinearModel:
        """The MIP's LP relaxation at this state, maximising ``sign * network``."""
        if self._cert_lp is None or self._cert_coefs is None:
            self._cert_lp, self._cert_coefs = self._relaxed_copy()
        lp = self._cert_lp
        self._apply_state(lp, self._cert_coefs, c0, bounds)
        if self._H == 0:
            W, b = self._layers[0]
            offset = float(W[0, self._n:] @ state + b[0])
        else:
            offset = float(self._layers[-1][1][0])
        lp.set_objective(sign * self._c, offset=sign * offset, sense="max")
        return lp

    # ------------------------------------------------------------------ export
    def to_linear_model(self, state: Any, *, sense: str = "max"):
        """The :class:`solvers.LinearModel` set up for ``state`` (the shared model, not a copy).

        Columns are ``[a, aux, h_1, d_1, ..., h_H, d_H]``; the objective is the network output.
        """
        where = "NetworkMIP.to_linear_model()"
        s = self._check_state(state, where)
        check_choice(sense, "sense", where, ("max", "min"))
        self._prepare(s, self._Ws @ s + self._b0, sense)
        return self._mip_model()

    def to_pyomo(self, state: Any, *, sense: str = "max"):
        """The MIP for ``state`` as a Pyomo ``ConcreteModel`` (variables ``x[j]``, columns as in
        :meth:`to_linear_model`; the first ``n_actions`` are the actions).

        Examples
        --------
        >>> net = [(np.ones((2, 3)), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))]
        >>> m = NetworkMIP(net, FeasibleSet.budget(2, 1), method="mip").to_pyomo([-0.5])
        >>> len(m.x)
        6
        """
        return self.to_linear_model(state, sense=sense).to_pyomo()

    def write_mps(self, path: "str | os.PathLike[str]", state: Any, *, sense: str = "max") -> None:
        """Write the MIP for ``state`` as an MPS file (atomically)."""
        self.to_linear_model(state, sense=sense).write_mps(path)
