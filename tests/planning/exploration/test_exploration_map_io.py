"""Occupancy maps round-trip through ``gameplan/map`` v1 JSON documents (and .json files)."""

import json
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from engine.schemas import validate
from planning.exploration import maps as maps_module
from planning.exploration.maps import FREE, OCCUPIED, UNKNOWN, OccupancyMap, forest, generate, load_map, make_map, \
    save_map
from tests.memory_cap import run_capped


def _same(a, b):
    assert a.grid.dtype == b.grid.dtype == np.int8
    assert np.array_equal(a.grid, b.grid)
    assert a.start == b.start and a.name == b.name


@pytest.mark.parametrize("kind", ["indoor", "forest", "warehouse"])
def test_generated_maps_round_trip(kind, tmp_path):
    m = generate(kind, 60, seed=3)
    doc = m.to_dict()
    validate(json.loads(json.dumps(doc)))
    for source in (doc, json.dumps(doc)):
        m2 = OccupancyMap.from_dict(source)
        _same(m, m2)
        assert m2.params["kind"] == kind and m2.params["seed"] == m.params["seed"]
        assert tuple(m2.params["size"]) == tuple(m.params["size"])
    path = save_map(m, tmp_path / f"{kind}.json")
    m3 = load_map(path)
    _same(m, m3)
    assert np.array_equal(m3.reachable(), m.reachable())
    # the JSON file is a gameplan/map document
    assert json.loads(path.read_text())["schema"] == "gameplan/map"


def test_cell_values_unknown_free_occupied_and_resolution():
    grid = [[FREE, OCCUPIED, UNKNOWN], [FREE, FREE, OCCUPIED]]
    m = make_map(grid, start=(1, 1), name="mixed", params={"resolution": 0.05, "note": (1, 2), "bad": object()})
    doc = m.to_dict()
    assert doc["grid"] == [[0, 1, -1], [0, 0, 1]]
    assert doc["resolution"] == 0.05 and doc["params"] == {"note": [1, 2]}   # non-JSON params are dropped
    m2 = OccupancyMap.from_dict(doc)
    _same(m, m2)
    assert m2.params["resolution"] == 0.05


