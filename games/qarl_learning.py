"""QARL's learning version: SAC protagonist against a temperature-conditioned SAC adversary.

The settings (:class:`QARLConfig`), the trained agent (:class:`QARLAgent`, ``save`` / :func:`load`),
the training loop (:func:`train`, returning :class:`engine.training.TrainingResult`) and the
robustness evaluation (:func:`evaluate_robustness`). The curricula and the self-paced teacher are in
:mod:`games.qarl`, which also serves every name of this module; the learner is :mod:`games.sac`.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch

from engine import checkpoint
from engine.errors import InvalidInputError
from engine.events import Iteration, Progress, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.training import TrainingConfig, TrainingResult
from engine.validation import as_float_array, check_choice, check_int, check_real, check_time_limit
from games.envs import AdversarialPointMass
from games.qarl import self_paced_step
from games.sac import NETWORKS, SAC, ReplayBuffer, sac_parameters

__all__ = ["QARLConfig", "TrainConfig", "QARLAgent", "RobustnessReport", "train", "load", "evaluate_robustness",
           "train_worst_case_adversary"]

#: Checkpoint kind and state layout of :meth:`QARLAgent.save` (:mod:`engine.checkpoint`). Files in
#: the earlier ``"qarl-agent-1"`` format (a plain torch pickle) are refused.
_KIND = "games.qarl.QARLAgent"
_VERSION = 2
_LEGACY = ("qarl-agent-1",)



# ============================================================================ learning version (SAC)
@dataclass(frozen=True)
class QARLConfig(TrainingConfig):
    """Settings of :func:`train` (frozen; recorded in the result's ``params["config"]`` and in every
    saved agent). Any field may also be given to :func:`train` as a keyword.

    Attributes
    ----------
    mode : {"qarl", "rarl", "none"}
        ``"qarl"``: the adversary temperature follows ``schedule``; ``"rarl"``: fixed at ``target``
        (a near-rational adversary from the start); ``"none"``: no adversary.
    schedule : {"self_paced", "linear", "geometric"}
        Curriculum of the adversary temperature for ``mode="qarl"``.
    total_steps, warmup : int
        Environment steps in all, and the first steps with uniformly random actions (no updates).
    batch_size, hidden : int
        SAC minibatch and hidden-layer width.
    lr, gamma, tau : float
        Adam step, discount, Polyak factor of the target critics.
    alpha : float
        The protagonist's entropy weight.
    start, target : float
        Initial mean and target (and RARL) adversary temperature, ``start >= target > 0``.
    start_shape, target_shape, kl_bound : float
        Gamma shapes of the initial and target temperature distributions; KL step bound of the
        self-paced teacher.
    threshold : float, optional
        Protagonist episode return the teacher requires (default: the environment's
        ``reference_return()``).
    update_every : int
        Environment steps per SAC update.
    device : {"cpu", "cuda"}, optional
        Default: CUDA when available.
    """

    mode: str = "qarl"
    schedule: str = "self_paced"
    total_steps: int = 4000
    warmup: int = 500
    batch_size: int = 128
    hidden: int = 64
    lr: float = 3e-3
    gamma: float = 0.97
    tau: float = 0.02
    alpha: float = 0.05
    start: float = 1.0
    target: float = 0.01
    start_shape: float = 2.0
    target_shape: float = 20.0
    kl_bound: float = 0.25
    threshold: Optional[float] = None
    update_every: int = 1
    device: Optional[str] = None

    def validated(self, where: str) -> "QARLConfig":
        check_choice(self.mode, "mode", where, ("qarl", "rarl", "none"))
        check_choice(self.schedule, "schedule", where, ("self_paced", "linear", "geometric"))
        ints = {name: check_int(getattr(self, name), name, where, lower=1 if name != "warmup" else 0)
                for name in ("total_steps", "warmup", "batch_size", "hidden", "update_every")}
        reals = {name: check_real(getattr(self, name), name, where, lower=0.0, lower_strict=True)
                 for name in ("lr", "tau", "start", "target", "start_shape", "target_shape", "kl_bound")}
        alpha = check_real(self.alpha, "alpha", where, lower=0.0)
        gamma = check_real(self.gamma, "gamma", where, lower=0.0, upper=1.0)
        if reals["target"] > reals["start"]:
            raise InvalidInputError(f"{where}: target ({reals['target']}) must be <= start ({reals['start']})")
        threshold = None if self.threshold is None else check_real(self.threshold, "threshold", where)
        if self.device is not None:
            check_choice(self.device, "device", where, ("cpu", "cuda"))
        return self.replace_fields(**ints, **reals, alpha=alpha, gamma=gamma, threshold=threshold)


#: The earlier name of :class:`QARLConfig`.
TrainConfig = QARLConfig


class QARLAgent:
    """A trained protagonist (SAC) with its temperature-conditioned adversary (None for ``mode="none"``)."""

    def __init__(self, env_params: Mapping[str, Any], config: QARLConfig, protagonist: SAC,
                 adversary: Optional[SAC]):
        self.env_params = dict(env_params)
        self.config = config
        self.protagonist = protagonist
        self.adversary = adversary

    def act(self, obs: Any, *, deterministic: bool = True) -> np.ndarray:
        """The protagonist's action for one observation."""
        return self.protagonist.act(np.asarray(obs, dtype=np.float32), deterministic)

    def state_dict(self) -> dict:
        """The config, the environment parameters and every network (what :meth:`save` writes)."""
        return {"config": self.config.to_dict(), "env_params": dict(self.env_params),
                "protagonist": self.protagonist.state_dict(),
                "adversary": None if self.adversary is None else self.adversary.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load the networks of :meth:`state_dict` (an agent built with the same config; trusted)."""
        self.protagonist.load_state_dict(state["protagonist"])
        if self.adversary is not None:
            self.adversary.load_state_dict(state["adversary"])

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Write :meth:`state_dict` to one file, atomically: a versioned, SHA-256-checksummed
        :mod:`engine.checkpoint` file (kind ``"games.qarl.QARLAgent"``, version 2) that :func:`load` reads."""
        checkpoint.write(path, self.state_dict(), kind=_KIND, version=_VERSION)


def _make_sac(env: AdversarialPointMass, cfg: QARLConfig, device: Any, seed_obj: Any, key: str,
              adversary: bool) -> SAC:
    torch.manual_seed(seed_obj.int_seed(f"torch.init.{key}", bits=63))
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed_obj.int_seed(f"torch.noise.{key}", bits=63))
    scale = env.adversary_max if adversary else env.action_max
    return SAC(env.obs_dim, 1, cfg.hidden, cfg.lr, cfg.gamma, cfg.tau, scale, 1 if adversary else 0, device, gen)


