"""Maps: generators, PNG/NPY round trips, bad maps."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.errors import InvalidInputError
from planning.exploration import maps


@pytest.mark.parametrize("kind", maps.MAP_KINDS)
def test_generators_are_seeded_connected_and_start_free(kind):
    a = maps.generate(kind, 60, seed=3)
    b = maps.generate(kind, 60, seed=3)
    c = maps.generate(kind, 60, seed=4)
    assert np.array_equal(a.grid, b.grid) and a.start == b.start
    assert not np.array_equal(a.grid, c.grid)
    assert a.shape == (60, 60) and a.grid[a.start] == maps.FREE
    # one 8-connected free region: every free cell reachable from the start
    assert a.reachable().sum() == a.n_free
    # border walls
    assert (a.grid[0] == 1).all() and (a.grid[:, -1] == 1).all()
    assert a.params["seed"] == 3


def test_generator_sizes_and_rectangles():
    m = maps.indoor((50, 120), seed=0)
    assert m.shape == (50, 120)
    with pytest.raises(InvalidInputError, match=r"indoor\(\): size must be >= 50"):
        maps.indoor(49, seed=0)
    with pytest.raises(InvalidInputError, match="size must be <= 1000"):
        maps.forest(1001, seed=0)
    with pytest.raises(InvalidInputError, match="unknown map kind"):
        maps.generate("cave", 50, seed=0)


@pytest.mark.parametrize("suffix", [".png", ".npy"])
def test_save_load_round_trip(tmp_path, suffix):
    grid = np.zeros((12, 15), dtype=np.int8)
    grid[0, :] = 1
    grid[5, 3:9] = 1
    grid[8:10, 10:13] = -1
    m = maps.make_map(grid, start=(2, 2))
    p = maps.save_map(m, tmp_path / f"m{suffix}")
    back = maps.load_map(p, start=(2, 2))
    assert np.array_equal(back.grid, m.grid)
    assert back.start == (2, 2)


def test_load_png_thresholds(tmp_path):
    from PIL import Image

    img = np.array([[255, 250, 128], [0, 40, 210]], dtype=np.uint8)
    Image.fromarray(img, mode="L").save(tmp_path / "g.png")
    m = maps.load_map(tmp_path / "g.png")
    assert m.grid.tolist() == [[0, 0, -1], [1, 1, 0]]


def test_bad_maps_raise(tmp_path):
    with pytest.raises(InvalidInputError, match="no free cell"):
        maps.make_map(np.ones((5, 5)))
    with pytest.raises(InvalidInputError, match=r"start \(0, 0\) is inside an obstacle"):
        maps.make_map([[1, 0], [0, 0]], start=(0, 0))
    with pytest.raises(InvalidInputError, match="outside the grid"):
        maps.make_map([[0, 0], [0, 0]], start=(5, 0))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    with pytest.raises(InvalidInputError, match=r"load_map\(\): cannot read"):
        maps.load_map(bad)
    with pytest.raises(InvalidInputError, match="no such file"):
        maps.load_map(tmp_path / "missing.png")
    (tmp_path / "x.npy").write_bytes(b"garbage")
    with pytest.raises(InvalidInputError, match="cannot read"):
        maps.load_map(tmp_path / "x.npy")
    with pytest.raises(InvalidInputError, match="values must be"):
        maps.make_map([[0, 7], [0, 0]])
    with pytest.raises(InvalidInputError, match="finite"):
        maps.make_map([[0, np.nan], [0, 0]])
    with pytest.raises(InvalidInputError, match="2-D"):
        maps.make_map([0, 0, 1])


def test_probability_and_ros_encodings():
    m = maps.make_map([[0.0, 1.0], [0.5, 0.1]])
    assert m.grid.tolist() == [[0, 1], [-1, 0]]
    m = maps.make_map([[0, 100], [-1, 0]])
    assert m.grid.tolist() == [[0, 1], [-1, 0]]
    m = maps.make_map(np.array([[False, True]]))
    assert m.grid.tolist() == [[0, 1]]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from([-1, 0, 1]), min_size=1, max_size=6), min_size=1, max_size=6)
       .filter(lambda rows: len({len(r) for r in rows}) == 1),
       st.tuples(st.integers(-2, 7), st.integers(-2, 7)))
def test_make_map_validation_property(rows, start):
    g = np.array(rows)
    inside = 0 <= start[0] < g.shape[0] and 0 <= start[1] < g.shape[1]
    if (g == 0).any() and inside and g[start] == 0:
        m = maps.make_map(g, start=start)
        assert m.start == start and np.array_equal(m.grid, g)
    else:
        with pytest.raises(InvalidInputError, match=r"make_map\(\)"):
            maps.make_map(g, start=start)
