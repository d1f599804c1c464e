"""Resumable sweeps: a grid of suite x options x seeds, run by a local process pool or Ray.

A sweep is described in a TOML file::

    [sweep]
    name = "games-small"        # optional, recorded in every record
    executor = "local"          # "local" (process pool, the default) or "ray"
    workers = 2                 # local pool size / Ray CPUs for a local cluster (default: cores)
    ray_address = "auto"        # optional: connect to an existing Ray cluster
    gpus_per_run = 0            # GPUs requested per run (Ray); recorded in every record
    time_limit = 30.0           # optional, seconds per run
    threads = 1                 # optional, solver threads per run

    [[experiment]]              # one or more
    suite = "games"             # an installed suite (entry point); "package.module:attribute"
                                # only with --allow-import (allow_import=True)
    seeds = "0-4"               # "0-4", "1,5,9" or a list of integers
    [experiment.options]        # fixed suite options
    lams = "1,5"
    [experiment.grid]           # each list is swept; the grid is their Cartesian product
    sizes = ["5", "10"]
    methods = ["qre", "nash"]

Every run (suite, options, case, seed, limits) becomes one record keyed by a hash of that
configuration and the engine version. Records are written atomically one file per run by the
parent process as runs finish, so a sweep killed at any moment loses at most the runs in flight,
and running the same sweep again skips every run that has a complete record (a damaged record is
run again; temp files of killed writers are removed). The worker pool does not outlive the sweep
process: workers exit when it dies, even by ``kill -9``.

A sweep file is data, checked like any document from someone else: a file larger than
:data:`MAX_SWEEP_BYTES`, invalid UTF-8, nesting deeper than :data:`MAX_SWEEP_DEPTH`, ``workers`` or
``threads`` above :data:`MAX_WORKERS` / :data:`MAX_THREADS`, a non-finite ``time_limit`` or a grid
of more than :data:`MAX_RUNS` runs is an :class:`~engine.errors.InvalidInputError` naming the file
and line. Only a ``suite = "package.module:attribute"`` makes it code (it imports that module); it
is refused unless the caller allows imports (``--allow-import``).
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from engine import __version__
from engine.errors import BackendError, InvalidInputError
from engine.events import Progress
from engine.io import atomic_write_json, read_json, remove_stale_temps
from engine.runner import run_case
from engine.suites import RunContext, Suite, discover_suites, load_suite, parse_int_list
from engine.validation import short_repr

__all__ = ["RunSpec", "SweepSpec", "parse_sweep", "ResultStore", "run_sweep", "execute_run", "SweepSummary"]

#: Largest sweep file (bytes).
MAX_SWEEP_BYTES = 2**20
#: Deepest nesting of arrays / inline tables in a sweep file.
MAX_SWEEP_DEPTH = 32
#: Most runs a sweep file may expand to (``parse_sweep(max_runs=)``, ``engine-bench sweep --max-runs``).
MAX_RUNS = 100_000
#: Largest ``workers`` (local processes or Ray CPUs) and ``threads`` a sweep may ask for.
MAX_WORKERS = 1024
MAX_THREADS = 1024
#: Largest ``gpus_per_run``.
MAX_GPUS_PER_RUN = 1024
#: Seeds lie in [0, MAX_SEED].
MAX_SEED = 2**63 - 1

_SWEEP_KEYS = {"name", "executor", "workers", "ray_address", "gpus_per_run", "time_limit", "threads"}
_EXPERIMENT_KEYS = {"suite", "seeds", "options", "grid"}


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: everything that determines its result."""

    suite: str
    options: tuple  # sorted ((name, text), ...) as given in the spec
    case: str
    seed: int
    time_limit: Optional[float] = None
    threads: Optional[int] = None
    sweep: str = ""
    gpus: float = 0.0

    def config(self) -> dict[str, Any]:
        return {"suite": self.suite, "options": dict(self.options), "case": self.case, "seed": self.seed,
                "time_limit": self.time_limit, "threads": self.threads}

    @property
    def config_key(self) -> str:
        """Hash of the configuration alone (stable across engine versions; used by ``compare``)."""
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode()).hexdigest()[:20]

    @property
    def key(self) -> str:
        """Hash of the configuration and the engine version: the record's identity."""
        blob = json.dumps({"config": self.config(), "engine_version": __version__}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def to_dict(self) -> dict[str, Any]:
        return {**self.config(), "sweep": self.sweep, "gpus": self.gpus}


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep file."""

    name: str
    runs: tuple
    executor: str = "local"
    workers: Optional[int] = None
    ray_address: Optional[str] = None
    gpus_per_run: float = 0.0
    path: str = ""


class _Locator:
    """Maps (table, key) of a TOML file to its line number, for line-precise errors."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.lines: dict[tuple, int] = {}
        table: tuple = ("",)
        exp = -1
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if line.startswith("[[") and line.rstrip().endswith("]]"):
                name = line[2:-2].strip()
                if name == "experiment":
                    exp += 1
                table = (name, exp)
                self.lines.setdefault(table, lineno)
                continue
            if line.startswith("["):
                name = line[1:line.index("]")].strip() if "]" in line else line[1:]
                table = (name, exp if name.startswith("experiment") else -1)
                self.lines.setdefault(table, lineno)
                continue
            m = re.match(r'^\s*"?([A-Za-z0-9_.-]+)"?\s*=', raw)
            if m:
                self.lines.setdefault(table + (m.group(1),), lineno)

    def error(self, message: str, table: str = "", index: int = -1, key: Optional[str] = None) -> InvalidInputError:
        where = (table, index) + ((key,) if key else ())
        line = self.lines.get(where) or self.lines.get((table, index))
        loc = f"{self.path}:{line}" if line else self.path
        return InvalidInputError(f"engine-bench sweep: {loc}: {message}")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    return str(value)


def _short(value: Any, limit: int = 60) -> str:
    return short_repr(value, limit)


def _seeds(value: Any, max_count: int) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        seeds = [value]
    elif isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        seeds = list(value)
    elif isinstance(value, str):
        seeds = parse_int_list(value, max_items=max_count)
    else:
        raise ValueError(f"seeds must be an int, a list of ints or a range like '0-4', got {_short(value)}")
    if len(seeds) > max_count:
        raise ValueError(f"{len(seeds)} seeds are more than the limit of {max_count} runs (max_runs)")
    bad = next((v for v in seeds if not 0 <= v <= MAX_SEED), None)
    if bad is not None:
        raise ValueError(f"seeds must lie in [0, 2**63 - 1], got {_short(bad)}")
    return seeds


def _toml_depth_line(text: str, max_depth: int) -> Optional[int]:
    """Line of the first array/inline table nested deeper than ``max_depth`` (strings and comments skipped)."""
    if text.count("[") + text.count("{") <= max_depth:
        return None
    depth = 0
    line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c in "\"'":
            triple = text.startswith(c * 3, i)
            close = c * 3 if triple else c
            j = i + len(close)
            while j < n:
                if c == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(close, j) or (not triple and text[j] == "\n"):
                    break
                j += 1
            line += text.count("\n", i, j)
            i = j if (not triple and j < n and text[j] == "\n") else j + len(close)
            continue
        elif c in "[{":
            depth += 1
            if depth > max_depth:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _read_sweep_text(path: str, text: Optional[str], max_bytes: int) -> str:
    if text is not None:
        if not isinstance(text, str):
            raise InvalidInputError(f"engine-bench sweep: {path}: the text must be a str, got {type(text).__name__}")
        if len(text) > max_bytes:
            raise InvalidInputError(f"engine-bench sweep: {path}: the file has more than {max_bytes} bytes, the "
                                    f"limit for a sweep file")
        return text
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"engine-bench sweep: cannot read {path}: "
                                f"{getattr(err, 'strerror', None) or err}") from err
    if len(raw) > max_bytes:
        raise InvalidInputError(f"engine-bench sweep: {path}: the file has more than {max_bytes} bytes, the limit "
                                f"for a sweep file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InvalidInputError(f"engine-bench sweep: {path}:{line}: not valid UTF-8 (byte 0x{raw[err.start]:02x} "
                                f"at offset {err.start})") from err


def parse_sweep(source: "str | os.PathLike[str]", *, text: Optional[str] = None, allow_import: bool = False,
                max_runs: Optional[int] = None) -> SweepSpec:
    """Read and validate a sweep file, expanding its grid into runs (suites are imported).

    Errors are :class:`InvalidInputError` naming the file and line: TOML syntax, invalid UTF-8,
    unknown keys, unknown suites and options, bad option values, bad seeds, values out of range
    (``workers`` at most :data:`MAX_WORKERS`, finite ``time_limit``), nesting deeper than
    :data:`MAX_SWEEP_DEPTH`, a file larger than :data:`MAX_SWEEP_BYTES`, and a grid of more than
    ``max_runs`` runs (default :data:`MAX_RUNS`; the size is computed before the grid is expanded).

    A sweep file is data: its ``suite`` names an installed suite (an entry point of the
    ``engine_bench.suites`` group). ``"package.module:attribute"`` imports and runs that module,
    which makes the file as trusted as code; it is refused unless ``allow_import=True``
    (``engine-bench sweep --allow-import``).
    """
    path = str(source)
    max_runs = MAX_RUNS if max_runs is None else max_runs
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 0:
        raise InvalidInputError(f"parse_sweep(): max_runs must be an integer >= 0, got {_short(max_runs)}")
    text = _read_sweep_text(path, text, MAX_SWEEP_BYTES)
    deep = _toml_depth_line(text, MAX_SWEEP_DEPTH)
    if deep is not None:
        raise InvalidInputError(f"engine-bench sweep: {path}:{deep}: arrays or tables nested deeper than "
                                f"{MAX_SWEEP_DEPTH} levels")
    loc = _Locator(text, path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInputError(f"engine-bench sweep: {path}: TOML syntax error: {err}") from err
    except RecursionError as err:
        raise InvalidInputError(f"engine-bench sweep: {path}: nested too deeply") from err
    except ValueError as err:  # an integer past Python's digit limit
        m = re.search(r"[0-9_]{1000,}", text)
        line = text.count("\n", 0, m.start()) + 1 if m else None
        raise InvalidInputError(f"engine-bench sweep: {path}{f':{line}' if line else ''}: {_short(str(err), 120)}") \
            from err
    unknown = set(doc) - {"sweep", "experiment"}
    if unknown:
        key = sorted(unknown)[0]
        raise loc.error(f"unknown top-level key or table {_short(key)} (expected [sweep] and [[experiment]])", "", -1,
                        key)
    head = doc.get("sweep", {})
    if not isinstance(head, dict):
        raise loc.error("'sweep' must be a table", "sweep")
    for key in head:
        if key not in _SWEEP_KEYS:
            raise loc.error(f"unknown key {_short(key)} in [sweep]; allowed: {sorted(_SWEEP_KEYS)}", "sweep", -1, key)
    executor = head.get("executor", "local")
    if executor not in ("local", "ray"):
        raise loc.error(f"executor must be 'local' or 'ray', got {_short(executor)}", "sweep", -1, "executor")
    workers = head.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or not 1 <= workers <= MAX_WORKERS):
        raise loc.error(f"workers must be an integer in [1, {MAX_WORKERS}], got {_short(workers)}", "sweep", -1,
                        "workers")
    time_limit = head.get("time_limit")
    if time_limit is not None and (not isinstance(time_limit, (int, float)) or isinstance(time_limit, bool)
                                   or not math.isfinite(time_limit) or time_limit <= 0):
        raise loc.error(f"time_limit must be a positive finite number of seconds (leave it out for no limit), got "
                        f"{_short(time_limit)}", "sweep", -1, "time_limit")
    if time_limit is not None:
        time_limit = float(time_limit)
    threads = head.get("threads")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool)
                                or not 1 <= threads <= MAX_THREADS):
        raise loc.error(f"threads must be an integer in [1, {MAX_THREADS}], got {_short(threads)}", "sweep", -1,
                        "threads")
    gpus = head.get("gpus_per_run", 0)
    if not isinstance(gpus, (int, float)) or isinstance(gpus, bool) or not 0 <= gpus <= MAX_GPUS_PER_RUN:
        raise loc.error(f"gpus_per_run must be a number in [0, {MAX_GPUS_PER_RUN}], got {_short(gpus)}", "sweep", -1,
                        "gpus_per_run")
    ray_address = head.get("ray_address")
    if ray_address is not None and not isinstance(ray_address, str):
        raise loc.error(f"ray_address must be a string, got {_short(ray_address)}", "sweep", -1, "ray_address")
    name = head.get("name", Path(path).stem)
    if not isinstance(name, str):
        raise loc.error(f"name must be a string, got {_short(name)}", "sweep", -1, "name")
    experiments = doc.get("experiment", [])
    if not isinstance(experiments, list) or not experiments:
        raise loc.error("a sweep needs at least one [[experiment]] table")
    runs: list[RunSpec] = []
    for i, exp in enumerate(experiments):
        if not isinstance(exp, dict):
            raise loc.error(f"each experiment must be a table, got {_short(exp)}", "experiment", i)
        for key in exp:
            if key not in _EXPERIMENT_KEYS:
                raise loc.error(f"unknown key {_short(key)} in [[experiment]]; allowed: {sorted(_EXPERIMENT_KEYS)}",
                                "experiment", i, key)
        if "suite" not in exp:
            raise loc.error("[[experiment]] needs a 'suite'", "experiment", i)
        suite_name = exp["suite"]
        if not isinstance(suite_name, str) or not suite_name:
            raise loc.error(f"suite must be a suite name, got {_short(suite_name)}", "experiment", i, "suite")
        if ":" in suite_name and not allow_import:
            raise loc.error(f"suite {_short(suite_name)} is an import path: running it imports and executes that "
                            f"module, so a sweep file may name it only with --allow-import (allow_import=True); "
                            f"without it, name an installed suite ({', '.join(sorted(discover_suites())) or 'none'})",
                            "experiment", i, "suite")
        try:
            suite = load_suite(suite_name, allow_import=allow_import)
        except InvalidInputError as err:
            raise loc.error(str(err).replace("engine-bench: ", ""), "experiment", i, "suite") from err
        left = max_runs - len(runs)
        try:
            seeds = _seeds(exp.get("seeds", [0]), max(left, 1))
        except ValueError as err:
            raise loc.error(str(err), "experiment", i, "seeds") from err
        fixed = exp.get("options", {})
        grid = exp.get("grid", {})
        if not isinstance(fixed, dict) or not isinstance(grid, dict):
            raise loc.error("'options' and 'grid' must be tables", "experiment", i)
        for key, val in grid.items():
            if not isinstance(val, list) or not val:
                raise loc.error(f"grid entry {_short(key)} must be a non-empty list", "experiment.grid", i, key)
        grid_keys = sorted(grid)
        combos = math.prod(len(grid[k]) for k in grid_keys)
        if combos * len(seeds) > left:
            raise loc.error(f"the grid has {combos} option combinations x {len(seeds)} seeds = {combos * len(seeds)} "
                            f"runs (at least one per case), more than the {left} left of the limit of {max_runs} runs "
                            f"(max_runs / --max-runs)", *(("experiment.grid", i) if grid else ("experiment", i, "seeds")))
        for combo in itertools.product(*(grid[k] for k in grid_keys)):
            raw = {k: _as_text(v) for k, v in fixed.items()}
            raw.update({k: _as_text(v) for k, v in zip(grid_keys, combo)})
            args = [tok for k, v in sorted(raw.items()) for tok in (f"--{k.replace('_', '-')}", v)]
            try:
                options = suite.parse_options(args)
                cases = suite.cases(**options)
            except InvalidInputError as err:
                bad = next((k for k in raw if f"--{k.replace('_', '-')}" in str(err)), None)
                table = "experiment.grid" if bad in grid else "experiment.options"
                raise loc.error(str(err), table, i, bad) from err
            if len(runs) + len(cases) * len(seeds) > max_runs:
                raise loc.error(f"the grid expands to more than the limit of {max_runs} runs (max_runs / --max-runs)",
                                *(("experiment.grid", i) if grid else ("experiment", i, "seeds")))
            for case in cases:
                for seed in seeds:
                    runs.append(RunSpec(suite=suite_name, options=tuple(sorted(raw.items())), case=case.name,
                                        seed=int(seed), time_limit=time_limit, threads=threads, sweep=name,
                                        gpus=float(gpus)))
    keys = [r.key for r in runs]
    if len(set(keys)) != len(keys):
        raise InvalidInputError(f"engine-bench sweep: {path}: the grid repeats runs (same suite, case, options, seed)")
    return SweepSpec(name=name, runs=tuple(runs), executor=executor, workers=workers,
                     ray_address=ray_address, gpus_per_run=float(gpus), path=path)


