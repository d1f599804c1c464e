"""The game-tree model: :class:`ExtensiveFormGame` (nodes, players, information sets, perfect
recall, exact chance probabilities, outcomes), its reduced normal form and behaviour-strategy
payoffs and regrets.

Over 800 lines on purpose: the tree model keeps its derived arrays (sequences, information-set
tables, payoffs) lazily on the game object, and the methods that build them share that cache; the
builder, the solvers and the file formats are in their own modules.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Optional, Sequence

import numpy as np
from numba import njit

from engine.errors import InvalidInputError, UnsupportedProblemError
from games.efg_io import parse_number


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


def _read_only(values: list) -> np.ndarray:
    """``values`` as a read-only int64 array."""
    arr = np.array(values, dtype=np.int64)
    arr.setflags(write=False)
    return arr


def _first_use(refs: list) -> list:
    """The non-negative entries of ``refs`` in the order of their first use."""
    return list(dict.fromkeys([h for h in refs if h >= 0]))


def _renumbered(refs: list, order: list) -> list:
    """``refs`` (indices, -1 for none) after renumbering ``order[k]`` to ``k``."""
    remap = [0] * len(order)
    for new, old in enumerate(order):
        remap[old] = new
    return [remap[h] if h >= 0 else -1 for h in refs]


@njit(cache=True)
def _regret_kernel(beh: np.ndarray, seq_off: np.ndarray, isets: np.ndarray, iset_off: np.ndarray,
                   leaf_seq: np.ndarray, leaf_chance: np.ndarray, leaf_pay: np.ndarray) -> tuple:
    """(expected payoffs, regrets) of a behaviour profile: the realization plans, each player's
    sequence values against the others' plans, and the best response by backward induction over
    its information sets (rows ``(first sequence, actions, parent sequence)``, deepest first).
    Player p's sequences are ``seq_off[p]:seq_off[p + 1]`` of one plan vector and its behaviour
    entries start at ``seq_off[p] - p`` in ``beh``."""
    N = seq_off.shape[0] - 1
    n_leaf = leaf_seq.shape[0]
    x = np.empty(seq_off[N])
    for p in range(N):
        o = seq_off[p]
        bo = o - p - 1
        x[o] = 1.0
        for r in range(iset_off[p + 1] - 1, iset_off[p] - 1, -1):  # shallowest first
            k, m, par = isets[r, 0], isets[r, 1], isets[r, 2]
            xp = x[o + par]
            for a in range(m):
                x[o + k + a] = xp * beh[bo + k + a]
    pays = np.zeros(N)
    regrets = np.zeros(N)
    w = np.empty(n_leaf)
    for p in range(N):
        o = seq_off[p]
        V = np.zeros(seq_off[p + 1] - o)
        for i in range(n_leaf):
            wi = leaf_chance[i]
            for q in range(N):
                if q != p:
                    wi *= x[seq_off[q] + leaf_seq[i, q]]
            w[i] = wi
            V[leaf_seq[i, p]] += wi * leaf_pay[i, p]
        cur = 0.0
        for k in range(V.shape[0]):
            cur += V[k] * x[o + k]
        for r in range(iset_off[p], iset_off[p + 1]):  # deepest first
            k, m, par = isets[r, 0], isets[r, 1], isets[r, 2]
            best = V[k]
            for a in range(1, m):
                if V[k + a] > best:
                    best = V[k + a]
            V[par] += best
        pays[p] = cur
        regrets[p] = V[0] - cur
    return pays, regrets


@njit(cache=True)
def _behavior_kernel(x: np.ndarray, isets: np.ndarray, n_beh: int) -> np.ndarray:
    """Behaviour probabilities of the realization plan ``x`` over the information sets ``isets``
    (rows as in :func:`_regret_kernel`); uniform where an infoset is not reached."""
    b = np.zeros(n_beh)
    for r in range(isets.shape[0]):
        k, m, par = isets[r, 0], isets[r, 1], isets[r, 2]
        tot = 0.0
        for a in range(m):
            tot += x[k + a]
        if x[par] > 1e-12 and tot > 0:
            for a in range(m):
                b[k - 1 + a] = x[k + a] / tot
        else:
            for a in range(m):
                b[k - 1 + a] = 1.0 / m
    return b


def _checked_probabilities(probs: Sequence[tuple[Fraction, str]], where: Callable[[str], Exception]) -> tuple:
    """A chance move's ``(value, text)`` pairs as ``(values, texts)``, checked: each in [0, 1],
    their sum exactly 1 (``where(message)`` is raised otherwise)."""
    fracs, texts = zip(*probs) if probs else ((), ())
    # in ints (numerators over the common denominator): Fraction arithmetic costs more than the
    # rest of a small file's parse
    nums = [f.numerator for f in fracs]
    dens = [f.denominator for f in fracs]
    den = dens[0] if dens else 1
    if dens.count(den) != len(dens):
        for d in dens:
            if den % d:
                den = den * d // math.gcd(den, d)
        nums = [a * (den // d) for a, d in zip(nums, dens)]
    if nums and (min(nums) < 0 or max(nums) > den):
        raise where(f"chance probabilities must lie in [0, 1], got {list(texts)}")
    if sum(nums) != den:
        raise where(f"chance probabilities must sum to exactly 1, got {sum(fracs, Fraction(0))}")
    return fracs, texts


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
    outcome_payoffs: list = field(default_factory=list)  # None: every text is an integer (values on first use)
    outcome_texts: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    #: set by the file readers: information sets and outcomes are numbered at first use (prefix
    #: order), and every one is used
    first_use: bool = False

    def add_infoset(self, player: int, number: int, label: str, actions: Sequence[str],
                    probs: Optional[Sequence[tuple[Fraction, str]]], where: Callable[[str], Exception]) -> int:
        if probs is not None:
            fracs, texts = _checked_probabilities(probs, where)
            self.infoset_probs.append(fracs)
            self.infoset_prob_texts.append(texts)
        else:
            self.infoset_probs.append(None)
            self.infoset_prob_texts.append(None)
        self.infoset_player.append(player)
        self.infoset_number.append(number)
        self.infoset_label.append(label)
        self.infoset_actions.append(tuple(actions))
        return len(self.infoset_player) - 1

    def add_outcome(self, number: int, label: str, payoffs: Sequence[tuple[Fraction, str]]) -> int:
        self.outcome_number.append(number)
        self.outcome_label.append(label)
        self.outcome_payoffs.append(tuple([f for f, _ in payoffs]))
        self.outcome_texts.append(tuple([t for _, t in payoffs]))
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


class _SequenceData(dict):
    """The dict :meth:`ExtensiveFormGame._sequences` returns. What a solve does not always need
    is built on first access (``__missing__``): ``seq_infoset``, ``seq_action``, ``seq_parent``
    (per player, per sequence), ``leaf`` (leaf nodes), ``pay_absmax`` (the largest payoff
    magnitude) and ``leaf_chance_nd`` (per leaf the exact chance probability as an unreduced
    (numerator, denominator) pair)."""

    def __init__(self, game: "ExtensiveFormGame", leaf_l: list, cnum: list, cden: list) -> None:
        super().__init__()
        self._game, self._leaf_l, self._cnum, self._cden = game, leaf_l, cnum, cden
        self.lists: tuple = ()  # first_seq, iset_parent and iset_depth as lists (numpy scalars are slow)

    def __missing__(self, key: str) -> Any:
        g = self._game
        if key == "leaf":
            val: Any = np.array(self._leaf_l, dtype=np.int64)
        elif key == "pay_absmax":  # the largest payoff magnitude
            val = float(np.abs(self["leaf_pay"]).max(initial=0.0))
        elif key == "leaf_chance_nd":
            val = [(self._cnum[v], self._cden[v]) for v in self._leaf_l]
        elif key in ("first_seq", "iset_parent", "iset_depth"):  # (from the lists: most small solves never ask)
            val = np.array(self.lists[("first_seq", "iset_parent", "iset_depth").index(key)], dtype=np.int64)
        elif key in ("seq_infoset", "seq_action", "seq_parent"):
            ip = self["iset_parent"].tolist()
            for p in range(g.n_players):
                si, sa, sp_ = [-1], [-1], [-1]
                for h in g.player_infosets[p]:
                    m = len(g.infoset_actions[h])
                    si.extend([h] * m)
                    sa.extend(range(m))
                    sp_.extend([max(ip[h], 0)] * m)
                for name, lst in (("seq_infoset", si), ("seq_action", sa), ("seq_parent", sp_)):
                    self.setdefault(name, []).append(np.array(lst, dtype=np.int64))
            return dict.__getitem__(self, key)
        else:
            raise KeyError(key)
        self[key] = val
        return val


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
    >>> from games.efg import TreeBuilder, subgame_perfect
    >>> b = TreeBuilder(["Alice", "Bob"], title="entry")
    >>> stay, enter = b.move(b.root, "Bob", ["out", "in"])
    >>> b.outcome(stay, [2, 0])
    >>> fight, share = b.move(enter, "Alice", ["fight", "share"])
    >>> b.outcome(fight, [-1, -1]); b.outcome(share, [1, 1])
    >>> g = b.build()
    >>> subgame_perfect(g).behavior[1]
    array([0., 1.])
    """

    __slots__ = ("players", "title", "comment", "notes", "node_kind", "node_label", "_node_infoset", "_node_outcome",
                 "infoset_player", "infoset_label",
                 "infoset_actions", "infoset_probs", "infoset_prob_texts", "outcome_label",
                 "_outcome_payoffs", "outcome_texts", "player_infosets", "_cache")

    players: tuple
    title: str
    comment: str
    notes: tuple
    node_kind: tuple
    node_label: tuple
    infoset_player: tuple
    infoset_label: tuple
    infoset_actions: tuple
    infoset_probs: tuple
    infoset_prob_texts: tuple
    outcome_label: tuple
    _outcome_payoffs: tuple
    _node_infoset: Optional[np.ndarray]
    _node_outcome: Optional[np.ndarray]
    outcome_texts: tuple
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
        # (plain lists up to the end: most trees are small, and numpy's per-call cost dominates there)
        iplayer = parts.infoset_player
        m = len(iplayer)
        n_out = len(parts.outcome_label)
        order: Optional[list]
        oorder: Optional[list]
        if parts.first_use:  # a reader's order: numbered at first use, every one used
            order = sorted(range(m), key=iplayer.__getitem__)  # (stable; chance, -1, first)
            n_chance = iplayer.count(-1)
            order = order[n_chance:] + order[:n_chance]
            oorder = None
        else:
            iset_uses = _first_use(parts.node_infoset)
            first = {h: i for i, h in enumerate(iset_uses)}
            order = sorted(range(m), key=lambda h: (iplayer[h] < 0, iplayer[h], first.get(h, len(first) + h)))
            out_uses = _first_use(parts.node_outcome)
            ofirst = {o: i for i, o in enumerate(out_uses)}
            oorder = sorted(range(n_out), key=lambda o: ofirst.get(o, len(ofirst) + o))
            if oorder == list(range(n_out)):
                oorder = None
        if order == list(range(m)):  # None: the parts' lists are already in the game's order
            order = None
        self.players = tuple(parts.players)
        self.title = parts.title
        self.comment = parts.comment
        self.notes = tuple(parts.notes)
        self.node_kind = tuple(parts.kind)
        self.node_label = tuple(parts.label)
        self._node_infoset = None  # the arrays on first use, from the lists
        self._node_outcome = None
        if order is None:
            isets = parts.node_infoset
            self.infoset_player = tuple(iplayer)
            self.infoset_label = tuple(parts.infoset_label)
            self.infoset_actions = tuple(parts.infoset_actions)
            self.infoset_probs = tuple(parts.infoset_probs)
            self.infoset_prob_texts = tuple(parts.infoset_prob_texts)
        else:
            isets = _renumbered(parts.node_infoset, order)
            self.infoset_player = tuple([iplayer[h] for h in order])
            self.infoset_label = tuple([parts.infoset_label[h] for h in order])
            self.infoset_actions = tuple([parts.infoset_actions[h] for h in order])
            self.infoset_probs = tuple([parts.infoset_probs[h] for h in order])
            self.infoset_prob_texts = tuple([parts.infoset_prob_texts[h] for h in order])
        if oorder is None:
            outs = parts.node_outcome
            self.outcome_label = tuple(parts.outcome_label)
            self._outcome_payoffs = tuple(parts.outcome_payoffs)
            self.outcome_texts = tuple(parts.outcome_texts)
        else:
            outs = _renumbered(parts.node_outcome, oorder)
            self.outcome_label = tuple([parts.outcome_label[o] for o in oorder])
            self._outcome_payoffs = tuple([parts.outcome_payoffs[o] for o in oorder])
            self.outcome_texts = tuple([parts.outcome_texts[o] for o in oorder])
        # sorted by player, chance last: each player's information sets are one block
        blocks = []
        start = 0
        for p in range(n_players):
            stop = start + self.infoset_player.count(p)
            blocks.append(tuple(range(start, stop)))
            start = stop
        self.player_infosets = tuple(blocks)
        # parents, children, actions and members are built on first use (:meth:`_links`): reading
        # a file checks everything about it, and a solver pays for what it reads
        self._cache = {"isets_l": isets, "outs_l": outs}
        return self

    @property
    def node_infoset(self) -> np.ndarray:
        """Per node its information set (-1 at terminals); read-only."""
        if self._node_infoset is None:
            self._node_infoset = _read_only(self._cache["isets_l"])
        return self._node_infoset

    @property
    def node_outcome(self) -> np.ndarray:
        """Per node its outcome (-1 for none); read-only."""
        if self._node_outcome is None:
            self._node_outcome = _read_only(self._cache["outs_l"])
        return self._node_outcome

    def _links(self) -> dict:
        """Parents, actions leading to each node, children and infoset members, from the prefix
        order (lists, and the read-only arrays and tuples of the public attributes)."""
        got = self._cache.get("links")
        if got is None:
            n = self.n_nodes
            isets = self._cache["isets_l"]
            parent = [-1] * n
            action = [-1] * n
            children: list[tuple] = [()] * n
            stack: list[list] = []  # [node, next action, n actions, child list]
            acts = self.infoset_actions
            n_act = [len(acts[h]) if h >= 0 else 0 for h in isets]
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
            for v, h in enumerate(isets):
                if h >= 0:
                    members[h].append(v)
            got = {"parent_l": parent, "action_l": action, "parent": _read_only(parent), "action": _read_only(action),
                   "children": tuple(children), "members": tuple(tuple(m) for m in members)}
            self._cache["links"] = got
        return got

    @property
    def outcome_payoffs(self) -> tuple:
        """Per outcome the payoffs as exact Fractions (the reader leaves integers as text until
        they are asked for)."""
        pays = self._outcome_payoffs
        if None in pays:
            pays = self._outcome_payoffs = tuple(
                tuple([Fraction(int(t)) for t in texts]) if pay is None else pay
                for pay, texts in zip(pays, self.outcome_texts))
        return pays

    @property
    def node_parent(self) -> np.ndarray:
        """Per node its parent (-1 at the root)."""
        return self._links()["parent"]

    @property
    def node_action(self) -> np.ndarray:
        """Per node the index of the action of its parent's information set leading to it (-1 at the root)."""
        return self._links()["action"]

    @property
    def node_children(self) -> tuple:
        """Per node its children, in action order."""
        return self._links()["children"]

    @property
    def infoset_members(self) -> tuple:
        """Per information set its nodes, in prefix order."""
        return self._links()["members"]

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

    @property
    def _infoset_number(self) -> tuple:
        """Per information set its number as written: its position in its player's (or chance's) list."""
        got = self._cache.get("infoset_number")
        if got is None:
            counter: dict[int, int] = {}
            numbers = []
            for pl in self.infoset_player:
                counter[pl] = counter.get(pl, 0) + 1
                numbers.append(counter[pl])
            got = self._cache["infoset_number"] = tuple(numbers)
        return got

    def __repr__(self) -> str:
        return (f"ExtensiveFormGame({self.title!r}, players={list(self.players)}, nodes={self.n_nodes}, "
                f"infosets={self.n_infosets}, outcomes={len(self.outcome_label)})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExtensiveFormGame):
            return NotImplemented
        from games.efg_io import write_efg  # here: games.efg_io imports this module
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

    def _scaled_outcomes(self) -> tuple:
        """(D, per outcome the payoffs times D as Python ints), D the payoffs' common denominator."""
        if all(pay is None for pay in self._outcome_payoffs):  # integers only, still as text
            return 1, [tuple([int(t) for t in texts]) for texts in self.outcome_texts]
        D = 1
        for d in {f.denominator for pay in self.outcome_payoffs for f in pay}:
            D = D * d // math.gcd(D, d)
        if D == 1:
            return 1, [tuple([f.numerator for f in pay]) for pay in self.outcome_payoffs]
        return D, [tuple([f.numerator * (D // f.denominator) for f in pay]) for pay in self.outcome_payoffs]

    def _leaf_int_payoffs(self) -> tuple:
        """(D, per leaf the payoffs times D as Python ints): exact, without Fraction arithmetic."""
        if "leaf_int" not in self._cache:  # (_sequences computes them too, on its pass over the nodes)
            D, scaled = self._scaled_outcomes()
            N = self.n_players
            zero = (0,) * N
            acc: list = [zero] * self.n_nodes
            out = []
            parents = self.node_parent.tolist()
            outs = self._cache["outs_l"]
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
    def _sequences(self) -> "_SequenceData":
        """Sequence-form data: per player the sequences (0 = empty; then one per (infoset, action)
        in infoset order), each infoset's parent sequence, and per leaf the sequence of every
        player, the chance probability and the payoffs."""
        c = self._cache.get("seq")
        if c is not None:
            return c
        N = self.n_players
        n = self.n_nodes
        # sequence index of (h, a): offset[h] + a within the player's numbering
        fs = [0] * self.n_infosets
        n_seq = []
        iacts = self.infoset_actions
        for p in range(N):
            k = 1
            for h in self.player_infosets[p]:
                fs[h] = k
                k += len(iacts[h])
            n_seq.append(k)
        # one pass in prefix order (parents first). Chance reach is kept as an unreduced
        # (numerator, denominator) pair of ints: exact, and n / d is the correctly rounded float,
        # as float(Fraction) is, without a gcd per node. Payoffs are summed exactly as ints times D.
        violations = []
        isets = self._cache["isets_l"]
        # parents and actions from the prefix order on the way (the game's node_parent and
        # node_action are not built for this)
        stack: list = []  # [node, next action, number of actions] of the moves not yet complete
        outs = self._cache["outs_l"]
        iplayer = self.infoset_player
        iprobs = self.infoset_probs
        D, scaled = self._scaled_outcomes()
        zero = [0] * N
        zpay = (0,) * N
        seq_l: list = [zero] * n
        dep_l: list = [zero] * n
        cnum: list = [1] * n
        cden: list = [1] * n
        pacc: list = [zpay] * n
        ip_l = [-2] * self.n_infosets
        depth_l = [0] * self.n_infosets
        leaf_l: list = []
        leaf_rows: list = []
        ints: list = []
        for v in range(n):
            if v:
                top = stack[-1]
                u = top[0]
                a = top[1]
                top[1] = a + 1
                if a + 1 == top[2]:  # a move leaves the stack with its last child
                    stack.pop()
                h = isets[u]
                pl = iplayer[h]
                if pl >= 0:
                    row = seq_l[u].copy()
                    row[pl] = fs[h] + a
                    drow = dep_l[u].copy()
                    drow[pl] += 1
                    cnum[v] = cnum[u]
                    cden[v] = cden[u]
                else:
                    row = seq_l[u]
                    drow = dep_l[u]
                    f = iprobs[h][a]
                    cnum[v] = cnum[u] * f.numerator
                    cden[v] = cden[u] * f.denominator
                seq_l[v] = row
                dep_l[v] = drow
                pay = pacc[u]
            else:
                row = drow = zero
                pay = zpay
            o = outs[v]
            if o >= 0:
                pay = scaled[o] if pay is zpay else tuple(x + y for x, y in zip(pay, scaled[o]))
            pacc[v] = pay
            h = isets[v]
            if h >= 0:
                stack.append([v, 0, len(iacts[h])])
            if h < 0:
                leaf_l.append(v)
                leaf_rows.append(row)
                ints.append(pay)
            elif (pl := iplayer[h]) >= 0:
                sq = row[pl]
                if ip_l[h] == -2:
                    ip_l[h] = sq
                    depth_l[h] = drow[pl]
                elif ip_l[h] != sq:
                    violations.append(f"information set {self._infoset_number[h]} of "
                                      f"{self.players[pl]!r} ({self.infoset_label[h]!r}): its nodes differ in "
                                      f"what {self.players[pl]!r} did before")
                    ip_l[h] = -3
        if "leaf_int" not in self._cache:
            self._cache["leaf_int"] = (D, ints)
        leaf_seq = np.array(leaf_rows, dtype=np.int64).reshape(len(leaf_l), N)
        chance = np.array([cnum[v] / cden[v] if cden[v] != 1 else float(cnum[v]) for v in leaf_l], dtype=np.float64)
        flat = [x for p in ints for x in p]
        hi, lo = (max(flat), min(flat)) if flat else (0, 0)
        absmax: Optional[float] = None
        if D < 2 ** 52 and hi < 2 ** 52 and lo > -2 ** 52:
            pay = np.array(ints, dtype=np.float64).reshape(len(leaf_l), N)
            # exact ints: the largest magnitude divides as the array does (rounding is monotone)
            absmax = float(max(hi, -lo))
            if D != 1:
                pay /= D
                absmax /= D
        else:
            try:
                pay = np.array([[float(Fraction(x, D)) for x in p] for p in ints],
                               dtype=np.float64).reshape(len(leaf_l), N)
            except OverflowError:
                raise UnsupportedProblemError("ExtensiveFormGame: a payoff exceeds the floating-point range "
                                              "(about 1.8e308); the solvers compute in floating point") from None
        c = _SequenceData(self, leaf_l, cnum, cden)
        c.lists = (fs, ip_l, depth_l)
        if absmax is not None:
            c["pay_absmax"] = absmax
        c.update({"n_seq": n_seq, "leaf_seq": leaf_seq, "leaf_chance": chance, "leaf_pay": pay,
                  "violations": tuple(dict.fromkeys(violations))})
        self._cache["seq"] = c
        return c

    def _leaf_chance_fractions(self) -> list:
        """Per leaf (prefix order) the exact probability that chance plays to it."""
        return [Fraction(a, b) for a, b in self._sequences()["leaf_chance_nd"]]

    def _require_perfect_recall(self, where: str) -> dict:
        s = self._sequences()
        if s["violations"]:
            raise UnsupportedProblemError(f"{where}: the game does not have perfect recall: {s['violations'][0]}")
        return s

    def _seq_depth_order(self, p: int) -> list:
        """Player p's infosets, deepest own history first."""
        key = f"order{p}"
        if key not in self._cache:
            depth = self._sequences().lists[2]
            # (a stable sort: equal depths keep infoset order, as reverse=True does)
            self._cache[key] = sorted(self.player_infosets[p], key=depth.__getitem__, reverse=True)
        return self._cache[key]

    # ------------------------------------------------------------------ profiles
    def uniform_behavior(self) -> tuple:
        """The behaviour profile that plays every action of every information set with equal
        probability: one array per player, the actions of its infosets in order."""
        acts = self.infoset_actions
        return tuple(np.array([1.0 / len(acts[h]) for h in hs for _ in acts[h]], dtype=np.float64)
                     for hs in self.player_infosets)

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
            if not math.isfinite(arr.sum()) and not np.all(np.isfinite(arr)):  # the sum: one cheap test
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
        return self._payoffs_and_regrets(profile, "ExtensiveFormGame.regrets()")[1]

    def _payoffs_and_regrets(self, profile: Any, where: str) -> tuple:
        """(expected payoffs, regrets) of a behaviour profile, in one compiled pass."""
        prof = self._as_behavior(profile, where)
        self._require_perfect_recall(where)
        return self._solver_payoffs_and_regrets(prof)

    def _solver_payoffs_and_regrets(self, behavior: Sequence[np.ndarray]) -> tuple:
        """:meth:`_payoffs_and_regrets` of a profile a solver built (float64 arrays of the right
        lengths): the certificate without validating the profile again.
        Only the total length and perfect recall (cached) are checked: the kernel does not check
        bounds."""
        self._require_perfect_recall("EFGResult")
        seq_off, isets, iset_off, leaf_seq, chance, pay = self._regret_data()
        beh = np.concatenate(behavior)
        if beh.shape[0] != seq_off[-1] - len(seq_off) + 1:
            raise ValueError(f"a behaviour profile of {beh.shape[0]} entries for {seq_off[-1] - len(seq_off) + 1} actions")
        return _regret_kernel(beh.astype(np.float64, copy=False), seq_off, isets, iset_off, leaf_seq, chance, pay)

    def _regret_data(self) -> tuple:
        """The arrays :func:`_regret_kernel` reads (built once per game)."""
        got = self._cache.get("regret")
        if got is None:
            s = self._sequences()
            N = self.n_players
            offs = [0]
            for k in s["n_seq"]:
                offs.append(offs[-1] + k)
            seq_off = np.array(offs, dtype=np.int64)
            rows: list = []
            iset_off = [0]
            fs, ip = s.lists[:2]
            acts = self.infoset_actions
            for p in range(N):
                rows.extend((fs[h], len(acts[h]), ip[h]) for h in self._seq_depth_order(p))
                iset_off.append(len(rows))
            isets = np.array(rows, dtype=np.int64).reshape(len(rows), 3)
            got = (seq_off, isets, np.array(iset_off, dtype=np.int64), np.ascontiguousarray(s["leaf_seq"]),
                   s["leaf_chance"], np.ascontiguousarray(s["leaf_pay"]))
            self._cache["regret"] = got
        return got

    def max_regret(self, profile: Any) -> float:
        """The largest regret of any player (0 exactly at a Nash equilibrium)."""
        return float(max(0.0, self.regrets(profile).max()))

    # ------------------------------------------------------------------ subgames
    # (games.efg.subgames imports this module, hence the imports inside the methods)
    def subgame_roots(self) -> tuple:
        """The nodes where a proper subgame starts (no information set crosses the boundary of
        their subtree), in prefix order: node 0 first, unless the tree is a single terminal."""
        from games.efg.subgames import subgame_roots
        return subgame_roots(self)

    def subgame(self, node: int) -> "ExtensiveFormGame":
        """The proper subgame at ``node`` (one of :meth:`subgame_roots`) as a game of its own;
        the payoffs of outcomes above ``node`` are left out."""
        from games.efg.subgames import subtree_game
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or int(node) not in self.subgame_roots():
            raise InvalidInputError(f"ExtensiveFormGame.subgame(): node must be one of subgame_roots(), got {node!r}")
        return subtree_game(self, int(node))[0]

    def subgame_regrets(self, profile: Any) -> np.ndarray:
        """Per subgame (:meth:`subgame_roots`, same order) the max regret of ``profile``
        restricted to it; all are 0 exactly at a subgame-perfect equilibrium."""
        from games.efg.subgames import subgame_regrets
        return subgame_regrets(self, profile)

    def behavior_from_realization(self, x: np.ndarray, player: int) -> np.ndarray:
        """Behaviour strategy of a realization plan (uniform where the infoset is not reached)."""
        seq_off, isets, iset_off = self._regret_data()[:3]
        x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
        return _behavior_kernel(x, isets[iset_off[player]:iset_off[player + 1]],
                                int(seq_off[player + 1] - seq_off[player]) - 1)

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

    # ------------------------------------------------------------------ JSON documents
    def to_dict(self) -> dict:
        """The tree as a ``gameplan/tree`` v1 JSON document (see ``engine.schemas``); numbers
        keep their exact text."""
        from games.efg_io import tree_to_dict  # here: games.efg_io imports this module
        return tree_to_dict(self)

    @classmethod
    def from_dict(cls, source: Any, *, max_nodes: Optional[int] = None,
                  max_players: Optional[int] = None) -> "ExtensiveFormGame":
        """A tree from a ``gameplan/tree`` document (a mapping, JSON text or a path), validated
        against its schema; safe on untrusted input (:func:`games.efg_io.tree_from_dict`).

        Examples
        --------
        >>> from games.efg import kuhn_poker
        >>> ExtensiveFormGame.from_dict(kuhn_poker().to_dict()) == kuhn_poker()
        True
        """
        from games.efg_io import MAX_NODES, MAX_PLAYERS, tree_from_dict  # here: games.efg_io imports this module
        return tree_from_dict(source, max_nodes=MAX_NODES if max_nodes is None else max_nodes,
                              max_players=MAX_PLAYERS if max_players is None else max_players)

    # ------------------------------------------------------------------ pygambit
    def to_pygambit(self) -> Any:
        """The game as a ``pygambit.Game`` (through the ``.efg`` text)."""
        import io

        import pygambit

        from games.efg_io import write_efg  # here: games.efg_io imports this module
        return pygambit.read_efg(io.StringIO(write_efg(self)))

    @classmethod
    def from_pygambit(cls, game: Any) -> "ExtensiveFormGame":
        """A pygambit tree as an :class:`ExtensiveFormGame`."""
        from games.efg_io import read_efg  # here: games.efg_io imports this module
        if not getattr(game, "is_tree", False):
            raise UnsupportedProblemError("ExtensiveFormGame.from_pygambit(): the game is not a tree")
        return read_efg(game.to_efg())
