"""Benchmark suites for ``engine-bench``, found through entry points.

A domain package declares a suite in its ``pyproject.toml``::

    [project.entry-points."engine_bench.suites"]
    games = "games.suites:games_suite"

The object behind the entry point is a :class:`Suite`: a name, a description, the options it
takes (parsed from ``--name value`` on the command line) and a ``cases(**options)`` function
that returns the runs to do. Each :class:`Case` is one row of the output table; the CLI runs
every case ``--repeat`` times with derived seeds, shows progress, writes one JSON record per run
and renders the table. The kernel never imports a domain.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from engine.errors import InvalidInputError
from engine.events import emit

__all__ = ["SuiteOption", "RunContext", "Case", "Suite", "ENTRY_POINT_GROUP", "discover_suites", "load_suite",
           "parse_int_list", "parse_float_list", "parse_str_list", "int_at_least", "int_list_at_least",
           "float_list_at_least", "parse_positive_int", "parse_positive_list", "parse_choice", "parse_choice_list",
           "MAX_LIST_ITEMS"]

ENTRY_POINT_GROUP = "engine_bench.suites"

_UNSET: Any = object()


#: Most integers :func:`parse_int_list` expands a text to (``"0-999999999"`` would build a huge list).
MAX_LIST_ITEMS = 1_000_000


def parse_int_list(text: str, *, max_items: Optional[int] = None) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"1,5,10"`` -> [1, 5, 10]; mixed ``"0-2,7"`` allowed.

    At most ``max_items`` integers (default :data:`MAX_LIST_ITEMS`); the size of a range is
    checked before it is expanded.
    """
    limit = MAX_LIST_ITEMS if max_items is None else max_items
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
            a, b = int(lo), int(hi)
            if b < a:
                raise ValueError(f"empty range {part!r}")
            if len(out) + (b - a + 1) > limit:
                raise ValueError(f"{text!r} has more than {limit} integers")
            out.extend(range(a, b + 1))
        else:
            if len(out) + 1 > limit:
                raise ValueError(f"{text!r} has more than {limit} integers")
            out.append(int(part))
    if not out:
        raise ValueError(f"no integers in {text!r}")
    return out


def parse_float_list(text: str) -> list[float]:
    """``"0,0.05,0.1"`` -> [0.0, 0.05, 0.1]."""
    out = [float(p) for p in str(text).split(",") if p.strip()]
    if not out:
        raise ValueError(f"no numbers in {text!r}")
    return out


def parse_str_list(text: str) -> list[str]:
    """``"a,b"`` -> ["a", "b"]."""
    out = [p.strip() for p in str(text).split(",") if p.strip()]
    if not out:
        raise ValueError(f"no names in {text!r}")
    return out


def _at_least(values: list, lower: Any, what: str, finite: bool = False) -> list:
    """``values`` when all are ``>= lower`` (and finite with ``finite``), else a ValueError on the first other."""
    bad = [v for v in values if not ((math.isfinite(v) or not finite) and v >= lower)]
    if bad:
        must = f"{what} must" if what else "must"
        bound = f"{lower:g}" if isinstance(lower, float) else lower
        raise ValueError(f"{must} be {'finite and ' if finite else ''}>= {bound}, got {bad[0]}")
    return values


def int_at_least(lower: int, *, what: str = "") -> Callable[[str], int]:
    """A suite-option parser of one integer ``>= lower``.

    A smaller value is a ValueError ``"[what ]must be >= lower, got v"`` (the CLI adds the
    option's name).

    Examples
    --------
    >>> int_at_least(0)("3")
    3
    >>> int_at_least(1, what="players")("0")
    Traceback (most recent call last):
    ...
    ValueError: players must be >= 1, got 0
    """
    return lambda text: _at_least([int(str(text).strip())], lower, what)[0]


def int_list_at_least(lower: int, *, what: str = "") -> Callable[[str], list[int]]:
    """A suite-option parser of a :func:`parse_int_list` text whose integers are all ``>= lower``.

    The first smaller value is a ValueError ``"[what ]must be >= lower, got v"``.

    Examples
    --------
    >>> int_list_at_least(0)("0-2,7")
    [0, 1, 2, 7]
    >>> int_list_at_least(1, what="sizes")("5,0,-1")
    Traceback (most recent call last):
    ...
    ValueError: sizes must be >= 1, got 0
    """
    return lambda text: _at_least(parse_int_list(text), lower, what)


