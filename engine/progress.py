"""A rich progress bar as just another callback.

The library never prints: long runs emit :class:`engine.events.Progress` events, and the CLI
(or a user) installs :class:`RichProgress` to render them on stderr.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from engine.events import Event, Finished, Iteration, Progress

__all__ = ["RichProgress"]


class RichProgress:
    """Render Progress/Iteration events as a rich progress bar on stderr.

    Use as a context manager, and pass the instance as ``callback=`` (or ``progress=``).

    Examples
    --------
    >>> from engine.events import Progress
    >>> with RichProgress(disable=True) as bar:
    ...     bar(Progress("demo", completed=1, total=2))
    """

    def __init__(self, description: str = "", *, total: Optional[float] = None, disable: bool = False,
                 console: Any = None) -> None:
        self.description = description
        self.total = total
        self.disable = disable
        self._console = console
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> "RichProgress":
        if not self.disable:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as _RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            console = self._console or Console(file=sys.stderr)
            self._progress = _RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                           TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                                           transient=False)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __call__(self, event: Event) -> None:
        if self._progress is None:
            return
        if isinstance(event, Progress):
            kwargs: dict[str, Any] = {"completed": event.completed}
            if event.total is not None:
                kwargs["total"] = event.total
            if event.description:
                kwargs["description"] = event.description
            self._progress.update(self._task, **kwargs)
        elif isinstance(event, Iteration):
            self._progress.update(self._task, completed=event.nit)
        elif isinstance(event, Finished):
            self._progress.refresh()
