"""QARL: robust adversarial learning through bounded-rationality curricula.

After Reddi et al., "Robust Adversarial Reinforcement Learning via Bounded Rationality
Curricula" (QARL). A protagonist maximises ``reward + alpha * entropy``; an adversary maximises
``-reward + alpha_bar * entropy``. The solution of that game is a quantal response equilibrium
(:func:`games.markov.soft`); the curriculum makes the adversary more rational by lowering its
temperature ``alpha_bar`` towards a small target.

Two levels are provided.

**Tabular curricula** (:func:`curriculum`, :func:`compare`) over a matrix game or a
:class:`games.markov.ZeroSumMarkovGame`. The protagonist is a learner: per state, softmax logits
``theta`` updated by entropy-regularised mirror ascent (soft policy iteration with step ``lr``)::

    theta <- (1 - lr * alpha) * theta + lr * mean_i Q^{pi, mu_i}

against the temperature-conditioned adversary ``mu_i``: the adversary's exact soft best response
to the current protagonist at temperature ``alpha_bar_i`` (``alpha_bar = 0``: a hard best
response). Schedules for ``alpha_bar``:

* ``"linear"`` / ``"geometric"``: from ``start`` to ``target`` over ``steps`` curriculum steps;
* ``"self_paced"``: ``alpha_bar ~ Gamma(shape, scale)``; each step the teacher solves (scipy SLSQP)
  ``min_p KL(p || target)`` s.t. ``KL(p || p_k) <= kl_bound`` and the importance-sampled
  protagonist value ``E_p[J] >= threshold``, and only when the protagonist's value against the
  current adversary ``E_{p_k}[J]`` is already ``>= threshold`` (otherwise ``p`` stays);
* ``"rational"``: ``alpha_bar = 0`` from the start (the RARL-like baseline);
* ``"fixed"``: ``alpha_bar = target`` from the start.

Each run records the path: temperature, the protagonist's value against the current adversary
and the exploitability of the protagonist's policy (what a rational adversary takes from it).
On matching-pennies-like games a rational adversary makes the fixed-step learner cycle (the
exploitability oscillates at a level set by ``lr``), while the curriculum follows the QRE branch.

**Learning version** (:func:`train`): soft actor-critic protagonist and temperature-conditioned
SAC adversary in torch on :class:`games.envs.AdversarialPointMass`, with the same curricula,
``save``/``load`` and :func:`evaluate_robustness`.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from engine.errors import InvalidInputError
from engine.events import Iteration, Progress, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_choice, check_int, check_real
from games.markov import ZeroSumMarkovGame, _softmax, shapley

__all__ = ["SCHEDULES", "CurriculumResult", "curriculum", "compare", "gamma_kl", "self_paced_step",
           "TrainConfig", "QARLAgent", "TrainResult", "RobustnessReport", "train", "load", "evaluate_robustness",
           "train_worst_case_adversary"]

SCHEDULES = ("linear", "geometric", "self_paced", "rational", "fixed")

#: Checkpoint kind and state layout of :meth:`QARLAgent.save` (:mod:`engine.checkpoint`). Files in
#: the earlier ``"qarl-agent-1"`` format (a plain torch pickle) are refused.
_KIND = "games.qarl.QARLAgent"
_VERSION = 2
_LEGACY = ("qarl-agent-1",)


# ============================================================================ self-paced teacher
def gamma_kl(k1: float, theta1: float, k2: float, theta2: float) -> float:
    """``KL(Gamma(k1, theta1) || Gamma(k2, theta2))`` (shape/scale parametrisation), closed form.

    Examples
    --------
    >>> gamma_kl(2.0, 0.5, 2.0, 0.5)
    0.0
    """
    from scipy.special import digamma, gammaln

    return float((k1 - k2) * digamma(k1) - gammaln(k1) + gammaln(k2) + k2 * (math.log(theta2) - math.log(theta1))
                 + k1 * (theta1 - theta2) / theta2)


def _gamma_logpdf(x: np.ndarray, k: float, theta: float) -> np.ndarray:
    from scipy.special import gammaln

    return (k - 1) * np.log(x) - x / theta - gammaln(k) - k * math.log(theta)


def self_paced_step(current: tuple, target: tuple, samples: Any, returns: Any, *, threshold: float,
                    kl_bound: float) -> tuple:
    """One teacher update of the adversary-temperature distribution (SLSQP, as in QARL / SPDL).

    ``min_p KL(p || target)`` over Gamma distributions ``p = (shape, scale)`` subject to
    ``KL(p || current) <= kl_bound`` and ``sum_i w_i J_i / sum_i w_i >= threshold`` with importance
    weights ``w_i = p(a_i) / current(a_i)`` of the ``samples`` ``a_i ~ current`` and their
    protagonist ``returns`` ``J_i``. Returns ``current`` unchanged when the protagonist does not
    yet reach ``threshold`` under ``current`` or the optimiser finds no feasible improvement.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.random.default_rng(0).gamma(2.0, 0.5, size=64)
    >>> new = self_paced_step((2.0, 0.5), (10.0, 0.01), s, np.ones(64), threshold=0.0, kl_bound=0.2)
    >>> new[0] * new[1] < 1.0
    True
    """
    from scipy.optimize import minimize

    where = "self_paced_step()"
    k0, th0 = (check_real(v, "current", where, lower=0.0, lower_strict=True) for v in current)
    kt, tht = (check_real(v, "target", where, lower=0.0, lower_strict=True) for v in target)
    a = np.asarray(samples, dtype=float)
    J = np.asarray(returns, dtype=float)
    if a.ndim != 1 or a.shape != J.shape or a.size == 0 or (a <= 0).any():
        raise InvalidInputError(f"{where}: samples must be positive and match returns in length")
    if float(J.mean()) < threshold:
        return (k0, th0)
    log_q = _gamma_logpdf(a, k0, th0)

    def perf(z):
        k, th = np.exp(z)
        lw = _gamma_logpdf(a, k, th) - log_q
        w = np.exp(lw - lw.max())
        return float((w * J).sum() / w.sum()) - threshold

    z0 = np.log([k0, th0])
    # mypy cannot see that np.exp(z) unpacks to exactly (k, theta)
    cons = [{"type": "ineq", "fun": lambda z: kl_bound - gamma_kl(*np.exp(z), k0, th0)},  # type: ignore[call-arg]
            {"type": "ineq", "fun": perf}]
    res = minimize(lambda z: gamma_kl(*np.exp(z), kt, tht),  # type: ignore[call-arg]  # same star-arg
                   z0, method="SLSQP", constraints=cons,
                   bounds=[(math.log(1e-2), math.log(1e4)), (math.log(1e-6), math.log(1e3))],
                   options={"maxiter": 200, "ftol": 1e-10})
    k, th = np.exp(res.x)
    ok = (np.all(np.isfinite(res.x)) and gamma_kl(k, th, k0, th0) <= kl_bound * 1.05 and perf(res.x) >= -1e-6
          and gamma_kl(k, th, kt, tht) <= gamma_kl(k0, th0, kt, tht))
    return (float(k), float(th)) if ok else (k0, th0)


# ============================================================================ tabular curricula
@dataclass(frozen=True, kw_only=True)
class CurriculumResult(SolveResult):
    """One curriculum run over a matrix or Markov game.

    Attributes
    ----------
    schedule : str
    temperatures, temperature_std : numpy.ndarray, shape (steps,)
        Mean and standard deviation of the adversary temperature at each step.
    values : numpy.ndarray, shape (steps,)
        The protagonist's value (mean over states) against the current adversary after the step.
    exploitability : numpy.ndarray, shape (steps,)
        ``max_s V*(s) - V^{pi, BR(pi)}(s)`` after the step.
    row_policy : numpy.ndarray, shape (S, N)
        The protagonist's final policy (also ``x``).
    shapley_values : numpy.ndarray
        ``V*`` (rational values) the exploitability refers to.
    threshold : float
        Protagonist value the self-paced teacher requires.
    final_exploitability : float
        Exploitability after the last step (``objective``).
    tail_exploitability : float
        Mean exploitability over the last quarter of the steps (robust to cycling).
    """

    schedule: str = ""
    temperatures: Any = None
    temperature_std: Any = None
    values: Any = None
    exploitability: Any = None
    row_policy: Any = None
    shapley_values: Any = None
    threshold: float = math.nan
    final_exploitability: float = math.nan
    tail_exploitability: float = math.nan


def _as_markov(game: Any, where: str) -> ZeroSumMarkovGame:
    if isinstance(game, ZeroSumMarkovGame):
        return game
    from games.normal_form import NormalFormGame

    if isinstance(game, NormalFormGame):
        if game.n_players != 2 or not game.is_zero_sum(1e-9):
            raise InvalidInputError(f"{where}: a NormalFormGame must be a two-player zero-sum game")
        return ZeroSumMarkovGame.from_matrix(game.payoffs[0])
    if isinstance(game, (np.ndarray, list, tuple)):
        try:
            return ZeroSumMarkovGame.from_matrix(game)
        except InvalidInputError as err:
            raise InvalidInputError(f"{where}: game must be a payoff matrix or a ZeroSumMarkovGame: {err}") from err
    raise InvalidInputError(f"{where}: game must be a payoff matrix, a zero-sum NormalFormGame or a "
                            f"ZeroSumMarkovGame, got {type(game).__name__}")


def _validate_curriculum(game, schedule, alpha, start, target, steps, inner, lr, threshold, kl_bound, n_samples,
                         start_shape, target_shape, callback):
    where = "curriculum()"
    g = _as_markov(game, where)
    schedule = check_choice(schedule, "schedule", where, SCHEDULES)
    alpha = check_real(alpha, "alpha", where, lower=0.0)
    start = check_real(start, "start", where, lower=0.0, lower_strict=True)
    target = check_real(target, "target", where, lower=0.0, lower_strict=True)
    if target > start:
        raise InvalidInputError(f"{where}: target ({target}) must be <= start ({start}): the curriculum lowers "
                                f"the adversary temperature")
    steps = check_int(steps, "steps", where, lower=1)
    inner = check_int(inner, "inner", where, lower=1)
    lr = check_real(lr, "lr", where, lower=0.0, lower_strict=True)
    if threshold is not None:
        threshold = check_real(threshold, "threshold", where)
    kl_bound = check_real(kl_bound, "kl_bound", where, lower=0.0, lower_strict=True)
    n_samples = check_int(n_samples, "n_samples", where, lower=1)
    start_shape = check_real(start_shape, "start_shape", where, lower=0.0, lower_strict=True)
    target_shape = check_real(target_shape, "target_shape", where, lower=0.0, lower_strict=True)
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    return g, schedule, alpha, start, target, steps, inner, lr, threshold, kl_bound, n_samples, start_shape, target_shape


def _soft_br_batch(g: ZeroSumMarkovGame, pi: np.ndarray, betas: np.ndarray, V0: Optional[np.ndarray] = None,
                   tol: float = 1e-9, maxiter: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """The adversary's soft best responses to ``pi`` at every temperature in ``betas`` at once.

    Returns ``(V, mu)`` with shapes ``(B, S)`` (soft values) and ``(B, S, M)``; ``beta = 0`` gives a
    hard best response (ties split evenly).
    """
    r = np.einsum("si,sij->sj", pi, g.R)
    Pm = np.einsum("si,sijt->sjt", pi, g.P)
    mask = g.col_mask[None]
    b = betas[:, None, None]
    hard = b == 0
    bsafe = np.where(hard, 1.0, b)
    V = np.zeros((betas.size, g.n_states)) if V0 is None else V0.copy()

    def backup(V):
        q = r[None] + g.gamma * np.moveaxis(Pm @ V.T, -1, 0)
        z = np.where(mask, -q / bsafe, -np.inf)
        zmax = z.max(axis=2, keepdims=True)
        soft = -bsafe[..., 0] * (zmax[..., 0] + np.log(np.exp(z - zmax).sum(axis=2)))
        hardv = np.where(mask, q, np.inf).min(axis=2)
        return np.where(hard[..., 0], hardv, soft), q

    for _ in range(maxiter if g.gamma > 0 else 1):
        Vn, _ = backup(V)
        delta = np.abs(Vn - V).max()
        V = Vn
        if delta <= tol * (1 - g.gamma):
            break
    _, q = backup(V)
    z = np.where(mask, -q / bsafe, -np.inf)
    mu_soft = _softmax(z, axis=2)
    qm = np.where(mask, q, np.inf)
    ties = (qm <= qm.min(axis=2, keepdims=True) + 1e-12).astype(float)
    mu_hard = ties / ties.sum(axis=2, keepdims=True)
    return V, np.where(hard, mu_hard, mu_soft)


def _evaluate_batch(g: ZeroSumMarkovGame, pi: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values ``(B, S)`` of ``pi`` against each ``mu[b]`` and the protagonist's action values ``(B, S, N)``."""
    r = np.einsum("si,sij,bsj->bs", pi, g.R, mu)
    Pm = np.einsum("si,sijt,bsj->bst", pi, g.P, mu)
    V = np.linalg.solve(np.eye(g.n_states)[None] - g.gamma * Pm, r[..., None])[..., 0]
    Qb = g.R[None] + g.gamma * np.moveaxis(g.P @ V.T, -1, 0)          # (B, S, N, M)
    q = np.einsum("bsij,bsj->bsi", Qb, mu)
    return V, q


