"""Every public entry point follows the one protocol (README "Conventions").

The test walks every module of the five packages and inspects the signature of each public
function and public method defined there: one progress/stop hook (`callback`, keyword-only),
shared options keyword-only, `seed` defaulting to 0, training entry points returning the one
`engine.TrainingResult` with `callback` and `time_limit`, frozen configs and results.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import engine
from engine.result import SolveResult
from engine.training import TrainingConfig, TrainingResult

PACKAGES = ("engine", "solvers", "games", "bandits", "planning")
#: options that are never data: keyword-only wherever they appear
KEYWORD_ONLY = ("callback", "time_limit", "seed", "threads", "maxiter", "tol", "options", "warm_start",
                "mip_rel_gap", "mip_abs_gap")
#: positional parameters named like options that are the function's data, with the reason
DATA_NOT_OPTIONS = {
    "engine.cli.run_suite": "options is the suite's parsed option mapping: the run's data",
}
#: progress hooks other than `callback` that the protocol removed
FORBIDDEN = ("progress", "on_step", "verbose")


def _modules():
    out = []
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        out.append(pkg)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}."):
            if info.name.endswith("__main__"):
                continue
            out.append(importlib.import_module(info.name))
    return out


def _entry_points():
    """(qualified name, callable) of every public function and method defined in the packages
    (records' generated dataclass ``__init__`` included: their fields follow the seed rule)."""
    seen = set()
    for mod in _modules():
        for attr, obj in vars(mod).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj):
                key = f"{mod.__name__}.{attr}"
                if key not in seen:
                    seen.add(key)
                    yield key, obj
            elif inspect.isclass(obj):
                for mname, meth in vars(obj).items():
                    if (mname.startswith("_") and mname != "__init__") or not inspect.isfunction(meth):
                        continue
                    key = f"{mod.__name__}.{attr}.{mname}"
                    if key not in seen:
                        seen.add(key)
                        yield key, meth


ENTRY_POINTS = dict(_entry_points())


def _classes(base):
    for mod in _modules():
        for obj in vars(mod).values():
            if inspect.isclass(obj) and issubclass(obj, base) and obj.__module__ == mod.__name__:
                yield obj


def test_the_walk_finds_the_entry_points():
    # a walk that silently found nothing would pass every check below
    assert len(ENTRY_POINTS) > 300
    for name in ("solvers.highs.LinearModel.solve", "games.qre.logit_solve", "bandits.sequoia.Sequoia.train"):
        assert name in ENTRY_POINTS, name


def test_one_progress_hook():
    bad = [f"{name}({p})" for name, fn in ENTRY_POINTS.items()
           for p in inspect.signature(fn).parameters if p in FORBIDDEN]
    assert not bad, f"progress hooks other than callback: {bad}"


def test_shared_options_are_keyword_only():
    """Options never ride positionally behind the data. Exempt: the first parameter (a function
    whose data *is* the option, e.g. ``check_threads(threads)``), records' dataclass fields and
    Gymnasium-style ``reset(seed)``."""
    bad = []
    for name, fn in ENTRY_POINTS.items():
        params = [p for p in inspect.signature(fn).parameters.values() if p.name not in ("self", "cls")]
        if ((fn.__name__ == "__init__" and fn.__code__.co_filename == "<string>")  # a dataclass record
                or fn.__name__ == "reset" or name in DATA_NOT_OPTIONS):
            continue
        for p in params[1:]:
            if p.name in KEYWORD_ONLY and p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD):
                bad.append(f"{name}({p.name})")
    assert not bad, f"options that should be keyword-only: {bad}"


def test_seed_defaults_to_zero():
    """``seed=0`` unless stated: reproducible by default (``None`` asks for fresh entropy).
    Exempt: Gymnasium-style ``reset(seed=None)`` (None keeps the current random stream) and
    sentinels meaning "not given"."""
    bad = []
    for name, fn in ENTRY_POINTS.items():
        p = inspect.signature(fn).parameters.get("seed")
        if fn.__name__ == "reset" or (p is not None and type(p.default) is object):
            continue
        if p is not None and p.default is not p.empty and p.default != 0:
            bad.append(f"{name}(seed={p.default!r})")
    assert not bad, f"seed defaults other than 0: {bad}"


def test_training_entry_points_share_one_result_and_signature():
    trains = {name: fn for name, fn in ENTRY_POINTS.items()
              if name.rsplit(".", 1)[-1] == "train" or name.rsplit(".", 1)[-1].startswith("train_")}
    assert len(trains) >= 4, sorted(trains)
    bad = []
    for name, fn in trains.items():
        sig = inspect.signature(fn)
        ann = sig.return_annotation
        ann = ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))
        if "TrainingResult" not in ann:
            bad.append(f"{name} returns {ann}")
        for needed in ("callback", "time_limit"):
            if needed not in sig.parameters:
                bad.append(f"{name} has no {needed}")
    assert not bad, bad


def test_one_training_result_kind():
    others = [c.__qualname__ for c in _classes(SolveResult)
              if c is not TrainingResult and ("Train" in c.__name__ and "Result" in c.__name__)]
    assert not others, f"training result classes besides engine.TrainingResult: {others}"


def test_configs_and_results_are_frozen():
    for cls in list(_classes(TrainingConfig)) + list(_classes(SolveResult)):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls.__qualname__


def test_configs_reject_unknown_options():
    configs = [c for c in _classes(TrainingConfig) if c is not TrainingConfig]
    assert configs, "no algorithm defines a TrainingConfig"
    for cls in configs:
        with pytest.raises(engine.InvalidInputError, match="unknown option"):
            cls.resolve(None, {"no_such_option": 1}, f"{cls.__name__}()")
        default = cls.resolve(None, None, f"{cls.__name__}()")
        assert cls.from_dict(default.to_dict(), "load()") == default
