"""Atomic file writes: a temp file in the same directory, fsync, then rename.

A reader never sees a half-written file, and a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Union

from engine.result import to_jsonable

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "atomic_write_json", "read_json"]

PathLike = Union[str, "os.PathLike[str]"]


@contextmanager
def atomic_path(path: PathLike, *, suffix: str = "", fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Use it for libraries that insist on writing a file themselves (HiGHS ``writeModel``,
    ``torch.save``). ``suffix`` keeps an extension the writer looks at (e.g. ``".mps"``).
    The rename alone protects against a killed process; ``fsync`` (default) also against a
    power loss, at the cost of a few milliseconds.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if fsync:
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: PathLike, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str, *, encoding: str = "utf-8", fsync: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    return atomic_write_bytes(path, text.encode(encoding), fsync=fsync)


def atomic_write_json(path: PathLike, data: Any, *, indent: int | None = 2, fsync: bool = True) -> Path:
    """Write ``data`` (numpy values and results allowed) as JSON atomically."""
    return atomic_write_text(path, json.dumps(to_jsonable(data), indent=indent, allow_nan=True) + "\n",
                             fsync=fsync)


def read_json(path: PathLike) -> Any:
    """Read a JSON file written by :func:`atomic_write_json`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