def load(path: "str | os.PathLike[str]", *, device: Optional[str] = None, max_parameters: Optional[int] = None,
         max_bytes: Optional[int] = None) -> QARLAgent:
    """Load an agent written by :meth:`QARLAgent.save`; the file is treated as untrusted input.

    Parameters
    ----------
    path : str or PathLike
    device : {"cpu", "cuda"}, optional
        Where the networks live (default CPU).
    max_parameters : int, optional
        Refuse a file whose declared ``hidden`` width implies more network parameters (protagonist
        and adversary together) than this (default :data:`engine.checkpoint.MAX_PARAMETERS`,
        10 million); checked before any network is built.
    max_bytes : int, optional
        Refuse larger files unread (default :data:`engine.checkpoint.MAX_BYTES`, 1 GiB).

    The container is checked by :func:`engine.checkpoint.read` (checksum, format, kind, version;
    files in the earlier ``"qarl-agent-1"`` format, which was unpickled with
    ``weights_only=False``, are refused), then the exact key sets, the config
    (:meth:`QARLConfig.from_dict`, as :func:`train` validates it; integer options at most
    :data:`engine.checkpoint.MAX_OPTION`), the environment parameters, and every network's keys,
    shapes, dtypes and finite values. Every failure is an :class:`~engine.errors.InvalidInputError`
    naming the file.

    Examples
    --------
    >>> # agent = load("agent.pt"); agent.act([0.5, 0.0])
    """
    where = "load()"
    if device is not None:
        check_choice(device, "device", where, ("cpu", "cuda"))
    max_parameters = check_int(checkpoint.MAX_PARAMETERS if max_parameters is None else max_parameters,
                               "max_parameters", where, lower=1)
    max_bytes = check_int(checkpoint.MAX_BYTES if max_bytes is None else max_bytes, "max_bytes", where, lower=1)
    ck = checkpoint.read(path, kind=_KIND, versions=(_VERSION,), where=where, max_bytes=max_bytes,
                         legacy=_LEGACY)
    ck.mapping((), keys=("config", "env_params", "protagonist", "adversary"))
    raw = ck.mapping("config", keys=tuple(QARLConfig.__dataclass_fields__))
    for name in ("total_steps", "warmup", "batch_size", "hidden", "update_every"):
        ck.integer(f"config.{name}", upper=checkpoint.MAX_OPTION)
    cfg = QARLConfig.from_dict(raw, f"{ck.context}: config")
    env_raw = ck.mapping("env_params", keys=tuple(AdversarialPointMass().params()))
    ck.integer("env_params.horizon", upper=checkpoint.MAX_OPTION)
    try:
        env = AdversarialPointMass(**env_raw)
    except InvalidInputError as err:
        ck.fail(f"env_params: {err}")
    adversary = ck.get("adversary")
    if (adversary is None) != (cfg.mode == "none"):
        ck.fail(f"adversary must be {'None' if cfg.mode == 'none' else 'saved'} for mode {cfg.mode!r}")
    total = sac_parameters(env.obs_dim, cfg.hidden, 0) + (0 if adversary is None else
                                                          sac_parameters(env.obs_dim, cfg.hidden, 1))
    checkpoint.check_limit(total, max_parameters, f"networks of hidden={cfg.hidden} with a number of parameters",
                           context=ck.context)
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"{where}: device='cuda' requested but CUDA is not available")
    dev = torch.device(device or "cpu")
    seed_obj = resolve_seed(0)
    prot = _make_sac(env, cfg, dev, seed_obj, "protagonist", False)
    adv = None if adversary is None else _make_sac(env, cfg, dev, seed_obj, "adversary", True)
    for name, learner in (("protagonist", prot), ("adversary", adv)):
        if learner is not None:  # check every network against the real one, then load it
            ck.mapping(name, keys=NETWORKS)
            for n in NETWORKS:
                ck.load_module((name, n), getattr(learner, n))
    return QARLAgent(env.params(), cfg, prot, adv)