def test_start_override_and_default_start(tmp_path):
    m = forest(50, seed=1)
    doc = m.to_dict()
    free = np.argwhere(m.grid == FREE)
    other = tuple(int(v) for v in free[len(free) // 2])
    assert OccupancyMap.from_dict(doc, start=other).start == other
    p = save_map(m, tmp_path / "f.json")
    assert load_map(p, start=other).start == other
    no_start = {k: v for k, v in doc.items() if k != "start"}
    m2 = OccupancyMap.from_dict(no_start)
    assert m2.grid[m2.start] == FREE and m2.start == make_map(m.grid).start


def test_json_and_png_agree(tmp_path):
    m = generate("warehouse", 50, seed=0)
    a = load_map(save_map(m, tmp_path / "w.json"))
    b = load_map(save_map(m, tmp_path / "w.png"), start=m.start)
    assert np.array_equal(a.grid, b.grid)


DOC = {"schema": "gameplan/map", "version": 1, "name": "t", "start": [0, 0], "grid": [[0, 1], [0, -1]]}


@pytest.mark.parametrize("doc,match", [
    ({**DOC, "grid": [[0, 2], [0, 0]]}, r"\$\['grid'\]\[0\]\[1\]"),
    ({**DOC, "grid": [[0, 0.5]]}, r"\$\['grid'\]\[0\]\[1\]"),
    ({**DOC, "grid": []}, r"\$\['grid'\]"),
    ({**DOC, "grid": [[0, 1], [0]]}, r"\$\['grid'\]\[1\] has 1 cells .* rectangular"),
    ({**DOC, "grid": [[1, 1], [-1, 1]], "start": None}, r"\$\['start'\]"),
    ({**DOC, "start": [0, 1]}, r"\$\['start'\] = \[0, 1\] is inside an obstacle"),
    ({**DOC, "start": [1, 1]}, r"\$\['start'\] = \[1, 1\] is inside an unknown cell"),
    ({**DOC, "start": [5, 0]}, r"\$\['start'\] = \[5, 0\] is outside the grid"),
    ({**DOC, "start": [0]}, r"\$\['start'\]"),
    ({**DOC, "resolution": 0}, r"\$\['resolution'\]"),
    ({k: v for k, v in DOC.items() if k != "grid"}, "'grid' is a required property"),
    ({**DOC, "version": 2}, "written by a newer engine"),
    ({**DOC, "schema": "gameplan/cormab"}, "expected a gameplan/map document"),
    ({**DOC, "cells": 1}, "Additional properties"),
])
def test_malformed_documents_are_rejected(doc, match):
    with pytest.raises(InvalidInputError, match=r"OccupancyMap.from_dict\(\): .*" + match):
        OccupancyMap.from_dict(doc)


def test_map_without_free_cells_is_rejected():
    doc = {k: v for k, v in DOC.items() if k != "start"}
    with pytest.raises(InvalidInputError, match=r"OccupancyMap.from_dict\(\): the map has no free cell"):
        OccupancyMap.from_dict({**doc, "grid": [[1, -1]]})


def test_bad_json_files(tmp_path):
    p = tmp_path / "m.json"
    p.write_text("{not json")
    with pytest.raises(InvalidInputError, match=r"OccupancyMap.from_dict\(\): .*not valid JSON"):
        load_map(p)
    with pytest.raises(InvalidInputError, match=r"load_map\(\): no such file"):
        load_map(tmp_path / "missing.json")
    p.write_text(json.dumps({**DOC, "grid": [[0, 7]]}))
    with pytest.raises(InvalidInputError, match=r"\$\['grid'\]\[0\]\[1\]"):
        load_map(p)


# ----------------------------------------------------------------------------- untrusted files: declared sizes


def _npy_header(shape, descr="|i1", fortran=False, version=1):
    """A .npy header (numpy.lib.format) declaring ``shape`` and ``descr``, with no data after it."""
    text = "{'descr': '%s', 'fortran_order': %s, 'shape': %r, }" % (descr, fortran, tuple(shape))
    if version == 1:
        pad = 64 - (10 + len(text) + 1) % 64
        text = text + " " * pad + "\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")
    pad = 64 - (12 + len(text) + 1) % 64
    text = text + " " * pad + "\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(text)) + text.encode("latin1")


def _png(width, height, rows=1):
    """A grey 8-bit PNG whose header says ``width x height`` (with ``rows`` rows of data: a tiny file)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = zlib.compress(b"".join(b"\x00" + b"\xff" * width for _ in range(rows)), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS caps the address space on Linux")
def test_npy_header_claiming_a_huge_grid_is_refused_under_a_memory_cap(tmp_path):
    """A 128-byte .npy whose header claims (10**6, 10**6) once asked for 7 TiB."""
    path = tmp_path / "huge.npy"
    path.write_bytes(_npy_header((10**6, 10**6), "<f8"))
    assert path.stat().st_size < 200
    code = ("from planning.exploration.maps import load_map\n"
            "from engine.errors import InvalidInputError\n"
            "try:\n"
            f"    load_map({str(path)!r})\n"
            "    print('LOADED')\n"
            "except InvalidInputError as err:\n"
            "    print('INVALID', err)\n"
            "except MemoryError:\n"
            "    print('MEMORY')\n")
    out = run_capped(code)
    assert out.startswith("INVALID"), out
    assert "declares 1000000 x 1000000 = 1000000000000 cells, above max_cells=16000000" in out


@pytest.mark.parametrize("data, match", [
    (_npy_header((3, 4, 5)) + bytes(60), r"holds an array of shape \(3, 4, 5\); a map is a 2-D grid"),
    (_npy_header((7,)) + bytes(7), r"holds an array of shape \(7,\)"),
    (_npy_header((2, 2), "|O") + bytes(32), r"holds dtype object"),
    (_npy_header((2, 2), "<c16") + bytes(64), r"holds dtype complex128"),
    (_npy_header((2, 2), "<U3") + bytes(48), r"holds dtype <U3"),
    (_npy_header((10, 10)) + bytes(5), r"is truncated: its header declares \(10, 10\) int8 \(100 bytes\) but 5 bytes"),
    (_npy_header((5000, 5000), "<f8"), r"declares 5000 x 5000 = 25000000 cells, above max_cells=16000000"),
    (_npy_header((2, 2), version=3) + bytes(4), r"version 3.0"),
    (b"\x93NUMPY\x01\x00\xff\xff{'descr'", r"cannot read .* as .npy"),
    (b"not a npy file at all", r"cannot read .* as .npy"),
    (b"", r"cannot read .* as .npy"),
])
def test_npy_headers_are_checked_before_any_data_is_read(tmp_path, data, match):
    path = tmp_path / "m.npy"
    path.write_bytes(data)
    with pytest.raises(InvalidInputError, match=r"load_map\(\): .*" + match):
        load_map(path)


def test_npy_limits_are_overridable_and_good_files_still_load(tmp_path):
    grid = np.zeros((30, 40), dtype=np.int8)
    grid[0, :] = OCCUPIED
    for arr, name in ((grid, "c.npy"), (np.asfortranarray(grid), "f.npy"), (grid.astype(bool), "b.npy"),
                      (grid.astype(">f4"), "big_endian.npy")):
        np.save(tmp_path / name, arr)
        m = load_map(tmp_path / name)
        assert np.array_equal(m.grid, grid) and m.shape == (30, 40)
    with pytest.raises(InvalidInputError, match=r"declares 30 x 40 = 1200 cells, above max_cells=1000"):
        load_map(tmp_path / "c.npy", max_cells=1000)
    assert load_map(tmp_path / "c.npy", max_cells=1200).shape == (30, 40)
    with pytest.raises(InvalidInputError, match=r"max_cells must be >= 1"):
        load_map(tmp_path / "c.npy", max_cells=0)
    assert maps_module.MAX_MAP_CELLS == 16_000_000


def test_image_size_is_checked_from_the_header_before_decoding(tmp_path):
    """A tiny PNG of 10000 x 10000 pixels once cost 4 GB and 29 s; one of 20000 x 20000 escaped as
    PIL's DecompressionBombError."""
    big = tmp_path / "big.png"
    big.write_bytes(_png(10_000, 10_000))
    assert big.stat().st_size < 200
    with pytest.raises(InvalidInputError, match=r"load_map\(\): the image header of .* declares 10000 x 10000 = "
                                                r"100000000 cells, above max_cells=16000000"):
        load_map(big)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(20_000, 20_000))
    for limit in (maps_module.MAX_MAP_CELLS, 10**9):   # Pillow's own limit still refuses it when ours is raised
        with pytest.raises(InvalidInputError, match=r"load_map\(\): "):
            load_map(bomb, max_cells=limit)
    # a file cut inside its image data is a decoding error (OSError inside Pillow), not a crash
    short = tmp_path / "short.png"
    short.write_bytes(_png(50, 60, rows=60)[:-20])
    with pytest.raises(InvalidInputError, match=r"load_map\(\): cannot read .* as an image: OSError"):
        load_map(short)


