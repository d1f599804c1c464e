"""Versioned, checksummed checkpoint files, read as untrusted input.

Every algorithm that learns saves through :func:`write` and loads through :func:`read`.

File layout (``engine-checkpoint`` format version 1)::

    ENGINE-CHECKPOINT\\n
    {"format":"engine-checkpoint","format_version":1,"kind":"bandits.Sequoia","sha256":"...","size":N,"version":3}\\n
    <N bytes: torch.save() of the state (a zip archive)>

The header line is compact JSON with sorted keys. ``kind`` names the algorithm and ``version``
its state layout; ``sha256`` is the SHA-256 of the magic line, the header *without* its
``sha256`` field (same compact JSON) and a newline, followed by the payload. Every byte of the file
is therefore covered: a flipped bit anywhere, a truncated or extended file is refused.

:func:`read` checks, in this order, before a single tensor is built: the file size against
``max_bytes``, the magic line, the header (canonical JSON, known keys and types), the format
version, the payload size, the checksum, the kind and the version. Only then is the payload
unpickled, with ``torch.load(weights_only=True)`` (no imports, no code execution), after checking
that the zip archive holds only uncompressed records no larger than itself (no zip bombs).
Every tensor of the result must be a dense, contiguous CPU tensor that fits in its storage, and
every other value a plain ``dict`` (``str``/``int`` keys), ``list``, ``tuple``, ``str``, ``int``,
``float``, ``bool`` or ``None``. Any failure is :class:`~engine.errors.InvalidInputError` naming
the file.

The checksum detects corruption, not forgery: anyone can write a file with a valid checksum.
Safety against a hostile file comes from ``weights_only=True``, the checks above and the
structural checks each algorithm makes through :class:`Checkpoint` (exact key sets, types,
shapes, dtypes, finite values, counters within capacity) and its declared-size limits
(``max_parameters``, :data:`MAX_PARAMETERS`), which run before any network or buffer is
allocated.

torch is imported inside the functions only.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import numbers
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Mapping, NoReturn, Optional, Sequence, Union

from engine.errors import InvalidInputError
from engine.validation import short_repr as _short
from engine.io import atomic_write_bytes

__all__ = ["FORMAT", "FORMAT_VERSION", "MAGIC", "MAX_BYTES", "MAX_PARAMETERS", "MAX_OPTION", "Checkpoint", "write",
           "read", "check_limit", "check_threads"]

#: Name and version of the container format (the header's ``format`` and ``format_version``).
FORMAT = "engine-checkpoint"
FORMAT_VERSION = 1
#: The first line of every checkpoint file.
MAGIC = b"ENGINE-CHECKPOINT\n"
#: Limits are read when a call starts: raise one for a single call by keyword, or for the process by
#: assigning the module constant (``engine.checkpoint.MAX_PARAMETERS = 10**8``).
#:
#: Default ``max_bytes`` of :func:`read`: files larger than this (1 GiB) are refused unread.
MAX_BYTES = 1 << 30
#: Default ``max_parameters`` of the algorithms' ``load``: the most network parameters (and
#: elements of any working array sized by a declared option) a checkpoint may declare (10 million,
#: 40 MB of float32).
MAX_PARAMETERS = 10_000_000
#: The largest integer option (sizes, steps, limits) a checkpoint may declare (10 million).
MAX_OPTION = 10_000_000

_MAX_HEADER = 4096
_MAX_DEPTH = 32
_HEADER_KEYS = {"format", "format_version", "kind", "version", "size", "sha256"}
_DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64", "bool")

PathLike = Union[str, "os.PathLike[str]"]
KeyPath = Union[str, Sequence[Any]]


def _header_bytes(header: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(header), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _digest(header: Mapping[str, Any], payload: bytes) -> str:
    h = hashlib.sha256(MAGIC)
    h.update(_header_bytes({k: v for k, v in header.items() if k != "sha256"}))
    h.update(b"\n")
    h.update(payload)
    return h.hexdigest()


def _check_kind(kind: Any, version: Any) -> None:
    if not isinstance(kind, str) or not kind or len(kind) > 200:
        raise ValueError(f"checkpoint kind must be a non-empty string, got {kind!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"checkpoint version must be an int >= 0, got {version!r}")


def write(path: PathLike, state: Mapping[str, Any], *, kind: str, version: int) -> Path:
    """Write ``state`` (a dict of tensors and plain Python values) as a checkpoint, atomically.

    ``kind`` names the algorithm (``"bandits.Sequoia"``) and ``version`` its state layout; both
    are stored in the header and checked by :func:`read`. The state is serialised with
    ``torch.save`` and must contain only what :func:`read` accepts back (dense CPU tensors, dicts
    with ``str``/``int`` keys, lists, tuples, ``str``, ``int``, ``float``, ``bool``, ``None``).
    Returns the path.
    """
    import torch


    _check_kind(kind, version)
    if not isinstance(state, Mapping):
        raise TypeError(f"checkpoint state must be a mapping, got {type(state).__name__}")
    state = dict(state)

    def fail(msg: str) -> NoReturn:
        raise TypeError(f"checkpoint state of {kind!r}: {msg}")

    _check_tree(state, fail)
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    header: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "version": version,
                              "size": len(payload)}
    header["sha256"] = _digest(header, payload)
    return atomic_write_bytes(path, MAGIC + _header_bytes(header) + b"\n" + payload)


def read(path: PathLike, *, kind: str, versions: Union[int, Collection[int]], where: str,
         max_bytes: Optional[int] = None, legacy: Sequence[str] = ()) -> "Checkpoint":
    """Read and verify a checkpoint written by :func:`write`; return a :class:`Checkpoint`.

    Parameters
    ----------
    path : str or PathLike
    kind : str
        The algorithm the file must belong to.
    versions : int or collection of int
        The state layouts the caller can read.
    where : str
        The public entry point, for messages (``"Sequoia.load()"``).
    max_bytes : int, optional
        Files larger than this are refused before they are read (default :data:`MAX_BYTES`, 1 GiB).
    legacy : sequence of str
        Names of the caller's earlier, unchecksummed formats, quoted in the message that refuses a
        plain torch or pickle file.

    Raises
    ------
    InvalidInputError
        Missing file, too large, not a checkpoint, damaged header, unknown format version,
        truncated, checksum mismatch (corruption), another kind or version, an archive or pickle
        that does not load with ``weights_only=True``, or content of an unexpected type.
    """
    import torch

    _check_kind(kind, 0)
    accepted = (versions,) if isinstance(versions, int) else tuple(versions)
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes < 1:
        raise InvalidInputError(f"{where}: max_bytes must be an integer >= 1, got {max_bytes!r}")
    shown = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    if not isinstance(shown, str):
        raise InvalidInputError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(shown)

    def cannot(msg: str) -> NoReturn:
        raise InvalidInputError(f"{where}: cannot read checkpoint {shown!r}: {msg}")

    try:
        if not p.is_file():
            raise InvalidInputError(f"{where}: no such file {shown!r}")
        size = p.stat().st_size
        if size > max_bytes:
            cannot(f"the file has {size:,} bytes, more than max_bytes={int(max_bytes):,} (pass a larger max_bytes= "
                   f"if you trust it)")
        with open(p, "rb") as fh:
            data = fh.read(int(max_bytes) + 1)
    except OSError as err:
        cannot(str(err))
    if len(data) > max_bytes:
        cannot(f"the file has more than max_bytes={int(max_bytes):,} bytes")
    if not data.startswith(MAGIC):
        old = f" (files in the earlier unchecksummed format{'s' if len(legacy) > 1 else ''} " \
              f"{', '.join(map(repr, legacy))} are no longer read)" if legacy else ""
        if data.startswith(b"PK\x03\x04") or data[:1] == b"\x80":
            cannot(f"a plain torch/pickle file, not an {FORMAT} file{old}; re-create it with this version's save()")
        cannot(f"not an {FORMAT} file (the first line is not {MAGIC[:-1].decode()}){old}")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        cannot("damaged or truncated header")
    line = data[len(MAGIC):end]
    try:
        header = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        cannot(f"damaged header ({err})")
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        cannot("damaged header (unexpected keys)")
    for key, typ in (("format", str), ("kind", str), ("sha256", str), ("format_version", int), ("version", int),
                     ("size", int)):
        if not isinstance(header[key], typ) or isinstance(header[key], bool):
            cannot(f"damaged header ({key} has type {type(header[key]).__name__})")
    if _header_bytes(header) != line:
        cannot("damaged header (not in canonical form)")
    if header["format"] != FORMAT:
        cannot(f"damaged header (format {header['format']!r})")
    if header["format_version"] != FORMAT_VERSION:
        cannot(f"{FORMAT} format version {header['format_version']} is not supported (this version reads "
               f"{FORMAT_VERSION})")
    payload = data[end + 1:]
    if len(payload) != header["size"]:
        what = "truncated" if len(payload) < header["size"] else "extended"
        cannot(f"the file is {what}: the header declares {header['size']:,} payload bytes, found {len(payload):,}")
    if _digest(header, payload) != header["sha256"]:
        cannot("the file is corrupted (SHA-256 checksum mismatch)")
    if header["kind"] != kind:
        cannot(f"it is a {header['kind']!r} checkpoint, not a {kind!r} one")
    if header["version"] not in accepted:
        cannot(f"{kind!r} state version {header['version']} is not supported (this version reads "
               f"{', '.join(map(str, accepted))})")
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:
        cannot(f"the payload is not a torch archive ({err})")
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        cannot("the payload holds compressed records (torch.save never writes them)")
    if sum(i.file_size for i in infos) > len(payload):
        cannot("the payload's records declare more bytes than it holds")
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling, zip or storage error; weights_only refuses code
        cannot(f"the payload does not load with torch.load(weights_only=True) ({type(err).__name__}: {err})")
    if not isinstance(state, dict):
        cannot(f"the state is a {type(state).__name__}, not a dict")
    _check_tree(state, cannot)
    return Checkpoint(path=shown, kind=kind, version=header["version"], state=state, where=where)


def _check_tree(state: Any, fail: Any) -> None:
    """Every value a plain container, scalar or dense contiguous CPU tensor (iterative, cycles visited once)."""
    import torch

    allowed = {getattr(torch, n) for n in _DTYPES}
    seen: set[int] = set()
    stack: list[tuple[Any, int, str]] = [(state, 0, "state")]
    while stack:
        x, depth, at = stack.pop()
        if x is None or type(x) in (bool, int, float, str):
            continue
        if depth > _MAX_DEPTH:
            fail(f"{at} is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(x, torch.Tensor):
            _check_tensor(x, at, allowed, fail)
            continue
        if isinstance(x, (dict, list, tuple)):
            if id(x) in seen:
                continue
            seen.add(id(x))
            if isinstance(x, dict):
                for k, v in x.items():
                    if type(k) not in (str, int):
                        fail(f"{at} has a key of type {type(k).__name__}")
                    stack.append((v, depth + 1, f"{at}[{k!r}]"[:200]))
            else:
                stack.extend((v, depth + 1, f"{at}[{i}]"[:200]) for i, v in enumerate(x))
            continue
        fail(f"{at} has unexpected type {type(x).__name__}")


def _check_tensor(t: Any, at: str, allowed: set, fail: Any) -> None:
    try:
        problem = _tensor_problem(t, allowed)
    except Exception as err:  # a malformed tensor object
        problem = f"is not a valid tensor ({type(err).__name__}: {err})"
    if problem:
        fail(f"{at} {problem}")


def _tensor_problem(t: Any, allowed: set) -> Optional[str]:
    import torch

    if t.layout != torch.strided or t.is_meta or t.device.type != "cpu" or t.is_quantized:
        return "is not a dense CPU tensor"
    if t.dtype not in allowed:
        return f"has unsupported dtype {t.dtype}"
    if not t.is_contiguous():
        return "is not contiguous"
    if t.numel() and (t.storage_offset() + t.numel()) * t.element_size() > t.untyped_storage().nbytes():
        return "is larger than its storage"
    return None


def check_limit(count: int, limit: int, what: str, *, context: str, keyword: str = "max_parameters") -> None:
    """Refuse a declared size ``count`` above ``limit`` (``keyword`` is the load option that raises it)."""
    if count > limit:
        raise InvalidInputError(f"{context}: declares {what} of {count:,}, more than {keyword}={limit:,} (pass a "
                                f"larger {keyword}= if you trust the file)")


def check_threads(value: Any, name: str, context: str) -> Optional[int]:
    """A saved ``threads`` option: None, or an int >= 1 capped at this machine's CPU count."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{context}: {name} must be None or an integer >= 1, got {_short(value)}")
    return min(value, os.cpu_count() or 1)


