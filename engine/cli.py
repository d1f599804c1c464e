"""``engine-bench``: list and run benchmark suites.

Results go to stdout (``--format table|json|csv``); progress and logs go to stderr. Exit codes:
0 ok, 1 a run failed, 2 usage error. Known errors print one line; ``--debug`` shows the
traceback. Heavy imports happen inside the suites, not here.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import click

from engine import __version__
from engine.errors import EngineError, InvalidInputError
from engine.events import Progress, emit
from engine.io import atomic_write_json
from engine.progress import RichProgress
from engine.report import compare, write_report
from engine.render import _table_width, render
from engine.runner import run_case
from engine.suites import RunContext, Suite, discover_suites, load_suite
from engine.sweep import ResultStore, parse_sweep, run_sweep

__all__ = ["main", "cli", "run_suite", "render"]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_") or "case"


class _StopLatch:
    """Forwards events to the user's callback and remembers whether it asked to stop."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback
        self.stopped = False

    def __call__(self, event: Any) -> None:
        try:
            self.callback(event)
        except StopIteration:
            self.stopped = True
            raise


def run_suite(suite: Suite, options: Mapping[str, Any], *, seed: int = 0, repeat: int = 1,
              time_limit: Optional[float] = None, threads: Optional[int] = None, out: Optional[Path] = None,
              callback: Any = None) -> list[dict[str, Any]]:
    """Run every case of ``suite`` ``repeat`` times; return one record per run.

    Repeat ``r`` runs with seed ``seed + r``. Every run gets a :class:`~engine.suites.RunContext`
    with its seed, ``time_limit`` (seconds per run), ``threads`` and ``callback``, which the suite
    passes on to its algorithms. ``callback`` also receives ``Progress("engine-bench", ...)`` after
    each run; raising ``StopIteration`` in it stops the run in progress (status ``"stopped"``) and
    runs nothing more. A run that raises is recorded with status ``"error"`` and its message; the
    others still run. With ``out``, each record is written atomically to
    ``out/<suite>/<case>__seed<seed>.json`` (a later run with another seed adds files).
    """

    cases = suite.cases(**options)
    if out is not None:
        seen: dict[str, str] = {}
        for case in cases:
            other = seen.setdefault(_safe_name(case.name), case.name)
            if other != case.name:
                raise InvalidInputError(f"engine-bench run: cases {other!r} and {case.name!r} of suite "
                                        f"{suite.name!r} would write the same record file")
    total = len(cases) * repeat
    records: list[dict[str, Any]] = []
    done = 0
    latch = _StopLatch(callback) if callback is not None else None
    if emit(latch, Progress("engine-bench", completed=0, total=total, description=suite.name)):
        return records
    for case in cases:
        for r in range(repeat):
            ctx = RunContext(seed=seed + r, repeat=r, time_limit=time_limit, threads=threads, callback=latch)
            record = run_case(suite.name, case, ctx)
            records.append(record)
            if out is not None:
                atomic_write_json(out / suite.name / f"{_safe_name(case.name)}__seed{seed + r}.json", record)
            done += 1
            if latch is not None and latch.stopped:
                return records
            if emit(latch, Progress("engine-bench", completed=done, total=total, description=suite.name)):
                return records
    return records


def _flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"case": record["case"]}
    if record.get("repeat", 0) or "seed" in record:
        row["seed"] = record.get("seed")
    row["status"] = record.get("status")
    for key, val in record.get("metrics", {}).items():
        if isinstance(val, (int, float, str, bool)) or val is None:
            row[key] = val
    if record.get("error"):
        row["error"] = record["error"]
    return row


class _Ctx:
    """Settings that every subcommand honours, wherever they appear on the command line
    (``--debug``, ``--no-progress``, ``-q``, ``-v``): :func:`main` collects them."""

    def __init__(self, debug: bool = False, no_progress: bool = False, quiet: bool = False,
                 verbose: int = 0) -> None:
        self.debug = debug
        self.no_progress = no_progress
        self.quiet = quiet
        self.verbose = verbose


def _settings(ctx: click.Context) -> _Ctx:
    obj = ctx.find_object(_Ctx)
    return obj if obj is not None else _Ctx()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="engine-bench")