def float_list_at_least(lower: float, *, what: str = "") -> Callable[[str], list[float]]:
    """A suite-option parser of a :func:`parse_float_list` text of finite numbers ``>= lower``.

    The first other value is a ValueError ``"[what ]must be finite and >= lower, got v"``.

    Examples
    --------
    >>> float_list_at_least(0.0, what="epsilon")("0,0.05")
    [0.0, 0.05]
    >>> float_list_at_least(0.0, what="lambda")("1,nan")
    Traceback (most recent call last):
    ...
    ValueError: lambda must be finite and >= 0, got nan
    """
    return lambda text: _at_least(parse_float_list(text), lower, what, finite=True)


#: One integer >= 1 (``"must be >= 1, got 0"``).
parse_positive_int = int_at_least(1)
#: A :func:`parse_int_list` text of integers >= 1 (``"must be >= 1, got 0"``).
parse_positive_list = int_list_at_least(1)


def _known(what: str, values: list, choices: Sequence[str]) -> list:
    """``values`` when all are in ``choices``, else a ValueError on the first other."""
    bad = [v for v in values if v not in choices]
    if bad:
        raise ValueError(f"unknown {what} {bad[0]!r}; choose from {', '.join(choices)}")
    return values


def parse_choice(what: str, choices: Sequence[str]) -> Callable[[str], str]:
    """A suite-option parser of one of ``choices``; another value is a ValueError
    ``"unknown <what> 'x'; choose from a, b"``.

    Examples
    --------
    >>> parse_choice("rule", ("sum", "product"))("sum")
    'sum'
    """
    return lambda text: _known(what, [text], choices)[0]


def parse_choice_list(what: str, choices: Sequence[str]) -> Callable[[str], list[str]]:
    """A suite-option parser of a comma list of ``choices`` (duplicates dropped, order kept);
    an unknown value is a ValueError ``"unknown <what> 'x'; choose from a, b"`` (the CLI turns
    it into a usage error).

    Examples
    --------
    >>> parse_choice_list("method", ("greedy", "lazy"))("lazy,greedy,lazy")
    ['lazy', 'greedy']
    >>> parse_choice_list("method", ("greedy", "lazy"))("lp")
    Traceback (most recent call last):
    ...
    ValueError: unknown method 'lp'; choose from greedy, lazy
    """
    return lambda text: list(dict.fromkeys(_known(what, parse_str_list(text), choices)))


