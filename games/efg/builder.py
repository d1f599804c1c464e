"""A small builder for game trees in Python (:class:`TreeBuilder`).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from engine.errors import InvalidInputError
from games.efg.tree import ExtensiveFormGame, _as_number, _GameParts
from games.efg_io import MAX_NODES, MAX_PLAYERS


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
