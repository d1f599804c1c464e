"""The shared training protocol: config resolution and the one result kind."""

from dataclasses import dataclass

import numpy as np
import pytest

from engine import InvalidInputError, SolveResult, Status, TrainingConfig, TrainingResult
from engine.validation import check_int


@dataclass(frozen=True)
class _Config(TrainingConfig):
    episodes: int = 10
    lr: float = 1e-3

    def validated(self, where):
        return self.replace_fields(episodes=check_int(self.episodes, "episodes", where, lower=1))


def test_resolve_applies_overrides_and_validates():
    c = _Config.resolve(_Config(lr=0.5), {"episodes": 3}, "train()")
    assert (c.episodes, c.lr) == (3, 0.5)
    with pytest.raises(InvalidInputError, match=r"train\(\).*episodes"):
        _Config.resolve(None, {"episodes": 0}, "train()")
    with pytest.raises(InvalidInputError, match=r"unknown option.*'epochs'"):
        _Config.resolve(None, {"epochs": 3}, "train()")
    with pytest.raises(InvalidInputError, match="config must be a _Config"):
        _Config.resolve({"episodes": 3}, None, "train()")


def test_config_round_trip_refuses_unknown_keys():
    c = _Config(episodes=4, lr=0.25)
    assert _Config.from_dict(c.to_dict(), "load()") == c
    with pytest.raises(InvalidInputError, match=r"load\(\): unknown config key"):
        _Config.from_dict({**c.to_dict(), "__class__": "os.system"}, "load()")
    with pytest.raises(InvalidInputError, match=r"load\(\).*episodes"):
        _Config.from_dict({"episodes": -1}, "load()")


def test_training_result_round_trip_drops_the_model():
    r = TrainingResult(status=Status.FEASIBLE, model=object(), episodes=3, history={"return": np.arange(3.0)},
                       checkpoints=("a.ckpt",), stats={"solves": 7})
    assert r.success
    back = SolveResult.from_dict(r.to_dict())
    assert isinstance(back, TrainingResult) and back.model is None
    assert back.episodes == 3 and back.checkpoints == ("a.ckpt",) and back.stats["solves"] == 7
    np.testing.assert_array_equal(back.curve("return"), [0.0, 1.0, 2.0])
    assert back.curve("missing").size == 0
