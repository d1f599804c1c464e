"""Combinatorial restless multi-armed bandits (coRMAB), their baselines, and SEQUOIA.

``bandits.make_domain(name, n_arms=, budget=, seed=)`` builds the four coRMAB domains of the
SEQUOIA paper (plus a budget-only one); ``bandits.policies`` holds the baselines;
``bandits.evaluate`` and ``bandits.exact`` measure policies; ``bandits.Sequoia`` trains the
Q-network whose argmax over the feasible set is an exact MIP (``solvers.NetworkMIP``).
"""

import importlib
from typing import Any

from bandits import bounds, exact, policies
from bandits.arms import Arms, InterventionArms, MultiStateArms
from bandits.domains import DOMAINS, make_domain, tube_graph
from bandits.evaluate import EvaluationResult, evaluate
from bandits.problem import CoRMAB

#: SEQUOIA (bandits.sequoia) imports torch, several seconds that ``import bandits`` and every bandits
#: command without a learning method should not pay: its names are served on first use.
_SEQUOIA = ("Sequoia", "SequoiaConfig")


def __getattr__(name: str) -> Any:
    if name in _SEQUOIA:
        return getattr(importlib.import_module("bandits.sequoia"), name)
    raise AttributeError(f"module 'bandits' has no attribute {name!r}")


__all__ = ["Arms", "MultiStateArms", "InterventionArms", "CoRMAB", "make_domain", "DOMAINS", "tube_graph",
           "evaluate", "EvaluationResult", "exact", "policies", "bounds", "Sequoia", "SequoiaConfig"]
