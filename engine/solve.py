"""``engine-bench solve``: the user's own instance in, one result document out.

A file (or standard input, or an HTTP body: :mod:`engine.serve`) is recognised by its
**content**, never by its name, and handed to the kind that claims it. Kinds live in the domain
packages and are found through the ``engine_bench.kinds`` entry-point group, like suites::

    [project.entry-points."engine_bench.kinds"]
    game = "games.documents:game_kind"

Each :class:`Kind` says how to recognise its inputs (:attr:`Kind.sniff`, on a :class:`Source`),
which methods it runs (the first is the default), which extra ``--name value`` options it takes,
and how to solve (:attr:`Kind.solve`, returning a :class:`Solved`: an ``engine.SolveResult``
and optional table rows). The kernel imports no domain.

:func:`solve_source` is the one path the CLI and the HTTP service share: detect the kind,
check the common options (``method``, ``time_limit``, ``threads``, ``seed``) and the kind's
options, run the kind under the thread policy, and record the effective settings in the
result's ``params``. :func:`result_document` turns the result into a strict-JSON
``gameplan/result`` document (non-finite numbers become ``null``).

Every input is untrusted: reading stops at :data:`MAX_INPUT_BYTES` (a larger input is refused
before it is parsed), JSON goes through :func:`engine.io.loads_json` (size, nesting and parse
limits), and each kind's loader enforces its own limits (players and contingencies of a Gambit
file, arms of a coRMAB, cells of a map, ...). Every refusal is an
:class:`~engine.errors.InvalidInputError` whose message names the input and, for documents, the
JSON path.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
import os
import re
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import click

from engine.errors import EngineError, InvalidInputError, UnsupportedProblemError
from engine.io import atomic_write_text, loads_json
from engine.render import render
from engine.suites import SuiteOption
from engine.threads import blas_threads

__all__ = ["ENTRY_POINT_GROUP", "MAX_INPUT_BYTES", "KindOption", "Kind", "Source", "SolveRequest", "Solved",
           "discover_kinds", "load_kinds", "detect", "parse_kind_options", "solve_source", "result_document",
           "strict_json", "read_input", "accepted_inputs", "call_with", "solve_command", "with_instances",
           "instance_sources", "field_of"]

ENTRY_POINT_GROUP = "engine_bench.kinds"

#: Largest input (bytes) :func:`read_input` reads; a larger file is refused before it is parsed.
MAX_INPUT_BYTES = 256 * 2**20

_PNG = b"\x89PNG\r\n\x1a\n"
_NPY = b"\x93NUMPY"


# ============================================================================ the protocol
@dataclass(frozen=True)
class KindOption:
    """One ``--name value`` option of a kind (a query parameter over HTTP).

    ``parse(text)`` turns the text into the value (raise ``ValueError`` on bad text). ``path``
    marks an option that names a file on the machine that runs the solve (``--save``,
    ``--policy``): the HTTP service refuses those.
    """

    name: str
    parse: Callable[[str], Any]
    default: Any = None
    help: str = ""
    path: bool = False


@dataclass(frozen=True)
class SolveRequest:
    """The checked settings a kind's ``solve`` receives.

    ``method`` is one of the kind's methods (its default when the user named none); ``options``
    holds every kind option (defaults filled in); ``deadline`` is the ``time.perf_counter()``
    value at which the time limit runs out (None without a limit); ``http`` is True when the
    request came over HTTP (kinds must not touch the server's files then).
    """

    method: str
    time_limit: Optional[float] = None
    threads: Optional[int] = None
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    deadline: Optional[float] = None
    http: bool = False
    where: str = "engine-bench solve"

    def remaining(self) -> Optional[float]:
        """Seconds left before the deadline (at least a millisecond), or None without a limit."""
        if self.deadline is None:
            return None
        return max(1e-3, self.deadline - time.perf_counter())


@dataclass(frozen=True)
class Solved:
    """What a kind's ``solve`` returns: the result, and rows for the table (one dict per row)."""

    result: Any
    rows: Sequence[Mapping[str, Any]] = ()
    title: str = ""


@dataclass(frozen=True)
class Kind:
    """An input kind ``solve`` recognises, registered under ``engine_bench.kinds``.

    Attributes
    ----------
    name : str
        Short name (``"game"``); also the name of its JSON Schema under ``/v1/schemas/``.
    accepts : str
        What inputs it takes, in words (``"Gambit .nfg text or a gameplan/game JSON document"``).
    sniff : callable
        ``sniff(source) -> bool``: True when the input is of this kind (by content only).
    solve : callable
        ``solve(source, request) -> Solved``.
    methods : sequence of str
        Method names; the first is the default.
    options : sequence of KindOption
        Extra options (``--lam 2``).
    schema : str, optional
        The ``engine.schemas`` name of its JSON documents (``"gameplan/game"``).
    instance_cases : callable, optional
        ``instance_cases(sources, **suite_options) -> list[engine.suites.Case]``, one case per
        file and method, with the metrics the suite reports on generated instances (see
        :func:`with_instances`).
    """

    name: str
    accepts: str
    sniff: Callable[["Source"], bool]
    solve: Callable[["Source", SolveRequest], Solved]
    methods: Sequence[str]
    options: Sequence[KindOption] = ()
    schema: Optional[str] = None
    instance_cases: Optional[Callable[..., Sequence[Any]]] = None

    @property
    def default_method(self) -> str:
        return self.methods[0]


class Source:
    """One input, read whole: bytes plus what the kinds ask about them.

    ``document`` is the input parsed as one JSON object (None when it is not one; the reason
    is kept in ``document_error``); ``schema`` that document's ``"schema"`` string. Parsing
    happens once, on first use, through :func:`engine.io.loads_json` and its limits.
    """

    def __init__(self, data: bytes, *, name: str = "<input>", path: Optional[Path] = None) -> None:
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidInputError(f"Source(): data must be bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.name = str(name)
        self.path = path
        self.document_error: Optional[InvalidInputError] = None

    @property
    def head(self) -> bytes:
        """The first bytes with leading whitespace (and a UTF-8 byte-order mark) removed."""
        head = self.data[:4096]
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        return head.lstrip()[:64]

    @property
    def is_png(self) -> bool:
        return self.data.startswith(_PNG)

    @property
    def is_npy(self) -> bool:
        return self.data.startswith(_NPY)

    @cached_property
    def document(self) -> Optional[dict]:
        if not self.head.startswith(b"{"):
            return None

        try:
            doc = loads_json(self.data, where=self.name)
        except InvalidInputError as err:
            self.document_error = err
            return None
        except (RecursionError, ValueError, OverflowError) as err:  # pragma: no cover - loads_json wraps these
            self.document_error = InvalidInputError(f"{self.name}: not valid JSON: {str(err)[:200]}")
            return None
        return doc if isinstance(doc, dict) else None

    @property
    def schema(self) -> Optional[str]:
        doc = self.document
        name = doc.get("schema") if doc is not None else None
        return name if isinstance(name, str) else None

    def text(self) -> str:
        """The input as UTF-8 text (InvalidInputError otherwise)."""
        try:
            return self.data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise InvalidInputError(f"{self.name}: not UTF-8 text ({err.reason} at byte {err.start})") from None

    @contextmanager
    def as_file(self, suffix: str) -> Iterator[Path]:
        """A path holding the input, named with ``suffix``: the input's own file when it has
        that suffix, else a private temporary copy (removed afterwards)."""
        if self.path is not None and self.path.suffix.lower() == suffix.lower() and self.path.is_file():
            yield self.path
            return
        with tempfile.TemporaryDirectory(prefix="engine-solve-") as tmp:
            p = Path(tmp) / f"input{suffix}"
            p.write_bytes(self.data)
            yield p


# ============================================================================ discovery
def discover_kinds() -> dict[str, importlib.metadata.EntryPoint]:
    """Entry points of the ``engine_bench.kinds`` group, by name (nothing imported)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_kinds() -> list[Kind]:
    """Every installed kind, in entry-point name order.

    A kind that fails to import is an :class:`InvalidInputError` naming it (an installation
    problem must not look like "unknown input").
    """
    kinds = []
    for name, ep in sorted(discover_kinds().items()):
        try:
            kind = ep.load()
        except Exception as err:  # noqa: BLE001 - a broken plug-in: say which
            raise InvalidInputError(f"engine-bench solve: the input kind {name!r} ({ep.value}) failed to load: "
                                    f"{type(err).__name__}: {err}") from err
        if not isinstance(kind, Kind):
            raise InvalidInputError(f"engine-bench solve: entry point {name!r} ({ep.value}) is not an "
                                    f"engine.solve.Kind")
        kinds.append(kind)
    return kinds


def accepted_inputs(kinds: Sequence[Kind]) -> str:
    """One line: every accepted input, with its kind."""
    return "; ".join(f"{k.accepts} ({k.name})" for k in kinds) or "none (no input kinds are installed)"


def detect(source: Source, kinds: Optional[Sequence[Kind]] = None, *,
           where: str = "engine-bench solve") -> Kind:
    """The kind whose ``sniff`` claims ``source``; InvalidInputError naming what is accepted."""
    kinds = load_kinds() if kinds is None else list(kinds)
    claimed = [k for k in kinds if k.sniff(source)]
    if len(claimed) == 1:
        return claimed[0]
    if len(claimed) > 1:
        names = ", ".join(k.name for k in claimed)
        raise InvalidInputError(f"{where}: {source.name} is claimed by several input kinds ({names}); "
                                f"installed kinds disagree")
    accepted = accepted_inputs(kinds)
    if not source.data.strip():
        raise InvalidInputError(f"{where}: {source.name} is empty; accepted: {accepted}")
    if source.schema is not None:
        raise InvalidInputError(f"{where}: {source.name} is a {_short(source.schema)} document, which solve does "
                                f"not take; accepted: {accepted}")
    if source.head.startswith(b"{") and source.document is None and source.document_error is not None:
        reason = getattr(source.document_error, "reason", str(source.document_error))
        line = getattr(source.document_error, "line", None)
        at = f" (line {line})" if line else ""
        raise InvalidInputError(f"{where}: {source.name} is not valid JSON{at}: {_short(reason, 160)}; "
                                f"accepted: {accepted}")
    if source.document is not None:
        raise InvalidInputError(f"{where}: {source.name} is a JSON object that names no known 'schema'; "
                                f"accepted: {accepted}")
    raise InvalidInputError(f"{where}: cannot tell what {source.name} holds; accepted: {accepted}")


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ============================================================================ reading
def read_input(path: str, *, max_bytes: Optional[int] = None, stdin: Any = None,
               where: str = "engine-bench solve") -> Source:
    """Read ``path`` (``"-"``: standard input) into a :class:`Source`, at most ``max_bytes``
    (default :data:`MAX_INPUT_BYTES`); a larger input is refused unparsed."""
    limit = MAX_INPUT_BYTES if max_bytes is None else int(max_bytes)
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read(limit + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > limit:
            raise InvalidInputError(f"{where}: standard input is larger than {limit} bytes (the input limit)")
        return Source(data, name="<stdin>")
    p = Path(path)
    try:
        if not p.is_file():
            raise InvalidInputError(f"{where}: no such file {str(path)!r}" if not p.exists()
                                    else f"{where}: {str(path)!r} is not a regular file")
        size = p.stat().st_size
        if size > limit:
            raise InvalidInputError(f"{where}: {p.name} has {size} bytes, more than the input limit of {limit}")
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except InvalidInputError:
        raise
    except OSError as err:
        raise InvalidInputError(f"{where}: cannot read {str(path)!r}: {err.strerror or err}") from None
    if len(data) > limit:
        raise InvalidInputError(f"{where}: {p.name} is larger than the input limit of {limit} bytes")
    return Source(data, name=p.name, path=p)


# ============================================================================ options
def parse_kind_options(kind: Kind, args: Any, *, where: str = "engine-bench solve", http: bool = False
                       ) -> dict[str, Any]:
    """The kind's option values from ``["--lam", "2"]`` (CLI) or a ``{"lam": "2"}`` mapping
    (HTTP query), defaults filled in; an unknown option or bad value is InvalidInputError."""
    known = {opt.name.replace("_", "-"): opt for opt in kind.options}
    values = {opt.name: opt.default for opt in kind.options}
    pairs: list[tuple[str, str]] = []
    if isinstance(args, Mapping):
        pairs = [(str(k).replace("_", "-"), str(v)) for k, v in args.items()]
        prefix = ""
    else:
        prefix = "--"
        args = list(args)
        i = 0
        while i < len(args):
            token = args[i]
            if not token.startswith("--") or token == "--":
                raise InvalidInputError(f"{where}: unexpected argument {token!r}")
            key, eq, inline = token[2:].partition("=")
            if eq:
                pairs.append((key, inline))
                i += 1
            else:
                if i + 1 >= len(args):
                    raise InvalidInputError(f"{where}: option --{key} needs a value")
                pairs.append((key, args[i + 1]))
                i += 2
    for key, text in pairs:
        opt = known.get(key)
        if opt is None:
            names = ", ".join(prefix + k for k in sorted(known)) or "none"
            raise InvalidInputError(f"{where}: a {kind.name} takes no option {prefix}{key} (its options: {names})")
        if http and opt.path:
            raise InvalidInputError(f"{where}: option {key!r} names a file on the server; it is accepted on the "
                                    f"command line only")
        try:
            values[opt.name] = opt.parse(text)
        except InvalidInputError as err:
            raise InvalidInputError(f"{where}: bad value for {prefix}{key}: {_short(text)} ({err})") from err
        except (ValueError, TypeError, OverflowError) as err:
            raise InvalidInputError(f"{where}: bad value for {prefix}{key}: {_short(text)} ({err})") from err
    return values


def _check_common(kind: Kind, method: Optional[str], time_limit: Any, threads: Any, seed: Any, where: str
                  ) -> tuple[str, Optional[float], Optional[int], int]:
    if method is None or method == "":
        method = kind.default_method
    if method not in kind.methods:
        raise InvalidInputError(f"{where}: a {kind.name} has no method {_short(repr(method))}; methods: "
                                f"{', '.join(kind.methods)} (default {kind.default_method})")
    if time_limit is not None:
        try:
            time_limit = float(time_limit)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{where}: time limit must be a number of seconds, got {_short(str(time_limit))}"
                                    ) from None
        if not (time_limit > 0 and math.isfinite(time_limit)):
            raise InvalidInputError(f"{where}: time limit must be > 0 seconds, got {time_limit}")
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidInputError(f"{where}: threads must be an integer >= 1, got {_short(str(threads))}")
        threads = min(threads, os.cpu_count() or threads)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed >= 2**63:
        raise InvalidInputError(f"{where}: seed must be an integer in [0, 2**63), got {_short(str(seed))}")
    return method, time_limit, threads, seed


def call_with(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` without the keyword arguments that are None or that ``func``
    does not take (a solver without a time limit simply runs without one)."""
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        params = {}  # type: ignore[assignment]
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    use = {k: v for k, v in kwargs.items() if v is not None and (var_kw or k in params)}
    return func(*args, **use)


# ============================================================================ solving
def solve_source(source: Source, *, method: Optional[str] = None, time_limit: Optional[float] = None,
                 threads: Optional[int] = None, seed: int = 0, options: Any = (), kinds: Optional[Sequence[Kind]] = None,
                 http: bool = False, where: str = "engine-bench solve") -> tuple[Kind, Solved]:
    """Detect the kind of ``source``, check every option and solve; return the kind and its answer.

    ``options`` are the kind's options as CLI tokens or a mapping of texts. Errors of the
    input or the options are :class:`InvalidInputError` (a problem the chosen method cannot
    take, :class:`UnsupportedProblemError`, becomes one too). The result's ``params`` gain
    ``seed``, ``threads`` and ``time_limit`` where the solver recorded none, the ``input`` (kind,
    name, bytes) and the ``request`` as given (method, time limit, threads, seed, kind options).
    """
    kind = detect(source, kinds, where=where)
    method, time_limit, threads, seed = _check_common(kind, method, time_limit, threads, seed, where)
    values = parse_kind_options(kind, options, where=where, http=http)
    t0 = time.perf_counter()
    request = SolveRequest(method=method, time_limit=time_limit, threads=threads, seed=seed, options=values,
                           deadline=None if time_limit is None else t0 + time_limit, http=http, where=where)

    try:
        with blas_threads(threads):
            solved = kind.solve(source, request)
    except UnsupportedProblemError as err:
        raise InvalidInputError(f"{where}: {source.name}: {err}") from err
    except InvalidInputError as err:
        msg = str(err)
        if source.name in msg:
            raise
        new = InvalidInputError(f"{where}: {source.name}: {msg}")
        for attr in ("json_path", "line", "column", "reason"):
            if hasattr(err, attr):
                setattr(new, attr, getattr(err, attr))
        raise new from err
    res = solved.result
    params = dict(getattr(res, "params", {}) or {})
    params.setdefault("seed", seed)
    params.setdefault("threads", threads)
    params.setdefault("time_limit", time_limit)
    params["input"] = {"kind": kind.name, "name": source.name, "bytes": len(source.data)}
    params["request"] = {"method": method, "time_limit": time_limit, "threads": threads, "seed": seed,
                         "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()
                                     if v is not None}}
    if dataclasses.is_dataclass(res) and not isinstance(res, type):
        res = dataclasses.replace(res, params=params)
    return kind, dataclasses.replace(solved, result=res)


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (strict JSON, as other tools read it)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def result_document(result: Any) -> dict:
    """The ``gameplan/result`` document of ``result`` (``to_dict()``), in strict JSON."""
    return strict_json(result.to_dict())


_JSON_PATH = re.compile(r"\$(?:\[(?:'(?:[^'\\]|\\.)*'|\d+)\])*")


def field_of(err: BaseException) -> Optional[str]:
    """The JSON path an input error names (``"$['payoffs'][0]"``), or None."""
    path = getattr(err, "json_path", "")
    if path:
        return str(path)
    found = [m.group(0) for m in _JSON_PATH.finditer(str(err))]
    found = [f for f in found if f != "$"]
    return found[0] if found else None


# ============================================================================ run SUITE --instances
def with_instances(suite: Any, kind: Kind) -> Any:
    """``suite`` with one more option, ``--instances GLOB``: run the suite's methods on the files
    that match instead of generated instances (``engine-bench run games --instances 'DIR/*.nfg'``).

    Every file is read and recognised like ``solve`` does and must be of ``kind``;
    ``kind.instance_cases(sources, **suite_options)`` builds the cases (the suite's other options
    apply where they make sense for a given instance). Without ``--instances`` the suite is
    unchanged. A domain registers the wrapped suite as its entry point.
    """

    if kind.instance_cases is None:
        raise TypeError(f"with_instances(): kind {kind.name!r} has no instance_cases")
    builder = kind.instance_cases

    def build(*, instances: Optional[str] = None, **options: Any) -> Sequence[Any]:
        if instances is None:
            return suite.build(**options)
        return builder(instance_sources(suite.name, instances, kind), **options)

    def parse_glob(text: str) -> str:
        if not str(text).strip():
            raise ValueError("an empty pattern")
        return str(text)

    option = SuiteOption("instances", parse_glob, None,
                         f"run on these files instead of generated instances: a glob such as 'DIR/*.json' "
                         f"({kind.accepts})")
    return dataclasses.replace(suite, build=build, options=(*suite.options, option))


def instance_sources(suite_name: str, pattern: str, kind: Kind, *, kinds: Optional[Sequence[Kind]] = None
                     ) -> list[Source]:
    """The files matching ``pattern``, read and checked to be of ``kind`` (sorted by path)."""
    import glob

    where = f"engine-bench run {suite_name} --instances"
    paths = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True) if Path(p).is_file())
    if not paths:
        raise InvalidInputError(f"{where}: no file matches {pattern!r}")
    kinds = load_kinds() if kinds is None else list(kinds)
    sources = []
    for p in paths:
        src = read_input(p, where=where)
        src.name = str(p)
        found = detect(src, kinds, where=where)
        # a suite's kind may take more than one registered kind's files (games: .nfg and .efg)
        if found.name != kind.name and not kind.sniff(src):
            raise InvalidInputError(f"{where}: {p} is a {found.name}; suite {suite_name!r} takes {kind.accepts}")
        sources.append(src)
    return sources


