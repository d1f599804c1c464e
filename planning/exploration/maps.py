"""Occupancy grids: the map type, PNG/NPY loading and saving, and seeded procedural generators.

A map is a 2-D grid of cells, each ``FREE`` (0), ``OCCUPIED`` (1) or ``UNKNOWN`` (-1), plus a
start cell. During a simulated exploration the ground-truth map is the world: cells the input
marks ``UNKNOWN`` are treated like obstacles (they block motion and sight) and are never counted
as explorable.

Generators (``indoor``, ``forest``, ``warehouse``) take a size from 50 to 1000 cells per side and
a ``seed``; the same seed gives the same map. Every generated map has exactly one 8-connected
free region (enclosed free pockets are filled), so every free cell is reachable from the start.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
from scipy import ndimage

from engine.errors import InvalidInputError
from engine.io import atomic_path, atomic_write_text
from engine.schemas import load_document
from engine.seeding import resolve_seed
from engine.validation import check_choice, check_int, check_real

__all__ = ["FREE", "OCCUPIED", "UNKNOWN", "OccupancyMap", "make_map", "load_map", "save_map", "indoor", "forest",
           "warehouse", "generate", "MAP_KINDS", "reachable_mask", "MAX_MAP_CELLS"]

FREE = 0
OCCUPIED = 1
UNKNOWN = -1

#: The procedural generators, by name.
MAP_KINDS = ("indoor", "forest", "warehouse")

#: Most cells (rows x cols) a map file may declare: :func:`load_map` and
#: :meth:`OccupancyMap.from_dict` check the size a PNG header, ``.npy`` header or JSON grid
#: declares against it before decoding anything (``max_cells=`` raises it). 16 million cells is
#: a 4000 x 4000 grid; the generators make at most 1000 x 1000.
MAX_MAP_CELLS = 16_000_000

_EIGHT = np.ones((3, 3), dtype=bool)

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class OccupancyMap:
    """A ground-truth occupancy grid and a start cell.

    Attributes
    ----------
    grid : numpy.ndarray
        ``int8`` array of shape ``(rows, cols)`` holding ``FREE`` (0), ``OCCUPIED`` (1) or
        ``UNKNOWN`` (-1). Read-only.
    start : tuple of int
        ``(row, col)`` of the start cell; always a free cell.
    name : str
        Where the map came from (``"indoor"``, a file name, ...).
    params : dict
        The generator's options (kind, size, seed, ...) or the loader's thresholds.
    """

    grid: np.ndarray
    start: tuple[int, int]
    name: str = "map"
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape  # type: ignore[return-value]

    @property
    def n_free(self) -> int:
        """Number of free cells."""
        return int(np.count_nonzero(self.grid == FREE))

    def reachable(self) -> np.ndarray:
        """Boolean mask of the free cells 8-connected to the start."""
        return reachable_mask(self.grid, self.start)

    def to_dict(self) -> dict[str, Any]:
        """The map as a ``gameplan/map`` v1 JSON document (see :mod:`engine.schemas`).

        ``grid`` holds the cells (-1 unknown, 0 free, 1 occupied), ``start`` the ``[row, col]``
        start cell; ``params["resolution"]`` (metres per cell), when set, becomes the document's
        ``resolution``. The other JSON-representable params are kept under ``params``.

        Examples
        --------
        >>> m = make_map([[0, 1], [-1, 0]], start=(0, 0), name="tiny")
        >>> doc = m.to_dict()
        >>> doc["grid"], doc["start"], doc["name"]
        ([[0, 1], [-1, 0]], [0, 0], 'tiny')
        """
        doc: dict[str, Any] = {"schema": "gameplan/map", "version": 1, "name": self.name,
                               "start": [int(self.start[0]), int(self.start[1])],
                               "grid": np.asarray(self.grid, dtype=np.int64).tolist()}
        params = _jsonable_params(self.params)
        res = params.pop("resolution", None)
        if isinstance(res, (int, float)) and not isinstance(res, bool) and res > 0:
            doc["resolution"] = float(res)
        elif res is not None:
            params["resolution"] = res
        if params:
            doc["params"] = params
        return doc

    @classmethod
    def from_dict(cls, source: Any, *, start: Optional[Sequence[int]] = None,
                  max_cells: int = MAX_MAP_CELLS) -> "OccupancyMap":
        """A map from a ``gameplan/map`` document (a mapping, JSON text or a path).

        The document is validated against its schema (migrated from older versions, refused
        with a clear message when it cannot be); errors name the JSON path. ``start`` overrides
        the document's start; without either the default start of :func:`make_map` is used.
        A ``resolution`` comes back as ``params["resolution"]``. A grid of more than
        ``max_cells`` cells (default :data:`MAX_MAP_CELLS`) is refused before it is converted.

        Examples
        --------
        >>> m = forest(50, seed=2)
        >>> m2 = OccupancyMap.from_dict(m.to_dict())
        >>> bool((m2.grid == m.grid).all()), m2.start == m.start, m2.params["seed"] == m.params["seed"]
        (True, True, True)
        """
        where = "OccupancyMap.from_dict()"
        max_cells = check_int(max_cells, "max_cells", where, lower=1)
        doc = load_document(source, expected="gameplan/map", where=where)
        rows = doc["grid"]
        width = len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != width:
                raise InvalidInputError(f"{where}: $['grid'][{i}] has {len(row)} cells but $['grid'][0] has {width}: "
                                        f"the grid must be rectangular")
        _check_cells(len(rows), width, "$['grid']", max_cells, where)
        grid = np.array(rows, dtype=np.int8)
        st = start
        if st is None and "start" in doc:
            st = tuple(doc["start"])
            r, c = st
            if not (r < grid.shape[0] and c < grid.shape[1]):
                raise InvalidInputError(f"{where}: $['start'] = {list(st)} is outside the grid of shape {grid.shape}")
            if grid[r, c] != FREE:
                kind = "an obstacle" if grid[r, c] == OCCUPIED else "an unknown cell"
                raise InvalidInputError(f"{where}: $['start'] = {list(st)} is inside {kind}")
        params = dict(doc.get("params") or {})
        if "resolution" in doc:
            try:
                res = float(doc["resolution"])
            except OverflowError:
                res = math.inf
            if not math.isfinite(res):
                raise InvalidInputError(f"{where}: $['resolution'] must be a finite number of metres per cell, got "
                                        f"{str(doc['resolution'])[:40]}")
            params["resolution"] = res
        return make_map(grid, start=st, name=doc.get("name", "map"), params=params, where=where)


def _jsonable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-representable entries of ``params`` (numpy values and tuples converted)."""
    import json

    def conv(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, Mapping):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    out: dict[str, Any] = {}
    for key, value in dict(params).items():
        try:
            value = conv(value)
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out


