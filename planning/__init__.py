"""Planning: submodular greedy planners (lazy, stochastic, knapsack, matroid, path), SubPO for
submodular RL, SQIRL, and FARE-style exploration with topological waypoint graphs."""

from planning import exploration, sqirl, submodular, subrl
from planning.submodular import (FacilityLocation, FeatureBased, GraphCoverage, LogDet, Mixture, Modular,
                                 SetFunction, SubmodularInstance, SubmodularResult, WeightedCoverage, greedy,
                                 instance_to_dict, knapsack_greedy, lazy_greedy, load_instance, matroid_greedy,
                                 multi_path_greedy, path_greedy, solve_instance, stochastic_greedy)

__all__ = [
    "submodular", "subrl", "sqirl", "exploration", "greedy", "lazy_greedy", "stochastic_greedy", "knapsack_greedy",
    "matroid_greedy", "path_greedy", "multi_path_greedy", "FacilityLocation", "WeightedCoverage", "GraphCoverage",
    "FeatureBased", "LogDet", "Mixture", "Modular", "SetFunction", "SubmodularResult", "SubmodularInstance",
    "instance_to_dict", "load_instance", "solve_instance",
]
