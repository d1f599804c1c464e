"""The learned local policy: residual init equals utility-greedy, save/load, training."""

import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.events import Iteration, Progress
from engine.status import Status
from planning.exploration import FARE, LearnedPolicy, UtilityGreedy, explore, maps, train_policy


def test_untrained_policy_is_utility_greedy():
    m = maps.warehouse(50, seed=3)
    a = explore(m, FARE(local=LearnedPolicy(seed=5)), seed=0)
    b = explore(m, FARE(local=UtilityGreedy(beta=0.3, value="gain")), seed=0)
    assert np.array_equal(a.trajectory, b.trajectory)


def test_short_training_save_load_and_checkpoints(tmp_path):
    events = []
    res = train_policy(episodes=2, size=50, max_steps=15, seed=1, callback=events.append,
                       checkpoint_dir=tmp_path, checkpoint_every=1)
    assert res.status == Status.FEASIBLE and res.nit == 2 and res.curve("return").shape == (2,)
    assert res.episodes == 2 and res.curve("explored").shape == res.curve("distance").shape == (2,)
    assert res.params["config"]["episodes"] == 2 and res.params["seed"] == 1
    assert sum(isinstance(e, Progress) for e in events) == 2
    assert sum(isinstance(e, Iteration) for e in events) == 2
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["policy_1.pt", "policy_2.pt", "policy_final.pt"]
    pol = res.model
    assert pol.trained_episodes == 2
    # training moved the weights off the zero residual
    assert any(float(v.abs().sum()) > 0 for k, v in pol.net.state_dict().items() if k.startswith("4."))
    back = LearnedPolicy.load(tmp_path / "policy_final.pt", device="cpu")
    for k, v in pol.net.state_dict().items():
        assert np.allclose(v.cpu().numpy(), back.net.state_dict()[k].numpy())
    m = maps.forest(50, seed=9)
    r1 = explore(m, FARE(local=pol), seed=0)
    r2 = explore(m, FARE(local=back), seed=0)
    assert np.array_equal(r1.trajectory, r2.trajectory) and r1.finish_reason == "explored"
    # same seed, same training
    again = train_policy(episodes=2, size=50, max_steps=15, seed=1)
    assert np.allclose(again.curve("return"), res.curve("return"))
    with pytest.raises(InvalidInputError, match="no such file"):
        LearnedPolicy.load(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidInputError, match="cannot read"):
        LearnedPolicy.load(tmp_path / "bad.pt")


def test_training_stops_on_request_and_validates():
    def stop(event):
        if isinstance(event, Progress):
            raise StopIteration

    res = train_policy(episodes=5, size=50, max_steps=10, seed=0, callback=stop)
    assert res.status == Status.STOPPED and res.nit == 1
    with pytest.raises(InvalidInputError, match="unknown map kind"):
        train_policy(episodes=1, maps=("moon",), seed=0)
    with pytest.raises(InvalidInputError, match="episodes must be >= 1"):
        train_policy(episodes=0, seed=0)


@pytest.mark.slow
def test_longer_training_keeps_exploration_complete():
    res = train_policy(episodes=30, size=50, max_steps=120, seed=0)
    m = maps.indoor(60, seed=21)
    out = explore(m, FARE(local=res.model, name="fare_learned"), seed=0)
    assert out.finish_reason == "explored" and out.explored[-1] == 1.0


def test_training_config_object_equals_keyword_overrides():
    from planning.exploration import ExplorationTrainingConfig

    cfg = ExplorationTrainingConfig(episodes=1, size=50, max_steps=8, maps=("forest",), seed=2)
    a = train_policy(config=cfg)
    b = train_policy(episodes=1, size=50, max_steps=8, maps=["forest"], seed=2)
    np.testing.assert_array_equal(a.curve("return"), b.curve("return"))
    np.testing.assert_array_equal(a.x, b.x)
    assert a.params["config"] == b.params["config"] == cfg.to_dict()
    with pytest.raises(InvalidInputError, match="unknown option"):
        train_policy(epochs=3)