def _check_cells(rows: int, cols: int, what: str, max_cells: int, where: str) -> None:
    """InvalidInputError when a declared ``rows x cols`` grid is above ``max_cells``."""
    if rows * cols > max_cells:
        raise InvalidInputError(f"{where}: {what} declares {rows} x {cols} = {rows * cols} cells, above "
                                f"max_cells={max_cells} (planning.exploration.maps.MAX_MAP_CELLS; pass max_cells= "
                                f"to read it)")


def _read_npy(p: Path, max_cells: int, where: str) -> np.ndarray:
    """A 2-D ``.npy`` array, its header checked before any data is read.

    The header (``numpy.lib.format``) declares the shape and dtype; the array must be 2-D,
    boolean, integer or real with at most 8 bytes per cell, of at most ``max_cells`` cells, and
    the file must hold all the bytes the header promises. Only then is the data read.
    """
    from numpy.lib import format as npf

    name = repr(str(p))
    try:
        with open(p, "rb") as fh:
            version = npf.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = npf.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = npf.read_array_header_2_0(fh)
            else:
                raise InvalidInputError(f"{where}: {name} is a .npy file of version {version[0]}.{version[1]}; "
                                        f"maps are read from versions 1.0 and 2.0")
            offset = fh.tell()
            size = os.fstat(fh.fileno()).st_size
    except InvalidInputError:
        raise
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - numpy's header parser fails in many ways (ValueError, TokenError, ...)
        raise InvalidInputError(f"{where}: cannot read {name} as .npy: {type(err).__name__}: "
                                f"{str(err)[:200]}") from None
    if len(shape) != 2:
        raise InvalidInputError(f"{where}: {name} holds an array of shape {shape}; a map is a 2-D grid")
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise InvalidInputError(f"{where}: {name} holds dtype {dtype}; a map is boolean, integer or real "
                                f"(at most 8 bytes per cell)")
    _check_cells(int(shape[0]), int(shape[1]), f"the .npy header of {name}", max_cells, where)
    need = int(shape[0]) * int(shape[1]) * dtype.itemsize
    if size - offset < need:
        raise InvalidInputError(f"{where}: {name} is truncated: its header declares {shape} {dtype} "
                                f"({need} bytes) but {size - offset} bytes follow it")
    try:
        with open(p, "rb") as fh:
            fh.seek(offset)
            arr = np.fromfile(fh, dtype=dtype, count=int(shape[0]) * int(shape[1]))
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{where}: cannot read {name} as .npy: {str(err)[:200]}") from None
    if arr.size != int(shape[0]) * int(shape[1]):
        raise InvalidInputError(f"{where}: {name} is truncated")
    return arr.reshape(shape, order="F" if fortran else "C")


