"""bandits.evaluate and exact.policy_value refuse actions a policy may not take (issue 15 section 4)."""

import re

import numpy as np
import pytest

from bandits import exact, policies
from bandits.evaluate import evaluate
from engine.errors import InvalidInputError


class Fixed:
    """A deterministic policy that answers ``answer`` (or ``answer(state)``) in every state."""

    name = "fixed"
    deterministic = True

    def __init__(self, answer):
        self.answer = answer

    def act(self, state):
        return self.answer(state) if callable(self.answer) else self.answer


def _pull_all(state):
    return np.ones(3, dtype=np.int64)


def _pull_all_when_top(state):
    # feasible (one pull) except in states whose first arm is in its top state
    return np.ones(3, dtype=np.int64) if state[0] == 3 else np.array([1, 0, 0])


@pytest.mark.parametrize("answer", [_pull_all, _pull_all_when_top])
def test_exact_methods_refuse_infeasible_actions_naming_state_and_action(trap3, answer):
    """Once: value above the optimum with status OPTIMAL; now the same InvalidInputError as Monte Carlo."""
    pol = Fixed(answer)
    pattern = r"policy.act\(\) returned action \[1, 1, 1\] in state \[\d, \d, \d\]"
    with pytest.raises(InvalidInputError, match=r"exact.policy_value\(\): " + pattern + ".*violates the cormab"):
        exact.policy_value(trap3, pol, 3)
    with pytest.raises(InvalidInputError, match=r"evaluate\(\): " + pattern):
        evaluate(trap3, pol, horizon=3, method="exact")
    with pytest.raises(InvalidInputError, match=r"evaluate\(\): " + pattern):
        evaluate(trap3, pol, horizon=3, episodes=20, initial_state=[3, 3, 3], method="monte_carlo")


def test_exact_names_a_state_where_the_policy_chose_the_infeasible_action(trap3):
    with pytest.raises(InvalidInputError) as info:
        exact.policy_value(trap3, Fixed(_pull_all_when_top), 2)
    state = [int(v) for v in re.search(r"in state \[(\d), (\d), (\d)\]", str(info.value)).groups()]
    assert state[0] == 3   # the state really is one where the policy pulls every arm


def test_opting_out_of_the_check_is_explicit(trap3):
    """check_actions=False still evaluates (the caller asked for it): the value exceeds the optimum."""
    res = evaluate(trap3, Fixed(_pull_all), horizon=3, method="exact", check_actions=False)
    assert res.mean > exact.optimal_value(trap3, 3) + 1e-9


@pytest.mark.parametrize("answer, shown", [
    (None, "None"),
    ([1, 0], r"\[1, 0\]"),
    ([0, 0, 0, 0], r"\[0, 0, 0, 0\]"),
    ([0.5, 0.0, 0.0], r"\[0.5, 0.0, 0.0\]"),       # once silently truncated to [0, 0, 0]
    (np.array([0.5, 0.5, 0.0]), r"array\(\[0.5, 0.5, 0. *\]\)"),
    (1, "1"),                                       # once broadcast to [1, 1, 1]
    ("abc", "'abc'"),
    ([1, None, 0], r"\[1, None, 0\]"),
    ([[1, 0, 0]], r"\[\[1, 0, 0\]\]"),
    ([2, 0, 0], r"\[2, 0, 0\]"),
])
@pytest.mark.parametrize("method", ["monte_carlo", "exact"])
@pytest.mark.parametrize("check", [True, False])
def test_malformed_actions_are_invalid_input(trap3, answer, shown, method, check):
    with pytest.raises(InvalidInputError, match=r"evaluate\(\): policy.act\(\) returned " + shown
                       + r" in state \[\d, \d, \d\]; expected a 0/1 vector of length 3"):
        evaluate(trap3, Fixed(answer), episodes=2, horizon=2, method=method, check_actions=check)


def test_policy_value_refuses_malformed_actions(trap3):
    with pytest.raises(InvalidInputError, match=r"exact.policy_value\(\): policy.act\(\) returned None"):
        exact.policy_value(trap3, Fixed(None), 2)


def test_feasible_policies_are_unchanged(trap3):
    pol = policies.myopic(trap3)
    v = exact.policy_value(trap3, pol, 3, [0, 1, 2])
    res = evaluate(trap3, pol, horizon=3, initial_state=[0, 1, 2], method="exact")
    assert res.mean == pytest.approx(v, abs=1e-12)
    assert v <= exact.optimal_value(trap3, 3, [0, 1, 2]) + 1e-12
    mc = evaluate(trap3, pol, episodes=5, horizon=3, seed=0)
    assert mc.n_decisions == 15 and np.isfinite(mc.mean)
    # floats that are exactly 0/1 and booleans are fine
    assert np.isfinite(evaluate(trap3, Fixed([1.0, 0.0, 0.0]), episodes=2, horizon=2).mean)
    assert np.isfinite(evaluate(trap3, Fixed(np.array([True, False, False])), episodes=2, horizon=2).mean)
