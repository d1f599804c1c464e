import numpy as np
import pytest

from bandits import exact, policies
from bandits.domains import make_domain
from bandits.evaluate import evaluate
from bandits.sequoia import Sequoia
from engine.errors import InvalidInputError

FAST = dict(warm_start_steps=100, learning_starts=32, target_update=25, epsilon_decay_episodes=20)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sequoia_reaches_optimum_and_beats_myopic(trap3, seed):
    H, s0 = 20, [0, 0, 0]
    agent = Sequoia(trap3, seed=seed, horizon=H, train_frequency=2, **FAST)
    res = agent.train(episodes=30)
    assert res.episodes == 30 and len(res.history) == 30
    opt = exact.optimal_value(trap3, H, s0)
    v = exact.policy_value(trap3, agent.policy(), H, s0)
    v_my = exact.policy_value(trap3, policies.myopic(trap3), H, s0)
    assert v >= 0.95 * opt
    assert v > v_my
    st = res.solver_stats
    assert st["mode"] == "enumerate" and st["fraction_proven_optimal"] == 1.0 and st["fallbacks"] == 0
    assert st["solves"] > 0


def test_save_load_resume_reproduces(tmp_path):
    problem = make_domain("capacity", n_arms=6, budget=2, seed=1)
    kw = dict(seed=3, horizon=5, **FAST)
    full = Sequoia(problem, **kw)
    full.train(episodes=6)

    part = Sequoia(problem, **kw)
    ck = tmp_path / "ck.pt"
    part.train(episodes=6, checkpoint_every=3, checkpoint_path=ck)
    # the checkpoint was written after episode 6; an agent stopped at 3 resumes to the same result
    half = Sequoia(problem, **kw)
    half.train(episodes=3, checkpoint_every=3, checkpoint_path=tmp_path / "half.pt")
    resumed = Sequoia.load(tmp_path / "half.pt")  # problem rebuilt from the make_domain spec
    assert resumed.episodes_done == 3
    resumed.train(episodes=3)
    states = problem.initial_states(np.random.default_rng(0), 30)
    for s in states:
        np.testing.assert_array_equal(full.act(s), resumed.act(s))
        np.testing.assert_array_equal(full.act(s), part.act(s))
    for p1, p2 in zip(full.q.parameters(), resumed.q.parameters()):
        assert np.array_equal(p1.detach().numpy(), p2.detach().numpy())
    loaded = Sequoia.load(ck, problem)
    for s in states:
        np.testing.assert_array_equal(loaded.act(s), full.act(s))
    assert full.history == resumed.history


def test_callback_stop_and_bad_inputs(trap3, tmp_path):
    agent = Sequoia(trap3, seed=0, horizon=3, warm_start_steps=5)
    seen = []

    def cb(ev):
        seen.append(ev.nit)
        if ev.nit == 2:
            raise StopIteration

    res = agent.train(episodes=10, callback=cb)
    assert res.status.value == "stopped" and seen == [1, 2] and agent.episodes_done == 2
    with pytest.raises(InvalidInputError, match="act"):
        agent.act([0, 0])
    with pytest.raises(InvalidInputError, match="action_selection"):
        Sequoia(trap3, action_selection="magic")
    with pytest.raises(InvalidInputError, match="checkpoint"):
        (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
        Sequoia.load(tmp_path / "junk.pt", trap3)


def test_iterative_dqn_policy_is_feasible():
    problem = make_domain("path", n_arms=20, budget=2, seed=0)
    pol = policies.iterative_dqn(problem, episodes=2, seed=0, horizon=4, warm_start_steps=20, learning_starts=8)
    res = evaluate(problem, pol, episodes=3, horizon=4, seed=0)
    assert np.isfinite(res.mean)


@pytest.mark.slow
def test_sequoia_budget4_long(budget4):
    H, s0 = 20, [0, 0, 0, 0]
    agent = Sequoia(budget4, seed=0, horizon=H)
    agent.train(episodes=150)
    opt = exact.optimal_value(budget4, H, s0)
    assert exact.policy_value(budget4, agent.policy(), H, s0) >= 0.95 * opt


def test_mip_and_enumeration_argmax_agree():
    problem = make_domain("capacity", n_arms=6, budget=2, seed=4)
    agent = Sequoia(problem, seed=1, horizon=5, **FAST)
    agent.train(episodes=3)
    states = problem.initial_states(np.random.default_rng(1), 8)
    a_enum, v_enum = agent._maximize(agent.q, states, ("online", agent._version))
    agent._mode = "mip"
    a_mip, v_mip = agent._maximize(agent.q, states, ("online-mip", agent._version))
    np.testing.assert_allclose(v_mip, v_enum, atol=1e-5)
    assert all(problem.contains(a) for a in a_mip)
    st = agent.solver_stats()
    assert st["fallbacks"] == 0 and st["proven_optimal"] >= 8


def test_stability_bounds_contain_every_feasible_preactivation():
    import torch

    problem = make_domain("capacity", n_arms=8, budget=2, seed=3)
    agent = Sequoia(problem, seed=0, hidden=(16, 16), stability_weight=0.1)
    acts = problem.feasible_actions(10_000)
    assert agent._stability_k >= int(acts.sum(axis=1).max())
    states = problem.initial_states(np.random.default_rng(2), 6)
    lin = [m for m in agent.q if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        bounds = agent._stability_bounds(states)
        for i, s in enumerate(states):
            z = lin[0](agent._inputs(np.repeat(s[None], len(acts), axis=0), acts))
            for layer_index, (L, U) in enumerate(bounds):
                assert torch.all(z >= L[i] - 1e-5) and torch.all(z <= U[i] + 1e-5)
                if layer_index + 1 < len(bounds):
                    z = lin[layer_index + 1](torch.relu(z))


def test_stability_penalty_makes_the_network_mip_stable(tmp_path):
    from solvers import NetworkMIP

    problem = make_domain("budget", n_arms=30, budget=6, seed=0)   # 768k actions: decisions are MIPs
    states = problem.initial_states(np.random.default_rng(0), 5)
    unstable = {}
    for weight in (0.0, 0.1):
        agent = Sequoia(problem, seed=0, hidden=(32, 32), action_selection="greedy", warm_start_steps=300,
                        stability_weight=weight)
        agent.train(episodes=1)
        mip = NetworkMIP(agent._weights(agent.q), problem.feasible_set, state_dim=agent.n_features)
        unstable[weight] = sum(int(((L < 0) & (U > 0)).sum()) for s in states for L, U in mip.bounds(agent._scale(s[None])[0]))
    assert agent.stability_weight == 0.1 and agent._stability_k == 6
    assert unstable[0.1] <= 0.25 * unstable[0.0] and unstable[0.0] > 0
    agent.save(tmp_path / "a.pt")
    assert Sequoia.load(tmp_path / "a.pt").stability_weight == 0.1
    with pytest.raises(InvalidInputError, match="stability_weight"):
        Sequoia(problem, stability_weight=-1.0)