# ---------------------------------------------------------------------------- executing one run
_CASE_CACHE: dict[tuple, dict] = {}  # per worker process: (suite, options) -> built cases


def execute_run(run: Mapping[str, Any]) -> dict:
    """Run one sweep run (a ``RunSpec.to_dict()`` plus ``key``/``config_key``) and return its record.

    Used in worker processes and Ray tasks: the suite is imported and its cases are built once
    per process and options.
    """
    options = dict(run["options"])
    cache_key = (run["suite"], tuple(sorted(options.items())))
    cached = _CASE_CACHE.get(cache_key)
    if cached is None:
        suite = load_suite(run["suite"])
        args = [tok for k, v in sorted(options.items()) for tok in (f"--{k.replace('_', '-')}", v)]
        cached = {"suite": suite.name, "cases": {c.name: c for c in suite.cases(**suite.parse_options(args))}}
        _CASE_CACHE[cache_key] = cached
    case = cached["cases"][run["case"]]
    ctx = RunContext(seed=int(run["seed"]), repeat=0, time_limit=run.get("time_limit"), threads=run.get("threads"))
    extra = {"key": run["key"], "config_key": run["config_key"], "sweep": run.get("sweep", ""),
             "options": options, "time_limit": run.get("time_limit"), "threads": run.get("threads"),
             "gpus": run.get("gpus", 0.0)}
    return run_case(cached["suite"], case, ctx, extra=extra)


