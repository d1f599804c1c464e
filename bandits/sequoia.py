"""SEQUOIA: deep Q-learning with combinatorial actions chosen by mixed-integer programming.

One readable file in the spirit of CleanRL's ``dqn.py``: the settings (:class:`SequoiaConfig`),
the replay buffer (:class:`ReplayBuffer`), the agent (:class:`Sequoia`: networks, acting, the
training loop, checkpoints). The Q-network scores ``concat(action, state)`` (the state one-hot per
arm by default, or scaled to [0, 1]); every greedy action and every bootstrap target
``max_{a'} Q_target(s', a')`` is a maximisation over the feasible set by
:class:`bandits.argmax.FeasibleArgmax` (enumeration, the network MIP, or greedy construction).

Training (Algorithm 1 of the paper, with its variance reduction): warm start the network on
the one-step expected reward ``R(s, a)`` of random states and feasible actions (or, with
``warm_start_target="fluid"``, on ``R(s, a)`` plus the discounted fluid LP value-to-go of the next
state: :meth:`Sequoia._warm_start_targets`); then per step an
epsilon-greedy action (exploration with the domain's random feasible actions), the transition
sampled by the simulator, and a DQN update on a replay minibatch with the **expected-reward
target** ``y = R(s, a) + gamma * max_{a'} Q_target(s', a')`` (optionally an ``n_step`` return of
expected rewards, or double-Q). Q is learnt in units of ``reward_scale``. The target network is
copied every ``target_update`` gradient steps; between copies the maxima are memoised per next
state. Episodes are ``horizon`` steps from a uniformly random state; the last transition of an
episode bootstraps like any other (a time limit, not a terminal state: the evaluation averages
over the first ``H`` steps and a time-to-go-aware reference policy gains < 0.3% over a
stationary one on the paper's domains, so the state carries no time).

Reproducibility: one seed drives the network initialisation, exploration, minibatches, the
simulator, the MIP solves and the fallback actions (independent streams derived from it with
``SeedSequence``); :meth:`Sequoia.save` stores weights, optimiser, replay buffer, memo, every RNG
state and the config, so training ``n`` episodes, saving, loading and training ``m`` more gives
the same network as training ``n + m`` episodes in one go (single-threaded, deterministic solves).

Over 800 lines on purpose: like CleanRL's ``dqn.py`` the algorithm reads top to bottom in one file
(config, replay buffer, agent, training loop, checkpoints); the argmax over the feasible set is
already apart in :mod:`bandits.argmax`.
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import nn

from bandits.argmax import MODES, STAT_KEYS, FeasibleArgmax, StateEncoding
from bandits.arms import _as_states
from bandits.bounds import FluidLP
from bandits.domains import domain_from_spec
from bandits.policy_base import Policy
from bandits.problem import CoRMAB, action_key
from engine import checkpoint
from engine.errors import InvalidInputError
from engine.events import Iteration, Progress, emit
from engine.seeding import resolve_seed
from engine.status import Status
from engine.threads import limit
from engine.training import TrainingConfig, TrainingResult
from engine.validation import check_choice, check_int, check_real, check_time_limit

__all__ = ["Sequoia", "SequoiaConfig", "ReplayBuffer", "WARM_START_TARGETS"]

#: What the warm start fits (:attr:`SequoiaConfig.warm_start_target`)
WARM_START_TARGETS = ("reward", "fluid")

#: Checkpoint kind and state layout (:mod:`engine.checkpoint`). Version 5 adds the config's
#: ``warm_start_target``; versions 4 (the seed next to the :class:`SequoiaConfig`) and 3 (the seed
#: inside the config) are still read, without it (``"reward"``, the only warm start then);
#: ``bandits.Sequoia/2`` was the earlier, unchecksummed plain-torch format, which is refused.
_KIND = "bandits.Sequoia"
_VERSION = 5
_LEGACY = ("bandits.Sequoia/2",)
_STATE_KEYS = ("config", "seed", "spec", "problem", "q", "q_target", "optimizer", "buffer", "memo", "rng",
               "counters", "history", "stats")


# ============================================================================ settings
@dataclass(frozen=True)
class SequoiaConfig(TrainingConfig):
    """Settings of a :class:`Sequoia` agent (frozen; validated by :meth:`resolve` / :meth:`from_dict`).

    Attributes
    ----------
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
    action_selection : {"auto", "enumerate", "mip", "greedy"}
        How the argmax is computed (:mod:`bandits.argmax`).
    train_selection : {"same", "greedy"}
        ``"greedy"`` uses greedy construction for the greedy actions and bootstrap targets *during
        training* only (decisions after training still use ``action_selection``): a cheaper,
        inexact variant for sets too large to enumerate when per-sample MIPs are too slow.
    enumerate_limit : int
        Largest feasible set enumerated under ``"auto"``.
    threads : int or None
        Threads of torch and the BLAS pools while the agent trains or acts (the engine's thread
        policy, :func:`engine.threads.limit`; default 1, restored afterwards; None leaves the
        settings alone).
    mip_time_limit : float, optional
        Per-solve time limit of the network MIP.
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
    warm_start_samples : int
        Random (state, feasible action) pairs of the warm start. A close fit of the one-step reward
        matters: the greedy policy starts as the myopic one, and the long-term corrections
        deep Q-learning adds are small next to the fitting error of a poor warm start (256
        samples and 300 steps gave +9% over myopic on the path domain, 4096 and 1000 +18%).
    warm_start_target : {"reward", "fluid"}
        What the warm start fits. ``"reward"`` (default): the one-step expected reward ``R(s, a)``.
        ``"fluid"``: ``R(s, a) + gamma * E[W(s') | s, a]`` with ``W`` the fluid LP's separable
        value-to-go (:mod:`bandits.bounds`; the module docstring says which), so the greedy
        policy starts near the fluid policy's index instead of the myopic one. It costs one fluid LP
        solve at the start of training (counted in the training time).
    double_q : bool
        Double DQN targets (the online network picks ``a'``, the target network values it; no
        memo, so one maximisation per sample).
    train_enumerate_limit : int
        With ``train_selection="greedy"``, sets enumerated for decisions but larger than this are
        maximised greedily during training.
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
    """

    device: str = "auto"
    hidden: tuple = (128,)
    gamma: float = 0.9
    lr: float = 1e-3
    batch_size: int = 32
    buffer_size: int = 5000
    horizon: int = 20
    epsilon_start: float = 0.3
    epsilon_end: float = 0.05
    epsilon_decay_episodes: int = 50
    target_update: int = 50
    train_frequency: int = 1
    learning_starts: int = 64
    warm_start_steps: int = 1000
    action_selection: str = "auto"
    train_selection: str = "same"
    enumerate_limit: int = 20_000
    threads: Optional[int] = 1
    mip_time_limit: Optional[float] = None
    state_encoding: str = "onehot"
    n_step: int = 1
    gradient_steps: int = 1
    reward_scale: Optional[float] = None
    warm_start_samples: int = 4096
    double_q: bool = False
    train_enumerate_limit: int = 20_000
    stability_weight: float = 0.1
    warm_start_target: str = "reward"

    def validated(self, where: str) -> "SequoiaConfig":
        check_choice(self.device, "device", where, ("auto", "cpu", "cuda"))
        check_choice(self.action_selection, "action_selection", where, MODES)
        check_choice(self.train_selection, "train_selection", where, ("same", "greedy"))
        check_choice(self.state_encoding, "state_encoding", where, ("scaled", "onehot"))
        check_choice(self.warm_start_target, "warm_start_target", where, WARM_START_TARGETS)
        try:
            hidden = tuple(int(h) for h in self.hidden)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"{where}: hidden must be a sequence of positive ints, got {self.hidden!r}") \
                from err
        if not hidden or min(hidden) < 1:
            raise InvalidInputError(f"{where}: hidden must be a non-empty sequence of positive ints, "
                                    f"got {self.hidden!r}")
        ints = {name: check_int(getattr(self, name), name, where, lower=low) for name, low in (
            ("batch_size", 1), ("buffer_size", 1), ("horizon", 1), ("epsilon_decay_episodes", 1),
            ("target_update", 1), ("train_frequency", 1), ("learning_starts", 1), ("warm_start_steps", 0),
            ("enumerate_limit", 0), ("n_step", 1), ("gradient_steps", 1), ("warm_start_samples", 1),
            ("train_enumerate_limit", 0))}
        unit = {name: check_real(getattr(self, name), name, where, lower=0.0, upper=1.0)
                for name in ("gamma", "epsilon_start", "epsilon_end")}
        optional = {"threads": None if self.threads is None else check_int(self.threads, "threads", where, lower=1),
                    "mip_time_limit": None if self.mip_time_limit is None else
                    check_real(self.mip_time_limit, "mip_time_limit", where, lower=0.0, lower_strict=True),
                    "reward_scale": None if self.reward_scale is None else
                    check_real(self.reward_scale, "reward_scale", where, lower=0.0, lower_strict=True)}
        return self.replace_fields(hidden=hidden, **ints, **unit, **optional,
                                   lr=check_real(self.lr, "lr", where, lower=0.0, lower_strict=True),
                                   double_q=bool(self.double_q),
                                   stability_weight=check_real(self.stability_weight, "stability_weight", where,
                                                               lower=0.0))


# ============================================================================ replay buffer
class ReplayBuffer:
    """A ring buffer of ``capacity`` n-step transitions ``(s, a, R, s', discount)`` (numpy, CPU).

    ``R`` is the (n-step) expected-reward return and ``discount`` the factor ``gamma ** k`` of the
    bootstrap term at ``s'``. States are int8 (at most 127 states per arm), actions 0/1 int8.
    """

    def __init__(self, capacity: int, n_arms: int, n_actions: int) -> None:
        self.capacity = capacity
        self.s = np.zeros((capacity, n_arms), dtype=np.int8)
        self.a = np.zeros((capacity, n_actions), dtype=np.int8)
        self.r = np.zeros(capacity, dtype=np.float64)
        self.s2 = np.zeros((capacity, n_arms), dtype=np.int8)
        self.g = np.zeros(capacity, dtype=np.float64)
        self.n = 0      # transitions held
        self.pos = 0    # next slot written

    def __len__(self) -> int:
        return self.n

    def add(self, s: np.ndarray, a: np.ndarray, r: float, s2: np.ndarray, g: float) -> None:
        i = self.pos
        self.s[i], self.a[i], self.r[i], self.s2[i], self.g[i] = s, a, r, s2, g
        self.pos = (i + 1) % self.capacity
        self.n = min(self.n + 1, self.capacity)

    def sample(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, ...]:
        """``k`` transitions drawn uniformly with replacement: ``(s, a, R, s', discount)``."""
        idx = rng.integers(0, self.n, size=k)
        return self.s[idx], self.a[idx], self.r[idx], self.s2[idx], self.g[idx]

    def state_dict(self) -> dict:
        return {"s": torch.from_numpy(self.s.copy()), "a": torch.from_numpy(self.a.copy()),
                "r": torch.from_numpy(self.r.copy()), "s2": torch.from_numpy(self.s2.copy()),
                "g": torch.from_numpy(self.g.copy()), "n": self.n, "pos": self.pos}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name in ("s", "a", "r", "s2", "g"):
            setattr(self, name, state[name].numpy().copy())
        self.n, self.pos = int(state["n"]), int(state["pos"])


# ============================================================================ helpers
def _threads(n: Optional[int]) -> Any:
    """The engine's thread policy (:func:`engine.threads.limit`) with ``n`` threads, or nothing for None.

    Tiny Q-networks are much faster single-threaded, above all on a shared machine where the
    OpenMP workers of a multi-threaded torch spin against other processes.
    """
    return nullcontext() if n is None else limit(n, where="Sequoia()")


def _resolve_device(device: str, where: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"{where}: device='cuda' requested but CUDA is not available")
    return device


def _q_network(sizes: list[int], rng: np.random.Generator) -> nn.Sequential:
    """Linear/ReLU layers of ``sizes``, initialised in PyTorch's default range from ``rng``."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        bound = 1.0 / math.sqrt(sizes[i])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(rng.uniform(-bound, bound, size=(sizes[i + 1], sizes[i]))))
            lin.bias.copy_(torch.from_numpy(rng.uniform(-bound, bound, size=sizes[i + 1])))
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _max_pulls(problem: CoRMAB) -> int:
    """An upper bound on the pulls of any feasible action: the floor of the LP relaxation's maximum."""
    fs = problem.feasible_set
    card = fs.cardinality_range
    if card is not None:
        return int(card[1])
    res = fs.to_linear_model(np.ones(fs.n_actions), relax=True).solve()
    if res.x is None:
        return fs.n_actions
    return int(min(fs.n_actions, math.floor(float(res.objective) + 1e-6)))


# ============================================================================ the agent
class Sequoia:
    """A SEQUOIA agent for a :class:`~bandits.CoRMAB`.

    Parameters
    ----------
    problem : CoRMAB
    config : SequoiaConfig, optional
        The settings (defaults: ``SequoiaConfig()``); any field may also be given as a keyword
        (``Sequoia(problem, horizon=10)``), which overrides ``config``.
    seed : int, Generator or None
        The one source of randomness (see the module docstring); recorded as an int.

    Examples
    --------
    >>> import bandits
    >>> problem = bandits.make_domain("budget", n_arms=4, budget=1, seed=0)
    >>> agent = bandits.Sequoia(problem, seed=0, warm_start_steps=20)
    >>> res = agent.train(episodes=2)
    >>> res.episodes, res.history["return"].shape, int(agent.act([0, 1, 2, 3]).sum()) <= 1
    (2, (2,), True)
    """

    def __init__(self, problem: CoRMAB, config: Optional[SequoiaConfig] = None, *, seed: Any = 0,
                 **overrides: Any) -> None:
        where = "Sequoia()"
        if not isinstance(problem, CoRMAB):
            raise InvalidInputError(f"{where}: problem must be a bandits.CoRMAB, got {type(problem).__name__}")
        c = self.config = SequoiaConfig.resolve(config, overrides, where)
        seeds = resolve_seed(seed, where=where)
        self.problem = problem
        self.seed = seeds.root
        self.device = _resolve_device(c.device, where)
        self._rng_env = seeds.generator("sequoia:env")      # initial states and transitions
        self._rng_agent = seeds.generator("sequoia:agent")  # exploration, minibatches, warm-start samples
        n, J = problem.n_actions, problem.n_arms
        self.encoding = StateEncoding(J, problem.n_states, c.state_encoding, self.device)
        self.n_features = self.encoding.n_features
        self.n_in = n + self.n_features
        self.q = _q_network([self.n_in, *c.hidden, 1], seeds.generator("sequoia:init")).to(self.device)
        self.q_target = copy.deepcopy(self.q)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=c.lr)
        self.buffer = ReplayBuffer(c.buffer_size, J, n)
        self.argmax = FeasibleArgmax(problem, self.encoding, mode=c.action_selection,
                                     enumerate_limit=c.enumerate_limit, mip_time_limit=c.mip_time_limit,
                                     seed=seeds.int_seed("network_mip"), where=where)
        self.stability_weight = c.stability_weight
        self._stability_k = _max_pulls(problem) if c.stability_weight > 0 else n
        # Q is learnt in units of reward_scale (argmax unchanged); auto: the largest possible step reward
        self.reward_scale = (float(c.reward_scale) if c.reward_scale is not None
                             else max(float(np.abs(problem.arms.rewards).max(axis=1).sum()), 1e-12))
        # progress, all saved in checkpoints
        self.episodes_done = 0
        self.env_steps = 0
        self.grad_steps = 0
        self.warm_started = False
        self.history: list[float] = []  # mean per-step expected reward of each episode
        self._version = 0               # online-network version (bumped per gradient step)
        self._target_id = 0             # target-network version (bumped per copy)
        self._target_memo: dict[bytes, float] = {}      # max_a' Q_target(s', a') per s' (this target copy)
        self._act_memo: dict[bytes, np.ndarray] = {}    # greedy action per state (this online version)
        self._fluid_seed = seeds.int_seed("sequoia:fluid_lp")  # initial columns of the fluid warm start's LP
        #: the warm start's target, fit (MSE ``loss`` and ``r2`` in the scaled units) and time, when this
        #: agent ran it (not kept in checkpoints)
        self.warm_start_info: dict[str, Any] = {}

    @property
    def stats(self) -> dict[str, float]:
        """The argmax counters (:attr:`bandits.argmax.FeasibleArgmax.stats`)."""
        return self.argmax.stats

    # ------------------------------------------------------------------ network pieces
    def _inputs(self, states: np.ndarray, actions: np.ndarray) -> torch.Tensor:
        return self.encoding.inputs(states, actions)

    def _stability_bounds(self, states: np.ndarray) -> list:
        """Pre-activation ranges ``[(L, U), ...]`` (torch, one row per state) of the hidden layers over
        ``{a in [0, 1]^n : sum(a) <= K}``: the first layer's exactly (the top-K positive / negative
        action weights), deeper layers by interval arithmetic. Differentiable in the weights."""
        lin = [m for m in self.q if isinstance(m, nn.Linear)]
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

    def _stability_penalty(self, states: np.ndarray) -> torch.Tensor:
        """``stability_weight * sum over hidden layers of -mean tanh(1 + L U)`` at ``states``."""
        pen = sum(-torch.tanh(1.0 + L * U).mean() for L, U in self._stability_bounds(states))
        return self.stability_weight * pen  # type: ignore[return-value]  # a sum of tensors is a tensor

    # ------------------------------------------------------------------ acting
    def _greedy_in_training(self) -> bool:
        """Whether training maximises by greedy construction (``train_selection="greedy"`` on a set that
        is not enumerated, or enumerated but larger than ``train_enumerate_limit``)."""
        if self.config.train_selection != "greedy":
            return False
        acts = self.argmax.actions
        return self.argmax.mode != "enumerate" or acts is None or len(acts) > self.config.train_enumerate_limit

    def _maximize(self, net: nn.Sequential, states: np.ndarray, key: tuple, *, training: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Greedy actions and values of ``net`` at each state (rows of ``states``)."""
        return self.argmax.maximize(net, states, key, greedy=training and self._greedy_in_training())

    def act(self, state: Any) -> np.ndarray:
        """The greedy action ``argmax_a Q(a, state)`` over the feasible set (memoised per state)."""
        s = _as_states(state, self.problem.n_arms, self.problem.n_states, "Sequoia.act()", single=True, name="state")
        key = action_key(s)
        hit = self._act_memo.get(key)
        if hit is None:
            self.stats["decisions"] += 1
            with _threads(self.config.threads):
                a, _ = self._maximize(self.q, s[None], ("online", self._version))
            hit = a[0]
            self._act_memo[key] = hit
        return hit.copy()

    def policy(self, name: str = "sequoia") -> Policy:
        """This agent as a :class:`bandits.policies.Policy` (for :func:`bandits.evaluate`)."""
        return _AgentPolicy(self, name)

    # ------------------------------------------------------------------ learning
    def _warm_start_targets(self, states: np.ndarray, actions: np.ndarray, deadline: float = math.inf
                            ) -> np.ndarray:
        """The warm start's targets at ``(states[i], actions[i])``, in reward units (not scaled).

        ``"reward"``: ``R(s, a)``. ``"fluid"``: ``R(s, a) + gamma * E[W(s') | s, a]`` with ``W`` the
        fluid LP's separable value-to-go (:class:`bandits.bounds.FluidLP`, hull coupling):

        ``W(s') = sum_j V_j(1, s'_j) + C``

        from the LP of ``n + 1`` steps solved from these states' average: ``V_j(1, .)`` arm (unit)
        ``j``'s flow duals at step 1 (the fluid policy's index uses the same, :mod:`bandits.fluid`)
        and ``C`` the rest of the dual objective of steps ``1 .. n`` (convexity duals and the duals
        of the columns' upper bounds; HiGHS may put a step's value on either where an action is
        used with probability 1), computed as the LP's value of steps ``1 .. n`` less
        ``E[sum_j V_j(1, .)]`` under its step-1 state distribution. Why this ``W``: the optimal
        duals of steps ``1 .. n`` are dual feasible for the ``n``-step LP from *any* distribution
        at step 1 and optimal from the LP's own (complementary slackness), so ``W(s')`` is an upper
        bound on every policy's expected ``n``-step reward from ``s'`` (weak duality), separable
        over arms, and exact on average over the LP's step-1 distribution. ``n = round(1 / (1 - gamma))``, the discount's effective
        horizon (the sum of its weights ``gamma^k``, so an ``n``-step undiscounted value has the
        scale of the discounted value ``Q`` bootstraps), at most ``horizon`` (and ``horizon`` for
        ``gamma = 1``, where the discounted value has no finite scale): a discounted fluid LP
        would need per-step reward weights the bound's LP does not have, for a target that the
        DQN updates replace anyway. If the LP fails the targets are ``R(s, a)``
        (``warm_start_info["fluid_status"]`` says why).
        """
        c, p = self.config, self.problem
        R = p.expected_reward(states, actions)
        if c.warm_start_target == "reward" or c.gamma == 0.0:
            return R
        n = c.horizon if c.gamma >= 1.0 else min(c.horizon, max(1, round(1.0 / (1.0 - c.gamma))))
        t0 = time.perf_counter()
        lp = FluidLP(p, horizon=n + 1, coupling="hull", seed=self._fluid_seed, threads=c.threads or 1)
        left = deadline - time.perf_counter()
        res = lp.solve(None, states=states, time_limit=None if math.isinf(left) else max(left, 1e-3),
                       with_basis=False)
        self.warm_start_info.update({"fluid_steps": n, "fluid_status": res.status.value,
                                     "fluid_time": time.perf_counter() - t0})
        x = lp.last_x
        if res.state_values is None or x is None:
            return R
        loc = lp.local
        us, u = loc.unit_states(states), loc.project(actions)
        V1 = res.state_values[1]
        W = np.zeros(len(states))
        for j in range(loc.J):
            xj = x[int(lp.xoff[j]): int(lp.xoff[j + 1])].reshape(n + 1, loc.S, int(loc.U[j]))
            W += (xj[1:] * loc.rbar[j]).sum() - xj[1].sum(axis=1) @ V1[j]   # this unit's share of C
            W += loc.P[j][u[:, j], us[:, j], :] @ V1[j]
        return R + c.gamma * W

    def _warm_start(self, deadline: float = math.inf) -> None:
        """Fit ``Q(s, a)`` to the warm start's targets / ``reward_scale`` on random states and feasible actions."""
        c, p, rng = self.config, self.problem, self._rng_agent
        t0 = time.perf_counter()
        S = p.initial_states(rng, c.warm_start_samples)
        A = np.stack([p.sample_action(rng) for _ in range(c.warm_start_samples)])
        x = self._inputs(S, A)
        y = torch.as_tensor(self._warm_start_targets(S, A, deadline) / self.reward_scale, dtype=torch.float32,
                            device=self.device)
        for _ in range(c.warm_start_steps):
            if time.perf_counter() > deadline:  # train()'s time limit: the warm start ends early
                break
            idx = torch.as_tensor(rng.integers(0, c.warm_start_samples, size=min(256, c.warm_start_samples)),
                                  device=self.device)
            loss = torch.mean((self.q(x[idx])[:, 0] - y[idx]) ** 2)
            if self.stability_weight > 0:
                loss = loss + self._stability_penalty(S[idx.cpu().numpy()])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        with torch.no_grad():
            self.warm_start_loss = float(torch.mean((self.q(x)[:, 0] - y) ** 2).cpu())
            self.warm_start_r2 = 1.0 - self.warm_start_loss / max(float(torch.var(y).cpu()), 1e-30)
        self.warm_start_info.update({"target": c.warm_start_target, "loss": self.warm_start_loss,
                                     "r2": self.warm_start_r2, "time": time.perf_counter() - t0})
        self._copy_target()
        self._version += 1
        self.warm_started = True

    def _copy_target(self) -> None:
        self.q_target.load_state_dict(self.q.state_dict())
        self._target_memo.clear()
        self._target_id += 1

    def _learn(self) -> float:
        """One DQN step on a replay minibatch; returns the TD loss."""
        c = self.config
        s, a, r, s2, g = self.buffer.sample(self._rng_agent, c.batch_size)
        keys = [action_key(x) for x in s2]
        if c.double_q:  # the online network picks a', the target network values it (no memo: q changes)
            self._target_memo.clear()
        missing = [i for i, k in enumerate(keys) if k not in self._target_memo]
        self.stats["memo_hits"] += len(keys) - len(missing)
        if missing:
            uniq: dict[bytes, int] = {}
            for i in missing:
                uniq.setdefault(keys[i], i)
            rows = np.stack([s2[i] for i in uniq.values()])
            before = self.stats["solves"]
            if c.double_q:
                best, _ = self._maximize(self.q, rows, ("online", self._version), training=True)
                with torch.no_grad():
                    vals = self.q_target(self._inputs(rows, best))[:, 0].cpu().numpy()
            else:
                _, vals = self._maximize(self.q_target, rows, ("target", self._target_id), training=True)
            self.stats["target_solves"] += self.stats["solves"] - before
            for k, v in zip(uniq.keys(), vals):
                self._target_memo[k] = float(v)
        boot = np.array([self._target_memo[k] for k in keys])
        y = torch.as_tensor(r / self.reward_scale + g * boot, dtype=torch.float32, device=self.device)
        td_loss = nn.functional.mse_loss(self.q(self._inputs(s, a))[:, 0], y)
        loss = td_loss + self._stability_penalty(s) if self.stability_weight > 0 else td_loss
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), 10.0)
        self.optimizer.step()
        self.grad_steps += 1
        self._version += 1
        self._act_memo.clear()
        if self.grad_steps % c.target_update == 0:
            self._copy_target()
        return float(td_loss.detach().cpu())

    def _store(self, pending: list, s_boot: np.ndarray) -> None:
        """Push the oldest of the ``pending`` ``(s, a, r)`` with its n-step return bootstrapped at ``s_boot``."""
        gamma = self.config.gamma
        s, a, ret = pending.pop(0)
        disc = gamma
        for _, _, rk in pending:
            ret += disc * rk
            disc *= gamma
        self.buffer.add(s, a, ret, s_boot, disc)

    def train(self, episodes: int, *, callback: Any = None, checkpoint_every: Optional[int] = None,
              checkpoint_path: Any = None, time_limit: Optional[float] = None) -> TrainingResult:
        """Train for ``episodes`` more episodes of ``horizon`` steps.

        Parameters
        ----------
        episodes : int
        callback : callable, optional
            The one progress and stop hook. After each episode it receives an
            :class:`engine.events.Iteration` (``objective`` = the episode's mean expected reward per
            step, ``info`` = epsilon, loss, solver counts), then an :class:`engine.events.Progress`
            (episodes done of this call's ``episodes``; what :class:`engine.progress.RichProgress`
            draws). Raising ``StopIteration`` stops training (status STOPPED).
        checkpoint_every, checkpoint_path :
            Save a checkpoint (:meth:`save`) every ``checkpoint_every`` episodes (the path is
            overwritten; listed once in ``checkpoints``).
        time_limit : float, optional
            Wall-clock seconds, checked during the warm start and before every episode: on expiry
            training ends with status TIME_LIMIT and the agent as trained so far.

        Returns
        -------
        engine.training.TrainingResult
            ``model`` this agent; ``episodes`` trained in total (resumed runs included);
            ``history["return"]`` the mean per-step expected reward of every episode so far;
            ``objective`` its mean over the last (up to) 10 episodes; ``stats`` the argmax
            accounting (:meth:`solver_stats`); ``params`` the config (``params["config"]``), the
            seed, the resolved device and reward scale. A completed run is FEASIBLE.
        """
        where = "Sequoia.train()"
        E = check_int(episodes, "episodes", where, lower=0)
        tl = check_time_limit(time_limit, where)
        if callback is not None and not callable(callback):
            raise InvalidInputError(f"{where}: callback must be callable, got {type(callback).__name__}")
        if checkpoint_every is not None:
            check_int(checkpoint_every, "checkpoint_every", where, lower=1)
            if checkpoint_path is None:
                raise InvalidInputError(f"{where}: checkpoint_every needs checkpoint_path")
        t0 = time.perf_counter()
        deadline = math.inf if tl is None else t0 + tl
        c, p = self.config, self.problem
        status = Status.FEASIBLE          # a trained policy is a valid answer, not a proven optimum
        written: list[str] = []
        with _threads(c.threads):
            if not self.warm_started and c.warm_start_steps > 0:
                self._warm_start(deadline)
            self.warm_started = True
            for ep in range(E):
                if time.perf_counter() > deadline:
                    status = Status.TIME_LIMIT
                    break
                s = p.initial_states(self._rng_env, 1)[0]
                total, loss = 0.0, math.nan
                frac = min(1.0, self.episodes_done / c.epsilon_decay_episodes)
                eps = c.epsilon_start + frac * (c.epsilon_end - c.epsilon_start)
                pending: list[tuple[np.ndarray, np.ndarray, float]] = []  # the last n_step (s, a, r)
                for _ in range(c.horizon):
                    if self._rng_agent.random() < eps:
                        a = p.sample_action(self._rng_agent)
                    elif self._greedy_in_training():
                        a = self._maximize(self.q, s[None], ("online", self._version), training=True)[0][0]
                    else:
                        a = self.act(s)
                    r = float(p.expected_reward(s[None], a[None])[0])
                    s2 = p.step(s[None], a[None], self._rng_env, check=False)[0]
                    pending.append((s, a, r))
                    if len(pending) == c.n_step:
                        self._store(pending, s2)
                    self.env_steps += 1
                    total += r
                    s = s2
                    if len(self.buffer) >= c.learning_starts and self.env_steps % c.train_frequency == 0:
                        for _ in range(c.gradient_steps):
                            loss = self._learn()
                while pending:  # the episode ends: shorter returns, bootstrapped from the last state
                    self._store(pending, s)
                self.episodes_done += 1
                self.history.append(total / c.horizon)
                info = {"epsilon": eps, "loss": loss, **self.solver_stats()}
                stop = emit(callback, Iteration("Sequoia.train", nit=self.episodes_done, objective=self.history[-1],
                                                info=info))
                stop = emit(callback, Progress("Sequoia.train", completed=ep + 1, total=E,
                                               description="SEQUOIA")) or stop
                if checkpoint_every is not None and self.episodes_done % checkpoint_every == 0:
                    self.save(checkpoint_path)
                    if str(checkpoint_path) not in written:
                        written.append(str(checkpoint_path))
                if stop:
                    status = Status.STOPPED
                    break
        last = self.history[-10:]
        message = {Status.STOPPED: "stopped by callback", Status.TIME_LIMIT: "time limit reached"}.get(status, "trained")
        params = {"config": c.to_dict(), "seed": self.seed, "device": self.device, "reward_scale": self.reward_scale,
                  "episodes": self.episodes_done, "warm_start": dict(self.warm_start_info)}
        return TrainingResult(status=status, message=message, objective=float(np.mean(last)) if last else math.nan,
                              nit=self.episodes_done, runtime=time.perf_counter() - t0,
                              method=f"sequoia[{self.argmax.mode}]", backend="torch", params=params, model=self,
                              episodes=self.episodes_done, history={"return": np.array(self.history)},
                              checkpoints=tuple(written), stats=self.solver_stats())

    def solver_stats(self) -> dict:
        """Argmax-solve accounting: solves, time per solve, fraction proven optimal, fallbacks."""
        st: dict[str, Any] = dict(self.stats)
        n = max(st["solves"], 1)
        st["mode"] = self.argmax.mode
        st["time_per_solve"] = st["solve_time"] / n
        st["fraction_proven_optimal"] = st["proven_optimal"] / n if st["solves"] else math.nan
        st["solves_per_step"] = st["solves"] / max(self.env_steps, 1)
        st["steps"] = self.env_steps
        return st

    # ------------------------------------------------------------------ state, save / load
    def state_dict(self) -> dict:
        """Everything needed to resume, as tensors and plain Python values (``weights_only``-safe)."""
        memo_keys = list(self._target_memo.keys())
        J = self.problem.n_arms
        return {
            "config": self.config.to_dict(),
            "seed": self.seed,
            "spec": self.problem.spec,
            "problem": {"name": self.problem.name, "n_arms": J, "n_states": self.problem.n_states,
                        "n_actions": self.problem.n_actions},
            "q": self.q.state_dict(), "q_target": self.q_target.state_dict(), "optimizer": self.optimizer.state_dict(),
            "buffer": self.buffer.state_dict(),
            "memo": {"keys": torch.from_numpy(np.frombuffer(b"".join(memo_keys), dtype=np.int8).reshape(-1, J).copy()),
                     "values": torch.tensor([self._target_memo[k] for k in memo_keys], dtype=torch.float64)},
            "rng": {"env": self._rng_env.bit_generator.state, "agent": self._rng_agent.bit_generator.state},
            "counters": {"episodes_done": self.episodes_done, "env_steps": self.env_steps,
                         "grad_steps": self.grad_steps, "warm_started": self.warm_started,
                         "version": self._version, "target_id": self._target_id},
            "history": list(map(float, self.history)),
            "stats": {k: float(v) for k, v in self.stats.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (an agent built with the same problem and config).

        The state is trusted here; :meth:`load` checks a file's before calling this.
        """
        self.q.load_state_dict(state["q"])
        self.q_target.load_state_dict(state["q_target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        keys = state["memo"]["keys"].numpy()
        self._target_memo = {keys[i].tobytes(): float(v) for i, v in enumerate(state["memo"]["values"].tolist())}
        self._act_memo.clear()
        self._rng_env.bit_generator.state = state["rng"]["env"]
        self._rng_agent.bit_generator.state = state["rng"]["agent"]
        n = state["counters"]
        self.episodes_done, self.env_steps, self.grad_steps = n["episodes_done"], n["env_steps"], n["grad_steps"]
        self.warm_started, self._version, self._target_id = bool(n["warm_started"]), n["version"], n["target_id"]
        self.history = [float(v) for v in state["history"]]
        self.stats.update({k: (float(v) if k == "solve_time" else int(v)) for k, v in state["stats"].items()})

    def save(self, path: Any) -> None:
        """Save a resumable checkpoint: :meth:`state_dict` in a versioned, SHA-256-checksummed
        :mod:`engine.checkpoint` file (kind ``"bandits.Sequoia"``, version 5), written atomically."""
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
        option's type and range (:meth:`SequoiaConfig.from_dict`; integer options at most
        :data:`engine.checkpoint.MAX_OPTION`; ``threads`` is capped at this machine's CPU count),
        the problem's shape, the networks' and optimizer's shapes, dtypes and finiteness, the replay
        buffer (shapes from ``buffer_size``, states in range, 0/1 actions, finite rewards, discounts
        in [0, 1], counters within capacity), the target memo, the RNG states, the counters, the
        history and the statistics. Only then is the state loaded (:meth:`load_state_dict`).
        """
        where = "Sequoia.load()"
        check_choice(device, "device", where, ("auto", "cpu", "cuda"))
        max_parameters = check_int(checkpoint.MAX_PARAMETERS if max_parameters is None else max_parameters,
                                   "max_parameters", where, lower=1)
        max_bytes = check_int(checkpoint.MAX_BYTES if max_bytes is None else max_bytes, "max_bytes", where, lower=1)
        ck = checkpoint.read(path, kind=_KIND, versions=(3, 4, _VERSION), where=where, max_bytes=max_bytes,
                             legacy=_LEGACY)
        if ck.version < 5:  # written before warm_start_target existed: the one-step reward warm start
            ck.mapping("config").setdefault("warm_start_target", "reward")
        if ck.version == 3:  # the seed was a config entry (and the device too); same state otherwise
            cfg3 = ck.mapping("config", keys=("seed", *SequoiaConfig.__dataclass_fields__))
            ck.state["seed"] = cfg3.pop("seed")
        return cls._from_checkpoint(ck, problem, device, max_parameters)

    @classmethod
    def _from_checkpoint(cls, ck: Any, problem: Optional[CoRMAB], device: str, max_parameters: int) -> "Sequoia":
        big = checkpoint.MAX_OPTION
        ck.mapping((), keys=_STATE_KEYS)
        # -- declared sizes, checked before anything is built
        ck.mapping("problem", keys=("name", "n_arms", "n_states", "n_actions"))
        if ck.get("problem.name") is not None:
            ck.string("problem.name")
        J = ck.integer("problem.n_arms", lower=1, upper=big)
        S = ck.integer("problem.n_states", lower=1, upper=127)   # states are stored as int8
        n = ck.integer("problem.n_actions", lower=1, upper=big)
        raw = dict(ck.mapping("config", keys=tuple(SequoiaConfig.__dataclass_fields__)))
        enc = ck.string("config.state_encoding", ("onehot", "scaled"))
        for key in ("action_selection", "train_selection", "device", "warm_start_target"):
            ck.string(f"config.{key}")
        seed = ck.integer("seed", lower=0, upper=(1 << 128) - 1)
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
            if raw[key] is not None:
                ck.real(f"config.{key}")
        ck.boolean("config.double_q")
        raw["threads"] = checkpoint.check_threads(raw["threads"], "config.threads", ck.context)
        n_in = n + (J * S if enc == "onehot" else J)
        sizes = [n_in] + hidden + [1]
        checkpoint.check_limit(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])), max_parameters,
                               "a Q-network with a number of parameters", context=ck.context)
        for key in ("batch_size", "warm_start_samples"):
            checkpoint.check_limit(raw[key] * n_in, max_parameters, f"config.{key} x {n_in} network inputs",
                                   context=ck.context)
        if raw["action_selection"] == "auto":
            checkpoint.check_limit(raw["enumerate_limit"] * n, max_parameters,
                                   f"config.enumerate_limit x {n} actions", context=ck.context)
        try:
            config = SequoiaConfig.from_dict({**raw, "device": device}, "Sequoia()")
        except InvalidInputError as err:
            ck.fail(f"config: {err}")
        # -- replay buffer, memo, counters: shapes follow the declared sizes (the tensors are real data)
        cap = config.buffer_size
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
        episodes = ck.integer("counters.episodes_done", lower=0, upper=1 << 62)
        for k in ("env_steps", "grad_steps", "version", "target_id"):
            ck.integer(f"counters.{k}", lower=0, upper=1 << 62)
        ck.boolean("counters.warm_started")
        for i in range(len(ck.sequence("history", episodes))):
            ck.real(("history", i))
        ck.mapping("rng", keys=("env", "agent"))
        ck.mapping("stats", keys=STAT_KEYS)
        for k in STAT_KEYS:
            ck.real(("stats", k), lower=0.0)
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
        # -- the agent; its networks, optimizer and generators checked against the real objects
        try:
            agent = cls(problem, config, seed=seed)
        except InvalidInputError as err:
            ck.fail(f"config: {err}")
        ck.load_module("q", agent.q)
        ck.load_module("q_target", agent.q_target)
        ck.load_optimizer("optimizer", agent.optimizer)
        ck.load_rng("rng.env", agent._rng_env)
        ck.load_rng("rng.agent", agent._rng_agent)
        agent.load_state_dict(ck.state)
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
