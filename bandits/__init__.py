"""Combinatorial restless multi-armed bandits (coRMAB), their baselines, and SEQUOIA.

``bandits.make_domain(name, n_arms=, budget=, seed=)`` builds the four coRMAB domains of the
SEQUOIA paper (plus a budget-only one); ``bandits.policies`` holds the baselines;
``bandits.evaluate`` and ``bandits.exact`` measure policies; ``bandits.Sequoia`` trains the
Q-network whose argmax over the feasible set is an exact MIP (``solvers.NetworkMIP``).
"""

from bandits import bounds, exact, policies
from bandits.arms import Arms, InterventionArms, MultiStateArms
from bandits.domains import DOMAINS, make_domain, tube_graph
from bandits.evaluate import EvaluationResult, evaluate
from bandits.problem import CoRMAB
from bandits.sequoia import Sequoia, SequoiaConfig

__all__ = ["Arms", "MultiStateArms", "InterventionArms", "CoRMAB", "make_domain", "DOMAINS", "tube_graph",
           "evaluate", "EvaluationResult", "exact", "policies", "bounds", "Sequoia", "SequoiaConfig"]
