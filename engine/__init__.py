"""The engine's kernel: results and statuses, errors, seeding, callbacks, progress, I/O and CLI.

The kernel imports no domain package; ``engine-bench`` finds suites through the
``engine_bench.suites`` entry-point group.
"""

from engine.errors import (BackendError, EngineError, EngineWarning, InfeasibleError, InvalidDocumentError,
                           InvalidInputError, UnboundedError, UnsupportedProblemError)
from engine.events import Finished, Incumbent, Iteration, Progress
from engine.result import SolveResult
from engine.seeding import Seed, resolve_seed
from engine.status import Status
from engine.training import TrainingConfig, TrainingResult

__version__ = "0.1.0"

__all__ = [
    "SolveResult", "Status", "Seed", "resolve_seed", "EngineError", "InvalidInputError", "InvalidDocumentError",
    "UnsupportedProblemError", "BackendError", "InfeasibleError", "UnboundedError", "EngineWarning",
    "Iteration", "Incumbent", "Progress", "Finished", "TrainingConfig", "TrainingResult", "__version__",
]
