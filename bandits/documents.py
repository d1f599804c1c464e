"""coRMAB problems given as files: what ``engine-bench solve`` / ``serve`` do with them.

The ``cormab`` input kind (registered under ``engine_bench.kinds``) takes a ``gameplan/cormab``
document (:meth:`bandits.CoRMAB.to_dict`). Methods:

* ``myopic`` (default): the exact one-step optimum ``argmax_a R(s, a)``
  (:func:`bandits.policies.myopic`), evaluated by Monte Carlo (:func:`bandits.evaluate`,
  ``--eval-episodes`` episodes of ``--horizon`` steps);
* ``sequoia``: trains a SEQUOIA agent for ``--episodes`` episodes (``--time-limit`` bounds the
  training and the evaluation; a cut answer has status ``time_limit``), ``--save agent.pt`` keeps the agent,
  then evaluates it; ``--policy agent.pt`` decides with a saved agent instead of training;
* ``whittle``, ``iterative_myopic``, ``random``, ``null``: the baselines.

With ``--state '[0,1,...]'`` the answer is the action for that one state (a :class:`Decision`)
instead of an evaluation: the call an operations tool makes each day.

A Monte Carlo evaluation is an estimate, so its status is ``feasible`` (never ``optimal``); a
myopic decision is ``optimal`` for the one-step objective when the feasible set was enumerated
or every MIP was proven optimal.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.io import loads_json
from engine.result import SolveResult
from engine.solve import Kind, KindOption, Solved, SolveRequest, Source, call_with
from engine.status import Status

# The bandits modules are imported inside the functions that use them: the engine imports every
# registered kind's module to sniff an input file, and importing bandits pulls in torch (SEQUOIA),
# which a game or planning file must not pay for.

__all__ = ["cormab_kind", "Decision", "METHODS"]

#: Methods of the ``cormab`` kind; the first is the default.
METHODS = ("myopic", "fluid", "sequoia", "whittle", "iterative_myopic", "random", "null")
_MAX_STATE_TEXT = 1_000_000


@dataclass(frozen=True, kw_only=True)
class Decision(SolveResult):
    """The action a policy takes in one state of a coRMAB.

    Attributes
    ----------
    state : numpy.ndarray of int
        The state (one entry per arm).
    action : numpy.ndarray of int
        The 0/1 action (also ``x``); ``objective`` is its expected one-step reward ``R(s, a)``.
    policy : str
        The policy that decided.
    """

    state: Any = None
    action: Any = None
    policy: str = ""


def _sniff(src: Source) -> bool:
    return src.schema == "gameplan/cormab"


def _parse_positive(text: str) -> int:
    v = int(str(text).strip())
    if v < 1:
        raise ValueError("must be an integer >= 1")
    return v


def _parse_count(text: str) -> int:
    v = int(str(text).strip())
    if v < 0:
        raise ValueError("must be an integer >= 0")
    return v


def _parse_state(text: str) -> list:
    if len(text) > _MAX_STATE_TEXT:
        raise ValueError(f"longer than {_MAX_STATE_TEXT} characters")
    value = loads_json(text, where="--state", max_depth=2)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError("a JSON list of integers, one state per arm, e.g. [0,1,2]")
    return value


def _parse_path(text: str) -> Path:
    if not str(text).strip():
        raise ValueError("an empty file name")
    return Path(text)


def _policy(problem: Any, name: str, seed: int) -> Any:
    from bandits import policies

    if name == "myopic":
        return policies.myopic(problem)
    if name == "whittle":
        if not problem.is_budget_only:
            raise InvalidInputError("the Whittle index policy needs a budget-only feasible set")
        return policies.whittle(problem)
    if name == "random":
        return policies.random(problem, seed=seed)
    if name == "iterative_myopic":
        return policies.iterative_myopic(problem)
    if name == "fluid":
        return policies.fluid(problem)
    return policies.null(problem)


def _solve(src: Source, req: SolveRequest) -> Solved:
    from bandits.problem import CoRMAB

    opts = req.options
    where = req.where
    problem = CoRMAB.from_dict(src.document)
    method = req.method
    if opts.get("policy") is not None and method != "sequoia":
        if method != METHODS[0]:
            raise InvalidInputError(f"{where}: --policy decides with a saved SEQUOIA agent; it does not go with "
                                    f"--method {method}")
        method = "sequoia"  # --policy alone means: the saved agent decides
    if opts.get("save") is not None and method != "sequoia":
        raise InvalidInputError(f"{where}: --save keeps a trained agent: it needs --method sequoia")
    if opts.get("policy") is not None and opts.get("save") is not None:
        raise InvalidInputError(f"{where}: --policy loads a trained agent and --save keeps a newly trained one; "
                                f"give one of them")
    training = None
    note = ""
    if method == "sequoia":
        from bandits.sequoia import Sequoia

        if opts.get("policy") is not None:
            agent = Sequoia.load(opts["policy"], problem)
            note = f"agent loaded from {opts['policy']}"
        else:
            agent = Sequoia(problem, seed=req.seed, threads=req.threads or 1, horizon=opts["horizon"],
                            warm_start_steps=opts["warm_start_steps"])
            deadline = req.deadline

            def stop_at_deadline(event: Any) -> None:
                if deadline is not None and time.perf_counter() >= deadline:
                    raise StopIteration

            training = call_with(agent.train, opts["episodes"], callback=stop_at_deadline,
                                 time_limit=req.remaining())
            note = f"trained {training.episodes} episodes"
            if opts.get("save") is not None:
                agent.save(opts["save"])
                note += f", agent saved to {opts['save']}"
        pol = agent.policy("sequoia")
    else:
        pol = _policy(problem, method, req.seed)
    cut = training is not None and training.status in (Status.STOPPED, Status.TIME_LIMIT)
    if opts.get("state") is not None:
        state = np.asarray(opts["state"])
        if state.shape != (problem.n_arms,) or state.min(initial=0) < 0 or state.max(initial=0) >= problem.n_states:
            raise InvalidInputError(f"{where}: --state must list {problem.n_arms} integers in [0, "
                                    f"{problem.n_states}), got {json.dumps(opts['state'])[:120]}")
        t0 = time.perf_counter()
        action = np.asarray(pol.act(state), dtype=np.int64)
        reward = float(problem.expected_reward(state[None], action[None])[0])
        exact = method == "myopic" and _myopic_exact(pol)
        status = Status.TIME_LIMIT if cut else (Status.OPTIMAL if exact else Status.FEASIBLE)
        message = ("the exact one-step optimum" if exact else f"the {method} policy's action")
        if cut:
            message = "training cut at the time limit; the action of the agent trained so far"
        params: dict[str, Any] = {"method": method}
        if training is not None:
            params["training"] = _training_summary(training)
        decision = Decision(status=status, message=message + (f" ({note})" if note else ""), x=action, objective=reward,
                       runtime=time.perf_counter() - t0 + (training.runtime if training is not None else 0.0),
                       method=method, backend="torch" if method == "sequoia" else "numpy", params=params,
                       state=state.astype(np.int64), action=action, policy=method)
        rows: list[dict[str, Any]] = [{"field": "state", "value": json.dumps(state.tolist())},
                {"field": "action", "value": json.dumps(action.tolist())},
                {"field": "pulled", "value": json.dumps(np.flatnonzero(action).tolist())},
                {"field": "expected_reward", "value": reward}]
        return Solved(decision, rows, title=f"decision of the {method} policy")
    from bandits.evaluate import evaluate

    # the fluid policy's value comes with the certified bound on every policy's, over the same starts
    bound: Any = None
    if method == "fluid":
        bound, pol = _fluid_with_bound(problem, opts["horizon"], opts["eval_episodes"], req)
    ev = call_with(evaluate, problem, pol, episodes=opts["eval_episodes"], horizon=opts["horizon"], seed=req.seed,
                   time_limit=req.remaining(), bound=bound)
    if bound is not None:
        ev = dataclasses.replace(ev, params={**ev.params, "bound": {
            "method": bound.method, "status": bound.status.value, "runtime": bound.runtime,
            "warm_start": bool(pol.stats["warm_start"])}})
    cut = cut or ev.status == Status.TIME_LIMIT
    params = dict(ev.params)
    params["policy"] = method
    if training is not None:
        params["training"] = _training_summary(training)
    status = Status.TIME_LIMIT if cut else Status.FEASIBLE
    message = f"Monte Carlo estimate of the {method} policy's mean reward per step ({ev.params['episodes']} " \
              f"episodes of {ev.params['horizon']} steps)"
    if cut and training is not None and training.status != Status.OPTIMAL and training.status != Status.FEASIBLE:
        message = f"training cut at the time limit after {training.episodes} episodes; " + message
    elif cut:
        message = f"cut at the time limit: {ev.message}; " + message
    elif note:
        message += f"; {note}"
    bound_rows: list = []
    if not cut and math.isfinite(ev.certified_bound):
        params["certified_bound"] = float(ev.certified_bound)
        message += f"; certified bound on every policy {ev.certified_bound:.6g} ({100 * ev.fraction_of_bound:.1f}%)"
        bound_rows = [{"field": "certified_bound", "value": float(ev.certified_bound)},
                      {"field": "fraction_of_bound", "value": float(ev.fraction_of_bound)}]
    ev = dataclasses.replace(ev, status=status, message=message, method=f"{method}+monte_carlo", params=params)
    rows = [{"field": "policy", "value": method}, {"field": "mean_reward_per_step", "value": float(ev.mean)},
            {"field": "sem", "value": float(ev.sem)}, {"field": "decision_time_mean", "value": float(ev.decision_time_mean)},
            *bound_rows]
    return Solved(ev, rows, title="policy evaluation")


def _fluid_with_bound(problem: Any, horizon: int, episodes: int, req: SolveRequest) -> tuple[Any, Any]:
    """The certified bound on the evaluation's start states, computed first, and the fluid policy
    warm-started from it (its first decision a warm re-solve from the bound's basis, not a cold solve)
    where the bound's LP is the policy's; the policy plans ``min(horizon, 20)`` steps as before."""
    from bandits import policies
    from bandits.bounds import fluid_bound
    from bandits.evaluate import start_states
    from bandits.fluid import warm_start_mismatch

    fb = call_with(fluid_bound, problem, horizon=horizon, initial=start_states(problem, episodes, seed=req.seed),
                   time_limit=req.remaining())
    H = min(horizon, 20)
    fits = not warm_start_mismatch(fb, horizon=H, coupling="hull")
    return fb, policies.fluid(problem, horizon=H, warm_start=fb if fits else None)


def _myopic_exact(pol: Any) -> bool:
    stats = getattr(pol, "stats", {}) or {}
    if getattr(pol, "method", "") == "enumerate":
        return True
    return stats.get("fallbacks", 0) == 0 and stats.get("proven_optimal", 0) == stats.get("mip_solves", -1)


def _training_summary(training: Any) -> dict:
    return {"status": training.status.value, "episodes": int(training.episodes), "runtime": float(training.runtime),
            "objective": float(training.objective) if math.isfinite(training.objective) else None,
            "method": training.method}


# ---------------------------------------------------------------------------- run cormab --instances
def _instance_cases(sources: Any, *, domain: Any = None, arms: Any = None, budget: Any = None, seeds: Any = (0,),
                    episodes: int = 100, eval_episodes: int = 50, horizon: int = 20, methods: Any = None,
                    plot: str = "", bound: bool = True) -> list:
    """The cormab suite's methods on each file (``--domain``, ``--arms`` and ``--budget`` do not apply;
    ``--seeds`` vary training and evaluation of each file's problem)."""
    from bandits.problem import CoRMAB
    from bandits.suites import run_cormab
    from engine.suites import Case

    cases = []
    for src in sources:
        problem = CoRMAB.from_dict(src.document)
        label = Path(src.name).name            # the summary groups runs by file, as by domain for generated ones
        for s in seeds:
            def run(ctx: Any, problem=problem, name=src.name, s=s) -> dict:
                t0 = time.perf_counter()
                kwargs = {} if methods is None else {"methods": methods}
                out = run_cormab(label, problem.n_arms, int(problem.budget or 0), seed=s,
                                 episodes=episodes, eval_episodes=eval_episodes, horizon=horizon,
                                 callback=ctx.callback, time_limit=ctx.remaining(), threads=ctx.threads,
                                 run_seed=ctx.seed, problem=problem, bound=bound, **kwargs)
                out["instance"] = name
                out["runtime"] = time.perf_counter() - t0
                return out
            cases.append(Case(name=f"{src.name} seed={s}", params={"instance": src.name, "seed": s}, run=run))
    return cases


def _cormab_suite() -> Any:
    from bandits.suites import cormab_suite as generated
    from engine.solve import with_instances

    return with_instances(generated, cormab_kind)


cormab_kind = Kind(
    name="cormab",
    accepts="a gameplan/cormab JSON document",
    sniff=_sniff,
    solve=_solve,
    methods=METHODS,
    options=(
        KindOption("state", _parse_state, None, "decide for this one state (JSON list, one entry per arm) "
                   "instead of evaluating the policy"),
        KindOption("episodes", _parse_count, 100, "SEQUOIA training episodes"),
        KindOption("eval_episodes", _parse_positive, 50, "Monte Carlo evaluation episodes"),
        KindOption("horizon", _parse_positive, 20, "steps per episode (training and evaluation)"),
        KindOption("warm_start_steps", _parse_count, 1000, "SEQUOIA's reward-fitting steps before training"),
        KindOption("save", _parse_path, None, "keep the trained SEQUOIA agent in this file", path=True),
        KindOption("policy", _parse_path, None, "decide with a SEQUOIA agent saved by --save", path=True),
    ),
    schema="gameplan/cormab",
    instance_cases=_instance_cases,
)

#: The ``cormab`` suite of ``engine-bench run`` plus ``--instances GLOB`` (its entry point).
cormab_suite = _cormab_suite()
