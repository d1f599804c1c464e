"""Occupancy maps round-trip through ``gameplan/map`` v1 JSON documents (and .json files)."""

import json

import numpy as np
import pytest

from engine.errors import InvalidInputError
from engine.schemas import validate
from planning.exploration.maps import FREE, OCCUPIED, UNKNOWN, OccupancyMap, forest, generate, load_map, make_map, \
    save_map


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
    with pytest.raises(InvalidInputError, match=r"OccupancyMap.from_dict\(\): not valid JSON"):
        load_map(p)
    with pytest.raises(InvalidInputError, match=r"load_map\(\): no such file"):
        load_map(tmp_path / "missing.json")
    p.write_text(json.dumps({**DOC, "grid": [[0, 7]]}))
    with pytest.raises(InvalidInputError, match=r"\$\['grid'\]\[0\]\[1\]"):
        load_map(p)
