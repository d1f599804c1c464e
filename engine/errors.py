"""The engine's exception and warning hierarchy.

Every error the library raises on purpose derives from :class:`EngineError`, and the
input/type errors also derive from the matching builtin so that ``except ValueError``
keeps working for callers that do not know the engine.
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "InvalidInputError",
    "UnsupportedProblemError",
    "BackendError",
    "InfeasibleError",
    "UnboundedError",
    "SolveLimitError",
    "StoppedError",
    "EngineWarning",
    "UnknownOptionWarning",
]


class EngineError(Exception):
    """Base class of every exception raised by the engine."""


class InvalidInputError(EngineError, ValueError):
    """Bad data or options at a public entry point; the message names the function and value."""


class UnsupportedProblemError(EngineError, TypeError):
    """A method was handed a problem it cannot take (e.g. a 3-player game to Lemke-Howson)."""


class BackendError(EngineError, RuntimeError):
    """A solver library (HiGHS, OR-Tools, Pyomo, torch) failed in a way that is not a status."""


class InfeasibleError(EngineError):
    """Raised only by ``raise_for_status()`` on an INFEASIBLE result."""


class UnboundedError(EngineError):
    """Raised only by ``raise_for_status()`` on an UNBOUNDED result."""


class SolveLimitError(EngineError):
    """Raised only by ``raise_for_status()`` on a TIME_LIMIT / ITERATION_LIMIT result without a solution."""


class StoppedError(EngineError):
    """Raised only by ``raise_for_status()`` on a run a callback STOPPED."""


class EngineWarning(UserWarning):
    """Base class of the engine's warnings."""


class UnknownOptionWarning(EngineWarning):
    """An ``options=`` key that the backend does not know; it is ignored."""
