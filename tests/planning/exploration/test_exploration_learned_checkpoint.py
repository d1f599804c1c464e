"""LearnedPolicy checkpoints are untrusted input: no code runs, corruption and bad structure are refused."""

import copy
import pickle

import numpy as np
import pytest

from engine import checkpoint
from engine.errors import InvalidInputError
from planning.exploration import LearnedPolicy
from planning.exploration import local
from tests.checkpoint_corruption import assert_corruptions_refused

torch = pytest.importorskip("torch")


class _Payload:
    """Unpickling this creates ``marker``: proof that a loader ran code from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _saved(tmp_path):
    pol = LearnedPolicy(hidden=4, seed=3, device="cpu")
    with torch.no_grad():
        pol.net[-1].weight.fill_(0.5)   # off the zero residual, so the round trip is not trivial
    return pol, pol.save(tmp_path / "policy.pt")


def _forge(tmp_path, pol, mutate):
    state = copy.deepcopy(pol.state_dict())
    mutate(state)
    return checkpoint.write(tmp_path / "forged.pt", state, kind=local._KIND, version=local._VERSION)


def test_round_trip(tmp_path):
    pol, path = _saved(tmp_path)
    back = LearnedPolicy.load(path, device="cpu")
    assert back.config() == pol.config()
    for k, v in pol.net.state_dict().items():
        assert torch.equal(v, back.net.state_dict()[k])


def test_pickles_never_run(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"config": {}, "x": _Payload(marker)}, tmp_path / "old.pt")
    with pytest.raises(InvalidInputError, match="cannot read.*plain torch/pickle"):
        LearnedPolicy.load(tmp_path / "old.pt")
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(InvalidInputError, match="cannot read"):
        LearnedPolicy.load(tmp_path / "raw.pkl")
    assert not marker.exists()


def test_byte_flips_and_truncation_are_refused(tmp_path):
    _, path = _saved(tmp_path)
    good = path.read_bytes()
    bad = tmp_path / "bad.pt"
    assert_corruptions_refused(LearnedPolicy.load, good, bad, cuts=(0, 25, len(good) // 2, len(good) - 1))


@pytest.mark.parametrize("mutate, match", [
    (lambda s: s.pop("trained_episodes"), "missing"),
    (lambda s: s["config"].pop("value"), "config has the wrong keys"),
    (lambda s: s["config"].__setitem__("value", "regret"), "config.value"),
    (lambda s: s["config"].__setitem__("temperature", 0.0), "config: LearnedPolicy\\(\\): temperature"),
    (lambda s: s["state_dict"].__setitem__("0.weight", s["state_dict"]["0.weight"][:2].clone()),
     "state_dict.0.weight must have shape"),
    (lambda s: s["state_dict"]["4.bias"].fill_(float("nan")), "state_dict.4.bias holds NaN"),
    (lambda s: s.__setitem__("trained_episodes", -1), "trained_episodes"),
])
def test_structural_problems_are_invalid_input(tmp_path, mutate, match):
    pol, _ = _saved(tmp_path)
    with pytest.raises(InvalidInputError, match=match):
        LearnedPolicy.load(_forge(tmp_path, pol, mutate))


def test_declared_hidden_width_is_checked_before_the_network_is_built(tmp_path, monkeypatch):
    pol, path = _saved(tmp_path)
    forged = _forge(tmp_path, pol, lambda s: s["config"].__setitem__("hidden", 10**6))

    def must_not_build(hidden):
        raise AssertionError("the network was built before the size check")

    monkeypatch.setattr(local, "_mlp", must_not_build)
    with pytest.raises(InvalidInputError, match="max_parameters=10,000,000"):
        LearnedPolicy.load(forged)
    with pytest.raises(InvalidInputError, match="max_parameters"):
        LearnedPolicy.load(path, max_parameters=10)


def test_training_settings_ride_with_the_weights_and_version_2_files_still_load(tmp_path):
    from planning.exploration import ExplorationTrainingConfig, train_policy

    res = train_policy(episodes=1, size=50, max_steps=5, maps=("forest",), seed=4, checkpoint_dir=tmp_path,
                       checkpoint_every=1)
    back = LearnedPolicy.load(tmp_path / "policy_final.pt", device="cpu")
    cfg = ExplorationTrainingConfig.from_dict(back.training_config, "test")
    assert cfg.to_dict() == res.params["config"] and cfg.seed == 4 and cfg.maps == ("forest",)
    # the earlier layout (version 2: no "training" entry) is read as before
    pol, _ = _saved(tmp_path)
    state = copy.deepcopy(pol.state_dict())
    state.pop("training")
    old = checkpoint.write(tmp_path / "v2.pt", state, kind=local._KIND, version=2)
    assert LearnedPolicy.load(old, device="cpu").training_config is None
    # a forged training entry is refused, not trusted
    bad = _forge(tmp_path, pol, lambda s: s.__setitem__("training", {"episodes": {"nested": 1}}))
    with pytest.raises(InvalidInputError, match="training.episodes"):
        LearnedPolicy.load(bad)
