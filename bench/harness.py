"""The one small harness every benchmark script uses.

* Timing: :func:`timed` (one call), :func:`per_call` (repeat short calls to at least
  ``min_time`` seconds), :func:`timed_pair` (ours and the peer, alternating rounds, best of each),
  :func:`best_fresh` (each call on a fresh input made outside the timing, short calls batched).
* Flags: :func:`int_list` / :func:`float_list` / :func:`str_list` -- the one list syntax of every
  script, the same as ``engine-bench``'s: comma-separated items, integer ranges ``a-b``, and
  (for old commands) several space-separated tokens: ``--seeds 0-4``, ``--sizes 10,50,100`` and
  ``--sizes 10 50 100`` mean the same. :func:`add_common` adds the shared ``--seeds``/``--quick``.
* Tables: :class:`Table` prints aligned columns with a ``ratio`` column (peer time over ours: > 1
  means we are faster) and writes the same rows as JSON with ``--json PATH``.
* Load: :func:`busy` runs spinning processes beside the benchmark; :func:`load_average` for the
  table header (the machine may be shared).

Scripts run as ``python bench/<script>.py`` from the repository root with the project installed
(``pip install -e '.[bench]'``): this directory is first on ``sys.path``, so ``import harness``
works and no script edits ``sys.path``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from typing import Any, Callable, Iterator, Optional, Sequence

from engine.suites import parse_float_list, parse_int_list, parse_str_list

__all__ = ["timed", "best_of", "best_fresh", "per_call", "timed_pair", "int_list", "float_list", "str_list", "add_common", "Table",
           "busy", "load_average", "ratio", "list_option"]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), seconds)`` of one call."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def per_call(fn: Callable[[], Any], min_time: float = 0.0, max_reps: int = 10_000) -> tuple[float, Any]:
    """Seconds per call of ``fn`` (calls repeated until they take ``min_time`` in all) and its output."""
    out, once = timed(fn)
    reps = 1 if once >= min_time else int(min(max_reps, max(1, min_time / max(once, 1e-7))))
    if reps == 1:
        return once, out
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps, out


def timed_pair(ours: Callable[[], Any], peer: Callable[[], Any], rounds: int = 3,
               min_time: float = 0.0) -> tuple[float, float, Any, Any]:
    """Best per-call time of each side over ``rounds`` alternating rounds:
    ``(t_ours, t_peer, out_ours, out_peer)``."""
    best = [math.inf, math.inf]
    outs: list[Any] = [None, None]
    for r in range(max(1, rounds)):
        for side in ((0, 1) if r % 2 == 0 else (1, 0)):
            t, outs[side] = per_call(ours if side == 0 else peer, min_time)
            best[side] = min(best[side], t)
    return best[0], best[1], outs[0], outs[1]


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The fastest of ``repeat`` calls (at least one): ``(seconds, output of the last call)``."""
    best, out = math.inf, None
    for _ in range(max(1, repeat)):
        out, t = timed(fn)
        best = min(best, t)
    return best, out


def best_fresh(fn: Callable[[Any], Any], make: Callable[[], Any], repeat: int, *, min_time: float = 0.002,
               max_batch: int = 200, once_above: float = 1.0) -> tuple[float, Any]:
    """Best per-call seconds of ``fn(x)`` over ``repeat`` rounds, every call on a fresh input
    ``x = make()`` (made before the round's clock starts: nothing a call caches on its input helps
    the next one). Short calls are timed in batches lasting about ``min_time`` (a single call of a
    few microseconds is timer noise); a first call longer than ``once_above`` seconds is the
    answer. Returns ``(seconds, output of the last call)``."""
    x = make()
    out, once = timed(lambda: fn(x))
    if once > once_above:
        return once, out
    k = max(1, min(max_batch, int(min_time / max(once, 1e-7))))
    best = once if k == 1 else math.inf
    for _ in range(max(1, repeat)):
        xs = [make() for _ in range(k)]
        t0 = time.perf_counter()
        for x in xs:
            out = fn(x)
        best = min(best, (time.perf_counter() - t0) / k)
    return best, out