def _key_path(key: KeyPath) -> tuple:
    if isinstance(key, str):
        return tuple(key.split(".")) if key else ()
    return tuple(key)


def _fmt(path: tuple) -> str:
    return ".".join(map(str, path)) if path else "the state"


_MISSING = object()


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint's state and typed, validating access to it.

    Keys are given as a dotted path (``"buffer.n"``) or a tuple (``("q", "0.weight")``); every
    accessor raises :class:`~engine.errors.InvalidInputError` whose message starts with
    :attr:`context` (the entry point and the file) and names the key.

    Attributes
    ----------
    path : str
    kind : str
    version : int
        The state layout read.
    state : dict
    where : str
        The public entry point (``"Sequoia.load()"``).
    """

    path: str
    kind: str
    version: int
    state: dict
    where: str

    @property
    def context(self) -> str:
        """``"<where>: checkpoint '<path>'"``: the prefix of every message about this file."""
        return f"{self.where}: checkpoint {self.path!r}"

    def error(self, msg: str) -> InvalidInputError:
        """An :class:`InvalidInputError` about this file."""
        return InvalidInputError(f"{self.context}: {msg}")

    def fail(self, msg: str) -> NoReturn:
        raise self.error(msg)

    # ----------------------------------------------------------------- plain values
    def get(self, key: KeyPath, default: Any = _MISSING) -> Any:
        """The value at ``key`` (missing keys: ``default`` if given, else an error)."""
        path = _key_path(key)
        x: Any = self.state
        for i, k in enumerate(path):
            if isinstance(x, (list, tuple)) and type(k) is int:
                if not 0 <= k < len(x):
                    self.fail(f"{_fmt(path[:i])} has no item {k}")
                x = x[k]
                continue
            if not isinstance(x, dict):
                self.fail(f"{_fmt(path[:i])} must be a dict, got {type(x).__name__}")
            if k not in x:
                if default is not _MISSING:
                    return default
                self.fail(f"missing key {_fmt(path[:i + 1])}")
            x = x[k]
        return x

    def mapping(self, key: KeyPath, keys: Optional[Collection[Any]] = None) -> dict:
        """A dict at ``key``; with ``keys``, its key set must be exactly that."""
        path = _key_path(key)
        x = self.get(path)
        if not isinstance(x, dict):
            self.fail(f"{_fmt(path)} must be a dict, got {type(x).__name__}")
        if keys is not None and set(x) != set(keys):
            missing, extra = sorted(map(str, set(keys) - set(x))), sorted(map(str, set(x) - set(keys)))
            parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"[:200]] if extra else [])
            self.fail(f"{_fmt(path)} has the wrong keys ({'; '.join(parts)})")
        return x

    def sequence(self, key: KeyPath, length: Optional[int] = None) -> list:
        """A list or tuple at ``key`` (of ``length`` items when given)."""
        path = _key_path(key)
        x = self.get(path)
        if not isinstance(x, (list, tuple)):
            self.fail(f"{_fmt(path)} must be a list, got {type(x).__name__}")
        if length is not None and len(x) != length:
            self.fail(f"{_fmt(path)} must have {length} items, got {len(x)}")
        return list(x)

    def integer(self, key: KeyPath, *, lower: Optional[int] = None, upper: Optional[int] = None) -> int:
        """An int (not a bool) at ``key`` within ``[lower, upper]``."""
        path = _key_path(key)
        x = self.get(path)
        if isinstance(x, bool) or not isinstance(x, int):
            self.fail(f"{_fmt(path)} must be an integer, got {_short(x)}")
        if (lower is not None and x < lower) or (upper is not None and x > upper):
            rng = f"in [{lower if lower is not None else '-inf'}, {upper if upper is not None else 'inf'}]"
            self.fail(f"{_fmt(path)} must be {rng}, got {_short(x)}")
        return x

    def real(self, key: KeyPath, *, lower: Optional[float] = None, upper: Optional[float] = None) -> float:
        """A finite float or int (not a bool) at ``key`` within ``[lower, upper]``."""
        path = _key_path(key)
        x = self.get(path)
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            self.fail(f"{_fmt(path)} must be a real number, got {_short(x)}")
        try:
            v = float(x)
        except OverflowError:
            self.fail(f"{_fmt(path)} is out of range")
        if not math.isfinite(v):
            self.fail(f"{_fmt(path)} must be finite, got {v}")
        if (lower is not None and v < lower) or (upper is not None and v > upper):
            self.fail(f"{_fmt(path)} must be in [{lower}, {upper}], got {v}")
        return v

    def boolean(self, key: KeyPath) -> bool:
        path = _key_path(key)
        x = self.get(path)
        if not isinstance(x, bool):
            self.fail(f"{_fmt(path)} must be True or False, got {_short(x)}")
        return x

    def string(self, key: KeyPath, choices: Optional[Collection[str]] = None) -> str:
        path = _key_path(key)
        x = self.get(path)
        if not isinstance(x, str) or (choices is not None and x not in choices):
            want = f"one of {sorted(choices)}" if choices is not None else "a string"
            self.fail(f"{_fmt(path)} must be {want}, got {_short(x)}")
        return x

    # ----------------------------------------------------------------- tensors
    def tensor(self, key: KeyPath, *, dtype: Any = None, shape: Optional[Sequence[int]] = None,
               finite: bool = True, lower: Optional[float] = None, upper: Optional[float] = None) -> Any:
        """A tensor at ``key`` with the given dtype and shape, finite (floating dtypes) and within bounds."""
        return self._check_tensor_value(_key_path(key), self.get(key), dtype, shape, finite, lower, upper)

    def _check_tensor_value(self, path: tuple, t: Any, dtype: Any, shape: Optional[Sequence[int]], finite: bool,
                            lower: Optional[float], upper: Optional[float]) -> Any:
        import torch

        if not isinstance(t, torch.Tensor):
            self.fail(f"{_fmt(path)} must be a tensor, got {type(t).__name__}")
        if dtype is not None and t.dtype != dtype:
            self.fail(f"{_fmt(path)} must have dtype {dtype}, got {t.dtype}")
        if shape is not None and tuple(t.shape) != tuple(shape):
            self.fail(f"{_fmt(path)} must have shape {tuple(shape)}, got {tuple(t.shape)}")
        if t.numel():
            if finite and (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
                self.fail(f"{_fmt(path)} holds NaN or infinite values")
            if lower is not None and bool((t < lower).any()):
                self.fail(f"{_fmt(path)} holds values below {lower}")
            if upper is not None and bool((t > upper).any()):
                self.fail(f"{_fmt(path)} holds values above {upper}")
        return t

    def load_module(self, key: KeyPath, module: Any) -> None:
        """Check the state dict at ``key`` against ``module`` (same keys, shapes, dtypes; finite) and load it."""
        path = _key_path(key)
        ref = module.state_dict()
        sd = self.mapping(path, keys=list(ref))
        clean = {k: self._check_tensor_value(path + (k,), sd[k], v.dtype, tuple(v.shape), True, None, None)
                 for k, v in ref.items()}
        try:
            module.load_state_dict(clean, strict=True)
        except Exception as err:  # cannot happen after the checks above; never let it escape raw
            self.fail(f"{_fmt(path)} does not load ({type(err).__name__}: {err})")

    def load_optimizer(self, key: KeyPath, optimizer: Any) -> None:
        """Check an optimizer state dict (Adam-like: ``step``, ``exp_avg``, ``exp_avg_sq``,
        ``max_exp_avg_sq``) against ``optimizer`` and load it."""
        import torch

        path = _key_path(key)
        ref = optimizer.state_dict()
        self.mapping(path, keys=("state", "param_groups"))
        groups = self.sequence(path + ("param_groups",), len(ref["param_groups"]))
        params: dict[int, Any] = {}
        for gi, (rg, group) in enumerate(zip(ref["param_groups"], optimizer.param_groups)):
            gpath = path + ("param_groups", gi)
            g = self.mapping(gpath, keys=list(rg))
            for name, rv in rg.items():
                v = g[name]
                at = gpath + (name,)
                if name == "params":
                    if not isinstance(v, list) or v != rv:
                        self.fail(f"{_fmt(at)} must be {rv}, got {_short(v)}")
                elif rv is None or isinstance(rv, (bool, str)):
                    if type(v) is not type(rv) or (isinstance(rv, str) and v != rv):
                        self.fail(f"{_fmt(at)} must be like {rv!r}, got {_short(v)}")
                elif isinstance(rv, (int, float)):
                    self.real(at)
                elif isinstance(rv, (tuple, list)):
                    self.sequence(at, len(rv))
                    for i in range(len(rv)):
                        self.real(at + (i,))
                elif isinstance(rv, torch.Tensor):
                    self._check_tensor_value(at, v, rv.dtype, tuple(rv.shape), True, None, None)
                else:
                    self.fail(f"{_fmt(at)} has an unsupported type")
            params.update(zip(rg["params"], group["params"]))
        state = self.mapping(path + ("state",))
        kinds = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
        for pid, entry in state.items():
            if pid not in params:
                self.fail(f"{_fmt(path + ('state',))} refers to parameter {_short(pid)}, which does not exist")
            epath = path + ("state", pid)
            e = self.mapping(epath)
            if not set(e) <= kinds or not {"step", "exp_avg", "exp_avg_sq"} <= set(e):
                self.fail(f"{_fmt(epath)} has the wrong keys {sorted(map(str, e))[:8]}")
            p = params[pid]
            if isinstance(e["step"], torch.Tensor):
                self._check_tensor_value(epath + ("step",), e["step"], None, (), True, 0.0, None)
            else:
                self.real(epath + ("step",), lower=0.0)
            for name in set(e) - {"step"}:
                self._check_tensor_value(epath + (name,), e[name], p.dtype, tuple(p.shape), True,
                                         0.0 if name != "exp_avg" else None, None)
        try:
            optimizer.load_state_dict(self.get(path))
        except Exception as err:  # after the checks above this is not expected; never let it escape raw
            self.fail(f"{_fmt(path)} does not load ({type(err).__name__}: {err})")

    def load_rng(self, key: KeyPath, generator: Any) -> None:
        """Check a numpy ``bit_generator.state`` dict against ``generator``'s and set it."""
        path = _key_path(key)
        ref = generator.bit_generator.state

        def walk(r: Any, at: tuple) -> None:
            v = self.get(at)
            if isinstance(r, dict):
                self.mapping(at, keys=list(r))
                for k, rv in r.items():
                    walk(rv, at + (k,))
            elif isinstance(r, str):
                self.string(at, (r,))
            elif isinstance(r, int) and not isinstance(r, bool):
                self.integer(at, lower=0, upper=(1 << 256) - 1)
            else:
                if type(v) is not type(r):
                    self.fail(f"{_fmt(at)} has the wrong type")

        walk(ref, path)
        try:
            generator.bit_generator.state = self.get(path)
        except (ValueError, TypeError, OverflowError, KeyError) as err:
            self.fail(f"{_fmt(path)} is not a valid random generator state ({err})")