def curriculum(game: Any, /, schedule: str = "self_paced", *, alpha: float = 0.01, start: float = 2.0,
               target: float = 0.1, steps: int = 60, inner: int = 20, lr: float = 0.1,
               threshold: Optional[float] = None, kl_bound: float = 0.25, n_samples: int = 8,
               start_shape: float = 2.0, target_shape: float = 20.0, init_scale: float = 1.0, seed: Any = 0,
               callback: Optional[Callable] = None) -> CurriculumResult:
    """Train a tabular protagonist against an adversary whose rationality follows a curriculum.

    Parameters
    ----------
    game : array_like, NormalFormGame or ZeroSumMarkovGame
        A zero-sum matrix game (row player = protagonist, maximises) or a Markov game.
    schedule : {"self_paced", "linear", "geometric", "rational", "fixed"}
        How the adversary temperature ``alpha_bar`` evolves (see the module docstring).
    alpha : float
        The protagonist's temperature (entropy weight), ``>= 0``.
    start, target : float
        Initial and final (mean) adversary temperature, ``start >= target > 0``.
    steps, inner : int
        Curriculum steps and protagonist updates per step.
    lr : float
        Mirror-ascent step size of the protagonist.
    threshold : float, optional
        Protagonist value (mean over states) the self-paced teacher requires before it moves;
        default ``mean(V*) - 0.05 * (max R - min R)``.
    kl_bound : float
        KL step bound of the self-paced teacher.
    n_samples : int
        Temperatures drawn per step from the Gamma distribution (self-paced).
    start_shape, target_shape : float
        Gamma shape parameters of the initial and the target temperature distributions.
    init_scale : float
        The protagonist's initial logits are ``init_scale * N(0, 1)`` (0: uniform start).
    seed : int, Generator or None
        Drives the initial logits and the temperature samples.
    callback : callable, optional
        Receives :class:`engine.events.Iteration` per step (``objective`` = exploitability);
        ``StopIteration`` stops with status STOPPED.

    Returns
    -------
    CurriculumResult

    Examples
    --------
    >>> r = curriculum([[1, -1], [-1, 1]], "geometric", steps=20, inner=10)
    >>> r.final_exploitability < 0.05
    True
    """
    (g, schedule, alpha, start, target, steps, inner, lr, threshold, kl_bound, n_samples, start_shape,
     target_shape) = _validate_curriculum(game, schedule, alpha, start, target, steps, inner, lr, threshold,
                                          kl_bound, n_samples, start_shape, target_shape, callback)
    init_scale = check_real(init_scale, "init_scale", "curriculum()", lower=0.0)
    seed_obj = resolve_seed(seed, where="curriculum()")
    rng = seed_obj.generator("qarl.curriculum")
    t0 = time.perf_counter()
    Vstar = shapley(g).values
    if threshold is None:
        threshold = float(Vstar.mean() - 0.05 * (g.R.max() - g.R.min()))
    mask = g.row_mask
    theta = np.where(mask, init_scale * seed_obj.generator("qarl.init").standard_normal(mask.shape), 0.0)
    pi = _softmax(np.where(mask, theta, -np.inf), axis=1)
    dist = (start_shape, start / start_shape)
    tgt = (target_shape, target / target_shape)
    temps, stds, vals, expl = (np.zeros(steps) for _ in range(4))
    status, message = Status.OPTIMAL, f"{steps} curriculum steps"
    done = steps
    for k in range(steps):
        if schedule == "self_paced":
            abar = rng.gamma(dist[0], dist[1], size=n_samples)
            abar = np.maximum(abar, 1e-6)
        elif schedule == "rational":
            abar = np.zeros(1)
        elif schedule == "fixed":
            abar = np.array([target])
        elif schedule == "linear":
            frac = k / max(steps - 1, 1)
            abar = np.array([start + (target - start) * frac])
        else:  # geometric
            frac = k / max(steps - 1, 1)
            abar = np.array([start * (target / start) ** frac])
        temps[k] = dist[0] * dist[1] if schedule == "self_paced" else float(abar.mean())
        stds[k] = math.sqrt(dist[0]) * dist[1] if schedule == "self_paced" else 0.0
        Vsoft = None
        for _ in range(inner):
            Vsoft, mu = _soft_br_batch(g, pi, abar, Vsoft)
            _, q = _evaluate_batch(g, pi, mu)
            theta = (1 - lr * alpha) * theta + lr * q.mean(axis=0)
            theta = np.where(mask, theta - np.where(mask, theta, -np.inf).max(axis=1, keepdims=True), 0.0)
            pi = _softmax(np.where(mask, theta, -np.inf), axis=1)
        _, mu = _soft_br_batch(g, pi, abar, Vsoft)
        J = _evaluate_batch(g, pi, mu)[0].mean(axis=1)
        vals[k] = float(J.mean())
        Vbr, _ = _soft_br_batch(g, pi, np.zeros(1))
        expl[k] = float(max((Vstar - Vbr[0]).max(), 0.0))
        if schedule == "self_paced":
            dist = self_paced_step(dist, tgt, abar, J, threshold=threshold, kl_bound=kl_bound)
        if emit(callback, Iteration("curriculum()", nit=k + 1, objective=expl[k],
                                    info={"temperature": temps[k], "value": vals[k]})):
            status, message = Status.STOPPED, "stopped by callback"
            done = k + 1
            break
    temps, stds, vals, expl = temps[:done], stds[:done], vals[:done], expl[:done]
    tail = float(expl[-max(1, done // 4):].mean())
    params = {"schedule": schedule, "alpha": alpha, "start": start, "target": target, "steps": steps,
              "inner": inner, "lr": lr, "threshold": threshold, "kl_bound": kl_bound, "n_samples": n_samples,
              "start_shape": start_shape, "target_shape": target_shape, "init_scale": init_scale,
              "seed": seed_obj.root,
              "final_distribution": list(dist) if schedule == "self_paced" else None}
    return CurriculumResult(status=status, message=message, x=pi, objective=float(expl[-1]), nit=done * inner,
                            runtime=time.perf_counter() - t0, method=f"qarl_{schedule}", backend="numpy",
                            params=params, schedule=schedule, temperatures=temps, temperature_std=stds, values=vals,
                            exploitability=expl, row_policy=pi, shapley_values=Vstar, threshold=threshold,
                            final_exploitability=float(expl[-1]), tail_exploitability=tail)


def compare(game: Any, /, schedules: Sequence[str] = ("self_paced", "geometric", "linear", "rational"),
            **options: Any) -> dict:
    """Run :func:`curriculum` once per schedule with the same options; ``{schedule: CurriculumResult}``.

    Examples
    --------
    >>> out = compare([[1, -1], [-1, 1]], ("geometric", "rational"), steps=20, inner=10)
    >>> out["geometric"].tail_exploitability < out["rational"].tail_exploitability
    True
    """
    if isinstance(schedules, str) or not isinstance(schedules, Sequence) or not schedules:
        raise InvalidInputError(f"compare(): schedules must be a non-empty sequence of names, got {schedules!r}")
    for s in schedules:
        check_choice(s, "schedule", "compare()", SCHEDULES)
    return {s: curriculum(game, s, **options) for s in schedules}


# ============================================================================ learning version (SAC)
@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train` (all recorded in the result's ``params``)."""

    mode: str = "qarl"              # "qarl" (curriculum), "rarl" (alpha_bar fixed small), "none" (no adversary)
    schedule: str = "self_paced"    # curriculum of the adversary temperature for mode="qarl"
    total_steps: int = 4000
    warmup: int = 500
    batch_size: int = 128
    hidden: int = 64
    lr: float = 3e-3
    gamma: float = 0.97
    tau: float = 0.02
    alpha: float = 0.05             # protagonist entropy weight
    start: float = 1.0              # initial mean adversary temperature
    target: float = 0.01            # target (and RARL) adversary temperature
    start_shape: float = 2.0
    target_shape: float = 20.0
    kl_bound: float = 0.25
    threshold: Optional[float] = None  # protagonist episode return the teacher requires (default: auto)
    update_every: int = 1
    device: Optional[str] = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _validate_config(config: Any, overrides: Mapping[str, Any], where: str) -> TrainConfig:
    if config is None:
        config = TrainConfig()
    if not isinstance(config, TrainConfig):
        raise InvalidInputError(f"{where}: config must be a TrainConfig, got {type(config).__name__}")
    unknown = set(overrides) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        raise InvalidInputError(f"{where}: unknown option(s) {sorted(unknown)}")
    d = {**config.to_dict(), **overrides}
    check_choice(d["mode"], "mode", where, ("qarl", "rarl", "none"))
    check_choice(d["schedule"], "schedule", where, ("self_paced", "linear", "geometric"))
    for name in ("total_steps", "warmup", "batch_size", "hidden", "update_every"):
        d[name] = check_int(d[name], name, where, lower=1 if name != "warmup" else 0)
    for name in ("lr", "tau", "start", "target", "start_shape", "target_shape", "kl_bound"):
        d[name] = check_real(d[name], name, where, lower=0.0, lower_strict=True)
    d["alpha"] = check_real(d["alpha"], "alpha", where, lower=0.0)
    d["gamma"] = check_real(d["gamma"], "gamma", where, lower=0.0, upper=1.0)
    if d["target"] > d["start"]:
        raise InvalidInputError(f"{where}: target ({d['target']}) must be <= start ({d['start']})")
    if d["threshold"] is not None:
        d["threshold"] = check_real(d["threshold"], "threshold", where)
    if d["device"] is not None:
        check_choice(d["device"], "device", where, ("cpu", "cuda"))
    return TrainConfig(**d)


class _SAC:
    """A small soft actor-critic (tanh-Gaussian actor, twin critics, fixed entropy weight).

    ``cond`` extra inputs (the adversary's temperature) are appended to the observation.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, lr: float, gamma: float, tau: float,
                 act_scale: float, cond: int, device, gen):
        import torch
        import torch.nn as nn

        self.torch = torch
        self.device = device
        self.gamma, self.tau, self.act_scale = gamma, tau, act_scale
        inp = obs_dim + cond

        def mlp(i, o):
            return nn.Sequential(nn.Linear(i, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, o)).to(device)

        self.actor = mlp(inp, 2 * act_dim)
        self.q1, self.q2 = mlp(inp + act_dim, 1), mlp(inp + act_dim, 1)
        self.q1_t, self.q2_t = mlp(inp + act_dim, 1), mlp(inp + act_dim, 1)
        self.q1_t.load_state_dict(self.q1.state_dict())
        self.q2_t.load_state_dict(self.q2.state_dict())
        self.opt_a = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.opt_q = torch.optim.Adam(list(self.q1.parameters()) + list(self.q2.parameters()), lr=lr)
        self.gen = gen

    def _dist(self, obs):
        torch = self.torch
        out = self.actor(obs)
        mu, log_std = out.chunk(2, dim=-1)
        log_std = log_std.clamp(-5, 1)
        return mu, log_std.exp()

    def sample(self, obs, deterministic: bool = False):
        torch = self.torch
        mu, std = self._dist(obs)
        if deterministic:
            u = mu
        else:
            noise = torch.randn(mu.shape, generator=self.gen, device="cpu").to(mu.device)
            u = mu + std * noise
        a = torch.tanh(u)
        logp = (-0.5 * ((u - mu) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - torch.log(1 - a.pow(2) + 1e-6).sum(-1)
        return a * self.act_scale, logp

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        torch = self.torch
        with torch.no_grad():
            o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None]
            a, _ = self.sample(o, deterministic)
        return a[0].cpu().numpy().astype(np.float64)

    def update(self, o, a, r, o2, d, ent):
        """One SAC step; ``ent`` is the entropy weight per transition (a tensor, shape (B,))."""
        torch = self.torch
        with torch.no_grad():
            a2, logp2 = self.sample(o2)
            x2 = torch.cat([o2, a2 / self.act_scale], -1)
            qt = torch.min(self.q1_t(x2), self.q2_t(x2)).squeeze(-1) - ent * logp2
            y = r + self.gamma * (1 - d) * qt
        x = torch.cat([o, a / self.act_scale], -1)
        lq = ((self.q1(x).squeeze(-1) - y) ** 2).mean() + ((self.q2(x).squeeze(-1) - y) ** 2).mean()
        self.opt_q.zero_grad()
        lq.backward()
        self.opt_q.step()
        an, logp = self.sample(o)
        xn = torch.cat([o, an / self.act_scale], -1)
        la = (ent * logp - torch.min(self.q1(xn), self.q2(xn)).squeeze(-1)).mean()
        self.opt_a.zero_grad()
        la.backward()
        self.opt_a.step()
        with torch.no_grad():
            for net, tgt in ((self.q1, self.q1_t), (self.q2, self.q2_t)):
                for p, pt in zip(net.parameters(), tgt.parameters()):
                    pt.mul_(1 - self.tau).add_(self.tau * p)

    def state_dict(self) -> dict:
        return {n: getattr(self, n).state_dict() for n in ("actor", "q1", "q2", "q1_t", "q2_t")}

    def load_state_dict(self, sd: Mapping) -> None:
        for n, v in sd.items():
            getattr(self, n).load_state_dict(v)


class _Replay:
    def __init__(self, obs_dim: int, act_dim: int, size: int, extra: int = 0):
        self.o = np.zeros((size, obs_dim), np.float32)
        self.o2 = np.zeros((size, obs_dim), np.float32)
        self.a = np.zeros((size, act_dim), np.float32)
        self.b = np.zeros((size, act_dim), np.float32)
        self.r = np.zeros(size, np.float32)
        self.d = np.zeros(size, np.float32)
        self.t = np.zeros(size, np.float32)   # adversary temperature of the episode
        self.n, self.i, self.size = 0, 0, size

    def add(self, o, a, b, r, o2, d, t):
        i = self.i
        self.o[i], self.a[i], self.b[i], self.r[i], self.o2[i], self.d[i], self.t[i] = o, a, b, r, o2, d, t
        self.i = (i + 1) % self.size
        self.n = min(self.n + 1, self.size)

    def sample(self, rng: np.random.Generator, k: int):
        idx = rng.integers(0, self.n, size=k)
        return idx


@dataclass(frozen=True, kw_only=True)
class TrainResult(SolveResult):
    """A :func:`train` run.

    Attributes
    ----------
    agent : QARLAgent
        The trained protagonist (and adversary); ``agent.save(path)`` / :func:`load`.
    episode_returns : numpy.ndarray
        Protagonist return of every training episode.
    temperatures : numpy.ndarray
        Mean adversary temperature used in every episode (0 where there was no adversary).
    mode : str
    """

    agent: Any = None
    episode_returns: Any = None
    temperatures: Any = None
    mode: str = ""

    def to_dict(self) -> dict:  # the agent (torch modules) is saved with agent.save(), not as JSON
        d = super().to_dict()
        d["agent"] = None
        return d


class QARLAgent:
    """A trained protagonist (SAC) with its temperature-conditioned adversary."""

    def __init__(self, env_params: Mapping[str, Any], config: TrainConfig, protagonist: _SAC,
                 adversary: Optional[_SAC]):
        self.env_params = dict(env_params)
        self.config = config
        self.protagonist = protagonist
        self.adversary = adversary

    def act(self, obs: Any, *, deterministic: bool = True) -> np.ndarray:
        """The protagonist's action for one observation."""
        return self.protagonist.act(np.asarray(obs, dtype=np.float32), deterministic)

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Write the agent (networks, config, environment parameters) to one file, atomically: a
        versioned, SHA-256-checksummed :mod:`engine.checkpoint` file (kind ``"games.qarl.QARLAgent"``,
        version 2) that :func:`load` reads."""
        from engine import checkpoint

        state = {"config": self.config.to_dict(), "env_params": dict(self.env_params),
                 "protagonist": self.protagonist.state_dict(),
                 "adversary": None if self.adversary is None else self.adversary.state_dict()}
        checkpoint.write(path, state, kind=_KIND, version=_VERSION)


def _make_sac(env, cfg: TrainConfig, device, seed_obj, key: str, adversary: bool) -> _SAC:
    import torch

    torch.manual_seed(seed_obj.int_seed(f"torch.init.{key}", bits=63))
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed_obj.int_seed(f"torch.noise.{key}", bits=63))
    scale = env.adversary_max if adversary else env.action_max
    return _SAC(env.obs_dim, 1, cfg.hidden, cfg.lr, cfg.gamma, cfg.tau, scale, 1 if adversary else 0, device, gen)


def _sac_parameters(obs_dim: int, hidden: int, cond: int) -> int:
    """Parameters of one :class:`_SAC` (actor and four critics), computed without building it."""
    def mlp(i: int, o: int) -> int:
        return (i + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * o

    inp = obs_dim + cond
    return mlp(inp, 2) + 4 * mlp(inp + 1, 1)


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
    ``weights_only=False``, are refused), then the exact key sets, the config (as :func:`train`
    validates it; integer options at most :data:`engine.checkpoint.MAX_OPTION`), the environment
    parameters, and every network's keys, shapes, dtypes and finite values. Every failure is an
    :class:`~engine.errors.InvalidInputError` naming the file.

    Examples
    --------
    >>> # agent = load("agent.pt"); agent.act([0.5, 0.0])
    """
    from engine import checkpoint
    from games.envs import AdversarialPointMass

    where = "load()"
    if device is not None:
        check_choice(device, "device", where, ("cpu", "cuda"))
    max_parameters = check_int(checkpoint.MAX_PARAMETERS if max_parameters is None else max_parameters,
                               "max_parameters", where, lower=1)
    max_bytes = check_int(checkpoint.MAX_BYTES if max_bytes is None else max_bytes, "max_bytes", where, lower=1)
    ck = checkpoint.read(path, kind=_KIND, versions=(_VERSION,), where=where, max_bytes=max_bytes,
                         legacy=_LEGACY)
    ck.mapping((), keys=("config", "env_params", "protagonist", "adversary"))
    raw = ck.mapping("config", keys=tuple(TrainConfig.__dataclass_fields__))
    for name in ("total_steps", "warmup", "batch_size", "hidden", "update_every"):
        ck.integer(f"config.{name}", upper=checkpoint.MAX_OPTION)
    cfg = _validate_config(None, raw, f"{ck.context}: config")
    env_raw = ck.mapping("env_params", keys=tuple(AdversarialPointMass().params()))
    ck.integer("env_params.horizon", upper=checkpoint.MAX_OPTION)
    try:
        env = AdversarialPointMass(**env_raw)
    except InvalidInputError as err:
        ck.fail(f"env_params: {err}")
    adversary = ck.get("adversary")
    if (adversary is None) != (cfg.mode == "none"):
        ck.fail(f"adversary must be {'None' if cfg.mode == 'none' else 'saved'} for mode {cfg.mode!r}")
    total = _sac_parameters(env.obs_dim, cfg.hidden, 0) + (0 if adversary is None else
                                                           _sac_parameters(env.obs_dim, cfg.hidden, 1))
    checkpoint.check_limit(total, max_parameters, f"networks of hidden={cfg.hidden} with a number of parameters",
                           context=ck.context)
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"{where}: device='cuda' requested but CUDA is not available")
    dev = torch.device(device or "cpu")
    seed_obj = resolve_seed(0)
    nets = ("actor", "q1", "q2", "q1_t", "q2_t")
    prot = _make_sac(env, cfg, dev, seed_obj, "protagonist", False)
    ck.mapping("protagonist", keys=nets)
    for n in nets:
        ck.load_module(("protagonist", n), getattr(prot, n))
    adv = None
    if adversary is not None:
        adv = _make_sac(env, cfg, dev, seed_obj, "adversary", True)
        ck.mapping("adversary", keys=nets)
        for n in nets:
            ck.load_module(("adversary", n), getattr(adv, n))
    return QARLAgent(env.params(), cfg, prot, adv)


def _device(cfg: TrainConfig):
    import torch

    if cfg.device is not None:
        if cfg.device == "cuda" and not torch.cuda.is_available():
            raise InvalidInputError("train(): device='cuda' requested but CUDA is not available")
        return torch.device(cfg.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(env: Any, /, config: Optional[TrainConfig] = None, *, seed: Any = 0, callback: Optional[Callable] = None,
          **options: Any) -> TrainResult:
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
    config : TrainConfig, optional
        Hyper-parameters; any field may also be given as a keyword (``total_steps=2000``).
    seed : int, Generator or None
        Drives torch initialisation, exploration noise, the environment and replay sampling.
        CPU runs with the same seed are reproducible.
    callback : callable, optional
        Receives :class:`engine.events.Iteration` per episode (``objective`` = its return);
        ``StopIteration`` stops with status STOPPED.

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> from games.envs import AdversarialPointMass
    >>> res = train(AdversarialPointMass(), total_steps=300, warmup=100, seed=0)   # doctest: +SKIP
    >>> res.agent.act([0.5, 0.0]).shape                                            # doctest: +SKIP
    (1,)
    """
    import torch

    from games.envs import AdversarialPointMass

    where = "train()"
    if not isinstance(env, AdversarialPointMass):
        raise InvalidInputError(f"train(): env must be a games.envs.AdversarialPointMass, got {type(env).__name__}")
    cfg = _validate_config(config, options, where)
    if callback is not None and not callable(callback):
        raise InvalidInputError(f"{where}: callback must be callable, got {callback!r}")
    seed_obj = resolve_seed(seed, where=where)
    device = _device(cfg)
    t0 = time.perf_counter()
    rng = seed_obj.generator("qarl.train")
    env_rng = seed_obj.generator("qarl.env")
    prot = _make_sac(env, cfg, device, seed_obj, "protagonist", False)
    adv = _make_sac(env, cfg, device, seed_obj, "adversary", True) if cfg.mode != "none" else None
    buf = _Replay(env.obs_dim, 1, max(cfg.total_steps, 1))
    dist = (cfg.start_shape, cfg.start / cfg.start_shape)
    tgt = (cfg.target_shape, cfg.target / cfg.target_shape)
    threshold = cfg.threshold if cfg.threshold is not None else env.reference_return()
    returns: list = []
    temps: list = []
    ep_temps: list = []
    ep_rets: list = []
    o = env.reset(env_rng)
    abar = _draw_temperature(cfg, dist, 0, rng)
    ep_ret = 0.0
    status, message = Status.FEASIBLE, f"{cfg.total_steps} environment steps"   # trained, not proven
    T = torch.as_tensor
    episode = 0
    for step in range(cfg.total_steps):
        cond = np.array([abar], np.float32)
        if step < cfg.warmup:
            a = rng.uniform(-env.action_max, env.action_max, size=1)
            b = rng.uniform(-env.adversary_max, env.adversary_max, size=1) if adv is not None else np.zeros(1)
        else:
            a = prot.act(o)
            b = adv.act(np.concatenate([o, cond])) if adv is not None else np.zeros(1)
        o2, r, done, trunc = env.step(a, b)
        buf.add(o, a, b, r, o2, float(done), abar)
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
            if emit(callback, Iteration("train()", nit=episode, objective=ep_ret,
                                        info={"temperature": temps[-1], "step": step + 1})):
                status, message = Status.STOPPED, "stopped by callback"
                break
            o = env.reset(env_rng)
            ep_ret = 0.0
            abar = _draw_temperature(cfg, dist, (step + 1) / cfg.total_steps, rng)
    agent = QARLAgent(env.params(), cfg, prot, adv)
    R = np.array(returns, dtype=float)
    params = {**cfg.to_dict(), "device": str(device), "seed": seed_obj.root, "threshold": threshold,
              "final_distribution": list(dist)}
    tail = float(R[-max(1, len(R) // 4):].mean()) if R.size else math.nan
    return TrainResult(status=status, message=message, x=None, objective=tail, nit=episode,
                       runtime=time.perf_counter() - t0, method=f"sac_{cfg.mode}", backend="torch", params=params,
                       agent=agent, episode_returns=R, temperatures=np.array(temps, dtype=float), mode=cfg.mode)


def _draw_temperature(cfg: TrainConfig, dist: tuple, frac: float, rng: np.random.Generator) -> float:
    if cfg.mode == "none":
        return 0.0
    if cfg.mode == "rarl":
        return cfg.target
    if cfg.schedule == "self_paced":
        return float(max(rng.gamma(dist[0], dist[1]), 1e-6))
    if cfg.schedule == "linear":
        return cfg.start + (cfg.target - cfg.start) * min(frac, 1.0)
    return cfg.start * (cfg.target / cfg.start) ** min(frac, 1.0)


def _rollout(env, agent_act, adv_act, rng, episodes: int) -> float:
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
                               beta: float = 0.01) -> tuple:
    """Train a fresh SAC adversary (temperature ``beta``) against the frozen protagonist.

    Returns ``(adversary, return_of_protagonist_against_it)`` (10 evaluation episodes).
    """
    import torch

    where = "train_worst_case_adversary()"
    if not isinstance(agent, QARLAgent):
        raise InvalidInputError(f"{where}: agent must be a QARLAgent, got {type(agent).__name__}")
    steps = check_int(steps, "steps", where, lower=1)
    beta = check_real(beta, "beta", where, lower=0.0)
    seed_obj = resolve_seed(seed, where=where)
    cfg = agent.config
    device = agent.protagonist.device
    adv = _make_sac(env, cfg, device, seed_obj, "worst_case", True)
    rng = seed_obj.generator("qarl.worst")
    env_rng = seed_obj.generator("qarl.worst.env")
    buf = _Replay(env.obs_dim, 1, steps)
    o = env.reset(env_rng)
    cond = np.array([beta], np.float32)
    warm = min(cfg.warmup, steps // 4)
    T = torch.as_tensor
    for step in range(steps):
        a = agent.act(o)
        b = (rng.uniform(-env.adversary_max, env.adversary_max, size=1) if step < warm
             else adv.act(np.concatenate([o, cond])))
        o2, r, done, trunc = env.step(a, b)
        buf.add(o, a, b, r, o2, float(done), beta)
        o = o2
        if step >= warm:
            idx = buf.sample(rng, cfg.batch_size)
            ob, bb, rb, ob2, db = (T(x[idx], device=device) for x in (buf.o, buf.b, buf.r, buf.o2, buf.d))
            tc = torch.full((idx.size, 1), beta, device=device)
            adv.update(torch.cat([ob, tc], -1), bb, -rb, torch.cat([ob2, tc], -1), db, torch.full_like(rb, beta))
        if done or trunc:
            o = env.reset(env_rng)
    ret = _rollout(env, agent.act, lambda ob: adv.act(np.concatenate([ob, cond]), True),
                   seed_obj.generator("qarl.worst.eval"), 10)
    return adv, ret


@dataclass(frozen=True, kw_only=True)
class RobustnessReport(SolveResult):
    """Robustness of a protagonist (:func:`evaluate_robustness`).

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
    >>> # rep = evaluate_robustness(train(AdversarialPointMass()).agent); rep.grid_returns.shape
    """
    from games.envs import AdversarialPointMass

    where = "evaluate_robustness()"
    if not isinstance(agent, QARLAgent):
        raise InvalidInputError(f"{where}: agent must be a QARLAgent, got {type(agent).__name__}")
    from engine.validation import as_float_array

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
    _, worst = train_worst_case_adversary(agent, env, steps=adversary_steps, seed=seed_obj.int_seed("robust.adv"))
    grid = np.zeros((ms.size, fs.size))
    for i, m in enumerate(ms):
        for j, f in enumerate(fs):
            e = AdversarialPointMass(**{**agent.env_params, "mass": float(m), "friction": float(f)})
            grid[i, j] = _rollout(e, agent.act, None, seed_obj.generator(f"robust.grid.{i}.{j}"), episodes)
    params = {"masses": ms.tolist(), "frictions": fs.tolist(), "episodes": episodes,
              "adversary_steps": adversary_steps, "seed": seed_obj.root}
    return RobustnessReport(status=Status.OPTIMAL, message="", x=grid, objective=worst,
                            runtime=time.perf_counter() - t0, method="robustness", backend="torch", params=params,
                            nominal_return=nominal, worst_case_return=worst, grid_masses=ms, grid_frictions=fs,
                            grid_returns=grid)
