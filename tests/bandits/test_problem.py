"""CoRMAB's constructor and sampler: bad arguments are InvalidInputError naming CoRMAB() and the value."""

import gc

import numpy as np
import pytest

import bandits
from bandits import policies, policy_base
from bandits.arms import MultiStateArms
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError
from solvers.feasible_set import FeasibleSet


@pytest.fixture(scope="module")
def parts():
    arms = MultiStateArms([0.1] * 3, [0.8] * 3, [[0, 0, 1]] * 3)
    return arms, FeasibleSet.budget(n=3, budget=1)


@pytest.mark.parametrize("kwargs, match", [
    ({"checker": 3}, r"CoRMAB\(\): checker must be callable or None, got 3"),
    ({"sampler": "x"}, r"CoRMAB\(\): sampler must be callable or None, got 'x'"),
    ({"partial_checker": [1]}, r"CoRMAB\(\): partial_checker must be callable or None, got \[1\]"),
    ({"enumerator": 1.5}, r"CoRMAB\(\): enumerator must be callable or None, got 1.5"),
    ({"budget": "x"}, r"CoRMAB\(\): budget must be an integer, got 'x'"),
    ({"budget": -1}, r"CoRMAB\(\): budget must be >= 0, got -1"),
    ({"budget": 1.5}, r"CoRMAB\(\): budget must be an integer, got 1.5"),
    ({"name": 7}, r"CoRMAB\(\): name must be a string, got 7"),
    ({"spec": "budget"}, r"CoRMAB\(\): spec must be a mapping"),
    ({"sampler": lambda rng: None}, r"CoRMAB\(\): sampler\(rng\) returned None; expected a 0/1 vector of length 3"),
    ({"sampler": lambda rng: [1, 0]}, r"CoRMAB\(\): sampler\(rng\) returned \[1, 0\]; expected a 0/1 vector"),
    ({"sampler": lambda rng: [0.5, 0, 0]}, r"CoRMAB\(\): sampler\(rng\) returned \[0.5, 0, 0\]"),
    ({"sampler": lambda rng: "abc"}, r"CoRMAB\(\): sampler\(rng\) returned 'abc'"),
    ({"sampler": lambda rng: [[0, 0, 0]]}, r"CoRMAB\(\): sampler\(rng\) returned \[\[0, 0, 0\]\]"),
])
def test_bad_constructor_arguments_are_invalid_input(parts, kwargs, match):
    arms, fs = parts
    with pytest.raises(InvalidInputError, match=match):
        CoRMAB(arms, fs, **kwargs)


def test_a_sampler_that_breaks_later_is_caught_by_sample_action(parts):
    arms, fs = parts
    answers = iter([[0, 0, 0], None])
    p = CoRMAB(arms, fs, sampler=lambda rng: next(answers))
    with pytest.raises(InvalidInputError, match=r"CoRMAB.sample_action\(\): sampler\(rng\) returned None"):
        p.sample_action(np.random.default_rng(0))


def test_good_arguments_still_work(parts):
    arms, fs = parts
    p = CoRMAB(arms, fs, budget=np.int64(1), name="ok", spec={"name": "budget"},
               sampler=lambda rng: np.array([1.0, 0.0, 0.0, 0.25]))   # extra (auxiliary) entries are ignored
    assert p.budget == 1 and p.sample_action(np.random.default_rng(0)).tolist() == [1, 0, 0]


def test_greedy_construction_memo_lives_outside_the_problem():
    """policy_base._memo_check memoises feasibility per problem without writing into the problem."""
    p = bandits.make_domain("capacity", n_arms=8, budget=2, seed=0)
    before = dict(vars(p))
    a, ok = policies.greedy_construct(p, np.zeros(8, dtype=np.int64), lambda A: A.sum(axis=1))
    assert ok and p.contains(a) and vars(p).keys() == before.keys()
    assert len(policy_base._MEMOS[p][1]) > 0
    n = len(policy_base._MEMOS)
    del p
    gc.collect()
    assert len(policy_base._MEMOS) == n - 1  # dropped with the problem