def ratio(t_ours: float, t_peer: float) -> float:
    """Peer time over ours (> 1: we are faster); nan when either is missing."""
    if not (math.isfinite(t_ours) and math.isfinite(t_peer)) or t_ours <= 0:
        return math.nan
    return t_peer / t_ours


def _joined(tokens: Sequence[str] | str) -> str:
    return tokens if isinstance(tokens, str) else ",".join(tokens)


def str_list(tokens: Sequence[str] | str) -> list[str]:
    """``"a,b" "c"`` -> ``["a", "b", "c"]`` (:func:`engine.suites.parse_str_list`)."""
    return parse_str_list(_joined(tokens))


def int_list(tokens: Sequence[str] | str) -> list[int]:
    """``"0-4,7"`` -> ``[0, 1, 2, 3, 4, 7]``; ``"10 50"`` tokens are joined
    (:func:`engine.suites.parse_int_list`)."""
    return parse_int_list(_joined(tokens))


def float_list(tokens: Sequence[str] | str) -> list[float]:
    """``"0,0.05,0.1"`` -> ``[0.0, 0.05, 0.1]`` (:func:`engine.suites.parse_float_list`)."""
    return parse_float_list(_joined(tokens))


class _ListAction(argparse.Action):
    def __init__(self, *args: Any, parse: Callable[[Sequence[str]], list], **kwargs: Any) -> None:
        self._parse = parse
        super().__init__(*args, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        try:
            setattr(namespace, self.dest, self._parse(values))
        except (ValueError, argparse.ArgumentTypeError) as exc:
            parser.error(f"{option_string}: {exc}")


def list_option(parser: argparse.ArgumentParser, flag: str, *, parse: Callable[[Sequence[str]], list] = int_list,
                default: Any = None, help: str = "") -> None:
    """Add ``flag`` taking a list in the one list syntax (``--sizes 10,50`` or ``--sizes 10 50``)."""
    parser.add_argument(flag, nargs="+", action=_ListAction, parse=parse, default=default, help=help)


def add_common(parser: argparse.ArgumentParser, *, seeds: Sequence[int] = (0,), quick_help: str = "a smaller run",
               json_out: bool = True) -> None:
    """The flags every script shares: ``--seeds`` (list syntax), ``--quick`` and ``--json PATH``."""
    list_option(parser, "--seeds", default=list(seeds), help="random seeds, e.g. 0-4 or 0,3")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if json_out:
        parser.add_argument("--json", metavar="PATH", default=None, help="also write the rows as JSON")


def _cell(value: Any, fmt: str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return format(value, fmt) if fmt else f"{value:.4g}"
    return str(value)


class Table:
    """Rows printed as aligned text; ``columns`` maps a name to a format spec (``""``: general).

    >>> t = Table({"n": "d", "ours [s]": ".4f", "peer [s]": ".4f", "ratio": ".1f"})
    >>> t.add(n=10, **{"ours [s]": 0.001, "peer [s]": 0.01, "ratio": ratio(0.001, 0.01)})
    >>> print(t.render())
     n  ours [s]  peer [s]  ratio
    10    0.0010    0.0100   10.0
    """

    def __init__(self, columns: dict[str, str]):
        self.columns = dict(columns)
        self.rows: list[dict[str, Any]] = []

    def add(self, **row: Any) -> None:
        self.rows.append(row)

    def render(self) -> str:
        cells = [[_cell(r.get(c, math.nan), f) for c, f in self.columns.items()] for r in self.rows]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(self.columns, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)

    def write_json(self, path: Optional[str], **meta: Any) -> None:
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump({**meta, "rows": self.rows}, fh, indent=1, default=float)


@contextlib.contextmanager
def busy(n: int) -> Iterator[None]:
    """``n`` processes spinning in ``while True: pass`` for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(0, n))]
    try:
        if procs:
            time.sleep(1.0)  # let the spinners reach full speed before timing starts
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def load_average() -> str:
    """The 1-minute load average and the core count, for table headers."""
    try:
        return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    except OSError:  # pragma: no cover - not on every platform
        return f"{os.cpu_count()} cores"
