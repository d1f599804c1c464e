"""Extensive-form games (game trees): the model, a small builder, and solvers.

* :class:`ExtensiveFormGame` - personal and chance nodes, players, information sets (perfect recall
  checked, :attr:`ExtensiveFormGame.perfect_recall_violations`), actions, chance probabilities kept
  as exact :class:`fractions.Fraction`, outcomes with payoffs (outcomes on inner nodes add up along
  the path, as in Gambit). Built with :class:`TreeBuilder` or read from a Gambit ``.efg`` file
  (:func:`games.efg_io.read_efg`).
* :meth:`ExtensiveFormGame.to_normal_form` - the (reduced) strategic form as a
  :class:`games.NormalFormGame`, strategy labels as Gambit writes them (``"12"``, ``"2*"``).
* :func:`sequence_form_lp` - two-player zero-sum (constant-sum) trees by the sequence-form LP of
  Koller, Megiddo and von Stengel on one HiGHS model: value and behaviour strategies of both.
* :func:`subgame_perfect` - backward induction in perfect-information trees (one or all pure SPE).
* :func:`sequence_form_milp` - a Nash equilibrium of a two-player general-sum tree (one MILP).
* :func:`stackelberg` - the leader's optimal commitment in a two-player tree (one MILP).
* :func:`solve` - dispatcher.

Every result is an :class:`EFGResult` (an :class:`engine.SolveResult`) carrying ``max_regret``,
the largest gain any player gets by deviating from the behaviour profile (computed exactly on the
tree by a best response over sequences).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Optional, Sequence

import numpy as np
import scipy.sparse as sp

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.result import SolveResult
from engine.status import Status

__all__ = ["ExtensiveFormGame", "TreeBuilder", "EFGResult", "sequence_form_lp", "subgame_perfect", "solve",
           "random_tree", "kuhn_poker", "sequence_form_matrices", "stackelberg", "TreeStackelbergResult", "sequence_form_milp",
           "MAX_NODES", "MAX_PLAYERS", "MAX_REDUCED_STRATEGIES"]

from games.efg_io import MAX_NODES, MAX_PLAYERS, parse_number  # noqa: E402

#: largest number of reduced pure strategies :meth:`ExtensiveFormGame.to_normal_form` builds per player
MAX_REDUCED_STRATEGIES = 1_000_000


def _as_number(value: Any, what: str, where: str) -> tuple[Fraction, str]:
    """A payoff or probability as (exact value, text)."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{where}: {what} must be a number, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value)), str(int(value))
    if isinstance(value, Fraction):
        return value, (str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}")
    if isinstance(value, str):
        f = parse_number(value.strip())
        if f is None:
            raise InvalidInputError(f"{where}: {what} must be a number (integer, decimal or p/q), got {value!r}")
        return f, value.strip()
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise InvalidInputError(f"{where}: {what} must be finite, got {v}")
        text = repr(v)
        if text.endswith(".0"):
            text = text[:-2]
        f = parse_number(text)
        if f is None:
            raise InvalidInputError(f"{where}: {what} out of range, got {v}")
        return f, text
    raise InvalidInputError(f"{where}: {what} must be a number, got {type(value).__name__}")


@dataclass
class _GameParts:
    """The mutable parts a reader or builder fills; nodes are in prefix order."""

    players: list
    title: str = ""
    comment: str = ""
    kind: list = field(default_factory=list)          # 'p', 'c', 't'
    label: list = field(default_factory=list)
    node_infoset: list = field(default_factory=list)  # -1 for terminals
    node_outcome: list = field(default_factory=list)  # -1 for none
    infoset_player: list = field(default_factory=list)  # -1 chance
    infoset_number: list = field(default_factory=list)
    infoset_label: list = field(default_factory=list)
    infoset_actions: list = field(default_factory=list)
    infoset_probs: list = field(default_factory=list)
    infoset_prob_texts: list = field(default_factory=list)
    outcome_number: list = field(default_factory=list)
    outcome_label: list = field(default_factory=list)
    outcome_payoffs: list = field(default_factory=list)
    outcome_texts: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def add_infoset(self, player: int, number: int, label: str, actions: Sequence[str],
                    probs: Optional[Sequence[tuple[Fraction, str]]], where: Callable[[str], Exception]) -> int:
        if probs is not None:
            if any(f < 0 or f > 1 for f, _ in probs):
                raise where(f"chance probabilities must lie in [0, 1], got {[t for _, t in probs]}")
            total = sum((f for f, _ in probs), Fraction(0))
            if total != 1:
                raise where(f"chance probabilities must sum to exactly 1, got {total}")
        self.infoset_player.append(player)
        self.infoset_number.append(number)
        self.infoset_label.append(label)
        self.infoset_actions.append(tuple(actions))
        self.infoset_probs.append(tuple(f for f, _ in probs) if probs is not None else None)
        self.infoset_prob_texts.append(tuple(t for _, t in probs) if probs is not None else None)
        return len(self.infoset_player) - 1

    def add_outcome(self, number: int, label: str, payoffs: Sequence[tuple[Fraction, str]]) -> int:
        self.outcome_number.append(number)
        self.outcome_label.append(label)
        self.outcome_payoffs.append(tuple(f for f, _ in payoffs))
        self.outcome_texts.append(tuple(t for _, t in payoffs))
        return len(self.outcome_label) - 1

    def finish_labels(self) -> None:
        seen: dict[tuple[int, str], int] = {}
        for h, (pl, lab) in enumerate(zip(self.infoset_player, self.infoset_label)):
            if lab:
                if (pl, lab) in seen:
                    who = "chance" if pl < 0 else repr(self.players[pl])
                    self.notes.append(f"information set label {lab!r} of {who} repeats (information sets "
                                      f"{self.infoset_number[seen[(pl, lab)]]} and {self.infoset_number[h]}); "
                                      "labels do not identify them")
                else:
                    seen[(pl, lab)] = h


