"""One seed drives everything.

``seed`` may be an ``int``, a :class:`numpy.random.Generator` or ``None``. It is resolved once,
at the public boundary, to a non-negative integer ``root`` that is recorded in the result's
``params``; every random stream of a run (numpy, torch, the solvers' ``random_seed``) is derived
from ``root`` by :class:`numpy.random.SeedSequence` spawning with a fixed, named key, so the
streams are independent of each other and of the order in which they are requested.

What a seed guarantees: the same ``root`` and the same thread count give the same answer for
every single-threaded computation and for the solvers run single-threaded. Multi-threaded MIP
solves under a time limit are not bit-reproducible (the incumbent found before the deadline
depends on thread timing).
"""

from __future__ import annotations

import hashlib
import numbers
from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidInputError

__all__ = ["Seed", "resolve_seed", "derive_seed"]

_MAX_SEED = 2**63 - 1


def _key_ints(key: str) -> tuple[int, ...]:
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return (int.from_bytes(digest, "little"),)


def derive_seed(root: int, key: str, *, bits: int = 31) -> int:
    """An integer seed in ``[0, 2**bits)`` for the stream named ``key`` of run ``root``.

    HiGHS and CP-SAT take 31-bit seeds, torch takes 63-bit seeds.
    """
    ss = np.random.SeedSequence(entropy=root, spawn_key=_key_ints(key))
    words = ss.generate_state(2, dtype=np.uint32)
    value = (int(words[1]) << 32) | int(words[0])
    return value % (2**bits)


@dataclass(frozen=True)
class Seed:
    """A resolved seed: ``root`` is what results record."""

    root: int

    def generator(self, key: str = "numpy") -> np.random.Generator:
        """An independent numpy Generator for the stream named ``key``."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.root, spawn_key=_key_ints(key))))

    def int_seed(self, key: str, *, bits: int = 31) -> int:
        """An integer seed for a backend (HiGHS ``random_seed``, CP-SAT, torch, Numba)."""
        return derive_seed(self.root, key, bits=bits)

    def torch_generator(self, key: str = "torch", device: str = "cpu"):
        """A ``torch.Generator`` seeded from this run (imports torch lazily)."""
        import torch

        gen = torch.Generator(device=device)
        gen.manual_seed(self.int_seed(key, bits=63))
        return gen


def resolve_seed(seed: "int | np.random.Generator | Seed | None", *, where: str = "seed") -> Seed:
    """Resolve a user ``seed`` argument to a :class:`Seed`.

    ``None`` draws fresh OS entropy (and the drawn value is recorded, so the run can be
    repeated); a Generator contributes one draw; an int is used as is.

    Examples
    --------
    >>> resolve_seed(7).root
    7
    >>> resolve_seed(7).int_seed("highs") == resolve_seed(7).int_seed("highs")
    True
    """
    if type(seed) is int and seed >= 0:  # (the usual case, without the abstract-class checks)
        return Seed(seed)
    if isinstance(seed, Seed):
        return seed
    if seed is None:
        entropy = np.random.SeedSequence().entropy
        return Seed(int(entropy) % _MAX_SEED)  # type: ignore[arg-type]  # an int when drawn from the OS
    if isinstance(seed, np.random.Generator):
        return Seed(int(seed.integers(0, _MAX_SEED)))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise InvalidInputError(f"{where}: seed must be an int, a numpy Generator or None, got {seed!r}")
    if int(seed) < 0:
        raise InvalidInputError(f"{where}: seed must be >= 0, got {seed!r}")
    return Seed(int(seed))