def _device(cfg: QARLConfig) -> torch.device:
    if cfg.device is not None:
        if cfg.device == "cuda" and not torch.cuda.is_available():
            raise InvalidInputError("train(): device='cuda' requested but CUDA is not available")
        return torch.device(cfg.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_callback(callback: Any, where: str) -> None:
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")


def train(env: Any, /, config: Optional[QARLConfig] = None, *, seed: Any = 0, callback: Optional[Callable] = None,
          time_limit: Optional[float] = None, **options: Any) -> TrainingResult:
    """Train a SAC protagonist against a temperature-conditioned SAC adversary (QARL).

    Each episode draws the adversary temperature ``alpha_bar`` (self-paced: from the current Gamma
    distribution; linear/geometric: the scheduled value); the adversary, whose networks take
    ``alpha_bar`` as an extra input, maximises ``-reward + alpha_bar * entropy`` and the protagonist
    ``reward + alpha * entropy``. The self-paced teacher (:func:`self_paced_step`) moves the
    distribution towards the target only while the protagonist's recent episode returns stay
    above ``threshold``. ``mode="rarl"`` fixes ``alpha_bar = target`` (a near-rational adversary
    from the start); ``mode="none"`` trains without an adversary.

    Parameters
    ----------
    env : games.envs.AdversarialPointMass
        The two-player environment.
    config : QARLConfig, optional
        Settings; any field may also be given as a keyword (``total_steps=2000``), which overrides it.
    seed : int, Generator or None
        Drives torch initialisation, exploration noise, the environment and replay sampling.
        CPU runs with the same seed are reproducible.
    callback : callable, optional
        Receives an :class:`engine.events.Iteration` per episode (``objective`` = its return,
        ``info`` = temperature and step), then an :class:`engine.events.Progress` (environment steps
        done of ``total_steps``); ``StopIteration`` stops with status STOPPED.
    time_limit : float, optional
        Wall-clock seconds, checked before every environment step: on expiry training ends with
        status TIME_LIMIT and the agent as trained so far.

    Returns
    -------
    engine.training.TrainingResult
        ``model`` the :class:`QARLAgent` (``save`` / :func:`load`); ``episodes`` completed;
        ``history["return"]`` the protagonist's return of every episode and
        ``history["temperature"]`` its adversary temperature (0 without an adversary);
        ``objective`` the mean return over the last quarter of the episodes; ``params`` the config
        (``params["config"]``), ``mode``, the seed, the device, the threshold and the final
        temperature distribution; ``stats`` the steps and updates. A completed run is FEASIBLE.

    Examples
    --------
    >>> from games.envs import AdversarialPointMass
    >>> res = train(AdversarialPointMass(), total_steps=300, warmup=100, seed=0)   # doctest: +SKIP
    >>> res.model.act([0.5, 0.0]).shape                                            # doctest: +SKIP
    (1,)
    """
    where = "train()"
    if not isinstance(env, AdversarialPointMass):
        raise InvalidInputError(f"train(): env must be a games.envs.AdversarialPointMass, got {type(env).__name__}")
    cfg = QARLConfig.resolve(config, options, where)
    _check_callback(callback, where)
    tl = check_time_limit(time_limit, where)
    seed_obj = resolve_seed(seed, where=where)
    device = _device(cfg)
    t0 = time.perf_counter()
    deadline = math.inf if tl is None else t0 + tl
    rng = seed_obj.generator("qarl.train")
    env_rng = seed_obj.generator("qarl.env")
    prot = _make_sac(env, cfg, device, seed_obj, "protagonist", False)
    adv = _make_sac(env, cfg, device, seed_obj, "adversary", True) if cfg.mode != "none" else None
    buf = ReplayBuffer(env.obs_dim, 1, max(cfg.total_steps, 1))
    dist = (cfg.start_shape, cfg.start / cfg.start_shape)
    tgt = (cfg.target_shape, cfg.target / cfg.target_shape)
    threshold = cfg.threshold if cfg.threshold is not None else env.reference_return()
    returns: list = []
    temps: list = []
    ep_temps: list = []   # the teacher's batch: temperatures and returns since its last update
    ep_rets: list = []
    o = env.reset(env_rng)
    abar = _draw_temperature(cfg, dist, 0, rng)
    ep_ret = 0.0
    status, message = Status.FEASIBLE, f"{cfg.total_steps} environment steps"   # trained, not proven
    T = torch.as_tensor
    episode = steps = updates = 0
    for step in range(cfg.total_steps):
        if time.perf_counter() > deadline:
            status, message = Status.TIME_LIMIT, "time limit reached"
            break
        cond = np.array([abar], np.float32)
        if step < cfg.warmup:
            a = rng.uniform(-env.action_max, env.action_max, size=1)
            b = rng.uniform(-env.adversary_max, env.adversary_max, size=1) if adv is not None else np.zeros(1)
        else:
            a = prot.act(o)
            b = adv.act(np.concatenate([o, cond])) if adv is not None else np.zeros(1)
        o2, r, done, trunc = env.step(a, b)
        buf.add(o, a, b, r, o2, float(done), abar)
        steps += 1
        ep_ret += r
        o = o2
        if step >= cfg.warmup and step % cfg.update_every == 0:
            idx = buf.sample(rng, cfg.batch_size)
            ob, ab, bb = (T(x[idx], device=device) for x in (buf.o, buf.a, buf.b))
            rb, ob2, db, tb = (T(x[idx], device=device) for x in (buf.r, buf.o2, buf.d, buf.t))
            prot.update(ob, ab, rb, ob2, db, torch.full_like(rb, cfg.alpha))
            if adv is not None:
                tc = tb[:, None]
                adv.update(torch.cat([ob, tc], -1), bb, -rb, torch.cat([ob2, tc], -1), db, tb)
            updates += 1
        if done or trunc:
            episode += 1
            returns.append(ep_ret)
            temps.append(abar if adv is not None else 0.0)
            ep_temps.append(abar)
            ep_rets.append(ep_ret)
            if (cfg.mode == "qarl" and cfg.schedule == "self_paced" and step >= cfg.warmup
                    and len(ep_temps) >= 8):
                dist = self_paced_step(dist, tgt, np.maximum(np.array(ep_temps), 1e-6), np.array(ep_rets),
                                       threshold=threshold, kl_bound=cfg.kl_bound)
                ep_temps, ep_rets = [], []
            stop = emit(callback, Iteration("train()", nit=episode, objective=ep_ret,
                                            info={"temperature": temps[-1], "step": step + 1}))
            stop = emit(callback, Progress("train()", completed=step + 1, total=cfg.total_steps,
                                           description=f"QARL {cfg.mode}")) or stop
            if stop:
                status, message = Status.STOPPED, "stopped by callback"
                break
            o = env.reset(env_rng)
            ep_ret = 0.0
            abar = _draw_temperature(cfg, dist, (step + 1) / cfg.total_steps, rng)
    agent = QARLAgent(env.params(), cfg, prot, adv)
    R = np.array(returns, dtype=float)
    params = {"config": cfg.to_dict(), "mode": cfg.mode, "device": str(device), "seed": seed_obj.root,
              "threshold": threshold, "final_distribution": list(dist)}
    tail = float(R[-max(1, len(R) // 4):].mean()) if R.size else math.nan
    return TrainingResult(status=status, message=message, x=None, objective=tail, nit=episode,
                          runtime=time.perf_counter() - t0, method=f"sac_{cfg.mode}", backend="torch", params=params,
                          model=agent, episodes=episode,
                          history={"return": R, "temperature": np.array(temps, dtype=float)},
                          stats={"steps": steps, "updates": updates})


def _draw_temperature(cfg: QARLConfig, dist: tuple, frac: float, rng: np.random.Generator) -> float:
    if cfg.mode == "none":
        return 0.0
    if cfg.mode == "rarl":
        return cfg.target
    if cfg.schedule == "self_paced":
        return float(max(rng.gamma(dist[0], dist[1]), 1e-6))
    if cfg.schedule == "linear":
        return cfg.start + (cfg.target - cfg.start) * min(frac, 1.0)
    return cfg.start * (cfg.target / cfg.start) ** min(frac, 1.0)


def _rollout(env: AdversarialPointMass, agent_act: Callable, adv_act: Optional[Callable], rng: np.random.Generator,
             episodes: int) -> float:
    total = 0.0
    for _ in range(episodes):
        o = env.reset(rng)
        done = trunc = False
        while not (done or trunc):
            a = agent_act(o)
            b = adv_act(o) if adv_act is not None else np.zeros(1)
            o, r, done, trunc = env.step(a, b)
            total += r
    return total / episodes


def train_worst_case_adversary(agent: QARLAgent, env: Any, /, *, steps: int = 3000, seed: Any = 0,
                               beta: float = 0.01, callback: Optional[Callable] = None,
                               time_limit: Optional[float] = None) -> TrainingResult:
    """Train a fresh SAC adversary (temperature ``beta``) against the frozen protagonist.

    ``callback`` receives an :class:`engine.events.Iteration` per episode (``objective`` = the
    protagonist's return); ``StopIteration`` stops (STOPPED), ``time_limit`` (seconds, checked per
    step) ends training with TIME_LIMIT; the adversary trained so far is evaluated either way.

    Returns
    -------
    engine.training.TrainingResult
        ``model`` the adversary (a :class:`games.sac.SAC`); ``objective`` the protagonist's mean
        return against it over 10 evaluation episodes; ``history["return"]`` the protagonist's
        return in every training episode.
    """
    where = "train_worst_case_adversary()"
    if not isinstance(agent, QARLAgent):
        raise InvalidInputError(f"{where}: agent must be a QARLAgent, got {type(agent).__name__}")
    steps = check_int(steps, "steps", where, lower=1)
    beta = check_real(beta, "beta", where, lower=0.0)
    _check_callback(callback, where)
    tl = check_time_limit(time_limit, where)
    seed_obj = resolve_seed(seed, where=where)
    t0 = time.perf_counter()
    deadline = math.inf if tl is None else t0 + tl
    cfg = agent.config
    device = agent.protagonist.device
    adv = _make_sac(env, cfg, device, seed_obj, "worst_case", True)
    rng = seed_obj.generator("qarl.worst")
    env_rng = seed_obj.generator("qarl.worst.env")
    buf = ReplayBuffer(env.obs_dim, 1, steps)
    o = env.reset(env_rng)
    cond = np.array([beta], np.float32)
    warm = min(cfg.warmup, steps // 4)
    T = torch.as_tensor
    status, message = Status.FEASIBLE, f"{steps} environment steps"
    returns: list = []
    ep_ret = 0.0
    for step in range(steps):
        if time.perf_counter() > deadline:
            status, message = Status.TIME_LIMIT, "time limit reached"
            break
        a = agent.act(o)
        b = (rng.uniform(-env.adversary_max, env.adversary_max, size=1) if step < warm
             else adv.act(np.concatenate([o, cond])))
        o2, r, done, trunc = env.step(a, b)
        buf.add(o, a, b, r, o2, float(done), beta)
        ep_ret += r
        o = o2
        if step >= warm:
            idx = buf.sample(rng, cfg.batch_size)
            ob, bb, rb, ob2, db = (T(x[idx], device=device) for x in (buf.o, buf.b, buf.r, buf.o2, buf.d))
            tc = torch.full((idx.size, 1), beta, device=device)
            adv.update(torch.cat([ob, tc], -1), bb, -rb, torch.cat([ob2, tc], -1), db, torch.full_like(rb, beta))
        if done or trunc:
            returns.append(ep_ret)
            if emit(callback, Iteration(where, nit=len(returns), objective=ep_ret, info={"step": step + 1})):
                status, message = Status.STOPPED, "stopped by callback"
                break
            ep_ret = 0.0
            o = env.reset(env_rng)
    ret = _rollout(env, agent.act, lambda ob: adv.act(np.concatenate([ob, cond]), True),
                   seed_obj.generator("qarl.worst.eval"), 10)
    return TrainingResult(status=status, message=message, objective=ret, nit=len(returns),
                          runtime=time.perf_counter() - t0, method="sac_worst_case", backend="torch",
                          params={"steps": steps, "beta": beta, "seed": seed_obj.root}, model=adv,
                          episodes=len(returns), history={"return": np.array(returns, dtype=float)})


@dataclass(frozen=True, kw_only=True)
class RobustnessReport(SolveResult):
    """Robustness of a protagonist (:func:`evaluate_robustness`); Monte Carlo estimates (FEASIBLE).

    Attributes
    ----------
    nominal_return : float
        Mean return without an adversary at the nominal parameters.
    worst_case_return : float
        Mean return against a freshly trained near-rational adversary (``objective``).
    grid_masses, grid_frictions : numpy.ndarray
        The perturbed parameters.
    grid_returns : numpy.ndarray, shape (len(masses), len(frictions))
        Mean return (no adversary) at each perturbed parameter pair.
    """

    nominal_return: float = math.nan
    worst_case_return: float = math.nan
    grid_masses: Any = None
    grid_frictions: Any = None
    grid_returns: Any = None


def evaluate_robustness(agent: QARLAgent, /, *, masses: Sequence[float] = (0.5, 1.0, 2.0),
                        frictions: Sequence[float] = (0.0, 0.5, 1.0), episodes: int = 5,
                        adversary_steps: int = 3000, seed: Any = 0) -> RobustnessReport:
    """Protagonist return against a freshly trained worst-case adversary and on a parameter grid.

    Examples
    --------
    >>> # rep = evaluate_robustness(train(AdversarialPointMass()).model); rep.grid_returns.shape
    """
    where = "evaluate_robustness()"
    if not isinstance(agent, QARLAgent):
        raise InvalidInputError(f"{where}: agent must be a QARLAgent, got {type(agent).__name__}")
    ms = as_float_array(masses, "masses", where, ndim=1, lower=1e-6)
    fs = as_float_array(frictions, "frictions", where, ndim=1, lower=0.0)
    if ms.size == 0 or fs.size == 0:
        raise InvalidInputError(f"{where}: masses and frictions must be non-empty")
    episodes = check_int(episodes, "episodes", where, lower=1)
    adversary_steps = check_int(adversary_steps, "adversary_steps", where, lower=1)
    seed_obj = resolve_seed(seed, where=where)
    t0 = time.perf_counter()
    env = AdversarialPointMass(**agent.env_params)
    nominal = _rollout(env, agent.act, None, seed_obj.generator("robust.nominal"), episodes)
    worst = train_worst_case_adversary(agent, env, steps=adversary_steps,
                                       seed=seed_obj.int_seed("robust.adv")).objective
    grid = np.zeros((ms.size, fs.size))
    for i, m in enumerate(ms):
        for j, f in enumerate(fs):
            e = AdversarialPointMass(**{**agent.env_params, "mass": float(m), "friction": float(f)})
            grid[i, j] = _rollout(e, agent.act, None, seed_obj.generator(f"robust.grid.{i}.{j}"), episodes)
    params = {"masses": ms.tolist(), "frictions": fs.tolist(), "episodes": episodes,
              "adversary_steps": adversary_steps, "seed": seed_obj.root}
    # rollouts of a stochastic environment: an estimate, not a proof
    return RobustnessReport(status=Status.FEASIBLE, message="", x=grid, objective=worst,
                            runtime=time.perf_counter() - t0, method="robustness", backend="torch", params=params,
                            nominal_return=nominal, worst_case_return=worst, grid_masses=ms, grid_frictions=fs,
                            grid_returns=grid)
