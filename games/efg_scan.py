"""A compiled scanner for small Gambit ``.efg`` files: the third path of :func:`games.read_efg`.

On a file of a few nodes, reading is dominated by the interpreter's fixed cost per file (regular
expressions, a Python loop over the nodes, the checks). :func:`scan` does the tokenizing, the
grammar and the bookkeeping of information sets and outcomes in one compiled call over the
file's bytes and returns integers only (offsets of the strings in the text, numbers, indices);
:func:`games.efg_io._parse_scan` then slices the strings out.

It takes a strict subset of what the token reader (``games.efg_io._parse``) accepts, and on that
subset it must give the same game: ASCII text without backslashes in strings, integer player, information
set and outcome numbers (digits only), every limit of the token reader met, every repeated
information set or outcome written the same way (byte for byte) as at its first use. Anything
else -- every error included -- returns a non-zero status and the other readers decide, so this
path has no error messages of its own. Chance probabilities and non-integer payoffs are returned
as spans; their values and the probabilities' sum are checked by the caller.

The layout of the returned array (all int64), so that the caller slices every string of the file
with one comprehension and takes every other list as a slice:

* ``out[0]`` status (0: taken); ``out[1:9]`` the numbers of nodes ``n``, information sets ``m``,
  outcomes ``k``, players ``N`` and actions ``A`` (over the information sets), then 1 when some
  node label is not empty, 1 when every payoff and probability is a plain integer (at most
  ``max_digits`` digits), 1 when there are chance moves;
* from ``out[9]``, integers: per node its kind as a byte (``ord('p')``, ``ord('c')`` or ``ord('t')``),
  then per node its information set, then per node its outcome (both numbered at first use; -1
  none), per information set its player (-1 chance), number, first action and number of actions,
  per outcome its number;
* then ``(start, end)`` spans into the text: the title, the comment, the players, per node its
  label (only when some label is not empty), per information set its label, per action its name,
  per action its probability (only when there are chance moves; ``(-1, -1)`` for a player's action),
  per outcome its label, then the outcomes' payoffs (``N`` each). A string the file does not give
  (the comment, a label) is ``(-1, -1)``: the empty string.
"""

from __future__ import annotations

from typing import Union

import numba
import numpy as np

#: the file's ASCII bytes
Buffer = Union[bytes, np.ndarray]

# internal: read_efg calls scan() on text it has checked (ASCII, within SCAN_MAX_CHARS, limits clamped
# to int64); it is not an entry point and validates nothing beyond the file itself
__all__: list[str] = []

#: status of a file the scanner took
TAKEN = 0

_EOF, _STR, _LB, _RB, _COMMA, _WORD = 0, 1, 2, 3, 4, 5
_BAIL = 1  # anything the scanner does not take (the other readers decide)
_MAX_INT_DIGITS = 18  # player, information set and outcome numbers: int64, as the token reader's fast path


@numba.njit(cache=True, nogil=True)
def _is_space(c: int) -> bool:
    return c == 32 or 9 <= c <= 13  # " \t\n\v\f\r": the readers' whitespace, exactly


@numba.njit(cache=True, nogil=True)
def _token(buf: Buffer, pos: int) -> tuple:
    """The token at ``pos``: (kind, start, end, next position); a string's span excludes its
    quotes; kind -1: a string with a backslash or without its closing quote (not taken)."""
    n = len(buf)
    while pos < n and _is_space(buf[pos]):
        pos += 1
    if pos >= n:
        return _EOF, n, n, n
    c = buf[pos]
    if c == 34:  # '"'
        k = pos + 1
        while k < n and buf[k] != 34:
            if buf[k] == 92:  # a backslash: escapes are the other readers' business
                return -1, pos, pos, pos
            k += 1
        if k >= n:
            return -1, pos, pos, pos
        return _STR, pos + 1, k, k + 1
    if c == 123:
        return _LB, pos, pos + 1, pos + 1
    if c == 125:
        return _RB, pos, pos + 1, pos + 1
    if c == 44:
        return _COMMA, pos, pos + 1, pos + 1
    k = pos
    while k < n:
        d = buf[k]
        if _is_space(d) or d == 34 or d == 123 or d == 125 or d == 44:
            break
        k += 1
    return _WORD, pos, k, k


