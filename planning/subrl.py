"""Submodular reinforcement learning: a grid world scored by a submodular function of the visited
cells, SubPO (policy gradient with marginal-gain rewards) and the "modular RL" baseline.

In submodular RL (Prajapat et al., "Submodular Reinforcement Learning", ICLR 2024) an episode
``tau = (s_0, a_0, s_1, ..., s_T)`` is worth ``F({s_0, ..., s_T})`` for a monotone submodular
``F`` (coverage of cells, information gain, ...). Writing ``F`` as the sum of the marginal gains
``r_t = F(V_{t+1}) - F(V_t)`` of the cells as they are visited, the score-function identity
with reward-to-go credit

    grad E[F(tau)] = E[ sum_t grad log pi(a_t | h_t) * (sum_{t' >= t} r_t' - b_t) ]

is exact for any policy class (a reward depends only on the past), and any baseline ``b_t``
that does not depend on ``a_t`` keeps it unbiased. :class:`SubPO` estimates this gradient from
batched rollouts and ascends it with Adam; the policy sees either the cell and the time
("markov": a softmax table over ``(t, cell, action)``) or the cell, the time and the set of
visited cells ("history": a small MLP), the latter being a sufficient statistic of the
history for ``F``. The "modular RL" baseline (:class:`ModularRL`) trains the same policy on the
additive reward ``F({s_{t+1}})`` that counts revisits, the usual way to shoehorn coverage into
standard RL.

Rollouts are vectorised over the batch in torch (CUDA when available, CPU otherwise); the
marginal gains of a whole batch are one Numba call (:meth:`SubmodularFunction.path_gains`).
"""

from __future__ import annotations

import math
import numbers
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Optional

import numpy as np

from engine import checkpoint
from engine.errors import InvalidInputError
from engine.events import Finished, Iteration, Progress, emit
from engine.seeding import resolve_seed
from engine.status import Status
from engine.training import TrainingConfig, TrainingResult
from engine.validation import check_choice, check_int, check_real, check_time_limit
from planning.objectives import GraphCoverage, SubmodularFunction

__all__ = ["GridWorld", "SubPO", "SubPOConfig", "ModularRL", "Rollout", "ACTIONS"]

#: Checkpoint kind and state layout of :meth:`SubPO.save` (:mod:`engine.checkpoint`); files of the
#: earlier plain ``torch.save`` format are refused.
_KIND = "planning.subrl.SubPO"
_VERSION = 2

#: The five actions of :class:`GridWorld`: (row step, column step).
ACTIONS = (("stay", 0, 0), ("up", -1, 0), ("down", 1, 0), ("left", 0, -1), ("right", 0, 1))


