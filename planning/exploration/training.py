"""REINFORCE training of :class:`~planning.exploration.local.LearnedPolicy` under FARE waypoints.

:func:`train_policy` explores a fresh procedural map per episode with FARE (route strategist)
and the learned local policy in training mode, driving the simulation step by step through
:class:`~planning.exploration.explore.ExplorationEnv`. After each step the reward of the
policy's last decision (a :class:`~planning.exploration.local.Decision`) is

``r_t = new_free_cells / A - lambda_d * distance / R + (Phi(s_{t+1}) - Phi(s_t)) + bonus * [waypoint reached]``

where ``Phi(s) = -alpha * d_graph(robot, waypoint) / R`` is the potential-based waypoint
adherence term (``A = pi R^2 / 4``, ``R`` the sensor range of the map size); a grid-fallback
move is not the policy's decision, and its reward is folded into the previous one. Returns are
discounted by ``gamma`` and normalised per episode (a baseline); ``entropy`` weights an entropy
bonus. Settings are one frozen :class:`ExplorationTrainingConfig`; the run returns the shared
:class:`engine.training.TrainingResult`. torch is imported inside :func:`train_policy` (heavy;
the rest of the package does not need it).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.events import Finished, Iteration, Progress, emit
from engine.seeding import Seed, resolve_seed
from engine.status import Status
from engine.training import TrainingConfig, TrainingResult
from engine.validation import check_int, check_real, check_time_limit
from planning.exploration.explore import FARE, ExplorationEnv
from planning.exploration.local import LearnedPolicy
from planning.exploration.maps import MAP_KINDS, generate

__all__ = ["ExplorationTrainingConfig", "train_policy"]


@dataclass(frozen=True)
class ExplorationTrainingConfig(TrainingConfig):
    """The settings of :func:`train_policy` (frozen; validated by :meth:`resolve`; recorded in
    the result's ``params["config"]``).

    Attributes
    ----------
    episodes : int
        Training episodes (one fresh map each).
    maps : tuple of str
        Map kinds, cycled through (see :data:`~planning.exploration.maps.MAP_KINDS`).
    size : int
        Map size in cells (50 to 1000).
    max_steps : int
        Step budget of an episode.
    lr : float
        Adam step size.
    gamma : float
        Discount of the returns, in [0, 1].
    distance_cost, adherence, waypoint_bonus : float
        ``lambda_d``, ``alpha`` and the bonus of the reward (see the module docs).
    entropy : float
        Weight of the entropy bonus.
    checkpoint_every : int
        Episodes between checkpoints (with a ``checkpoint_dir``).
    seed : int, numpy Generator or None
        Drives the initial weights of a new policy, every map, every exploration and every sampled
        decision. Default 0 (reproducible); None draws a fresh root. The resolved integer is what
        the config holds after validation, so the result records the seed that reproduces it.
    """

    episodes: int = 60
    maps: tuple = ("indoor", "forest", "warehouse")
    size: int = 50
    max_steps: int = 150
    lr: float = 3e-3
    gamma: float = 0.97
    distance_cost: float = 0.05
    adherence: float = 0.3
    waypoint_bonus: float = 0.5
    entropy: float = 0.01
    checkpoint_every: int = 20
    seed: Any = 0

    def validated(self, where: str) -> "ExplorationTrainingConfig":
        maps = self.maps
        if isinstance(maps, str) or not hasattr(maps, "__len__") or not maps:
            raise InvalidInputError(f"{where}: maps must be a non-empty sequence of map kinds, got {maps!r}")
        for k in maps:
            if k not in MAP_KINDS:
                raise InvalidInputError(f"{where}: unknown map kind {k!r}; choose from {list(MAP_KINDS)}")
        return self.replace_fields(
            episodes=check_int(self.episodes, "episodes", where, lower=1), maps=tuple(str(k) for k in maps),
            size=check_int(self.size, "size", where, lower=50, upper=1000),
            max_steps=check_int(self.max_steps, "max_steps", where, lower=1),
            lr=check_real(self.lr, "lr", where, lower=0.0, lower_strict=True),
            gamma=check_real(self.gamma, "gamma", where, lower=0.0, upper=1.0),
            distance_cost=check_real(self.distance_cost, "distance_cost", where),
            adherence=check_real(self.adherence, "adherence", where),
            waypoint_bonus=check_real(self.waypoint_bonus, "waypoint_bonus", where),
            entropy=check_real(self.entropy, "entropy", where),
            checkpoint_every=check_int(self.checkpoint_every, "checkpoint_every", where, lower=1),
            seed=resolve_seed(self.seed, where=where).root)


def train_policy(policy: Optional[LearnedPolicy] = None, *, config: Optional[ExplorationTrainingConfig] = None,
                 device: Optional[str] = None, callback: Optional[Callable] = None, checkpoint_dir: Any = None,
                 time_limit: Optional[float] = None, **overrides: Any) -> TrainingResult:
    """Train a :class:`LearnedPolicy` with REINFORCE under FARE (route strategist) waypoints.

    Parameters
    ----------
    policy : LearnedPolicy, optional
        The policy to train further (default: a new one seeded from ``seed``).
    config : ExplorationTrainingConfig, optional
        The settings; keyword ``overrides`` replace its fields (``train_policy(episodes=5,
        seed=0)``); unknown names are an :class:`~engine.errors.InvalidInputError`.
    device : str, optional
        Torch device (default: the policy's; CUDA when available for a new one).
    callback : callable, optional
        Receives ``Progress`` per episode and an ``Iteration`` with the episode return
        (``info``: explored share and distance), then ``Finished``; StopIteration stops training
        (status STOPPED, the policy so far is returned).
    checkpoint_dir : path, optional
        ``policy_<episode>.pt`` every ``checkpoint_every`` episodes and ``policy_final.pt``.
    time_limit : float, optional
        Wall-clock seconds, checked between episodes (TIME_LIMIT).

    Returns
    -------
    engine.training.TrainingResult
        ``model``: the policy; ``x``: its weights, flattened (float64); ``history``:
        ``"return"``, ``"explored"`` (share at the episode's end) and ``"distance"`` per episode;
        ``objective``: the mean return. FEASIBLE after all ``episodes``.

    Examples
    --------
    >>> res = train_policy(episodes=1, size=50, max_steps=5, seed=0)
    >>> res.status.name, res.curve("return").shape
    ('FEASIBLE', (1,))
    """
    import torch

    where = "train_policy()"
    cfg = ExplorationTrainingConfig.resolve(config, overrides, where)
    time_limit = check_time_limit(time_limit, where)
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    s = resolve_seed(cfg.seed, where=where)
    if policy is None:
        policy = LearnedPolicy(seed=s.int_seed("init"), device=device)
    elif not isinstance(policy, LearnedPolicy):
        raise InvalidInputError(f"{where}: policy must be a LearnedPolicy, got {type(policy).__name__}")
    elif device is not None:
        policy.to(device)
    torch.manual_seed(s.int_seed("torch", bits=63))
    opt = torch.optim.Adam(policy.net.parameters(), lr=cfg.lr)
    threads = torch.get_num_threads()
    if policy.device == "cpu":
        torch.set_num_threads(1)  # tiny per-step batches: one thread is fastest; restored below
    try:
        return _train_loop(policy, opt, s, cfg, callback, checkpoint_dir, time_limit)
    finally:
        torch.set_num_threads(threads)


def _episode_rewards(env: ExplorationEnv, policy: LearnedPolicy, cfg: ExplorationTrainingConfig) -> list[float]:
    """Run one episode (at most ``cfg.max_steps`` steps) with the policy in training mode; the
    reward of each recorded decision (see the module docs)."""
    R = max(3.0, round(cfg.size / 10))
    area = math.pi * R * R / 4.0
    rewards: list[float] = []
    state = env.reset()
    for _ in range(cfg.max_steps):
        if env.done:
            break
        info = env.step()
        if info.stuck:  # pragma: no cover - a frontier is always reachable
            break
        r = info.new_free / area - cfg.distance_cost * info.distance / R
        if info.fallback or len(policy.trace) <= len(rewards):
            # a grid-fallback move is not the policy's decision: fold its reward into the last one
            if rewards:
                rewards[-1] += r
            continue
        decision = policy.trace[-1]
        wp = decision.waypoint
        if wp is not None:
            after = state.dist_from(int(wp))[state.robot]
            if np.isfinite(decision.distance_before) and np.isfinite(after):
                r += cfg.adherence * (decision.distance_before - after) / R
            if state.robot == wp:
                r += cfg.waypoint_bonus
        rewards.append(r)
    return rewards


def _train_loop(policy: LearnedPolicy, opt: Any, s: Seed, cfg: ExplorationTrainingConfig,
                callback: Optional[Callable], checkpoint_dir: Any, time_limit: Optional[float]) -> TrainingResult:
    import torch

    policy.sample_generator = s.torch_generator("sample")
    policy.training_config = cfg.to_dict()  # saved with every checkpoint of this run
    t0 = time.perf_counter()
    rets: list[float] = []
    expl: list[float] = []
    dists: list[float] = []
    ckpts: list[str] = []
    status, msg = Status.FEASIBLE, f"trained {cfg.episodes} episodes"
    for ep in range(cfg.episodes):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            status, msg = Status.TIME_LIMIT, f"time limit after {ep} episodes"
            break
        kind = cfg.maps[ep % len(cfg.maps)]
        env = ExplorationEnv(generate(kind, cfg.size, seed=s.int_seed(f"map/{ep}")),
                             FARE(local=policy, name="fare_learned"), seed=s.int_seed(f"explore/{ep}"),
                             where="train_policy()")
        policy.trace = []
        policy.training = True
        try:
            rewards = _episode_rewards(env, policy, cfg)
        finally:
            policy.training = False
        trace = policy.trace[: len(rewards)]
        policy.trace = []
        ep_ret = float(sum(rewards))
        if trace:
            G = np.zeros(len(trace))
            acc = 0.0
            for t in range(len(trace) - 1, -1, -1):
                acc = rewards[t] + cfg.gamma * acc
                G[t] = acc
            G = (G - G.mean()) / (G.std() + 1e-8) if len(G) > 1 else G * 0.0
            logp = torch.stack([d.log_prob for d in trace])
            ent = torch.stack([d.entropy for d in trace])
            loss = (-(logp * torch.as_tensor(G, dtype=torch.float32, device=policy.device)).mean()
                    - cfg.entropy * ent.mean())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.net.parameters(), 1.0)
            opt.step()
            policy.weights_changed()
        policy.trained_episodes += 1
        rets.append(ep_ret)
        expl.append(float(env.explored[-1]))
        dists.append(float(env.distance[-1]))
        if checkpoint_dir is not None and ((ep + 1) % cfg.checkpoint_every == 0):
            ckpts.append(str(policy.save(Path(checkpoint_dir) / f"policy_{ep + 1}.pt")))
        stop = emit(callback, Progress("train_policy", completed=ep + 1, total=cfg.episodes, description=kind))
        stop = emit(callback, Iteration("train_policy", nit=ep + 1, objective=ep_ret,
                                        info={"explored": expl[-1], "distance": dists[-1]})) or stop
        if stop:
            status, msg = Status.STOPPED, f"stopped after {ep + 1} episodes"
            break
    if checkpoint_dir is not None:
        ckpts.append(str(policy.save(Path(checkpoint_dir) / "policy_final.pt")))
    policy.sample_generator = None
    params = {"config": cfg.to_dict(), "seed": s.root, "device": policy.device, "time_limit": time_limit,
              "policy": policy.config()}
    with torch.no_grad():
        x = torch.cat([p.detach().reshape(-1).double().cpu() for p in policy.net.parameters()]).numpy()
    result = TrainingResult(status=status, message=msg, x=x, objective=float(np.mean(rets)) if rets else math.nan,
                            nit=len(rets), runtime=time.perf_counter() - t0, method="reinforce", backend="torch",
                            params=params, model=policy, episodes=len(rets),
                            history={"return": np.asarray(rets), "explored": np.asarray(expl),
                                     "distance": np.asarray(dists)},
                            checkpoints=tuple(ckpts))
    emit(callback, Finished("train_policy", result=result))
    return result
