"""Reports over a results directory: tables, relative gains, performance profiles, plots.

Records are grouped by *instance family* (suite plus the case parameters other than ``method``)
and *method* (the case parameter ``method``, else the case name). Every numeric metric gets
mean ± standard error over seeds (or a seeded percentile bootstrap CI).
"""

from __future__ import annotations

import html
import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from engine.errors import InvalidInputError
from engine.io import atomic_path, atomic_write_text, read_json
from engine.schemas import upgrade, validate

__all__ = ["load_records", "summarize", "relative_gains", "performance_profile", "write_report", "compare",
           "is_time_metric", "gain_text", "TIME_REL_TOL"]

_TIME_KEYS = ("runtime", "wall_time")

#: ``compare``'s default tolerance for time metrics: relative changes within 25% are timing noise
#: (another machine load, another CPU frequency), not a change of the engine.
TIME_REL_TOL = 0.25


def is_time_metric(name: str) -> bool:
    """True for metrics that measure time, where lower is better: ``runtime``, ``wall_time``,
    ``*_time``, ``*_time_s``, ``time_per_*``, ``*_ms_*``, ``*_seconds`` (not rates like
    ``matrices_per_second``).

    Examples
    --------
    >>> [is_time_metric(m) for m in ("runtime", "train_time_s", "planning_ms_per_step", "objective",
    ...                              "matrices_per_second")]
    [True, True, True, False, False]
    """
    parts = str(name).lower().split("_")
    if "per" in parts and parts[parts.index("per") + 1:parts.index("per") + 2] in (["second"], ["s"]):
        return False
    return bool({"time", "runtime", "seconds", "ms"} & set(parts))


def gain_text(gain: Mapping[str, Any]) -> str:
    """How a row of :func:`relative_gains` reads: ``"+33.33%"``, or for a time metric
    ``"2.50× faster"`` / ``"37.0× slower"``."""
    rel = gain.get("relative_gain", math.nan)
    if gain.get("kind") == "time":
        speedup = gain.get("speedup", math.nan)
        if not (isinstance(speedup, (int, float)) and math.isfinite(speedup) and speedup > 0):
            return "–"
        if abs(speedup - 1.0) < 5e-3:
            return "same time"
        factor = speedup if speedup > 1 else 1.0 / speedup
        return f"{factor:.3g}× {'faster' if speedup > 1 else 'slower'}"
    return f"{100 * rel:+.2f}%" if isinstance(rel, (int, float)) and math.isfinite(rel) else "–"


def load_records(directory: "str | os.PathLike[str]") -> list[dict]:
    """Every record under ``directory`` (a sweep store's ``records/`` or ``engine-bench run --out``)."""
    if isinstance(directory, bool) or not isinstance(directory, (str, os.PathLike)):
        raise InvalidInputError(f"load_records(): expected a directory path, got {type(directory).__name__}")
    root = Path(directory)
    if not root.is_dir():
        raise InvalidInputError(f"load_records(): {directory} is not a directory")
    out = []
    for p in sorted(root.rglob("*.json")):
        if p.name in ("index.json", "summary.json"):
            continue
        try:
            rec = read_json(p, where="load_records()")  # size, nesting and parse limits of engine.io
        except InvalidInputError:
            continue  # unreadable or damaged: not a record (a sweep resume re-runs it)
        if isinstance(rec, dict) and "suite" in rec and "case" in rec:

            where = f"load_records(): {p}"
            rec = upgrade(rec, expected="gameplan/run_record", where=where)
            validate(rec, expected="gameplan/run_record", where=where)
            out.append(rec)
    if not out:
        raise InvalidInputError(f"load_records(): no run records found under {directory}")
    return out


def _method(rec: Mapping[str, Any]) -> str:
    return str(rec.get("params", {}).get("method", rec["case"]))


def _family(rec: Mapping[str, Any]) -> str:
    params = {k: v for k, v in rec.get("params", {}).items() if k not in ("method", "seed")}
    if "method" not in rec.get("params", {}):
        params = {}
    inner = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{rec['suite']}({inner})" if inner else str(rec["suite"])


