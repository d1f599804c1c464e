"""Tests for planning.subrl: the SubPO gradient is the exact gradient of E[F(trajectory)]
(enumeration + finite differences), the sampled estimator converges to it, training reaches the
enumerated optimum and beats modular RL, persistence, determinism and validation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from engine.errors import InvalidInputError
from engine.events import Iteration
from engine.status import Status
from planning.objectives import GraphCoverage, FacilityLocation
from planning.subrl import GridWorld, ModularRL, SubPO
from tests.checkpoint_corruption import assert_corruptions_refused


# ----------------------------------------------------------------------------- exact objective
def _softmax(theta):
    z = theta - theta.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def exact_objective(env: GridWorld, theta: np.ndarray) -> float:
    """E[F(visited cells)] under the tabular policy softmax(theta[t, s]), by forward dynamic
    programming over (cell, visited-mask) (independent of the library's rollout code)."""
    S, T = env.n_states, env.horizon
    pi = _softmax(theta)                                   # (T, S, 5)
    E = (1 - env.slip) * np.eye(5) + env.slip / 5         # E[e, a]: executed e given intended a
    dist = {(env.start, 1 << env.start): 1.0}
    for t in range(T):
        new: dict = {}
        for (s, mask), p in dist.items():
            for a in range(5):
                for e in range(5):
                    q = p * pi[t, s, a] * E[e, a]
                    if q == 0.0:
                        continue
                    s2 = int(env.next_state[s, e])
                    key = (s2, mask | (1 << s2))
                    new[key] = new.get(key, 0.0) + q
        dist = new
    F = _mask_values(env)
    return sum(p * F[mask] for (s, mask), p in dist.items())


_F_CACHE: dict = {}


def _mask_values(env: GridWorld) -> dict:
    key = id(env.objective)
    if key not in _F_CACHE:
        S = env.n_states
        _F_CACHE[key] = (env.objective, {m: env.objective.evaluate([i for i in range(S) if m >> i & 1])
                                         for m in range(1 << S)})
    return _F_CACHE[key][1]


def enumerate_episodes(env: GridWorld, theta: np.ndarray):
    """All (cells, intended actions, probability) of the tiny env."""
    T = env.horizon
    pi = _softmax(theta)
    E = (1 - env.slip) * np.eye(5) + env.slip / 5
    cells, acts, probs = [], [], []
    for intended in itertools.product(range(5), repeat=T):
        for executed in itertools.product(range(5), repeat=T):
            s = env.start
            path = [s]
            p = 1.0
            for t in range(T):
                p *= pi[t, s, intended[t]] * E[executed[t], intended[t]]
                s = int(env.next_state[s, executed[t]])
                path.append(s)
            if p > 0:
                cells.append(path)
                acts.append(intended)
                probs.append(p)
    return np.array(cells), np.array(acts), np.array(probs)


def _tiny_env(slip=0.3):
    return GridWorld((2, 2), horizon=3, slip=slip,
                     objective=GraphCoverage((2, 2), radius=0, weights=[1.0, 2.0, 3.0, 0.5])
                     + 0.5 * FacilityLocation(np.random.default_rng(0).random((4, 4))))


@pytest.mark.parametrize("slip", [0.0, 0.3])
def test_subpo_gradient_equals_finite_differences(slip):
    env = _tiny_env(slip)
    agent = SubPO(env, policy="markov", seed=0)
    theta = np.random.default_rng(1).normal(size=agent.theta.shape)
    with torch.no_grad():
        agent.theta.copy_(torch.as_tensor(theta))
    # exact policy gradient: the library's surrogate over every episode, weighted by its probability
    cells, acts, probs = enumerate_episodes(env, theta)
    assert probs.sum() == pytest.approx(1.0)
    rewards, values = agent.rewards(torch.as_tensor(cells))
    assert float((torch.as_tensor(probs) * values).sum()) == pytest.approx(exact_objective(env, theta), abs=1e-12)
    loss = agent.surrogate(cells, acts, rewards, weights=probs, baseline=False)
    (grad,) = torch.autograd.grad(loss, [agent.theta])
    pg = -grad.numpy()
    # central finite differences of the independently computed E[F]
    fd = np.zeros_like(theta)
    h = 1e-5
    for idx in np.ndindex(theta.shape):
        up, dn = theta.copy(), theta.copy()
        up[idx] += h
        dn[idx] -= h
        fd[idx] = (exact_objective(env, up) - exact_objective(env, dn)) / (2 * h)
    np.testing.assert_allclose(pg, fd, atol=1e-7)
    assert np.abs(fd).max() > 1e-2  # the check is not vacuous


def test_sampled_gradient_mean_converges():
    env = _tiny_env(0.3)
    agent = SubPO(env, policy="markov", seed=5)
    theta = np.random.default_rng(2).normal(size=agent.theta.shape)
    with torch.no_grad():
        agent.theta.copy_(torch.as_tensor(theta))
    cells, acts, probs = enumerate_episodes(env, theta)
    rewards, _ = agent.rewards(torch.as_tensor(cells))
    (g,) = torch.autograd.grad(agent.surrogate(cells, acts, rewards, weights=probs, baseline=False), [agent.theta])
    exact = -g.numpy().ravel()
    est = [agent.gradient(4000).numpy() for _ in range(10)]
    mean = np.mean(est, axis=0)
    sem = np.std(est, axis=0, ddof=1) / np.sqrt(len(est))
    err = np.abs(mean - exact)
    assert np.all(err <= 5 * sem + 1e-3)
    assert np.linalg.norm(mean - exact) <= 0.1 * np.linalg.norm(exact)
    # the estimator without baseline is unbiased too (only noisier)
    agent.config = agent.config.replace_fields(baseline=False)
    mean_nb = np.mean([agent.gradient(4000).numpy() for _ in range(10)], axis=0)
    assert np.linalg.norm(mean_nb - exact) <= 0.2 * np.linalg.norm(exact)


def test_subpo_approaches_optimum_and_beats_modular_rl():
    env = GridWorld((4, 4), horizon=6)
    opt = env.optimal_value()
    assert opt == 15.0
    sub = SubPO(env, lr=0.3, batch_size=64, seed=1)
    res = sub.train(120)
    mod = ModularRL(env, lr=0.3, batch_size=64, seed=1)
    mod.train(120)
    v_sub, v_mod = sub.evaluate(512), mod.evaluate(512)
    assert v_sub >= 0.9 * opt
    assert v_sub > v_mod + 1.0
    assert res.status is Status.FEASIBLE and res.success and res.episodes == 120 * 64
    hist = res.curve("return")
    assert hist.shape == (120,) and res.stats["best_value"] == hist.max() and res.objective == hist[-1]
    assert res.model is sub and res.x.shape == (6 * 16 * 5,) and res.params["config"]["lr"] == 0.3
    assert hist[-10:].mean() > hist[:10].mean()


def test_history_policy_learns():
    env = GridWorld((3, 3), horizon=4, slip=0.1)
    agent = SubPO(env, policy="history", lr=0.01, batch_size=64, seed=3)
    before = agent.evaluate(256)
    agent.train(40)
    assert agent.evaluate(256) > before
    assert 0 <= agent.act((0, 0), 0, visited=[0]) < 5


def test_optimal_value_slippery_matches_bruteforce():
    env = GridWorld((2, 2), horizon=2, slip=0.2)
    # brute force over history-dependent policies = expectimax over the tree
    P = env.transition_probs()

    def V(t, s, visited):
        if t == env.horizon:
            return env.value(sorted(visited))
        return max(sum(P[s, a, s2] * V(t + 1, s2, visited | {s2}) for s2 in range(4) if P[s, a, s2] > 0)
                   for a in range(5))

    assert env.optimal_value() == pytest.approx(V(0, env.start, {env.start}))


def test_determinism_save_load_and_callback(tmp_path):
    env = GridWorld((3, 3), horizon=4)
    a = SubPO(env, seed=7, batch_size=16)
    b = SubPO(env, seed=7, batch_size=16)
    ha, hb = a.train(5).curve("return"), b.train(5).curve("return")
    np.testing.assert_array_equal(ha, hb)
    path = tmp_path / "agent.pt"
    a.save(path)
    c = SubPO.load(path, env)
    np.testing.assert_array_equal(c.theta.detach().numpy(), a.theta.detach().numpy())
    assert c.act(0, 0) == a.act(0, 0)
    with pytest.raises(InvalidInputError, match="another grid"):
        SubPO.load(path, GridWorld((2, 2), horizon=4))
    m = ModularRL(GridWorld((3, 3), horizon=4, slip=0.1), policy="history", seed=2, batch_size=8)
    m.train(2)
    m.save(tmp_path / "m.pt")
    m2 = ModularRL.load(tmp_path / "m.pt", GridWorld((3, 3), horizon=4, slip=0.1))
    assert m2.reward == "modular" and m2.act(4, 1, visited=[0, 1, 4]) == m.act(4, 1, visited=[0, 1, 4])
    events = []

    def stop(event):
        if isinstance(event, Iteration):
            events.append(event)
            if event.nit == 3:
                raise StopIteration

    res = SubPO(env, seed=1, batch_size=8).train(10, callback=stop)
    assert res.status is Status.STOPPED and res.nit == 3 and len(events) == 3


def test_bad_input():
    with pytest.raises(InvalidInputError, match="start"):
        GridWorld((3, 3), start=(3, 0))
    with pytest.raises(InvalidInputError, match="slip"):
        GridWorld((3, 3), slip=1.5)
    with pytest.raises(InvalidInputError, match="elements but the grid"):
        GridWorld((3, 3), objective=GraphCoverage((2, 2)))
    env = GridWorld((2, 2), horizon=2)
    with pytest.raises(InvalidInputError, match="policy"):
        SubPO(env, policy="lstm")
    with pytest.raises(InvalidInputError, match="lr"):
        SubPO(env, lr=0)
    with pytest.raises(InvalidInputError, match="reward"):
        ModularRL(env, reward="submodular")


# ---------------------------------------------------------------------------- checkpoints are untrusted input
class _Payload:
    """Unpickling this creates ``marker``: proof that a loader ran code from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _saved(tmp_path, policy="history"):
    env = GridWorld((3, 3), horizon=4)
    agent = SubPO(env, policy=policy, hidden=4, batch_size=4, seed=1)
    agent.train(2)
    path = tmp_path / f"{policy}.pt"
    agent.save(path)
    return env, agent, path


def test_load_refuses_pickles_without_running_them(tmp_path):
    import pickle

    env = GridWorld((3, 3), horizon=4)
    marker = tmp_path / "ran"
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"config": _Payload(marker)}))
    with pytest.raises(InvalidInputError, match="SubPO.load\\(\\).*plain.pkl"):
        SubPO.load(tmp_path / "plain.pkl", env)
    torch.save({"config": {}, "params": [], "x": _Payload(marker)}, tmp_path / "old.pt")
    with pytest.raises(InvalidInputError, match="plain torch/pickle"):
        SubPO.load(tmp_path / "old.pt", env)
    assert not marker.exists()


def test_corrupted_policy_files_are_refused(tmp_path):
    env, _, path = _saved(tmp_path)
    good = path.read_bytes()
    bad = tmp_path / "bad.pt"
    assert_corruptions_refused(lambda p: SubPO.load(p, env), good, bad, cuts=(0, 25, len(good) // 2, len(good) - 1))


def _forge(tmp_path, path, mutate):
    """``path``'s state changed by ``mutate``, rewritten with a valid checksum (what a forger can write)."""
    from engine import checkpoint
    from planning import subrl

    state = checkpoint.read(path, kind=subrl._KIND, versions=subrl._VERSION, where="test").state
    mutate(state)
    return checkpoint.write(tmp_path / "forged.pt", state, kind=subrl._KIND, version=subrl._VERSION)


@pytest.mark.parametrize("mutate, match", [
    (lambda s: s.pop("params"), "missing"),
    (lambda s: s["config"].pop("lr"), "config has the wrong keys"),
    (lambda s: s["params"].pop(), "params must hold 6 tensors"),
    (lambda s: s["params"].__setitem__(0, s["params"][0][:2].clone()), r"params.0 must have shape"),
    (lambda s: s["params"][2].__setitem__((0, 0), float("nan")), "params.2 holds NaN"),
    (lambda s: s["params"].__setitem__(1, s["params"][1].double()), "params.1 must have dtype"),
    (lambda s: s["config"].__setitem__("policy", "oracle"), "config.policy"),
    (lambda s: s["config"].__setitem__("lr", -1.0), "config: SubPO\\(\\): lr"),
    (lambda s: s["config"].__setitem__("baseline", "yes"), "config.baseline"),
    (lambda s: s["config"].__setitem__("batch_size", 10**9), "config.batch_size"),
    (lambda s: s["config"].__setitem__("horizon", 5), "another grid or horizon"),
])
def test_structural_problems_are_invalid_input(tmp_path, mutate, match):
    env, _, path = _saved(tmp_path)
    with pytest.raises(InvalidInputError, match=match):
        SubPO.load(_forge(tmp_path, path, mutate), env)


def test_declared_sizes_are_checked_before_the_policy_is_built(tmp_path, monkeypatch):
    env, agent, path = _saved(tmp_path)
    forged = _forge(tmp_path, path, lambda s: s["config"].__setitem__("hidden", 10**6))

    def must_not_build(self):
        raise AssertionError("the policy was built before the size check")

    monkeypatch.setattr(SubPO, "_build_policy", must_not_build)
    with pytest.raises(InvalidInputError, match="max_parameters=10,000,000"):
        SubPO.load(forged, env)
    with pytest.raises(InvalidInputError, match="max_parameters"):
        SubPO.load(path, env, max_parameters=50)
    monkeypatch.undo()
    back = SubPO.load(path, env, device="cpu")
    for p, q in zip(back.parameters(), agent.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    assert back.act(4, 1, visited=[0, 4]) == agent.act(4, 1, visited=[0, 4])


def test_config_object_and_overrides_give_the_same_agent():
    from planning.subrl import SubPOConfig

    env = GridWorld((3, 3), horizon=4)
    cfg = SubPOConfig(lr=0.3, batch_size=8, seed=4)
    a = SubPO(env, config=cfg).train(3)
    b = SubPO(env, lr=0.3, batch_size=8, seed=4).train(3)
    np.testing.assert_array_equal(a.curve("return"), b.curve("return"))
    assert a.params["config"] == b.params["config"] == {**cfg.to_dict(), "seed": 4}
    # keyword overrides replace fields of the config object; the modular baseline forces its reward
    assert SubPO(env, config=cfg, batch_size=16).config.batch_size == 16
    assert ModularRL(env, config=cfg).config.reward == "modular"
    with pytest.raises(InvalidInputError, match="unknown option"):
        SubPO(env, learning_rate=0.1)
    with pytest.raises(InvalidInputError, match="config must be a SubPOConfig"):
        SubPO(env, config={"lr": 0.1})