# ============================================================================ the CLI command
def _table_rows(kind: Kind, solved: Solved) -> list[dict[str, Any]]:
    res = solved.result
    rows: list[dict[str, Any]] = [{"field": "kind", "value": kind.name},
                                  {"field": "status", "value": res.status.value}]
    for name in ("method", "message", "objective", "bound", "gap", "nit", "runtime"):
        val = getattr(res, name, None)
        if val is None or val == "" or (isinstance(val, float) and math.isnan(val)):
            continue
        rows.append({"field": name, "value": val})
    return rows


class _SolveCommand(click.Command):
    """``solve --help`` lists the installed kinds, their methods and options."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        try:
            kinds = load_kinds()
        except EngineError as err:
            formatter.write_paragraph()
            formatter.write_text(f"(input kinds unavailable: {err})")
            return
        for kind in kinds:
            formatter.write_paragraph()
            with formatter.section(f"{kind.name}: {kind.accepts}"):
                rows = [("--method", f"{', '.join(kind.methods)} (default {kind.default_method})")]
                rows += [("--" + o.name.replace("_", "-"), o.help + ("" if o.default is None else
                                                                      f" [default: {o.default}]"))
                         for o in kind.options]
                formatter.write_dl(rows)


@click.command("solve", cls=_SolveCommand,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("path", metavar="PATH")
@click.option("--method", default=None, help="Method of the input's kind (default: the kind's natural one).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: a summary; json: the gameplan/result document.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the gameplan/result document (JSON) to this file, atomically.")
@click.option("--time-limit", type=float, default=None, help="Seconds; the best answer so far comes back "
              "with status time_limit.")
@click.option("--threads", type=int, default=None, help="Threads for BLAS/torch/solvers (default: the engine's, 1).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-bytes", type=click.IntRange(min=1), default=None,
              help=f"Refuse larger inputs (default {MAX_INPUT_BYTES}).")
@click.option("-q", "--quiet", is_flag=True, help="No status line on stderr.")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks (same as engine-bench --debug).")
@click.pass_context
def solve_command(ctx: click.Context, path: str, method: Optional[str], fmt: str, out: Optional[Path],
                  time_limit: Optional[float], threads: Optional[int], seed: int, max_bytes: Optional[int],
                  quiet: bool, debug: bool) -> None:
    """Solve your own instance: PATH is a file, or - for standard input.

    The kind is recognised from the content: a Gambit .nfg game, a gameplan/game,
    gameplan/cormab, gameplan/submodular or gameplan/map JSON document, an occupancy map as
    PNG or .npy, or GTAlign JSON Lines. Options of the kind follow as --name value.

    Exit codes: 0 solved (optimal or feasible), 1 solved with another status (time_limit,
    infeasible, ...), 2 an input or usage error (one line on stderr).
    """
    where = "engine-bench solve"
    source = read_input(path, max_bytes=max_bytes, where=where)
    kind, solved = solve_source(source, method=method, time_limit=time_limit, threads=threads, seed=seed,
                                options=list(ctx.args), where=where)
    doc = result_document(solved.result)
    if out is not None:

        try:
            atomic_write_text(out, json.dumps(doc) + "\n")
        except OSError as err:
            raise InvalidInputError(f"{where}: cannot write {str(out)!r}: {err.strerror or err}") from None
    if fmt == "json":
        click.echo(json.dumps(doc))
    else:

        click.echo(render(_table_rows(kind, solved), "table", title=f"{source.name}: {kind.name}"), nl=False)
        if solved.rows:
            click.echo(render(list(solved.rows), "table", title=solved.title), nl=False)
    res = solved.result
    if not quiet:
        click.echo(f"{source.name}: {kind.name}, {res.method or method or kind.default_method}: {res.status.value}"
                   f"{' -- ' + _short(res.message, 200) if res.message else ''}", err=True)
    if not res.success:
        ctx.exit(1)