def _watch_parent(alive: Any) -> None:
    """Worker thread: block on the parent's pipe; its EOF means the sweep process is gone."""
    try:
        while True:
            alive.recv_bytes()
    except BaseException:
        pass
    os._exit(75)  # EX_TEMPFAIL: the run in flight is lost, its record never written


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the process that forked it (the forkserver) dies."""
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(alive: Any = None, parent_pid: Optional[int] = None) -> None:
    # one run per core: keep BLAS/OpenMP pools from oversubscribing the machine
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if alive is not None:
        # the pool must not outlive the sweep: a `kill -9` of the sweep closes the pipe's only
        # write end (held by the sweep process alone), and every worker exits
        import threading

        _die_with_parent()
        threading.Thread(target=_watch_parent, args=(alive,), name="sweep-parent-watch", daemon=True).start()
        if parent_pid is not None and not _pid_alive(parent_pid):
            os._exit(75)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# ---------------------------------------------------------------------------- the store
_RECORD_FIELDS = {"suite": str, "case": str, "status": str, "metrics": dict, "key": str}


def _damage(record: Any, key: str) -> Optional[str]:
    """Why ``record`` (read from ``records/<key>.json``) is not a usable record, or None."""
    if not isinstance(record, dict):
        return f"not a JSON object ({type(record).__name__})"
    for name, typ in _RECORD_FIELDS.items():
        if not isinstance(record.get(name), typ):
            return f"{name!r} missing or not a {typ.__name__}"
    if record["key"] != key:
        return f"its key {record['key']!r} is not its file name"
    return None


class ResultStore:
    """A directory of results: ``records/<key>.json`` (one per finished run) and ``index.json``.

    Records are the source of truth and are written atomically; the index is a convenience for
    other tools, written after each sweep. Opening a store re-reads every record: a damaged one
    (truncated, not a record, or another run's) counts as not done, so a resumed sweep runs it
    again (``damaged`` maps its key to the reason), and temp files of writers that were killed are
    removed.
    """

    def __init__(self, root: "str | os.PathLike[str]") -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, dict] = {}
        self.damaged: dict[str, str] = {}
        remove_stale_temps(self.root)
        remove_stale_temps(self.records_dir)
        self._load_index()

    def _entry(self, record: Mapping[str, Any]) -> dict:
        return {"suite": record.get("suite"), "case": record.get("case"), "seed": record.get("seed"),
                "status": record.get("status"), "config_key": record.get("config_key")}

    def _load_index(self) -> None:
        index: dict[str, dict] = {}
        damaged: dict[str, str] = {}
        for p in sorted(self.records_dir.glob("*.json")):
            try:
                record = read_json(p, where="ResultStore")
            except InvalidInputError as err:
                damaged[p.stem] = str(err)
                continue
            why = _damage(record, p.stem)
            if why is not None:
                damaged[p.stem] = why
                continue
            index[p.stem] = self._entry(record)
        self._index = index
        self.damaged = damaged

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def status(self, key: str) -> Optional[str]:
        entry = self._index.get(key)
        return None if entry is None else entry.get("status")

    def put(self, record: Mapping[str, Any]) -> None:
        # rename-atomic without fsync: a killed sweep never leaves a partial record, and a run
        # costs no disk flush (power-loss durability is not worth ~5 ms per run here)
        atomic_write_json(self.records_dir / f"{record['key']}.json", record, fsync=False, clean_stale=False)
        self._index[record["key"]] = self._entry(record)
        self.damaged.pop(record["key"], None)

    def write_index(self) -> None:
        atomic_write_json(self.root / "index.json", {"engine_version": __version__, "runs": self._index})

    def records(self) -> list[dict]:
        out = []
        for p in sorted(self.records_dir.glob("*.json")):
            try:
                record = read_json(p, where="ResultStore.records()")
            except InvalidInputError:
                continue
            if _damage(record, p.stem) is None:
                out.append(record)
        return out


# ---------------------------------------------------------------------------- the sweep
@dataclass(frozen=True)
class SweepSummary:
    """What a sweep call did."""

    total: int
    skipped: int
    ran: int
    failed: int
    runtime: float
    executor: str
    pending: int = 0
    keys: tuple = field(default_factory=tuple)


def _pending(spec: SweepSpec, store: ResultStore, retry_failed: bool) -> list[RunSpec]:
    out = []
    for run in spec.runs:
        status = store.status(run.key)
        if status is None or (retry_failed and status == "error"):
            out.append(run)
    return out


def _payload(run: RunSpec) -> dict:
    return {**run.to_dict(), "key": run.key, "config_key": run.config_key}


def run_sweep(spec: SweepSpec, out: "str | os.PathLike[str]", *, executor: Optional[str] = None,
              workers: Optional[int] = None, ray_address: Optional[str] = None, retry_failed: bool = False,
              limit: Optional[int] = None, gpus_per_run: Optional[float] = None,
              callback: Optional[Callable] = None) -> SweepSummary:
    """Run the runs of ``spec`` that have no record in ``out`` yet (failed ones too with ``retry_failed``).

    ``limit`` caps how many runs this call starts. ``gpus_per_run`` (default: the spec's) is the
    number of GPUs Ray reserves for each run; the local executor shares the machine's GPUs (code
    that trains picks CUDA when present). Progress events go to ``callback``.
    """
    executor = executor or spec.executor
    if executor not in ("local", "ray"):
        raise InvalidInputError(f"run_sweep(): executor must be 'local' or 'ray', got {executor!r}")
    store = ResultStore(out)
    todo = _pending(spec, store, retry_failed)
    skipped = len(spec.runs) - len(todo)
    if limit is not None:
        if limit < 0:
            raise InvalidInputError(f"run_sweep(): limit must be >= 0, got {limit}")
        todo = todo[:limit]
    n_workers = workers or spec.workers or os.cpu_count() or 1
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or not 1 <= n_workers <= MAX_WORKERS:
        raise InvalidInputError(f"run_sweep(): workers must be an integer in [1, {MAX_WORKERS}], got {n_workers!r}")
    t0 = time.perf_counter()
    failed = 0
    done = 0

    def finished(record: dict) -> None:
        nonlocal failed, done
        store.put(record)
        failed += record.get("status") == "error"
        done += 1
        if callback is not None:
            callback(Progress("sweep", completed=done, total=len(todo), description=spec.name))

    if callback is not None:
        callback(Progress("sweep", completed=0, total=len(todo), description=spec.name))
    try:
        if not todo:
            pass
        elif executor == "ray":
            _run_ray(todo, finished, n_workers=n_workers, address=ray_address or spec.ray_address,
                     gpus=spec.gpus_per_run if gpus_per_run is None else gpus_per_run)
        elif n_workers == 1:
            _init_worker()
            for run in todo:
                finished(execute_run(_payload(run)))
        else:
            ctx = multiprocessing.get_context("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                              else "spawn")
            # the workers hold the read end of this pipe only; when the sweep process dies (even
            # by SIGKILL) the write end closes and they exit (see _init_worker)
            alive_r, alive_w = ctx.Pipe(duplex=False)
            try:
                with futures.ProcessPoolExecutor(max_workers=min(n_workers, len(todo)), mp_context=ctx,
                                                 initializer=_init_worker, initargs=(alive_r, os.getpid())) as pool:
                    pending = {pool.submit(execute_run, _payload(run)) for run in todo}
                    for fut in futures.as_completed(pending):
                        finished(fut.result())
            finally:
                alive_w.close()
                alive_r.close()
    finally:
        store.write_index()
    return SweepSummary(total=len(spec.runs), skipped=skipped, ran=done, failed=failed,
                        runtime=time.perf_counter() - t0, executor=executor,
                        pending=len(_pending(spec, store, retry_failed=False)), keys=tuple(r.key for r in todo))


def _ray_connect_message(address: str, err: BaseException) -> str:
    """One line: no Ray cluster at ``address``, and how to start one or do without."""
    detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
    where = "running on this machine" if address == "auto" else f"at {address}"
    return (f"run_sweep(): no Ray cluster {where} (ray_address {address!r}: {detail.rstrip('.')}). "
            f"Start one with `ray start --head` and run again, or leave out --ray-address (and the sweep "
            f"file's ray_address) to start a private Ray for this sweep")


def _check_ray_reachable(address: str, timeout: float = 3.0) -> None:
    """For a ``host:port`` address, a quick TCP connect first: Ray itself retries an unreachable
    head for minutes, printing a warning every few seconds."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep or not port.isdigit():
        return
    import socket

    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise BackendError(_ray_connect_message(address, err)) from err


def _run_ray(todo: Sequence[RunSpec], finished: Callable[[dict], None], *, n_workers: int,
             address: Optional[str], gpus: float) -> None:
    try:
        import ray
    except ImportError as err:
        raise InvalidInputError("run_sweep(): the ray executor needs Ray: pip install 'gameplan-engine[ray]'") from err
    started_here = False
    if not ray.is_initialized():
        if address:
            _check_ray_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
                raise BackendError(_ray_connect_message(address, err)) from err
        else:
            ray.init(num_cpus=n_workers, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}})
        started_here = True
    try:
        remote = ray.remote(num_cpus=1, num_gpus=gpus)(execute_run) if gpus else ray.remote(num_cpus=1)(execute_run)
        refs = [remote.remote(_payload(run)) for run in todo]
        while refs:
            ready, refs = ray.wait(refs, num_returns=1)
            for ref in ready:
                finished(ray.get(ref))
    finally:
        if started_here and not address:
            ray.shutdown()