def _numeric_metrics(rec: Mapping[str, Any]) -> dict[str, float]:
    out = {k: float(v) for k, v in rec.get("metrics", {}).items()
           if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if "wall_time" in rec:
        out.setdefault("wall_time", float(rec["wall_time"]))
    return out


def _interval(values: np.ndarray, ci: str, rng: np.random.Generator) -> tuple[float, float]:
    if values.size < 2:
        return math.nan, math.nan
    if ci == "sem":
        half = float(values.std(ddof=1) / math.sqrt(values.size))
        return half, half
    boots = rng.choice(values, size=(2000, values.size), replace=True).mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    mean = values.mean()
    return float(mean - lo), float(hi - mean)


@dataclass(frozen=True)
class SummaryRow:
    family: str
    method: str
    metric: str
    n: int
    mean: float
    minus: float
    plus: float
    failed: int = 0


def summarize(records: Sequence[Mapping[str, Any]], *, ci: str = "sem", seed: int = 0) -> list[SummaryRow]:
    """Mean and interval of every numeric metric per (family, method); ``ci`` is "sem" or "bootstrap"."""
    if ci not in ("sem", "bootstrap"):
        raise InvalidInputError(f"summarize(): ci must be 'sem' or 'bootstrap', got {ci!r}")
    rng = np.random.default_rng(seed)
    groups: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    failures: dict[tuple, int] = defaultdict(int)
    for rec in records:
        key = (_family(rec), _method(rec))
        if rec.get("status") == "error":
            failures[key] += 1
            continue
        for metric, value in _numeric_metrics(rec).items():
            groups[key][metric].append(value)
    rows = []
    for (family, method) in sorted(set(groups) | set(failures)):
        metrics = groups.get((family, method), {})
        for metric in sorted(metrics):
            vals = np.asarray(metrics[metric], dtype=float)
            vals = vals[np.isfinite(vals)]
            if not vals.size:
                continue
            minus, plus = _interval(vals, ci, rng)
            rows.append(SummaryRow(family, method, metric, int(vals.size), float(vals.mean()), minus, plus,
                                   failures.get((family, method), 0)))
    return rows


def relative_gains(rows: Sequence[SummaryRow], *, baseline: str, metric: str) -> list[dict]:
    """Per family: each method's relative change of ``metric`` against ``baseline``.

    For most metrics ``relative_gain = (m - b) / |b|`` (``kind`` ``"value"``). For a time metric
    (:func:`is_time_metric`; lower is better) ``speedup = b / m`` and ``relative_gain = b / m - 1``
    (``kind`` ``"time"``): positive when the method is faster, -0.973 for one 37 times slower.
    :func:`gain_text` writes either as the report shows it.
    """
    base = {r.family: r.mean for r in rows if r.method == baseline and r.metric == metric}
    if not base:
        raise InvalidInputError(f"relative_gains(): no rows for baseline {baseline!r} and metric {metric!r}")
    out = []
    for r in rows:
        if r.metric != metric or r.family not in base or r.method == baseline:
            continue
        b = base[r.family]
        row = {"family": r.family, "method": r.method, "metric": metric, "baseline": baseline,
               "mean": r.mean, "baseline_mean": b}
        if is_time_metric(metric):
            speedup = b / r.mean if r.mean > 0 and b >= 0 else math.nan
            row.update(kind="time", speedup=speedup, relative_gain=speedup - 1.0)
        else:
            row.update(kind="value", relative_gain=(r.mean - b) / abs(b) if b != 0 else math.nan)
        row["text"] = gain_text(row)
        out.append(row)
    return out


def performance_profile(records: Sequence[Mapping[str, Any]], *, time_metric: Optional[str] = None,
                        taus: Optional[Sequence[float]] = None) -> dict[str, Any]:
    """Dolan–Moré profile: for each method, the fraction of instances solved within τ × the best time.

    An instance is (family, seed). Methods are compared only on the instances every one of them
    ran (a record, failed or not); the others are left out (``dropped`` counts them). A failed
    run counts as never solved.
    """
    times: dict[tuple, dict[str, float]] = defaultdict(dict)
    methods = set()
    for rec in records:
        metrics = _numeric_metrics(rec)
        key = time_metric or next((k for k in _TIME_KEYS if k in metrics), None)
        method = _method(rec)
        methods.add(method)
        inst = (_family(rec), rec.get("seed"))
        ok = rec.get("status") != "error" and key is not None and key in metrics
        times[inst][method] = metrics[key] if ok and key is not None else math.inf
    dropped = [inst for inst, by_method in times.items() if set(by_method) != methods]
    for inst in dropped:
        del times[inst]
    taus = list(taus) if taus is not None else list(np.logspace(0, 2, 41))
    profile = {}
    for method in sorted(methods):
        ratios = []
        for inst, by_method in times.items():
            best = min(by_method.values())
            t = by_method.get(method, math.inf)
            if not math.isfinite(t) or not math.isfinite(best):
                ratios.append(math.inf)  # failed here, or no method solved the instance
            else:
                ratios.append(t / best if best > 0 else 1.0)
        ratios_arr = np.asarray(ratios)
        profile[method] = ([float(np.mean(ratios_arr <= tau)) for tau in taus] if ratios
                           else [math.nan] * len(taus))
    return {"taus": [float(t) for t in taus], "profile": profile, "instances": len(times), "dropped": len(dropped)}


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3e}"
    return f"{x:.4g}"


