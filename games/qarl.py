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

**Learning version** (:func:`train`, settings :class:`QARLConfig`, result
:class:`engine.training.TrainingResult`; defined in :mod:`games.qarl_learning` and available from
here): soft actor-critic protagonist and temperature-conditioned SAC adversary (:mod:`games.sac`) in
torch on :class:`games.envs.AdversarialPointMass`, with the same curricula, ``save``/``load`` and
:func:`evaluate_robustness`.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from engine.errors import InvalidInputError
from engine.events import Iteration, emit
from engine.result import SolveResult
from engine.seeding import resolve_seed
from engine.status import Status
from engine.validation import check_choice, check_int, check_real
from games.markov import ZeroSumMarkovGame, _check_game, _softmax, shapley

__all__ = ["SCHEDULES", "CurriculumResult", "curriculum", "compare", "gamma_kl", "self_paced_step",
           "QARLConfig", "TrainConfig", "QARLAgent", "RobustnessReport", "train", "load", "evaluate_robustness",
           "train_worst_case_adversary"]

SCHEDULES = ("linear", "geometric", "self_paced", "rational", "fixed")

#: The learning version lives in :mod:`games.qarl_learning` (it imports torch, about 5 s, which
#: ``import games`` should not pay); its names are served from here on first use.
_LEARNING = ("QARLConfig", "TrainConfig", "QARLAgent", "RobustnessReport", "train", "load", "evaluate_robustness",
             "train_worst_case_adversary")


def __getattr__(name: str) -> Any:
    if name in _LEARNING:
        return getattr(importlib.import_module("games.qarl_learning"), name)
    raise AttributeError(f"module 'games.qarl' has no attribute {name!r}")


# ============================================================================ self-paced teacher
def gamma_kl(k1: float, theta1: float, k2: float, theta2: float) -> float:
    """``KL(Gamma(k1, theta1) || Gamma(k2, theta2))`` (shape/scale parametrisation), closed form.

    Examples
    --------
    >>> gamma_kl(2.0, 0.5, 2.0, 0.5)
    0.0
    """
    return float((k1 - k2) * digamma(k1) - gammaln(k1) + gammaln(k2) + k2 * (math.log(theta2) - math.log(theta1))
                 + k1 * (theta1 - theta2) / theta2)


def _gamma_logpdf(x: np.ndarray, k: float, theta: float) -> np.ndarray:
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


def _validate_curriculum(game, schedule, alpha, start, target, steps, inner, lr, threshold, kl_bound, n_samples,
                         start_shape, target_shape, callback):
    where = "curriculum()"
    g = _check_game(game, where)
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
