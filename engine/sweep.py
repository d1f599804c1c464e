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
    suite = "games"             # entry-point name or "package.module:attribute"
    seeds = "0-4"               # "0-4", "1,5,9" or a list of integers
    [experiment.options]        # fixed suite options
    lams = "1,5"
    [experiment.grid]           # each list is swept; the grid is their Cartesian product
    sizes = ["5", "10"]
    methods = ["qre", "nash"]

Every run (suite, options, case, seed, limits) becomes one record keyed by a hash of that
configuration and the engine version. Records are written atomically one file per run by the
parent process as runs finish, so a sweep killed at any moment loses at most the runs in flight,
and running the same sweep again skips every run that has a record.
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from engine import __version__
from engine.errors import InvalidInputError
from engine.events import Progress
from engine.io import atomic_write_json, read_json
from engine.runner import run_case
from engine.suites import RunContext, Suite, load_suite, parse_int_list

__all__ = ["RunSpec", "SweepSpec", "parse_sweep", "ResultStore", "run_sweep", "execute_run", "SweepSummary"]

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


def _seeds(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    if isinstance(value, str):
        return parse_int_list(value)
    raise ValueError(f"seeds must be an int, a list of ints or a range like '0-4', got {value!r}")


def parse_sweep(source: "str | os.PathLike[str]", *, text: Optional[str] = None) -> SweepSpec:
    """Read and validate a sweep file, expanding its grid into runs (suites are imported).

    Errors are :class:`InvalidInputError` naming the file and line: TOML syntax, unknown keys,
    unknown suites and options, bad option values, bad seeds.
    """
    path = str(source)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise InvalidInputError(f"engine-bench sweep: cannot read {path}: {err.strerror}") from err
    loc = _Locator(text, path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInputError(f"engine-bench sweep: {path}: TOML syntax error: {err}") from err
    unknown = set(doc) - {"sweep", "experiment"}
    if unknown:
        key = sorted(unknown)[0]
        raise loc.error(f"unknown top-level key or table {key!r} (expected [sweep] and [[experiment]])", "", -1, key)
    head = doc.get("sweep", {})
    if not isinstance(head, dict):
        raise loc.error("'sweep' must be a table", "sweep")
    for key in head:
        if key not in _SWEEP_KEYS:
            raise loc.error(f"unknown key {key!r} in [sweep]; allowed: {sorted(_SWEEP_KEYS)}", "sweep", -1, key)
    executor = head.get("executor", "local")
    if executor not in ("local", "ray"):
        raise loc.error(f"executor must be 'local' or 'ray', got {executor!r}", "sweep", -1, "executor")
    workers = head.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise loc.error(f"workers must be a positive integer, got {workers!r}", "sweep", -1, "workers")
    time_limit = head.get("time_limit")
    if time_limit is not None and (not isinstance(time_limit, (int, float)) or isinstance(time_limit, bool)
                                   or time_limit <= 0):
        raise loc.error(f"time_limit must be a positive number, got {time_limit!r}", "sweep", -1, "time_limit")
    threads = head.get("threads")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise loc.error(f"threads must be a positive integer, got {threads!r}", "sweep", -1, "threads")
    gpus = head.get("gpus_per_run", 0)
    if not isinstance(gpus, (int, float)) or isinstance(gpus, bool) or gpus < 0:
        raise loc.error(f"gpus_per_run must be >= 0, got {gpus!r}", "sweep", -1, "gpus_per_run")
    name = str(head.get("name", Path(path).stem))
    experiments = doc.get("experiment", [])
    if not isinstance(experiments, list) or not experiments:
        raise loc.error("a sweep needs at least one [[experiment]] table")
    runs: list[RunSpec] = []
    for i, exp in enumerate(experiments):
        for key in exp:
            if key not in _EXPERIMENT_KEYS:
                raise loc.error(f"unknown key {key!r} in [[experiment]]; allowed: {sorted(_EXPERIMENT_KEYS)}",
                                "experiment", i, key)
        if "suite" not in exp:
            raise loc.error("[[experiment]] needs a 'suite'", "experiment", i)
        try:
            suite = load_suite(str(exp["suite"]))
        except InvalidInputError as err:
            raise loc.error(str(err).replace("engine-bench: ", ""), "experiment", i, "suite") from err
        try:
            seeds = _seeds(exp.get("seeds", [0]))
        except ValueError as err:
            raise loc.error(str(err), "experiment", i, "seeds") from err
        fixed = exp.get("options", {})
        grid = exp.get("grid", {})
        if not isinstance(fixed, dict) or not isinstance(grid, dict):
            raise loc.error("'options' and 'grid' must be tables", "experiment", i)
        for key, val in grid.items():
            if not isinstance(val, list) or not val:
                raise loc.error(f"grid entry {key!r} must be a non-empty list", "experiment.grid", i, key)
        grid_keys = sorted(grid)
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
            for case in cases:
                for seed in seeds:
                    runs.append(RunSpec(suite=str(exp["suite"]), options=tuple(sorted(raw.items())), case=case.name,
                                        seed=int(seed), time_limit=time_limit, threads=threads, sweep=name,
                                        gpus=float(gpus)))
    keys = [r.key for r in runs]
    if len(set(keys)) != len(keys):
        raise InvalidInputError(f"engine-bench sweep: {path}: the grid repeats runs (same suite, case, options, seed)")
    return SweepSpec(name=name, runs=tuple(runs), executor=executor, workers=workers,
                     ray_address=head.get("ray_address"), gpus_per_run=float(gpus), path=path)


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


def _init_worker() -> None:
    # one run per core: keep BLAS/OpenMP pools from oversubscribing the machine
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")


# ---------------------------------------------------------------------------- the store
class ResultStore:
    """A directory of results: ``records/<key>.json`` (one per finished run) and ``index.json``.

    Records are the source of truth and are written atomically; the index is a convenience that
    is rebuilt from the records whenever it is stale.
    """

    def __init__(self, root: "str | os.PathLike[str]") -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, dict] = {}
        self._load_index()

    def _entry(self, record: Mapping[str, Any]) -> dict:
        return {"suite": record.get("suite"), "case": record.get("case"), "seed": record.get("seed"),
                "status": record.get("status"), "config_key": record.get("config_key")}

    def _load_index(self) -> None:
        files = {p.stem: p for p in self.records_dir.glob("*.json")}
        index_path = self.root / "index.json"
        index: dict[str, dict] = {}
        if index_path.exists():
            try:
                index = read_json(index_path).get("runs", {})
            except (ValueError, OSError):
                index = {}
        if set(index) != set(files):
            index = {}
            for key, p in files.items():
                try:
                    index[key] = self._entry(read_json(p))
                except (ValueError, OSError):
                    continue  # unreadable record: treated as not done, rerun overwrites it
        self._index = index

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
        atomic_write_json(self.records_dir / f"{record['key']}.json", record, fsync=False)
        self._index[record["key"]] = self._entry(record)

    def write_index(self) -> None:
        atomic_write_json(self.root / "index.json", {"engine_version": __version__, "runs": self._index})

    def records(self) -> list[dict]:
        out = []
        for p in sorted(self.records_dir.glob("*.json")):
            try:
                out.append(read_json(p))
            except (ValueError, OSError):
                continue
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
            with futures.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker) as pool:
                pending = {pool.submit(execute_run, _payload(run)) for run in todo}
                for fut in futures.as_completed(pending):
                    finished(fut.result())
    finally:
        store.write_index()
    return SweepSummary(total=len(spec.runs), skipped=skipped, ran=done, failed=failed,
                        runtime=time.perf_counter() - t0, executor=executor,
                        pending=len(_pending(spec, store, retry_failed=False)), keys=tuple(r.key for r in todo))


def _run_ray(todo: Sequence[RunSpec], finished: Callable[[dict], None], *, n_workers: int,
             address: Optional[str], gpus: float) -> None:
    try:
        import ray
    except ImportError as err:
        raise InvalidInputError("run_sweep(): the ray executor needs Ray: pip install 'gameplan-engine[ray]'") from err
    started_here = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
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
