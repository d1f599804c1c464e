"""Callback events and the one helper that delivers them.

A ``callback`` option receives small frozen event objects. Raising :class:`StopIteration`
inside the callback stops the run, which then returns its best answer so far with status
``STOPPED``. Progress bars are callbacks too (see :mod:`engine.progress`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

__all__ = ["Event", "Iteration", "Incumbent", "Progress", "Finished", "Callback", "emit", "chain"]


@dataclass(frozen=True)
class Event:
    """Base of every callback event; ``source`` names the function that emitted it."""

    source: str


@dataclass(frozen=True)
class Iteration(Event):
    """One iteration of an iterative method (Newton step, training episode, ...)."""

    nit: int
    objective: float = float("nan")
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Incumbent(Event):
    """A new best solution (MIP incumbent, greedy pick, ...)."""

    objective: float
    bound: float = float("nan")
    x: Any = None


@dataclass(frozen=True)
class Progress(Event):
    """``completed`` of ``total`` units of work done (``total`` may be None when unknown)."""

    completed: float
    total: Optional[float] = None
    description: str = ""


@dataclass(frozen=True)
class Finished(Event):
    """The run finished; ``result`` is its result object."""

    result: Any = None


Callback = Callable[[Event], Any]


def emit(callback: Optional[Callback], event: Event) -> bool:
    """Deliver ``event``; return True when the callback asked to stop (raised StopIteration)."""
    if callback is None:
        return False
    try:
        callback(event)
    except StopIteration:
        return True
    return False


def chain(*callbacks: Optional[Callback]) -> Optional[Callback]:
    """One callback that calls each non-None callback in turn (all see every event)."""
    active = [cb for cb in callbacks if cb is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    def _chained(event: Event) -> None:
        stop = False
        for cb in active:
            stop = emit(cb, event) or stop
        if stop:
            raise StopIteration

    return _chained
