"""Normal-form (strategic-form) games with N players."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, cast

import numpy as np

from engine.errors import InvalidInputError
from engine.seeding import resolve_seed
from engine.validation import as_float_array, check_int, check_real

__all__ = ["NormalFormGame", "random_game", "as_profile"]


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


def _freeze(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


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
        object.__setattr__(self, "payoffs", tuple(_freeze(a) for a in arrays))
        object.__setattr__(self, "players", players)
        object.__setattr__(self, "strategies", strategies)
        object.__setattr__(self, "title", str(self.title or ""))
        object.__setattr__(self, "comment", str(self.comment or ""))

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

    def is_constant_sum(self, tol: float = 1e-12) -> bool:
        total = np.sum(self.payoff_tensor(), axis=0)
        return bool(np.ptp(total) <= tol * max(1.0, np.abs(total).max()))

    def is_zero_sum(self, tol: float = 1e-12) -> bool:
        total = np.sum(self.payoff_tensor(), axis=0)
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
        from engine.schemas import load_document

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
        out = []
        for p, a in enumerate(self.payoffs):
            t = a
            # contract the other players' axes, last first so axis numbers stay valid
            for q in range(self.n_players - 1, -1, -1):
                if q != p:
                    t = np.tensordot(t, prof[q], axes=([q], [0]))
            out.append(np.asarray(t))
        return out

    def expected_payoffs(self, profile: Any) -> np.ndarray:
        """Each player's expected payoff under the mixed profile."""
        prof = as_profile(self, profile, "NormalFormGame.expected_payoffs()")
        u = self.strategy_payoffs(prof)
        return np.array([float(u[p] @ prof[p]) for p in range(self.n_players)])

    def regrets(self, profile: Any) -> np.ndarray:
        """Per player: best pure-strategy payoff minus the profile's expected payoff (>= 0)."""
        prof = as_profile(self, profile, "NormalFormGame.regrets()")
        u = self.strategy_payoffs(prof)
        return np.array([max(0.0, float(u[p].max() - u[p] @ prof[p])) for p in range(self.n_players)])

    def max_regret(self, profile: Any) -> float:
        """The largest gain any player gets by deviating unilaterally (0 at a Nash equilibrium)."""
        return float(self.regrets(profile).max())


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
