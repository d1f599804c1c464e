"""Versioned JSON Schemas for the files other tools exchange with the engine.

Each document names its schema and version (``{"schema": "gameplan/game", "version": 1, ...}``);
the schemas ship in this package as ``<name>.v<version>.json``. :func:`validate` checks a
document against its schema and raises :class:`~engine.errors.InvalidInputError` naming the
JSON path of the first problem. :func:`upgrade` brings a document written under an older
version to the current one through registered migrations, and refuses (with a message that
says which versions it knows) what it cannot migrate or what a newer engine wrote.
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping, MutableMapping

from engine.errors import InvalidInputError
from engine.validation import short_repr as _short
from engine.io import json_path, loads_json, read_json

__all__ = ["SCHEMAS", "CURRENT", "schema", "validate", "upgrade", "register_migration", "load_document"]

#: schema name -> current version
CURRENT: dict[str, int] = {
    "gameplan/result": 1,
    "gameplan/run_record": 1,
    "gameplan/game": 1,
    "gameplan/tree": 1,
    "gameplan/cormab": 1,
    "gameplan/submodular": 1,
    "gameplan/map": 1,
}
SCHEMAS = tuple(sorted(CURRENT))

_MIGRATIONS: dict[tuple[str, int], Callable[[dict], dict]] = {}


@lru_cache(maxsize=None)
def schema(name: str, version: int | None = None) -> dict:
    """The JSON Schema ``name`` (e.g. ``"gameplan/game"``) at ``version`` (default: current)."""
    if name not in CURRENT:
        raise InvalidInputError(f"schema(): unknown schema {name!r}; known: {', '.join(SCHEMAS)}")
    version = CURRENT[name] if version is None else version
    stem = name.split("/", 1)[1]
    try:
        text = resources.files(__name__).joinpath(f"{stem}.v{version}.json").read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise InvalidInputError(f"schema(): {name} has no version {version}") from err
    return json.loads(text)


def register_migration(name: str, from_version: int) -> Callable[[Callable[[dict], dict]], Callable[[dict], dict]]:
    """Decorator: ``fn(doc) -> doc`` turns a ``from_version`` document into ``from_version + 1``."""

    def deco(fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
        _MIGRATIONS[(name, from_version)] = fn
        return fn

    return deco


def _header(doc: Any, where: str, expected: str | None) -> tuple[str, int]:
    if not isinstance(doc, Mapping):
        raise InvalidInputError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    name = doc.get("schema", expected)
    if name is None:
        raise InvalidInputError(f"{where}: the document names no 'schema'")
    if expected is not None and name != expected:
        raise InvalidInputError(f"{where}: expected a {expected} document, got {name!r}")
    if name not in CURRENT:
        raise InvalidInputError(f"{where}: unknown schema {name!r}; known: {', '.join(SCHEMAS)}")
    version = doc.get("version", CURRENT[name])
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidInputError(f"{where}: 'version' must be a positive integer, got {version!r}")
    return name, version


def upgrade(doc: Mapping[str, Any], *, expected: str | None = None, where: str = "upgrade()") -> dict:
    """Return ``doc`` at the current version of its schema (migrating step by step), or refuse."""
    name, version = _header(doc, where, expected)
    current = CURRENT[name]
    if version > current:
        raise InvalidInputError(f"{where}: {name} version {version} was written by a newer engine; this engine "
                                f"reads versions up to {current}")
    out: MutableMapping[str, Any] = dict(doc)
    while version < current:
        step = _MIGRATIONS.get((name, version))
        if step is None:
            raise InvalidInputError(f"{where}: {name} version {version} can no longer be read (no migration to "
                                    f"version {version + 1}); re-export it with an engine that writes version {current}")
        out = dict(step(dict(out)))
        version += 1
        out["version"] = version
    out.setdefault("schema", name)
    out.setdefault("version", current)
    return dict(out)


_MAX_ERRORS = 1000  # problems collected per document before the first (by path) is reported


def validate(doc: Mapping[str, Any], *, expected: str | None = None, where: str = "validate()") -> None:
    """Raise :class:`InvalidInputError` unless ``doc`` is valid under its (current) schema.

    Arrays of numbers (any nesting: payoff tables, grids, matrices) are checked with numpy
    against their item schema (type, bounds, enum, lengths) instead of element by element, so a
    700 x 700 game validates in a fraction of a second; the messages and JSON paths are
    jsonschema's.
    """
    name, version = _header(doc, where, expected)
    validator = _validator_class(name, version)(schema(name, version))
    try:
        errors = list(itertools.islice(validator.iter_errors(doc), _MAX_ERRORS))
    except RecursionError as exc:
        raise InvalidInputError(f"{where}: invalid {name} v{version} document: nested too deeply to validate") from exc
    if errors:
        errors.sort(key=lambda e: [(isinstance(p, str), p) for p in e.absolute_path])
        first = errors[0]

        path = json_path(first.absolute_path)
        n = len(errors) - 1
        more = (f" (and {'at least ' if len(errors) == _MAX_ERRORS else ''}{n} more problem{'s' if n > 1 else ''})"
                if n else "")
        raise InvalidInputError(f"{where}: invalid {name} v{version} document at {path}: {first.message}{more}")


def load_document(source: Any, *, expected: str, where: str = "load_document()", max_bytes: int | None = None,
                  max_depth: int | None = None) -> dict:
    """Read a JSON document (path, text, bytes or mapping), upgrade it and validate it.

    Text and files go through :func:`engine.io.loads_json` / :func:`engine.io.read_json`: size
    (``max_bytes``) and nesting (``max_depth``) limits, and every parse problem is an
    :class:`InvalidInputError` naming the file, line, column and JSON path.
    """
    import os


    if isinstance(source, Mapping):
        doc: Any = dict(source)
    elif isinstance(source, (bytes, bytearray)):
        doc = loads_json(source, where=where, max_bytes=max_bytes, max_depth=max_depth)
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        doc = loads_json(source, where=where, max_bytes=max_bytes, max_depth=max_depth)
    elif isinstance(source, (str, os.PathLike)):
        doc = read_json(source, where=where, max_bytes=max_bytes, max_depth=max_depth)
    else:
        raise InvalidInputError(f"{where}: expected a mapping, JSON text or a file path, got {type(source).__name__}")
    doc = upgrade(doc, expected=expected, where=where)
    validate(doc, expected=expected, where=where)
    return doc


# ---------------------------------------------------------------------------- numeric arrays with numpy
# A schema such as {"type": "array", "items": {"type": "number", "minimum": 0}} (or nested arrays
# of those, or the recursive {"oneOf": [number, array of itself]} of game payoffs) is recognised
# and its instances are checked with numpy in one pass. Anything the recogniser does not know
# (other keywords, objects, strings) goes through jsonschema as before.
_NOTES = {"description", "title", "$comment"}


class _Leaf:
    __slots__ = ("types", "nullable", "minimum", "maximum", "exmin", "exmax", "enum", "type_text")

    def __init__(self, types: frozenset, nullable: bool, bounds: Mapping[str, Any], enum: Any, type_text: str):
        self.types, self.nullable, self.enum, self.type_text = types, nullable, enum, type_text
        self.minimum = bounds.get("minimum")
        self.maximum = bounds.get("maximum")
        self.exmin = bounds.get("exclusiveMinimum")
        self.exmax = bounds.get("exclusiveMaximum")


class _Array:
    __slots__ = ("item", "min_items", "max_items")

    def __init__(self, item: Any, min_items: int | None, max_items: int | None):
        self.item, self.min_items, self.max_items = item, min_items, max_items


class _Union:  # a leaf or an array (oneOf/anyOf of the two: they never overlap)
    __slots__ = ("leaf", "array")

    def __init__(self, leaf: _Leaf, array: Any):
        self.leaf, self.array = leaf, array


class _Ref:
    __slots__ = ("target",)

    def __init__(self) -> None:
        self.target: Any = None


def _is_num(v: Any) -> bool:
    import numbers

    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _resolve_pointer(root: Mapping[str, Any], ref: str) -> Any:
    node: Any = root
    for part in ref[2:].split("/") if ref != "#" else ():
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _analyze(sub: Any, root: Mapping[str, Any], memo: dict) -> Any:
    if not isinstance(sub, Mapping):
        return None
    keys = set(sub) - _NOTES
    if keys == {"$ref"}:
        ref = sub["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
        if ref in memo:
            return memo[ref]
        node = _Ref()
        memo[ref] = node
        node.target = _analyze(_resolve_pointer(root, ref), root, memo)
        if node.target is None:
            memo[ref] = None
            return None
        return node
    if keys in ({"oneOf"}, {"anyOf"}):
        options = sub["oneOf" if "oneOf" in keys else "anyOf"]
        if not isinstance(options, list) or len(options) != 2:
            return None
        specs = [_analyze(o, root, memo) for o in options]
        leaves = [sp for sp in specs if isinstance(sp, _Leaf) and sp.enum is None]
        arrays = [sp for sp in specs if isinstance(sp, (_Array, _Ref)) and not isinstance(_deref(sp), _Leaf)]
        if len(leaves) == 1 and len(arrays) == 1:
            return _Union(leaves[0], arrays[0])
        return None
    if "enum" in keys:
        enum = sub["enum"]
        if keys != {"enum"} or not isinstance(enum, list) or not enum or not all(_is_num(v) for v in enum):
            return None
        return _Leaf(frozenset({"number"}), False, {}, tuple(enum), "")
    typ = sub.get("type")
    if typ == "array":
        if not keys <= {"type", "items", "minItems", "maxItems"} or "items" not in keys:
            return None
        lo, hi = sub.get("minItems"), sub.get("maxItems")
        if (lo is not None and not isinstance(lo, int)) or (hi is not None and not isinstance(hi, int)):
            return None
        item = _analyze(sub["items"], root, memo)
        return None if item is None else _Array(item, lo, hi)
    types = [typ] if isinstance(typ, str) else typ
    if not isinstance(types, list) or not types or not set(types) <= {"number", "integer", "null"} \
            or set(types) == {"null"}:
        return None
    if not keys <= {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return None
    bounds = {k: sub[k] for k in keys - {"type"}}
    if not all(_is_num(v) for v in bounds.values()):
        return None
    text = ", ".join(repr(t) for t in types)
    return _Leaf(frozenset(t for t in types if t != "null"), "null" in types, bounds, None, text)


def _deref(spec: Any) -> Any:
    while isinstance(spec, _Ref):
        spec = spec.target
    return spec


def _leaf_problem(leaf: _Leaf, v: Any) -> str | None:
    """jsonschema's message for one value against a leaf schema, or None when it is valid."""
    if v is None and leaf.nullable:
        return None
    if leaf.enum is not None:
        return None if _is_num(v) and v in leaf.enum else f"{v!r} is not one of {list(leaf.enum)!r}"
    if not _is_num(v):
        return f"{v!r} is not of type {leaf.type_text}"
    if "number" not in leaf.types and isinstance(v, float) and not v.is_integer():
        return f"{v!r} is not of type {leaf.type_text}"
    if leaf.minimum is not None and v < leaf.minimum:
        return f"{v!r} is less than the minimum of {leaf.minimum!r}"
    if leaf.maximum is not None and v > leaf.maximum:
        return f"{v!r} is greater than the maximum of {leaf.maximum!r}"
    if leaf.exmin is not None and v <= leaf.exmin:
        return f"{v!r} is less than or equal to the minimum of {leaf.exmin!r}"
    if leaf.exmax is not None and v >= leaf.exmax:
        return f"{v!r} is greater than or equal to the maximum of {leaf.exmax!r}"
    return None


