"""The capacity domain's sampler skips checks whose answer is known: same draws, same actions as the
generic :func:`random_maximal` with the exact checker, so instances and samples do not change."""

import numpy as np
import pytest

import bandits
from bandits.constraints.base import random_maximal
from bandits.constraints.capacity import CapacityConstraint


@pytest.mark.parametrize("J, B", [(8, 2), (20, 5), (60, 12)])
def test_sample_equals_random_maximal(J, B):
    for seed in range(3):
        dom = bandits.make_domain("capacity", n_arms=J, budget=B, seed=seed).domain
        for r in range(5):
            fast = dom.sample(np.random.default_rng(r))
            ref = random_maximal(dom.n, np.random.default_rng(r), dom.check)
            assert np.array_equal(fast, ref)
            assert dom.feasible_set().contains(fast)


def test_sample_no_workers_and_free_arms():
    # no worker: nothing can be pulled, not even a cost-0 arm
    dom = CapacityConstraint(np.array([0.0, 2.0, 3.0]), np.array([]))
    assert not dom.sample(np.random.default_rng(0)).any()
    # cost-0 arms always fit once there is a worker
    dom = CapacityConstraint(np.array([0.0, 0.0, 5.0, 5.0]), np.array([5.0]))
    for r in range(4):
        a = dom.sample(np.random.default_rng(r))
        assert np.array_equal(a, random_maximal(4, np.random.default_rng(r), dom.check))
        assert dom.check(a)