@click.option("--debug", is_flag=True, help="Show tracebacks of known errors (accepted after any subcommand too).")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr (any subcommand, any position).")
@click.option("-q", "--quiet", is_flag=True, help="Only results on stdout (any subcommand, any position).")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (any subcommand, any position).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, no_progress: bool, quiet: bool, verbose: int) -> None:
    """Run the engine's benchmark suites."""
    obj = ctx.find_object(_Ctx)
    if obj is None:
        obj = ctx.obj = _Ctx()
    obj.debug = obj.debug or debug
    obj.no_progress = obj.no_progress or no_progress
    obj.quiet = obj.quiet or quiet
    obj.verbose = max(obj.verbose, verbose)


def _default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(_default_text(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value if value else '""'
    return str(value)


def suite_options_help(suite: Suite) -> list[tuple[str, str]]:
    """``[("--name VALUE", "help (default: x)"), ...]`` for every option of ``suite``."""
    out = []
    for o in suite.options:
        text = (o.help or "").strip()
        if "default" not in text.lower():
            text = f"{text} (default: {_default_text(o.default)})".strip()
        out.append((f"--{o.name.replace('_', '-')} VALUE", text))
    return out


@cli.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the installed suites with their options (`engine-bench run SUITE --help` for one)."""
    eps = discover_suites()
    rows = []
    for name in sorted(eps):
        try:
            suite = load_suite(name)
            opts = "\n".join(f"{flag.split()[0]}: {text}" for flag, text in suite_options_help(suite))
            rows.append({"suite": name, "description": suite.description, "options": opts})
        except Exception as err:  # a broken third-party suite must not hide the others
            if _settings(ctx).debug:
                traceback.print_exc()
            rows.append({"suite": name, "description": f"(failed to load: {err})", "options": ""})
    click.echo(_render_list(rows), nl=False)


def _render_list(rows: Sequence[Mapping[str, Any]]) -> str:
    """The suites as a table that wraps its text columns to the terminal (never the suite names)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="engine-bench suites", show_lines=True)
    table.add_column("suite", no_wrap=True, min_width=max([5] + [len(str(r["suite"])) for r in rows]))
    table.add_column("description", ratio=2, overflow="fold")
    table.add_column("options", ratio=3, overflow="fold")
    for r in rows:
        table.add_row(str(r["suite"]), str(r["description"]), str(r["options"]))
    width = _table_width() or 160
    buf = io.StringIO()
    Console(file=buf, width=max(40, width), force_terminal=False, color_system=None).print(table)
    return buf.getvalue()


def _status_line(records: Sequence[Mapping[str, Any]], seconds: float, planned: Optional[int] = None) -> str:
    counts: dict[str, int] = {}
    for r in records:
        counts[str(r.get("status"))] = counts.get(str(r.get("status")), 0) + 1
    parts = [f"{len(records)} runs", f"{counts.get('error', 0)} failed"]
    if counts.get("time_limit"):
        parts.append(f"{counts['time_limit']} reached the time limit")
    if counts.get("stopped") or (planned is not None and planned > len(records)):
        parts.append(f"stopped ({planned - len(records) if planned is not None else 0} not run)")
    return ", ".join(parts) + f", {seconds:.1f} s"


#: Most failed runs whose reason ``run`` prints on stderr (all are in the records and in --format json).
MAX_FAILURES_SHOWN = 20


def _print_failures(records: Sequence[Mapping[str, Any]]) -> None:
    failed = [r for r in records if r.get("status") == "error"]
    for r in failed[:MAX_FAILURES_SHOWN]:
        reason = str(r.get("error") or "no reason recorded").strip().splitlines() or ["no reason recorded"]
        click.echo(f"failed: {r['case']} (seed {r.get('seed')}): {reason[0]}", err=True)
    if len(failed) > MAX_FAILURES_SHOWN:
        click.echo(f"... and {len(failed) - MAX_FAILURES_SHOWN} more failed runs (--format json or --out has them all)",
                   err=True)


def _run_help(ctx: click.Context, suite_name: Optional[str]) -> str:
    text = ctx.get_help()
    if not suite_name:
        names = ", ".join(sorted(discover_suites())) or "none installed"
        return text + f"\n\nSuites: {names}. `engine-bench run SUITE --help` lists a suite's options.\n"
    suite = load_suite(suite_name)
    lines = [text, "", f"Suite {suite.name!r}: {suite.description}", "", "Suite options:"]
    opts = suite_options_help(suite)
    if not opts:
        lines.append("  (none)")
    pad = max((len(flag) for flag, _ in opts), default=0)
    import textwrap

    for flag, desc in opts:
        wrapped = textwrap.wrap(desc, width=max(30, 78 - pad - 4)) or [""]
        lines.append(f"  {flag.ljust(pad)}  {wrapped[0]}")
        lines.extend(f"  {'':{pad}}  {more}" for more in wrapped[1:])
    return "\n".join(lines) + "\n"


@cli.command("run", add_help_option=False,
             context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("suite_name", metavar="SUITE", required=False)
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; repeat r uses seed + r.")
@click.option("--time-limit", type=float, default=None,
              help="Seconds per run; a run that reaches it returns what it has, with status time_limit.")
@click.option("--threads", type=int, default=None,
              help="Threads per BLAS/OpenMP/torch pool and per solver in each run (default: the engine's, 1).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write one JSON record per run under this directory.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Only results on stdout (and the reasons of failed runs).")
@click.option("-v", "--verbose", count=True, help="More detail on stderr.")
@click.option("-h", "--help", "show_help", is_flag=True, help="Show this message (with SUITE: its options) and exit.")
@click.pass_context
def run_command(ctx: click.Context, suite_name: Optional[str], seed: int, time_limit: Optional[float],
                threads: Optional[int], repeat: int, out: Optional[Path], fmt: str, no_progress: bool, quiet: bool,
                verbose: int, show_help: bool) -> None:
    """Run SUITE; its options follow as --name value (`engine-bench run SUITE --help` lists them).

    Every run gets the seed, --time-limit, --threads and the progress callback; a failed run's
    reason is printed on stderr. Ctrl-C stops the run in progress (status stopped) and the rest;
    a second Ctrl-C aborts.
    """
    if show_help:
        click.echo(_run_help(ctx, suite_name), nl=False)
        ctx.exit(0)
    if not suite_name:
        raise click.UsageError("missing SUITE (engine-bench list shows the installed suites)", ctx=ctx)
    settings = _settings(ctx)
    quiet = quiet or settings.quiet
    no_progress = no_progress or settings.no_progress
    verbose = max(verbose, settings.verbose)
    suite = load_suite(suite_name)
    options = suite.parse_options(ctx.args)
    if seed < 0:
        raise InvalidInputError(f"engine-bench run: --seed must be >= 0, got {seed}")
    if time_limit is not None and not time_limit > 0:  # also rejects nan
        raise InvalidInputError(f"engine-bench run: --time-limit must be > 0 seconds, got {time_limit}")
    if threads is not None and threads < 1:
        raise InvalidInputError(f"engine-bench run: --threads must be >= 1, got {threads}")

    planned = len(suite.cases(**options)) * repeat
    t0 = time.perf_counter()
    with RichProgress(f"{suite_name}", disable=no_progress or quiet) as bar, _stop_on_interrupt(bar):
        records = run_suite(suite, options, seed=seed, repeat=repeat, time_limit=time_limit, threads=threads,
                            out=out, callback=bar)
    rows: list[Mapping[str, Any]] = [_flatten(r) for r in records]
    if suite.summarize is not None:
        rows = list(suite.summarize(records))
        if fmt == "json":  # the summary drops failed runs: keep their reasons in the document
            rows += [_flatten(r) for r in records if r.get("status") == "error"]
    click.echo(render(rows, fmt, title=f"engine-bench {suite_name}"), nl=False)
    if out is not None and suite.summarize is not None:
        atomic_write_json(out / suite_name / "summary.json", rows)
    _print_failures(records)
    if not quiet:
        click.echo(_status_line(records, time.perf_counter() - t0, planned), err=True)
        if verbose:
            for r in records:
                click.echo(f"{r['case']} (seed {r['seed']}): {r['status']}, {r.get('wall_time', 0.0):.2f} s", err=True)
    if any(r["status"] in ("error", "stopped") for r in records) or len(records) < planned:
        ctx.exit(1)


class _stop_on_interrupt:
    """While active, the first Ctrl-C asks ``bar`` to stop the run (via StopIteration from the
    callback); a second one raises KeyboardInterrupt as usual."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.previous: Any = None

    def __enter__(self) -> "_stop_on_interrupt":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            def handler(signum: int, frame: Any) -> None:
                signal.signal(signal.SIGINT, self.previous or signal.default_int_handler)
                click.echo("\nstopping after the current step (Ctrl-C again to abort)", err=True)
                self.bar.request_stop()

            self.previous = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


@cli.command("sweep")
@click.argument("spec_path", metavar="SPEC.toml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Results store directory (one JSON record per run + index.json).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default=None, help="Overrides the spec.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes (local) or CPUs (local Ray).")
@click.option("--ray-address", default=None, help="Connect to an existing Ray cluster (e.g. 'auto' or host:port).")
@click.option("--gpus-per-run", type=click.FloatRange(min=0), default=None,
              help="GPUs Ray reserves per run (overrides the spec).")
@click.option("--retry-failed", is_flag=True, help="Run again the runs whose record says 'error'.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Start at most this many runs.")
@click.option("--dry-run", is_flag=True, help="Print the grid (and what is already done); run nothing.")
@click.option("--allow-import", is_flag=True,
              help="Let the sweep file name suites as 'package.module:attribute', which imports and runs that "
                   "module: the file is then as trusted as code. Off by default: only installed suites (entry "
                   "points) may be named.")
@click.option("--max-runs", type=click.IntRange(min=0), default=None,
              help="Refuse a grid of more runs than this (default: engine.sweep.MAX_RUNS = 100000).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--no-progress", is_flag=True)
@click.option("-q", "--quiet", is_flag=True)
@click.pass_context
def sweep_command(ctx: click.Context, spec_path: Path, out: Path, executor: Optional[str], workers: Optional[int],
                  ray_address: Optional[str], gpus_per_run: Optional[float], retry_failed: bool, limit: Optional[int],
                  dry_run: bool, allow_import: bool, max_runs: Optional[int], fmt: str, no_progress: bool,
                  quiet: bool) -> None:
    """Run a sweep file; re-running skips every run that already has a record.

    A sweep file is data: it may name installed suites only, unless --allow-import is given.
    """

    spec = parse_sweep(spec_path, allow_import=allow_import, max_runs=max_runs)
    if dry_run:
        store = ResultStore(out) if out.exists() else None
        rows = [{"key": r.key, "suite": r.suite, "case": r.case, "seed": r.seed,
                 "options": " ".join(f"{k}={v}" for k, v in r.options),
                 "done": (store.status(r.key) or "") if store is not None else ""} for r in spec.runs]
        click.echo(render(rows, fmt, title=f"sweep {spec.name}: {len(rows)} runs"), nl=False)
        return
    settings = _settings(ctx)
    quiet = quiet or settings.quiet
    no_progress = no_progress or settings.no_progress
    with RichProgress(f"sweep {spec.name}", disable=no_progress or quiet) as bar:
        summary = run_sweep(spec, out, executor=executor, workers=workers, ray_address=ray_address,
                            retry_failed=retry_failed, limit=limit, gpus_per_run=gpus_per_run, callback=bar)
    row = {"sweep": spec.name, "executor": summary.executor, "total": summary.total, "skipped": summary.skipped,
           "ran": summary.ran, "failed": summary.failed, "pending": summary.pending,
           "runtime_s": round(summary.runtime, 3)}
    click.echo(render([row], fmt), nl=False)
    if summary.failed:
        ctx.exit(1)


@cli.command("report")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write report.md, report.html and plots (default DIRECTORY/report).")
@click.option("--baseline", default=None, help="Method to compute relative gains against.")
@click.option("--metric", default=None,
              help="Metric for the relative gains (default 'objective'); a time metric gives speed-ups.")
@click.option("--ci", type=click.Choice(["sem", "bootstrap"]), default="sem", show_default=True)
@click.option("--no-plots", is_flag=True)
@click.pass_context
def report_command(ctx: click.Context, directory: Path, out: Optional[Path], baseline: Optional[str],
                   metric: Optional[str], ci: str, no_plots: bool) -> None:
    """Markdown/HTML report with mean ± SEM tables, gains, performance profiles and plots."""

    paths = write_report(directory, out, baseline=baseline, metric=metric, ci=ci, plots=not no_plots)
    click.echo(paths["markdown"].read_text(), nl=False)
    if not _settings(ctx).quiet:
        click.echo("wrote " + ", ".join(str(p) for p in paths.values()), err=True)


@cli.command("compare")
@click.argument("dir_a", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("dir_b", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--rel-tol", type=click.FloatRange(min=0), default=1e-9, show_default=True,
              help="Ignore smaller relative changes of non-time metrics.")
@click.option("--time-tol", type=click.FloatRange(min=0), default=None,
              help="Ignore smaller relative changes of time metrics (runtime, *_time, ...), which vary from run "
                   "to run [default: engine.report.TIME_REL_TOL = 0.25, i.e. 25%].")
@click.pass_context
def compare_command(ctx: click.Context, dir_a: Path, dir_b: Path, fmt: str, rel_tol: float,
                    time_tol: Optional[float]) -> None:
    """What changed between two result directories of the same sweep (changes in percent, B vs A).

    Exits 2 when the directories share no run (different sweeps)."""

    diff = compare(dir_a, dir_b, rel_tol=rel_tol, time_rel_tol=time_tol)
    if fmt == "json":
        click.echo(json.dumps(diff, indent=2, allow_nan=True))
        return
    if not _settings(ctx).quiet:
        click.echo(f"{diff['common']} runs in both, {diff['only_a']} only in A, {diff['only_b']} only in B, "
                   f"{len(diff['status_changes'])} status changes; time metrics within "
                   f"{100 * diff['time_rel_tol']:g}% and others within {diff['rel_tol']:g} (relative) are "
                   f"not listed", err=True)
    rows = [{"family": c["family"], "method": c["method"], "metric": c["metric"], "a": c["a"], "b": c["b"],
             "change": c["change"]} for c in diff["changes"]] or [{"changes": "none"}]
    click.echo(render(rows, fmt, title="changed metrics (B vs A)"), nl=False)


#: Flags every subcommand accepts in any position (``main`` moves them to the group).
_GLOBAL_FLAGS = {"--debug": ("debug", True), "--no-progress": ("no_progress", True), "-q": ("quiet", True),
                 "--quiet": ("quiet", True), "-v": ("verbose", 1), "-vv": ("verbose", 2), "-vvv": ("verbose", 3),
                 "--verbose": ("verbose", 1)}


def _split_global_flags(args: Sequence[str]) -> tuple[list[str], _Ctx]:
    """Take ``--debug``, ``--no-progress``, ``-q`` and ``-v`` out of ``args`` wherever they are
    (before a ``--``) unless the subcommand declares that flag itself; return the rest and the settings."""
    settings = _Ctx()
    rest: list[str] = []
    command: Any = None
    for i, tok in enumerate(args):
        if tok == "--":
            rest.extend(args[i:])
            break
        if tok in _GLOBAL_FLAGS:
            name, value = _GLOBAL_FLAGS[tok]
            if name == "verbose":
                settings.verbose += int(value)
            else:
                setattr(settings, name, True)
            declared = command is not None and any(tok in (*p.opts, *p.secondary_opts) for p in command.params)
            if declared:
                rest.append(tok)
            continue
        if command is None and not tok.startswith("-"):
            command = cli.commands.get(tok) if isinstance(cli, click.Group) else None
        rest.append(tok)
    return rest, settings


# `solve` (your own instance, engine.solve) and `serve` (HTTP, engine.serve) live in their modules
from engine.serve import serve_command  # noqa: E402
from engine.solve import solve_command  # noqa: E402

cli.add_command(solve_command)
cli.add_command(serve_command)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point; returns the exit code."""
    args, settings = _split_global_flags(list(argv) if argv is not None else sys.argv[1:])
    debug = settings.debug
    try:
        rc = cli.main(args=args, prog_name="engine-bench", standalone_mode=False, obj=settings)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except InvalidInputError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return 2
    except EngineError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return 1
    except OSError as exc:  # a file or directory that cannot be read or written: one line, like the others
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return 1
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
