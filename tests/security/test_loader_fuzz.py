"""Every loader of untrusted files, fed hostile bytes: only ``InvalidInputError`` comes out.

One valid file per loader is written by the engine itself, then mutated: truncated at many points,
bit-flipped, its numbers made huge, deeply nested, given invalid UTF-8, replaced by a pickle whose
``__reduce__`` would create a marker file, and by random bytes from hypothesis. A loader may accept a
mutated file (a flip inside a number still gives a number) -- but then it returns a value; anything
other than that or ``InvalidInputError`` fails the test, and so does the marker file appearing.
"""

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError


class _Payload:
    """Unpickling this would create the marker file: the proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def _game_doc(tmp):
    from games import NormalFormGame

    g = NormalFormGame.from_arrays([[3, 0], [5, 1]], [[3, 5], [0, 1]])
    return json.dumps(g.to_dict()).encode()


def _nfg(tmp):
    from games.nfg import write_nfg
    from games import NormalFormGame

    g = NormalFormGame.from_arrays([[3, 0], [5, 1]], [[3, 5], [0, 1]])
    path = tmp / "g.nfg"
    write_nfg(g, path)
    return path.read_bytes()


def _cormab_doc(tmp):
    from bandits import make_domain

    return json.dumps(make_domain("capacity", n_arms=4, budget=2, seed=0).to_dict()).encode()


def _submodular_doc(tmp):
    from planning.submodular import instance_to_dict
    from planning.objectives import WeightedCoverage

    inst = instance_to_dict(WeightedCoverage([[0, 1], [1, 2], [3]], [1.0, 2.0, 1.0, 0.5]), {"type": "cardinality", "k": 2})
    return json.dumps(inst).encode()


def _map_doc(tmp):
    from planning.exploration.maps import make_map, save_map

    path = tmp / "m.json"
    save_map(make_map(np.zeros((6, 7), dtype=bool)), path)
    return path.read_bytes()


def _result_doc(tmp):
    from solvers import LinearModel

    return LinearModel([1.0, 2.0], [[1.0, 1.0]], row_lower=[1.0]).solve().to_json().encode()


def _small_tree():
    from games.efg import TreeBuilder

    b = TreeBuilder(["P1", "P2"], title="fuzz")
    h, t = b.chance(b.root, ["H", "T"], ["1/3", "2/3"])
    for node, sign in ((h, 1), (t, -1)):
        x, y = b.move(node, "P1", ["l", "r"], infoset="I")
        b.outcome(x, [sign, "-1/2"])
        u, v = b.move(y, "P2", ["u", "d"])
        b.outcome(u, ["0.25", 1])
        b.outcome(v, [-2 * sign, 3])
    return b.build()


def _tree_doc(tmp):
    return json.dumps(_small_tree().to_dict()).encode()


def _efg(tmp):
    from games.efg_io import write_efg

    return write_efg(_small_tree()).encode()


def _load_tree(p):
    from games.efg import ExtensiveFormGame

    return ExtensiveFormGame.from_dict(p)


def _load_efg(p):
    from games.efg_io import read_efg

    return read_efg(p)


def _load_game(p):
    from games import NormalFormGame

    return NormalFormGame.from_dict(p)


def _load_nfg(p):
    from games.nfg import read_nfg

    return read_nfg(p)


def _load_cormab(p):
    from bandits import CoRMAB

    return CoRMAB.from_dict(p)


def _load_submodular(p):
    from planning.submodular import load_instance

    return load_instance(p)


def _load_map(p):
    from planning.exploration.maps import load_map

    return load_map(p)


def _load_result(p):
    from engine.result import SolveResult

    return SolveResult.from_json(Path(p).read_bytes())


LOADERS = {
    "game": (_game_doc, _load_game, ".json"),
    "nfg": (_nfg, _load_nfg, ".nfg"),
    "tree": (_tree_doc, _load_tree, ".json"),
    "efg": (_efg, _load_efg, ".efg"),
    "cormab": (_cormab_doc, _load_cormab, ".json"),
    "submodular": (_submodular_doc, _load_submodular, ".json"),
    "map": (_map_doc, _load_map, ".json"),
    "result": (_result_doc, _load_result, ".json"),
}


def _mutations(data: bytes, rng: np.random.Generator):
    yield b""
    for cut in sorted({1, 2, len(data) // 3, len(data) // 2, len(data) - 1}):
        yield data[:cut]
    for _ in range(12):
        b = bytearray(data)
        i = int(rng.integers(len(b)))
        b[i] ^= 1 << int(rng.integers(8))
        yield bytes(b)
    yield data.replace(b"1", b"9" * 5000, 1)                       # an integer beyond Python's 4300 digits
    yield data.replace(b"1", b"1e999", 1)                           # a number beyond float64
    yield b"[" * 100_000 + b"]" * 100_000                            # deep nesting
    yield b'{"a":' * 5000 + b"1" + b"}" * 5000
    yield b"\xff\xfe" + data                                        # invalid UTF-8
    yield data[: len(data) // 2] + b"\xc3\x28" + data[len(data) // 2:]


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_hostile_files_give_invalid_input_only(kind, tmp_path):
    make, load, suffix = LOADERS[kind]
    data = make(tmp_path)
    load_path = tmp_path / f"valid{suffix}"
    load_path.write_bytes(data)
    load(load_path)                                                  # the original loads
    rng = np.random.default_rng(0)
    for i, mutated in enumerate(_mutations(data, rng)):
        p = tmp_path / f"m{i}{suffix}"
        p.write_bytes(mutated)
        try:
            load(p)
        except InvalidInputError:
            pass


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_pickle_payloads_never_run(kind, tmp_path):
    _, load, suffix = LOADERS[kind]
    marker = tmp_path / "ran"
    p = tmp_path / f"evil{suffix}"
    p.write_bytes(pickle.dumps({"schema": "gameplan/game", "x": _Payload(str(marker))}))
    with pytest.raises(InvalidInputError):
        load(p)
    assert not marker.exists()


@pytest.mark.parametrize("kind", sorted(LOADERS))
@settings(max_examples=25)
@given(junk=st.binary(max_size=400), at=st.integers(0, 10_000))
def test_random_bytes_give_invalid_input_only(kind, junk, at, tmp_path_factory):
    make, load, suffix = LOADERS[kind]
    tmp = tmp_path_factory.mktemp(kind)
    data = make(tmp)
    cut = at % (len(data) + 1)
    p = tmp / f"junk{suffix}"
    p.write_bytes(data[:cut] + junk + data[cut:])
    try:
        load(p)
    except InvalidInputError:
        pass