@numba.njit(cache=True, nogil=True)
def _integer(buf: Buffer, s: int, e: int) -> int:
    """The value of a word of 1-18 ASCII digits, or -1."""
    if e - s < 1 or e - s > _MAX_INT_DIGITS:
        return -1
    v = 0
    for k in range(s, e):
        d = buf[k] - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


@numba.njit(cache=True, nogil=True)
def _plain_number(buf: Buffer, s: int, e: int, max_digits: int) -> bool:
    """Whether the word is an optional '-' and 1 to ``max_digits`` digits (its value is then int(text))."""
    k = s + 1 if e > s and buf[s] == 45 else s
    if e - k < 1 or e - k > max_digits:
        return False
    for i in range(k, e):
        if buf[i] < 48 or buf[i] > 57:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _same_bytes(buf: Buffer, s1: int, e1: int, s2: int, e2: int) -> bool:
    if e1 - s1 != e2 - s2:
        return False
    for k in range(e1 - s1):
        if buf[s1 + k] != buf[s2 + k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _word_is(buf: Buffer, s: int, e: int, c0: int, c1: int) -> bool:
    """Whether the word is the one or two bytes ``c0`` (``c1`` -1: one byte)."""
    if c1 < 0:
        return e - s == 1 and buf[s] == c0
    return e - s == 2 and buf[s] == c0 and buf[s + 1] == c1


@numba.njit(cache=True, nogil=True)
def _label_and_brace(buf: Buffer, pos: int) -> tuple:
    """The optional ``"label" [ { ]`` after an information set's or outcome's number: (whether the
    tokens are readable, the label's span (-1, -1: none), whether a '{' follows (consumed), the
    next position)."""
    k, s, e, after = _token(buf, pos)
    if k != _STR:
        return k >= 0, -1, -1, False, pos
    k2, s2, e2, after2 = _token(buf, after)
    if k2 == _LB:
        return True, s, e, True, after2
    return k2 >= 0, s, e, False, after


@numba.njit(cache=True, nogil=True)
def _same_label(buf: Buffer, s: int, e: int, s0: int, e0: int) -> bool:
    """Whether a label given at a repeat (span ``s, e``; ``s < 0``: none given) agrees with the one
    of the first use (``s0 < 0``: none given, i.e. empty)."""
    if s < 0:
        return True
    if s0 < 0:
        return e == s
    return _same_bytes(buf, s, e, s0, e0)


@numba.njit(cache=True, nogil=True)
def _number_word(buf: Buffer, pos: int, max_digits: int, table: np.ndarray, row: int, col: int) -> tuple:
    """The number (a word) at ``pos``, its span stored in ``table[row, col:col + 2]``: (the next
    position, -1 when the token is not a word; whether it is a plain integer)."""
    k, s, e, pos = _token(buf, pos)
    if k != _WORD:
        return -1, False
    table[row, col] = s
    table[row, col + 1] = e
    return pos, _plain_number(buf, s, e, max_digits)


@numba.njit(cache=True, nogil=True)
def _put_spans(out: np.ndarray, o: int, table: np.ndarray, col: int, rows: int) -> int:
    """Copy ``table[:rows, col:col + 2]`` (spans) into ``out`` from ``o``; the next free position."""
    for i in range(rows):
        out[o + 2 * i] = table[i, col]
        out[o + 2 * i + 1] = table[i, col + 1]
    return o + 2 * rows


@numba.njit(cache=True, nogil=True)
def _failed() -> np.ndarray:
    return np.full(1, _BAIL, np.int64)


@numba.njit(cache=True, nogil=True)
def scan(buf: Buffer, max_nodes: int, max_players: int, max_digits: int) -> np.ndarray:
    """Scan a whole ``.efg`` file (its ASCII bytes: ``bytes`` or a uint8 array); the layout of the
    result is the module's."""
    n = len(buf)
    # every table holds at most one entry per two bytes of the file (each entry is a token of at
    # least one byte followed by another); one allocation, the tables are its column blocks
    cap = n // 2 + 2
    scratch = np.empty((cap, 22), np.int64)
    players = scratch[:, 0:2]
    nodes = scratch[:, 2:7]
    isets = scratch[:, 7:13]
    acts = scratch[:, 13:17]
    outs = scratch[:, 17:20]
    pays = scratch[:, 20:22]
    # header: EFG 2 R "title" { "player" ... } ["comment"]
    k, s, e, pos = _token(buf, 0)
    if k != _WORD or not (e - s == 3 and buf[s] == 69 and buf[s + 1] == 70 and buf[s + 2] == 71):
        return _failed()
    k, s, e, pos = _token(buf, pos)
    if k != _WORD or not _word_is(buf, s, e, 50, -1):
        return _failed()
    k, s, e, pos = _token(buf, pos)
    if k != _WORD or not _word_is(buf, s, e, 82, -1):
        return _failed()
    k, ts, te, pos = _token(buf, pos)
    if k != _STR:
        return _failed()
    k, s, e, pos = _token(buf, pos)
    if k != _LB:
        return _failed()
    n_players = 0
    while True:
        k, s, e, pos = _token(buf, pos)
        if k == _RB:
            break
        if k != _STR or n_players >= max_players:
            return _failed()
        players[n_players, 0] = s
        players[n_players, 1] = e
        n_players += 1
    if n_players == 0:
        return _failed()
    cs, ce = -1, -1
    k, s, e, after = _token(buf, pos)
    if k == _STR:
        cs, ce, pos = s, e, after
    elif k < 0:
        return _failed()
    all_plain = 1
    labels_empty = 1
    n_nodes = n_isets = n_acts = n_outs = 0
    pending = 1
    while pending:
        k, s, e, pos = _token(buf, pos)
        if k != _WORD or e - s != 1 or not (buf[s] == 112 or buf[s] == 99 or buf[s] == 116):
            return _failed()
        kind = 0 if buf[s] == 112 else (1 if buf[s] == 99 else 2)
        kind_at = s
        n_nodes += 1
        if n_nodes > max_nodes:
            return _failed()
        k, ls, le, pos = _token(buf, pos)
        if k != _STR:
            return _failed()
        if le > ls:
            labels_empty = 0
        pending -= 1
        node = n_nodes - 1
        nodes[node, 0] = kind_at
        nodes[node, 1] = ls
        nodes[node, 2] = le
        nodes[node, 3] = -1
        n_children = 0
        if kind != 2:
            player = -1
            if kind == 0:
                k, s, e, pos = _token(buf, pos)
                player = _integer(buf, s, e) if k == _WORD else -1
                if player < 1 or player > n_players:
                    return _failed()
                player -= 1
            k, s, e, pos = _token(buf, pos)
            number = _integer(buf, s, e) if k == _WORD else -1
            if number < 1 or number > max_nodes:
                return _failed()
            idx = -1
            for h in range(n_isets):  # (small files: a linear search)
                if isets[h, 0] == player and isets[h, 1] == number:
                    idx = h
                    break
            # [ "label" [ { "action" [probability] ... } ] ]
            a0 = n_acts
            n_new = -1  # actions listed here (-1: none)
            ok, ils, ile, brace, pos = _label_and_brace(buf, pos)
            if not ok:
                return _failed()
            if brace:
                n_new = 0
                while True:
                    k, s, e, pos = _token(buf, pos)
                    if k == _RB:
                        break
                    if k != _STR or n_nodes + pending + n_new + 1 > max_nodes:
                        return _failed()
                    acts[a0 + n_new, 0] = s
                    acts[a0 + n_new, 1] = e
                    acts[a0 + n_new, 2] = -1
                    acts[a0 + n_new, 3] = -1
                    if player < 0:
                        pos, plain = _number_word(buf, pos, max_digits, acts, a0 + n_new, 2)
                        if pos < 0:
                            return _failed()
                        all_plain = all_plain if plain else 0
                    n_new += 1
                if n_new == 0:
                    return _failed()
            if idx < 0:
                if n_new < 0:
                    return _failed()
                idx = n_isets
                n_isets += 1
                isets[idx, 0] = player
                isets[idx, 1] = number
                isets[idx, 2] = ils
                isets[idx, 3] = ile
                isets[idx, 4] = a0
                isets[idx, 5] = n_new
                n_acts += n_new
            else:
                f0, fn = isets[idx, 4], isets[idx, 5]
                if n_new >= 0:  # listed again: the same actions and probabilities, written the same way
                    if n_new != fn:
                        return _failed()
                    for a in range(fn):
                        if not _same_bytes(buf, acts[a0 + a, 0], acts[a0 + a, 1], acts[f0 + a, 0], acts[f0 + a, 1]):
                            return _failed()
                        if player < 0 and not _same_bytes(buf, acts[a0 + a, 2], acts[a0 + a, 3],
                                                          acts[f0 + a, 2], acts[f0 + a, 3]):
                            return _failed()
                if not _same_label(buf, ils, ile, isets[idx, 2], isets[idx, 3]):
                    return _failed()
            nodes[node, 3] = idx
            n_children = isets[idx, 5]
            if n_nodes + pending + n_children > max_nodes:
                return _failed()
        # outcome: 0, or number [ "label" [ { payoffs } ] ]
        k, s, e, pos = _token(buf, pos)
        onum = _integer(buf, s, e) if k == _WORD else -1
        if onum < 0:
            return _failed()
        nodes[node, 4] = -1
        if onum != 0:
            p0 = -1
            ok, ols, ole, brace, pos = _label_and_brace(buf, pos)
            if not ok:
                return _failed()
            if brace:
                p0 = n_outs * n_players
                for i in range(n_players):
                    pos, plain = _number_word(buf, pos, max_digits, pays, p0 + i, 0)
                    if pos < 0:
                        return _failed()
                    all_plain = all_plain if plain else 0
                    k, s, e, after = _token(buf, pos)
                    if k < 0:
                        return _failed()
                    if k == _COMMA:
                        pos = after
                k, s, e, pos = _token(buf, pos)
                if k != _RB:
                    return _failed()
            oidx = -1
            for o in range(n_outs):
                if outs[o, 0] == onum:
                    oidx = o
                    break
            if oidx < 0:
                if p0 < 0 or n_outs >= max_nodes:
                    return _failed()
                oidx = n_outs
                n_outs += 1
                outs[oidx, 0] = onum
                outs[oidx, 1] = ols
                outs[oidx, 2] = ole
            else:
                if p0 >= 0:  # listed again (the payoffs were written at p0, past the table's end)
                    q0 = oidx * n_players
                    for i in range(n_players):
                        if not _same_bytes(buf, pays[p0 + i, 0], pays[p0 + i, 1], pays[q0 + i, 0], pays[q0 + i, 1]):
                            return _failed()
                if not _same_label(buf, ols, ole, outs[oidx, 1], outs[oidx, 2]):
                    return _failed()
            nodes[node, 4] = oidx
        pending += n_children
    k, s, e, pos = _token(buf, pos)
    if k != _EOF:
        return _failed()
    chance = 0
    for h in range(n_isets):
        if isets[h, 0] < 0:
            chance = 1
    n_labels = n_nodes if labels_empty == 0 else 0
    n_probs = n_acts if chance else 0
    n_ints = 3 * n_nodes + 4 * n_isets + n_outs
    n_spans = 2 + n_players + n_labels + n_isets + n_acts + n_probs + n_outs * (1 + n_players)
    out = np.empty(9 + n_ints + 2 * n_spans, np.int64)
    out[0] = TAKEN
    out[1] = n_nodes
    out[2] = n_isets
    out[3] = n_outs
    out[4] = n_players
    out[5] = n_acts
    out[6] = 1 - labels_empty
    out[7] = all_plain
    out[8] = chance
    o = 9
    for v in range(n_nodes):
        out[o + v] = buf[nodes[v, 0]]
        out[o + n_nodes + v] = nodes[v, 3]
        out[o + 2 * n_nodes + v] = nodes[v, 4]
    o += 3 * n_nodes
    for h in range(n_isets):
        for c in range(4):
            out[o + c * n_isets + h] = isets[h, c if c < 2 else c + 2]
    o += 4 * n_isets
    for q in range(n_outs):
        out[o + q] = outs[q, 0]
    o += n_outs
    out[o] = ts
    out[o + 1] = te
    out[o + 2] = cs
    out[o + 3] = ce
    o += 4
    o = _put_spans(out, o, players, 0, n_players)
    o = _put_spans(out, o, nodes, 1, n_labels)
    o = _put_spans(out, o, isets, 2, n_isets)
    o = _put_spans(out, o, acts, 0, n_acts)
    o = _put_spans(out, o, acts, 2, n_probs)
    o = _put_spans(out, o, outs, 1, n_outs)
    _put_spans(out, o, pays, 0, n_outs * n_players)
    return out
