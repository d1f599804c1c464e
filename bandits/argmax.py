"""SEQUOIA's maximisation of a ReLU Q-network over a combinatorial feasible set.

:class:`FeasibleArgmax` answers ``argmax_{a in A} Q(a, s)`` for a batch of states, where ``Q`` is a
``torch.nn.Sequential`` of ``Linear``/``ReLU`` layers scoring ``concat(action, features(s))``
(:class:`StateEncoding`) and ``A`` the feasible set of a :class:`~bandits.CoRMAB`:

- ``"enumerate"``: one batched forward pass over every feasible action; the first layer is split
  as ``W_a a + W_s s`` and ``W_a A`` is cached per network version, so each state costs one small
  matrix product -- exact and fastest when the set is small;
- ``"mip"``: :class:`solvers.NetworkMIP`, the exact big-M embedding of the network over the
  :class:`solvers.FeasibleSet` (one built model cached per network version; a solve that returns
  no feasible action falls back to greedy construction);
- ``"greedy"``: greedy construction (:func:`bandits.policies.greedy_construct`) -- not exact;
- ``"auto"``: enumeration when the set has at most ``enumerate_limit`` actions, else the MIP.

It keeps the solve counters every caller reports (:attr:`FeasibleArgmax.stats`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from bandits.policy_base import greedy_construct
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError
from engine.status import Status
from solvers.network_mip import NetworkMIP

__all__ = ["StateEncoding", "FeasibleArgmax", "network_weights", "MODES"]

#: The ``action_selection`` values: how the argmax is computed.
MODES = ("auto", "enumerate", "mip", "greedy")

#: The counters of :attr:`FeasibleArgmax.stats` (saved in SEQUOIA's checkpoints).
STAT_KEYS = ("solves", "solve_time", "proven_optimal", "fallbacks", "decisions", "target_solves", "memo_hits",
             "greedy_solves")


@dataclass(frozen=True)
class StateEncoding:
    """The state part of the network input: one-hot per arm (``J * S`` features) or each arm's state
    scaled to [0, 1] (``J`` features)."""

    n_arms: int
    n_states: int
    kind: str = "onehot"
    device: Any = "cpu"

    @property
    def n_features(self) -> int:
        return self.n_arms * self.n_states if self.kind == "onehot" else self.n_arms

    def features(self, states: np.ndarray) -> np.ndarray:
        """Features of each row of ``states``, float64 ``(B, n_features)``."""
        S = self.n_states
        s = np.asarray(states, dtype=np.int64)
        if self.kind == "onehot":
            out = np.zeros((s.shape[0], s.shape[1] * S))
            out[np.arange(s.shape[0])[:, None], np.arange(s.shape[1])[None, :] * S + s] = 1.0
            return out
        return s.astype(np.float64) / max(S - 1, 1)

    def inputs(self, states: np.ndarray, actions: np.ndarray) -> torch.Tensor:
        """The network input ``concat(action, features(state))`` per row, float32 on ``device``."""
        x = np.concatenate([np.asarray(actions, dtype=np.float64), self.features(states)], axis=1)
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)


def network_weights(net: torch.nn.Sequential) -> list:
    """``[(W, b), ...]`` of the Linear layers of ``net`` as float64 numpy arrays (NetworkMIP's input)."""
    return [(m.weight.detach().cpu().numpy().astype(np.float64), m.bias.detach().cpu().numpy().astype(np.float64))
            for m in net if isinstance(m, torch.nn.Linear)]


class FeasibleArgmax:
    """``argmax_a net(a, s)`` over the feasible set of ``problem``, with its caches and counters.

    Parameters
    ----------
    problem : CoRMAB
    encoding : StateEncoding
    mode : {"auto", "enumerate", "mip", "greedy"}
    enumerate_limit : int
        Largest feasible set enumerated under ``"auto"``.
    mip_time_limit : float, optional
        Per-solve time limit of the network MIP.
    seed : int
        Seed of the MIP solves (HiGHS ``random_seed`` and the heuristics) and of the random feasible
        action of a greedy construction that fails (generator ``(seed, fallbacks so far)``, so a
        resumed run draws what an uninterrupted one does).
    where : str
        Caller named in error messages.

    Attributes
    ----------
    mode : str
        The resolved mode (``"auto"`` becomes ``"enumerate"`` or ``"mip"``).
    actions : numpy.ndarray or None
        The enumerated feasible actions (``mode == "enumerate"``).
    stats : dict
        ``solves``, ``solve_time``, ``proven_optimal``, ``fallbacks``, ``greedy_solves``, and the
        caller's ``decisions``, ``target_solves``, ``memo_hits``.
    """

    def __init__(self, problem: CoRMAB, encoding: StateEncoding, *, mode: str = "auto",
                 enumerate_limit: int = 20_000, mip_time_limit: Optional[float] = None, seed: int = 0,
                 where: str = "FeasibleArgmax()") -> None:
        self.problem = problem
        self.encoding = encoding
        self.mip_time_limit = mip_time_limit
        self.seed = int(seed)
        self.stats: dict[str, float] = {k: (0.0 if k == "solve_time" else 0) for k in STAT_KEYS}
        self.actions: Optional[np.ndarray] = None
        self.mode = mode
        if mode in ("auto", "enumerate"):
            self.actions = problem.feasible_actions(enumerate_limit if mode == "auto" else 10_000_000)
            if self.actions is None and mode == "enumerate":
                raise InvalidInputError(f"{where}: action_selection='enumerate' but the feasible set is too large")
            self.mode = "enumerate" if self.actions is not None else "mip"
        # one cached item per network tag ("online", "target"): W_a A of the enumeration, the built MIP
        self._enum_cache: dict[tuple, torch.Tensor] = {}
        self._mip_cache: dict[tuple, NetworkMIP] = {}

    def maximize(self, net: torch.nn.Sequential, states: np.ndarray, key: tuple, *, greedy: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Greedy actions ``(B, n)`` and values ``(B,)`` of ``net`` at each row of ``states``.

        ``key = (tag, version)`` names the network's weights: cached work is reused while the key is
        unchanged and dropped when the tag's version moves on. ``greedy=True`` uses greedy
        construction whatever the mode.
        """
        t0 = time.perf_counter()
        mode = "greedy" if greedy else self.mode
        if mode == "enumerate":
            acts, vals = self._enumerate(net, states, key)
            self.stats["solves"] += len(states)
            self.stats["proven_optimal"] += len(states)
            self.stats["solve_time"] += time.perf_counter() - t0
            return acts, vals
        acts = np.empty((len(states), self.problem.n_actions), dtype=np.int64)
        vals = np.empty(len(states))
        for i, s in enumerate(states):
            if mode == "mip":
                acts[i], vals[i] = self._mip(net, s, key)
            else:
                acts[i], vals[i] = self._greedy(net, s)
                self.stats["solves"] += 1
                self.stats["greedy_solves"] += 1
        if mode == "greedy":  # a MIP solve counts its own (solver) time
            self.stats["solve_time"] += time.perf_counter() - t0
        return acts, vals

    def _enumerate(self, net: torch.nn.Sequential, states: np.ndarray, key: tuple) -> tuple[np.ndarray, np.ndarray]:
        assert self.actions is not None
        lin = [m for m in net if isinstance(m, torch.nn.Linear)]
        n = self.problem.n_actions
        with torch.no_grad():
            if key not in self._enum_cache:
                self._enum_cache = {k: v for k, v in self._enum_cache.items() if k[0] != key[0]}
                A = torch.as_tensor(np.array(self.actions), dtype=torch.float32, device=self.encoding.device)
                self._enum_cache[key] = A @ lin[0].weight[:, :n].T  # [K, h]
            HA = self._enum_cache[key]
            K = HA.shape[0]
            S = torch.as_tensor(self.encoding.features(states), dtype=torch.float32, device=self.encoding.device)
            HS = S @ lin[0].weight[:, n:].T + lin[0].bias  # [b, h]
            best_v = np.empty(len(states))
            best_i = np.empty(len(states), dtype=np.int64)
            chunk = max(1, (1 << 20) // max(K, 1))  # bounds the [chunk, K, h] activations
            for lo in range(0, len(states), chunk):
                h = torch.relu(HA[None, :, :] + HS[lo:lo + chunk, None, :])
                for layer in lin[1:-1]:
                    h = torch.relu(h @ layer.weight.T + layer.bias)
                q = (h @ lin[-1].weight.T + lin[-1].bias)[..., 0]  # [b, K]
                v, i = q.max(dim=1)
                best_v[lo:lo + chunk] = v.cpu().numpy()
                best_i[lo:lo + chunk] = i.cpu().numpy()
        return self.actions[best_i], best_v

    def _mip(self, net: torch.nn.Sequential, state: np.ndarray, key: tuple) -> tuple[np.ndarray, float]:
        if key not in self._mip_cache:
            self._mip_cache = {k: v for k, v in self._mip_cache.items() if k[0] != key[0]}
            self._mip_cache[key] = NetworkMIP(network_weights(net), self.problem.feasible_set,
                                              state_dim=self.encoding.n_features, method="auto", enumerate_limit=0)
        kwargs: dict[str, Any] = {"seed": self.seed}
        if self.mip_time_limit is not None:
            kwargs["time_limit"] = self.mip_time_limit
        res = self._mip_cache[key].maximize(self.encoding.features(state[None])[0], **kwargs)
        self.stats["solves"] += 1
        self.stats["solve_time"] += float(res.runtime)
        ok = res.x is not None and res.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT)
        self.stats["proven_optimal"] += int(res.status == Status.OPTIMAL)
        a = np.round(np.asarray(res.x)[: self.problem.n_actions]).astype(np.int64) if ok else None
        if a is None or not self.problem.contains(a):
            self.stats["fallbacks"] += 1
            return self._greedy(net, state)
        return a, float(res.objective)

    def _greedy(self, net: torch.nn.Sequential, state: np.ndarray) -> tuple[np.ndarray, float]:
        def score(A: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return net(self.encoding.inputs(np.repeat(state[None], len(A), axis=0), A))[:, 0].cpu().numpy()

        a, ok = greedy_construct(self.problem, state, score)
        if not ok:
            a = self.problem.sample_action(np.random.default_rng([self.seed, int(self.stats["fallbacks"])]))
            self.stats["fallbacks"] += 1
        return a, float(score(a[None])[0])
