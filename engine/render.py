"""How the CLI renders rows of results: a rich table that fits the terminal, JSON or CSV text
(:func:`render`). Used by ``engine-bench run``, ``solve`` and ``list``; the library never prints.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from typing import Any, Mapping, Optional, Sequence

from rich.console import Console
from rich.table import Table

__all__ = ["render", "KEY_COLUMNS"]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"  # not available (an SEM over one seed, a gap without a bound)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return "" if value is None else str(value)


#: Columns that name a row: never wrapped or cut, so rows stay distinguishable at any width.
KEY_COLUMNS = ("suite", "case", "family", "method", "map", "planner", "key", "sweep")
_LEFT_COLUMNS = KEY_COLUMNS + ("status", "error", "description", "options", "change")


def _table_width() -> Optional[int]:
    """The terminal's width when stdout is one (or ``COLUMNS`` is set), else None: a table piped
    to a file or another program keeps its natural width."""
    if os.environ.get("COLUMNS", "").strip().isdigit():
        return int(os.environ["COLUMNS"])
    stream = sys.stdout
    try:
        if stream is not None and stream.isatty():
            from rich.console import Console

            return Console(file=stream).width
    except (AttributeError, ValueError):
        pass
    return None


def _key_columns(columns: Sequence[str], text: Mapping[str, Sequence[str]], n_rows: int) -> list[str]:
    """The columns that name the rows: candidates (:data:`KEY_COLUMNS`, then ``seed``) in table order,
    as few as make every row distinct (``case`` alone for runs; ``case`` and ``method`` for a summary)."""
    candidates = [c for c in columns if c in KEY_COLUMNS] + [c for c in columns if c == "seed"]
    keys: list[str] = []
    for col in candidates:
        keys.append(col)
        if len({tuple(text[k][i] for k in keys) for i in range(n_rows)}) == n_rows:
            break
    return keys or list(columns[:1])


def render(rows: Sequence[Mapping[str, Any]], fmt: str, *, title: str = "", width: Optional[int] = None) -> str:
    """Render rows as ``table`` (rich), ``json`` or ``csv`` text.

    A table fits ``width`` columns (default: the terminal's width, see :func:`_table_width`;
    its natural width when stdout is not a terminal): the key columns (:func:`_key_columns`) are
    never wrapped, cut or dropped; the other columns keep whole values, and those on the right
    that do not fit are left out (the caption names them). Missing values (NaN) show as ``—``.
    """
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
    text = {c: [_fmt(row.get(c)) for row in rows] for c in columns}
    keys = _key_columns(columns, text, len(rows))
    longest = {c: max([0] + [max((len(line) for line in v.splitlines()), default=0) for v in text[c]])
               for c in columns}
    if width is None:
        width = _table_width()
    shown = list(columns)
    dropped: list[str] = []
    if width is not None:
        def need(cols: Sequence[str]) -> int:  # every value whole, headers wrapped to 12 characters
            return 1 + sum(3 + max(longest[c], min(len(c), 12)) for c in cols)

        while need(shown) > width and any(c not in keys for c in shown):
            victim = next(c for c in reversed(shown) if c not in keys)
            shown.remove(victim)
            dropped.insert(0, victim)
    caption = (f"not shown at this width: {', '.join(dropped)} (--format json or csv has every column)"
               if dropped else None)
    table = Table(title=title or None, caption=caption)
    for col in shown:
        justify: Any = "left" if col in _LEFT_COLUMNS else "right"
        if col in keys:
            table.add_column(col, justify=justify, no_wrap=True, min_width=max(longest[col], len(col)))
        else:
            table.add_column(col, justify=justify, overflow="fold", min_width=longest[col])
    for i in range(len(rows)):
        table.add_row(*(text[c][i] for c in shown))
    natural = Console(width=100_000, color_system=None).measure(table).maximum
    buf = io.StringIO()
    Console(file=buf, width=max(20, natural if width is None else min(width, natural)), force_terminal=False,
            color_system=None).print(table)
    return buf.getvalue()
