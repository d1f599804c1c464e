"""The engine's thread policy: how many threads BLAS, OpenMP, torch and Numba may use inside a call.

Policy
------
Every hot path of the engine (logit QRE, Nash equilibria, normal-form payoff contractions,
Markov games, ...) runs its numerical work inside :func:`limit`, which sets the thread pools
for the duration of the call and puts the user's settings back afterwards:

* BLAS and OpenMP pools of the loaded libraries (OpenBLAS, MKL, BLIS, libgomp, ...), through
  threadpoolctl's library controllers, the same mechanism as ``threadpoolctl.threadpool_limits``;
* torch's intra-op threads (``torch.set_num_threads``), when torch is already imported;
* Numba's parallel kernels (``numba.set_num_threads``), when Numba's threading layer is running
  (the policy never starts it, and never imports torch or Numba itself).

The default is :data:`DEFAULT_THREADS` = 1. The engine's hot loops factorise and multiply many
small matrices (tens to a few hundred rows): a multi-threaded BLAS wakes its threads for every
one of them, which costs more than the product itself, and on a machine whose cores are busy
with other processes the woken threads wait for a core and spin, which made a 80 x 80 logit QRE
100 to 300 times slower than on one thread. One thread is never much slower on such work and
is robust to load. Pass ``threads=k`` to a function that takes it (``logit_solve(...,
threads=4)``) for large dense work on an idle machine, or change the engine-wide default with
:func:`set_default_threads`. ``threads`` means the same everywhere: the number of threads each
of the pools above may use during the call.

Nothing is changed process-wide: the settings are applied on entry and restored on exit (no
environment variables are touched), so code outside the engine's calls keeps the user's
settings, e.g. those of an enclosing ``threadpoolctl.threadpool_limits`` block. Calls nest: an
engine function called by another one runs under the outer call's setting unless it is given
``threads=`` itself. Calls running at the same time in several Python threads share one
process-wide setting (the BLAS libraries have one); the first to enter applies it and the last
to leave restores the user's.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from typing import Any, Callable, Iterator, Optional, TypeVar

from engine.validation import check_int

__all__ = ["DEFAULT_THREADS", "limit", "hot_path", "blas_threads", "default_threads", "set_default_threads",
           "current_threads", "check_threads"]

#: Threads each pool may use inside an engine call when the caller gives no ``threads=``.
DEFAULT_THREADS = 1

_default = DEFAULT_THREADS
_lock = threading.Lock()
_depth = 0                      # engine calls currently inside limit() (all Python threads)
_current: Optional[int] = None  # the setting in force while _depth > 0
_saved: list = []               # (setter, value) pairs that restore the user's settings
_controller: Any = None
_controller_key = -1
_pools: list = []               # (get, set) of every BLAS / OpenMP pool of _controller

F = TypeVar("F", bound=Callable[..., Any])


def _get_controller() -> Any:
    """threadpoolctl's controller of the loaded libraries, rescanned when modules were imported
    since the last scan (a scan takes milliseconds; a new import may load a BLAS or OpenMP)."""
    global _controller, _controller_key, _pools
    key = len(sys.modules)
    if _controller is None or key != _controller_key:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        _controller_key = key
        _pools = [_pool(lib) for lib in _controller.lib_controllers]
    return _controller


def _pool(lib: Any) -> tuple:
    """``(get, set)`` of one library's thread count: its own C functions where they are known
    (a call costs a fraction of a microsecond), else threadpoolctl's methods."""
    try:
        if lib.internal_api == "openblas":
            pre, suf = lib._symbol_prefix, lib._symbol_suffix
            return (getattr(lib.dynlib, f"{pre}openblas_get_num_threads{suf}"),
                    getattr(lib.dynlib, f"{pre}openblas_set_num_threads{suf}"))
        if lib.internal_api == "openmp":
            return lib.dynlib.omp_get_max_threads, lib.dynlib.omp_set_num_threads
    except AttributeError:  # pragma: no cover - an unusual build: use the generic methods
        pass
    return lib.get_num_threads, lib.set_num_threads


def default_threads() -> int:
    """The engine-wide default (:data:`DEFAULT_THREADS` unless :func:`set_default_threads` changed it)."""
    return _default


def set_default_threads(n: int) -> int:
    """Set the engine-wide default number of threads; returns the previous default.

    Examples
    --------
    >>> old = set_default_threads(2)
    >>> default_threads()
    2
    >>> _ = set_default_threads(old)
    """
    global _default
    value = check_int(n, "n", "set_default_threads()", lower=1)
    with _lock:
        old, _default = _default, value
    return old


def current_threads() -> Optional[int]:
    """The setting in force inside an engine call, None outside one."""
    return _current if _depth > 0 else None