@dataclass(frozen=True)
class SuiteOption:
    """One ``--name value`` option of a suite; ``parse`` turns the text into the value."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str = ""


@dataclass(frozen=True)
class RunContext:
    """What the CLI hands to every run: the derived seed, the common limits and the callback.

    Every suite passes all of them on to the algorithms it runs:

    * ``seed``: the run's integer seed (``--seed`` + repeat); a suite draws its instance and its
      algorithms' randomness from it, so different seeds give different runs;
    * ``time_limit``: seconds of wall clock for the whole run, counted from when the context was
      made (:meth:`remaining`, :meth:`expired`); a run that reaches it returns what it has with
      status ``"time_limit"``;
    * ``threads``: threads each BLAS/OpenMP/torch pool may use; :func:`engine.runner.run_case`
      runs the case under this limit and suites pass ``threads=`` to the algorithms that take it;
    * ``callback``: receives the algorithms' events (:mod:`engine.events`; the CLI's progress bar
      is one). Raising ``StopIteration`` in it stops the run, which then has status ``"stopped"``.

    :meth:`options_for` collects the keyword arguments a given function accepts.
    """

    seed: int
    repeat: int
    time_limit: Optional[float] = None
    threads: Optional[int] = None
    callback: Any = None
    started: float = field(default_factory=time.perf_counter, compare=False, repr=False)

    def elapsed(self) -> float:
        """Seconds since this context was made."""
        return time.perf_counter() - self.started

    def restarted(self) -> "RunContext":
        """A copy whose clock starts now: a suite calls it after work done once per process (JIT
        warm-up), which the run's time limit does not count."""
        return dataclasses.replace(self, started=time.perf_counter())

    def remaining(self) -> Optional[float]:
        """Seconds left of ``time_limit`` (None without a limit; a tiny positive number once expired,
        so it can still be passed as a ``time_limit=`` that must be > 0)."""
        if self.time_limit is None:
            return None
        return max(self.time_limit - self.elapsed(), 1e-6)

    def expired(self) -> bool:
        """True once ``time_limit`` seconds have passed."""
        return self.time_limit is not None and self.elapsed() >= self.time_limit

    def emit(self, event: Any) -> bool:
        """Deliver ``event`` to the callback; True when it asked to stop (raised StopIteration)."""

        return emit(self.callback, event)

    def options_for(self, func: Callable[..., Any], *, seed: Any = _UNSET) -> dict[str, Any]:
        """The keyword arguments among ``time_limit`` (what is left), ``threads``, ``callback`` and
        ``seed`` that ``func`` takes by name (a ``**kwargs`` catch-all does not count), leaving out
        those that are None. ``seed`` defaults to this run's seed; pass another (or None) to override.

        Examples
        --------
        >>> def solve(x, *, time_limit=None, seed=0): ...
        >>> sorted(RunContext(seed=3, repeat=0, time_limit=5.0, threads=2).options_for(solve))
        ['seed', 'time_limit']
        """
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            return {}
        names = {n for n, p in params.items()
                 if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
        values = {"time_limit": self.remaining(), "threads": self.threads, "callback": self.callback,
                  "seed": self.seed if seed is _UNSET else seed}
        return {k: v for k, v in values.items() if k in names and v is not None}


@dataclass(frozen=True)
class Case:
    """One row of a suite's table: ``run(ctx)`` returns a flat mapping of metrics.

    Metrics named ``status`` (a string) and ``runtime`` (seconds) are recognised by the CLI.
    """

    name: str
    params: Mapping[str, Any]
    run: Callable[[RunContext], Mapping[str, Any]]


@dataclass(frozen=True)
class Suite:
    """A named collection of cases built from options."""

    name: str
    description: str
    build: Callable[..., Sequence[Case]]
    options: Sequence[SuiteOption] = field(default_factory=tuple)
    #: Optional: turn the per-run records into the rows of the printed table (e.g. mean ± SEM).
    summarize: Optional[Callable[[Sequence[Mapping[str, Any]]], Sequence[Mapping[str, Any]]]] = None

    def parse_options(self, args: Sequence[str]) -> dict[str, Any]:
        """Parse ``["--size", "5", "--epsilon", "0,0.1"]`` into option values (defaults filled in)."""
        known = {opt.name.replace("_", "-"): opt for opt in self.options}
        values = {opt.name: opt.default for opt in self.options}
        i = 0
        args = list(args)
        while i < len(args):
            token = args[i]
            if not token.startswith("--"):
                raise InvalidInputError(f"suite {self.name!r}: unexpected argument {token!r}")
            key, _, inline = token[2:].partition("=")
            if key not in known:
                names = ", ".join("--" + k for k in sorted(known)) or "none"
                raise InvalidInputError(f"suite {self.name!r}: unknown option --{key} (options: {names})")
            if inline:
                text = inline
                i += 1
            else:
                if i + 1 >= len(args):
                    raise InvalidInputError(f"suite {self.name!r}: option --{key} needs a value")
                text = args[i + 1]
                i += 2
            opt = known[key]
            try:
                values[opt.name] = opt.parse(text)
            except (ValueError, TypeError) as err:
                raise InvalidInputError(f"suite {self.name!r}: bad value for --{key}: {text!r} ({err})") from err
        return values

    def cases(self, **options: Any) -> list[Case]:
        return list(self.build(**options))


def discover_suites() -> dict[str, importlib.metadata.EntryPoint]:
    """Entry points of the ``engine_bench.suites`` group, by name (nothing is imported yet)."""
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in eps}


def load_suite(name: str, *, allow_import: bool = True) -> Suite:
    """Import and return the suite registered under ``name``.

    ``name`` is an entry-point name (``"games"``) or an import path ``"package.module:attribute"``,
    which lets a user's own script or test define a suite without packaging it. An import path
    imports (runs) that module: pass ``allow_import=False`` when ``name`` comes from a file or
    anyone other than the user (:func:`engine.sweep.parse_sweep` does).
    """
    if not isinstance(name, str):
        raise InvalidInputError(f"engine-bench: a suite name must be a string, got {type(name).__name__}")
    if ":" in name and not allow_import:
        raise InvalidInputError(f"engine-bench: suite {name!r} is an import path; importing it is not allowed here "
                                f"(installed suites: {', '.join(sorted(discover_suites())) or 'none'})")
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            module = importlib.import_module(module_name)
            suite = getattr(module, attr)
        except (ImportError, AttributeError) as err:
            raise InvalidInputError(f"engine-bench: cannot import suite {name!r}: {err}") from err
    else:
        eps = discover_suites()
        if name not in eps:
            raise InvalidInputError(f"engine-bench: unknown suite {name!r}; available: "
                                    f"{', '.join(sorted(eps)) or 'none'}")
        suite = eps[name].load()
    if not isinstance(suite, Suite):
        raise InvalidInputError(f"engine-bench: {name!r} is not an engine.suites.Suite")
    return suite
