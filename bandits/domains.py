"""The four coRMAB domains of the SEQUOIA paper (and a plain budget domain) as problems.

``make_domain(name, n_arms=J, budget=B, seed=...)`` draws an instance of one of the domains of
:mod:`bandits.constraints` (looked up by name in :data:`~bandits.constraints.DOMAIN_TYPES`) and
returns it as a :class:`~bandits.CoRMAB` whose feasible set is the domain's
:class:`solvers.FeasibleSet` and which also carries the domain's **exact feasibility checker**
(an algorithm independent of the MIP encoding), a random feasible-action **sampler** and an
**enumerator** for small sets. The domains:

``"budget"``
    ``sum(a) <= B``.
``"path"``
    The pulled arms (graph nodes) must be visited by a closed walk of exactly ``2B`` edges from a
    source node, and at most ``B`` arms are pulled (:class:`~bandits.constraints.PathConstraint`).
``"matching"``
    ``B`` workers, ``n_slots`` (5) time slots; each arm is available in 2 slots, each worker in 3.
    A pulled arm needs two (worker, slot) assignments where both are available; a worker fills at
    most one arm per slot; at most ``max_pulls`` (default ``B``) arms
    (:class:`~bandits.constraints.MatchingConstraint`).
``"capacity"``
    ``B`` workers with capacities (default uniform in {2..7}); arms have costs (default {2..6});
    a pulled arm is assigned to one worker within the workers' capacities
    (:class:`~bandits.constraints.CapacityConstraint`).
``"multiple_interventions"``
    ``N`` interventions (default ``2B``), exactly ``B`` chosen; arm ``j`` moves up with a sigmoid
    probability of the weighted interventions hitting it (:class:`~bandits.InterventionArms`).
    As in the paper some arms respond only to a particular *triple* of interventions (each of
    the three alone does nearly nothing), so greedy construction is beatable.

Default arms (all overridable): ``S = 4`` states; ``p_passive ~ U(0, 0.2)``,
``p_active ~ U(0.7, 0.9)``; the first ``B`` arms pay ``[0.2, 0.15, 0.1, R]`` with ``R`` in
{4, 5, 6} (acting looks bad short-term), the others ``[0.1, 0.15, 0.2, R]`` with ``R`` in {1, 2, 3}.

The domain classes live in :mod:`bandits.constraints`, which does not import
:mod:`bandits.problem`: the document reader (:mod:`bandits.io`, used by ``CoRMAB.from_dict``)
rebuilds domains from there, and this module builds problems on top of both.
"""

from __future__ import annotations

from typing import Any

from bandits.constraints import (DOMAIN_TYPES, DOMAINS, TUBE_SIZES, BudgetConstraint, CapacityConstraint, Domain,
                                 InterventionConstraint, MatchingConstraint, PathConstraint, default_arms,
                                 enumerate_down_closed, generate, tube_graph)
from bandits.problem import CoRMAB

__all__ = ["make_domain", "domain_from_spec", "DOMAINS", "DOMAIN_TYPES", "TUBE_SIZES", "tube_graph", "default_arms",
           "Domain", "BudgetConstraint", "PathConstraint", "MatchingConstraint", "CapacityConstraint",
           "InterventionConstraint", "enumerate_down_closed"]


def make_domain(name: str, *, n_arms: int, budget: int, seed: Any = 0, **params: Any) -> CoRMAB:
    """Generate one of the SEQUOIA paper's coRMAB domains.

    Parameters
    ----------
    name : {"budget", "path", "matching", "capacity", "multiple_interventions"}
    n_arms : int
        ``J``.
    budget : int
        ``B`` (the pull budget / walk half-length / number of workers / interventions chosen).
    seed : int, Generator or None
        Drives every random parameter.
    **params
        Arm overrides (``n_states``, ``p_passive``, ``p_active``, ``rewards``, ``p_passive_range``,
        ``p_active_range``, ``good_top``, ``bad_top``) and domain parameters: path ``graph``
        (networkx; default the tube subgraph for J in {20, 40, 60, 80, 100}, else a random
        connected graph) and ``source``; matching ``n_slots`` (5), ``arm_slots``,
        ``worker_slots``, ``max_pulls`` (B); capacity ``costs``, ``capacities``, ``n_workers`` (B);
        multiple_interventions ``n_interventions`` (2B), ``weights``, ``amp``, ``slope``, ``x0``.

    Returns
    -------
    CoRMAB
        With ``.arms``, ``.feasible_set``, ``.domain`` (the :class:`~bandits.constraints.Domain`),
        ``.name``, ``.budget``, ``.spec`` and the domain's attributes (path: ``.graph``,
        ``.source``; matching: ``.arm_slots``, ``.worker_slots``; capacity: ``.costs``,
        ``.capacities``; path, matching and capacity: ``.constraint``, the domain itself;
        interventions: ``.n_interventions``).

    Examples
    --------
    >>> import bandits
    >>> import numpy as np
    >>> p = bandits.make_domain("path", n_arms=20, budget=3, seed=0)
    >>> p.source, p.graph.number_of_nodes(), p.n_actions
    (0, 20, 20)
    >>> a = p.sample_action(np.random.default_rng(0))
    >>> p.contains(a), p.feasible_set.contains(a)
    (True, True)
    """
    inst = generate(name, n_arms=n_arms, budget=budget, seed=seed, params=params, where="make_domain()")
    return CoRMAB(inst.arms, inst.domain.feasible_set(), domain=inst.domain, name=name, budget=inst.budget,
                  spec=inst.spec)


def domain_from_spec(spec: dict) -> CoRMAB:
    """Rebuild a problem from its ``spec`` (as saved in SEQUOIA checkpoints)."""
    spec = dict(spec)
    name = spec.pop("name")
    return make_domain(name, **spec)
