"""Run code in a child process whose address space is capped, shared by the size-limit tests."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_capped(code: str, cap_mib: int = 1536) -> str:
    """Run ``code`` in a child whose address space is capped (RLIMIT_AS); return its stdout.

    The cap is far above what the imports need (~400 MiB) and far below what the old readers
    asked for, so a reader that allocates a declared size dies with MemoryError instead of
    taking the machine down; the child prints what came out.
    """
    prelude = ("import resource\n"
               f"cap = {cap_mib} * 2 ** 20\n"
               "resource.setrlimit(resource.RLIMIT_AS, (cap, cap))\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout
