"""HiGHS instances and options: a silent ``highspy.Highs`` (:func:`_new_highs`), the options a user may
pass (:data:`HIGHS_OPTIONS`) and their validation against HiGHS itself (:func:`validate_highs_options`).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from typing import Any, Mapping, Optional

import numpy as np

from engine.errors import InvalidInputError
from engine.validation import check_options

__all__ = ["HIGHS_OPTIONS", "validate_highs_options"]


#: HiGHS options a user may pass through ``options=`` (others warn and are ignored).
HIGHS_OPTIONS = frozenset({
    "presolve", "solver", "parallel", "run_crossover", "simplex_strategy", "primal_feasibility_tolerance",
    "dual_feasibility_tolerance", "mip_feasibility_tolerance", "mip_max_nodes", "mip_heuristic_effort",
    "mip_detect_symmetry", "mip_max_leaves", "mip_max_improving_sols", "objective_bound", "objective_target",
    "simplex_iteration_limit", "ipm_iteration_limit", "mip_pool_soft_limit", "mip_lp_age_limit",
    "output_flag", "log_to_console", "small_matrix_value", "large_matrix_value", "infinite_bound",
    "infinite_cost", "mip_improving_solution_save", "random_seed", "mip_allow_restart", "mip_min_cliquetable_entries_for_parallelism",
})

_banner_lock = threading.Lock()
_banner_done = False


def _new_highs():
    """A silent ``highspy.Highs``. HiGHS prints a banner to the C-level stdout on the first
    construction in a process; the library never prints, so that one construction runs with
    file descriptor 1 pointed at /dev/null."""
    global _banner_done
    import highspy

    with _banner_lock:
        if not _banner_done:
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
            _banner_done = True
        else:
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    return h


_option_lock = threading.Lock()
_option_probe: Any = None
_option_docs: Optional[dict[str, str]] = None


def _highs_option_docs() -> dict[str, str]:
    """HiGHS's own description of each option (type, range, allowed values), read once from
    ``writeOptions``, for error messages."""
    global _option_docs
    if _option_docs is None:
        import tempfile

        docs: dict[str, str] = {}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "options.txt")
            _new_highs().writeOptions(path)
            with open(path, encoding="utf-8", errors="replace") as fh:
                comments: list[str] = []
                for line in fh:
                    line = line.strip()
                    if line.startswith("#"):
                        comments.append(line.lstrip("# ").strip())
                    elif "=" in line:
                        docs[line.split("=", 1)[0].strip()] = "; ".join(comments[-2:])
                        comments = []
        _option_docs = docs
    return _option_docs


def validate_highs_options(options: Optional[Mapping[str, Any]], where: str) -> dict[str, Any]:
    """Backend ``options`` checked against HiGHS itself: unknown keys warn and are dropped (as
    everywhere in the engine); a value of the wrong type or outside HiGHS's range raises
    :class:`~engine.errors.InvalidInputError` naming the option and HiGHS's allowed values.

    Examples
    --------
    >>> validate_highs_options({"presolve": "off"}, "f()")
    {'presolve': 'off'}
    >>> validate_highs_options({"mip_max_nodes": -5}, "f()")
    Traceback (most recent call last):
    ...
    engine.errors.InvalidInputError: f(): options['mip_max_nodes'] = -5 is not accepted by HiGHS (MIP solver max number of nodes; [type: integer, advanced: false, range: {0, 2147483647}, default: 2147483647])
    """
    global _option_probe
    extra = check_options(options, HIGHS_OPTIONS, where)
    if not extra:
        return extra
    import highspy

    with _option_lock:
        if _option_probe is None:
            _option_probe = _new_highs()
        probe = _option_probe
        for key, value in extra.items():
            kind = _option(probe, key)
            ok = True
            if isinstance(kind, bool):
                ok = isinstance(value, (bool, np.bool_))
            elif isinstance(kind, (int, np.integer)) and not isinstance(kind, bool):
                ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
            elif isinstance(kind, float):
                ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
                      and not math.isnan(float(value)))
            elif isinstance(kind, str):
                ok = isinstance(value, str)
            if ok:
                try:
                    before = _option(probe, key)
                    status = probe.setOptionValue(key, value)
                    ok = status != highspy.HighsStatus.kError
                    probe.setOptionValue(key, before)
                except (TypeError, ValueError, OverflowError):
                    ok = False
            if not ok:
                doc = _highs_option_docs().get(key, "")
                raise InvalidInputError(f"{where}: options[{key!r}] = {value!r} is not accepted by HiGHS ({doc})")
            if isinstance(value, (np.integer, np.floating, np.bool_)):
                extra[key] = value.item()
    return extra


def _option(h: Any, name: str) -> Any:
    """An option's value (highspy returns ``(status, value)`` from getOptionValue)."""
    value = h.getOptionValue(name)
    return value[1] if isinstance(value, tuple) else value
