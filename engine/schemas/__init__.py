"""Versioned JSON Schemas for the files other tools exchange with the engine.

Each document names its schema and version (``{"schema": "gameplan/game", "version": 1, ...}``);
the schemas ship in this package as ``<name>.v<version>.json``. :func:`validate` checks a
document against its schema and raises :class:`~engine.errors.InvalidInputError` naming the
JSON path of the first problem. :func:`upgrade` brings a document written under an older
version to the current one through registered migrations, and refuses (with a message that
says which versions it knows) what it cannot migrate or what a newer engine wrote.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping, MutableMapping

from engine.errors import InvalidInputError

__all__ = ["SCHEMAS", "CURRENT", "schema", "validate", "upgrade", "register_migration", "load_document"]

#: schema name -> current version
CURRENT: dict[str, int] = {
    "gameplan/result": 1,
    "gameplan/run_record": 1,
    "gameplan/game": 1,
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


def validate(doc: Mapping[str, Any], *, expected: str | None = None, where: str = "validate()") -> None:
    """Raise :class:`InvalidInputError` unless ``doc`` is valid under its (current) schema."""
    import jsonschema

    name, version = _header(doc, where, expected)
    validator = jsonschema.Draft202012Validator(schema(name, version))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in err.absolute_path)
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise InvalidInputError(f"{where}: invalid {name} v{version} document at {path}: {err.message}{more}")


def load_document(source: Any, *, expected: str, where: str = "load_document()") -> dict:
    """Read a JSON document (path, text or mapping), upgrade it and validate it."""
    import os

    if isinstance(source, Mapping):
        doc = dict(source)
    else:
        text = str(source)
        if isinstance(source, os.PathLike) or not text.lstrip().startswith("{"):
            try:
                with open(source, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as err:
                raise InvalidInputError(f"{where}: cannot read {source}: {err.strerror}") from err
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"{where}: not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
    doc = upgrade(doc, expected=expected, where=where)
    validate(doc, expected=expected, where=where)
    return doc
