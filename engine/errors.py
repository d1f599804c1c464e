"""The engine's exception and warning hierarchy.

Every error the library raises on purpose derives from :class:`EngineError`, and the
input/type errors also derive from the matching builtin so that ``except ValueError``
keeps working for callers that do not know the engine.
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "InvalidInputError",
    "InvalidDocumentError",
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


class InvalidDocumentError(InvalidInputError):
    """A document (JSON, TOML) that cannot be parsed or exceeds a limit.

    Besides the message (which names the function, the file, the line and column and the JSON
    path), the parts are attributes: ``reason`` (the problem alone), ``source`` (file name or
    None), ``line`` and ``column`` (1-based, or None) and ``json_path`` (``"$['a'][0]"`` or "").
    """

    def __init__(self, message: str, *, reason: str = "", source: object = None, line: "int | None" = None,
                 column: "int | None" = None, json_path: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message
        self.source = source
        self.line = line
        self.column = column
        self.json_path = json_path


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
