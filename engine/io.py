"""Atomic file writes and bounded JSON reads.

Writes: a temp file in the target's directory, fsync, then rename. A reader never sees a
half-written file, and a crash leaves either the old file or the new one. Files get the mode the
user's umask gives (``0o666 & ~umask``) or, when a file is replaced, the mode it had; writing
through a symbolic link writes the link's target. A temp file is named
``.<name>.<pid>.<random>.tmp[suffix]``: one left behind by a killed process (whose pid is dead)
is removed by the next write of the same file or by :func:`remove_stale_temps`.

Reads: every JSON document may come from someone else. :func:`loads_json` and
:func:`read_json` refuse, before parsing, a document larger than ``max_bytes`` (default
:data:`MAX_JSON_BYTES`) or nested deeper than ``max_depth`` (:data:`MAX_JSON_DEPTH`), and turn
every parse failure (syntax, invalid UTF-8, integers past Python's digit limit, recursion) into
:class:`~engine.errors.InvalidDocumentError` (an :class:`~engine.errors.InvalidInputError`)
naming the file, the line and column, and the JSON path. Raise a limit for one call by keyword,
or for the process by assigning the module constant (``engine.io.MAX_JSON_BYTES = 2**30``).
"""

from __future__ import annotations

import enum
import json
import os
import re
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Union

import numpy as np

from engine.errors import InvalidDocumentError, InvalidInputError

__all__ = ["to_jsonable", "atomic_path", "atomic_write_text", "atomic_write_bytes", "atomic_write_json", "read_json", "loads_json",
           "remove_stale_temps", "json_path", "MAX_JSON_BYTES", "MAX_JSON_DEPTH"]

PathLike = Union[str, "os.PathLike[str]"]

#: Largest JSON document (bytes) :func:`read_json` / :func:`loads_json` parse (keyword ``max_bytes``).
MAX_JSON_BYTES = 256 * 2**20
#: Deepest nesting of arrays/objects a JSON document may have (keyword ``max_depth``). Real
#: documents stay below 10 (an N-player game's payoffs are N + 2 deep).
MAX_JSON_DEPTH = 100


# ============================================================================ writing
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}\.tmp")
_NAME_MAX = 200  # the part of the target name kept in its temp name (file names stop at 255 bytes)


def _temp_stem(name: str) -> str:
    return name[:_NAME_MAX]


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not one of ours: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def remove_stale_temps(directory: PathLike, name: Optional[str] = None) -> list[Path]:
    """Remove the temp files that killed writers left in ``directory``; return what was removed.

    Only files named like this module's temp files (``.<name>.<pid>.<random>.tmp...``) whose
    writer pid no longer runs on this machine are removed; with ``name``, only those of that
    target file. Temp files of live writers and every other file are left alone.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    stem = _temp_stem(name) if name is not None else None
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m is None or (stem is not None and m.group("name") != stem):
            continue
        try:
            if not stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                continue
            if _pid_alive(int(m.group("pid"))):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except (OSError, ValueError):
            continue
    return removed


def _write_target(path: PathLike) -> Path:
    """The file a write of ``path`` must replace: the final target when ``path`` is a symlink."""
    p = Path(os.fspath(path))
    if not p.is_symlink():
        return p
    real = Path(os.path.realpath(p))
    if real.is_symlink():  # a loop: realpath gave up
        raise OSError(40, "Too many levels of symbolic links", str(p))
    return real


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: PathLike, *, suffix: str = "", fsync: bool = True, clean_stale: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Use it for libraries that insist on writing a file themselves (HiGHS ``writeModel``,
    ``torch.save``). ``suffix`` keeps an extension the writer looks at (e.g. ``".mps"``).
    The rename alone protects against a killed process; ``fsync`` (default) also against a
    power loss, at the cost of a few milliseconds.

    The new file gets ``0o666 & ~umask`` (the temp file is created with that mode, so the
    kernel applies the umask), or the permission bits of the file it replaces. When ``path`` is
    a symbolic link, its target is written and the link kept. ``clean_stale`` (default) first
    removes temp files of the same target left by writers that were killed.
    """
    target = _write_target(path)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if clean_stale:
        remove_stale_temps(parent, target.name)
    try:
        keep_mode: Optional[int] = stat.S_IMODE(os.stat(target).st_mode) & 0o777
    except FileNotFoundError:
        keep_mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp_path = parent / f".{_temp_stem(target.name)}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}"
        try:
            fd = os.open(tmp_path, flags, 0o666)
            break
        except FileExistsError:
            continue
    os.close(fd)
    try:
        yield tmp_path
        if keep_mode is not None:  # after the write: a library may have recreated the file
            os.chmod(tmp_path, keep_mode)
        if fsync:
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        if fsync:
            _fsync_dir(parent)
    finally:
        if os.path.lexists(tmp_path):
            tmp_path.unlink()