_NUMERIC_TYPES = {int, float}


def _first_bad_leaf(leaf: _Leaf, values: list) -> int | None:
    """Index of the first value of the flat list ``values`` that ``leaf`` refuses (numpy), or None."""
    import numpy as np

    types = set(map(type, values))
    allowed = _NUMERIC_TYPES | ({type(None)} if leaf.nullable else set())
    if not types <= allowed:  # strings, bools, lists -- or numpy scalars of a document built in Python
        return next((i for i, v in enumerate(values) if _leaf_problem(leaf, v) is not None), None)
    try:
        arr = np.array(values, dtype=np.float64)  # None -> nan, checked apart below
    except (OverflowError, ValueError, TypeError):  # integers beyond float range: exact, one by one
        return next((i for i, v in enumerate(values) if _leaf_problem(leaf, v) is not None), None)
    bad = np.zeros(arr.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        if leaf.enum is not None:
            bad |= ~np.isin(arr, np.asarray(leaf.enum, dtype=np.float64))
        else:
            if "number" not in leaf.types and float in types:
                bad |= ~(np.isfinite(arr) & (arr == np.floor(arr)))
            if leaf.minimum is not None:
                bad |= arr < leaf.minimum
            if leaf.maximum is not None:
                bad |= arr > leaf.maximum
            if leaf.exmin is not None:
                bad |= arr <= leaf.exmin
            if leaf.exmax is not None:
                bad |= arr >= leaf.exmax
    if leaf.nullable and type(None) in types:
        bad &= np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    if not bad.any():
        return None
    # nan never fails a bound in jsonschema; re-check the candidates exactly
    for i in np.flatnonzero(bad):
        if _leaf_problem(leaf, values[int(i)]) is not None:
            return int(i)
    return None


def _check(spec: Any, inst: Any, path: tuple) -> tuple | None:
    """First problem of ``inst`` under ``spec``: (relative path, message, value), or None."""
    spec = _deref(spec)
    if isinstance(spec, _Leaf):
        msg = _leaf_problem(spec, inst)
        return None if msg is None else (path, msg, inst)
    if isinstance(spec, _Union):
        if type(inst) is list:
            return _check(spec.array, inst, path)
        if _leaf_problem(spec.leaf, inst) is None:
            return None
        return (path, f"{_short(inst)} is not valid under any of the given schemas", inst)
    if type(inst) is not list:
        return (path, f"{_short(inst)} is not of type 'array'", inst)
    if spec.min_items is not None and len(inst) < spec.min_items:
        return (path, f"{_short(inst)} should be non-empty" if spec.min_items == 1 else f"{_short(inst)} is too short",
                inst)
    if spec.max_items is not None and len(inst) > spec.max_items:
        return (path, f"{_short(inst)} is too long", inst)
    return _check_items(spec.item, inst, path)


def _check_items(item: Any, lst: list, path: tuple) -> tuple | None:
    item = _deref(item)
    if isinstance(item, _Leaf):
        i = _first_bad_leaf(item, lst)
        return None if i is None else (path + (i,), _leaf_problem(item, lst[i]), lst[i])
    if isinstance(item, _Union) and list not in set(map(type, lst)):
        i = _first_bad_leaf(item.leaf, lst)
        if i is None:
            return None
        return (path + (i,), f"{_short(lst[i])} is not valid under any of the given schemas", lst[i])
    for i, sub in enumerate(lst):
        found = _check(item, sub, path + (i,))
        if found is not None:
            return found
    return None


@lru_cache(maxsize=None)
def _validator_class(name: str, version: int) -> Any:
    import jsonschema
    from jsonschema import _keywords
    from jsonschema.exceptions import ValidationError

    root = schema(name, version)
    memo: dict = {}
    cache: dict[int, tuple] = {}

    def items(validator: Any, items_schema: Any, instance: Any, sub: Any) -> Any:
        if type(instance) is list and "prefixItems" not in sub:
            hit = cache.get(id(items_schema))
            if hit is None or hit[0] is not items_schema:
                hit = (items_schema, _analyze(items_schema, root, memo))
                cache[id(items_schema)] = hit
            spec = hit[1]
            if spec is not None:
                found = _check_items(spec, instance, ())
                if found is not None:
                    path, message, value = found
                    yield ValidationError(message, path=path, instance=value)
                return
        yield from _keywords.items(validator, items_schema, instance, sub)

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"items": items})
