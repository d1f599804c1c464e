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
    """
    if n is None:
        yield
        return
    with _get_controller().limit(limits=int(n), user_api="blas"):
        yield