def atomic_write_bytes(path: PathLike, data: bytes, *, fsync: bool = True, clean_stale: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path, fsync=fsync, clean_stale=clean_stale) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str, *, encoding: str = "utf-8", fsync: bool = True,
                      clean_stale: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    return atomic_write_bytes(path, text.encode(encoding), fsync=fsync, clean_stale=clean_stale)


def atomic_write_json(path: PathLike, data: Any, *, indent: int | None = 2, fsync: bool = True,
                      clean_stale: bool = True) -> Path:
    """Write ``data`` (numpy values and results allowed) as JSON atomically."""

    return atomic_write_text(path, json.dumps(to_jsonable(data), indent=indent, allow_nan=True) + "\n",
                             fsync=fsync, clean_stale=clean_stale)


# ============================================================================ reading
_STRUCT_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
_PATH_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.S)


def _fmt_key(key: Any) -> str:
    return f"[{key!r}]" if isinstance(key, str) else f"[{key}]"


def json_path(parts: Any) -> str:
    """``("a", 3)`` -> ``"$['a'][3]"``: the path notation of the engine's messages."""
    return "$" + "".join(_fmt_key(p) for p in parts)


def _path_at(text: str, pos: int) -> str:
    """The JSON path of the value being parsed at character ``pos`` (best effort, error path only)."""
    stack: list[list] = []  # [kind, index-or-key, expecting_key]
    for m in _PATH_RE.finditer(text, 0, max(0, pos)):
        tok = m.group()
        c = tok[0]
        if c == "[":
            stack.append(["a", 0, False])
        elif c == "{":
            stack.append(["o", None, True])
        elif c in "]}":
            if stack:
                stack.pop()
        elif c == ",":
            if stack:
                top = stack[-1]
                if top[0] == "a":
                    top[1] += 1
                else:
                    top[1], top[2] = None, True
        elif c == ":":
            if stack:
                stack[-1][2] = False
        elif stack and stack[-1][0] == "o" and stack[-1][2]:
            try:
                stack[-1][1] = json.loads(tok)
            except ValueError:
                stack[-1][1] = tok[1:-1]
    return json_path(top[1] for top in stack if top[1] is not None)


def _abbreviate(path: str, limit: int = 160) -> str:
    """A long JSON path shortened for a message (the error's ``json_path`` keeps all of it)."""
    return path if len(path) <= limit else f"{path[:100]}...{path[-50:]}"


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _deep_position(text: str, max_depth: int) -> Optional[int]:
    """Offset of the first array/object opened deeper than ``max_depth``, or None."""
    if text.count("[") + text.count("{") <= max_depth:
        return None
    depth = 0
    for m in _STRUCT_RE.finditer(text):
        c = m.group()[0]
        if c == "[" or c == "{":
            depth += 1
            if depth > max_depth:
                return m.start()
        elif c == "]" or c == "}":
            depth -= 1
    return None