def _read_image(p: Path, max_cells: int, where: str) -> np.ndarray:
    """An image as 8-bit grey; its size is read from the header and checked before decoding."""
    from PIL import Image

    name = repr(str(p))
    try:
        with warnings.catch_warnings():
            # Pillow warns above Image.MAX_IMAGE_PIXELS; our own limit decides (it errs above twice that)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(p)  # lazy: reads the header only
        with img:
            cols, rows = img.size
            _check_cells(int(rows), int(cols), f"the image header of {name}", max_cells, where)
            img.load()
            grey = np.asarray(img.convert("L"), dtype=np.uint8)
    except InvalidInputError:
        raise
    except MemoryError:
        raise
    except Image.DecompressionBombError as err:
        raise InvalidInputError(f"{where}: {name} is larger than Pillow reads ({err}); Pillow's own limit is "
                                f"PIL.Image.MAX_IMAGE_PIXELS") from None
    except Exception as err:  # noqa: BLE001 - a decoder fails in many ways (OSError, SyntaxError, struct.error, ...)
        raise InvalidInputError(f"{where}: cannot read {name} as an image: {type(err).__name__}: "
                                f"{str(err)[:200]}") from None
    if grey.ndim != 2:
        raise InvalidInputError(f"{where}: {name} decodes to an array of shape {grey.shape}, not a 2-D image")
    return grey


def reachable_mask(grid: np.ndarray, start: Sequence[int]) -> np.ndarray:
    """Boolean mask of the free cells of ``grid`` 8-connected to ``start``."""
    labels, _ = ndimage.label(np.asarray(grid) == FREE, structure=_EIGHT)
    lab = labels[int(start[0]), int(start[1])]
    if lab == 0:
        return np.zeros(np.shape(grid), dtype=bool)
    return labels == lab


def _grid_from_array(arr: Any, where: str) -> np.ndarray:
    try:
        a = np.asarray(arr)
    except (ValueError, TypeError, OverflowError) as err:
        raise InvalidInputError(f"{where}: grid must be a rectangular 2-D array (rows of equal length), got "
                                f"{type(arr).__name__}: {str(err)[:120]}") from None
    if a.dtype == object:
        raise InvalidInputError(f"{where}: grid must be a numeric array, got an object array")
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise InvalidInputError(f"{where}: grid must be a non-empty 2-D array, got shape {a.shape}")
    if a.dtype == bool:
        return np.where(a, OCCUPIED, FREE).astype(np.int8)
    if not np.issubdtype(a.dtype, np.number):
        raise InvalidInputError(f"{where}: grid must be numeric or boolean, got dtype {a.dtype}")
    af = a.astype(np.float64)
    if not np.all(np.isfinite(af)):
        raise InvalidInputError(f"{where}: grid must be finite, got {af[~np.isfinite(af)].flat[0]}")
    values = set(np.unique(af).tolist())
    if values <= {-1.0, 0.0, 1.0}:
        return af.astype(np.int8)
    if values <= {-1.0, 0.0, 100.0}:  # ROS OccupancyGrid convention
        return np.where(af == 100.0, OCCUPIED, af).astype(np.int8)
    if af.min() >= 0.0 and af.max() <= 1.0:  # occupancy probabilities (map_server thresholds)
        out = np.full(af.shape, UNKNOWN, dtype=np.int8)
        out[af <= 0.196] = FREE
        out[af >= 0.65] = OCCUPIED
        return out
    bad = sorted(values - {-1.0, 0.0, 1.0})[0]
    raise InvalidInputError(f"{where}: grid values must be -1/0/1 (unknown/free/occupied), -1/0/100 or "
                            f"probabilities in [0, 1]; got {bad}")


