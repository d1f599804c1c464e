"""Normal-form (strategic-form) games with N players."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, cast

import numpy as np
from numba import njit

from engine.errors import InvalidInputError
from engine.schemas import load_document
from engine.seeding import resolve_seed
from engine.threads import limit
from engine.validation import as_float_array, check_int, check_real

__all__ = ["NormalFormGame", "random_game", "as_profile", "check_game"]


def _real_array(value: Any, name: str, where: str, **kwargs: Any) -> np.ndarray:
    """``as_float_array`` that refuses complex numbers (numpy would silently drop their
    imaginary parts when casting to float)."""
    if isinstance(value, np.ndarray):
        probe: Optional[np.ndarray] = value
    else:
        try:
            probe = np.asarray(value)
        except (ValueError, TypeError):
            probe = None  # ragged or odd: as_float_array reports it
    if probe is not None:
        if np.iscomplexobj(probe) or (probe.dtype == object and any(
                isinstance(v, (complex, np.complexfloating)) for v in probe.ravel())):
            raise InvalidInputError(f"{where}: {name} must be real, got complex values")
        if probe.dtype.kind in "biuf":
            value = probe  # converted once
    return as_float_array(value, name, where, **kwargs)


@dataclass(frozen=True, eq=False)
class NormalFormGame:
    """An N-player game in strategic form.

    Attributes
    ----------
    payoffs : tuple of numpy.ndarray
        ``payoffs[p][s_1, ..., s_N]`` is player ``p``'s payoff; every array has shape
        ``(n_1, ..., n_N)``. Arrays are read-only.
    strategies : tuple of tuple of str
        Strategy labels per player.
    players : tuple of str
        Player names.
    title, comment : str
        As in Gambit ``.nfg`` files.

    Examples
    --------
    >>> import numpy as np
    >>> g = NormalFormGame.from_arrays([[1, -1], [-1, 1]], [[-1, 1], [1, -1]], title="Matching pennies")
    >>> g.shape, g.n_players, g.is_zero_sum()
    ((2, 2), 2, True)
    >>> g.max_regret([[0.5, 0.5], [0.5, 0.5]])
    0.0
    """

    payoffs: tuple
    strategies: tuple = ()
    players: tuple = ()
    title: str = ""
    comment: str = ""

    def __post_init__(self) -> None:
        where = "NormalFormGame()"
        if not isinstance(self.payoffs, (list, tuple)) or len(self.payoffs) == 0:
            raise InvalidInputError(f"{where}: payoffs must be a non-empty list of arrays, one per player")
        arrays = [_real_array(a, f"payoffs[{p}]", where) for p, a in enumerate(self.payoffs)]
        n_players = len(arrays)
        shape = arrays[0].shape
        for p, a in enumerate(arrays):
            if a.shape != shape:
                raise InvalidInputError(f"{where}: payoffs[{p}] has shape {a.shape}, payoffs[0] has {shape}")
        if len(shape) != n_players:
            raise InvalidInputError(f"{where}: {n_players} players need {n_players}-dimensional payoff arrays, "
                                    f"got shape {shape}")
        if any(n < 1 for n in shape):
            raise InvalidInputError(f"{where}: every player needs at least one strategy, got shape {shape}")
        for name in ("players", "strategies"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, (str, bytes)) or not hasattr(value, "__len__")):
                raise InvalidInputError(f"{where}: {name} must be a sequence (one entry per player), got {value!r}")
        given_players = self.players is not None and len(self.players) > 0
        players = tuple(str(p) for p in self.players) if given_players else tuple(f"Player {p + 1}"
                                                                                for p in range(n_players))
        if len(players) != n_players:
            raise InvalidInputError(f"{where}: {len(players)} player names for {n_players} players")
        if self.strategies is not None and len(self.strategies) > 0:
            if any(isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__") for labels in self.strategies):
                raise InvalidInputError(f"{where}: strategies must hold one sequence of labels per player, "
                                        f"got {self.strategies!r}")
            strategies = tuple(tuple(str(s) for s in labels) for labels in self.strategies)
            if len(strategies) != n_players or any(len(s) != n for s, n in zip(strategies, shape)):
                raise InvalidInputError(f"{where}: strategy labels {[len(s) for s in strategies]} do not match "
                                        f"shape {shape}")
        else:
            strategies = tuple(tuple(str(i + 1) for i in range(n)) for n in shape)
        # One read-only (N, K) array holds every payoff (C order over the contingencies); the
        # per-player arrays are views of it, so the compiled kernels take it without a copy.
        flat = np.empty((n_players, int(np.prod(shape))), dtype=np.float64)
        for p, a in enumerate(arrays):
            flat[p] = a.reshape(-1)
        flat.setflags(write=False)
        object.__setattr__(self, "payoffs", tuple(flat[p].reshape(shape) for p in range(n_players)))
        dims = np.array(shape, dtype=np.int64)
        offsets = np.zeros(n_players + 1, dtype=np.int64)
        np.cumsum(dims, out=offsets[1:])
        object.__setattr__(self, "_flat", (flat, dims, offsets))
        object.__setattr__(self, "players", players)
        object.__setattr__(self, "strategies", strategies)
        object.__setattr__(self, "title", str(self.title or ""))
        object.__setattr__(self, "comment", str(self.comment or ""))
        # arrays derived from the (read-only) payoffs once, for the solvers' inner loops
        object.__setattr__(self, "_derived", {})

    @classmethod
    def from_arrays(cls, *arrays: Any, title: Optional[str] = None, players: Optional[Sequence[str]] = None,
                    strategies: Optional[Sequence[Sequence[str]]] = None, comment: str = "") -> "NormalFormGame":
        """A game from one payoff array per player (``from_arrays(A, B)`` for a bimatrix game)."""
        # __post_init__ validates and normalises any sequence into tuples
        return cls(tuple(arrays), strategies=cast(tuple, strategies) if strategies is not None else (),
                   players=cast(tuple, players) if players is not None else (), title=title or "", comment=comment)

    @classmethod
    def zero_sum(cls, A: Any, *, title: Optional[str] = None) -> "NormalFormGame":
        """The two-player zero-sum game with row-player payoff matrix ``A``."""
        A = _real_array(A, "A", "NormalFormGame.zero_sum()", ndim=2)
        return cls.from_arrays(A, -A, title=title)

    # ------------------------------------------------------------------ shape
    @property
    def n_players(self) -> int:
        return len(self.payoffs)

    @property
    def shape(self) -> tuple:
        return self.payoffs[0].shape

    @property
    def n_contingencies(self) -> int:
        return int(np.prod(self.shape))

    def payoff_tensor(self) -> np.ndarray:
        """All payoffs as one array of shape ``(N, n_1, ..., n_N)``."""
        return np.stack(self.payoffs)

    def _payoff_total(self) -> np.ndarray:
        total = self.payoffs[0].copy()
        for a in self.payoffs[1:]:
            total += a  # the same order of additions as summing the stacked tensor over axis 0
        return total

    def is_constant_sum(self, tol: float = 1e-12) -> bool:
        total = self._payoff_total()
        return bool(total.max() - total.min() <= tol * max(1.0, np.abs(total).max()))

    def is_zero_sum(self, tol: float = 1e-12) -> bool:
        total = self._payoff_total()
        return bool(np.abs(total).max() <= tol * max(1.0, max(np.abs(a).max() for a in self.payoffs)))

    def to_dict(self) -> dict[str, Any]:
        """The game as a ``gameplan/game`` v1 JSON document (see ``engine.schemas``)."""
        return {"schema": "gameplan/game", "version": 1, "title": self.title, "comment": self.comment,
                "players": list(self.players), "strategies": [list(s) for s in self.strategies],
                "payoffs": [a.tolist() for a in self.payoffs]}

    @classmethod
    def from_dict(cls, source: Any) -> "NormalFormGame":
        """A game from a ``gameplan/game`` document (a mapping, JSON text or a path), validated
        against its schema and migrated from older versions.

        Examples
        --------
        >>> g = NormalFormGame.from_arrays([[1, 0]], [[0, 1]], title="t")
        >>> NormalFormGame.from_dict(g.to_dict()) == g
        True
        """
        doc = load_document(source, expected="gameplan/game", where="NormalFormGame.from_dict()")
        return cls(tuple(doc["payoffs"]), strategies=tuple(doc.get("strategies", ())),
                   players=tuple(doc.get("players", ())), title=doc.get("title", ""), comment=doc.get("comment", ""))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NormalFormGame):
            return NotImplemented
        return (self.shape == other.shape and self.players == other.players and self.strategies == other.strategies
                and self.title == other.title and self.comment == other.comment
                and all(np.array_equal(a, b) for a, b in zip(self.payoffs, other.payoffs)))

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ evaluation
    def strategy_payoffs(self, profile: Any) -> list[np.ndarray]:
        """``u[p][s]``: player ``p``'s expected payoff of pure strategy ``s`` against the others' mix."""
        prof = as_profile(self, profile, "NormalFormGame.strategy_payoffs()")
        with limit():
            return _split(self, strategy_payoffs_flat(self, np.concatenate(prof)))

    def expected_payoffs(self, profile: Any) -> np.ndarray:
        """Each player's expected payoff under the mixed profile."""
        prof = as_profile(self, profile, "NormalFormGame.expected_payoffs()")
        with limit():
            return expected_payoffs_flat(self, np.concatenate(prof))

    def regrets(self, profile: Any) -> np.ndarray:
        """Per player: best pure-strategy payoff minus the profile's expected payoff (>= 0)."""
        prof = as_profile(self, profile, "NormalFormGame.regrets()")
        with limit():
            return regrets_flat(self, np.concatenate(prof))

    def max_regret(self, profile: Any) -> float:
        """The largest gain any player gets by deviating unilaterally (0 at a Nash equilibrium)."""
        return float(self.regrets(profile).max())


