import json
import os
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InvalidDocumentError, InvalidInputError
from engine.io import (MAX_JSON_DEPTH, atomic_path, atomic_write_json, atomic_write_text, loads_json, read_json,
                       remove_stale_temps)


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


# ---------------------------------------------------------------------------- files the engine writes
@contextmanager
def _umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_mode_the_umask_gives(tmp_path, mask, expected):
    with _umask(mask):
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_json(tmp_path / "b.json", {"a": 1})
        with atomic_path(tmp_path / "c.bin") as tmp:
            tmp.write_bytes(b"c")
    for name in ("a.txt", "b.json", "c.bin"):
        assert _mode(tmp_path / name) == expected, name


@pytest.mark.parametrize("mask", [0o022, 0o077])
@pytest.mark.parametrize("existing", [0o644, 0o600, 0o640])
def test_replacing_a_file_keeps_its_mode(tmp_path, mask, existing):
    target = tmp_path / "keep.json"
    target.write_text("{}")
    os.chmod(target, existing)
    with _umask(mask):
        atomic_write_json(target, {"new": True})
    assert read_json(target) == {"new": True}
    assert _mode(target) == existing


def test_writing_through_a_symlink_writes_its_target(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "data.json"
    target.write_text("{}")
    os.chmod(target, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write_json(link, {"v": 2})
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert read_json(target) == {"v": 2} and _mode(target) == 0o640
    chain = tmp_path / "chain.json"
    chain.symlink_to(link)  # a link to a link
    atomic_write_text(chain, "3")
    assert chain.is_symlink() and link.is_symlink() and target.read_text() == "3"
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(real_dir / "new.txt")
    atomic_write_text(dangling, "created")
    assert dangling.is_symlink() and (real_dir / "new.txt").read_text() == "created"
    assert sorted(p.name for p in real_dir.iterdir()) == ["data.json", "new.txt"]


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_files_are_named_recognisably_and_stale_ones_removed(tmp_path):
    target = tmp_path / "out.json"
    seen = {}
    with atomic_path(target, suffix=".png") as tmp:
        seen["name"] = tmp.name
        tmp.write_text("x")
    assert seen["name"].startswith(f".out.json.{os.getpid()}.") and seen["name"].endswith(".tmp.png")
    dead = _dead_pid()
    stale = tmp_path / f".out.json.{dead}.0123abcd.tmp"
    stale.write_text("half")
    stale_other = tmp_path / f".other.json.{dead}.0123abcd.tmp"
    stale_other.write_text("half")
    live = tmp_path / f".out.json.{os.getpid()}.89abcdef.tmp"
    live.write_text("in flight")
    unrelated = tmp_path / ".out.json.notes.tmp"
    unrelated.write_text("keep")
    atomic_write_text(target, "new")  # the next write of out.json removes its stale temp only
    assert not stale.exists() and stale_other.exists() and live.exists() and unrelated.exists()
    assert remove_stale_temps(tmp_path) == [stale_other]
    assert live.exists() and unrelated.exists()


def test_a_killed_write_leaves_a_temp_that_the_next_write_removes(tmp_path):
    target = tmp_path / "t.txt"
    code = ("import os, sys\nfrom engine.io import atomic_path\n"
            f"with atomic_path({str(target)!r}) as tmp:\n    tmp.write_text('half')\n    os._exit(9)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                         os.environ.get("PYTHONPATH", "")])}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".t.txt.") and not target.exists()
    atomic_write_text(target, "whole")
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"] and target.read_text() == "whole"


# ---------------------------------------------------------------------------- hostile JSON
@pytest.mark.parametrize("text,match,path", [
    ('{"a": [1, 2', "not valid JSON", "$['a'][1]"),
    ('{"a": {"b": [1, 2, }]}}', "not valid JSON", "$['a']['b'][2]"),
    ('{"a": 1} extra', "Extra data", "$"),
    ("", "not valid JSON", "$"),
])
def test_truncated_and_malformed_json_name_line_and_path(text, match, path):
    with pytest.raises(InvalidDocumentError, match=match) as info:
        loads_json(text, where="f()")
    assert str(info.value).startswith("f(): ") and info.value.json_path == path
    assert "line 1 column" in str(info.value)


def test_deep_nesting_is_refused_before_parsing():
    deep = '{"x": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(InvalidInputError, match=rf"nested deeper than {MAX_JSON_DEPTH} levels") as info:
        loads_json(deep)
    assert info.value.json_path == "$['x']" + "[0]" * (MAX_JSON_DEPTH - 1)
    assert loads_json("[" * 150 + "]" * 150, max_depth=200) == loads_json("[" * 150 + "]" * 150, max_depth=150)
    assert loads_json('["[[[[", {"k": "]]]"}]', max_depth=2) == ["[[[[", {"k": "]]]"}]  # brackets in strings


def test_huge_integers_are_invalid_input_with_their_position():
    with pytest.raises(InvalidInputError, match=r"integer with 5000 digits exceeds the limit") as info:
        loads_json('{"ok": 1, "n": [0, ' + "7" * 5000 + "]}")
    assert info.value.json_path == "$['n'][1]"
    assert loads_json("1" * 4000) == int("1" * 4000)
    assert loads_json("[1.5e999, NaN]")[0] == float("inf")  # floats overflow to inf, as Python's json does


def test_invalid_utf8_names_line_and_path(tmp_path):
    p = tmp_path / "bad.json"
    p.write_bytes(b'{"a": 1,\n "b": ["ok", "\xff\xfe"]}')
    with pytest.raises(InvalidInputError, match=r"not valid UTF-8 .* at line 2 column 15") as info:
        read_json(p)
    assert str(p) in str(info.value) and info.value.json_path == "$['b'][1]"
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        loads_json(b"\x80")


@pytest.mark.parametrize("bad", [["a.json"], 3, None, True, {"path": "x"}])
def test_read_json_wants_a_path(bad):
    with pytest.raises(InvalidInputError, match="expected a file path"):
        read_json(bad)


def test_read_json_size_limit_and_unreadable_files(tmp_path):
    p = tmp_path / "big.json"
    p.write_text("[" + ",".join(["1"] * 1000) + "]")
    with pytest.raises(InvalidInputError, match=r"has 2001 bytes, more than the limit of 100 \(max_bytes\)"):
        read_json(p, max_bytes=100)
    assert len(read_json(p)) == 1000
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_json(tmp_path / "missing.json")
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_json(tmp_path)  # a directory
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_json("bad\0name.json")
    with pytest.raises(InvalidInputError, match="max_bytes"):
        loads_json(b"[1, 2, 3]", max_bytes=4)
