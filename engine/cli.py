"""``engine-bench``: list and run benchmark suites.

Results go to stdout (``--format table|json|csv``); progress and logs go to stderr. Exit codes:
0 ok, 1 a run failed, 2 usage error. Known errors print one line; ``--debug`` shows the
traceback. Heavy imports happen inside the suites, not here.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import click

from engine import __version__
from engine.errors import EngineError, InvalidInputError
from engine.events import Progress
from engine.io import atomic_write_json
from engine.runner import run_case
from engine.suites import RunContext, Suite, discover_suites, load_suite

__all__ = ["main", "cli", "run_suite", "render"]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_") or "case"


def run_suite(suite: Suite, options: Mapping[str, Any], *, seed: int = 0, repeat: int = 1,
              time_limit: Optional[float] = None, threads: Optional[int] = None, out: Optional[Path] = None,
              callback: Any = None) -> list[dict[str, Any]]:
    """Run every case of ``suite`` ``repeat`` times; return one record per run.

    Repeat ``r`` runs with seed ``seed + r``. A run that raises is recorded with status
    ``"error"`` and its message; the others still run. With ``out``, each record is written
    atomically to ``out/<suite>/<case>__seed<seed>.json`` (a later run with another seed adds files).
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
    if callback is not None:
        callback(Progress("engine-bench", completed=0, total=total, description=suite.name))
    for case in cases:
        for r in range(repeat):
            ctx = RunContext(seed=seed + r, repeat=r, time_limit=time_limit, threads=threads)
            record = run_case(suite.name, case, ctx)
            records.append(record)
            if out is not None:
                atomic_write_json(out / suite.name / f"{_safe_name(case.name)}__seed{seed + r}.json", record)
            done += 1
            if callback is not None:
                callback(Progress("engine-bench", completed=done, total=total, description=suite.name))
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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return "" if value is None else str(value)


def render(rows: Sequence[Mapping[str, Any]], fmt: str, *, title: str = "") -> str:
    """Render rows as ``table`` (rich), ``json`` or ``csv`` text."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2, allow_nan=True)
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})
        return buf.getvalue()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for col in columns:
        table.add_column(col, justify="left" if col in ("case", "status", "error", "method") else "right")
    for row in rows:
        table.add_row(*(_fmt(row.get(c)) for c in columns))
    buf = io.StringIO()
    Console(file=buf, width=max(100, 14 * len(columns)), force_terminal=False, color_system=None).print(table)
    return buf.getvalue()


class _Ctx:
    debug = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="engine-bench")
@click.option("--debug", is_flag=True, help="Show tracebacks of known errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run the engine's benchmark suites."""
    ctx.obj = _Ctx()
    ctx.obj.debug = debug


@cli.command("list")
def list_command() -> None:
    """List the installed suites."""
    eps = discover_suites()
    rows = []
    for name in sorted(eps):
        try:
            suite = load_suite(name)
            opts = " ".join(f"--{o.name.replace('_', '-')}" for o in suite.options)
            rows.append({"suite": name, "description": suite.description, "options": opts})
        except Exception as err:  # a broken third-party suite must not hide the others
            rows.append({"suite": name, "description": f"(failed to load: {err})", "options": ""})
    click.echo(render(rows, "table"), nl=False)