# ============================================================================ environment
class GridWorld:
    """A grid of cells, five actions, a start cell, a horizon, and a submodular objective.

    Parameters
    ----------
    shape : (rows, cols)
        Grid size; cell ``(r, c)`` is state ``r * cols + c``.
    start : (r, c) or int
        Start cell.
    horizon : int
        Number of actions per episode ``T`` (an episode visits ``T + 1`` cells).
    slip : float
        Probability that the executed action is drawn uniformly from the five actions instead
        of the intended one (0: deterministic). Moves off the grid leave the agent in place.
    objective : SubmodularFunction, optional
        ``F`` over the cells (ground set of size ``rows * cols``); default
        ``GraphCoverage(shape, radius=1)`` (cells within one step of the visited ones).

    Examples
    --------
    >>> env = GridWorld((3, 3), horizon=4)
    >>> env.n_states, env.n_actions
    (9, 5)
    >>> env.optimal_value()  # the best 4-step walk from the corner sees all 9 cells
    9.0
    """

    n_actions = 5

    def __init__(self, shape: Any, *, start: Any = (0, 0), horizon: int = 10, slip: float = 0.0,
                 objective: Optional[SubmodularFunction] = None) -> None:
        where = "GridWorld()"
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
            raise InvalidInputError(f"{where}: shape must be (rows, cols), got {shape!r}")
        self.rows = check_int(shape[0], "rows", where, lower=1)
        self.cols = check_int(shape[1], "cols", where, lower=1)
        self.shape = (self.rows, self.cols)
        self.n_states = self.rows * self.cols
        self.horizon = check_int(horizon, "horizon", where, lower=1)
        self.slip = check_real(slip, "slip", where, lower=0.0, upper=1.0)
        if isinstance(start, numbers.Integral) and not isinstance(start, (bool, np.bool_)):
            s = int(start)
        elif hasattr(start, "__len__") and len(start) == 2:
            r, c = start
            if not all(isinstance(v, numbers.Integral) for v in (r, c)) or not (0 <= r < self.rows and 0 <= c < self.cols):
                raise InvalidInputError(f"{where}: start {start!r} is not a cell of the {self.rows}x{self.cols} grid")
            s = int(r) * self.cols + int(c)
        else:
            raise InvalidInputError(f"{where}: start must be a cell (r, c) or a state index, got {start!r}")
        if not 0 <= s < self.n_states:
            raise InvalidInputError(f"{where}: start {start!r} is not a cell of the {self.rows}x{self.cols} grid")
        self.start = s
        if objective is None:
            objective = GraphCoverage(self.shape, radius=1)
        if not isinstance(objective, SubmodularFunction):
            raise InvalidInputError(f"{where}: objective must be a planning.submodular objective, "
                                    f"got {type(objective).__name__}")
        if objective.n != self.n_states:
            raise InvalidInputError(f"{where}: objective has {objective.n} elements but the grid has "
                                    f"{self.n_states} cells")
        self.objective = objective
        nxt = np.zeros((self.n_states, 5), dtype=np.int64)
        for s in range(self.n_states):
            r, c = divmod(s, self.cols)
            for a, (_, dr, dc) in enumerate(ACTIONS):
                rr, cc = r + dr, c + dc
                nxt[s, a] = rr * self.cols + cc if (0 <= rr < self.rows and 0 <= cc < self.cols) else s
        #: ``next_state[s, a]``: the cell reached by executing action ``a`` in cell ``s``.
        self.next_state = nxt

    def cell(self, state: int) -> tuple[int, int]:
        """``(row, col)`` of a state index."""
        return divmod(int(state), self.cols)

    def action_probs(self) -> np.ndarray:
        """``E[e, a]``: probability that intended action ``a`` is executed as ``e``."""
        return (1.0 - self.slip) * np.eye(5) + self.slip / 5.0

    def transition_probs(self) -> np.ndarray:
        """``P[s, a, s']`` of the grid (5 actions, slip included)."""
        P = np.zeros((self.n_states, 5, self.n_states))
        E = self.action_probs()
        for s in range(self.n_states):
            for a in range(5):
                for e in range(5):
                    P[s, a, self.next_state[s, e]] += E[e, a]
        return P

    def value(self, cells: Any) -> float:
        """``F`` of the set of visited cells."""
        return float(self.objective.evaluate(np.unique(np.asarray(cells, dtype=np.int64))))

    def optimal_value(self, *, max_states: int = 2_000_000) -> float:
        """The best expected ``F`` over all history-dependent policies, by exact dynamic programming.

        ``(t, cell, visited set)`` is a sufficient statistic, so the recursion
        ``V_t(s, V) = max_a sum_s' P(s'|s,a) V_{t+1}(s', V + s')`` with ``V_T(s, V) = F(V)`` is
        exact. Meant for small grids and horizons; raises when more than ``max_states``
        statistics would be visited.
        """
        P = self.transition_probs()
        F_cache: dict[int, float] = {}
        count = [0]

        def F(mask: int) -> float:
            if mask not in F_cache:
                F_cache[mask] = self.objective.evaluate([i for i in range(self.n_states) if mask >> i & 1])
            return F_cache[mask]

        @lru_cache(maxsize=None)
        def V(t: int, s: int, mask: int) -> float:
            count[0] += 1
            if count[0] > max_states:
                raise InvalidInputError(f"GridWorld.optimal_value(): more than {max_states} states; the instance is too "
                                        f"large to enumerate")
            if t == self.horizon:
                return F(mask)
            best = -math.inf
            for a in range(5):
                v = 0.0
                for s2 in np.flatnonzero(P[s, a]):
                    v += P[s, a, s2] * V(t + 1, int(s2), mask | (1 << int(s2)))
                best = max(best, v)
            return best

        return float(V(0, self.start, 1 << self.start))


