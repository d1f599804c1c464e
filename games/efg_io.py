"""Gambit ``.efg`` files (extensive form, format 2): :func:`read_efg` and :func:`write_efg`.

The reader takes the format Gambit writes (every node's infoset actions and every outcome's
payoffs repeated at each use, as pygambit 16.7 writes and requires) and the older form in which
an information set's actions and an outcome's payoffs are given only at their first use. Numbers
keep their text (``0.50``, ``1e-20``, ``6/4``) so a file written back is the file read, and their
exact value as a :class:`fractions.Fraction`. Repeated node or information-set labels (which
pygambit rejects) are accepted and reported in ``game.notes``.

Three readers, one grammar: small ASCII files go to a compiled scanner (:mod:`games.efg_scan`,
once the process has read :data:`SCAN_AFTER_READS` small files), files in the layout Gambit writes
to one regular expression per node, and everything else -- every error included -- to the token
reader, which gives the messages. The first two take a subset of the files the token reader
accepts and give the same game on it (tested on mutated files).

Untrusted input: nothing in a file is executed; the number of players (``max_players``) and of
nodes (``max_nodes``) are checked before anything for them is allocated (the pending children of
every move count against ``max_nodes`` as soon as the move is read); numbers are limited in
digits and exponent; every error is an :class:`engine.errors.InvalidInputError` naming the file,
line and column.
"""

from __future__ import annotations

import gc
import os
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import accumulate
from operator import add
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from engine.errors import InvalidInputError
from engine.io import atomic_write_text
from engine.schemas import load_document

__all__ = ["read_efg", "write_efg", "tree_to_dict", "tree_from_dict", "MAX_NODES", "MAX_PLAYERS", "MAX_NUMBER_DIGITS",
           "parse_number"]

#: default limit on the nodes of a tree read from a file (``max_nodes=`` overrides it)
MAX_NODES = 5_000_000
#: default limit on the players of a tree read from a file (``max_players=`` overrides it)
MAX_PLAYERS = 64
#: digits a number may have in a file (integer, numerator, denominator, mantissa)
MAX_NUMBER_DIGITS = 200
#: largest decimal exponent magnitude accepted in a file
MAX_EXPONENT = 400

PathOrText = Union[str, "os.PathLike[str]", bytes]

_INT_RE = re.compile(r"-?[0-9]+\Z")
_RAT_RE = re.compile(r"-?([0-9]+)/([0-9]+)\Z")
_DEC_RE = re.compile(r"-?(?:([0-9]+)\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?\Z")
_UNESCAPE_RE = re.compile(r'\\"')

STR, LB, RB, COMMA, WORD = 1, 2, 3, 4, 5
_KIND_NAMES = {STR: "a string", LB: "'{'", RB: "'}'", COMMA: "','", WORD: "symbol", 0: "end of file"}


def parse_number(text: str) -> Optional[Fraction]:
    """The exact value of a Gambit number (``3``, ``-3/4``, ``0.25``, ``1e-20``), or None when the
    text is not one (or exceeds the digit and exponent limits)."""
    if len(text) > 2 * MAX_NUMBER_DIGITS + 16:
        return None
    if _INT_RE.match(text):
        if len(text) > MAX_NUMBER_DIGITS + 1:
            return None
        return Fraction(int(text))
    m = _RAT_RE.match(text)
    if m:
        if len(m.group(1)) > MAX_NUMBER_DIGITS or len(m.group(2)) > MAX_NUMBER_DIGITS or int(m.group(2)) == 0:
            return None
        return Fraction(int(text.split("/")[0]), int(m.group(2)))
    m = _DEC_RE.match(text)
    if m:
        digits = len(m.group(1) or "") + len(m.group(2) or "") + len(m.group(3) or "")
        if digits > MAX_NUMBER_DIGITS or (m.group(4) and (len(m.group(4)) > 6 or abs(int(m.group(4))) > MAX_EXPONENT)):
            return None
        try:
            return Fraction(Decimal(text))
        except (InvalidOperation, ValueError):  # pragma: no cover - the regex admits only decimals
            return None
    return None


_ALL_TOKENS_RE = re.compile(r'[ \t\n\r\f\v]*("(?:[^"\\]|\\.)*"|[{},]|[^ \t\n\r\f\v{},"]+|")', re.S)