def loads_json(data: "str | bytes | bytearray", *, where: str = "loads_json()", source: Any = None,
               max_bytes: Optional[int] = None, max_depth: Optional[int] = None) -> Any:
    """Parse a JSON document from someone else; every failure is an ``InvalidDocumentError``.

    ``data`` is text or UTF-8 bytes. ``source`` (a file name) goes into messages. Refused before
    parsing: more than ``max_bytes`` bytes (default :data:`MAX_JSON_BYTES`), nesting deeper than
    ``max_depth`` (:data:`MAX_JSON_DEPTH`); while parsing: invalid UTF-8, syntax errors, integers
    longer than Python's limit (``sys.get_int_max_str_digits()``, 4300 digits). ``NaN`` and
    ``Infinity`` are accepted (results write them).
    """
    max_bytes = MAX_JSON_BYTES if max_bytes is None else max_bytes
    max_depth = MAX_JSON_DEPTH if max_depth is None else max_depth
    prefix = f"{where}: {source}" if source is not None else where

    def fail(reason: str, pos: Optional[int] = None, text: Optional[str] = None, cause: Any = None) -> None:
        line = col = None
        path = ""
        msg = f"{prefix}: {reason}"
        if pos is not None and text is not None:
            line, col = _line_col(text, pos)
            path = _path_at(text, pos)
            msg += f" at line {line} column {col} ({_abbreviate(path)})"
        err = InvalidDocumentError(msg, reason=reason, source=source, line=line, column=col, json_path=path)
        raise err from cause

    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > max_bytes:
            fail(f"the document has {len(raw)} bytes, more than the limit of {max_bytes} (max_bytes)")
        try:
            text = raw.decode("utf-8-sig" if raw[:3] == b"\xef\xbb\xbf" else "utf-8")
        except UnicodeDecodeError as err:
            start = err.start
            line = raw.count(b"\n", 0, start) + 1
            col = start - (raw.rfind(b"\n", 0, start) + 1) + 1
            head = raw[:start].decode("utf-8", "replace")
            path = _path_at(head, len(head))
            reason = f"not valid UTF-8 (byte 0x{raw[start]:02x} at offset {start})"
            raise InvalidDocumentError(f"{prefix}: {reason} at line {line} column {col} ({_abbreviate(path)})", reason=reason,
                                       source=source, line=line, column=col, json_path=path) from err
    elif isinstance(data, str):
        text = data
        if len(text) > max_bytes:  # characters: a lower bound of the UTF-8 size
            fail(f"the document has more than {max_bytes} bytes (max_bytes)")
    else:
        raise InvalidInputError(f"{where}: expected JSON text (str or bytes), got {type(data).__name__}")
    deep = _deep_position(text, max_depth)
    if deep is not None:
        fail(f"arrays/objects nested deeper than {max_depth} levels (max_depth)", deep, text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        fail(f"not valid JSON: {err.msg}", err.pos, text, err)
    except RecursionError as err:  # only when max_depth is raised past what the parser can do
        fail(f"arrays/objects nested too deeply for the parser (max_depth={max_depth})", cause=err)
    except ValueError as err:  # Python's limit on integer digits
        import sys

        limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300
        m = re.search(r"(?<![0-9.eE+\-])-?[0-9]{%d,}" % (limit + 1), text) if limit else None
        if m is not None:
            digits = len(m.group().lstrip("-"))
            fail(f"an integer with {digits} digits exceeds the limit of {limit} digits", m.start(), text, err)
        fail(f"not valid JSON: {err}", cause=err)
    raise AssertionError("unreachable")  # pragma: no cover


def read_json(path: PathLike, *, where: str = "read_json()", max_bytes: Optional[int] = None,
              max_depth: Optional[int] = None) -> Any:
    """Read a JSON file (written by :func:`atomic_write_json` or by anyone else).

    The size is checked before reading (``max_bytes``, default :data:`MAX_JSON_BYTES`); the
    rest as in :func:`loads_json`. Unreadable files and a ``path`` that is no path (a list, a
    number) are :class:`~engine.errors.InvalidInputError` too.
    """
    if isinstance(path, bool) or not isinstance(path, (str, bytes, os.PathLike)):
        raise InvalidInputError(f"{where}: expected a file path, got {type(path).__name__}")
    max_bytes = MAX_JSON_BYTES if max_bytes is None else max_bytes
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise InvalidDocumentError(f"{where}: {os.fsdecode(path)}: the file has {size} bytes, more than the "
                                           f"limit of {max_bytes} (max_bytes)", reason="too large",
                                           source=os.fsdecode(path))
            raw = fh.read(max_bytes + 1)  # bounded even when the size lied (a pipe, /dev/zero)
    except (OSError, ValueError) as err:
        if isinstance(err, InvalidInputError):
            raise
        reason = getattr(err, "strerror", None) or str(err)
        raise InvalidInputError(f"{where}: cannot read {os.fsdecode(path)}: {reason}") from err
    return loads_json(raw, where=where, source=os.fsdecode(path), max_bytes=max_bytes, max_depth=max_depth)


def to_jsonable(value: Any) -> Any:
    """Convert numpy arrays/scalars, enums, tuples, results (their ``to_dict()``) and nested containers
    to JSON data (:func:`engine.result.from_jsonable` reads it back)."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, (Mapping, type)):  # an engine.SolveResult (or a config)
        return to_dict()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [to_jsonable(v) for v in value]}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value