# ============================================================================ results
@dataclass(frozen=True)
class Rollout:
    """A batch of episodes (torch tensors on the agent's device).

    ``cells`` (B, T+1) visited states, ``actions`` (B, T) intended actions, ``rewards`` (B, T)
    the training rewards (marginal gains, or singleton values for modular RL), ``values`` (B,)
    ``F`` of each episode's visited set.
    """

    cells: Any
    actions: Any
    rewards: Any
    values: Any


@dataclass(frozen=True)
class SubPOConfig(TrainingConfig):
    """The settings of :class:`SubPO` (frozen; validated by :meth:`resolve`; recorded in the
    training result's ``params["config"]`` and in every checkpoint).

    Attributes
    ----------
    policy : {"markov", "history"}
        ``"markov"``: a softmax table ``theta[t, cell, action]`` (Markov in the cell and the
        time); ``"history"``: an MLP over (cell, time, visited-cells mask).
    reward : {"submodular", "modular"}
        Marginal gains (SubPO) or the singleton value of each visited cell (modular RL).
    lr : float
        Adam step size.
    batch_size : int
        Episodes per gradient step.
    baseline : bool
        Subtract the leave-one-out batch mean of the reward-to-go at each step (unbiased).
    entropy_coef : float
        Weight of an entropy bonus (0: plain policy gradient).
    hidden : int
        Width of the history policy's hidden layers.
    threads : int, optional
        torch intra-op threads on CPU while the agent computes (default 1: the tensors are
        small, and spinning thread pools only slow them down); restored afterwards. ``None``
        leaves torch's setting alone.
    seed : int, numpy Generator or None
        Drives the policy's initialisation and all rollouts. Default 0 (reproducible); ``None``
        draws a fresh root from the operating system. The resolved integer is what the config
        holds after validation, so a result or checkpoint always records the seed that
        reproduces it.
    """

    policy: str = "markov"
    reward: str = "submodular"
    lr: float = 0.1
    batch_size: int = 64
    baseline: bool = True
    entropy_coef: float = 0.0
    hidden: int = 64
    threads: Optional[int] = 1
    seed: Any = 0

    def validated(self, where: str) -> "SubPOConfig":
        if not isinstance(self.baseline, (bool, np.bool_)):
            raise InvalidInputError(f"{where}: baseline must be True or False, got {self.baseline!r}")
        return self.replace_fields(
            policy=check_choice(self.policy, "policy", where, ("markov", "history")),
            reward=check_choice(self.reward, "reward", where, ("submodular", "modular")),
            lr=check_real(self.lr, "lr", where, lower=0.0, lower_strict=True),
            batch_size=check_int(self.batch_size, "batch_size", where, lower=2),
            baseline=bool(self.baseline),
            entropy_coef=check_real(self.entropy_coef, "entropy_coef", where, lower=0.0),
            hidden=check_int(self.hidden, "hidden", where, lower=1),
            threads=None if self.threads is None else check_int(self.threads, "threads", where, lower=1),
            seed=resolve_seed(self.seed, where=where).root)


# ============================================================================ agent
def _torch():
    import torch

    return torch


