"""SEQUOIA: deep Q-learning with combinatorial actions chosen by mixed-integer programming.

One readable file in the spirit of CleanRL. The Q-network scores ``concat(action, state)``
(the state one-hot per arm by default, or scaled to [0, 1]); every greedy action and every bootstrap target
``max_{a'} Q_target(s', a')`` is an exact maximisation over the feasible set:

- ``"enumerate"``: a batched forward pass over every feasible action (the first layer is split
  as ``W_a a + W_s s`` so the action part is computed once per network version) -- exact and
  fastest when the set is small;
- ``"mip"``: :class:`solvers.NetworkMIP` (the exact big-M embedding of the ReLU network over the
  :class:`solvers.FeasibleSet`);
- ``"greedy"``: greedy construction (the *iterative DQN* baseline, not exact);
- ``"auto"``: enumeration when the set has at most ``enumerate_limit`` actions, else the MIP.

Training (Algorithm 1 of the paper, with its variance reduction): warm start the network on
the one-step expected reward ``R(s, a)`` of random states and feasible actions; then per step an
epsilon-greedy action (exploration with the domain's random feasible actions), the transition
sampled by the simulator, and a DQN update on a replay minibatch with the **expected-reward
target** ``y = R(s, a) + gamma * max_{a'} Q_target(s', a')`` (optionally an ``n_step`` return of
expected rewards, or double-Q). Q is learnt in units of ``reward_scale``. The target network is
copied every ``target_update`` gradient steps; between copies the maxima are memoised per next
state. Episodes are ``horizon`` steps from a uniformly random state; the last transition of an
episode bootstraps like any other (a time limit, not a terminal state: the evaluation averages
over the first ``H`` steps and a time-to-go-aware reference policy gains < 0.3% over a
stationary one on the paper's domains, so the state carries no time).

Reproducibility: one seed drives the network initialisation, exploration, minibatches and the
simulator; :meth:`Sequoia.save` stores weights, optimiser, replay buffer, memo and every RNG
state, so training ``n`` episodes, saving, loading and training ``m`` more gives the same
network as training ``n + m`` episodes in one go (single-threaded, deterministic solves).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional, TypedDict

import numpy as np

from bandits.policies import Policy, greedy_construct
from bandits.problem import CoRMAB, action_key
from engine.errors import InvalidInputError
from engine.events import Iteration, Progress, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_choice, check_int, check_real, check_time_limit

__all__ = ["Sequoia", "TrainingResult"]

#: Checkpoint kind and state layout (:mod:`engine.checkpoint`); ``bandits.Sequoia/2`` was the earlier,
#: unchecksummed plain-torch format, which is no longer read.
_KIND = "bandits.Sequoia"
_VERSION = 3
_LEGACY = ("bandits.Sequoia/2",)
_STATE_KEYS = ("config", "spec", "problem", "q", "q_target", "optimizer", "buffer", "memo", "rng", "counters",
               "history", "stats")


class _SequoiaConfig(TypedDict):
    """The validated constructor options of :class:`Sequoia` (saved in checkpoints and ``params``)."""

    seed: int
    device: str
    hidden: list[int]
    gamma: float
    lr: float
    batch_size: int
    buffer_size: int
    horizon: int
    epsilon_start: float
    epsilon_end: float
    epsilon_decay_episodes: int
    target_update: int
    train_frequency: int
    learning_starts: int
    warm_start_steps: int
    action_selection: str
    train_selection: str
    enumerate_limit: int
    threads: Optional[int]
    mip_time_limit: Optional[float]
    state_encoding: str
    n_step: int
    gradient_steps: int
    reward_scale: Optional[float]
    warm_start_samples: int
    double_q: bool
    train_enumerate_limit: int
    stability_weight: float


@dataclass(frozen=True, kw_only=True)
class TrainingResult(SolveResult):
    """Result of :meth:`Sequoia.train`.

    ``objective`` is the mean per-step expected reward of the last (up to) 10 training episodes;
    ``history`` holds that mean for every episode so far; ``solver_stats`` counts the argmax
    solves (``solves``, ``solve_time``, ``proven_optimal``, ``fallbacks``, ``decisions``, ``steps``),
    ``episodes`` the episodes trained so far in total.
    """

    history: Any = None
    solver_stats: Any = field(default_factory=dict)
    episodes: int = 0


@contextmanager
def _torch_threads(n: Optional[int]):
    """Run with ``n`` torch intra-op threads, restoring the previous setting afterwards.

    Tiny Q-networks are much faster single-threaded, above all on a shared machine where the
    OpenMP workers of a multi-threaded torch spin against other processes.
    """
    import torch

    if n is None:
        yield
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def _resolve_device(device: str, where: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"{where}: device='cuda' requested but CUDA is not available")
    return device


class Sequoia:
    """A SEQUOIA agent for a :class:`~bandits.CoRMAB`.

    Parameters
    ----------
    problem : CoRMAB
    seed : int, Generator or None
    device : {"auto", "cpu", "cuda"}
    hidden : tuple of int
        Hidden ReLU layer widths of the Q-network (default one layer of 128: as expressive as
        two layers of 32 on these problems and 8x cheaper per enumerated action).
    gamma : float
        Discount of the bootstrap target.
    lr : float
        Adam learning rate.
    batch_size, buffer_size : int
        Replay minibatch and buffer sizes.
    horizon : int
        Steps per training episode.
    epsilon_start, epsilon_end : float
        Exploration rate, decayed linearly over ``epsilon_decay_episodes`` episodes.
    target_update : int
        Gradient steps between target-network copies.
    train_frequency : int
        Environment steps per gradient step.
    learning_starts : int
        Transitions in the buffer before learning starts.
    warm_start_steps : int
        Adam steps (minibatches of 256) fitting ``Q(s, a) ~ R(s, a)`` before training (0 disables
        the warm start).
    warm_start_samples : int
        Random (state, feasible action) pairs of the warm start. A close fit of the one-step reward
        matters: the greedy policy starts as the myopic one, and the long-term corrections
        deep Q-learning adds are small next to the fitting error of a poor warm start (256
        samples and 300 steps gave +9% over myopic on the path domain, 4096 and 1000 +18%).
    action_selection : {"auto", "enumerate", "mip", "greedy"}
    enumerate_limit : int
        Largest feasible set enumerated under ``"auto"``.
    mip_time_limit : float, optional
        Per-solve time limit of the network MIP.
    train_selection : {"same", "greedy"}
        ``"greedy"`` uses greedy construction for the greedy actions and bootstrap targets *during
        training* only (decisions after training still use ``action_selection``): a cheaper,
        inexact variant for sets too large to enumerate when per-sample MIPs are too slow.
    train_enumerate_limit : int
        With ``train_selection="greedy"``, sets enumerated for decisions but larger than this are
        maximised greedily during training.
    state_encoding : {"onehot", "scaled"}
        The state part of the network input: one-hot per arm (``J * S`` inputs, default) or each
        arm's state scaled to [0, 1] (``J`` inputs).
    n_step : int
        Steps of the return in each target ``sum_k gamma^k R(s_k, a_k) + gamma^n max Q_target``
        (expected rewards; episodes end with shorter returns bootstrapped from the last state).
    gradient_steps : int
        Gradient steps per training update.
    reward_scale : float or None
        Q is learnt in units of this (argmax unchanged); None: the largest possible step reward
        ``sum_j max_s |r_j(s)|``.
    double_q : bool
        Double DQN targets (the online network picks ``a'``, the target network values it; no
        memo, so one maximisation per sample).
    stability_weight : float
        Weight of the ReLU-stability penalty (Xiao et al., ICLR 2019) added to every training loss
        (default 0.1; 0 disables it): ``-mean tanh(1 + L * U)`` over the hidden neurons, with
        ``[L, U]`` each pre-activation's range over the replayed states and every action with at
        most ``K`` pulls (``K`` the set's largest cardinality, from its LP relaxation; deeper layers
        by interval arithmetic). It makes neurons *stable* (always on or always off over the
        feasible set), and each unstable neuron is a binary of the network MIP: at J = 100 it
        decides whether SEQUOIA's argmax is proven optimal within a second or not at all. It also
        regularises: at J = 20 (enumerated decisions) the gain over myopic rose on path and capacity
        instances and did not change on multiple interventions (README).
    threads : int or None
        torch intra-op threads while the agent trains or acts (default 1, restored afterwards;
        None leaves torch's setting alone).

    Examples
    --------
    >>> import bandits
    >>> problem = bandits.make_domain("budget", n_arms=4, budget=1, seed=0)
    >>> agent = bandits.Sequoia(problem, seed=0, warm_start_steps=20)
    >>> res = agent.train(episodes=2)
    >>> res.episodes, int(agent.act([0, 1, 2, 3]).sum()) <= 1
    (2, True)
    """

    def __init__(self, problem: CoRMAB, *, seed: Any = 0, device: str = "auto", hidden: Any = (128,),
                 gamma: float = 0.9, lr: float = 1e-3, batch_size: int = 32, buffer_size: int = 5000,
                 horizon: int = 20, epsilon_start: float = 0.3, epsilon_end: float = 0.05,
                 epsilon_decay_episodes: int = 50, target_update: int = 50, train_frequency: int = 1,
                 learning_starts: int = 64, warm_start_steps: int = 1000, action_selection: str = "auto",
                 enumerate_limit: int = 20_000, mip_time_limit: Optional[float] = None,
                 threads: Optional[int] = 1, train_selection: str = "same", state_encoding: str = "onehot",
                 n_step: int = 1, gradient_steps: int = 1, reward_scale: Optional[float] = None,
                 warm_start_samples: int = 4096, double_q: bool = False,
                 train_enumerate_limit: int = 20_000, stability_weight: float = 0.1) -> None:
        where = "Sequoia()"
        if not isinstance(problem, CoRMAB):
            raise InvalidInputError(f"{where}: problem must be a bandits.CoRMAB, got {type(problem).__name__}")
        check_choice(device, "device", where, ("auto", "cpu", "cuda"))
        check_choice(action_selection, "action_selection", where, ("auto", "enumerate", "mip", "greedy"))
        check_choice(train_selection, "train_selection", where, ("same", "greedy"))
        check_choice(state_encoding, "state_encoding", where, ("scaled", "onehot"))
        try:
            hid = tuple(int(h) for h in hidden)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"{where}: hidden must be a sequence of positive ints, got {hidden!r}") from err
        if not hid or min(hid) < 1:
            raise InvalidInputError(f"{where}: hidden must be a non-empty sequence of positive ints, got {hidden!r}")
        seed_obj = resolve_seed(seed, where=where)
        self.problem = problem
        self.config: _SequoiaConfig = {
            "seed": seed_obj.root, "device": device, "hidden": list(hid),
            "gamma": check_real(gamma, "gamma", where, lower=0.0, upper=1.0),
            "lr": check_real(lr, "lr", where, lower=0.0, lower_strict=True),
            "batch_size": check_int(batch_size, "batch_size", where, lower=1),
            "buffer_size": check_int(buffer_size, "buffer_size", where, lower=1),
            "horizon": check_int(horizon, "horizon", where, lower=1),
            "epsilon_start": check_real(epsilon_start, "epsilon_start", where, lower=0.0, upper=1.0),
            "epsilon_end": check_real(epsilon_end, "epsilon_end", where, lower=0.0, upper=1.0),
            "epsilon_decay_episodes": check_int(epsilon_decay_episodes, "epsilon_decay_episodes", where, lower=1),
            "target_update": check_int(target_update, "target_update", where, lower=1),
            "train_frequency": check_int(train_frequency, "train_frequency", where, lower=1),
            "learning_starts": check_int(learning_starts, "learning_starts", where, lower=1),
            "warm_start_steps": check_int(warm_start_steps, "warm_start_steps", where, lower=0),
            "action_selection": action_selection,
            "train_selection": train_selection,
            "enumerate_limit": check_int(enumerate_limit, "enumerate_limit", where, lower=0),
            "threads": None if threads is None else check_int(threads, "threads", where, lower=1),
            "mip_time_limit": None if mip_time_limit is None else check_real(mip_time_limit, "mip_time_limit", where,
                                                                              lower=0.0, lower_strict=True),
            "state_encoding": state_encoding,
            "n_step": check_int(n_step, "n_step", where, lower=1),
            "gradient_steps": check_int(gradient_steps, "gradient_steps", where, lower=1),
            "warm_start_samples": check_int(warm_start_samples, "warm_start_samples", where, lower=1),
            "double_q": bool(double_q),
            "train_enumerate_limit": check_int(train_enumerate_limit, "train_enumerate_limit", where, lower=0),
            "reward_scale": None if reward_scale is None else check_real(reward_scale, "reward_scale", where,
                                                                          lower=0.0, lower_strict=True),
            "stability_weight": check_real(stability_weight, "stability_weight", where, lower=0.0),
        }
        self.device = _resolve_device(device, where)
        self._seed = seed_obj
        self._rng_env = seed_obj.generator("sequoia:env")
        self._rng_agent = seed_obj.generator("sequoia:agent")
        n, J = problem.n_actions, problem.n_arms
        self.n_features = J * problem.n_states if state_encoding == "onehot" else J
        self.n_in = n + self.n_features
        self._build_networks(seed_obj.generator("sequoia:init"))
        # replay buffer (numpy, CPU)
        cap = self.config["buffer_size"]
        self._buf_s = np.zeros((cap, J), dtype=np.int8)
        self._buf_a = np.zeros((cap, n), dtype=np.int8)
        self._buf_r = np.zeros(cap, dtype=np.float64)
        self._buf_s2 = np.zeros((cap, J), dtype=np.int8)
        self._buf_g = np.zeros(cap, dtype=np.float64)  # discount of the bootstrap term (gamma ** steps)
        self._buf_n = 0
        self._buf_pos = 0
        self.episodes_done = 0
        self.env_steps = 0
        self.grad_steps = 0
        self.warm_started = False
        self.history: list[float] = []
        self.stats: dict[str, float] = {"solves": 0, "solve_time": 0.0, "proven_optimal": 0, "fallbacks": 0,
                                        "decisions": 0, "target_solves": 0, "memo_hits": 0, "greedy_solves": 0}
        self._target_memo: dict[bytes, float] = {}
        self._act_memo: dict[bytes, np.ndarray] = {}
        self._version = 0  # online-network version (bumped per gradient step)
        self._mode = self._choose_mode()
        self.stability_weight = self.config["stability_weight"]
        self._stability_k = self._max_pulls() if self.stability_weight > 0 else n
        self._enum_cache: dict[tuple, Any] = {}
        self._mip_cache: dict[tuple, Any] = {}
        rs = self.config["reward_scale"]
        # Q is learnt in units of reward_scale (argmax unchanged); auto: the largest possible step reward
        self.reward_scale = float(rs) if rs is not None else max(float(np.abs(problem.arms.rewards).max(axis=1).sum()),
                                                                 1e-12)

    # ------------------------------------------------------------------ networks
    def _build_networks(self, rng: np.random.Generator) -> None:
        import torch
        from torch import nn

        sizes = [self.n_in] + list(self.config["hidden"]) + [1]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            lin = nn.Linear(sizes[i], sizes[i + 1])
            bound = 1.0 / math.sqrt(sizes[i])  # PyTorch's default range, drawn from our seeded stream
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(rng.uniform(-bound, bound, size=(sizes[i + 1], sizes[i]))))
                lin.bias.copy_(torch.from_numpy(rng.uniform(-bound, bound, size=sizes[i + 1])))
            layers.append(lin)
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.q = nn.Sequential(*layers).to(self.device)
        self.q_target = nn.Sequential(*[type(m)(m.in_features, m.out_features) if isinstance(m, nn.Linear)
                                        else nn.ReLU() for m in layers]).to(self.device)
        self.q_target.load_state_dict(self.q.state_dict())
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=self.config["lr"])

    def _max_pulls(self) -> int:
        """An upper bound on the pulls of any feasible action: the floor of the LP relaxation's maximum."""
        fs = self.problem.feasible_set
        card = fs.cardinality_range
        if card is not None:
            return int(card[1])
        res = fs.to_linear_model(np.ones(fs.n_actions), relax=True).solve()
        if res.x is None:
            return fs.n_actions
        return int(min(fs.n_actions, math.floor(float(res.objective) + 1e-6)))

    def _stability_bounds(self, states: np.ndarray) -> list:
        """Pre-activation ranges ``[(L, U), ...]`` (torch, one row per state) of the hidden layers over
        ``{a in [0, 1]^n : sum(a) <= K}``: the first layer's exactly (the top-K positive / negative
        action weights), deeper layers by interval arithmetic. Differentiable in the weights."""
        import torch

        lin = [m for m in self.q if isinstance(m, torch.nn.Linear)]
        n, K = self.problem.n_actions, self._stability_k
        c = lin[0](self._inputs(states, np.zeros((len(states), n))))
        Wa = lin[0].weight[:, :n]
        if K <= 0:
            up = dn = torch.zeros_like(c[0])
        else:
            up = torch.topk(torch.clamp(Wa, min=0.0), K, dim=1).values.sum(dim=1)
            dn = torch.topk(torch.clamp(-Wa, min=0.0), K, dim=1).values.sum(dim=1)
        out = [(c - dn, c + up)]
        for layer in lin[1:-1]:
            L, U = out[-1]
            lo, hi = torch.clamp(L, min=0.0), torch.clamp(U, min=0.0)
            Wp, Wn = torch.clamp(layer.weight, min=0.0), torch.clamp(layer.weight, max=0.0)
            out.append((lo @ Wp.T + hi @ Wn.T + layer.bias, hi @ Wp.T + lo @ Wn.T + layer.bias))
        return out

    def _stability_penalty(self, states: np.ndarray):
        """``stability_weight * sum over hidden layers of -mean tanh(1 + L U)`` at ``states`` (torch scalar)."""
        import torch

        pen = sum(-torch.tanh(1.0 + L * U).mean() for L, U in self._stability_bounds(states))
        return self.stability_weight * pen

    def _scale(self, states: np.ndarray) -> np.ndarray:
        """The network's state features: states scaled to [0, 1], or one-hot per arm (``state_encoding``)."""
        S = self.problem.n_states
        s = np.asarray(states, dtype=np.int64)
        if self.config["state_encoding"] == "onehot":
            out = np.zeros((s.shape[0], s.shape[1] * S))
            out[np.arange(s.shape[0])[:, None], np.arange(s.shape[1])[None, :] * S + s] = 1.0
            return out
        return s.astype(np.float64) / max(S - 1, 1)

    def _inputs(self, states: np.ndarray, actions: np.ndarray):
        import torch

        x = np.concatenate([np.asarray(actions, dtype=np.float64), self._scale(states)], axis=1)
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    # ------------------------------------------------------------------ argmax over the feasible set
    def _choose_mode(self) -> str:
        mode = self.config["action_selection"]
        if mode in ("auto", "enumerate"):
            acts = self.problem.feasible_actions(self.config["enumerate_limit"] if mode == "auto" else 10_000_000)
            if acts is not None:
                self._actions = acts
                return "enumerate"
            if mode == "enumerate":
                raise InvalidInputError("Sequoia(): action_selection='enumerate' but the feasible set is too large")
            return "mip"
        return mode

    def _enum_max(self, net: Any, states: np.ndarray, key: tuple) -> tuple[np.ndarray, np.ndarray]:
        """argmax/max of ``net`` over every feasible action for each state (batched forward)."""
        import torch

        lin = [m for m in net if isinstance(m, torch.nn.Linear)]
        n = self.problem.n_actions
        with torch.no_grad():
            if key not in self._enum_cache:
                self._enum_cache = {k: v for k, v in self._enum_cache.items() if k[0] != key[0]}
                A = torch.as_tensor(np.array(self._actions), dtype=torch.float32, device=self.device)
                self._enum_cache[key] = A @ lin[0].weight[:, :n].T  # [K, h]
            HA = self._enum_cache[key]
            K = HA.shape[0]
            S = torch.as_tensor(self._scale(states), dtype=torch.float32, device=self.device)
            HS = S @ lin[0].weight[:, n:].T + lin[0].bias  # [b, h]
            best_v = np.empty(len(states))
            best_i = np.empty(len(states), dtype=np.int64)
            chunk = max(1, (1 << 20) // max(K, 1))
            for lo in range(0, len(states), chunk):
                h = torch.relu(HA[None, :, :] + HS[lo:lo + chunk, None, :])
                for layer in lin[1:-1]:
                    h = torch.relu(h @ layer.weight.T + layer.bias)
                q = (h @ lin[-1].weight.T + lin[-1].bias)[..., 0]  # [b, K]
                v, i = q.max(dim=1)
                best_v[lo:lo + chunk] = v.cpu().numpy()
                best_i[lo:lo + chunk] = i.cpu().numpy()
        return self._actions[best_i], best_v

    def _mip_max(self, net: Any, state: np.ndarray, key: tuple) -> tuple[np.ndarray, float]:
        from solvers.network_mip import NetworkMIP  # issue 3

        if key not in self._mip_cache:
            self._mip_cache = {k: v for k, v in self._mip_cache.items() if k[0] != key[0]}
            self._mip_cache[key] = NetworkMIP(self._weights(net), self.problem.feasible_set,
                                              state_dim=self.n_features, method="auto", enumerate_limit=0)
        mip = self._mip_cache[key]
        # the agent's seed drives the solver's (HiGHS random_seed and the heuristics' generator)
        kwargs: dict[str, Any] = {"seed": self._seed.int_seed("network_mip")}
        if self.config["mip_time_limit"] is not None:
            kwargs["time_limit"] = self.config["mip_time_limit"]
        res = mip.maximize(self._scale(state[None])[0], **kwargs)
        self.stats["solves"] += 1
        self.stats["solve_time"] += float(res.runtime)
        ok = res.x is not None and res.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT)
        self.stats["proven_optimal"] += int(res.status == Status.OPTIMAL)
        a = np.round(np.asarray(res.x)[: self.problem.n_actions]).astype(np.int64) if ok else None
        if a is None or not self.problem.contains(a):
            self.stats["fallbacks"] += 1
            return self._greedy_max(net, state)
        return a, float(res.objective)

    def _greedy_max(self, net: Any, state: np.ndarray) -> tuple[np.ndarray, float]:
        import torch

        def score(A: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return net(self._inputs(np.repeat(state[None], len(A), axis=0), A))[:, 0].cpu().numpy()

        a, ok = greedy_construct(self.problem, state, score)
        if not ok:
            self.stats["fallbacks"] += 1
            a = self.problem.sample_action(np.random.default_rng(0))
        return a, float(score(a[None])[0])

    def _greedy_in_training(self) -> bool:
        """Whether training maximises by greedy construction (``train_selection="greedy"`` on a set that
        is not enumerated, or enumerated but larger than ``train_enumerate_limit``)."""
        if self.config["train_selection"] != "greedy":
            return False
        return self._mode != "enumerate" or len(self._actions) > self.config["train_enumerate_limit"]

    def _maximize(self, net: Any, states: np.ndarray, key: tuple, *, training: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Greedy actions and values of ``net`` at each state (rows of ``states``)."""
        t0 = time.perf_counter()
        mode = self._mode
        if training and self._greedy_in_training():
            mode = "greedy"
        if mode == "enumerate":
            acts, vals = self._enum_max(net, states, key)
            self.stats["solves"] += len(states)
            self.stats["proven_optimal"] += len(states)
            self.stats["solve_time"] += time.perf_counter() - t0
            return acts, vals
        acts = np.empty((len(states), self.problem.n_actions), dtype=np.int64)
        vals = np.empty(len(states))
        for i, s in enumerate(states):
            if mode == "mip":
                acts[i], vals[i] = self._mip_max(net, s, key)
            else:
                acts[i], vals[i] = self._greedy_max(net, s)
                self.stats["solves"] += 1
                self.stats["greedy_solves"] = self.stats.get("greedy_solves", 0) + 1
        if mode == "greedy":
            self.stats["solve_time"] += time.perf_counter() - t0
        return acts, vals

    @staticmethod
    def _weights(net: Any) -> list:
        import torch

        return [(m.weight.detach().cpu().numpy().astype(np.float64), m.bias.detach().cpu().numpy().astype(np.float64))
                for m in net if isinstance(m, torch.nn.Linear)]

    # ------------------------------------------------------------------ acting
    def act(self, state: Any) -> np.ndarray:
        """The greedy action ``argmax_a Q(a, state)`` over the feasible set (memoised per state)."""
        p = self.problem
        s = np.asarray(state)
        try:
            f = np.asarray(s, dtype=float)
        except (TypeError, ValueError):
            f = None
        if (f is None or f.shape != (p.n_arms,) or not np.all(np.isfinite(f)) or not np.all(f == np.round(f))
                or f.min() < 0 or f.max() >= p.n_states):
            raise InvalidInputError(f"Sequoia.act(): state must be {p.n_arms} integers in [0, {p.n_states}), "
                                    f"got {state!r}")
        s = f.astype(np.int64)
        key = action_key(s)
        hit = self._act_memo.get(key)
        if hit is None:
            self.stats["decisions"] += 1
            with _torch_threads(self.config["threads"]):
                a, _ = self._maximize(self.q, s[None], ("online", self._version))
            hit = a[0]
            self._act_memo[key] = hit
        return hit.copy()

    def policy(self, name: str = "sequoia") -> Policy:
        """This agent as a :class:`bandits.policies.Policy` (for :func:`bandits.evaluate`)."""
        return _AgentPolicy(self, name)

    # ------------------------------------------------------------------ training
    def _epsilon(self) -> float:
        c = self.config
        frac = min(1.0, self.episodes_done / c["epsilon_decay_episodes"])
        return c["epsilon_start"] + frac * (c["epsilon_end"] - c["epsilon_start"])

    def _warm_start(self, deadline: float = math.inf) -> None:
        import torch

        steps = self.config["warm_start_steps"]
        p = self.problem
        rng = self._rng_agent
        n_samples = self.config["warm_start_samples"]
        S = p.initial_states(rng, n_samples)
        A = np.stack([p.sample_action(rng) for _ in range(n_samples)])
        R = p.expected_reward(S, A) / self.reward_scale
        x = self._inputs(S, A)
        y = torch.as_tensor(R, dtype=torch.float32, device=self.device)
        for _ in range(steps):
            if time.perf_counter() > deadline:  # train()'s time limit: the warm start ends early
                break
            idx = torch.as_tensor(rng.integers(0, n_samples, size=min(256, n_samples)), device=self.device)
            loss = torch.mean((self.q(x[idx])[:, 0] - y[idx]) ** 2)
            if self.stability_weight > 0:
                loss = loss + self._stability_penalty(S[idx.cpu().numpy()])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        with torch.no_grad():
            self.warm_start_loss = float(torch.mean((self.q(x)[:, 0] - y) ** 2).cpu())
            self.warm_start_r2 = 1.0 - self.warm_start_loss / max(float(torch.var(y).cpu()), 1e-30)
        self.q_target.load_state_dict(self.q.state_dict())
        self._version += 1
        self._target_version_bump()
        self.warm_started = True

    def _target_version_bump(self) -> None:
        self._target_memo.clear()
        self._target_id = getattr(self, "_target_id", 0) + 1

    def _learn(self) -> float:
        import torch

        c = self.config
        rng = self._rng_agent
        idx = rng.integers(0, self._buf_n, size=c["batch_size"])
        s, a, r, s2, g = self._buf_s[idx], self._buf_a[idx], self._buf_r[idx], self._buf_s2[idx], self._buf_g[idx]
        keys = [action_key(x) for x in s2]
        if c["double_q"]:  # the online network picks a', the target network values it (no memo: q changes)
            self._target_memo.clear()
        missing = [i for i, k in enumerate(keys) if k not in self._target_memo]
        self.stats["memo_hits"] += len(keys) - len(missing)
        if missing:
            uniq: dict[bytes, int] = {}
            for i in missing:
                uniq.setdefault(keys[i], i)
            rows = np.stack([s2[i] for i in uniq.values()])
            before = self.stats["solves"]
            if c["double_q"]:
                best, _ = self._maximize(self.q, rows, ("online", self._version), training=True)
                with torch.no_grad():
                    vals = self.q_target(self._inputs(rows, best))[:, 0].cpu().numpy()
            else:
                _, vals = self._maximize(self.q_target, rows, ("target", getattr(self, "_target_id", 0)),
                                         training=True)
            self.stats["target_solves"] += self.stats["solves"] - before
            for k, v in zip(uniq.keys(), vals):
                self._target_memo[k] = float(v)
        boot = np.array([self._target_memo[k] for k in keys])
        y = torch.as_tensor(r / self.reward_scale + g * boot, dtype=torch.float32, device=self.device)
        pred = self.q(self._inputs(s, a))[:, 0]
        td_loss = torch.nn.functional.mse_loss(pred, y)
        loss = td_loss + self._stability_penalty(s) if self.stability_weight > 0 else td_loss
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.q.parameters(), 10.0)
        self.optimizer.step()
        self.grad_steps += 1
        self._version += 1
        self._act_memo.clear()
        if self.grad_steps % c["target_update"] == 0:
            self.q_target.load_state_dict(self.q.state_dict())
            self._target_version_bump()
        return float(td_loss.detach().cpu())

    def _store(self, first: tuple, rest: list, s_boot: np.ndarray) -> None:
        """Push the transition starting at ``first`` whose later rewards are ``rest`` (n-step return)."""
        g = self.config["gamma"]
        s, a, r = first
        ret, disc = r, g
        for _, _, rk in rest:
            ret += disc * rk
            disc *= g
        i = self._buf_pos
        self._buf_s[i], self._buf_a[i], self._buf_r[i], self._buf_s2[i], self._buf_g[i] = s, a, ret, s_boot, disc
        self._buf_pos = (i + 1) % self.config["buffer_size"]
        self._buf_n = min(self._buf_n + 1, self.config["buffer_size"])

    def train(self, episodes: int, *, callback: Any = None, progress: Any = None, checkpoint_every: Optional[int] = None,
              checkpoint_path: Any = None, time_limit: Optional[float] = None) -> TrainingResult:
        """Train for ``episodes`` more episodes of ``horizon`` steps.

        Parameters
        ----------
        episodes : int
        callback : callable, optional
            Receives :class:`engine.events.Iteration` after each episode (``objective`` = the
            episode's mean expected reward per step, ``info`` = epsilon, loss, solver counts);
            raising ``StopIteration`` stops training (status STOPPED).
        progress : callable, optional
            Receives :class:`engine.events.Progress` after each episode (e.g. ``engine.progress.RichProgress``).
        checkpoint_every, checkpoint_path :
            Save a checkpoint (:meth:`save`) every ``checkpoint_every`` episodes.
        time_limit : float, optional
            Wall-clock seconds, checked during the warm start and before every episode: on expiry
            training ends with status TIME_LIMIT and the agent as trained so far.

        Returns
        -------
        TrainingResult
        """
        where = "Sequoia.train()"
        E = check_int(episodes, "episodes", where, lower=0)
        tl = check_time_limit(time_limit, where)
        deadline = math.inf if tl is None else time.perf_counter() + tl
        if checkpoint_every is not None:
            check_int(checkpoint_every, "checkpoint_every", where, lower=1)
            if checkpoint_path is None:
                raise InvalidInputError(f"{where}: checkpoint_every needs checkpoint_path")
        with _torch_threads(self.config["threads"]):
            return self._train(E, callback, progress, checkpoint_every, checkpoint_path, deadline)

    def _train(self, E: int, callback: Any, progress: Any, checkpoint_every: Optional[int],
               checkpoint_path: Any, deadline: float = math.inf) -> TrainingResult:
        c = self.config
        p = self.problem
        t0 = time.perf_counter()
        if not self.warm_started and c["warm_start_steps"] > 0:
            self._warm_start(deadline)
        self.warm_started = True
        status = Status.FEASIBLE          # a trained policy is a valid answer, not a proven optimum
        for ep in range(E):
            if time.perf_counter() > deadline:
                status = Status.TIME_LIMIT
                break
            s = p.initial_states(self._rng_env, 1)[0]
            total = 0.0
            loss = math.nan
            eps = self._epsilon()
            pending: list[tuple[np.ndarray, np.ndarray, float]] = []  # the last n_step (s, a, r)
            for _ in range(c["horizon"]):
                if self._rng_agent.random() < eps:
                    a = p.sample_action(self._rng_agent)
                elif self._greedy_in_training():
                    a = self._maximize(self.q, s[None], ("online", self._version), training=True)[0][0]
                else:
                    a = self.act(s)
                r = float(p.expected_reward(s[None], a[None])[0])
                s2 = p.step(s[None], a[None], self._rng_env, check=False)[0]
                pending.append((s, a, r))
                if len(pending) == c["n_step"]:
                    self._store(pending.pop(0), pending, s2)
                self.env_steps += 1
                total += r
                s = s2
                if self._buf_n >= c["learning_starts"] and self.env_steps % c["train_frequency"] == 0:
                    for _ in range(c["gradient_steps"]):
                        loss = self._learn()
            while pending:  # the episode ends: shorter returns, bootstrapped from the last state
                self._store(pending.pop(0), pending, s)
            self.episodes_done += 1
            self.history.append(total / c["horizon"])
            info = {"epsilon": eps, "loss": loss, **self.solver_stats()}
            stop = emit(callback, Iteration("Sequoia.train", nit=self.episodes_done, objective=self.history[-1],
                                            info=info))
            emit(progress, Progress("Sequoia.train", completed=ep + 1, total=E, description="SEQUOIA"))
            if checkpoint_every is not None and self.episodes_done % checkpoint_every == 0:
                self.save(checkpoint_path)
            if stop:
                status = Status.STOPPED
                break
        last = self.history[-10:]
        message = {Status.STOPPED: "stopped by callback", Status.TIME_LIMIT: "time limit reached"}.get(status, "trained")
        return TrainingResult(status=status, message=message,
                              objective=float(np.mean(last)) if last else math.nan, nit=self.episodes_done,
                              runtime=time.perf_counter() - t0, method=f"sequoia[{self._mode}]", backend="torch",
                              params={**c, "device_resolved": self.device, "reward_scale_resolved": self.reward_scale,
                                      "episodes": self.episodes_done}, history=np.array(self.history),
                              solver_stats=self.solver_stats(), episodes=self.episodes_done)

    def solver_stats(self) -> dict:
        """Argmax-solve accounting: solves, time per solve, fraction proven optimal, fallbacks."""
        st: dict[str, Any] = dict(self.stats)
        n = max(st["solves"], 1)
        st["mode"] = self._mode
        st["time_per_solve"] = st["solve_time"] / n
        st["fraction_proven_optimal"] = st["proven_optimal"] / n if st["solves"] else math.nan
        st["solves_per_step"] = st["solves"] / max(self.env_steps, 1)
        st["steps"] = self.env_steps
        return st

    # ------------------------------------------------------------------ save / load
    def state_dict(self) -> dict:
        """Everything needed to resume, as tensors and plain Python values (``weights_only``-safe)."""
        import torch

        n = self._buf_n
        memo_keys = list(self._target_memo.keys())
        J = self.problem.n_arms
        return {
            "config": dict(self.config),
            "spec": self.problem.spec,
            "problem": {"name": self.problem.name, "n_arms": self.problem.n_arms, "n_states": self.problem.n_states,
                        "n_actions": self.problem.n_actions},
            "q": self.q.state_dict(), "q_target": self.q_target.state_dict(), "optimizer": self.optimizer.state_dict(),
            "buffer": {"s": torch.from_numpy(self._buf_s.copy()), "a": torch.from_numpy(self._buf_a.copy()),
                       "r": torch.from_numpy(self._buf_r.copy()), "s2": torch.from_numpy(self._buf_s2.copy()),
                       "g": torch.from_numpy(self._buf_g.copy()),
                       "n": n, "pos": self._buf_pos},
            "memo": {"keys": torch.from_numpy(np.frombuffer(b"".join(memo_keys), dtype=np.int8).reshape(-1, J).copy()),
                     "values": torch.tensor([self._target_memo[k] for k in memo_keys], dtype=torch.float64)},
            "rng": {"env": self._rng_env.bit_generator.state, "agent": self._rng_agent.bit_generator.state},
            "counters": {"episodes_done": self.episodes_done, "env_steps": self.env_steps,
                         "grad_steps": self.grad_steps, "warm_started": self.warm_started,
                         "version": self._version, "target_id": getattr(self, "_target_id", 0)},
            "history": list(map(float, self.history)),
            "stats": {k: float(v) for k, v in self.stats.items()},
        }

    def save(self, path: Any) -> None:
        """Save a resumable checkpoint: :meth:`state_dict` in a versioned, SHA-256-checksummed
        :mod:`engine.checkpoint` file (kind ``"bandits.Sequoia"``, version 3), written atomically."""
        from engine import checkpoint

        checkpoint.write(path, self.state_dict(), kind=_KIND, version=_VERSION)

    @classmethod
    def load(cls, path: Any, problem: Optional[CoRMAB] = None, *, device: str = "auto",
             max_parameters: Optional[int] = None, max_bytes: Optional[int] = None) -> "Sequoia":
        """Load a checkpoint written by :meth:`save`; the file is treated as untrusted input.

        ``problem`` may be omitted when the checkpoint's problem came from
        :func:`bandits.make_domain` (it is rebuilt from the stored spec).

        Parameters
        ----------
        path : str or PathLike
        problem : CoRMAB, optional
        device : {"auto", "cpu", "cuda"}
        max_parameters : int, optional
            Refuse a file whose declared sizes imply a Q-network of more parameters, or a working
            array (minibatch or warm-start inputs, enumerated actions) of more elements, than this
            (default :data:`engine.checkpoint.MAX_PARAMETERS`, 10 million). Checked before
            anything is allocated.
        max_bytes : int, optional
            Refuse larger files unread (default :data:`engine.checkpoint.MAX_BYTES`, 1 GiB).

        Checked, each failure an :class:`~engine.errors.InvalidInputError` naming the file: the
        container (:func:`engine.checkpoint.read`: checksum, format, kind, version; files in the
        earlier unchecksummed ``"bandits.Sequoia/2"`` format are refused), the exact key sets, every
        option's type and range (integer options at most :data:`engine.checkpoint.MAX_OPTION`;
        ``threads`` is capped at this machine's CPU count), the problem's shape, the networks' and
        optimizer's shapes, dtypes and finiteness, the replay buffer (shapes from ``buffer_size``,
        states in range, 0/1 actions, finite rewards, discounts in [0, 1], counters within
        capacity), the target memo, the RNG states, the counters, the history and the statistics.
        """
        from engine import checkpoint

        where = "Sequoia.load()"
        check_choice(device, "device", where, ("auto", "cpu", "cuda"))
        max_parameters = check_int(checkpoint.MAX_PARAMETERS if max_parameters is None else max_parameters,
                                   "max_parameters", where, lower=1)
        max_bytes = check_int(checkpoint.MAX_BYTES if max_bytes is None else max_bytes, "max_bytes", where, lower=1)
        ck = checkpoint.read(path, kind=_KIND, versions=(_VERSION,), where=where, max_bytes=max_bytes,
                             legacy=_LEGACY)
        return cls._from_checkpoint(ck, problem, device, max_parameters)

    @classmethod
    def _from_checkpoint(cls, ck: Any, problem: Optional[CoRMAB], device: str, max_parameters: int) -> "Sequoia":
        from engine import checkpoint

        big = checkpoint.MAX_OPTION
        ck.mapping((), keys=_STATE_KEYS)
        # -- declared sizes, checked before anything is built
        ck.mapping("problem", keys=("name", "n_arms", "n_states", "n_actions"))
        name = ck.get("problem.name")
        if name is not None:
            ck.string("problem.name")
        J = ck.integer("problem.n_arms", lower=1, upper=big)
        S = ck.integer("problem.n_states", lower=1, upper=127)   # states are stored as int8
        n = ck.integer("problem.n_actions", lower=1, upper=big)
        cfg = dict(ck.mapping("config", keys=tuple(_SequoiaConfig.__annotations__)))
        enc = ck.string("config.state_encoding", ("onehot", "scaled"))
        for key in ("action_selection", "train_selection", "device"):
            ck.string(f"config.{key}")
        ck.integer("config.seed", lower=0, upper=(1 << 128) - 1)
        hidden = [ck.integer(("config", "hidden", i), lower=1, upper=big)
                  for i in range(len(ck.sequence("config.hidden")))]
        if not hidden:
            ck.fail("config.hidden must not be empty")
        for key in ("batch_size", "buffer_size", "horizon", "epsilon_decay_episodes", "target_update",
                    "train_frequency", "learning_starts", "warm_start_steps", "enumerate_limit", "n_step",
                    "gradient_steps", "warm_start_samples", "train_enumerate_limit"):
            ck.integer(f"config.{key}", lower=0, upper=big)
        for key in ("gamma", "lr", "epsilon_start", "epsilon_end", "stability_weight"):
            ck.real(f"config.{key}")
        for key in ("mip_time_limit", "reward_scale"):
            if cfg[key] is not None:
                ck.real(f"config.{key}")
        ck.boolean("config.double_q")
        cfg["threads"] = checkpoint.check_threads(cfg["threads"], "config.threads", ck.context)
        n_in = n + (J * S if enc == "onehot" else J)
        sizes = [n_in] + hidden + [1]
        checkpoint.check_limit(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])), max_parameters,
                               "a Q-network with a number of parameters", context=ck.context)
        for key in ("batch_size", "warm_start_samples"):
            checkpoint.check_limit(cfg[key] * n_in, max_parameters, f"config.{key} x {n_in} network inputs",
                                   context=ck.context)
        if cfg["action_selection"] == "auto":
            checkpoint.check_limit(cfg["enumerate_limit"] * n, max_parameters,
                                   f"config.enumerate_limit x {n} actions", context=ck.context)
        # -- replay buffer, memo, counters: shapes follow the declared sizes (the tensors are real data)
        cap = ck.integer("config.buffer_size", lower=1, upper=big)
        import torch

        ck.mapping("buffer", keys=("s", "a", "r", "s2", "g", "n", "pos"))
        ck.tensor("buffer.s", dtype=torch.int8, shape=(cap, J), lower=0, upper=S - 1)
        ck.tensor("buffer.s2", dtype=torch.int8, shape=(cap, J), lower=0, upper=S - 1)
        ck.tensor("buffer.a", dtype=torch.int8, shape=(cap, n), lower=0, upper=1)
        ck.tensor("buffer.r", dtype=torch.float64, shape=(cap,))
        ck.tensor("buffer.g", dtype=torch.float64, shape=(cap,), lower=0.0, upper=1.0)
        buf_n = ck.integer("buffer.n", lower=0, upper=cap)
        buf_pos = ck.integer("buffer.pos", lower=0, upper=cap - 1)
        if buf_n < cap and buf_pos != buf_n:
            ck.fail(f"buffer.pos ({buf_pos}) must equal buffer.n ({buf_n}) while the buffer is not full")
        ck.mapping("memo", keys=("keys", "values"))
        m = ck.tensor("memo.keys", dtype=torch.int8, lower=0, upper=S - 1)
        if m.ndim != 2 or m.shape[1] != J:
            ck.fail(f"memo.keys must have shape (*, {J}), got {tuple(m.shape)}")
        ck.tensor("memo.values", dtype=torch.float64, shape=(m.shape[0],))
        ck.mapping("counters", keys=("episodes_done", "env_steps", "grad_steps", "warm_started", "version",
                                     "target_id"))
        counters = {k: ck.integer(f"counters.{k}", lower=0, upper=1 << 62)
                    for k in ("episodes_done", "env_steps", "grad_steps", "version", "target_id")}
        warm = ck.boolean("counters.warm_started")
        history = [ck.real(("history", i)) for i in range(len(ck.sequence("history", counters["episodes_done"])))]
        ck.mapping("rng", keys=("env", "agent"))
        # -- the problem
        spec = ck.get("spec")
        if spec is not None and not isinstance(spec, dict):
            ck.fail(f"spec must be a dict or None, got {type(spec).__name__}")
        if problem is None:
            if not spec:
                ck.fail("the checkpoint's problem was not made by make_domain; pass problem=")
            ck.string("spec.name")
            if ck.get("spec.n_arms", J) != J or ck.get("spec.n_states", S) != S:
                ck.fail(f"spec {spec!r:.200} does not match the problem's {J} arms and {S} states")
            from bandits.domains import domain_from_spec

            try:
                problem = domain_from_spec(spec)
            except InvalidInputError as err:
                ck.fail(f"spec: {err}")
            except Exception as err:  # a malformed spec: never escape raw
                ck.fail(f"spec does not build a problem ({type(err).__name__}: {err})")
        if not isinstance(problem, CoRMAB):
            raise InvalidInputError(f"{ck.where}: problem must be a bandits.CoRMAB, got {type(problem).__name__}")
        if (problem.n_arms, problem.n_states, problem.n_actions) != (J, S, n):
            ck.fail(f"problem shape {(problem.n_arms, problem.n_states, problem.n_actions)} differs from the "
                    f"checkpoint's {(J, S, n)}")
        # -- the agent, then its state
        cfg["device"] = device
        try:
            agent = cls(problem, **cfg)
        except InvalidInputError as err:
            ck.fail(f"config: {err}")
        ck.load_module("q", agent.q)
        ck.load_module("q_target", agent.q_target)
        ck.load_optimizer("optimizer", agent.optimizer)
        b = ck.get("buffer")
        agent._buf_s, agent._buf_a = b["s"].numpy().copy(), b["a"].numpy().copy()
        agent._buf_r, agent._buf_s2 = b["r"].numpy().copy(), b["s2"].numpy().copy()
        agent._buf_g = b["g"].numpy().copy()
        agent._buf_n, agent._buf_pos = buf_n, buf_pos
        keys = m.numpy()
        agent._target_memo = {keys[i].tobytes(): float(v) for i, v in enumerate(ck.get("memo.values").tolist())}
        ck.load_rng("rng.env", agent._rng_env)
        ck.load_rng("rng.agent", agent._rng_agent)
        agent.episodes_done, agent.env_steps = counters["episodes_done"], counters["env_steps"]
        agent.grad_steps, agent.warm_started = counters["grad_steps"], warm
        agent._version, agent._target_id = counters["version"], counters["target_id"]
        agent.history = history
        ck.mapping("stats", keys=list(agent.stats))
        agent.stats = {k: (int(ck.real(("stats", k), lower=0.0)) if k != "solve_time"
                           else ck.real(("stats", k), lower=0.0)) for k in agent.stats}
        return agent


class _AgentPolicy(Policy):
    def __init__(self, agent: Sequoia, name: str) -> None:
        super().__init__(agent.problem)
        self.agent = agent
        self.name = name

    def act(self, state: Any) -> np.ndarray:
        return self.agent.act(state)

    @property
    def stats(self) -> dict:  # type: ignore[override]
        return self.agent.solver_stats()

    @stats.setter
    def stats(self, value: dict) -> None:
        pass
