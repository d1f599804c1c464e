"""A rich progress bar as just another callback.

The library never prints: long runs emit :mod:`engine.events` (``Progress``, ``Iteration``), and
the CLI (or a user) installs :class:`RichProgress` as their ``callback`` to render them on stderr.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from engine.events import Event, Finished, Iteration, Progress

__all__ = ["RichProgress"]


class RichProgress:
    """Render Progress/Iteration events as rich progress bars on stderr, with an ETA.

    Use as a context manager and pass the instance as ``callback=``. The first source of
    :class:`~engine.events.Progress` events (``"engine-bench"``: runs of a suite, ``"sweep"``:
    runs of a sweep) drives the main bar; events of any other source (a training loop's episodes,
    an evaluation's steps, an exploration's explored share) drive a second bar for the work in
    progress, which restarts (and re-estimates its ETA) when the source or its description changes.

    :meth:`request_stop` (the CLI calls it on Ctrl-C) makes the next event raise
    ``StopIteration``, which stops the run with status ``STOPPED``, as any callback may.

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
        self._inner: Any = None
        self._main_source: Optional[str] = None
        self._inner_key: Optional[tuple] = None
        self._inner_has_total = False
        self._inner_completed = 0.0
        self._stop = False

    def __enter__(self) -> "RichProgress":
        if not self.disable:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as _RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            console = self._console or Console(file=sys.stderr)
            self._progress = _RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                           TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                           console=console, transient=False)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            if self._inner is not None:
                self._progress.update(self._inner, visible=False)
            self._progress.stop()
            self._progress = None

    def request_stop(self) -> None:
        """Make the next event raise ``StopIteration`` (the run in progress stops, status STOPPED)."""
        self._stop = True

    @property
    def stop_requested(self) -> bool:
        return self._stop

    def __call__(self, event: Event) -> None:
        if self._stop:
            raise StopIteration
        if self._progress is None:
            return
        if isinstance(event, Progress):
            if self._main_source is None:
                self._main_source = event.source
            if event.source == self._main_source:
                kwargs: dict[str, Any] = {"completed": event.completed}
                if event.total is not None:
                    kwargs["total"] = event.total
                if event.description:
                    kwargs["description"] = event.description
                self._progress.update(self._task, **kwargs)
                if self._inner is not None:  # a run finished or starts: its own bar starts afresh
                    self._progress.update(self._inner, visible=False)
                    self._inner_key = None
                return
            key = (event.source, event.description)
            if key != self._inner_key or event.completed < self._inner_completed:
                self._restart_inner(key, event.description or event.source, event.total)
            self._inner_has_total = True
            self._inner_completed = event.completed
            self._progress.update(self._inner, completed=event.completed,
                                  **({"total": event.total} if event.total is not None else {}))
        elif isinstance(event, Iteration):
            if self._inner_key is not None and self._inner_key[0] == event.source:
                if self._inner_has_total:
                    return  # the same loop also reports Progress (with a total): that drives the bar
            else:
                self._restart_inner((event.source, ""), event.source, None)
            self._inner_completed = event.nit
            self._progress.update(self._inner, completed=event.nit)
        elif isinstance(event, Finished):
            self._progress.refresh()

    def _restart_inner(self, key: tuple, description: str, total: Optional[float]) -> None:
        self._inner_key = key
        self._inner_has_total = False
        self._inner_completed = 0.0
        if self._inner is None:
            self._inner = self._progress.add_task(description, total=total)
        else:
            self._progress.reset(self._inner, total=total, completed=0, description=description, visible=True)