def test_image_limit_is_overridable(tmp_path):
    m = make_map(np.zeros((20, 30), dtype=np.int8))
    path = save_map(m, tmp_path / "m.png")
    with pytest.raises(InvalidInputError, match=r"declares 20 x 30 = 600 cells, above max_cells=599"):
        load_map(path, max_cells=599)
    assert load_map(path, max_cells=600).shape == (20, 30)


def test_json_grid_above_max_cells_and_ragged_arrays(tmp_path):
    m = make_map(np.zeros((20, 30), dtype=np.int8))
    with pytest.raises(InvalidInputError, match=r"OccupancyMap.from_dict\(\): \$\['grid'\] declares 20 x 30 = 600 "
                                                r"cells, above max_cells=100"):
        OccupancyMap.from_dict(m.to_dict(), max_cells=100)
    path = save_map(m, tmp_path / "m.json")
    with pytest.raises(InvalidInputError, match=r"above max_cells=100"):
        load_map(path, max_cells=100)
    for ragged in ([[0, 1], [0]], [[0, 1], None], [[0, 1], [0, [1]]]):
        with pytest.raises(InvalidInputError, match=r"make_map\(\): grid must be"):
            make_map(ragged)


def test_bad_json_maps_are_invalid_input(tmp_path):
    for name, text in (("deep.json", '{"schema": "gameplan/map", "version": 1, "grid": ' + "[" * 100_000
                        + "]" * 100_000 + "}"),
                       ("int.json", '{"schema": "gameplan/map", "version": 1, "grid": [[0]], "x": ' + "9" * 5000 + "}"),
                       ("res.json", '{"schema": "gameplan/map", "version": 1, "grid": [[0]], "resolution": 1e999}')):
        (tmp_path / name).write_text(text)
        with pytest.raises(InvalidInputError, match=r"OccupancyMap.from_dict\(\)"):
            load_map(tmp_path / name)
    (tmp_path / "latin.json").write_bytes(b'{"schema": "gameplan/map", "version": 1, "name": "\xff", "grid": [[0]]}')
    with pytest.raises(InvalidInputError, match=r"OccupancyMap.from_dict\(\)"):
        load_map(tmp_path / "latin.json")


_VALID_NPY = _npy_header((3, 4)) + bytes(12)
_VALID_PNG = _png(4, 3, rows=3)


def _mutations(base):
    return st.lists(st.tuples(st.integers(0, len(base)), st.sampled_from(["delete", "insert", "replace"]),
                              st.integers(0, 255)), min_size=1, max_size=4)


def _apply(base, edits):
    data = bytearray(base)
    for pos, op, byte in edits:
        pos = min(pos, len(data))
        if op == "delete" and pos < len(data):
            del data[pos]
        elif op == "insert":
            data.insert(pos, byte)
        elif pos < len(data):
            data[pos] = byte
    return bytes(data)


def _load_bytes(data, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"m{suffix}"
        path.write_bytes(data)
        try:
            m = load_map(path)
        except InvalidInputError as err:
            assert str(err).startswith("load_map()") or str(err).startswith("make_map()")
            return None
        assert m.grid.ndim == 2 and m.grid.size <= maps_module.MAX_MAP_CELLS
        return m


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.one_of(_mutations(_VALID_NPY).map(lambda e: _apply(_VALID_NPY, e)), st.binary(max_size=200)))
def test_mutated_npy_files_load_or_raise_invalid_input_only(data):
    _load_bytes(data, ".npy")


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.one_of(_mutations(_VALID_PNG).map(lambda e: _apply(_VALID_PNG, e)), st.binary(max_size=200)))
def test_mutated_png_files_load_or_raise_invalid_input_only(data):
    _load_bytes(data, ".png")
