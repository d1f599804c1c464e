"""The public API type-checks with mypy (configuration in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["engine", "solvers", "games", "bandits", "planning"]


def test_packages_type_check():
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy", *PACKAGES], cwd=ROOT, capture_output=True, text=True,
                          timeout=500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_py_typed_markers_ship():
    for pkg in ("engine", "solvers", "games", "bandits", "planning"):
        assert (ROOT / pkg / "py.typed").exists(), pkg