@cli.command("run", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("suite_name", metavar="SUITE")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; repeat r uses seed + r.")
@click.option("--time-limit", type=float, default=None, help="Per-run time limit in seconds.")
@click.option("--threads", type=int, default=None, help="Solver threads.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write one JSON record per run under this directory.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Only results on stdout.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr.")
@click.pass_context
def run_command(ctx: click.Context, suite_name: str, seed: int, time_limit: Optional[float], threads: Optional[int],
                repeat: int, out: Optional[Path], fmt: str, no_progress: bool, quiet: bool, verbose: int) -> None:
    """Run SUITE; suite options (see `engine-bench list`) follow as --name value."""
    suite = load_suite(suite_name)
    options = suite.parse_options(ctx.args)
    if seed < 0:
        raise InvalidInputError(f"engine-bench run: --seed must be >= 0, got {seed}")
    if time_limit is not None and not time_limit > 0:  # also rejects nan
        raise InvalidInputError(f"engine-bench run: --time-limit must be > 0 seconds, got {time_limit}")
    if threads is not None and threads < 1:
        raise InvalidInputError(f"engine-bench run: --threads must be >= 1, got {threads}")
    from engine.progress import RichProgress

    t0 = time.perf_counter()
    with RichProgress(f"{suite_name}", disable=no_progress or quiet) as bar:
        records = run_suite(suite, options, seed=seed, repeat=repeat, time_limit=time_limit, threads=threads,
                            out=out, callback=bar)
    rows: list[Mapping[str, Any]] = [_flatten(r) for r in records]
    if suite.summarize is not None:
        rows = list(suite.summarize(records))
    click.echo(render(rows, fmt, title=f"engine-bench {suite_name}"), nl=False)
    if out is not None and suite.summarize is not None:
        atomic_write_json(out / suite_name / "summary.json", rows)
    if not quiet:
        failed = sum(r["status"] == "error" for r in records)
        click.echo(f"{len(records)} runs, {failed} failed, {time.perf_counter() - t0:.1f} s", err=True)
        if verbose:
            for r in records:
                if r.get("error"):
                    click.echo(f"{r['case']} (seed {r['seed']}): {r['error']}", err=True)
    if any(r["status"] == "error" for r in records):
        ctx.exit(1)


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
    from engine.progress import RichProgress
    from engine.sweep import ResultStore, parse_sweep, run_sweep

    spec = parse_sweep(spec_path, allow_import=allow_import, max_runs=max_runs)
    if dry_run:
        store = ResultStore(out) if out.exists() else None
        rows = [{"key": r.key, "suite": r.suite, "case": r.case, "seed": r.seed,
                 "options": " ".join(f"{k}={v}" for k, v in r.options),
                 "done": (store.status(r.key) or "") if store is not None else ""} for r in spec.runs]
        click.echo(render(rows, fmt, title=f"sweep {spec.name}: {len(rows)} runs"), nl=False)
        return
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
@click.option("--metric", default=None, help="Metric for the relative gains (default 'objective').")
@click.option("--ci", type=click.Choice(["sem", "bootstrap"]), default="sem", show_default=True)
@click.option("--no-plots", is_flag=True)
def report_command(directory: Path, out: Optional[Path], baseline: Optional[str], metric: Optional[str], ci: str,
                   no_plots: bool) -> None:
    """Markdown/HTML report with mean ± SEM tables, gains, performance profiles and plots."""
    from engine.report import write_report

    paths = write_report(directory, out, baseline=baseline, metric=metric, ci=ci, plots=not no_plots)
    click.echo(paths["markdown"].read_text(), nl=False)
    click.echo("wrote " + ", ".join(str(p) for p in paths.values()), err=True)


@cli.command("compare")
@click.argument("dir_a", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("dir_b", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--rel-tol", type=float, default=1e-9, show_default=True, help="Ignore smaller relative changes.")
def compare_command(dir_a: Path, dir_b: Path, fmt: str, rel_tol: float) -> None:
    """What changed between two result directories of the same sweep."""
    from engine.report import compare

    diff = compare(dir_a, dir_b, rel_tol=rel_tol)
    if fmt == "json":
        click.echo(json.dumps(diff, indent=2, allow_nan=True))
        return
    click.echo(f"{diff['common']} runs in both, {diff['only_a']} only in A, {diff['only_b']} only in B, "
               f"{len(diff['status_changes'])} status changes", err=True)
    rows = [{k: v for k, v in c.items()} for c in diff["changes"]] or [{"changes": "none"}]
    click.echo(render(rows, fmt, title="changed metrics (B vs A)"), nl=False)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point; returns the exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rc = cli.main(args=list(argv) if argv is not None else None, prog_name="engine-bench",
                      standalone_mode=False)
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
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
