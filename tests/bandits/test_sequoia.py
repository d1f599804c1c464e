import copy
import io
import pickle

import numpy as np
import pytest

from bandits import exact, policies
from bandits.argmax import network_weights
from bandits.domains import make_domain
from bandits.evaluate import evaluate
from bandits.sequoia import Sequoia, SequoiaConfig
from engine.events import Iteration, Progress
from engine.training import TrainingResult
from engine.errors import InvalidInputError
from tests.checkpoint_corruption import assert_corruptions_refused

FAST = dict(warm_start_steps=100, learning_starts=32, target_update=25, epsilon_decay_episodes=20)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sequoia_reaches_optimum_and_beats_myopic(trap3, seed):
    H, s0 = 20, [0, 0, 0]
    agent = Sequoia(trap3, seed=seed, horizon=H, train_frequency=2, **FAST)
    res = agent.train(episodes=30)
    assert isinstance(res, TrainingResult) and res.model is agent and res.status.value == "feasible"
    assert res.episodes == 30 and len(res.history["return"]) == 30
    opt = exact.optimal_value(trap3, H, s0)
    v = exact.policy_value(trap3, agent.policy(), H, s0)
    v_my = exact.policy_value(trap3, policies.myopic(trap3), H, s0)
    assert v >= 0.95 * opt
    assert v > v_my
    st = res.stats
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
        if isinstance(ev, Iteration):
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


def test_train_time_limit(trap3):
    agent = Sequoia(trap3, seed=0, horizon=3, warm_start_steps=10**7)  # a warm start of hours
    res = agent.train(episodes=10**7, time_limit=0.5)
    assert res.status.value == "time_limit" and res.message == "time limit reached"
    assert agent.episodes_done < 10**7 and res.episodes == agent.episodes_done
    more = agent.train(episodes=2)  # the agent trained so far goes on
    assert more.status.value != "time_limit" and agent.episodes_done == res.episodes + 2
    with pytest.raises(InvalidInputError, match="time_limit"):
        agent.train(episodes=1, time_limit=0)


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
    agent.argmax.mode = "mip"
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
        mip = NetworkMIP(network_weights(agent.q), problem.feasible_set, state_dim=agent.n_features)
        unstable[weight] = sum(int(((L < 0) & (U > 0)).sum())
                               for s in states for L, U in mip.bounds(agent.encoding.features(s[None])[0]))
    assert agent.stability_weight == 0.1 and agent._stability_k == 6
    assert unstable[0.1] <= 0.25 * unstable[0.0] and unstable[0.0] > 0
    agent.save(tmp_path / "a.pt")
    assert Sequoia.load(tmp_path / "a.pt").stability_weight == 0.1
    with pytest.raises(InvalidInputError, match="stability_weight"):
        Sequoia(problem, stability_weight=-1.0)