def _default_start(grid: np.ndarray) -> tuple[int, int]:
    """The free cell of the largest 8-connected free region nearest the region's centroid."""
    labels, n = ndimage.label(grid == FREE, structure=_EIGHT)
    sizes = np.bincount(labels.ravel())[1:]
    lab = int(np.argmax(sizes)) + 1
    rows, cols = np.nonzero(labels == lab)
    cr, cc = rows.mean(), cols.mean()
    k = int(np.argmin((rows - cr) ** 2 + (cols - cc) ** 2))
    return int(rows[k]), int(cols[k])


def make_map(grid: Any, *, start: Optional[Sequence[int]] = None, name: str = "map",
             params: Optional[Mapping[str, Any]] = None, where: str = "make_map()") -> OccupancyMap:
    """Validate an array as an :class:`OccupancyMap`.

    Parameters
    ----------
    grid : array_like
        2-D array: boolean (True = occupied), integers in {-1, 0, 1} (unknown/free/occupied),
        the ROS convention {-1, 0, 100}, or occupancy probabilities in [0, 1] (<= 0.196 free,
        >= 0.65 occupied, else unknown).
    start : (row, col), optional
        The start cell; by default the free cell of the largest free region nearest its centroid.

    Raises
    ------
    engine.errors.InvalidInputError
        No free cell, a start outside the grid or not on a free cell.

    Examples
    --------
    >>> m = make_map([[0, 0, 1], [0, 0, 0]], start=(0, 0))
    >>> m.n_free
    5
    """
    g = _grid_from_array(grid, where)
    g.setflags(write=False)
    if not np.any(g == FREE):
        raise InvalidInputError(f"{where}: the map has no free cell (shape {g.shape})")
    if start is None:
        st = _default_start(g)
    else:
        try:
            st_arr = np.asarray(start)
            ok = st_arr.shape == (2,) and np.issubdtype(st_arr.dtype, np.integer)
        except Exception:  # noqa: BLE001 - anything odd is a bad start
            ok = False
        if not ok:
            raise InvalidInputError(f"{where}: start must be a (row, col) pair of integers, got {start!r}")
        st = (int(st_arr[0]), int(st_arr[1]))
        if not (0 <= st[0] < g.shape[0] and 0 <= st[1] < g.shape[1]):
            raise InvalidInputError(f"{where}: start {st} is outside the grid of shape {g.shape}")
        if g[st] != FREE:
            kind = "an obstacle" if g[st] == OCCUPIED else "an unknown cell"
            raise InvalidInputError(f"{where}: start {st} is inside {kind}")
    return OccupancyMap(grid=g, start=st, name=str(name), params=dict(params or {}))


