"""The one protocol of every algorithm that learns: a validated config and one result kind.

* :class:`TrainingConfig` - base of the frozen, validated settings dataclass each algorithm
  defines (``SequoiaConfig``, ``SubPOConfig``, ``QARLConfig``, ...). It is accepted as
  ``config=`` and overridable by keyword (:meth:`TrainingConfig.resolve`), recorded in the result's
  ``params["config"]`` and in every checkpoint (:meth:`TrainingConfig.to_dict` /
  :meth:`TrainingConfig.from_dict`, which refuses unknown keys).
* :class:`TrainingResult` - what every ``train(...)`` returns: the trained ``model`` (kept out of
  JSON; save it with its own ``save``), the number of ``episodes`` (or steps) trained, per-episode
  curves in ``history`` (name -> array), the ``checkpoints`` written and solver ``stats``.

A run that used its whole budget normally finishes FEASIBLE (the policy is a valid answer, not a
proven optimum); a time limit gives TIME_LIMIT, a callback stop (``StopIteration``) STOPPED, and
in both cases the model trained so far is returned.

Examples
--------
>>> from dataclasses import dataclass
>>> from engine.training import TrainingConfig
>>> from engine.validation import check_int
>>> @dataclass(frozen=True)
... class MyConfig(TrainingConfig):
...     episodes: int = 10
...     def validated(self, where):
...         return self.replace_fields(episodes=check_int(self.episodes, "episodes", where, lower=1))
>>> MyConfig.resolve(None, {"episodes": 3}, "train()").episodes
3
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, TypeVar

import numpy as np

from engine.errors import InvalidInputError
from engine.result import SolveResult
from engine.validation import short_repr

__all__ = ["TrainingConfig", "TrainingResult"]

C = TypeVar("C", bound="TrainingConfig")


@dataclass(frozen=True)
class TrainingConfig:
    """Base of the algorithms' settings dataclasses (frozen; validated by :meth:`resolve`).

    A subclass declares its fields with defaults and overrides :meth:`validated`, which checks
    every field and returns a normalised copy (``self.replace_fields(...)``); it raises
    :class:`~engine.errors.InvalidInputError` naming ``where`` and the offending value.
    """

    def validated(self: C, where: str) -> C:
        """Check every field; return the normalised config. The base accepts everything."""
        return self

    def replace_fields(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (no validation; :meth:`resolve` validates)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (JSON data when the fields are)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def resolve(cls: type[C], config: Any, overrides: Optional[Mapping[str, Any]], where: str) -> C:
        """``config`` (an instance of this class, or None for the defaults) with keyword
        ``overrides`` applied, validated. Unknown option names are an error."""
        if config is None:
            config = cls()
        if not isinstance(config, cls):
            raise InvalidInputError(f"{where}: config must be a {cls.__name__}, got {type(config).__name__}")
        overrides = dict(overrides or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise InvalidInputError(f"{where}: unknown option(s) {unknown}; {cls.__name__} has {sorted(names)}")
        return dataclasses.replace(config, **overrides).validated(where) if overrides else config.validated(where)

    @classmethod
    def from_dict(cls: type[C], data: Any, where: str) -> C:
        """Rebuild a config written by :meth:`to_dict` (a checkpoint's); unknown keys are refused,
        missing keys take their defaults, every value is validated."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{where}: the config must be a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        bad = [k for k in data if not isinstance(k, str) or k not in names]
        if bad:
            raise InvalidInputError(f"{where}: unknown config key(s) {short_repr(bad)} for {cls.__name__}")
        return cls.resolve(None, dict(data), where)


@dataclass(frozen=True, kw_only=True)
class TrainingResult(SolveResult, kind="TrainingResult"):
    """What every training entry point returns (one kind for all algorithms).

    Attributes
    ----------
    model : object
        The trained agent or policy (``save(path)`` / ``load(path)`` on it); not written to JSON.
    episodes : int
        Episodes (or environment steps, as the algorithm documents) trained in total, resumed
        runs included.
    history : Mapping[str, numpy.ndarray]
        Per-episode curves by name (``"return"`` always; algorithms add theirs, e.g.
        ``"explored"``, ``"temperature"``).
    checkpoints : tuple of str
        Checkpoint files written during the run.
    stats : Mapping[str, Any]
        Counters of the run (solver calls, proven argmaxes, fallbacks, ...).
    """

    model: Any = None
    episodes: int = 0
    history: Mapping[str, Any] = field(default_factory=dict)
    checkpoints: tuple = ()
    stats: Mapping[str, Any] = field(default_factory=dict)

    def curve(self, name: str = "return") -> np.ndarray:
        """One curve of :attr:`history` as a float array (empty when absent)."""
        return np.asarray(self.history.get(name, ()), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["model"] = None  # torch modules are saved with model.save(), not as JSON
        return d