def _markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(directory: "str | os.PathLike[str]", out: Optional["str | os.PathLike[str]"] = None, *,
                 baseline: Optional[str] = None, metric: Optional[str] = None, ci: str = "sem",
                 plots: bool = True) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and PNG plots for the records under ``directory``.

    Returns the paths written. ``baseline``/``metric`` add a relative-gain table.
    """
    records = load_records(directory)
    out_dir = Path(out) if out is not None else Path(directory) / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = summarize(records, ci=ci)
    label = "± SEM" if ci == "sem" else "95% bootstrap CI"
    header = ["family", "method", "metric", "n", f"mean ({label})", "failed"]

    def cells(r: SummaryRow) -> list[str]:
        interval = f"{_fmt(r.mean)} ± {_fmt(r.minus)}" if ci == "sem" else \
            f"{_fmt(r.mean)} [{_fmt(r.mean - r.minus)}, {_fmt(r.mean + r.plus)}]"
        return [r.family, r.method, r.metric, str(r.n), interval, str(r.failed)]

    md = [f"# Report: {Path(directory).name}", "", f"{len(records)} runs, "
          f"{sum(r.get('status') == 'error' for r in records)} failed.", "", "## Metrics", "",
          _markdown_table(header, (cells(r) for r in rows))]
    htm = [f"<h1>Report: {html.escape(Path(directory).name)}</h1>", "<h2>Metrics</h2>",
           _html_table(header, (cells(r) for r in rows))]
    paths: dict[str, Path] = {}
    if baseline is not None:
        gmetric = metric or "objective"
        gains = relative_gains(rows, baseline=baseline, metric=gmetric)
        timed = is_time_metric(gmetric)
        gh = ["family", "method", "metric", "mean", "baseline mean", "speed vs baseline" if timed else "relative gain"]
        gcells = [[g["family"], g["method"], g["metric"], _fmt(g["mean"]), _fmt(g["baseline_mean"]), g["text"]]
                  for g in gains]
        note = (f"`{gmetric}` is a time (lower is better): each method's speed-up or slowdown against `{baseline}`."
                if timed else f"Relative change of `{gmetric}` against `{baseline}`: (method - baseline) / |baseline|.")
        md += ["", f"## Relative to `{baseline}`", "", note, "", _markdown_table(gh, gcells)]
        htm += [f"<h2>Relative to {html.escape(baseline)}</h2>", f"<p>{html.escape(note)}</p>",
                _html_table(gh, gcells)]
    prof = performance_profile(records)
    md += ["", "## Performance profile", ""]
    left_out = (f" {prof['dropped']} instances that not every method ran are left out." if prof["dropped"] else "")
    if prof["instances"]:
        md += [f"Fraction of the {prof['instances']} instances each method solves within τ × the best time "
               f"(instances every method ran).{left_out}", "",
               _markdown_table(["method", "τ=1", "τ=2", "τ=10", "τ=100"],
                               ([m, *(_fmt(p[i]) for i in (0, 6, 20, 40))] for m, p in prof["profile"].items()))]
    else:
        md += [f"No instance was run by every method ({', '.join(sorted(prof['profile'])) or 'none'}): "
               f"no profile to compare them on."]
        plots = False
    if plots:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for method, fr in prof["profile"].items():
            ax.step(prof["taus"], fr, where="post", label=method)
        ax.set_xscale("log")
        ax.set_xlabel("τ (time / best time)")
        ax.set_ylabel("fraction of instances")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8)
        ax.set_title("Performance profile")
        fig.tight_layout()
        p = out_dir / "performance_profile.png"

        with atomic_path(p, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        paths["performance_profile"] = p
        md += ["", "![performance profile](performance_profile.png)"]
        htm += ['<img src="performance_profile.png" alt="performance profile">']
    paths["markdown"] = atomic_write_text(out_dir / "report.md", "\n".join(md) + "\n")
    page = "<!doctype html><html><head><meta charset='utf-8'><title>report</title><style>" \
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>" \
           + "\n".join(htm) + "</body></html>\n"
    paths["html"] = atomic_write_text(out_dir / "report.html", page)
    return paths


def _config_key(rec: Mapping[str, Any]) -> str:
    if rec.get("config_key"):
        return str(rec["config_key"])
    return json.dumps([rec["suite"], rec["case"], rec.get("seed"), rec.get("params", {})], sort_keys=True)


def compare(dir_a: "str | os.PathLike[str]", dir_b: "str | os.PathLike[str]", *,
            rel_tol: float = 1e-9, time_rel_tol: Optional[float] = None) -> dict[str, Any]:
    """What changed between two result directories of the same sweep (e.g. two engine versions).

    Runs are matched by configuration (not by engine version). Returns the runs only in A / only
    in B, status changes, and per (family, method, metric) the mean in A and B with the relative
    change (``relative_change``, and ``change`` in percent as text, like ``report``), listing only
    metrics that changed beyond the tolerance: ``time_rel_tol`` for time metrics
    (:func:`is_time_metric`; default :data:`TIME_REL_TOL`, timing noise is not a change),
    ``rel_tol`` for the others. Directories that share no run (two unrelated sweeps) raise
    :class:`InvalidInputError`.
    """
    where = "compare()"
    tols = {}
    for name, value in (("rel_tol", rel_tol), ("time_rel_tol", TIME_REL_TOL if time_rel_tol is None else time_rel_tol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise InvalidInputError(f"{where}: {name} must be a number >= 0, got {value!r}")
        tols[name] = float(value)
    a = {_config_key(r): r for r in load_records(dir_a)}
    b = {_config_key(r): r for r in load_records(dir_b)}
    common = sorted(set(a) & set(b))
    if not common:
        suites_a = sorted({str(r["suite"]) for r in a.values()})
        suites_b = sorted({str(r["suite"]) for r in b.values()})
        raise InvalidInputError(f"{where}: {dir_a} and {dir_b} share no run (suites {', '.join(suites_a)} vs "
                                f"{', '.join(suites_b)}; {len(a)} and {len(b)} runs): they are not the same sweep, "
                                f"nothing to compare")
    status_changes = [{"suite": a[k]["suite"], "case": a[k]["case"], "seed": a[k].get("seed"),
                       "a": a[k].get("status"), "b": b[k].get("status")}
                      for k in common if a[k].get("status") != b[k].get("status")]
    sums: dict[tuple, list] = defaultdict(lambda: [[], []])
    for k in common:
        ma, mb = _numeric_metrics(a[k]), _numeric_metrics(b[k])
        for metric in set(ma) & set(mb):
            key = (_family(a[k]), _method(a[k]), metric)
            sums[key][0].append(ma[metric])
            sums[key][1].append(mb[metric])
    changes = []
    for (family, method, metric), (va, vb) in sorted(sums.items()):
        mean_a, mean_b = float(np.mean(va)), float(np.mean(vb))
        rel = (mean_b - mean_a) / abs(mean_a) if mean_a != 0 else (0.0 if mean_b == 0 else math.inf)
        timed = is_time_metric(metric)
        if abs(rel) > (tols["time_rel_tol"] if timed else tols["rel_tol"]):
            text = f"{100 * rel:+.2f}%" if math.isfinite(rel) else "new (A was 0)"
            changes.append({"family": family, "method": method, "metric": metric, "a": mean_a, "b": mean_b,
                            "relative_change": rel, "change": text, "time_metric": timed})
    return {"common": len(common), "only_a": len(set(a) - set(b)), "only_b": len(set(b) - set(a)),
            "status_changes": status_changes, "changes": changes, **tols}
