"""Robot exploration on occupancy grids: FARE hierarchical planning and classic baselines.

``explore(map, planner, *, seed, max_steps)`` simulates a robot with a range-limited
line-of-sight sensor exploring a ground-truth occupancy map (loaded from PNG/NPY or generated:
``indoor``, ``forest``, ``warehouse``). Planners: ``nearest_frontier`` (classic, cell level),
``nearest_viewpoint`` (nearest frontier on the viewpoint graph), ``utility_greedy``,
``gain_greedy`` (cell-level, sure information gain per path cost), ``fare`` (a strategist
orders the communities of a pruned topological graph of viewpoints, cell-level gain-greedy
moves locally) and ``fare_learned`` (a learned local policy). Strategists are
pluggable: OR-Tools ``route``, ``greedy`` or any ``prompt -> text`` callable (an LLM).

Examples
--------
>>> from planning.exploration import explore, maps
>>> res = explore(maps.forest(50, seed=1), "fare", seed=0)
>>> res.finish_reason
'explored'
"""

from planning.exploration.explore import (FARE, PLANNERS, CellGreedyPlanner, ExplorationEnv, ExplorationResult,
                                          NearestFrontier, NearestViewpoint, StepInfo, UtilityGreedyPlanner, explore,
                                          make_planner)
from planning.exploration.local import CellGreedy, Decision, LearnedPolicy, UtilityGreedy
from planning.exploration.maps import (FREE, MAP_KINDS, OCCUPIED, UNKNOWN, OccupancyMap, forest, generate, indoor,
                                       load_map, make_map, save_map, warehouse)
from planning.exploration.sensing import frontier_mask, sense
from planning.exploration.strategists import (GreedyStrategist, LLMStrategist, RouteStrategist, Strategist,
                                              plan_waypoints, validate_sequence)
from planning.exploration.state import ExplorationState, Guide, describe_environment
from planning.exploration.topology import Community, TopologicalGraph, build_topology, detect_communities, modularity
from planning.exploration.training import ExplorationTrainingConfig, train_policy
from planning.exploration.viewpoints import ViewpointGraph

__all__ = [
    "explore", "ExplorationEnv", "StepInfo", "ExplorationResult", "ExplorationState", "Guide", "PLANNERS",
    "make_planner", "describe_environment", "NearestFrontier", "NearestViewpoint", "UtilityGreedyPlanner",
    "CellGreedyPlanner", "FARE", "UtilityGreedy", "CellGreedy", "LearnedPolicy", "Decision",
    "ExplorationTrainingConfig", "train_policy", "OccupancyMap", "make_map", "load_map", "save_map", "indoor", "forest",
    "warehouse", "generate", "MAP_KINDS", "FREE", "OCCUPIED", "UNKNOWN", "sense", "frontier_mask", "ViewpointGraph", "Community",
    "TopologicalGraph", "build_topology", "detect_communities", "modularity", "Strategist", "RouteStrategist",
    "GreedyStrategist", "LLMStrategist", "plan_waypoints", "validate_sequence",
]