def check_game(game: Any, where: str) -> NormalFormGame:
    """``game`` when it is a :class:`NormalFormGame`, else :class:`InvalidInputError` naming ``where``.

    Examples
    --------
    >>> check_game([[1, 0]], "solve()")
    Traceback (most recent call last):
    ...
    engine.errors.InvalidInputError: solve(): game must be a games.NormalFormGame, got list
    """
    if not isinstance(game, NormalFormGame):
        raise InvalidInputError(f"{where}: game must be a games.NormalFormGame, got {type(game).__name__}")
    return game


# ---------------------------------------------------------------------- payoff contractions
# All players' payoffs as one (N, K) array over the K contingencies (C order: the last player's
# strategy varies fastest), with the strategy counts and the offsets of each player's block in a
# profile concatenated over players. One compiled pass over the contingencies gives every
# player's strategy payoffs (and, for the QRE Jacobian, every pairwise derivative), with the
# products of the other players' probabilities built from prefix and suffix products (no
# division, so probabilities that underflow to 0 are exact).

def flat_payoffs(game: NormalFormGame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(T, shape, offsets)``: the payoffs as one read-only C-contiguous ``(N, K)`` array (the
    game's own storage: ``game.payoffs[p]`` is a view of ``T[p]``), the strategy counts and the
    block offsets (``offsets[N]`` = strategies in all)."""
    return game._flat  # type: ignore[attr-defined]


@njit(cache=True, error_model="numpy")
def contract(T, shape, off, sig, u, D, want_d):  # pragma: no cover - compiled
    """``u[off[p] + s]`` = player p's payoff of strategy s against ``sig`` (concatenated profile);
    with ``want_d``, ``D[off[p] + s, off[q] + r]`` = d u[p][s] / d sig[q][r] for ``p != q``
    (diagonal blocks left 0). ``u`` and ``D`` are overwritten."""
    N = shape.shape[0]
    K = T.shape[1]
    n = off[N]
    for i in range(n):
        u[i] = 0.0
    if want_d:
        for i in range(n):
            for j in range(n):
                D[i, j] = 0.0
    idx = np.zeros(N, dtype=np.int64)
    g = np.empty(N)
    pre = np.empty(N + 1)
    suf = np.empty(N + 1)
    for c in range(K):
        pre[0] = 1.0
        for t in range(N):
            g[t] = sig[off[t] + idx[t]]
            pre[t + 1] = pre[t] * g[t]
        suf[N] = 1.0
        for t in range(N - 1, -1, -1):
            suf[t] = suf[t + 1] * g[t]
        for p in range(N):
            u[off[p] + idx[p]] += T[p, c] * (pre[p] * suf[p + 1])
        if want_d:
            for p in range(N):
                ip = off[p] + idx[p]
                mid = 1.0
                for q in range(p + 1, N):
                    iq = off[q] + idx[q]
                    m = pre[p] * mid * suf[q + 1]
                    D[ip, iq] += T[p, c] * m
                    D[iq, ip] += T[q, c] * m
                    mid *= g[q]
        t = N - 1
        while t >= 0:
            idx[t] += 1
            if idx[t] < shape[t]:
                break
            idx[t] = 0
            t -= 1
    return u


@njit(cache=True, error_model="numpy")
def _regrets_kernel(T, shape, off, sig, u, out):  # pragma: no cover - compiled
    N = shape.shape[0]
    contract(T, shape, off, sig, u, np.empty((0, 0)), False)
    for p in range(N):
        best = -np.inf
        ev = 0.0
        for s in range(off[p], off[p + 1]):
            if u[s] > best:
                best = u[s]
            ev += u[s] * sig[s]
        out[2 * p] = ev
        out[2 * p + 1] = best - ev
    return out


@njit(cache=True, error_model="numpy")
def _batch_stats_kernel(T, shape, off, X, pays, regrets):  # pragma: no cover - compiled
    N = shape.shape[0]
    u = np.empty(off[N])
    out = np.empty(2 * N)
    for e in range(X.shape[0]):
        _regrets_kernel(T, shape, off, X[e], u, out)
        worst = 0.0
        for p in range(N):
            pays[e, p] = out[2 * p]
            if out[2 * p + 1] > worst:
                worst = out[2 * p + 1]
        regrets[e] = worst


def batch_payoffs_and_regrets(game: NormalFormGame, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected payoffs ``(E, N)`` and max regrets ``(E,)`` of ``E`` profiles, one per row of ``X``
    (each concatenated over players; no input checks). Row ``e`` gives exactly
    :func:`payoffs_and_regrets` of ``X[e]``."""
    T, shape, off = flat_payoffs(game)
    X = np.ascontiguousarray(X, dtype=np.float64)
    pays = np.empty((X.shape[0], len(shape)))
    regrets = np.empty(X.shape[0])
    _batch_stats_kernel(T, shape, off, X, pays, regrets)
    return pays, regrets


def strategy_payoffs_flat(game: NormalFormGame, sig: np.ndarray) -> np.ndarray:
    """Strategy payoffs of every player, concatenated (no input checks: ``sig`` is a float64
    profile concatenated over players)."""
    T, shape, off = flat_payoffs(game)
    u = np.empty(int(off[-1]))
    contract(T, shape, off, np.ascontiguousarray(sig, dtype=np.float64), u, _NO_D, False)
    return u


def _pair_stats(game: NormalFormGame, sig: np.ndarray) -> np.ndarray:
    T, shape, off = flat_payoffs(game)
    out = np.empty(2 * len(shape))
    _regrets_kernel(T, shape, off, np.ascontiguousarray(sig, dtype=np.float64), np.empty(int(off[-1])), out)
    return out


def expected_payoffs_flat(game: NormalFormGame, sig: np.ndarray) -> np.ndarray:
    """Each player's expected payoff (no input checks; ``sig`` concatenated over players)."""
    return _pair_stats(game, sig)[0::2].copy()


def regrets_flat(game: NormalFormGame, sig: np.ndarray) -> np.ndarray:
    """Each player's regret ``max(0, max_s u[p][s] - u[p] @ sig[p])`` (no input checks)."""
    return np.maximum(_pair_stats(game, sig)[1::2], 0.0)


def payoffs_and_regrets(game: NormalFormGame, sig: np.ndarray) -> tuple[np.ndarray, float]:
    """``(expected payoffs, max regret)`` of a profile concatenated over players (no input checks)."""
    st = _pair_stats(game, sig)
    return st[0::2].copy(), float(max(0.0, float(st[1::2].max())))


def _split(game: NormalFormGame, flat: np.ndarray) -> list[np.ndarray]:
    off = flat_payoffs(game)[2]
    return [flat[off[p]:off[p + 1]].copy() for p in range(len(off) - 1)]


_NO_D = np.empty((0, 0))


def as_profile(game: NormalFormGame, profile: Any, where: str) -> list[np.ndarray]:
    """Validate a mixed profile (one probability vector per player) for ``game``."""
    if isinstance(profile, np.ndarray) and profile.ndim == 1:
        profile = np.split(profile, np.cumsum(game.shape)[:-1])
    if not isinstance(profile, (list, tuple)) and not (isinstance(profile, np.ndarray) and profile.ndim == 2):
        raise InvalidInputError(f"{where}: profile must be one probability vector per player, got {profile!r}")
    if len(profile) != game.n_players:
        raise InvalidInputError(f"{where}: profile has {len(profile)} vectors for {game.n_players} players")
    out = []
    for p, (vec, n) in enumerate(zip(profile, game.shape)):
        v = _real_array(vec, f"profile[{p}]", where, shape=(n,), lower=-1e-12)
        if abs(v.sum() - 1.0) > 1e-6:
            raise InvalidInputError(f"{where}: profile[{p}] must sum to 1, sums to {v.sum()}")
        out.append(v)
    return out


def random_game(*shape: int, seed: Any = 0, low: float = 0.0, high: float = 1.0, zero_sum: bool = False,
                integer: bool = False) -> NormalFormGame:
    """A game with i.i.d. uniform payoffs (``random_game(5, 5)`` is a 5x5 bimatrix game).

    ``integer=True`` draws integers in ``[low, high]``; ``zero_sum=True`` (two players) sets B = -A.

    Examples
    --------
    >>> random_game(3, 4, seed=1).shape
    (3, 4)
    """
    where = "random_game()"
    if len(shape) < 1:
        raise InvalidInputError(f"{where}: give at least one player's number of strategies")
    dims = tuple(check_int(n, "shape", where, lower=1) for n in shape)
    low = check_real(low, "low", where)
    high = check_real(high, "high", where)
    if high < low or (integer and math.floor(high) < math.ceil(low)):
        raise InvalidInputError(f"{where}: need low <= high{' with an integer between them' if integer else ''}, "
                                f"got low={low}, high={high}")
    if zero_sum and len(dims) != 2:
        raise InvalidInputError(f"{where}: zero_sum needs exactly 2 players, got {len(dims)}")
    rng = resolve_seed(seed, where=where).generator("random_game")
    n_draw = 1 if zero_sum else len(dims)
    if integer:
        arrays = [rng.integers(math.ceil(low), math.floor(high) + 1, size=dims).astype(float) for _ in range(n_draw)]
    else:
        arrays = [rng.uniform(low, high, size=dims) for _ in range(n_draw)]
    if zero_sum:
        arrays = [arrays[0], -arrays[0]]
    return NormalFormGame.from_arrays(*arrays)