# ---------------------------------------------------------------------------- checkpoints are untrusted input
class _Payload:
    """Unpickling this creates ``marker``: proof that a loader ran code from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _tiny_agent():
    problem = make_domain("budget", n_arms=4, budget=1, seed=0)
    agent = Sequoia(problem, seed=0, hidden=(8,), horizon=3, warm_start_steps=5, warm_start_samples=16,
                    learning_starts=4, batch_size=4, buffer_size=16, target_update=2)
    agent.train(episodes=2)
    return agent


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    agent = _tiny_agent()
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    agent.save(path)
    return agent, path


def test_checkpoint_round_trip_is_exact(tiny_checkpoint):
    import torch

    agent, path = tiny_checkpoint
    back = Sequoia.load(path)
    for k, v in agent.q.state_dict().items():
        assert torch.equal(v, back.q.state_dict()[k])
    assert back.history == agent.history and len(back.buffer) == len(agent.buffer)
    assert back._rng_agent.bit_generator.state == agent._rng_agent.bit_generator.state
    assert back.stats == agent.stats and back._target_memo == agent._target_memo


def test_load_never_runs_pickled_code(tmp_path):
    import torch

    from engine import checkpoint

    marker = tmp_path / "ran"
    old = tmp_path / "old.pt"
    torch.save({"format": "bandits.Sequoia/2", "x": _Payload(marker)}, old)
    with pytest.raises(InvalidInputError, match="bandits.Sequoia/2"):
        Sequoia.load(old)
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(InvalidInputError, match="raw.pkl"):
        Sequoia.load(tmp_path / "raw.pkl")
    buf = io.BytesIO()
    torch.save({"config": _Payload(marker)}, buf)       # inside a container with a valid checksum
    payload = buf.getvalue()
    header = {"format": checkpoint.FORMAT, "format_version": 1, "kind": "bandits.Sequoia", "version": 3,
              "size": len(payload)}
    header["sha256"] = checkpoint._digest(header, payload)
    (tmp_path / "forged.pt").write_bytes(checkpoint.MAGIC + checkpoint._header_bytes(header) + b"\n" + payload)
    with pytest.raises(InvalidInputError, match="weights_only"):
        Sequoia.load(tmp_path / "forged.pt")
    assert not marker.exists()


def test_corrupted_checkpoints_are_refused(tiny_checkpoint, tmp_path):
    _, path = tiny_checkpoint
    good = path.read_bytes()
    bad = tmp_path / "bad.pt"
    assert_corruptions_refused(Sequoia.load, good, bad, cuts=(0, 30, len(good) // 3, len(good) - 1))


def _forge(tmp_path, agent, mutate):
    """A checkpoint with a valid checksum whose state ``mutate`` changed (what a forger can write)."""
    from bandits import sequoia
    from engine import checkpoint

    state = copy.deepcopy(agent.state_dict())
    mutate(state)
    return checkpoint.write(tmp_path / "forged.pt", state, kind=sequoia._KIND, version=sequoia._VERSION)


@pytest.mark.parametrize("mutate, match", [
    (lambda s: s.pop("memo"), "missing"),
    (lambda s: s["config"].pop("gamma"), "config has the wrong keys"),
    (lambda s: s["q"].__setitem__("0.weight", s["q"]["0.weight"][:, :-1].clone()), "q.0.weight must have shape"),
    (lambda s: s["q"]["0.weight"].__setitem__((0, 0), float("nan")), "q.0.weight holds NaN"),
    (lambda s: s["q_target"]["2.bias"].fill_(float("inf")), "q_target.2.bias holds NaN or infinite"),
    (lambda s: s["buffer"].__setitem__("n", 17), r"buffer.n must be in \[0, 16\]"),
    (lambda s: s["buffer"].__setitem__("pos", -1), "buffer.pos"),
    (lambda s: s["buffer"]["s"].__setitem__((0, 0), 9), "buffer.s holds values above"),
    (lambda s: s["buffer"].__setitem__("r", s["buffer"]["r"][:3].clone()), "buffer.r must have shape"),
    (lambda s: s["rng"]["env"].__setitem__("bit_generator", "MT19937"), "rng.env.bit_generator"),
    (lambda s: s["rng"]["agent"]["state"].__setitem__("inc", "x"), "rng.agent.state.inc must be an integer"),
    (lambda s: s["counters"].__setitem__("episodes_done", "2"), "counters.episodes_done must be an integer"),
    (lambda s: s["history"].append(0.5), "history must have 2 items"),
    (lambda s: s["config"].__setitem__("batch_size", 1.5), "config.batch_size must be an integer"),
    (lambda s: s["config"].__setitem__("gamma", 7.0), "config: Sequoia\\(\\): gamma must be <= 1"),
    (lambda s: s["config"].__setitem__("buffer_size", 10**9), "config.buffer_size"),
    (lambda s: s["problem"].__setitem__("n_actions", 5), r"buffer.a must have shape \(16, 5\)"),
    (lambda s: s["problem"].__setitem__("n_states", 5), "problem shape"),
    (lambda s: s["spec"].__setitem__("n_arms", "many"), "spec"),
    (lambda s: s["optimizer"]["param_groups"][0].__setitem__("lr", float("nan")), "optimizer.param_groups.0.lr"),
    (lambda s: s["stats"].pop("solves"), "stats has the wrong keys"),
    (lambda s: s.__setitem__("stats", [1, 2]), "stats must be a dict"),
])
def test_structural_problems_are_invalid_input(tiny_checkpoint, tmp_path, mutate, match):
    agent, _ = tiny_checkpoint
    with pytest.raises(InvalidInputError, match=match):
        Sequoia.load(_forge(tmp_path, agent, mutate))


def test_declared_sizes_are_checked_before_anything_is_built(tiny_checkpoint, tmp_path, monkeypatch):
    from bandits import sequoia

    agent, path = tiny_checkpoint
    forged = _forge(tmp_path, agent, lambda s: s["config"].__setitem__("hidden", [20000, 20000]))

    def must_not_build(sizes, rng):
        raise AssertionError("the network was built before the size check")

    monkeypatch.setattr(sequoia, "_q_network", must_not_build)
    with pytest.raises(InvalidInputError, match="max_parameters=10,000,000"):
        Sequoia.load(forged)
    forged = _forge(tmp_path, agent, lambda s: s["config"].__setitem__("warm_start_samples", 10**6))
    with pytest.raises(InvalidInputError, match="warm_start_samples"):
        Sequoia.load(forged)
    with pytest.raises(InvalidInputError, match="max_parameters"):
        Sequoia.load(path, max_parameters=10)
    with pytest.raises(InvalidInputError, match="max_bytes"):
        Sequoia.load(path, max_bytes=100)
    monkeypatch.undo()
    assert Sequoia.load(path, max_parameters=100_000).episodes_done == 2


def test_cuda_without_cuda_is_invalid_input(trap3):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(InvalidInputError, match="CUDA is not available"):
        Sequoia(trap3, device="cuda")


# ---------------------------------------------------------------------------- the training protocol
def test_config_overrides_progress_events_and_checkpoint_record(trap3, tmp_path):
    config = SequoiaConfig(horizon=3, warm_start_steps=5, hidden=[8])
    agent = Sequoia(trap3, config, seed=4, learning_starts=4)
    assert agent.config == config.replace_fields(hidden=(8,), learning_starts=4)
    events = []
    res = agent.train(episodes=3, callback=events.append, checkpoint_every=2, checkpoint_path=tmp_path / "a.pt")
    assert [type(e) for e in events] == [Iteration, Progress] * 3
    assert [e.completed for e in events if isinstance(e, Progress)] == [1, 2, 3]
    assert res.params["config"] == agent.config.to_dict() and res.params["seed"] == 4
    assert res.checkpoints == (str(tmp_path / "a.pt"),) and res.stats["steps"] == 9
    back = Sequoia.load(tmp_path / "a.pt", trap3)     # saved after episode 2
    assert back.config == agent.config.replace_fields(device="auto") and back.seed == 4
    assert back.episodes_done == 2 and back.history == agent.history[:2]
    with pytest.raises(InvalidInputError, match=r"Sequoia\(\): unknown option"):
        Sequoia(trap3, epochs=3)
    with pytest.raises(InvalidInputError, match="config must be a SequoiaConfig"):
        Sequoia(trap3, {"horizon": 3})
    with pytest.raises(TypeError):
        agent.train(episodes=1, progress=print)


def test_version_3_checkpoints_still_load(tiny_checkpoint, tmp_path):
    """Version 3 kept the seed inside the config; the state is otherwise the same."""
    import torch

    from bandits import sequoia
    from engine import checkpoint

    agent, _ = tiny_checkpoint
    state = copy.deepcopy(agent.state_dict())
    state["config"] = {"seed": state.pop("seed"), **state["config"], "hidden": list(state["config"]["hidden"])}
    path = checkpoint.write(tmp_path / "v3.pt", state, kind=sequoia._KIND, version=3)
    back = Sequoia.load(path)
    assert back.seed == agent.seed and back.config == agent.config
    for k, v in agent.q.state_dict().items():
        assert torch.equal(v, back.q.state_dict()[k])
    s = np.zeros(agent.problem.n_arms, dtype=int)
    np.testing.assert_array_equal(back.act(s), agent.act(s))
