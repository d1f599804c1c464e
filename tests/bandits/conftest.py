import numpy as np
import pytest

from bandits.arms import MultiStateArms
from bandits.problem import CoRMAB
from solvers.feasible_set import FeasibleSet


@pytest.fixture(scope="session")
def trap3():
    """3 arms, budget 1: pulling looks bad short-term (0.2 -> 0.15 -> 0.1) but the top state pays 5/4."""
    arms = MultiStateArms([0.1, 0.1, 0.1], [0.9, 0.9, 0.9],
                          [[0.2, 0.15, 0.1, 5.0], [0.2, 0.15, 0.1, 4.0], [0.1, 0.15, 0.2, 1.0]])
    return CoRMAB(arms, FeasibleSet.budget(3, 1))


@pytest.fixture(scope="session")
def budget4():
    rng = np.random.default_rng(7)
    arms = MultiStateArms(rng.uniform(0, 0.2, 4), rng.uniform(0.7, 0.9, 4),
                          [[0.2, 0.15, 0.1, 4.0], [0.2, 0.15, 0.1, 6.0], [0.1, 0.15, 0.2, 2.0], [0.1, 0.15, 0.2, 1.0]])
    return CoRMAB(arms, FeasibleSet.budget(4, 2))
