"""Corrupted copies of a checkpoint file, shared by every loader's tests (engine.checkpoint and the
algorithms that save through it): 20 seeded byte flips and truncations at a few points."""

from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pytest

from engine.errors import InvalidInputError


def assert_corruptions_refused(load: Callable[[Path], object], good: bytes, bad: Path,
                               cuts: Iterable[int] = ()) -> None:
    """Every corrupted copy of ``good`` written to ``bad`` makes ``load(bad)`` raise InvalidInputError
    naming the file."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        data = bytearray(good)
        i = int(rng.integers(len(data)))
        data[i] ^= int(rng.integers(1, 256))
        bad.write_bytes(bytes(data))
        with pytest.raises(InvalidInputError, match=bad.name):
            load(bad)
    for cut in sorted({0, 25, len(good) // 3, len(good) // 2, len(good) - 1, *cuts}):
        bad.write_bytes(good[:cut])
        with pytest.raises(InvalidInputError):
            load(bad)