def load_map(path: PathLike, *, start: Optional[Sequence[int]] = None, free_threshold: int = 205,
             occupied_threshold: int = 50, max_cells: int = MAX_MAP_CELLS) -> OccupancyMap:
    """Load an occupancy grid from a PNG (or any image Pillow reads), a ``.npy`` or a ``.json`` file.

    Images are read as 8-bit grey: values >= ``free_threshold`` are free (white), values
    <= ``occupied_threshold`` occupied (black), others unknown (grey), like ROS ``map_server``.
    ``.npy`` arrays follow :func:`make_map`. ``.json`` files are ``gameplan/map`` documents
    (:meth:`OccupancyMap.from_dict`; their start is used unless ``start`` is given).

    A map file may come from someone else: the size it declares (the image header, the
    ``.npy`` header, the JSON grid) is checked against ``max_cells`` (default
    :data:`MAX_MAP_CELLS`, 16 million cells) before anything is decoded, so a small file that
    claims a huge grid is refused instead of allocating it. Pillow's own
    ``PIL.Image.MAX_IMAGE_PIXELS`` check still applies to images (it refuses above twice that).

    Raises
    ------
    engine.errors.InvalidInputError
        A missing or unreadable file, a grid above ``max_cells``, or a map :func:`make_map`
        rejects.

    Examples
    --------
    >>> import tempfile, os
    >>> m = indoor(50, seed=1)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_map(m, os.path.join(d, "m.png"))
    ...     bool((load_map(p, start=m.start).grid == m.grid).all())
    True
    """
    where = "load_map()"
    check_int(free_threshold, "free_threshold", where, lower=1, upper=255)
    check_int(occupied_threshold, "occupied_threshold", where, lower=0, upper=254)
    max_cells = check_int(max_cells, "max_cells", where, lower=1)
    if occupied_threshold >= free_threshold:
        raise InvalidInputError(f"{where}: occupied_threshold must be < free_threshold, got "
                                f"{occupied_threshold} >= {free_threshold}")
    try:
        p = Path(path)
        is_file = p.is_file()
    except (TypeError, ValueError, OSError) as err:
        raise InvalidInputError(f"{where}: path must be a file path, got {str(path)[:200]!r} ({err})") from None
    if not is_file:
        raise InvalidInputError(f"{where}: no such file {str(p)!r}")
    if p.suffix.lower() == ".json":
        return OccupancyMap.from_dict(p, start=start, max_cells=max_cells)
    if p.suffix.lower() == ".npy":
        arr = _read_npy(p, max_cells, where)
        return make_map(arr, start=start, name=p.name, params={"path": str(p)}, where=where)
    grey = _read_image(p, max_cells, where)
    grid = np.full(grey.shape, UNKNOWN, dtype=np.int8)
    grid[grey >= free_threshold] = FREE
    grid[grey <= occupied_threshold] = OCCUPIED
    return make_map(grid, start=start, name=p.name, where=where,
                    params={"path": str(p), "free_threshold": free_threshold,
                            "occupied_threshold": occupied_threshold})