class SubPO:
    """Submodular policy optimisation on a :class:`GridWorld`.

    Parameters
    ----------
    env : GridWorld
    config : SubPOConfig, optional
        The settings (policy kind, reward, step size, batch size, baseline, entropy bonus,
        hidden width, threads, seed); default ``SubPOConfig()``.
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` picks CUDA when available (where the agent runs, not a setting of the
        algorithm: not recorded in checkpoints).
    **overrides
        Keyword overrides of ``config`` fields (``SubPO(env, lr=0.3, seed=0)``); unknown names
        are an :class:`~engine.errors.InvalidInputError`.

    Examples
    --------
    >>> env = GridWorld((3, 3), horizon=4)
    >>> agent = SubPO(env, lr=0.3, batch_size=32, seed=0)
    >>> res = agent.train(60)
    >>> res.status.name, res.objective > 6.0
    ('FEASIBLE', True)
    """

    def __init__(self, env: GridWorld, *, config: Optional[SubPOConfig] = None, device: str = "auto",
                 **overrides: Any) -> None:
        where = f"{type(self).__name__}()"
        if not isinstance(env, GridWorld):
            raise InvalidInputError(f"{where}: env must be a GridWorld, got {type(env).__name__}")
        self.env = env
        self.config = SubPOConfig.resolve(config, overrides, where)
        device = check_choice(device, "device", where, ("auto", "cpu", "cuda"))
        torch = _torch()
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise InvalidInputError(f"{where}: device 'cuda' requested but CUDA is not available")
        self.device = torch.device(device)
        self.seed = resolve_seed(self.config.seed, where=where)
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(self.seed.int_seed("rollouts", bits=63))
        self._next = torch.as_tensor(env.next_state, device=self.device)
        self._build_policy()
        self.optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr)

    @property
    def policy_kind(self) -> str:
        """``"markov"`` or ``"history"`` (``config.policy``)."""
        return self.config.policy

    @property
    def reward(self) -> str:
        """``"submodular"`` or ``"modular"`` (``config.reward``)."""
        return self.config.reward

    # ---------------------------------------------------------------- policy
    @contextmanager
    def _threads(self):
        torch = _torch()
        threads = self.config.threads
        if threads is None or self.device.type != "cpu":
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def _build_policy(self) -> None:
        torch = _torch()
        env = self.env
        T, S = env.horizon, env.n_states
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed.int_seed("init", bits=63))
            if self.policy_kind == "markov":
                self.theta = torch.nn.Parameter(torch.zeros(T, S, 5, dtype=torch.float64, device=self.device))
                self.net = None
            else:
                self.theta = None
                self.net = torch.nn.Sequential(
                    torch.nn.Linear(2 * S + T, self.config.hidden), torch.nn.Tanh(),
                    torch.nn.Linear(self.config.hidden, self.config.hidden), torch.nn.Tanh(),
                    torch.nn.Linear(self.config.hidden, 5)).to(self.device)
                with torch.no_grad():
                    self.net[-1].weight.mul_(0.01)
                    self.net[-1].bias.zero_()

    def parameters(self) -> list:
        """The trainable torch parameters."""
        if self.theta is not None:
            return [self.theta]
        assert self.net is not None  # the history policy has a network instead of a table
        return list(self.net.parameters())

    def logits(self, t: int, cells: Any, visited: Any = None) -> Any:
        """Action logits at time ``t`` for a batch of cells (and visited masks, history policy)."""
        torch = _torch()
        if self.theta is not None:
            return self.theta[t, cells]
        S, T = self.env.n_states, self.env.horizon
        B = cells.shape[0]
        x = torch.zeros(B, 2 * S + T, device=self.device)
        x[torch.arange(B, device=self.device), cells] = 1.0
        x[:, S:2 * S] = visited.float()
        x[:, 2 * S + t] = 1.0
        assert self.net is not None  # the history policy has a network instead of a table
        return self.net(x)

    # ---------------------------------------------------------------- rollouts
    def rollout(self, n_episodes: int, *, greedy: bool = False) -> Rollout:
        """Simulate ``n_episodes`` episodes in parallel with the current policy."""
        with self._threads():
            return self._rollout(n_episodes, greedy)

    def _rollout(self, n_episodes: int, greedy: bool) -> Rollout:
        torch = _torch()
        n = check_int(n_episodes, "n_episodes", "SubPO.rollout()", lower=1)
        env = self.env
        T, S = env.horizon, env.n_states
        dev = self.device
        cells = torch.empty(n, T + 1, dtype=torch.long, device=dev)
        actions = torch.empty(n, T, dtype=torch.long, device=dev)
        cells[:, 0] = env.start
        visited = torch.zeros(n, S, dtype=torch.bool, device=dev)
        visited[:, env.start] = True
        rows = torch.arange(n, device=dev)
        with torch.no_grad():
            for t in range(T):
                logits = self.logits(t, cells[:, t], visited)
                if greedy:
                    a = logits.argmax(dim=1)
                else:
                    a = torch.multinomial(torch.softmax(logits.double(), dim=1), 1, generator=self._gen).squeeze(1)
                executed = a
                if env.slip > 0:
                    slip = torch.rand(n, generator=self._gen, device=dev) < env.slip
                    rnd = torch.randint(0, 5, (n,), generator=self._gen, device=dev)
                    executed = torch.where(slip, rnd, a)
                actions[:, t] = a
                cells[:, t + 1] = self._next[cells[:, t], executed]
                visited[rows, cells[:, t + 1]] = True
        rewards, values = self.rewards(cells)
        return Rollout(cells=cells, actions=actions, rewards=rewards, values=values)

    def rewards(self, cells: Any) -> tuple:
        """``(training rewards (B, T), F of each episode (B,))`` for a batch of cell sequences."""
        torch = _torch()
        P = cells.detach().cpu().numpy()
        g = self.env.objective.path_gains(P)
        values = g.sum(axis=1)
        if self.reward == "modular":
            g = self.env.objective.path_gains(P, modular=True)
        r = torch.as_tensor(g[:, 1:], dtype=torch.float64, device=self.device)
        return r, torch.as_tensor(values, dtype=torch.float64, device=self.device)

    def log_probs(self, cells: Any, actions: Any) -> Any:
        """``log pi(a_t | h_t)`` (B, T) of given episodes under the current policy (differentiable)."""
        torch = _torch()
        cells = torch.as_tensor(cells, dtype=torch.long, device=self.device)
        actions = torch.as_tensor(actions, dtype=torch.long, device=self.device)
        B, T = actions.shape
        out = []
        visited = torch.zeros(B, self.env.n_states, dtype=torch.bool, device=self.device)
        rows = torch.arange(B, device=self.device)
        visited[rows, cells[:, 0]] = True
        for t in range(T):
            lp = torch.log_softmax(self.logits(t, cells[:, t], visited).double(), dim=1)
            out.append(lp.gather(1, actions[:, t:t + 1]).squeeze(1))
            visited = visited.clone()
            visited[rows, cells[:, t + 1]] = True
        return torch.stack(out, dim=1)

    def surrogate(self, cells: Any, actions: Any, rewards: Any, *, weights: Any = None,
                  baseline: Optional[bool] = None) -> Any:
        """A scalar whose gradient is minus the policy-gradient estimate.

        ``loss = -sum_b w_b sum_t log pi(a_t^b | h_t^b) (G_t^b - b_t^b)`` with the reward-to-go
        ``G_t = sum_{t' >= t} r_t'``; ``w_b = 1/B`` unless ``weights`` are given (e.g. the exact
        probabilities of enumerated episodes, which makes the gradient exact). The baseline is
        the leave-one-out batch mean of ``G_t`` (default: the agent's ``baseline`` setting).
        """
        torch = _torch()
        rewards = torch.as_tensor(rewards, dtype=torch.float64, device=self.device)
        B = rewards.shape[0]
        G = torch.flip(torch.cumsum(torch.flip(rewards, [1]), 1), [1])
        use_baseline = self.config.baseline if baseline is None else bool(baseline)
        if use_baseline and B > 1:
            G = G - (G.sum(0, keepdim=True) - G) / (B - 1)
        w = torch.full((B,), 1.0 / B, dtype=torch.float64, device=self.device) if weights is None else \
            torch.as_tensor(weights, dtype=torch.float64, device=self.device)
        lp = self.log_probs(cells, actions)
        loss = -(w * (lp * G).sum(1)).sum()
        if self.config.entropy_coef > 0:
            loss = loss - self.config.entropy_coef * self._entropy(cells)
        return loss

    def _entropy(self, cells: Any) -> Any:
        torch = _torch()
        B = cells.shape[0]
        visited = torch.zeros(B, self.env.n_states, dtype=torch.bool, device=self.device)
        rows = torch.arange(B, device=self.device)
        visited[rows, cells[:, 0]] = True
        ent = 0.0
        for t in range(self.env.horizon):
            lp = torch.log_softmax(self.logits(t, cells[:, t], visited).double(), dim=1)
            ent = ent - (lp.exp() * lp).sum(1).mean()
            visited = visited.clone()
            visited[rows, cells[:, t + 1]] = True
        return ent

    def gradient(self, n_episodes: Optional[int] = None) -> Any:
        """One sampled policy-gradient estimate of ``E[F]`` (a flat tensor; ascent direction)."""
        torch = _torch()
        with self._threads():
            ro = self.rollout(n_episodes or self.config.batch_size)
            params = self.parameters()
            loss = self.surrogate(ro.cells, ro.actions, ro.rewards)
            grads = torch.autograd.grad(loss, params)
        return -torch.cat([g.reshape(-1) for g in grads])

    # ---------------------------------------------------------------- training
    def train(self, n_iterations: int = 200, *, callback: Any = None,
              time_limit: Optional[float] = None) -> TrainingResult:
        """Run ``n_iterations`` policy-gradient steps of ``config.batch_size`` episodes each.

        ``callback`` receives an :class:`engine.events.Iteration` per step (``objective`` = the
        batch mean of ``F``, ``info["loss"]``), a :class:`engine.events.Progress` per step (a
        progress bar such as :class:`engine.progress.RichProgress` is one callback among others)
        and :class:`engine.events.Finished` at the end; raising ``StopIteration`` stops with
        status STOPPED.

        Returns
        -------
        engine.training.TrainingResult
            ``model`` is this agent, ``x`` its trained parameters (flattened, float64),
            ``history["return"]`` the mean ``F`` of the training batch at every iteration,
            ``objective`` the last one, ``episodes`` the episodes simulated, ``stats`` the
            iterations and the best batch mean. A run that used all ``n_iterations`` is FEASIBLE
            (a trained policy, not a proven optimum); TIME_LIMIT / STOPPED return the policy so far.
        """
        where = f"{type(self).__name__}.train()"
        n_iterations = check_int(n_iterations, "n_iterations", where, lower=0)
        time_limit = check_time_limit(time_limit, where)
        if callback is not None and not callable(callback):
            raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
        with self._threads():
            return self._train(n_iterations, callback, time_limit, where)

    def _train(self, n_iterations: int, callback: Any, time_limit: Optional[float], where: str) -> TrainingResult:
        torch = _torch()
        t0 = time.perf_counter()
        batch = self.config.batch_size
        history: list[float] = []
        status, message = Status.FEASIBLE, f"{n_iterations} iterations done"
        for it in range(n_iterations):
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                status, message = Status.TIME_LIMIT, "time limit reached"
                break
            ro = self.rollout(batch)
            loss = self.surrogate(ro.cells, ro.actions, ro.rewards)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            mean = float(ro.values.mean())
            history.append(mean)
            stop = emit(callback, Iteration(where, nit=it + 1, objective=mean, info={"loss": float(loss.detach())}))
            stop = emit(callback, Progress(where, completed=it + 1, total=n_iterations)) or stop
            if stop:
                status, message = Status.STOPPED, "stopped by the callback"
                break
        hist = np.asarray(history, dtype=np.float64)
        params = {"config": self.config.to_dict(), "seed": self.seed.root, "device": str(self.device),
                  "n_iterations": n_iterations, "time_limit": time_limit, "horizon": self.env.horizon,
                  "slip": self.env.slip}
        with torch.no_grad():
            x = torch.cat([p.detach().reshape(-1).double().cpu() for p in self.parameters()]).numpy()
        result = TrainingResult(status=status, message=message, x=x,
                                objective=float(hist[-1]) if hist.size else math.nan, nit=len(history),
                                runtime=time.perf_counter() - t0, method=type(self).__name__, backend="torch",
                                params=params, model=self, episodes=len(history) * batch, history={"return": hist},
                                stats={"iterations": len(history),
                                       "best_value": float(hist.max()) if hist.size else math.nan})
        emit(callback, Finished(where, result=result))
        return result

    def evaluate(self, n_episodes: int = 256, *, greedy: bool = False) -> float:
        """Mean ``F`` over ``n_episodes`` fresh episodes (``greedy``: argmax actions)."""
        return float(self.rollout(n_episodes, greedy=greedy).values.mean())

    def act(self, cell: Any, t: int, visited: Any = None, *, greedy: bool = True) -> int:
        """The action in ``cell`` (index or ``(r, c)``) at time ``t`` given the visited cells."""
        torch = _torch()
        where = f"{type(self).__name__}.act()"
        env = self.env
        if isinstance(cell, tuple):
            cell = cell[0] * env.cols + cell[1]
        cell = check_int(cell, "cell", where, lower=0, upper=env.n_states - 1)
        t = check_int(t, "t", where, lower=0, upper=env.horizon - 1)
        mask = torch.zeros(1, env.n_states, dtype=torch.bool, device=self.device)
        mask[0, cell] = True
        if visited is not None:
            idx = np.asarray(list(visited), dtype=np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= env.n_states):
                raise InvalidInputError(f"{where}: visited holds a cell outside the grid")
            mask[0, torch.as_tensor(idx, device=self.device)] = True
        with torch.no_grad():
            logits = self.logits(t, torch.tensor([cell], device=self.device), mask)
            if greedy:
                return int(logits.argmax(dim=1)[0])
            return int(torch.multinomial(torch.softmax(logits.double(), 1), 1, generator=self._gen)[0, 0])

    # ---------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """The agent's settings and policy parameters: ``{"config": SubPOConfig fields plus
        "grid" and "horizon", "params": [tensors on the CPU]}`` (what :meth:`save` writes)."""
        return {"config": {**self.config.to_dict(), "grid": [self.env.rows, self.env.cols],
                           "horizon": self.env.horizon},
                "params": [p.detach().cpu() for p in self.parameters()]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy the policy parameters of a :meth:`state_dict` into this agent (same policy kind,
        grid and horizon; the settings in ``state["config"]`` are not changed here, see :meth:`load`)."""
        torch = _torch()
        where = f"{type(self).__name__}.load_state_dict()"
        if not isinstance(state, Mapping) or "params" not in state:
            raise InvalidInputError(f"{where}: state must be a mapping with 'params'")
        params, mine = list(state["params"]), self.parameters()
        if len(params) != len(mine) or any(tuple(v.shape) != tuple(p.shape) for v, p in zip(params, mine)):
            raise InvalidInputError(f"{where}: the parameters do not fit a {self.policy_kind} policy of this grid")
        with torch.no_grad():
            for p, v in zip(mine, params):
                p.copy_(torch.as_tensor(v, dtype=p.dtype).to(p.device))

    def save(self, path: Any) -> None:
        """Write :meth:`state_dict` to ``path`` (atomically): a versioned, SHA-256-checksummed
        :mod:`engine.checkpoint` file (kind ``"planning.subrl.SubPO"``, version 2)."""
        checkpoint.write(path, self.state_dict(), kind=_KIND, version=_VERSION)

    @classmethod
    def load(cls, path: Any, env: GridWorld, *, device: str = "auto", max_parameters: Optional[int] = None,
             max_bytes: Optional[int] = None) -> "SubPO":
        """Rebuild an agent written by :meth:`save` for ``env`` (same grid and horizon).

        The file is treated as untrusted input: the container is checked by
        :func:`engine.checkpoint.read` (checksum, format, kind, version; files of the earlier plain
        torch format are refused), then the exact key sets, every option's type and range
        (:meth:`SubPOConfig.from_dict`), ``threads`` (capped at this machine's CPU count), and the
        parameters' number, shapes, dtypes and finite values. ``max_parameters`` (default
        :data:`engine.checkpoint.MAX_PARAMETERS`, 10 million) bounds the policy's parameters and a
        rollout batch's network inputs, checked before anything is built; ``max_bytes`` (default
        :data:`engine.checkpoint.MAX_BYTES`, 1 GiB) the file size. Every failure is an
        :class:`~engine.errors.InvalidInputError` naming the file.
        """
        where = f"{cls.__name__}.load()"
        if not isinstance(env, GridWorld):
            raise InvalidInputError(f"{where}: env must be a GridWorld, got {type(env).__name__}")
        check_choice(device, "device", where, ("auto", "cpu", "cuda"))
        max_parameters = check_int(checkpoint.MAX_PARAMETERS if max_parameters is None else max_parameters,
                                   "max_parameters", where, lower=1)
        max_bytes = check_int(checkpoint.MAX_BYTES if max_bytes is None else max_bytes, "max_bytes", where, lower=1)
        ck = checkpoint.read(path, kind=_KIND, versions=(_VERSION,), where=where, max_bytes=max_bytes)
        ck.mapping((), keys=("config", "params"))
        cfg = dict(ck.mapping("config", keys=("policy", "reward", "lr", "batch_size", "baseline", "entropy_coef",
                                              "hidden", "seed", "threads", "grid", "horizon")))
        grid = [ck.integer(("config", "grid", i)) for i in range(len(ck.sequence("config.grid", 2)))]
        horizon = ck.integer("config.horizon")
        cfg.pop("grid"), cfg.pop("horizon")
        if grid != [env.rows, env.cols] or horizon != env.horizon:
            raise InvalidInputError(f"{where}: the saved policy was trained on another grid or horizon "
                                    f"({grid}, horizon {horizon}; env: {[env.rows, env.cols]}, horizon {env.horizon})")
        kind = ck.string("config.policy", ("markov", "history"))
        ck.string("config.reward", ("submodular", "modular"))
        hidden = ck.integer("config.hidden", lower=1, upper=checkpoint.MAX_OPTION)
        batch = ck.integer("config.batch_size", lower=2, upper=checkpoint.MAX_OPTION)
        ck.integer("config.seed", lower=0, upper=(1 << 128) - 1)
        ck.real("config.lr")
        ck.real("config.entropy_coef")
        ck.boolean("config.baseline")
        cfg["threads"] = checkpoint.check_threads(cfg["threads"], "config.threads", ck.context)
        T, S = env.horizon, env.n_states
        width = 2 * S + T
        n_par = T * S * 5 if kind == "markov" else (width + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * 5
        checkpoint.check_limit(n_par, max_parameters, f"a {kind} policy with a number of parameters",
                               context=ck.context)
        checkpoint.check_limit(batch * width, max_parameters, f"config.batch_size x {width} network inputs",
                               context=ck.context)
        params = ck.sequence("params")
        try:
            agent = cls(env, config=SubPOConfig.from_dict(cfg, f"{cls.__name__}()"), device=device)
        except InvalidInputError as err:
            ck.fail(f"config: {err}")
        mine = agent.parameters()
        if len(params) != len(mine):
            ck.fail(f"params must hold {len(mine)} tensors for a {kind} policy, got {len(params)}")
        agent.load_state_dict({"params": [ck.tensor(("params", i), dtype=p.dtype, shape=tuple(p.shape))
                                          for i, p in enumerate(mine)]})
        return agent


class ModularRL(SubPO):
    """The "modular RL" baseline: :class:`SubPO` trained on the additive reward ``F({s_{t+1}})``,
    which counts every revisit as if it were new.

    Examples
    --------
    >>> env = GridWorld((3, 3), horizon=4)
    >>> ModularRL(env, seed=0).reward
    'modular'
    """

    def __init__(self, env: GridWorld, *, config: Optional[SubPOConfig] = None, device: str = "auto",
                 **overrides: Any) -> None:
        if "reward" in overrides:
            raise InvalidInputError("ModularRL(): the reward is always 'modular'")
        # config.reward is replaced, whatever it says: the class is the modular baseline
        super().__init__(env, config=config, device=device, **overrides, reward="modular")
