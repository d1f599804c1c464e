"""Thread limits for the BLAS libraries numpy and scipy call.

Hot loops that multiply many small matrices (a 1 700 x 32 batch through a 32 x 32 layer, a few
hundred times per decision) run fastest on one BLAS thread: OpenBLAS's threads cost more to wake
than such a product takes, and on a machine whose cores are busy they spin and slow everything
down by several times. :func:`blas_threads` limits the BLAS pools for the duration of a block and
restores them afterwards; it is a no-op where the limit is None.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

from engine.validation import check_int

__all__ = ["blas_threads"]

_controller: Any = None


def _get_controller() -> Any:
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()     # inspecting the loaded libraries once is the slow part
    return _controller


@contextlib.contextmanager
def blas_threads(n: Optional[int]) -> Iterator[None]:
    """Run the block with at most ``n`` BLAS threads (None: leave the setting alone).

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
    limit = check_int(n, "n", "blas_threads()", lower=1)
    with _get_controller().limit(limits=limit, user_api="blas"):
        yield