class _Reader:
    """The file as one list of tokens (one C-level ``findall``); positions are recomputed only
    for an error message."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.toks = _ALL_TOKENS_RE.findall(text)
        self.i = 0
        self.n = len(self.toks)
        self.pos = 0  # token index of the last token handed out (for error messages)

    def char_pos(self, tok: int) -> int:
        if tok >= self.n:
            return len(self.text.rstrip()) if self.text.strip() else len(self.text)
        for k, m in enumerate(_ALL_TOKENS_RE.finditer(self.text)):
            if k == tok:
                return m.start(1)
        return len(self.text)  # pragma: no cover

    def error(self, msg: str, tok: Optional[int] = None) -> InvalidInputError:
        pos = self.char_pos(self.pos if tok is None else tok)
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return InvalidInputError(f"read_efg(): {self.source}: line {line}, column {col}: {msg}")

    def _classify(self, t: str, at: int) -> tuple[int, str, int]:
        c = t[0]
        if c == '"':
            if len(t) == 1:
                raise self.error("unterminated string", at)
            s = t[1:-1]
            if "\\" in s:
                s = _UNESCAPE_RE.sub('"', s)
            return STR, s, at
        if c == "{":
            return LB, t, at
        if c == "}":
            return RB, t, at
        if c == ",":
            return COMMA, t, at
        return WORD, t, at

    def next(self) -> tuple[int, str, int]:
        i = self.i
        if i >= self.n:
            self.pos = i
            return 0, "", i
        self.i = i + 1
        self.pos = i
        return self._classify(self.toks[i], i)

    def expect(self, kind: int, what: str) -> tuple[str, int]:
        k, v, p = self.next()
        if k != kind:
            raise self.error(f"expected {what}, got {_describe(k, v)}", p)
        return v, p

    def peek(self) -> int:
        if self.i >= self.n:
            return 0
        c = self.toks[self.i][0]
        return STR if c == '"' else LB if c == "{" else RB if c == "}" else COMMA if c == "," else WORD

    def integer(self, what: str, lower: int, upper: int) -> int:
        i = self.i
        if i < self.n:
            t = self.toks[i]
            if t.isascii() and t.isdigit() and len(t) < 19:  # fast path (isdigit alone admits "²")
                v = int(t)
                if lower <= v <= upper:
                    self.i = i + 1
                    self.pos = i
                    return v
        v_, p = self.expect(WORD, what)
        if not _INT_RE.match(v_) or len(v_) > 19:
            raise self.error(f"expected {what} (an integer), got {_shown(v_)}", p)
        val = int(v_)
        if val < lower or val > upper:
            raise self.error(f"{what} must be in [{lower}, {upper}], got {val}", p)
        return val

    def number(self, what: str) -> tuple[Fraction, str]:
        k, v, p = self.next()
        if k != WORD:
            raise self.error(f"expected {what} (a number), got {_describe(k, v)}", p)
        if v.isascii() and (v.isdigit() or (v[0] == "-" and v[1:].isdigit())) and len(v) <= MAX_NUMBER_DIGITS:
            return Fraction(int(v)), v
        val = parse_number(v)
        if val is None:
            raise self.error(f"expected {what} (a number: integer, decimal or p/q within "
                             f"{MAX_NUMBER_DIGITS} digits), got {_shown(v)}", p)
        return val, v


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _describe(kind: int, value: str) -> str:
    if kind == WORD:
        return f"symbol {_shown(value)}"
    if kind == STR:
        return f"string {_shown(value)}"
    return _KIND_NAMES[kind]


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"read_efg(): {source}: not UTF-8 text (byte {exc.start})") from None


_TREE: Any = None


def _tree_module() -> Any:
    """:mod:`games.efg.tree` (the game model), imported on first use because it imports this module;
    kept in ``_TREE`` because an import statement is a measurable part of reading a small file."""
    global _TREE
    if _TREE is None:
        import games.efg.tree

        _TREE = games.efg.tree
    return _TREE


def read_efg(path_or_text: PathOrText, /, *, max_nodes: int = MAX_NODES, max_players: int = MAX_PLAYERS,
             max_bytes: int = 1 << 30) -> Any:
    """Read a Gambit ``.efg`` file (format 2) into a :class:`games.efg.ExtensiveFormGame`.

    ``path_or_text`` is a path, the file's text (a string starting with ``EFG`` or containing a
    newline, ``{`` or ``"``) or bytes.
    Limits: ``max_nodes``, ``max_players`` and ``max_bytes`` (the file size, checked before it is
    read). Every problem is an :class:`~engine.errors.InvalidInputError` with the line and column.
    """
    tree = _tree_module()
    if not (type(max_nodes) is int and type(max_players) is int and type(max_bytes) is int and
            max_nodes > 0 and max_players > 0 and max_bytes > 0):  # (the usual case in one test)
        for name, val in (("max_nodes", max_nodes), ("max_players", max_players), ("max_bytes", max_bytes)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise InvalidInputError(f"read_efg(): {name} must be a positive integer, got {val!r}")
    if isinstance(path_or_text, bytes):
        source, text = "<bytes>", _decode(path_or_text, "<bytes>")
    elif isinstance(path_or_text, str) and (path_or_text.lstrip()[:3] in ("EFG", "NFG") or
                                            any(c in path_or_text for c in '\n{"')):
        source, text = "<string>", path_or_text
    elif isinstance(path_or_text, (str, os.PathLike)):
        path = Path(path_or_text)
        source = str(path)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise InvalidInputError(f"read_efg(): {source}: {size} bytes exceeds max_bytes={max_bytes}")
            text = _decode(path.read_bytes(), source)
        except OSError as exc:
            raise InvalidInputError(f"read_efg(): cannot read {source}: {exc.strerror or exc}") from None
    else:
        raise InvalidInputError(f"read_efg(): expected a path, text or bytes, got {type(path_or_text).__name__}")
    if len(text) > max_bytes:
        raise InvalidInputError(f"read_efg(): {source}: {len(text)} characters exceeds max_bytes={max_bytes}")
    was_enabled = gc.isenabled()
    gc.disable()  # the parse allocates many small objects and frees none of them
    try:
        parts = None
        if len(text) <= SCAN_MAX_CHARS and _scanner() is not None and text.isascii():
            parts = _parse_scan(text, max_nodes, max_players)
        if parts is None:
            parts = _parse_fast(text, max_nodes, max_players)
        if parts is None:  # anything unusual, errors included: the token-by-token reader decides
            parts = _parse(_Reader(text, source), max_nodes, max_players)
        return tree.ExtensiveFormGame._from_parts(parts)
    finally:
        if was_enabled:
            gc.enable()


# ---------------------------------------------------------------------------- compiled scanner
#: files of at most this many characters go to the compiled scanner first (its searches for
#: repeated information sets and outcomes are linear: larger files take the regular expressions)
SCAN_MAX_CHARS = 65536
#: the compiled scanner is loaded (0.03-0.3 s; on a fresh install compiled first, several seconds,
#: cached on disk) once the process has read this many small files: reading a file or two never
#: waits for it, a program that reads many files gets it
SCAN_AFTER_READS = 64
_SCAN: Any = None
_small_reads = 0


def _scanner() -> Any:
    """:func:`games.efg_scan.scan` once this process has read :data:`SCAN_AFTER_READS` small files
    (None before): imported here, not at the top, because importing it loads compiled code."""
    global _SCAN, _small_reads
    if _SCAN is None:
        _small_reads += 1
        if _small_reads <= SCAN_AFTER_READS:
            return None
        import games.efg_scan

        _SCAN = games.efg_scan.scan
    return _SCAN


def _not_fast(message: str) -> Exception:
    """The ``where`` of the fast readers' checks: a refused file goes to the token reader, which words it."""
    return _NotFast()


def _parse_scan(text: str, max_nodes: int, max_players: int) -> Any:
    """The parts of a small ASCII file by the compiled scanner (:mod:`games.efg_scan`), or None
    when it does not take the file (the other readers then decide)."""
    # (limits beyond int64 clamped: a larger limit only sends the file to the other readers)
    r = _SCAN(text.encode("ascii"), min(max_nodes, 1 << 62), min(max_players, 1 << 62), MAX_NUMBER_DIGITS).tolist()
    if r[0]:
        return None
    n, m, n_out, n_players, n_act, labelled, all_plain, chance = r[1:9]
    i0 = 9 + 3 * n  # the information sets' integers
    o = i0 + 4 * m + n_out  # the spans
    # every string of the file by one comprehension; (-1, -1) spans give ""
    strs = [text[s:e] for s, e in zip(r[o::2], r[o + 1::2])]
    q = 2 + n_players
    if labelled:
        labels = strs[q:q + n]
        q += n
    else:
        labels = [""] * n
    names = strs[q + m:q + m + n_act]
    probs: list = [None] * m
    prob_texts: list = [None] * m
    tree = _tree_module()
    numbers: dict = {}
    try:
        if chance:
            texts = strs[q + m + n_act:q + m + 2 * n_act]
            for h, player in enumerate(r[i0:i0 + m]):
                if player < 0:
                    a = r[i0 + 2 * m + h]
                    probs[h], prob_texts[h] = tree._checked_probabilities(
                        [_fast_number(t, numbers) for t in texts[a:a + r[i0 + 3 * m + h]]], _not_fast)
        q_out = q + m + n_act * (1 + chance)
        pays = strs[q_out + n_out:]
        outcome_texts = list(zip(*[pays[i::n_players] for i in range(n_players)]))
        parts = tree._GameParts(
            players=strs[2:2 + n_players], title=strs[0], comment=strs[1], kind=list(bytes(r[9:9 + n]).decode()),
            label=labels, node_infoset=r[9 + n:9 + 2 * n], node_outcome=r[9 + 2 * n:i0], infoset_player=r[i0:i0 + m],
            infoset_number=r[i0 + m:i0 + 2 * m], infoset_label=strs[q:q + m],
            infoset_actions=[tuple(names[a:a + k]) for a, k in zip(r[i0 + 2 * m:i0 + 3 * m], r[i0 + 3 * m:i0 + 4 * m])],
            infoset_probs=probs, infoset_prob_texts=prob_texts, outcome_number=r[i0 + 4 * m:o],
            outcome_label=strs[q_out:q_out + n_out], outcome_texts=outcome_texts,
            outcome_payoffs=[None] * n_out if all_plain else [_fast_payoffs(t, numbers) for t in outcome_texts],
            notes=[], first_use=True)
    except _NotFast:
        return None
    if labelled:
        seen: dict = {}
        for count, label in enumerate(labels, 1):
            if label:
                _note_label(label, count, seen, parts.notes)
    if len(set(parts.infoset_label)) < m:  # (all distinct: no label repeats within a player)
        parts.finish_labels()
    return parts


# ---------------------------------------------------------------------------- fast path
# One regular expression per node line in the layout Gambit and write_efg use (whitespace between
# tokens, one node after another); the matches must cover the file exactly, and every check of
# the token reader below is repeated. Whatever this path does not recognise, and every error, goes
# to the token reader, which accepts exactly the same files and gives the message.
_WS = r"[ \t\n\r\f\v]"
# (the unrolled form of "(?:[^"\\]|\\.)*": the same strings, without one alternation per character)
_STR = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_WORD = r'[^ \t\n\r\f\v{},"]+'
_INT = r"[0-9]{1,18}+(?![^ \t\n\r\f\v{},\"])"
_HEADER_RE = re.compile(rf"{_WS}*EFG{_WS}+2{_WS}+R{_WS}+({_STR}){_WS}*\{{((?:{_WS}*{_STR})*){_WS}*\}}"
                        rf"(?:{_WS}*({_STR}))?")
# (possessive quantifiers: the same matches -- checked on mutated files -- without backtracking
# into whitespace or strings; about 20% less time)
_PART = rf"(?:{_WS}++({_STR})(?:{_WS}*+\{{([^{{}}]*+)\}})?)?"
_NODE_RE = re.compile(rf"({_WS}*+([pct]){_WS}++({_STR}){_WS}++({_INT})(?:{_WS}++({_INT}))?(?:{_WS}++({_INT}))?"
                      rf"{_PART}(?:{_WS}++({_INT}))?{_PART})")
# the payoff texts of n <= 4 players' outcomes, each ended by '}', every payoff an integer within the
# digit limit: the outcomes _PAY_N_RE takes whose payoffs _fast_payoffs leaves as text
_PAY_INT = rf"-?[0-9]{{1,{MAX_NUMBER_DIGITS - 1}}}"
# (possessive: with the outcomes joined, a backtracking form tries exponentially many splits of the
# whitespace before it fails)
_INT_PAYOFFS_RE = [re.compile(rf"(?:{_WS}*+{_PAY_INT}" + rf"(?:{_WS}*+,{_WS}*+|{_WS}++){_PAY_INT}" * (k - 1) +
                              rf"{_WS}*+(?:,{_WS}*+)?\}})*+") if k else None for k in range(5)]
_STR_ONLY_RE = re.compile(rf"{_WS}*{_STR}")
_STR_CAP_RE = re.compile(rf"{_WS}*({_STR})")
_STRS_RE = re.compile(rf"(?:{_WS}*{_STR})*{_WS}*")
_CHANCE_RE = re.compile(rf"(?:{_WS}*{_STR}{_WS}+{_WORD})*{_WS}*")
_CHANCE_ITEM_RE = re.compile(rf"{_WS}*({_STR}){_WS}+({_WORD})")
_PAY_RE = re.compile(rf"(?:{_WS}*{_WORD}{_WS}*,?)*{_WS}*")
_WORD_RE = re.compile(_WORD)
# the same test for exactly n payoffs in one match (a separator is never empty, so the words are
# those _WORD_RE finds): most files have few players, and this is one regular expression per outcome
_PAY_N_RE = [re.compile(rf"{_WS}*({_WORD})" + rf"(?:{_WS}*,{_WS}*|{_WS}+)({_WORD})" * (k - 1) +
                        rf"{_WS}*,?{_WS}*") if k else None for k in range(5)]
_SPACES = " \t\n\r\f\v"


def _unquote(t: str) -> str:
    if t == '""':
        return ""
    s = t[1:-1]
    return _UNESCAPE_RE.sub('"', s) if "\\" in s else s


def _note_label(label: str, count: int, seen: dict, notes: list) -> None:
    """Record node ``count``'s label; a repeat goes into the notes (labels then identify nothing)."""
    if label in seen:
        notes.append(f"node label {label!r} repeats (nodes {seen[label]} and {count}); "
                     "labels do not identify these nodes")
    else:
        seen[label] = count


class _NotFast(Exception):
    """The fast path does not take this file."""


def _fast_number(text: str, cache: dict) -> tuple:
    got = cache.get(text)
    if got is None:
        if text.isascii() and (text.isdigit() or text[0] == "-" and text[1:].isdigit()) and \
                len(text) <= MAX_NUMBER_DIGITS:
            got = cache[text] = (Fraction(int(text)), text)
            return got
        num, slash, den = text.partition("/")
        # "p/q" as parse_number reads it, without its regular expressions (chance probabilities)
        if slash and text.isascii() and den.isdigit() and (num.isdigit() or num[:1] == "-" and num[1:].isdigit()) \
                and len(num) - (num[0] == "-") <= MAX_NUMBER_DIGITS and len(den) <= MAX_NUMBER_DIGITS and int(den):
            got = cache[text] = (Fraction(int(num), int(den)), text)
            return got
        val = parse_number(text)
        if val is None:
            raise _NotFast
        got = cache[text] = (val, text)
    return got


def _move_blob(kind: str, blob: str, numbers: dict) -> Optional[tuple]:
    """The actions between a move's braces (and a chance move's probabilities, as
    :func:`_fast_number` pairs), or None when the fast path does not take them."""
    if "\\" not in blob:  # no escapes: the strings are the odd pieces between quotes
        pieces = blob.split('"')
        if len(pieces) < 3 or not len(pieces) % 2:
            return None
        between = pieces[2::2]
        if pieces[0].strip(_SPACES):
            return None
        if kind == "p":
            if "".join(between).strip(_SPACES):
                return None
            return tuple(pieces[1::2]), None
        probs = []
        for piece in between:  # whitespace, the number, whitespace (a number never holds a space)
            word = piece.strip(_SPACES)
            if not word or piece[0] not in _SPACES:
                return None
            probs.append(_fast_number(word, numbers))
        return tuple(pieces[1::2]), probs
    if kind == "p":
        if not _STRS_RE.fullmatch(blob):
            return None
        actions = tuple([_unquote(t) for t in _STR_CAP_RE.findall(blob)])
        return (actions, None) if actions else None
    if not _CHANCE_RE.fullmatch(blob):
        return None
    items = _CHANCE_ITEM_RE.findall(blob)
    if not items:
        return None
    return tuple(_unquote(a) for a, _ in items), [_fast_number(w, numbers) for _, w in items]


def _fast_payoffs(texts: Sequence[str], cache: dict) -> Optional[tuple]:
    """An outcome's payoffs as Fractions, or None when every one is an integer within the digit
    limit (the game makes their Fractions only when they are asked for)."""
    for w in texts:
        if not (w.isascii() and (w.isdigit() or w[0] == "-" and w[1:].isdigit()) and len(w) <= MAX_NUMBER_DIGITS):
            return tuple([_fast_number(t, cache)[0] for t in texts])
    return None


def _parse_fast(text: str, max_nodes: int, max_players: int) -> Any:
    head = _HEADER_RE.match(text)
    if head is None:
        return None
    names = head.group(2)
    if "\\" in names:
        players = [_unquote(m.group(0).lstrip(_SPACES)) for m in _STR_ONLY_RE.finditer(names)]
    else:  # the header's expression took strings and whitespace only: names are the odd pieces
        players = names.split('"')[1::2]
    if not players or len(players) > max_players:
        return None
    body = text[head.end():].rstrip(_SPACES)
    nodes = _NODE_RE.findall(body)
    n = len(nodes)
    if not n or n > max_nodes:
        return None
    # column by column (one pass of C-level work each) rather than node by node: on a small file the
    # interpreter's per-node cost is most of the read
    whole, kinds, qlabels, i1s, i2s, i3s, s1s, b1s, oints, s2s, b2s = zip(*nodes)
    if sum(map(len, whole)) != len(body):  # the matches must tile the file
        return None
    n_players = len(players)
    parts = _tree_module()._GameParts(players=players, title=_unquote(head.group(1)),
                                      comment=_unquote(head.group(3)) if head.group(3) else "", first_use=True)
    notes = parts.notes
    if qlabels.count('""') == n:
        labels = [""] * n
    else:
        labels = ["" if q == '""' else _unquote(q) for q in qlabels]
        seen_labels: dict = {}
        for count, label in enumerate(labels, 1):
            if label:
                _note_label(label, count, seen_labels, notes)
    parts.kind = list(kinds)
    parts.label = labels
    # per node: its outcome's number, label and payoffs (terminals: the first integer and part)
    onums = list(i1s)
    os_l = list(s1s)
    ob_l = list(b1s)
    node_infoset = [-1] * n
    children = [0] * n
    iset_actions, iset_labels, iset_probs = parts.infoset_actions, parts.infoset_label, parts.infoset_prob_texts
    infoset_key: dict = {}
    blobs: dict = {}
    numbers: dict = {}
    iset_quoted: list = []  # labels as written: a repeat compares unescaped only when written differently
    try:
        for i, kind in enumerate(kinds):
            if kind == "t":
                if i2s[i] or oints[i] or s2s[i]:
                    return None
                continue
            if kind == "p":
                if i3s[i]:  # player, information set, outcome: no information set part
                    if oints[i] or s2s[i]:
                        return None
                    is_, ib, onums[i] = "", "", i3s[i]
                elif i2s[i] and oints[i]:
                    is_, ib, onums[i], os_l[i], ob_l[i] = s1s[i], b1s[i], oints[i], s2s[i], b2s[i]
                else:
                    return None
                player = int(i1s[i]) - 1
                number = int(i2s[i])
                if not 0 <= player < n_players:
                    return None
            else:
                if i3s[i]:
                    return None
                if i2s[i]:
                    if oints[i] or s2s[i]:
                        return None
                    is_, ib, onums[i] = "", "", i2s[i]
                elif oints[i]:
                    is_, ib, onums[i], os_l[i], ob_l[i] = s1s[i], b1s[i], oints[i], s2s[i], b2s[i]
                else:
                    return None
                player = -1
                number = int(i1s[i])
            if not 1 <= number <= max_nodes:
                return None
            key = (player, number)
            idx = infoset_key.get(key)
            actions = probs = None
            if ib:
                got = blobs.get((kind, ib))
                if got is None:
                    got = _move_blob(kind, ib, numbers)
                    if got is None:
                        return None
                    blobs[(kind, ib)] = got
                actions, probs = got
            if idx is None:
                if actions is None:
                    return None
                idx = parts.add_infoset(player, number, _unquote(is_) if is_ else "", actions, probs, where=_not_fast)
                infoset_key[key] = idx
                iset_quoted.append(is_)
            else:
                if actions is not None and (actions != iset_actions[idx] or (
                        probs is not None and [t for _, t in probs] != list(iset_probs[idx]))):
                    return None
                if is_ and is_ != iset_quoted[idx] and _unquote(is_) != iset_labels[idx]:
                    return None
            node_infoset[i] = idx
            children[i] = len(iset_actions[idx])
        # the tree: nodes still to read after each node (prefix order) reach 0 exactly at the end,
        # and never exceed the limit counting the nodes read
        pending = list(accumulate([c - 1 for c in children], initial=1))
        if 0 not in pending or pending.index(0) != n or max(map(add, range(n + 1), pending)) > max_nodes:
            return None
        parts.node_infoset = node_infoset
        if not _outcomes(parts, onums, os_l, ob_l, n_players, numbers):
            return None
    except _NotFast:
        return None
    parts.finish_labels()
    return parts


def _outcomes(parts: Any, onums: list, labels: list, blobs: list, n_players: int, numbers: dict) -> bool:
    """Fill the outcomes of :func:`_parse_fast`'s parts from each node's outcome number, label and
    payoff text; False when the fast path does not take them."""
    values = [int(o) for o in onums]
    used = [i for i, o in enumerate(values) if o]
    if len(used) < len(values) and any([labels[i] for i, o in enumerate(values) if not o]):
        return False  # the reader would take the label for the next node
    used_numbers = [values[i] for i in used]
    if len(set(used_numbers)) < len(used) or n_players >= len(_INT_PAYOFFS_RE) or not all([blobs[i] for i in used]):
        return _outcomes_each(parts, values, used, labels, blobs, n_players, numbers)
    # the usual file: each outcome used once, with integer payoffs: all of them checked by one
    # expression ('}' ends each outcome's text: it never occurs inside one)
    joined = "}".join([blobs[i] for i in used]) + "}"
    int_payoffs = _INT_PAYOFFS_RE[n_players]
    if int_payoffs is None or not int_payoffs.fullmatch(joined):
        return _outcomes_each(parts, values, used, labels, blobs, n_players, numbers)
    words = joined.replace(",", " ").replace("}", " ").split()
    parts.outcome_texts = list(zip(*[iter(words)] * n_players))
    parts.outcome_payoffs = [None] * len(used)
    parts.outcome_number = used_numbers
    parts.outcome_label = [_unquote(labels[i]) if labels[i] else "" for i in used]
    node_outcome = [-1] * len(values)
    for k, i in enumerate(used):
        node_outcome[i] = k
    parts.node_outcome = node_outcome
    return True


def _outcomes_each(parts: Any, values: list, used: list, labels: list, blobs: list, n_players: int,
                   numbers: dict) -> bool:
    pay_re = _PAY_N_RE[n_players] if n_players < len(_PAY_N_RE) else None
    node_outcome = [-1] * len(values)
    out_numbers, out_labels = parts.outcome_number, parts.outcome_label
    out_values, out_texts = parts.outcome_payoffs, parts.outcome_texts
    outcome_key: dict = {}
    pay_blobs: dict = {}
    out_quoted: list = []
    for i in used:
        o, os_, ob = values[i], labels[i], blobs[i]
        got = None
        if ob:
            got = pay_blobs.get(ob)
            if got is None:
                if pay_re is not None:
                    pm = pay_re.fullmatch(ob)
                    if pm is None:
                        return False
                    texts: Sequence[str] = pm.groups()
                else:
                    if not _PAY_RE.fullmatch(ob):
                        return False
                    texts = _WORD_RE.findall(ob)
                    if len(texts) != n_players:
                        return False
                got = pay_blobs[ob] = (_fast_payoffs(texts, numbers), tuple(texts))
        oidx = outcome_key.get(o)
        if oidx is None:
            if got is None:
                return False
            oidx = outcome_key[o] = len(out_labels)
            out_numbers.append(o)
            out_labels.append(_unquote(os_) if os_ else "")
            out_quoted.append(os_)
            out_values.append(got[0])
            out_texts.append(got[1])
        else:
            if got is not None and got[1] != out_texts[oidx] and \
                    [_fast_number(w, numbers)[0] for w in got[1]] != [
                        _fast_number(w, numbers)[0] for w in out_texts[oidx]]:
                return False
            if os_ and os_ != out_quoted[oidx] and _unquote(os_) != out_labels[oidx]:
                return False
        node_outcome[i] = oidx
    parts.node_outcome = node_outcome
    return True


def _parse(r: _Reader, max_nodes: int, max_players: int) -> Any:
    v, p = r.expect(WORD, "'EFG' (the file type)")
    if v != "EFG":
        raise r.error(f"expected 'EFG' (the file type), got {_shown(v)}", p)
    v, p = r.expect(WORD, "the format version 2")
    if v != "2":
        raise r.error(f"expected format version 2, got {_shown(v)}", p)
    v, p = r.expect(WORD, "'R' (rational numbers)")
    if v != "R":
        raise r.error(f"expected 'R' (the number type), got {_shown(v)}", p)
    title, _ = r.expect(STR, "the title (a string)")
    r.expect(LB, "'{' before the player names")
    players: list[str] = []
    while True:
        k, v, p = r.next()
        if k == RB:
            break
        if k != STR:
            raise r.error(f"expected a player name or '}}', got {_describe(k, v)}", p)
        if len(players) >= max_players:
            raise r.error(f"more than max_players={max_players} players", p)
        players.append(v)
    if not players:
        raise r.error("a game needs at least one player")
    n_players = len(players)
    comment = ""
    if r.peek() == STR:
        comment, _ = r.expect(STR, "the comment")

    parts = _tree_module()._GameParts(players=players, title=title, comment=comment, first_use=True)
    kinds = parts.kind
    labels = parts.label
    node_infoset = parts.node_infoset
    node_outcome = parts.node_outcome
    infoset_key: dict[tuple[int, int], int] = {}
    outcome_key: dict[int, int] = {}
    stack: list[int] = []  # children still to read, per open move
    pending = 1
    count = 0
    notes = parts.notes
    seen_labels: dict[str, int] = {}
    while pending:
        k, v, p = r.next()
        if k != WORD or v not in ("p", "c", "t"):
            if k == 0:
                raise r.error(f"the file ends with {pending} node(s) of the tree missing", p)
            raise r.error(f"expected a node ('p', 'c' or 't'), got {_describe(k, v)}", p)
        count += 1
        if count > max_nodes:
            raise r.error(f"more than max_nodes={max_nodes} nodes", p)
        label, _ = r.expect(STR, "the node label")
        if label:
            _note_label(label, count, seen_labels, notes)
        kinds.append(v)
        labels.append(label)
        pending -= 1
        if v == "t":
            node_infoset.append(-1)
        else:
            if v == "p":
                player = r.integer("the player number", 1, n_players) - 1
            else:
                player = -1
            number = r.integer("the information set number", 1, max_nodes)
            key = (player, number)
            idx = infoset_key.get(key)
            ip = r.i
            k2 = r.peek()
            iname: Optional[str] = None
            actions: Optional[list[str]] = None
            probs: Optional[list[tuple[Fraction, str]]] = None
            if k2 == STR:
                iname, _ = r.expect(STR, "the information set label")
                if r.peek() == LB:
                    r.expect(LB, "'{'")
                    actions, probs = [], ([] if player < 0 else None)
                    while True:
                        k3, v3, p3 = r.next()
                        if k3 == RB:
                            break
                        if k3 != STR:
                            raise r.error(f"expected an action label or '}}', got {_describe(k3, v3)}", p3)
                        if count + pending + len(actions) + 1 > max_nodes:
                            raise r.error(f"more than max_nodes={max_nodes} nodes", p3)
                        actions.append(v3)
                        if probs is not None:
                            probs.append(r.number("a chance probability"))
                    if not actions:
                        raise r.error("a move needs at least one action", ip)
            if idx is None:
                if actions is None:
                    raise r.error(f"information set {number} of "
                                  f"{'chance' if player < 0 else repr(players[player])} is used before its "
                                  "actions are given", ip)
                idx = parts.add_infoset(player, number, iname or "", actions, probs, where=lambda m: r.error(m, ip))
                infoset_key[key] = idx
            else:
                if actions is not None and tuple(actions) != parts.infoset_actions[idx]:
                    raise r.error(f"information set {number} lists actions {actions}, earlier "
                                  f"{list(parts.infoset_actions[idx])}", ip)
                if probs is not None and [t for _, t in probs] != list(parts.infoset_prob_texts[idx]):
                    raise r.error(f"chance information set {number} lists other probabilities than before", ip)
                if iname is not None and iname != parts.infoset_label[idx]:
                    raise r.error(f"information set {number} is labelled {iname!r}, earlier "
                                  f"{parts.infoset_label[idx]!r}", ip)
            node_infoset.append(idx)
            n_children = len(parts.infoset_actions[idx])
            if count + pending + n_children > max_nodes:
                raise r.error(f"more than max_nodes={max_nodes} nodes", ip)
        # outcome
        op = r.i
        onum = r.integer("the outcome number", 0, 10 ** 18)
        if onum == 0:
            node_outcome.append(-1)
        else:
            oname: Optional[str] = None
            payoffs: Optional[list[tuple[Fraction, str]]] = None
            if r.peek() == STR:
                oname, _ = r.expect(STR, "the outcome label")
                if r.peek() == LB:
                    r.expect(LB, "'{'")
                    payoffs = []
                    for i in range(n_players):
                        payoffs.append(r.number(f"the payoff of player {i + 1}"))
                        if r.peek() == COMMA:
                            r.next()
                    r.expect(RB, f"'}}' after {n_players} payoffs")
            oidx = outcome_key.get(onum)
            if oidx is None:
                if payoffs is None:
                    raise r.error(f"outcome {onum} is used before its payoffs are given", op)
                if len(outcome_key) >= max_nodes:
                    raise r.error(f"more than max_nodes={max_nodes} outcomes", op)
                oidx = parts.add_outcome(onum, oname or "", payoffs)
                outcome_key[onum] = oidx
            else:
                if payoffs is not None and [t for _, t in payoffs] != list(parts.outcome_texts[oidx]) and \
                        [f for f, _ in payoffs] != list(parts.outcome_payoffs[oidx]):
                    raise r.error(f"outcome {onum}: payoffs differ from its earlier definition", op)
                if oname is not None and oname != parts.outcome_label[oidx]:
                    raise r.error(f"outcome {onum} is labelled {oname!r}, earlier {parts.outcome_label[oidx]!r}", op)
            node_outcome.append(oidx)
        if v != "t":
            n_children = len(parts.infoset_actions[node_infoset[-1]])
            pending += n_children
    k, v, p = r.next()
    if k != 0:
        raise r.error(f"expected the end of the file after the last node, got {_describe(k, v)}", p)
    parts.finish_labels()
    return parts


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def write_efg(game: Any, path: Union[None, str, "os.PathLike[str]"] = None, /) -> Optional[str]:
    """Write ``game`` as a Gambit ``.efg`` file (format 2) in the layout pygambit writes; returns the
    text when ``path`` is None. Numbers keep the text they were read with."""
    if not isinstance(game, _tree_module().ExtensiveFormGame):
        raise InvalidInputError(f"write_efg(): expected an ExtensiveFormGame, got {type(game).__name__}")
    out = [f"EFG 2 R {_quote(game.title)} {{ {' '.join(_quote(p) for p in game.players)} }}\n",
           f"{_quote(game.comment)}\n\n"]
    iset_num = game._infoset_number
    iset_text = []
    for h in range(len(game.infoset_player)):
        acts = game.infoset_actions[h]
        if game.infoset_player[h] < 0:
            body = " ".join(f"{_quote(a)} {t}" for a, t in zip(acts, game.infoset_prob_texts[h]))
        else:
            body = " ".join(_quote(a) for a in acts)
        head = (f"{iset_num[h]}" if game.infoset_player[h] < 0 else f"{game.infoset_player[h] + 1} {iset_num[h]}")
        iset_text.append(f"{head} {_quote(game.infoset_label[h])} {{ {body} }}")
    out_text = [f"{o + 1} {_quote(game.outcome_label[o])} {{ {', '.join(game.outcome_texts[o])} }}"
                for o in range(len(game.outcome_label))]
    kinds, labels, isets, outs = game.node_kind, game.node_label, game.node_infoset, game.node_outcome
    for n in range(game.n_nodes):
        o = outs[n]
        otext = out_text[o] if o >= 0 else "0"
        k = kinds[n]
        if k == "t":
            out.append(f"t {_quote(labels[n])} {otext}\n")
        else:
            out.append(f"{k} {_quote(labels[n])} {iset_text[isets[n]]} {otext}\n")
    text = "".join(out)
    if path is None:
        return text

    atomic_write_text(path, text)
    return None


# ---------------------------------------------------------------------------- JSON documents
def tree_to_dict(game: Any) -> dict:
    """``game`` as a ``gameplan/tree`` v1 JSON document (``engine/schemas/tree.v1.json``):
    numbers as the exact text they were read or built with."""
    if not isinstance(game, _tree_module().ExtensiveFormGame):
        raise InvalidInputError(f"tree_to_dict(): expected an ExtensiveFormGame, got {type(game).__name__}")
    infosets = []
    for h, pl in enumerate(game.infoset_player):
        entry: dict = {"player": pl, "label": game.infoset_label[h], "actions": list(game.infoset_actions[h])}
        if pl < 0:
            entry["probs"] = list(game.infoset_prob_texts[h])
        infosets.append(entry)
    return {"schema": "gameplan/tree", "version": 1, "title": game.title, "comment": game.comment,
            "players": list(game.players), "infosets": infosets,
            "outcomes": [{"label": lab, "payoffs": list(texts)}
                         for lab, texts in zip(game.outcome_label, game.outcome_texts)],
            "nodes": {"infoset": game.node_infoset.tolist(), "outcome": game.node_outcome.tolist(),
                      "label": list(game.node_label)}}


def _json_number(value: Any, where: str) -> tuple:
    """(exact value, text) of a number in a document: JSON numbers or exact text."""
    if isinstance(value, str):
        f = parse_number(value)
        if f is None:
            raise InvalidInputError(f"{where}: not a number within the limits (at most {MAX_NUMBER_DIGITS} digits, "
                                    f"exponent at most {MAX_EXPONENT}): {_shown(value)}")
        return f, value
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 3.33 * MAX_NUMBER_DIGITS:
            raise InvalidInputError(f"{where}: an integer with more than {MAX_NUMBER_DIGITS} digits")
        return Fraction(value), str(value)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        text = repr(value)
        f = parse_number(text[:-2] if text.endswith(".0") else text)
        if f is None:
            raise InvalidInputError(f"{where}: number out of range: {text}")
        return f, (text[:-2] if text.endswith(".0") else text)
    raise InvalidInputError(f"{where}: expected a number, got {_shown(repr(value))}")


def tree_from_dict(source: Any, /, *, max_nodes: int = MAX_NODES, max_players: int = MAX_PLAYERS) -> Any:
    """An :class:`~games.efg.ExtensiveFormGame` from a ``gameplan/tree`` document (a mapping,
    JSON text or a path), validated against its schema.

    Untrusted input: the JSON text is size- and depth-limited (:func:`engine.schemas.load_document`);
    the numbers of players and nodes are checked against ``max_players`` and ``max_nodes`` before
    the tree is built, every loop runs over the document's own lists once, numbers are limited as
    in ``.efg`` files, and every problem is an :class:`~engine.errors.InvalidInputError` naming the
    JSON path."""
    tree = _tree_module()
    where = "ExtensiveFormGame.from_dict()"
    for name, val in (("max_nodes", max_nodes), ("max_players", max_players)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise InvalidInputError(f"{where}: {name} must be a positive integer, got {val!r}")
    doc = load_document(source, expected="gameplan/tree", where=where)
    players = doc["players"]
    nodes = doc["nodes"]
    isets_of, outs_of = nodes["infoset"], nodes["outcome"]
    labels = nodes.get("label", [""] * len(isets_of))
    N, n = len(players), len(isets_of)
    if N > max_players:
        raise InvalidInputError(f"{where}: {N} players, more than max_players={max_players}")
    if n > max_nodes:
        raise InvalidInputError(f"{where}: {n} nodes, more than max_nodes={max_nodes}")
    if len(outs_of) != n or len(labels) != n:
        raise InvalidInputError(f"{where}: $['nodes']: 'infoset', 'outcome' and 'label' must have one entry per node "
                                f"(got {n}, {len(outs_of)}, {len(labels)})")
    if len(doc["infosets"]) > n or len(doc["outcomes"]) > n:
        raise InvalidInputError(f"{where}: more information sets or outcomes than nodes ({n})")
    parts = tree._GameParts(players=list(players), title=doc.get("title", ""), comment=doc.get("comment", ""))
    for h, entry in enumerate(doc["infosets"]):
        at = f"{where}: $['infosets'][{h}]"
        pl, acts = entry["player"], entry["actions"]
        if pl >= N:
            raise InvalidInputError(f"{at}: player {pl} out of range (players 0..{N - 1}, -1 for chance)")
        probs = entry.get("probs")
        if (pl < 0) != (probs is not None):
            raise InvalidInputError(f"{at}: 'probs' belongs to chance information sets (player -1) and only to them")
        if probs is not None and len(probs) != len(acts):
            raise InvalidInputError(f"{at}: {len(acts)} actions but {len(probs)} probabilities")
        pr = None if probs is None else [_json_number(v, f"{at}['probs'][{i}]") for i, v in enumerate(probs)]
        parts.add_infoset(pl, h + 1, entry.get("label", ""), acts, pr, lambda msg: InvalidInputError(f"{at}: {msg}"))
    for o, entry in enumerate(doc["outcomes"]):
        at = f"{where}: $['outcomes'][{o}]"
        pays = entry["payoffs"]
        if len(pays) != N:
            raise InvalidInputError(f"{at}: {len(pays)} payoffs for {N} players")
        parts.add_outcome(o + 1, entry.get("label", ""),
                          [_json_number(v, f"{at}['payoffs'][{i}]") for i, v in enumerate(pays)])
    n_isets, n_outs = len(parts.infoset_player), len(parts.outcome_label)
    used = [False] * n_isets
    pending = 1  # children still to come in prefix order (the root)
    for v in range(n):
        if pending == 0:
            raise InvalidInputError(f"{where}: $['nodes']: the tree is complete after {v} nodes, got {n}")
        pending -= 1
        h, o = isets_of[v], outs_of[v]
        if h >= n_isets or o >= n_outs:
            raise InvalidInputError(f"{where}: $['nodes'] node {v}: information set {h} or outcome {o} does not exist")
        if h >= 0:
            used[h] = True
            pending += len(parts.infoset_actions[h])
        parts.kind.append("t" if h < 0 else ("c" if parts.infoset_player[h] < 0 else "p"))
    if pending:
        raise InvalidInputError(f"{where}: $['nodes']: {pending} more nodes expected (the moves' actions ask for them)")
    if not all(used):
        raise InvalidInputError(f"{where}: $['infosets'][{used.index(False)}] belongs to no node")
    parts.label = list(labels)
    parts.node_infoset = list(isets_of)
    parts.node_outcome = list(outs_of)
    parts.finish_labels()
    return tree.ExtensiveFormGame._from_parts(parts)
