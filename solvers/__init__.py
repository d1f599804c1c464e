"""The MIP/LP layer: HiGHS models built from arrays, Pyomo export/solve, network embeddings.

Imports no domain package.
"""

from solvers.feasible_set import FeasibleSet
from solvers.highs import LinearModel, LinearResult, solve_milp
from solvers.network_mip import NetworkMIP, NetworkMIPResult
from solvers.pyomo_backend import solve_pyomo, to_pyomo

__all__ = ["LinearModel", "LinearResult", "solve_milp", "solve_pyomo", "to_pyomo", "FeasibleSet", "NetworkMIP",
           "NetworkMIPResult"]
