"""SEQUOIA's warm start on the fluid LP's value-to-go (``warm_start_target="fluid"``, issue 19)."""

import copy

import numpy as np
import pytest
import torch

from bandits import exact, sequoia
from bandits.domains import make_domain
from bandits.sequoia import Sequoia, SequoiaConfig
from engine import checkpoint
from engine.errors import InvalidInputError

TINY = dict(hidden=(8,), horizon=3, warm_start_steps=5, warm_start_samples=16, learning_starts=4, batch_size=4,
            buffer_size=16, target_update=2)


def _exact_targets(problem, states, actions, gamma, n):
    """``R(s, a) + gamma * E[V*_n(s')]`` by dynamic programming over the joint states (``V*_n`` the optimal
    expected total reward of ``n`` steps)."""
    js = exact.joint_states(problem.n_arms, problem.n_states)
    Vn = np.array([n * exact.optimal_value(problem, n, s) for s in js])
    out = []
    for s, a in zip(states, actions):
        mats = problem.arms.arm_matrices(a)
        prob = np.prod([mats[j][s[j], js[:, j]] for j in range(problem.n_arms)], axis=0)
        out.append(problem.expected_reward(s[None], a[None])[0] + gamma * prob @ Vn)
    return np.array(out)


def _samples(problem, k=40, seed=0):
    rng = np.random.default_rng(seed)
    return problem.initial_states(rng, k), np.stack([problem.sample_action(rng) for _ in range(k)])


def test_fluid_target_is_the_exact_value_when_the_constraint_does_not_bind():
    # budget = J: the arms are independent MDPs, the fluid LP is exact and its duals the DP values
    p = make_domain("budget", n_arms=3, budget=3, seed=0)
    S, A = _samples(p)
    agent = Sequoia(p, seed=0, gamma=0.5, warm_start_target="fluid", **TINY)
    y = agent._warm_start_targets(S, A)
    assert agent.warm_start_info["fluid_steps"] == 2  # round(1 / (1 - 0.5))
    np.testing.assert_allclose(y, _exact_targets(p, S, A, 0.5, 2), rtol=0, atol=1e-7)


@pytest.mark.parametrize("domain, J, B", [("budget", 3, 1), ("capacity", 3, 1), ("multiple_interventions", 3, 1)])
def test_fluid_target_bounds_the_exact_value(domain, J, B):
    # coupled arms: the duals are dual feasible for the LP from any state, an upper bound (weak duality);
    # not a trivial one: strictly below R + gamma * n * (largest step reward) on average
    p = make_domain(domain, n_arms=J, budget=B, seed=1)
    S, A = _samples(p)
    agent = Sequoia(p, seed=0, gamma=0.75, warm_start_target="fluid", **TINY)
    y = agent._warm_start_targets(S, A)
    n = agent.warm_start_info["fluid_steps"]
    assert n == 3 and agent.warm_start_info["fluid_status"] == "optimal"
    ex = _exact_targets(p, S, A, 0.75, n)
    assert np.all(y >= ex - 1e-7)
    R = p.expected_reward(S, A)
    assert np.mean(y - ex) < np.mean(0.75 * n * agent.reward_scale + R - ex)
    assert np.all(y > R)  # positive rewards: the value-to-go adds something


def test_reward_target_and_gamma_zero_are_the_one_step_reward():
    p = make_domain("budget", n_arms=3, budget=1, seed=0)
    S, A = _samples(p)
    R = p.expected_reward(S, A)
    np.testing.assert_array_equal(Sequoia(p, seed=0, **TINY)._warm_start_targets(S, A), R)
    agent = Sequoia(p, seed=0, gamma=0.0, warm_start_target="fluid", **TINY)
    np.testing.assert_array_equal(agent._warm_start_targets(S, A), R)
    assert "fluid_steps" not in agent.warm_start_info  # no LP solved