def save_map(m: OccupancyMap, path: PathLike) -> Path:
    """Write a map as PNG (free white, occupied black, unknown grey 128), ``.npy`` (-1/0/1) or
    ``.json`` (a ``gameplan/map`` document with the start, name and params), atomically.

    Examples
    --------
    >>> import tempfile, os
    >>> m = make_map([[0, 0], [1, -1]], start=(0, 1), name="small")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     m2 = load_map(save_map(m, os.path.join(d, "m.json")))
    >>> m2.grid.tolist(), m2.start, m2.name
    ([[0, 0], [1, -1]], (0, 1), 'small')
    """
    if not isinstance(m, OccupancyMap):
        raise InvalidInputError(f"save_map(): expected an OccupancyMap, got {type(m).__name__}")
    p = Path(path)
    if p.suffix.lower() == ".json":
        import json

        atomic_write_text(p, json.dumps(m.to_dict(), separators=(",", ":")) + "\n")
        return p
    if p.suffix.lower() == ".npy":
        with atomic_path(p, suffix=".npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, np.asarray(m.grid, dtype=np.int8))
        return p
    from PIL import Image

    img = np.full(m.grid.shape, 128, dtype=np.uint8)
    img[m.grid == FREE] = 255
    img[m.grid == OCCUPIED] = 0
    with atomic_path(p, suffix=p.suffix or ".png") as tmp:
        Image.fromarray(img, mode="L").save(tmp, format="PNG")
    return p


# ----------------------------------------------------------------------------------------------
# procedural generators


def _check_size(size: Any, where: str) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise InvalidInputError(f"{where}: size must be an int or (rows, cols), got {size!r}")
        h = check_int(size[0], "size[0]", where, lower=50, upper=1000)
        w = check_int(size[1], "size[1]", where, lower=50, upper=1000)
        return h, w
    n = check_int(size, "size", where, lower=50, upper=1000)
    return n, n


def _finish(grid: np.ndarray, rng: np.random.Generator, name: str, params: dict) -> OccupancyMap:
    """Border walls, keep only the largest free region, pick a random start in it."""
    grid[0, :] = grid[-1, :] = OCCUPIED
    grid[:, 0] = grid[:, -1] = OCCUPIED
    labels, n = ndimage.label(grid == FREE, structure=_EIGHT)
    if n == 0:  # pragma: no cover - generators always leave free space
        raise InvalidInputError(f"{name}(): generated map has no free cell")
    sizes = np.bincount(labels.ravel())[1:]
    keep = int(np.argmax(sizes)) + 1
    grid[(grid == FREE) & (labels != keep)] = OCCUPIED
    # start away from walls when possible
    free = grid == FREE
    clear = ndimage.binary_erosion(free, structure=_EIGHT, iterations=1) & free
    rows, cols = np.nonzero(clear if clear.any() else free)
    k = int(rng.integers(len(rows)))
    return make_map(grid.astype(np.int8), start=(int(rows[k]), int(cols[k])), name=name, params=params,
                    where=f"{name}()")


def indoor(size: Any = 200, *, seed: Any = 0, min_room: Optional[int] = None, door: Optional[int] = None
           ) -> OccupancyMap:
    """Rooms and corridors by recursive division: walls split the space, doors link the parts.

    Parameters
    ----------
    size : int or (rows, cols)
        50 to 1000 cells per side.
    seed : int, numpy Generator or None
        Drives the layout (default 0; None draws a fresh root); ``params["seed"]`` records it.
    min_room : int, optional
        Rooms are not split below this side (default ``max(10, size // 6)``).
    door : int, optional
        Door width in cells (default ``max(3, size // 40)``).

    Examples
    --------
    >>> m = indoor(60, seed=0)
    >>> m.shape, bool(m.grid[m.start] == 0)
    ((60, 60), True)
    """
    where = "indoor()"
    h, w = _check_size(size, where)
    s = resolve_seed(seed, where=where)
    rng = s.generator("indoor")
    min_room = max(10, min(h, w) // 6) if min_room is None else check_int(min_room, "min_room", where, lower=4)
    door = max(3, min(h, w) // 40) if door is None else check_int(door, "door", where, lower=1)
    grid = np.zeros((h, w), dtype=np.int8)
    stack = [(1, 1, h - 1, w - 1)]  # half-open boxes of interior space
    guard = 0
    while stack and guard < 100_000:
        guard += 1
        r0, c0, r1, c1 = stack.pop()
        hh, ww = r1 - r0, c1 - c0
        can_h = hh >= 2 * min_room + 1
        can_v = ww >= 2 * min_room + 1
        if not (can_h or can_v):
            continue
        horizontal = can_h and (not can_v or (hh > ww) or (hh == ww and rng.random() < 0.5))
        if horizontal:
            r = int(rng.integers(r0 + min_room, r1 - min_room + 1))
            grid[r, c0:c1] = OCCUPIED
            n_doors = 1 if ww < 4 * min_room else 2
            for _ in range(n_doors):
                d = int(rng.integers(c0, max(c0 + 1, c1 - door + 1)))
                grid[r, d:min(c1, d + door)] = FREE
            stack.append((r0, c0, r, c1))
            stack.append((r + 1, c0, r1, c1))
        else:
            c = int(rng.integers(c0 + min_room, c1 - min_room + 1))
            grid[r0:r1, c] = OCCUPIED
            n_doors = 1 if hh < 4 * min_room else 2
            for _ in range(n_doors):
                d = int(rng.integers(r0, max(r0 + 1, r1 - door + 1)))
                grid[d:min(r1, d + door), c] = FREE
            stack.append((r0, c0, r1, c))
            stack.append((r0, c + 1, r1, c1))
    # furniture: a few small blocks inside rooms
    n_blocks = int(h * w / 900)
    for _ in range(n_blocks):
        br, bc = int(rng.integers(2, h - 4)), int(rng.integers(2, w - 4))
        bh, bw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        grid[br:br + bh, bc:bc + bw] = OCCUPIED
    params = {"kind": "indoor", "size": (h, w), "seed": s.root, "min_room": min_room, "door": door}
    return _finish(grid, rng, "indoor", params)


def forest(size: Any = 200, *, seed: Any = 0, density: float = 0.08, max_radius: Optional[int] = None
           ) -> OccupancyMap:
    """Scattered round obstacles ("trees") of random radius covering about ``density`` of the area.

    Examples
    --------
    >>> forest(50, seed=3).n_free > 1000
    True
    """
    where = "forest()"
    h, w = _check_size(size, where)
    s = resolve_seed(seed, where=where)
    rng = s.generator("forest")
    density = check_real(density, "density", where, lower=0.0, upper=0.5)
    max_radius = max(2, min(h, w) // 40) if max_radius is None else check_int(max_radius, "max_radius", where,
                                                                               lower=1)
    grid = np.zeros((h, w), dtype=np.int8)
    yy, xx = np.mgrid[0:h, 0:w]
    target = density * h * w
    covered = 0
    guard = 0
    while covered < target and guard < 100_000:
        guard += 1
        rad = int(rng.integers(1, max_radius + 1))
        cr, cc = int(rng.integers(0, h)), int(rng.integers(0, w))
        r0, r1, c0, c1 = max(0, cr - rad), min(h, cr + rad + 1), max(0, cc - rad), min(w, cc + rad + 1)
        disk = (yy[r0:r1, c0:c1] - cr) ** 2 + (xx[r0:r1, c0:c1] - cc) ** 2 <= rad * rad
        sub = grid[r0:r1, c0:c1]
        covered += int(np.count_nonzero(disk & (sub == FREE)))
        sub[disk] = OCCUPIED
    params = {"kind": "forest", "size": (h, w), "seed": s.root, "density": density, "max_radius": max_radius}
    return _finish(grid, rng, "forest", params)


def warehouse(size: Any = 200, *, seed: Any = 0, aisle: Optional[int] = None, shelf: Optional[int] = None
              ) -> OccupancyMap:
    """Rows of shelves separated by aisles, cross aisles, and a few pallets in the open floor.

    Examples
    --------
    >>> warehouse(80, seed=2).shape
    (80, 80)
    """
    where = "warehouse()"
    h, w = _check_size(size, where)
    s = resolve_seed(seed, where=where)
    rng = s.generator("warehouse")
    aisle = max(3, min(h, w) // 25) if aisle is None else check_int(aisle, "aisle", where, lower=1)
    shelf = max(2, min(h, w) // 50) if shelf is None else check_int(shelf, "shelf", where, lower=1)
    grid = np.zeros((h, w), dtype=np.int8)
    margin = max(aisle + 1, min(h, w) // 10)
    vertical = bool(rng.random() < 0.5)
    H, W = (w, h) if vertical else (h, w)
    g = np.zeros((H, W), dtype=np.int8)
    # shelves run along axis 1; cross aisles cut them every block_len cells
    block_len = max(10, W // int(rng.integers(3, 6)))
    r = margin
    while r + shelf < H - margin:
        c = margin
        while c < W - margin:
            end = min(W - margin, c + block_len - aisle)
            g[r:r + shelf, c:end] = OCCUPIED
            # occasional gap in a shelf row
            if rng.random() < 0.15 and end - c > 3 * aisle:
                gap = int(rng.integers(c + aisle, end - aisle))
                g[r:r + shelf, gap:gap + aisle] = FREE
            c += block_len
        r += shelf + aisle
    grid[:, :] = g.T if vertical else g
    n_pallets = int(h * w / 2500)
    for _ in range(n_pallets):
        pr, pc = int(rng.integers(2, h - 3)), int(rng.integers(2, w - 3))
        grid[pr:pr + 2, pc:pc + 2] = OCCUPIED
    params = {"kind": "warehouse", "size": (h, w), "seed": s.root, "aisle": aisle, "shelf": shelf,
              "orientation": "vertical" if vertical else "horizontal"}
    return _finish(grid, rng, "warehouse", params)


def generate(kind: str, size: Any = 200, *, seed: Any = 0, **options: Any) -> OccupancyMap:
    """Dispatch to :func:`indoor`, :func:`forest` or :func:`warehouse` by name.

    Examples
    --------
    >>> generate("forest", 50, seed=0).name
    'forest'
    """
    check_choice(kind, "map kind", "generate()", MAP_KINDS)
    makers: dict[str, Callable[..., OccupancyMap]] = {"indoor": indoor, "forest": forest, "warehouse": warehouse}
    return makers[kind](size, seed=seed, **options)