class ExtensiveFormGame:
    """A finite game tree (read-only once built).

    Nodes are numbered ``0..n_nodes-1`` in prefix order (the order of a ``.efg`` file); node 0 is
    the root. Per node: :attr:`node_kind` (``'p'`` personal, ``'c'`` chance, ``'t'`` terminal),
    :attr:`node_label`, :attr:`node_infoset` (-1 at terminals), :attr:`node_outcome` (-1 for
    none), :attr:`node_parent`, :attr:`node_children`, :attr:`node_action` (index of the action
    leading to the node). Per information set: :attr:`infoset_player` (-1 for chance),
    :attr:`infoset_label`, :attr:`infoset_actions`, :attr:`infoset_probs` (exact Fractions for
    chance, None otherwise), :attr:`infoset_members`. Outcomes: :attr:`outcome_label`,
    :attr:`outcome_payoffs` (Fractions). :attr:`notes` lists what a reader found ambiguous.

    Examples
    --------
    >>> b = TreeBuilder(["Alice", "Bob"], title="entry")
    >>> stay, enter = b.move(b.root, "Bob", ["out", "in"])
    >>> b.outcome(stay, [2, 0])
    >>> fight, share = b.move(enter, "Alice", ["fight", "share"])
    >>> b.outcome(fight, [-1, -1]); b.outcome(share, [1, 1])
    >>> g = b.build()
    >>> subgame_perfect(g).behavior[1]
    array([0., 1.])
    """

    __slots__ = ("players", "title", "comment", "notes", "node_kind", "node_label", "node_infoset", "node_outcome",
                 "node_parent", "node_children", "node_action", "infoset_player", "infoset_label",
                 "infoset_actions", "infoset_probs", "infoset_prob_texts", "infoset_members", "outcome_label",
                 "outcome_payoffs", "outcome_texts", "_infoset_number", "player_infosets", "_cache")

    players: tuple
    title: str
    comment: str
    notes: tuple
    node_kind: tuple
    node_label: tuple
    node_infoset: np.ndarray
    node_outcome: np.ndarray
    node_parent: np.ndarray
    node_children: tuple
    node_action: np.ndarray
    infoset_player: tuple
    infoset_label: tuple
    infoset_actions: tuple
    infoset_probs: tuple
    infoset_prob_texts: tuple
    infoset_members: tuple
    outcome_label: tuple
    outcome_payoffs: tuple
    outcome_texts: tuple
    _infoset_number: tuple
    player_infosets: tuple
    _cache: dict

    def __init__(self) -> None:  # use TreeBuilder or read_efg
        raise TypeError("ExtensiveFormGame: build one with games.efg.TreeBuilder or games.read_efg")

    @classmethod
    def _from_parts(cls, parts: _GameParts) -> "ExtensiveFormGame":
        self = object.__new__(cls)
        n = len(parts.kind)
        n_players = len(parts.players)
        # infosets ordered by (player, number); chance infosets last as in Gambit's player list
        # infosets by player (chance last, as in Gambit's player list), then by first appearance in
        # prefix order; outcomes by first appearance (Gambit numbers both that way when it reads)
        first: dict = {}
        for h in parts.node_infoset:
            if h >= 0 and h not in first:
                first[h] = len(first)
        order = sorted(range(len(parts.infoset_player)),
                       key=lambda h: (parts.infoset_player[h] < 0, parts.infoset_player[h],
                                      first.get(h, len(first) + h)))
        remap = np.empty(len(order), dtype=np.int64)
        remap[order] = np.arange(len(order))
        node_infoset = np.asarray(parts.node_infoset, dtype=np.int64)
        mask = node_infoset >= 0
        node_infoset[mask] = remap[node_infoset[mask]]
        ofirst: dict = {}
        for o in parts.node_outcome:
            if o >= 0 and o not in ofirst:
                ofirst[o] = len(ofirst)
        oorder = sorted(range(len(parts.outcome_label)), key=lambda o: ofirst.get(o, len(ofirst) + o))
        oremap = np.empty(len(oorder), dtype=np.int64)
        oremap[oorder] = np.arange(len(oorder))
        node_outcome = np.asarray(parts.node_outcome, dtype=np.int64)
        omask = node_outcome >= 0
        node_outcome[omask] = oremap[node_outcome[omask]]
        self.players = tuple(parts.players)
        self.title = parts.title
        self.comment = parts.comment
        self.notes = tuple(parts.notes)
        self.node_kind = tuple(parts.kind)
        self.node_label = tuple(parts.label)
        self.node_infoset = node_infoset
        self.node_outcome = node_outcome
        self.infoset_player = tuple(parts.infoset_player[h] for h in order)
        self.infoset_label = tuple(parts.infoset_label[h] for h in order)
        self.infoset_actions = tuple(parts.infoset_actions[h] for h in order)
        self.infoset_probs = tuple(parts.infoset_probs[h] for h in order)
        self.infoset_prob_texts = tuple(parts.infoset_prob_texts[h] for h in order)
        self.outcome_label = tuple(parts.outcome_label[o] for o in oorder)
        self.outcome_payoffs = tuple(parts.outcome_payoffs[o] for o in oorder)
        self.outcome_texts = tuple(parts.outcome_texts[o] for o in oorder)
        # infoset numbers as written: position within the player's (or chance's) list
        numbers = []
        counter: dict[int, int] = {}
        for pl in self.infoset_player:
            counter[pl] = counter.get(pl, 0) + 1
            numbers.append(counter[pl])
        self._infoset_number = tuple(numbers)
        self.player_infosets = tuple(tuple(h for h, pl in enumerate(self.infoset_player) if pl == p)
                                     for p in range(n_players))
        # parents and children from the prefix order
        parent = np.full(n, -1, dtype=np.int64)
        action = np.full(n, -1, dtype=np.int64)
        children: list[tuple] = [()] * n
        stack: list[list] = []  # [node, next action, n actions, child list]
        n_act = [len(self.infoset_actions[h]) if h >= 0 else 0 for h in node_infoset.tolist()]
        for v in range(n):
            if stack:
                top = stack[-1]
                parent[v] = top[0]
                action[v] = top[1]
                top[3].append(v)
                top[1] += 1
                while stack and stack[-1][1] == stack[-1][2]:
                    done = stack.pop()
                    children[done[0]] = tuple(done[3])
            if n_act[v]:
                stack.append([v, 0, n_act[v], []])
        members: list[list[int]] = [[] for _ in self.infoset_player]
        for v, h in enumerate(node_infoset.tolist()):
            if h >= 0:
                members[h].append(v)
        self.infoset_members = tuple(tuple(m) for m in members)
        self.node_parent = parent
        self.node_action = action
        self.node_children = tuple(children)
        for arr in (self.node_infoset, self.node_outcome, self.node_parent, self.node_action):
            arr.setflags(write=False)
        self._cache = {}
        return self

    # ------------------------------------------------------------------ basic facts
    @property
    def n_players(self) -> int:
        return len(self.players)

    @property
    def n_nodes(self) -> int:
        return len(self.node_kind)

    @property
    def n_infosets(self) -> int:
        return len(self.infoset_player)

    def __repr__(self) -> str:
        return (f"ExtensiveFormGame({self.title!r}, players={list(self.players)}, nodes={self.n_nodes}, "
                f"infosets={self.n_infosets}, outcomes={len(self.outcome_label)})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExtensiveFormGame):
            return NotImplemented
        from games.efg_io import write_efg
        return write_efg(self) == write_efg(other)

    __hash__ = None  # type: ignore[assignment]

    @property
    def is_perfect_information(self) -> bool:
        return all(len(self.infoset_members[h]) == 1 for h in range(self.n_infosets) if self.infoset_player[h] >= 0)

    @property
    def perfect_recall_violations(self) -> tuple:
        """Messages, one per information set whose members differ in their player's own history
        (information sets and actions); empty when the game has perfect recall."""
        return self._sequences()["violations"]

    @property
    def is_perfect_recall(self) -> bool:
        return not self.perfect_recall_violations

    def is_constant_sum(self) -> bool:
        """True when the players' payoffs add up to the same constant at every terminal node
        (exactly, in rationals)."""
        _, ints = self._leaf_int_payoffs()
        return len({sum(p) for p in ints}) <= 1

    def _leaf_int_payoffs(self) -> tuple:
        """(D, per leaf the payoffs times D as Python ints): exact, without Fraction arithmetic."""
        if "leaf_int" not in self._cache:
            D = 1
            for pay in self.outcome_payoffs:
                for f in pay:
                    if D % f.denominator:
                        D = D * f.denominator // math.gcd(D, f.denominator)
            scaled = [tuple(f.numerator * (D // f.denominator) for f in pay) for pay in self.outcome_payoffs]
            N = self.n_players
            zero = (0,) * N
            acc: list = [zero] * self.n_nodes
            out = []
            parents = self.node_parent.tolist()
            outs = self.node_outcome.tolist()
            kinds = self.node_kind
            for v in range(self.n_nodes):
                cur = acc[parents[v]] if v else zero
                o = outs[v]
                if o >= 0:
                    cur = scaled[o] if cur is zero else tuple(a + b for a, b in zip(cur, scaled[o]))
                acc[v] = cur
                if kinds[v] == "t":
                    out.append(cur)
            self._cache["leaf_int"] = (D, out)
        return self._cache["leaf_int"]

    def _leaf_fraction_payoffs(self) -> list:
        if "leaf_frac" not in self._cache:
            N = self.n_players
            acc: list = [None] * self.n_nodes
            zero = (Fraction(0),) * N
            out = []
            for v in range(self.n_nodes):
                base = acc[self.node_parent[v]] if v else zero
                o = self.node_outcome[v]
                cur = base if o < 0 else tuple(a + b for a, b in zip(base, self.outcome_payoffs[o]))
                acc[v] = cur
                if self.node_kind[v] == "t":
                    out.append(cur)
            self._cache["leaf_frac"] = out
        return self._cache["leaf_frac"]

    # ------------------------------------------------------------------ sequences
    def _sequences(self) -> dict:
        """Sequence-form data: per player the sequences (0 = empty; then one per (infoset, action)
        in infoset order), each infoset's parent sequence, and per leaf the sequence of every
        player, the chance probability and the payoffs."""
        c = self._cache.get("seq")
        if c is not None:
            return c
        N = self.n_players
        n = self.n_nodes
        # sequence index of (h, a): offset[h] + a within the player's numbering
        first_seq = np.zeros(self.n_infosets, dtype=np.int64)
        n_seq = []
        seq_infoset = []
        seq_action = []
        for p in range(N):
            k = 1
            si, sa = [-1], [-1]
            for h in self.player_infosets[p]:
                first_seq[h] = k
                m = len(self.infoset_actions[h])
                si.extend([h] * m)
                sa.extend(range(m))
                k += m
            n_seq.append(k)
            seq_infoset.append(np.array(si, dtype=np.int64))
            seq_action.append(np.array(sa, dtype=np.int64))
        node_seq = np.zeros((n, N), dtype=np.int64)
        own_depth = np.zeros(n, dtype=np.int64)  # moves of the node's own player before it
        depth_all = np.zeros((n, N), dtype=np.int64)
        chance = np.ones(n, dtype=np.float64)
        chance_f: list = [Fraction(1)] * n
        iset_parent = np.full(self.n_infosets, -2, dtype=np.int64)
        violations = []
        kinds = self.node_kind
        isets = self.node_infoset.tolist()
        parents = self.node_parent.tolist()
        acts = self.node_action.tolist()
        iplayer = self.infoset_player
        seq_l: list = [[0] * N for _ in range(n)] if n else []
        dep_l: list = [[0] * N for _ in range(n)] if n else []
        fs = first_seq.tolist()
        for v in range(1, n):
            u = parents[v]
            h = isets[u]
            pl = iplayer[h]
            if pl >= 0:
                row = seq_l[u].copy()
                row[pl] = fs[h] + acts[v]
                seq_l[v] = row
                drow = dep_l[u].copy()
                drow[pl] += 1
                dep_l[v] = drow
                chance_f[v] = chance_f[u]
            else:
                seq_l[v] = seq_l[u]
                dep_l[v] = dep_l[u]
                chance_f[v] = chance_f[u] * self.infoset_probs[h][acts[v]]
        if n:
            node_seq = np.array(seq_l, dtype=np.int64).reshape(n, N)
            depth_all = np.array(dep_l, dtype=np.int64).reshape(n, N)
        for v in range(n):
            h = isets[v]
            if h >= 0 and iplayer[h] >= 0:
                s = node_seq[v, iplayer[h]]
                if iset_parent[h] == -2:
                    iset_parent[h] = s
                elif iset_parent[h] != s:
                    violations.append(f"information set {self._infoset_number[h]} of "
                                      f"{self.players[iplayer[h]]!r} ({self.infoset_label[h]!r}): its nodes differ in "
                                      f"what {self.players[iplayer[h]]!r} did before")
                    iset_parent[h] = -3
        iset_depth = np.zeros(self.n_infosets, dtype=np.int64)
        for h, mem in enumerate(self.infoset_members):
            if iplayer[h] >= 0 and mem:
                iset_depth[h] = depth_all[mem[0], iplayer[h]]
        del own_depth
        leaves = np.array([v for v in range(n) if kinds[v] == "t"], dtype=np.int64)
        chance = np.array([float(chance_f[v]) for v in leaves.tolist()], dtype=np.float64)
        D, ints = self._leaf_int_payoffs()
        if D < 2 ** 52 and all(abs(x) < 2 ** 52 for p in ints for x in p):
            pay = (np.array(ints, dtype=np.float64).reshape(len(leaves), N) / D)
        else:
            try:
                pay = np.array([[float(Fraction(x, D)) for x in p] for p in ints],
                               dtype=np.float64).reshape(len(leaves), N)
            except OverflowError:
                raise UnsupportedProblemError("ExtensiveFormGame: a payoff exceeds the floating-point range "
                                              "(about 1.8e308); the solvers compute in floating point") from None
        seq_parent = []
        for p in range(N):
            sp_ = np.full(n_seq[p], -1, dtype=np.int64)
            for h in self.player_infosets[p]:
                m = len(self.infoset_actions[h])
                sp_[first_seq[h]:first_seq[h] + m] = max(iset_parent[h], 0)
            seq_parent.append(sp_)
        c = {"n_seq": n_seq, "first_seq": first_seq, "seq_infoset": seq_infoset, "seq_action": seq_action,
             "seq_parent": seq_parent, "iset_parent": iset_parent, "leaf": leaves, "leaf_seq": node_seq[leaves],
             "leaf_chance": chance, "leaf_pay": pay, "violations": tuple(dict.fromkeys(violations)),
             "iset_depth": iset_depth,
             "chance_f": chance_f}
        self._cache["seq"] = c
        return c

    def _require_perfect_recall(self, where: str) -> dict:
        s = self._sequences()
        if s["violations"]:
            raise UnsupportedProblemError(f"{where}: the game does not have perfect recall: {s['violations'][0]}")
        return s

    def _seq_depth_order(self, p: int) -> list:
        """Player p's infosets, deepest own history first."""
        key = f"order{p}"
        if key not in self._cache:
            depth = self._sequences()["iset_depth"]
            self._cache[key] = sorted(self.player_infosets[p], key=lambda h: -depth[h])
        return self._cache[key]

    # ------------------------------------------------------------------ profiles
    def uniform_behavior(self) -> tuple:
        """The behaviour profile that plays every action of every information set with equal
        probability: one array per player, the actions of its infosets in order."""
        return tuple(np.concatenate([np.full(len(self.infoset_actions[h]), 1.0 / len(self.infoset_actions[h]))
                                     for h in self.player_infosets[p]] or [np.zeros(0)])
                     for p in range(self.n_players))

    def _as_behavior(self, profile: Any, where: str) -> list:
        s = self._sequences()
        if not isinstance(profile, (list, tuple)) or len(profile) != self.n_players:
            raise InvalidInputError(f"{where}: a behaviour profile is one array per player ({self.n_players}), "
                                    f"got {type(profile).__name__}")
        out = []
        for p, b in enumerate(profile):
            try:
                arr = np.asarray(b, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                raise InvalidInputError(f"{where}: profile[{p}] is not a numeric array") from None
            if arr.shape[0] != s["n_seq"][p] - 1:
                raise InvalidInputError(f"{where}: profile[{p}] has {arr.shape[0]} entries, player {p} has "
                                        f"{s['n_seq'][p] - 1} actions over its information sets")
            if not np.all(np.isfinite(arr)):
                raise InvalidInputError(f"{where}: profile[{p}] must be finite")
            out.append(arr)
        return out

    def realization_plan(self, behavior: np.ndarray, player: int) -> np.ndarray:
        """Player ``player``'s realization plan (probability of each of its sequences) under its
        behaviour strategy (perfect recall assumed)."""
        s = self._sequences()
        x = np.ones(s["n_seq"][player], dtype=np.float64)
        par = s["seq_parent"][player]
        b = np.asarray(behavior, dtype=np.float64)
        for h in reversed(self._seq_depth_order(player)):  # shallowest first
            k = s["first_seq"][h]
            m = len(self.infoset_actions[h])
            x[k:k + m] = x[par[k]] * b[k - 1:k - 1 + m]
        return x

    def behavior_payoffs(self, profile: Any) -> np.ndarray:
        """Expected payoff of each player under a behaviour profile."""
        prof = self._as_behavior(profile, "ExtensiveFormGame.behavior_payoffs()")
        s = self._require_perfect_recall("ExtensiveFormGame.behavior_payoffs()")
        reach = s["leaf_chance"].copy()
        for p in range(self.n_players):
            reach *= self.realization_plan(prof[p], p)[s["leaf_seq"][:, p]]
        return reach @ s["leaf_pay"]

    def regrets(self, profile: Any) -> np.ndarray:
        """Per player, the best-response payoff minus the payoff under ``profile`` (behaviour
        strategies; the best response is computed over the player's sequences)."""
        prof = self._as_behavior(profile, "ExtensiveFormGame.regrets()")
        s = self._require_perfect_recall("ExtensiveFormGame.regrets()")
        N = self.n_players
        plans = [self.realization_plan(prof[p], p) for p in range(N)]
        reach = [plans[p][s["leaf_seq"][:, p]] for p in range(N)]
        out = np.zeros(N)
        for p in range(N):
            w = s["leaf_chance"].copy()
            for q in range(N):
                if q != p:
                    w *= reach[q]
            g = np.bincount(s["leaf_seq"][:, p], weights=w * s["leaf_pay"][:, p], minlength=s["n_seq"][p])
            current = float(g @ plans[p])
            V = g.copy()
            for h in self._seq_depth_order(p):
                k = s["first_seq"][h]
                m = len(self.infoset_actions[h])
                V[s["iset_parent"][h]] += V[k:k + m].max()
            out[p] = V[0] - current
        return out

    def max_regret(self, profile: Any) -> float:
        """The largest regret of any player (0 exactly at a Nash equilibrium)."""
        return float(max(0.0, self.regrets(profile).max()))

    def behavior_from_realization(self, x: np.ndarray, player: int) -> np.ndarray:
        """Behaviour strategy of a realization plan (uniform where the infoset is not reached)."""
        s = self._sequences()
        x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
        b = np.zeros(s["n_seq"][player] - 1)
        for h in self.player_infosets[player]:
            k = s["first_seq"][h]
            m = len(self.infoset_actions[h])
            tot = x[k:k + m].sum()
            if x[s["iset_parent"][h]] > 1e-12 and tot > 0:
                b[k - 1:k - 1 + m] = x[k:k + m] / tot
            else:
                b[k - 1:k - 1 + m] = 1.0 / m
        return b

    # ------------------------------------------------------------------ normal form
    def reduced_strategies(self, player: int, *, max_strategies: int = MAX_REDUCED_STRATEGIES) -> list:
        """The reduced pure strategies of ``player`` in Gambit's order: tuples with one action
        index per information set of the player (in order), -1 where the strategy never reaches it."""
        s = self._require_perfect_recall("ExtensiveFormGame.reduced_strategies()")
        hs = self.player_infosets[player]
        pos = {h: i for i, h in enumerate(hs)}
        si, sa = s["seq_infoset"][player], s["seq_action"][player]
        par_h = [int(si[s["iset_parent"][h]]) if s["iset_parent"][h] > 0 else -1 for h in hs]
        par_a = [int(sa[s["iset_parent"][h]]) if s["iset_parent"][h] > 0 else -1 for h in hs]
        out: list = []
        seen: set = set()
        cur = [0] * len(hs)

        depth = self._sequences()["iset_depth"]
        topo = sorted(range(len(hs)), key=lambda j: depth[hs[j]])  # parents before children
        par_pos = [pos[ph] if ph >= 0 else -1 for ph in par_h]
        rstate: list = [None] * len(hs)  # reached given cur[:i]: True, False or None (undecided)

        def full_reach(choice: list) -> list:
            r = [False] * len(hs)
            for j in topo:
                pj = par_pos[j]
                r[j] = True if pj < 0 else (r[pj] and choice[pj] == par_a[j])
            return r

        # depth-first enumeration in lexicographic order, first infoset slowest (explicit stack:
        # a player may have thousands of information sets)
        m = len(hs)
        n_act = [len(self.infoset_actions[h]) for h in hs]
        stack = [(0, 0)]
        while stack:
            i, a = stack.pop()
            if i == m:
                fr = full_reach(cur)
                key = tuple(cur[j] if fr[j] else -1 for j in range(m))
                if key not in seen:
                    if len(out) >= max_strategies:
                        raise UnsupportedProblemError(
                            f"to_normal_form(): player {player} has more than {max_strategies} reduced strategies")
                    seen.add(key)
                    out.append(key)
                continue
            if a == 0:
                pj = par_pos[i]
                if pj < 0:
                    rstate[i] = True
                elif pj < i and rstate[pj] is not None:
                    rstate[i] = bool(rstate[pj]) and cur[pj] == par_a[i]
                else:
                    rstate[i] = None
            if rstate[i] is False:
                if a == 0:
                    cur[i] = -1
                    stack.append((i + 1, 0))
                continue
            if a < n_act[i]:
                cur[i] = a
                stack.append((i, a + 1))
                stack.append((i + 1, 0))
        return out

    def to_normal_form(self, *, reduced: bool = True, max_strategies: int = MAX_REDUCED_STRATEGIES) -> Any:
        """The strategic form as a :class:`games.NormalFormGame` (expected payoffs over chance).

        With ``reduced=True`` (default) pure strategies that differ only at information sets they
        never reach are merged, as Gambit does; labels are Gambit's (one character per information
        set: the action number, ``*`` where unreached). ``reduced=False`` gives every combination."""
        from games.normal_form import NormalFormGame

        where = "ExtensiveFormGame.to_normal_form()"
        s = self._require_perfect_recall(where)
        N = self.n_players
        mats = []
        labels = []
        for p in range(N):
            hs = self.player_infosets[p]
            if reduced:
                strats = self.reduced_strategies(p, max_strategies=max_strategies)
            else:
                total = 1
                for h in hs:
                    total *= len(self.infoset_actions[h])
                    if total > max_strategies:
                        raise UnsupportedProblemError(f"{where}: player {p} has more than {max_strategies} strategies")
                strats = list(itertools.product(*[range(len(self.infoset_actions[h])) for h in hs]))
            if not strats:
                strats = [()]
            choice = np.array(strats, dtype=np.int64).reshape(len(strats), len(hs))
            # M[s, seq] = 1 when strategy s plays every action along seq
            n_seq = s["n_seq"][p]
            M = np.zeros((len(strats), n_seq), dtype=np.float64)
            M[:, 0] = 1.0
            pos = {h: i for i, h in enumerate(hs)}
            for h in reversed(self._seq_depth_order(p)):
                k = s["first_seq"][h]
                for a in range(len(self.infoset_actions[h])):
                    M[:, k + a] = M[:, s["iset_parent"][h]] * (choice[:, pos[h]] == a)
            mats.append(M)
            labels.append(tuple("".join("*" if c < 0 else str(c + 1) for c in st) or "*" for st in strats))
        from games.nfg import MAX_CONTINGENCIES
        n_cont = 1
        for lab in labels:
            n_cont *= len(lab)
        if n_cont > MAX_CONTINGENCIES:
            raise UnsupportedProblemError(f"{where}: the strategic form has {n_cont} contingencies, more than "
                                          f"games.nfg.MAX_CONTINGENCIES={MAX_CONTINGENCIES}")
        w = s["leaf_chance"]
        letters = "abcdefghijklmnopqrstuvwxy"
        if N > len(letters):
            raise UnsupportedProblemError(f"{where}: at most {len(letters)} players")
        cols = [mats[p][:, s["leaf_seq"][:, p]] for p in range(N)]
        spec = ",".join(f"{letters[p]}z" for p in range(N)) + ",z->" + letters[:N]
        arrays = [np.einsum(spec, *cols, w * s["leaf_pay"][:, k], optimize=True) if len(w) else
                  np.zeros(tuple(len(l) for l in labels)) for k in range(N)]
        return NormalFormGame(tuple(arrays), strategies=tuple(labels), players=self.players, title=self.title,
                              comment=self.comment)

    # ------------------------------------------------------------------ pygambit
    def to_pygambit(self) -> Any:
        """The game as a ``pygambit.Game`` (through the ``.efg`` text)."""
        import io

        import pygambit

        from games.efg_io import write_efg
        return pygambit.read_efg(io.StringIO(write_efg(self)))

    @classmethod
    def from_pygambit(cls, game: Any) -> "ExtensiveFormGame":
        """A pygambit tree as an :class:`ExtensiveFormGame`."""
        from games.efg_io import read_efg
        if not getattr(game, "is_tree", False):
            raise UnsupportedProblemError("ExtensiveFormGame.from_pygambit(): the game is not a tree")
        return read_efg(game.to_efg())


class TreeBuilder:
    """Build a game tree in Python.

    >>> b = TreeBuilder(["P1", "P2"])
    >>> h, t = b.chance(b.root, ["H", "T"], ["1/2", "1/2"])
    >>> l1, r1 = b.move(h, "P1", ["l", "r"], infoset="I")
    >>> l2, r2 = b.move(t, "P1", ["l", "r"], infoset="I")      # same infoset "I"
    >>> for node, pay in zip([l1, r1, l2, r2], [1, -1, -1, 1]):
    ...     b.outcome(node, [pay, -pay])
    >>> g = b.build()

    Nodes are integers; :meth:`move` and :meth:`chance` turn a leaf into a move and return its
    children. ``infoset=`` names an information set of that player: nodes given the same name
    share it (their actions must agree). :meth:`outcome` attaches payoffs (numbers, ``"p/q"``
    strings or Fractions, kept exactly) to any node; ``label=`` names the outcome, and passing the
    same label again reuses it.
    """

    def __init__(self, players: Sequence[str], *, title: str = "", comment: str = "",
                 max_nodes: int = MAX_NODES) -> None:
        where = "TreeBuilder()"
        if isinstance(players, str) or not isinstance(players, Sequence) or not players:
            raise InvalidInputError(f"{where}: players must be a non-empty list of names, got {players!r}")
        if len(players) > MAX_PLAYERS:
            raise InvalidInputError(f"{where}: at most {MAX_PLAYERS} players, got {len(players)}")
        self.players = [str(p) for p in players]
        if len(set(self.players)) != len(self.players):
            raise InvalidInputError(f"{where}: player names repeat: {self.players}")
        self.title, self.comment = str(title), str(comment)
        self.max_nodes = max_nodes
        self._children: list = [None]
        self._label: list = [""]
        self._infoset: list = [None]
        self._outcome: list = [None]
        self._isets: dict = {}   # (player, key) -> (actions, probs, label)
        self._outcomes: dict = {}  # label -> (index, payoffs)
        self._auto = 0

    @property
    def root(self) -> int:
        return 0

    def _player(self, player: Any, where: str) -> int:
        if isinstance(player, str):
            if player not in self.players:
                raise InvalidInputError(f"{where}: unknown player {player!r}; players are {self.players}")
            return self.players.index(player)
        if isinstance(player, (int, np.integer)) and not isinstance(player, bool) and 0 <= player < len(self.players):
            return int(player)
        raise InvalidInputError(f"{where}: player must be a name or an index < {len(self.players)}, got {player!r}")

    def _leaf(self, node: Any, where: str) -> int:
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < len(self._children):
            raise InvalidInputError(f"{where}: unknown node {node!r}")
        if self._children[node] is not None:
            raise InvalidInputError(f"{where}: node {node} already has a move")
        return int(node)

    def _grow(self, node: int, key: tuple, n: int) -> list:
        if len(self._children) + n > self.max_nodes:
            raise InvalidInputError(f"TreeBuilder: more than max_nodes={self.max_nodes} nodes")
        kids = list(range(len(self._children), len(self._children) + n))
        self._children[node] = kids
        self._infoset[node] = key
        self._children.extend([None] * n)
        self._label.extend([""] * n)
        self._infoset.extend([None] * n)
        self._outcome.extend([None] * n)
        return kids

    def move(self, node: int, player: Any, actions: Sequence[str], *, infoset: Optional[str] = None,
             label: str = "") -> list:
        """Give ``node`` (a leaf) a move of ``player`` with ``actions``; returns the children."""
        where = "TreeBuilder.move()"
        node = self._leaf(node, where)
        p = self._player(player, where)
        acts = self._actions(actions, where)
        if infoset is None:
            self._auto += 1
            key: tuple = (p, ("#auto", self._auto))
            ilabel = ""
        else:
            key = (p, str(infoset))
            ilabel = str(infoset)
        old = self._isets.get(key)
        if old is None:
            self._isets[key] = (acts, None, ilabel)
        elif old[0] != acts:
            raise InvalidInputError(f"{where}: information set {infoset!r} has actions {list(old[0])}, "
                                    f"got {list(acts)}")
        self._label[node] = str(label)
        return self._grow(node, key, len(acts))

    def chance(self, node: int, actions: Sequence[str], probs: Sequence[Any], *, infoset: Optional[str] = None,
               label: str = "") -> list:
        """Give ``node`` (a leaf) a chance move; ``probs`` are exact (ints, ``"1/3"``, Fractions,
        decimals) and must sum to exactly 1."""
        where = "TreeBuilder.chance()"
        node = self._leaf(node, where)
        acts = self._actions(actions, where)
        if isinstance(probs, (str, bytes)) or not isinstance(probs, Sequence) or len(probs) != len(acts):
            raise InvalidInputError(f"{where}: probs must list one probability per action ({len(acts)})")
        pr = tuple(_as_number(v, "a probability", where) for v in probs)
        if any(f < 0 for f, _ in pr) or sum(f for f, _ in pr) != 1:
            raise InvalidInputError(f"{where}: probabilities must be >= 0 and sum to exactly 1, got "
                                    f"{[t for _, t in pr]}")
        if infoset is None:
            self._auto += 1
            key: tuple = (-1, ("#auto", self._auto))
            ilabel = ""
        else:
            key = (-1, str(infoset))
            ilabel = str(infoset)
        old = self._isets.get(key)
        if old is None:
            self._isets[key] = (acts, pr, ilabel)
        elif old[0] != acts or [f for f, _ in old[1]] != [f for f, _ in pr]:
            raise InvalidInputError(f"{where}: chance information set {infoset!r} differs from its earlier use")
        self._label[node] = str(label)
        return self._grow(node, key, len(acts))

    @staticmethod
    def _actions(actions: Any, where: str) -> tuple:
        if isinstance(actions, (str, bytes)) or not isinstance(actions, Sequence) or not actions:
            raise InvalidInputError(f"{where}: actions must be a non-empty list of labels, got {actions!r}")
        return tuple(str(a) for a in actions)

    def outcome(self, node: int, payoffs: Optional[Sequence[Any]] = None, *, label: Optional[str] = None) -> None:
        """Attach an outcome to ``node``: new payoffs (one per player), or the outcome named
        ``label`` given earlier (``payoffs`` None)."""
        where = "TreeBuilder.outcome()"
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < len(self._children):
            raise InvalidInputError(f"{where}: unknown node {node!r}")
        if payoffs is None:
            if label is None or label not in self._outcomes:
                raise InvalidInputError(f"{where}: payoffs are required unless label names an earlier outcome")
            self._outcome[node] = self._outcomes[label][0]
            return
        if isinstance(payoffs, (str, bytes)) or not isinstance(payoffs, Sequence) or len(payoffs) != len(self.players):
            raise InvalidInputError(f"{where}: payoffs must list one number per player ({len(self.players)})")
        pay = tuple(_as_number(v, "a payoff", where) for v in payoffs)
        if label is None:
            label = f"o{len(self._outcomes) + 1}"
            while label in self._outcomes:
                label += "_"
        if label in self._outcomes:
            idx, old = self._outcomes[label]
            if [f for f, _ in old] != [f for f, _ in pay]:
                raise InvalidInputError(f"{where}: outcome {label!r} already has payoffs {[t for _, t in old]}")
        else:
            idx = len(self._outcomes)
            self._outcomes[label] = (idx, pay)
        self._outcome[node] = idx

    def label(self, node: int, text: str) -> None:
        """Label a node."""
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < len(self._children):
            raise InvalidInputError(f"TreeBuilder.label(): unknown node {node!r}")
        self._label[node] = str(text)

    def build(self) -> ExtensiveFormGame:
        """The game (nodes renumbered in prefix order)."""
        parts = _GameParts(players=list(self.players), title=self.title, comment=self.comment)
        iset_idx: dict = {}
        numbers: dict = {}
        for label, (i, pay) in self._outcomes.items():
            parts.add_outcome(i + 1, label, pay)
        stack = [0]
        while stack:
            v = stack.pop()
            kids = self._children[v]
            parts.label.append(self._label[v])
            o = self._outcome[v]
            parts.node_outcome.append(-1 if o is None else o)
            if kids is None:
                parts.kind.append("t")
                parts.node_infoset.append(-1)
                continue
            key = self._infoset[v]
            p = key[0]
            parts.kind.append("c" if p < 0 else "p")
            h = iset_idx.get(key)
            if h is None:
                acts, pr, ilabel = self._isets[key]
                numbers[p] = numbers.get(p, 0) + 1
                h = parts.add_infoset(p, numbers[p], ilabel, acts, pr, where=InvalidInputError)
                iset_idx[key] = h
            parts.node_infoset.append(h)
            stack.extend(reversed(kids))
        parts.finish_labels()
        return ExtensiveFormGame._from_parts(parts)


# ====================================================================== results
@dataclass(frozen=True, kw_only=True)
class EFGResult(SolveResult):
    """An equilibrium (or strategy profile) of a game tree.

    ``behavior``: one array per player, the action probabilities of its information sets in order
    (``x`` is their concatenation); ``payoffs``: expected payoff per player; ``max_regret``: the
    largest gain of a unilateral deviation (the certificate); ``realization``: the realization
    plans (probability per sequence) for the sequence-form methods; ``value``: the value of a
    zero-sum game to player 1."""

    behavior: tuple = ()
    payoffs: Optional[np.ndarray] = None
    max_regret: float = math.nan
    realization: tuple = ()
    value: float = math.nan
    equilibria: tuple = ()


def _finish(game: ExtensiveFormGame, behavior: list, *, status: Status, method: str, backend: str,
            t0: float, params: dict, message: str = "", nit: int = 0, realization: tuple = (),
            objective: float = math.nan, bound: float = math.nan, value: float = math.nan) -> EFGResult:
    beh = tuple(np.asarray(b, dtype=np.float64) for b in behavior)
    pays = game.behavior_payoffs(list(beh))
    reg = game.max_regret(list(beh))
    gap = abs(objective - bound) if math.isfinite(objective) and math.isfinite(bound) else math.nan
    return EFGResult(status=status, message=message, x=np.concatenate(beh) if beh else np.zeros(0),
                     objective=objective, bound=bound, gap=gap, nit=nit, runtime=time.perf_counter() - t0,
                     method=method, backend=backend, params=params, behavior=beh, payoffs=pays,
                     max_regret=reg, realization=realization, value=value)


def _check_game(game: Any, where: str) -> ExtensiveFormGame:
    if not isinstance(game, ExtensiveFormGame):
        raise InvalidInputError(f"{where}: expected an ExtensiveFormGame, got {type(game).__name__}")
    return game


# ====================================================================== sequence-form LP
def _validate_sequence_form_lp(game: Any, time_limit: Any, options: Any) -> tuple:
    from engine.validation import check_time_limit
    where = "sequence_form_lp()"
    g = _check_game(game, where)
    if g.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player game, got {g.n_players} players")
    s = g._require_perfect_recall(where)
    if not g.is_constant_sum():
        raise UnsupportedProblemError(f"{where}: the game is not zero-sum (or constant-sum); use sequence_form_lcp")
    tl = check_time_limit(time_limit, where)
    if options is not None and not isinstance(options, dict):
        raise InvalidInputError(f"{where}: options must be a dict, got {type(options).__name__}")
    return g, s, tl


def _constraint_triplets(game: ExtensiveFormGame, p: int) -> tuple:
    """(rows, cols, vals, n_rows) of the realization-plan constraints ``E x = e`` of player p: row 0
    is ``x[empty] = 1``, row i is ``-x[parent(h_i)] + sum_a x[(h_i, a)] = 0``."""
    s = game._sequences()
    hs = np.asarray(game.player_infosets[p], dtype=np.int64)
    n_seq = s["n_seq"][p]
    m = len(hs)
    # every non-empty sequence k sits in row (its infoset's position + 1)
    seq_row = np.zeros(n_seq, dtype=np.int64)
    if m:
        pos = np.empty(game.n_infosets, dtype=np.int64)
        pos[hs] = np.arange(1, m + 1)
        seq_row[1:] = pos[s["seq_infoset"][p][1:]]
    rows = np.concatenate([[0], np.arange(1, m + 1), seq_row[1:]])
    cols = np.concatenate([[0], s["iset_parent"][hs] if m else np.zeros(0, dtype=np.int64), np.arange(1, n_seq)])
    vals = np.concatenate([[1.0], -np.ones(m), np.ones(n_seq - 1)])
    return rows, cols, vals, m + 1


def sequence_form_matrices(game: ExtensiveFormGame) -> dict:
    """Sequence-form data of a two-player tree: payoff matrices ``A``, ``B`` (sequences of player
    1 x sequences of player 2, chance included) and the constraint matrices ``E``, ``F`` with right
    sides ``e``, ``f`` (``E x = e`` for realization plans), all scipy.sparse."""
    s = game._sequences()
    n1, n2 = s["n_seq"]
    L = s["leaf_seq"]
    w = s["leaf_chance"]
    A = sp.csr_matrix((w * s["leaf_pay"][:, 0], (L[:, 0], L[:, 1])), shape=(n1, n2))
    B = sp.csr_matrix((w * s["leaf_pay"][:, 1], (L[:, 0], L[:, 1])), shape=(n1, n2))
    out = {"A": A, "B": B}
    for p, (name, rhs) in enumerate((("E", "e"), ("F", "f"))):
        r, c, v, m = _constraint_triplets(game, p)
        out[name] = sp.csr_matrix((v, (r, c)), shape=(m, s["n_seq"][p]))
        out[rhs] = np.zeros(m)
        out[rhs][0] = 1.0
    return out


def sequence_form_lp(game: ExtensiveFormGame, /, *, time_limit: Optional[float] = None,
                     options: Optional[dict] = None) -> EFGResult:
    """A Nash equilibrium of a two-player zero-sum (or constant-sum) tree with perfect recall, by
    the sequence-form LP (Koller, Megiddo and von Stengel 1996) solved once by HiGHS.

    ``max x,q  f'q  s.t.  E x = e,  F' q - A' x <= 0,  x >= 0`` gives player 1's realization plan
    ``x`` and the value; player 2's plan is the dual of the second block. ``value`` is player 1's
    value (``objective`` too); ``max_regret`` certifies both strategies."""
    from solvers import LinearModel

    t0 = time.perf_counter()
    g, s, tl = _validate_sequence_form_lp(game, time_limit, options)
    # one COO matrix: rows [E x = e] then [-A' x + F' q <= 0]; columns x (n1 >= 0), q (m2 free)
    n1, n2 = s["n_seq"]
    r1, c1, v1, m1 = _constraint_triplets(g, 0)
    r2, c2, v2, m2 = _constraint_triplets(g, 1)
    L = s["leaf_seq"]
    w = s["leaf_chance"] * s["leaf_pay"][:, 0]
    rows = np.concatenate([r1, m1 + L[:, 1], m1 + c2])
    cols = np.concatenate([c1, L[:, 0], n1 + r2])
    vals = np.concatenate([v1, -w, v2])
    Acon = sp.csc_matrix((vals, (rows, cols)), shape=(m1 + n2, n1 + m2))
    f = np.zeros(m2)
    f[0] = 1.0
    e = np.zeros(m1)
    e[0] = 1.0
    c = np.concatenate([np.zeros(n1), f])
    lo = np.concatenate([e, np.full(n2, -np.inf)])
    hi = np.concatenate([e, np.zeros(n2)])
    model = LinearModel(c, Acon, lo, hi, col_lower=np.concatenate([np.zeros(n1), np.full(m2, -np.inf)]),
                        col_upper=np.inf, sense="max")
    res = model.solve(time_limit=tl, options=options)
    params = {"time_limit": tl, "options": dict(options or {})}
    if res.x is None:
        return EFGResult(status=res.status, message=f"sequence_form_lp(): {res.message}",
                         runtime=time.perf_counter() - t0,
                         method="sequence_form_lp", backend="highs", params=params, nit=res.nit)
    x = np.maximum(np.asarray(res.x[:n1]), 0.0)
    y = np.maximum(np.abs(np.asarray(res.row_dual[m1:])) if res.row_dual is not None else np.zeros(n2), 0.0)
    b1 = g.behavior_from_realization(x, 0)
    b2 = g.behavior_from_realization(y, 1)
    value = float(res.objective)
    # constant-sum: report player 1's value
    return _finish(g, [b1, b2], status=res.status if res.status != Status.OPTIMAL else Status.OPTIMAL,
                   method="sequence_form_lp", backend="highs", t0=t0, params=params, message=res.message,
                   nit=res.nit, realization=(x, y), objective=value, bound=float(res.bound), value=value)


# ====================================================================== backward induction
def subgame_perfect(game: ExtensiveFormGame, /, *, all_equilibria: bool = False,
                    max_equilibria: int = 10_000) -> EFGResult:
    """A pure subgame-perfect equilibrium of a perfect-information tree by backward induction
    (exact rational arithmetic; ties go to the first action). Chance nodes are averaged.

    With ``all_equilibria=True`` every pure subgame-perfect equilibrium is listed in
    ``equilibria`` (behaviour profiles; ``behavior`` is the first, the one found without the
    option), up to ``max_equilibria`` (status FEASIBLE with a message when the list is cut)."""
    t0 = time.perf_counter()
    where = "subgame_perfect()"
    g = _check_game(game, where)
    if not g.is_perfect_information:
        raise UnsupportedProblemError(f"{where}: backward induction needs perfect information (every "
                                      "information set of a player a single node)")
    if not isinstance(all_equilibria, bool):
        raise InvalidInputError(f"{where}: all_equilibria must be a bool, got {all_equilibria!r}")
    if isinstance(max_equilibria, bool) or not isinstance(max_equilibria, int) or max_equilibria < 1:
        raise InvalidInputError(f"{where}: max_equilibria must be a positive integer, got {max_equilibria!r}")
    N = g.n_players
    s = g._sequences()
    zero = (Fraction(0),) * N
    # per node: list of (payoff vector, choices) where choices is a tuple of (infoset, action);
    # the first entry is the ties-to-first-action equilibrium
    sol: list = [None] * g.n_nodes
    cut = False
    limit = max_equilibria if all_equilibria else 1
    for v in range(g.n_nodes - 1, -1, -1):
        o = g.node_outcome[v]
        own = g.outcome_payoffs[o] if o >= 0 else zero
        kids = g.node_children[v]
        if not kids:
            sol[v] = [(own, ())]
            continue
        h = g.node_infoset[v]
        pl = g.infoset_player[h]
        entries: list = []
        total = math.prod(len(sol[k]) for k in kids)
        for idx, combo in enumerate(itertools.product(*[sol[k] for k in kids])):
            choices = tuple(c for _, ch in combo for c in ch)
            if pl < 0:
                cont = tuple(sum((pr * val[i] for pr, (val, _) in zip(g.infoset_probs[h], combo)), Fraction(0))
                             for i in range(N))
                entries.append((tuple(a + b for a, b in zip(own, cont)), choices))
            else:
                top = max(val[pl] for val, _ in combo)
                for a, (val, _) in enumerate(combo):
                    if val[pl] == top:
                        entries.append((tuple(x + y for x, y in zip(own, val)), choices + ((h, a),)))
                        if not all_equilibria:
                            break
            if len(entries) >= limit:
                if all_equilibria and (len(entries) > limit or idx < total - 1):
                    cut = True
                entries = entries[:limit]
                break
        sol[v] = entries

    def profile(choices: tuple) -> tuple:
        out = [np.zeros(s["n_seq"][p] - 1) for p in range(N)]
        for h, a in choices:
            out[g.infoset_player[h]][s["first_seq"][h] - 1 + a] = 1.0
        return tuple(out)

    eqs = tuple(profile(ch) for _, ch in sol[0])
    res = _finish(g, list(eqs[0]), status=Status.FEASIBLE if cut else Status.OPTIMAL, method="subgame_perfect",
                  backend="python", t0=t0, params={"all_equilibria": all_equilibria, "max_equilibria": max_equilibria},
                  message=(f"more than max_equilibria={max_equilibria} equilibria; the list is cut" if cut
                           else "backward induction"), objective=float(sol[0][0][0][0]))
    return dataclasses.replace(res, equilibria=eqs if all_equilibria else ())


def solve(game: ExtensiveFormGame, /, method: str = "auto", **options: Any) -> EFGResult:
    """Dispatcher: ``"auto"`` picks ``subgame_perfect`` for perfect-information trees, else
    ``sequence_form_lp`` for two-player constant-sum trees."""
    from engine.validation import check_choice
    g = _check_game(game, "efg.solve()")
    method = check_choice(method, "method", "efg.solve()", ("auto", "subgame_perfect", "sequence_form_lp"))
    if method == "auto":
        method = "subgame_perfect" if g.is_perfect_information else "sequence_form_lp"
    if method == "subgame_perfect":
        return subgame_perfect(g, **options)
    return sequence_form_lp(g, **options)


# ====================================================================== random trees
def random_tree(depth: int, /, *, n_players: int = 2, seed: Any = 0, zero_sum: bool = False,
                branching: Sequence[int] = (2, 3), p_chance: float = 0.15, p_terminal: float = 0.1,
                group: int = 3, payoff_range: int = 10) -> ExtensiveFormGame:
    """A random tree with perfect recall, for tests and benchmarks.

    Built level by level to ``depth`` moves; a node (below the root) ends early with probability
    ``p_terminal``, is a chance node (uniform, exact) with probability ``p_chance``, and otherwise
    belongs to a random player. Nodes of a player at one level with the same own history share
    information sets in groups of up to ``group`` (1 gives perfect information). Integer payoffs in
    ``[-payoff_range, payoff_range]``; ``zero_sum`` makes player 2's the negative of player 1's."""
    from engine.seeding import resolve_seed
    from engine.validation import check_int, check_real

    where = "random_tree()"
    depth = check_int(depth, "depth", where, lower=1, upper=64)
    n_players = check_int(n_players, "n_players", where, lower=1, upper=MAX_PLAYERS)
    group = check_int(group, "group", where, lower=1)
    check_real(p_chance, "p_chance", where, lower=0, upper=1)
    check_real(p_terminal, "p_terminal", where, lower=0, upper=1)
    if zero_sum and n_players != 2:
        raise InvalidInputError(f"{where}: zero_sum needs n_players=2, got {n_players}")
    branches = [check_int(k, "branching", where, lower=1, upper=1000) for k in branching]
    if not branches:
        raise InvalidInputError(f"{where}: branching must list at least one number of actions")
    rng = resolve_seed(seed, where=where).generator("random_tree")
    b = TreeBuilder([f"Player {i + 1}" for i in range(n_players)], title=f"random tree depth {depth}")
    frontier: list = [(b.root, tuple(() for _ in range(n_players)))]
    n_iset = 0
    n_out = 0

    def leaf(node: int) -> None:
        nonlocal n_out
        n_out += 1
        pay = rng.integers(-payoff_range, payoff_range + 1, size=n_players).tolist()
        if zero_sum:
            pay[1] = -pay[0]
        b.outcome(node, pay, label=f"o{n_out}")

    for level in range(depth):
        groups: dict = {}
        nxt: list = []
        u = rng.random((len(frontier), 2))
        for (node, hist), (r1, r2) in zip(frontier, u):
            if level > 0 and r1 < p_terminal:
                leaf(node)
            elif r2 < p_chance:
                k = int(rng.choice(branches))
                kids = b.chance(node, [f"c{j + 1}" for j in range(k)], [Fraction(1, k)] * k)
                nxt.extend((c, hist) for c in kids)
            else:
                p = int(rng.integers(n_players))
                groups.setdefault((p, hist[p]), []).append((node, hist))
        for (p, _own), members in groups.items():
            k = int(rng.choice(branches))
            for start in range(0, len(members), group):
                n_iset += 1
                name = f"I{n_iset}"
                for node, hist in members[start:start + group]:
                    kids = b.move(node, p, [f"a{j + 1}" for j in range(k)], infoset=name)
                    for a, c in enumerate(kids):
                        h2 = list(hist)
                        h2[p] = hist[p] + (n_iset * 1000 + a,)
                        nxt.append((c, tuple(h2)))
        frontier = nxt
    for node, _ in frontier:
        leaf(node)
    return b.build()


def kuhn_poker() -> ExtensiveFormGame:
    """Kuhn poker (three cards, ante 1, one bet of 1): value -1/18 to player 1."""
    b = TreeBuilder(["P1", "P2"], title="Kuhn poker")
    cards = "JQK"
    deals = list(itertools.permutations(range(3), 2))
    nodes = b.chance(b.root, [f"{cards[i]}{cards[j]}" for i, j in deals], [Fraction(1, 6)] * 6)
    for (i, j), node in zip(deals, nodes):
        win = 1 if i > j else -1
        check, bet = b.move(node, "P1", ["check", "bet"], infoset=f"1{cards[i]}")
        c2, b2 = b.move(check, "P2", ["check", "bet"], infoset=f"2{cards[j]}c")
        b.outcome(c2, [win, -win], label=f"show1_{win}")
        fold, call = b.move(b2, "P1", ["fold", "call"], infoset=f"1{cards[i]}cb")
        b.outcome(fold, [-1, 1], label="p1folds")
        b.outcome(call, [2 * win, -2 * win], label=f"show2_{win}")
        fold2, call2 = b.move(bet, "P2", ["fold", "call"], infoset=f"2{cards[j]}b")
        b.outcome(fold2, [1, -1], label="p2folds")
        b.outcome(call2, [2 * win, -2 * win], label=f"show2_{win}")
    return b.build()


# ====================================================================== Stackelberg commitment
@dataclass(frozen=True, kw_only=True)
class TreeStackelbergResult(EFGResult):
    """Strong Stackelberg equilibrium of a two-player tree: the leader commits to ``behavior[leader]``,
    the follower plays the pure best response ``behavior[1 - leader]`` (ties broken in the leader's
    favour). ``value`` is the leader's payoff; ``follower_regret`` certifies the best response
    (``max_regret`` is the usual Nash certificate and is positive when commitment pays)."""

    leader: int = 0
    follower_regret: float = math.nan


def stackelberg(game: ExtensiveFormGame, /, leader: int = 0, *, time_limit: Optional[float] = None,
                mip_rel_gap: Optional[float] = None, options: Optional[dict] = None) -> TreeStackelbergResult:
    """The leader's optimal commitment to a behaviour strategy in a two-player tree with perfect
    recall (strong Stackelberg equilibrium), by one sequence-form MILP on HiGHS in the spirit of
    Bošanský and Čermák (2015): the leader's realization plan ``x``, the follower's pure plan
    ``r`` (binary), leaf reach ``p = x * r`` linearised exactly, and the follower's best response
    by big-M constraints on its sequence values."""
    from engine.validation import check_int, check_time_limit
    from solvers import LinearModel

    t0 = time.perf_counter()
    where = "stackelberg()"
    g = _check_game(game, where)
    if g.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player game, got {g.n_players} players")
    leader = check_int(leader, "leader", where, lower=0, upper=1)
    tl = check_time_limit(time_limit, where)
    if options is not None and not isinstance(options, dict):
        raise InvalidInputError(f"{where}: options must be a dict, got {type(options).__name__}")
    s = g._require_perfect_recall(where)
    L, F = leader, 1 - leader
    nL, nF = s["n_seq"][L], s["n_seq"][F]
    seqL, seqF = s["leaf_seq"][:, L], s["leaf_seq"][:, F]
    nZ = len(seqL)
    w = s["leaf_chance"]
    uL, uF = s["leaf_pay"][:, L], s["leaf_pay"][:, F]
    hsF = list(g.player_infosets[F])
    kF = len(hsF)
    ox, orr, op, ov = 0, nL, nL + nF, nL + nF + nZ
    n_cols = ov + kF
    M = 2.0 * float(np.abs(uF).max(initial=0.0)) + 1.0
    rows: list = []
    cols: list = []
    vals: list = []
    lo: list = []
    hi: list = []
    r0 = 0

    def block(r: np.ndarray, c: np.ndarray, v: np.ndarray, n: int, low: np.ndarray, high: np.ndarray) -> None:
        nonlocal r0
        rows.append(r + r0)
        cols.append(c)
        vals.append(v)
        lo.append(low)
        hi.append(high)
        r0 += n

    r1, c1, v1, m1 = _constraint_triplets(g, L)
    e1 = np.zeros(m1)
    e1[0] = 1.0
    block(r1, c1 + ox, v1, m1, e1, e1)
    r2, c2, v2, m2 = _constraint_triplets(g, F)
    e2 = np.zeros(m2)
    e2[0] = 1.0
    block(r2, c2 + orr, v2, m2, e2, e2)
    z = np.arange(nZ)
    one, zero_ = np.ones(nZ), np.zeros(nZ)
    block(np.concatenate([z, z]), np.concatenate([op + z, ox + seqL]), np.concatenate([one, -one]), nZ,
          np.full(nZ, -np.inf), zero_)
    block(np.concatenate([z, z]), np.concatenate([op + z, orr + seqF]), np.concatenate([one, -one]), nZ,
          np.full(nZ, -np.inf), zero_)
    block(np.concatenate([z, z, z]), np.concatenate([op + z, ox + seqL, orr + seqF]),
          np.concatenate([one, -one, -one]), nZ, -one, np.full(nZ, np.inf))
    # follower sequence values: V(sigma) = sum_z w u_F x(seqL(z)) [seqF(z) = sigma] + sum_{I' after sigma} v(I')
    # rows (one per follower sequence sigma >= 1): v(I(sigma)) - V(sigma) >= 0 and <= M (1 - r(sigma))
    pos = {h: i for i, h in enumerate(hsF)}
    vr: list = []
    vc: list = []
    vv: list = []
    mask = seqF > 0
    vr.append(seqF[mask] - 1)
    vc.append(ox + seqL[mask])
    vv.append(-(w * uF)[mask])
    seq_iset = s["seq_infoset"][F]
    vr.append(np.arange(nF - 1))
    vc.append(ov + np.array([pos[int(h)] for h in seq_iset[1:]], dtype=np.int64))
    vv.append(np.ones(nF - 1))
    for h in hsF:
        par = int(s["iset_parent"][h])
        if par > 0:
            vr.append(np.array([par - 1]))
            vc.append(np.array([ov + pos[h]]))
            vv.append(np.array([-1.0]))
    br_r, br_c, br_v = np.concatenate(vr), np.concatenate(vc), np.concatenate(vv)
    block(br_r, br_c, br_v, nF - 1, np.zeros(nF - 1), np.full(nF - 1, np.inf))
    block(np.concatenate([br_r, np.arange(nF - 1)]), np.concatenate([br_c, orr + np.arange(1, nF)]),
          np.concatenate([br_v, np.full(nF - 1, M)]), nF - 1, np.full(nF - 1, -np.inf), np.full(nF - 1, M))
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n_cols))
    c = np.zeros(n_cols)
    c[op:op + nZ] = w * uL
    col_lo = np.concatenate([np.zeros(nL + nF + nZ), np.full(kF, -np.inf)])
    col_hi = np.concatenate([np.ones(nL + nF + nZ), np.full(kF, np.inf)])
    integrality = np.zeros(n_cols, dtype=bool)
    integrality[orr:orr + nF] = True
    model = LinearModel(c, A, np.concatenate(lo), np.concatenate(hi), col_lower=col_lo, col_upper=col_hi,
                        integrality=integrality, sense="max")
    res = model.solve(time_limit=tl, mip_rel_gap=mip_rel_gap, options=options)
    params = {"leader": L, "time_limit": tl, "mip_rel_gap": mip_rel_gap, "options": dict(options or {})}
    if res.x is None:
        return TreeStackelbergResult(status=res.status, message=f"{where}: {res.message}", method="stackelberg",
                                     backend="highs", params=params, runtime=time.perf_counter() - t0, leader=L)
    xs = np.asarray(res.x)
    x = np.maximum(xs[ox:ox + nL], 0.0)
    r = np.round(xs[orr:orr + nF])
    beh: list = [None, None]
    beh[L] = g.behavior_from_realization(x, L)
    beh[F] = g.behavior_from_realization(r, F)
    out = _finish(g, beh, status=res.status, method="stackelberg", backend="highs", t0=t0, params=params,
                  message=res.message, nit=res.nit, realization=tuple([x, r] if L == 0 else [r, x]),
                  objective=float(res.objective), bound=float(res.bound), value=float(res.objective))
    freg = float(max(0.0, g.regrets(list(out.behavior))[F]))
    return TreeStackelbergResult(**{f.name: getattr(out, f.name) for f in dataclasses.fields(out)}, leader=L,
                                 follower_regret=freg)


# ====================================================================== general-sum Nash by MILP
def _br_block(g: ExtensiveFormGame, s: dict, P: int, o_self: int, o_other: int, o_bin: int, o_val: int,
              M: float) -> tuple:
    """Rows saying that player P's plan (columns ``o_self``) is a best response to the other
    player's plan (columns ``o_other``): per sequence sigma >= 1 of P, with its infoset's value
    v (columns ``o_val``) and a binary b (columns ``o_bin``): ``v - V(sigma) >= 0``,
    ``v - V(sigma) + M b <= M`` and ``x(sigma) - b <= 0``. Returns (rows, cols, vals, lo, hi, n)."""
    O = 1 - P
    n = s["n_seq"][P]
    seqP, seqO = s["leaf_seq"][:, P], s["leaf_seq"][:, O]
    wu = s["leaf_chance"] * s["leaf_pay"][:, P]
    hs = list(g.player_infosets[P])
    pos = {h: i for i, h in enumerate(hs)}
    mask = seqP > 0
    vr = [seqP[mask] - 1, np.arange(n - 1)]
    vc = [o_other + seqO[mask],
          o_val + np.array([pos[int(h)] for h in s["seq_infoset"][P][1:]], dtype=np.int64)]
    vv = [-wu[mask], np.ones(n - 1)]
    for h in hs:
        par = int(s["iset_parent"][h])
        if par > 0:
            vr.append(np.array([par - 1]))
            vc.append(np.array([o_val + pos[h]]))
            vv.append(np.array([-1.0]))
    r, c, v = np.concatenate(vr), np.concatenate(vc), np.concatenate(vv)
    k = n - 1
    seqs = np.arange(k)
    rows = np.concatenate([r, k + r, k + seqs, 2 * k + seqs, 2 * k + seqs])
    cols = np.concatenate([c, c, o_bin + 1 + seqs, o_self + 1 + seqs, o_bin + 1 + seqs])
    vals = np.concatenate([v, v, np.full(k, M), np.ones(k), -np.ones(k)])
    lo = np.concatenate([np.zeros(k), np.full(k, -np.inf), np.full(k, -np.inf)])
    hi = np.concatenate([np.full(k, np.inf), np.full(k, M), np.zeros(k)])
    return rows, cols, vals, lo, hi, 3 * k


def sequence_form_milp(game: ExtensiveFormGame, /, *, objective: str = "welfare", time_limit: Optional[float] = None,
                       options: Optional[dict] = None) -> EFGResult:
    """A Nash equilibrium of a two-player general-sum tree with perfect recall, by one MILP on the
    sequence form (HiGHS): both realization plans, each player's information-set values, and a
    binary per sequence that may carry probability only where it is a best response (big-M
    complementarity). ``objective="welfare"`` picks the equilibrium with the largest sum of
    payoffs (``"player1"``/``"player2"``: the best for that player; ``"none"``: any). Not
    Lemke's algorithm; ``max_regret`` is the certificate (HiGHS tolerances, about 1e-7)."""
    from engine.validation import check_choice, check_time_limit
    from solvers import LinearModel

    t0 = time.perf_counter()
    where = "sequence_form_milp()"
    g = _check_game(game, where)
    if g.n_players != 2:
        raise UnsupportedProblemError(f"{where}: needs a two-player game, got {g.n_players} players")
    objective = check_choice(objective, "objective", where, ("welfare", "player1", "player2", "none"))
    tl = check_time_limit(time_limit, where)
    if options is not None and not isinstance(options, dict):
        raise InvalidInputError(f"{where}: options must be a dict, got {type(options).__name__}")
    s = g._require_perfect_recall(where)
    n1, n2 = s["n_seq"]
    k1, k2 = len(g.player_infosets[0]), len(g.player_infosets[1])
    ox, oy, ob1, ob2 = 0, n1, n1 + n2, 2 * n1 + n2
    ov1 = 2 * n1 + 2 * n2
    ov2 = ov1 + k1
    n_cols = ov2 + k2
    M = 2.0 * float(np.abs(s["leaf_pay"]).max(initial=0.0)) + 1.0
    parts = []
    r0 = 0
    for P, (oself, oother, ob, ov) in enumerate(((ox, oy, ob1, ov1), (oy, ox, ob2, ov2))):
        rr, cc, vv, _n = _constraint_triplets(g, P)
        e = np.zeros(_n)
        e[0] = 1.0
        parts.append((rr + r0, cc + oself, vv, e, e))
        r0 += _n
        rows, cols, vals, lo, hi, n = _br_block(g, s, P, oself, oother, ob, ov, M)
        parts.append((rows + r0, cols, vals, lo, hi))
        r0 += n
    A = sp.csc_matrix((np.concatenate([p[2] for p in parts]),
                       (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))),
                      shape=(r0, n_cols))
    c = np.zeros(n_cols)
    if objective != "none":
        # payoff of player P is linear in p(z) = x * y, which the MILP does not model; use the
        # values instead: player P's payoff = sum of the values of its root infosets + leaves
        # reached by the empty sequence of P (constant in x_P's choice, linear in the other plan)
        for P, (ov, oo) in enumerate(((ov1, oy), (ov2, ox))):
            if objective in ("welfare", f"player{P + 1}"):
                for i, h in enumerate(g.player_infosets[P]):
                    if s["iset_parent"][h] == 0:
                        c[ov + i] += 1.0
                mask = s["leaf_seq"][:, P] == 0
                np.add.at(c, oo + s["leaf_seq"][mask, 1 - P],
                          (s["leaf_chance"] * s["leaf_pay"][:, P])[mask])
    col_lo = np.concatenate([np.zeros(2 * n1 + 2 * n2), np.full(k1 + k2, -np.inf)])
    col_hi = np.concatenate([np.ones(2 * n1 + 2 * n2), np.full(k1 + k2, np.inf)])
    integrality = np.zeros(n_cols, dtype=bool)
    integrality[ob1:ob1 + n1] = True
    integrality[ob2:ob2 + n2] = True
    model = LinearModel(c, A, np.concatenate([p[3] for p in parts]), np.concatenate([p[4] for p in parts]),
                        col_lower=col_lo, col_upper=col_hi, integrality=integrality, sense="max")
    res = model.solve(time_limit=tl, options=options)
    params = {"objective": objective, "time_limit": tl, "options": dict(options or {})}
    if res.x is None:
        return EFGResult(status=res.status, message=f"{where}: {res.message}", method="sequence_form_milp",
                         backend="highs", params=params, runtime=time.perf_counter() - t0)
    xs = np.asarray(res.x)
    x = np.maximum(xs[ox:ox + n1], 0.0)
    y = np.maximum(xs[oy:oy + n2], 0.0)
    return _finish(g, [g.behavior_from_realization(x, 0), g.behavior_from_realization(y, 1)], status=res.status,
                   method="sequence_form_milp", backend="highs", t0=t0, params=params, message=res.message,
                   nit=res.nit, realization=(x, y), objective=float(res.objective), bound=float(res.bound))