def test_effective_horizon_is_capped_by_the_episode():
    p = make_domain("budget", n_arms=3, budget=1, seed=0)
    S, A = _samples(p, k=8)
    for gamma, n in ((0.9, 3), (1.0, 3), (0.6, 2)):
        agent = Sequoia(p, seed=0, **{**TINY, "gamma": gamma, "warm_start_target": "fluid"})
        agent._warm_start_targets(S, A)
        assert agent.warm_start_info["fluid_steps"] == n


def test_option_is_validated():
    p = make_domain("budget", n_arms=3, budget=1, seed=0)
    with pytest.raises(InvalidInputError, match=r"Sequoia\(\): unknown warm_start_target 'lp'"):
        Sequoia(p, warm_start_target="lp")
    with pytest.raises(InvalidInputError, match="warm_start_target"):
        SequoiaConfig.from_dict({"warm_start_target": 1}, "Sequoia()")
    assert SequoiaConfig().warm_start_target == "reward"


def test_same_seed_same_network_and_the_target_changes_it():
    p = make_domain("capacity", n_arms=4, budget=2, seed=0)

    def trained(target):
        agent = Sequoia(p, seed=3, warm_start_target=target, **TINY)
        res = agent.train(episodes=2)
        return agent, res

    a, res = trained("fluid")
    b, _ = trained("fluid")
    r, _ = trained("reward")
    for k, v in a.q.state_dict().items():
        assert torch.equal(v, b.q.state_dict()[k])
    assert any(not torch.equal(v, r.q.state_dict()[k]) for k, v in a.q.state_dict().items())
    ws = res.params["warm_start"]
    assert ws["target"] == "fluid" and ws["fluid_status"] == "optimal" and np.isfinite(ws["r2"])
    assert res.params["config"]["warm_start_target"] == "fluid"


def test_save_load_keeps_the_option_and_resumes_exactly(tmp_path):
    p = make_domain("budget", n_arms=4, budget=1, seed=0)
    kw = dict(seed=2, warm_start_target="fluid", **TINY)
    full = Sequoia(p, **kw)
    full.train(episodes=4)
    half = Sequoia(p, **kw)
    half.train(episodes=2)
    half.save(tmp_path / "h.pt")
    back = Sequoia.load(tmp_path / "h.pt")
    assert back.config.warm_start_target == "fluid" and back.warm_started
    back.train(episodes=2)
    for k, v in full.q.state_dict().items():
        assert torch.equal(v, back.q.state_dict()[k])
    # saved before any training: the warm start (and its LP) runs after loading
    fresh = Sequoia(p, **kw)
    fresh.save(tmp_path / "f.pt")
    again = Sequoia.load(tmp_path / "f.pt")
    again.train(episodes=4)
    for k, v in full.q.state_dict().items():
        assert torch.equal(v, again.q.state_dict()[k])


def test_version_4_checkpoints_load_with_the_reward_warm_start(tmp_path):
    p = make_domain("budget", n_arms=4, budget=1, seed=0)
    agent = Sequoia(p, seed=0, **TINY)
    agent.train(episodes=1)
    state = copy.deepcopy(agent.state_dict())
    state["config"].pop("warm_start_target")
    back = Sequoia.load(checkpoint.write(tmp_path / "v4.pt", state, kind=sequoia._KIND, version=4))
    assert back.config == agent.config.replace_fields(device="auto")
    assert back.config.warm_start_target == "reward"
    # version 5 must hold it, and only a known value
    with pytest.raises(InvalidInputError, match="config has the wrong keys"):
        Sequoia.load(checkpoint.write(tmp_path / "v5.pt", state, kind=sequoia._KIND, version=5))
    state["config"]["warm_start_target"] = "dp"
    with pytest.raises(InvalidInputError, match="warm_start_target"):
        Sequoia.load(checkpoint.write(tmp_path / "v5.pt", state, kind=sequoia._KIND, version=5))