def check_threads(threads: Any, where: str) -> Optional[int]:
    """A ``threads`` option: None or an int >= 1 (:class:`~engine.errors.InvalidInputError` otherwise)."""
    if threads is None:
        return None
    return check_int(threads, "threads", where, lower=1)


def _apply(n: int) -> list:
    """Set every pool to ``n``; returns what restores the previous values (only those changed)."""
    if _controller is None or len(sys.modules) != _controller_key:
        _get_controller()
    undo = []
    for get, set_ in _pools:
        try:
            before = get()
        except Exception:  # pragma: no cover - a library without a readable setting
            continue
        if before != n and before is not None:
            set_(n)
            undo.append((set_, before))
    modules = sys.modules
    torch = modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        before = torch.get_num_threads()
        if before != n:
            torch.set_num_threads(n)
            undo.append((torch.set_num_threads, before))
    numba = modules.get("numba")
    if numba is not None and _numba_running(numba):
        before = numba.get_num_threads()
        m = min(n, int(getattr(numba.config, "NUMBA_NUM_THREADS", n)))
        if before != m:
            numba.set_num_threads(m)
            undo.append((numba.set_num_threads, before))
    return undo


_numba_parallel: Any = None


def _numba_running(numba: Any) -> bool:
    """Whether Numba's threading layer has been started (the policy never starts it)."""
    global _numba_parallel
    if _numba_parallel is None:
        _numba_parallel = sys.modules.get("numba.np.ufunc.parallel")
        if _numba_parallel is None:
            return False
    return bool(getattr(_numba_parallel, "_is_initialized", False))


def _undo(undo: list) -> None:
    for setter, value in reversed(undo):
        try:
            setter(value)
        except Exception:  # pragma: no cover - restoring must not mask the call's own outcome
            pass


def _enter(n: Optional[int]) -> tuple:
    """Apply the policy (``n`` already checked); returns the token :func:`_exit` needs."""
    global _depth, _current, _saved
    token: tuple
    with _lock:
        if _depth:
            if n is None or n == _current:
                token = (_current, (), _current)
            else:
                token = (_current, _apply(n), n)
        else:
            if n is None:
                n = _default
            _saved = _apply(n)
            token = (None, (), n)
        _current = token[2]
        _depth += 1
    return token


def _exit(token: tuple) -> None:
    global _depth, _current, _saved
    with _lock:
        _depth -= 1
        _current = token[0]
        if _depth:
            undo = token[1]
        else:
            undo, _saved = _saved, []
        if undo:
            _undo(undo)


class limit:
    """Run the block under the engine's thread policy; ``as`` gives the number of threads in force.

    ``threads=None`` means the engine default (:func:`default_threads`) at the outermost engine
    call and the enclosing call's setting inside one. An int applies that many threads to every
    pool for the block. The previous settings are restored on exit.

    Examples
    --------
    >>> with limit() as n:
    ...     n
    1
    >>> with limit(2) as n, limit() as inner:
    ...     n, inner
    (2, 2)
    >>> with limit(0):
    ...     pass
    Traceback (most recent call last):
    ...
    engine.errors.InvalidInputError: engine.threads.limit(): threads must be >= 1, got 0
    """

    __slots__ = ("_n", "_token")

    def __init__(self, threads: Optional[int] = None, *, where: str = "engine.threads.limit()") -> None:
        self._n = check_threads(threads, where)
        self._token: Any = None

    def __enter__(self) -> int:
        self._token = _enter(self._n)
        return self._token[2]

    def __exit__(self, *exc: Any) -> None:
        _exit(self._token)


def hot_path(func: F) -> F:
    """Decorator: run ``func`` under :func:`limit`, with its keyword argument ``threads`` (if any).

    The check of ``threads`` names the function (``"logit_solve(): threads must be >= 1"``).
    """
    where = f"{func.__name__}()"

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        n = kwargs.get("threads")
        token = _enter(None if n is None else check_threads(n, where))
        try:
            return func(*args, **kwargs)
        finally:
            _exit(token)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def blas_threads(n: Optional[int]) -> Iterator[None]:
    """Run the block with at most ``n`` threads per pool (None: leave the setting alone).

    The older spelling of :func:`limit` with an explicit count (kept for ``NetworkMIP``).

    Examples
    --------
    >>> import numpy as np
    >>> with blas_threads(1):
    ...     float((np.ones((64, 64)) @ np.ones(64)).sum())
    4096.0
    >>> with blas_threads(0):
    ...     pass
    Traceback (most recent call last):
    ...
    engine.errors.InvalidInputError: blas_threads(): n must be >= 1, got 0
    """
    if n is None:
        yield
        return
    count = check_int(n, "n", "blas_threads()", lower=1)
    with limit(count, where="blas_threads()"):
        yield
