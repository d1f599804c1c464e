import json
import os

import numpy as np
import pytest

from engine.io import atomic_path, atomic_write_json, atomic_write_text, read_json


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "a.json"
    atomic_write_json(target, {"x": np.arange(3), "v": np.float64(1.5)})
    atomic_write_text(tmp_path / "b.txt", "hello")
    assert read_json(target)["v"] == 1.5
    assert (tmp_path / "b.txt").read_text() == "hello"
    atomic_write_text(tmp_path / "b.txt", "again")
    assert (tmp_path / "b.txt").read_text() == "again"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.json", "b.txt"]


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
