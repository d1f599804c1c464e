"""Random instances of the coRMAB domains (what :func:`bandits.make_domain` builds, without the problem).

Default arms (all overridable): ``S = 4`` states; ``p_passive ~ U(0, 0.2)``,
``p_active ~ U(0.7, 0.9)``; the first ``B`` arms pay ``[0.2, 0.15, 0.1, R]`` with ``R`` in
{4, 5, 6} (acting looks bad short-term), the others ``[0.1, 0.15, 0.2, R]`` with ``R`` in {1, 2, 3}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from bandits.arms import Arms, MultiStateArms
from bandits.constraints.base import Domain
from bandits.constraints.budget import BudgetConstraint
from bandits.constraints.capacity import CapacityConstraint
from bandits.constraints.interventions import InterventionConstraint
from bandits.constraints.matching import MatchingConstraint
from bandits.constraints.path import PathConstraint
from engine.errors import InvalidInputError
from engine.seeding import resolve_seed
from engine.validation import as_float_array, check_choice, check_int, check_real

__all__ = ["DOMAIN_TYPES", "DOMAINS", "ARM_PARAMETERS", "DomainInstance", "generate", "default_arms"]

#: the domains by name (:func:`bandits.make_domain` and ``metadata.domain.name`` of documents)
DOMAIN_TYPES: dict[str, type[Domain]] = {cls.name: cls for cls in (
    BudgetConstraint, PathConstraint, MatchingConstraint, CapacityConstraint, InterventionConstraint)}
DOMAINS = tuple(DOMAIN_TYPES)
#: keyword parameters of the default arms, accepted by every domain
ARM_PARAMETERS = ("n_states", "p_passive", "p_active", "rewards", "p_passive_range", "p_active_range", "good_top",
                  "bad_top")


@dataclass(frozen=True)
class DomainInstance:
    """A generated instance: its arms, its domain (constraint) and the spec that rebuilds it.

    Attributes
    ----------
    arms : Arms
    domain : Domain
    budget : int
    spec : dict
        The :func:`generate` arguments (``name``, ``n_arms``, ``budget``, resolved ``seed`` and
        the parameters given, arrays as lists); without the parameters when one of them (a
        graph) is not plain data.
    """

    arms: Arms
    domain: Domain
    budget: int
    spec: dict


def default_arms(n_arms: int, budget: int, rng: np.random.Generator, *, n_states: int = 4, p_passive: Any = None,
                 p_active: Any = None, rewards: Any = None, p_passive_range: tuple[float, float] = (0.0, 0.2),
                 p_active_range: tuple[float, float] = (0.7, 0.9), good_top: Any = (4, 5, 6), bad_top: Any = (1, 2, 3),
                 where: str = "make_domain()") -> MultiStateArms:
    """The paper's default birth–death arms (see the module docstring); any array can be given."""
    J = n_arms
    S = check_int(n_states, "n_states", where, lower=2)
    lo_p, hi_p = _probability_range(p_passive_range, "p_passive_range", where)
    lo_a, hi_a = _probability_range(p_active_range, "p_active_range", where)
    good = as_float_array(good_top, "good_top", where, ndim=1)
    bad = as_float_array(bad_top, "bad_top", where, ndim=1)
    for label, arr in (("good_top", good), ("bad_top", bad)):
        if arr.size == 0:
            raise InvalidInputError(f"{where}: {label} must hold at least one reward, got {arr.tolist()}")
    pp = rng.uniform(lo_p, hi_p, size=J)
    pa = rng.uniform(lo_a, hi_a, size=J)
    tops = np.where(np.arange(J) < budget, rng.choice(good, size=J), rng.choice(bad, size=J))
    if p_passive is not None:
        pp = as_float_array(p_passive, "p_passive", where, shape=(J,))
    if p_active is not None:
        pa = as_float_array(p_active, "p_active", where, shape=(J,))
    if rewards is None:
        good = np.linspace(0.2, 0.1, S - 1)
        bad = np.linspace(0.1, 0.2, S - 1)
        R = np.empty((J, S))
        R[:, : S - 1] = np.where((np.arange(J) < budget)[:, None], good[None, :], bad[None, :])
        R[:, S - 1] = tops
    else:
        R = rewards
    return MultiStateArms(pp, pa, R)


def _probability_range(value: Any, name: str, where: str) -> tuple[float, float]:
    """A ``(low, high)`` pair with ``0 <= low <= high <= 1``."""
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise InvalidInputError(f"{where}: {name} must be a (low, high) pair of probabilities, got {value!r}")
    lo = check_real(pair[0], f"{name}[0]", where, lower=0.0, upper=1.0)
    hi = check_real(pair[1], f"{name}[1]", where, lower=0.0, upper=1.0)
    if lo > hi:
        raise InvalidInputError(f"{where}: {name} must have low <= high, got {value!r}")
    return lo, hi


def _validate_generate(name: Any, n_arms: Any, budget: Any, params: dict, where: str) -> tuple[type[Domain], int, int]:
    check_choice(name, "domain", where, DOMAINS)
    J = check_int(n_arms, "n_arms", where, lower=1)
    B = check_int(budget, "budget", where, lower=0)
    if B > J:
        raise InvalidInputError(f"{where}: budget must be <= n_arms = {J}, got {B}")
    cls = DOMAIN_TYPES[name]
    allowed = set(ARM_PARAMETERS) | set(cls.parameters)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidInputError(f"{where}: unknown parameter(s) {unknown} for domain {name!r}; "
                                f"allowed: {sorted(allowed)}")
    return cls, J, B


def generate(name: str, *, n_arms: int, budget: int, seed: Any = 0, params: Optional[Mapping[str, Any]] = None,
             where: str = "generate()") -> DomainInstance:
    """Draw an instance of the domain ``name``: what :func:`bandits.make_domain` builds its problem from.

    ``params`` holds the arm parameters (:data:`ARM_PARAMETERS`) and the domain's own
    (``DOMAIN_TYPES[name].parameters``). Every random choice comes from the generator ``seed``
    gives for the stream ``domain:<name>``: the default arms first, then the domain's draws.
    Errors name ``where``.

    Examples
    --------
    >>> inst = generate("capacity", n_arms=6, budget=2, seed=0)
    >>> type(inst.domain).__name__, inst.arms.n_arms, inst.spec["seed"]
    ('CapacityConstraint', 6, 0)
    """
    params = dict(params or {})
    cls, J, B = _validate_generate(name, n_arms, budget, params, where)
    seed_obj = resolve_seed(seed, where=where)
    rng = seed_obj.generator(f"domain:{name}")
    spec: dict[str, Any] = {"name": name, "n_arms": J, "budget": B, "seed": seed_obj.root}
    if "graph" not in params:  # a user graph is not plain data: such a spec names the sizes only
        spec.update({k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in params.items()})
    arm_kw = {k: params.pop(k) for k in ARM_PARAMETERS if k in params}
    base = default_arms(J, B, rng, where=where, **arm_kw)
    domain = cls.generate(J, B, rng, params, where)
    return DomainInstance(arms=domain.make_arms(base, rng, params, where), domain=domain, budget=B, spec=spec)
