"""Gambit strategic-form ``.nfg`` files, and conversion to and from pygambit games.

Both body versions of the format are read and written:

* the **payoff version**: after the header, for every contingency (player 1's strategy varying
  fastest, like Fortran array order) the payoffs of players 1..N;
* the **outcome version** (what Gambit itself writes): a braced list of outcomes
  ``{ "label" p1, p2, ... }`` and then one outcome number per contingency, ``0`` meaning the
  null outcome (every payoff 0).

Numbers may be integers, decimals, exponents (``1.5e-3``) or rationals (``-3/4``); they are read
into float64 (rationals and decimals rounded once, to the nearest float). Strings follow
Gambit's reader: ``\\"`` is a quote, every other character (backslashes included) stands for
itself.

Malformed input raises :class:`~engine.errors.InvalidInputError` naming the line and column and
what was expected there.
"""

from __future__ import annotations

import bisect
import io
import math
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Union, overload

import numpy as np

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.io import atomic_write_text
from engine.validation import check_choice, check_int
from games.normal_form import NormalFormGame, check_game

__all__ = ["read_nfg", "write_nfg", "format_number", "to_pygambit", "from_pygambit", "MAX_PLAYERS",
           "MAX_CONTINGENCIES"]

#: Most players a file may declare (:func:`read_nfg` ``max_players=``). A game is a numpy array
#: with one axis per player, and numpy arrays have at most 64 axes, so 64 is also the ceiling.
MAX_PLAYERS = 32
#: Most contingencies (the product of the strategy counts) a file may declare
#: (:func:`read_nfg` ``max_contingencies=``); the payoffs take ``8 * players`` bytes each.
MAX_CONTINGENCIES = 10_000_000
#: numpy's limit on array dimensions (one per player)
_NUMPY_MAX_DIMS = 64
#: longest integer token (digits) read as a strategy count or outcome number
_MAX_INT_DIGITS = 30

PathOrText = Union[str, bytes, "os.PathLike[str]"]
#: write_nfg numbers the outcomes of games up to this many contingencies with a dict (fast for
#: small games), larger ones with numpy.unique (the same numbering)
_DICT_DEDUPE = 4096

# ----------------------------------------------------------------------------- tokenizer

_NUMBER = "number"
_STRING = "string"
_LBRACE = "'{'"
_RBRACE = "'}'"
_COMMA = "','"
_SYMBOL = "symbol"
_EOF = "end of file"

# Like Gambit's reader: whitespace is ASCII whitespace; a number runs up to the next space,
# brace, comma or quote; a symbol (NFG, R, D) runs up to the next space.
_SPACE_RE = re.compile(r"[ \t\n\r\f\v]*")
_WORD_RE = re.compile(r"[^ \t\n\r\f\v{},\"]+")
_SYMBOL_RE = re.compile(r"[^ \t\n\r\f\v]+")
_NUMBER_START = frozenset("0123456789+-.")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_RATIONAL_RE = re.compile(r"[+-]?[0-9]+/[0-9]+\Z")
_INTEGER_RE = re.compile(r"[+-]?[0-9]+\Z")


class _Token:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind: str, text: str, pos: int) -> None:
        self.kind = kind
        self.text = text
        self.pos = pos

    def describe(self) -> str:
        if self.kind == _EOF:
            return "end of file"
        if self.kind == _STRING:
            shown = self.text if len(self.text) <= 30 else self.text[:27] + "..."
            return f"string {shown!r}"
        if self.kind in (_NUMBER, _SYMBOL):
            shown = self.text if len(self.text) <= 30 else self.text[:27] + "..."
            return f"{self.kind} {shown!r}"
        return self.kind


class _Lexer:
    """Tokens of an ``.nfg`` text with their offsets; line and column computed on demand."""

    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.pos = 0
        self._line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def location(self, pos: int) -> str:
        line = bisect.bisect_right(self._line_starts, pos)
        column = pos - self._line_starts[line - 1] + 1
        return f"line {line}, column {column}"

    def error(self, pos: int, message: str) -> InvalidInputError:
        return InvalidInputError(f"{self.where}: {self.location(pos)}: {message}")

    def next(self) -> _Token:
        text = self.text
        space = _SPACE_RE.match(text, self.pos)
        assert space is not None  # the pattern matches the empty string
        pos = space.end()
        if pos >= len(text):
            self.pos = pos
            return _Token(_EOF, "", pos)
        c = text[pos]
        if c == "{":
            self.pos = pos + 1
            return _Token(_LBRACE, c, pos)
        if c == "}":
            self.pos = pos + 1
            return _Token(_RBRACE, c, pos)
        if c == ",":
            self.pos = pos + 1
            return _Token(_COMMA, c, pos)
        if c == '"':
            # a quote preceded by a backslash does not end the string
            end = pos + 1
            while True:
                end = text.find('"', end)
                if end < 0:
                    raise self.error(pos, "unterminated string (no closing '\"' before the end of file)")
                if text[end - 1] != "\\" or end - 1 == pos:
                    break
                end += 1
            self.pos = end + 1
            return _Token(_STRING, text[pos + 1:end].replace('\\"', '"'), pos)
        m = (_WORD_RE if c in _NUMBER_START else _SYMBOL_RE).match(text, pos)
        assert m is not None  # text[pos] is a non-space character outside '{},"' here
        self.pos = m.end()
        return _Token(_NUMBER if c in _NUMBER_START else _SYMBOL, m.group(0), pos)


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.lex = _Lexer(text, where)
        self.tok = self.lex.next()

    def advance(self) -> _Token:
        self.tok = self.lex.next()
        return self.tok

    def fail(self, expected: str, tok: Optional[_Token] = None) -> InvalidInputError:
        tok = tok or self.tok
        return self.lex.error(tok.pos, f"expected {expected}, got {tok.describe()}")

    def expect(self, kind: str, expected: str) -> _Token:
        tok = self.tok
        if tok.kind != kind:
            raise self.fail(expected)
        self.advance()
        return tok

    def number(self, expected: str) -> float:
        tok = self.tok
        if tok.kind != _NUMBER:
            raise self.fail(expected)
        value = _parse_number(tok.text, lambda msg: self.lex.error(tok.pos, msg))
        self.advance()
        return value

    def integer(self, expected: str, lower: int, upper: Optional[int] = None) -> int:
        tok = self.tok
        if tok.kind != _NUMBER or not _INTEGER_RE.match(tok.text):
            raise self.fail(expected)
        if len(tok.text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
            rng = f">= {lower}" if upper is None else f"in [{lower}, {upper}]"
            raise self.lex.error(tok.pos, f"expected {expected} {rng}, got {_shown(tok.text)} "
                                          f"({len(tok.text)} characters)")
        value = int(tok.text)
        if value < lower or (upper is not None and value > upper):
            rng = f">= {lower}" if upper is None else f"in [{lower}, {upper}]"
            raise self.lex.error(tok.pos, f"expected {expected} {rng}, got {value}")
        self.advance()
        return value


def _shown(text: str, limit: int = 40) -> str:
    """``repr(text)``, shortened: a message never carries a whole multi-megabyte token."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


def _parse_number(text: str, error: Any) -> float:
    if _DECIMAL_RE.match(text):
        try:
            value = float(text)
        except (ValueError, OverflowError):  # pragma: no cover - the regex admits only floats
            raise error(f"bad number {_shown(text)}")
        if math.isinf(value):
            raise error(f"number {_shown(text)} is out of the float64 range")
        return value
    if _RATIONAL_RE.match(text):
        num, den = text.split("/")
        try:
            n, d = int(num), int(den)  # ValueError beyond Python's 4300-digit int conversion limit
        except ValueError:
            raise error(f"rational {_shown(text)} has too many digits ({len(text)} characters)") from None
        if d == 0:
            raise error(f"rational {_shown(text)} has a zero denominator")
        try:
            return float(Fraction(n, d))
        except OverflowError:
            raise error(f"number {_shown(text)} is out of the float64 range") from None
    raise error(f"bad number {_shown(text)} (expected an integer, decimal, exponent or rational like 3/4)")


def _parse(text: str, where: str, max_players: int = MAX_PLAYERS,
           max_contingencies: int = MAX_CONTINGENCIES) -> NormalFormGame:
    p = _Parser(text, where)
    tok = p.tok
    if tok.kind != _SYMBOL or tok.text != "NFG":
        raise p.fail("'NFG' (the file type)")
    p.advance()
    tok = p.tok
    if tok.kind != _NUMBER or tok.text != "1":
        raise p.fail("version number 1")
    p.advance()
    tok = p.tok
    if tok.kind != _SYMBOL or tok.text not in ("D", "R"):
        raise p.fail("number type 'D' or 'R'")
    p.advance()
    title = p.expect(_STRING, "the game title (a quoted string)").text

    # players
    p.expect(_LBRACE, "'{' opening the list of player names")
    players: list[str] = []
    while p.tok.kind == _STRING:
        if len(players) == max_players:
            raise p.lex.error(p.tok.pos, f"more than max_players={max_players} players (games.nfg.MAX_PLAYERS; "
                                         f"pass max_players= to read it, up to {_NUMPY_MAX_DIMS})")
        players.append(p.tok.text)
        p.advance()
    if p.tok.kind != _RBRACE:
        raise p.fail("a quoted player name or '}'")
    if not players:
        raise p.lex.error(p.tok.pos, "expected at least one player name")
    p.advance()
    n_players = len(players)

    # strategies: labels or counts
    p.expect(_LBRACE, "'{' opening the strategies")
    strategies: list[list[str]] = []
    n_cont = 1
    if p.tok.kind == _LBRACE:
        for pl in range(n_players):
            open_tok = p.tok
            p.expect(_LBRACE, f"'{{' opening the strategy labels of player {pl + 1}")
            labels: list[str] = []
            while p.tok.kind == _STRING:
                labels.append(p.tok.text)
                p.advance()
            if p.tok.kind != _RBRACE:
                raise p.fail(f"a quoted strategy label or '}}' (player {pl + 1})")
            if not labels:
                raise p.lex.error(open_tok.pos, f"player {pl + 1} needs at least one strategy")
            n_cont *= len(labels)
            _check_contingencies(p, open_tok, n_cont, max_contingencies, pl)
            p.advance()
            strategies.append(labels)
    else:
        for pl in range(n_players):
            tok = p.tok
            count = p.integer(f"the number of strategies of player {pl + 1}", 1)
            n_cont *= count
            if n_cont > len(p.lex.text):  # each contingency needs at least one more number
                raise p.lex.error(tok.pos, f"{count} strategies for player {pl + 1} make more contingencies "
                                           f"({n_cont}) than the file has characters")
            _check_contingencies(p, tok, n_cont, max_contingencies, pl)
            strategies.append([str(i + 1) for i in range(count)])
    if p.tok.kind != _RBRACE:
        raise p.fail(f"'}}' closing the strategies of {n_players} player(s)")
    p.advance()
    shape = tuple(len(s) for s in strategies)

    comment = ""
    if p.tok.kind == _STRING:
        comment = p.tok.text
        p.advance()

    n_cont = math.prod(shape)
    if n_cont > len(text) - p.tok.pos:  # every contingency needs a number and a separator
        raise p.lex.error(p.tok.pos, f"expected the payoffs of {n_cont} contingencies, but only "
                                     f"{len(text) - p.tok.pos} characters are left")
    if p.tok.kind == _LBRACE:
        flat = _parse_outcome_body(p, n_players, n_cont)
    elif p.tok.kind == _NUMBER:
        fast_flat = _fast_numbers(p, n_cont * n_players, integer=False)
        if fast_flat is not None:
            return _build(fast_flat.reshape(n_cont, n_players), shape, strategies, players, title, comment)
        values = []  # no preallocation: a short file fails at its end, not with a huge allocation
        for k in range(n_cont * n_players):
            cont, pl = divmod(k, n_players)
            values.append(p.number(f"the payoff of player {pl + 1} in contingency {cont + 1} of {n_cont}"))
        flat = np.array(values, dtype=np.float64).reshape(n_cont, n_players)
    else:
        raise p.fail("the payoffs: a number (payoff version) or '{' (outcome version)")
    if p.tok.kind != _EOF:
        raise p.fail("end of file (all payoffs have been read)")
    return _build(flat, shape, strategies, players, title, comment)


def _check_contingencies(p: "_Parser", tok: "_Token", n_cont: int, limit: int, pl: int) -> None:
    if n_cont > limit:
        raise p.lex.error(tok.pos, f"the strategies of players 1..{pl + 1} make {n_cont} contingencies, above "
                                   f"max_contingencies={limit} (games.nfg.MAX_CONTINGENCIES; pass "
                                   f"max_contingencies= to read it)")


def _build(flat: np.ndarray, shape: tuple, strategies: list, players: list, title: str,
           comment: str) -> NormalFormGame:
    payoffs = [flat[:, pl].reshape(shape, order="F") for pl in range(len(players))]
    return NormalFormGame(tuple(payoffs), strategies=tuple(tuple(s) for s in strategies), players=tuple(players),
                          title=title, comment=comment)


def _fast_numbers(p: _Parser, count: int, *, integer: bool) -> Optional[np.ndarray]:
    """The rest of the file as ``count`` plain numbers, or None (then the token loop reports errors).

    Large games are mostly a long run of plain numbers; converting them in one numpy call is
    ~20x faster than the token loop. Anything unusual (rationals, a wrong count, stray tokens,
    out-of-range values) falls back to the token loop, which says where the problem is.
    """
    rest = p.lex.text[p.tok.pos:]
    if count < 64 or not rest.isascii():  # str.split() splits at non-ASCII spaces too
        return None
    words = rest.split()
    if len(words) != count:
        return None
    pattern = _INTEGER_RE if integer else _DECIMAL_RE
    match = pattern.match
    for w in words:
        if not match(w):
            return None
    try:
        values = np.array(words, dtype=np.int64 if integer else np.float64)
    except (ValueError, OverflowError):
        return None
    if not integer and not np.all(np.isfinite(values)):
        return None
    p.lex.pos = len(p.lex.text)
    p.tok = _Token(_EOF, "", len(p.lex.text))
    return values


_WS = r"[ \t\n\r\f\v]*"
# a quoted string exactly as the lexer reads it: a backslash before a quote escapes it
_STRING_PATTERN = r'"(?:[^"\\]|\\"|\\(?!"))*"'
# a whole number token: the lookahead stops backtracking from splitting "12121213" in two
_NUMBER_PATTERN = r'([0-9+\-.][^ \t\n\r\f\v{},"]*)(?![^ \t\n\r\f\v{},"])'


def _outcome_regex(n_players: int) -> "re.Pattern[str]":
    """One whole ``{ "label" p1, p2, ... }`` outcome (numbers captured, validated afterwards)."""
    number = _NUMBER_PATTERN + _WS + "(?:," + _WS + ")?"
    return re.compile(r"\{" + _WS + _STRING_PATTERN + _WS + number * n_players + r"\}")


def _parse_outcome_body(p: _Parser, n_players: int, n_cont: int) -> np.ndarray:
    p.advance()  # the '{' opening the outcome list
    outcomes: list = [[0.0] * n_players]  # index 0: the null outcome
    fast = _outcome_regex(n_players)
    decimal = _DECIMAL_RE.match
    space = _SPACE_RE.match
    text = p.lex.text
    while p.tok.kind == _LBRACE:
        # the common case: whole outcomes, one regex call each; anything else (errors included)
        # goes through the token loop below, which says where the problem is
        pos = p.tok.pos
        m = fast.match(text, pos)
        while m is not None:
            row = []
            for pl, num in enumerate(m.groups()):
                if decimal(num):
                    value = float(num)
                    if math.isinf(value):
                        raise p.lex.error(m.start(pl + 1), f"number {_shown(num)} is out of the float64 range")
                else:
                    value = _parse_number(num, lambda msg, at=m.start(pl + 1): p.lex.error(at, msg))
                row.append(value)
            outcomes.append(row)
            gap = space(text, m.end())
            assert gap is not None  # the pattern matches the empty string
            pos = gap.end()
            m = fast.match(text, pos)
        if pos != p.tok.pos:
            p.lex.pos = pos
            p.advance()
            continue
        k = len(outcomes)
        p.advance()
        p.expect(_STRING, f"the label of outcome {k} (a quoted string)")
        row = []
        for pl in range(n_players):
            row.append(p.number(f"the payoff of player {pl + 1} in outcome {k}"))
            if p.tok.kind == _COMMA:
                p.advance()
        if p.tok.kind != _RBRACE:
            raise p.fail(f"'}}' closing outcome {k} ({n_players} payoffs)")
        p.advance()
        outcomes.append(row)
    if p.tok.kind != _RBRACE:
        raise p.fail("'{' opening an outcome or '}' closing the outcome list")
    p.advance()
    table = np.array(outcomes, dtype=np.float64)
    start, start_tok = p.lex.pos, p.tok
    n_out = len(outcomes) - 1
    index = _fast_numbers(p, n_cont, integer=True) if p.tok.kind == _NUMBER else None
    if index is not None and index.min() >= 0 and index.max() <= n_out:
        return table[index]
    if index is not None:  # out of range: rewind and let the token loop say where
        p.lex.pos = start
        p.tok = start_tok
    slow = [p.integer(f"the outcome number of contingency {k + 1} of {n_cont}", 0, n_out) for k in range(n_cont)]
    return table[np.array(slow, dtype=np.int64)]


# ----------------------------------------------------------------------------- reading

def _looks_like_text(s: str) -> bool:
    return not s.strip() or re.match(r"\s*NFG(\s|\Z)", s) is not None or "\n" in s


def read_nfg(path_or_text: PathOrText, /, *, max_players: int = MAX_PLAYERS,
             max_contingencies: int = MAX_CONTINGENCIES) -> NormalFormGame:
    """Read a Gambit strategic-form ``.nfg`` game (payoff or outcome version).

    Parameters
    ----------
    path_or_text : str, bytes or os.PathLike
        A path (``str`` or ``os.PathLike``), the file's text (a ``str`` that starts with
        ``NFG`` after optional whitespace, or that spans several lines), or its raw ``bytes``
        (UTF-8, falling back to Latin-1).
    max_players : int
        Most players the file may declare (default :data:`MAX_PLAYERS` = 32; at most 64, numpy's
        limit on array dimensions).
    max_contingencies : int
        Most contingencies (product of the strategy counts) the file may declare (default
        :data:`MAX_CONTINGENCIES` = 10 million). Both limits are checked while the header is
        read, before anything is allocated for the payoffs; a short file declaring more
        contingencies than it has characters is refused as well.

    Returns
    -------
    NormalFormGame
        Payoffs as float64 (rationals and decimals rounded to the nearest float), strategy
        labels (``"1"``, ``"2"``, ... when the file gives only counts), player names, title and
        comment.

    Raises
    ------
    InvalidInputError
        For a missing file, a malformed one or one above a limit; the message says the line and
        column and what was expected there.

    Examples
    --------
    >>> g = read_nfg('NFG 1 R "PD" { "Row" "Col" } { 2 2 } -1 -1 0 -10 -10 0 -5 -5')
    >>> g.payoffs[0].tolist(), g.players
    ([[-1.0, -10.0], [0.0, -5.0]], ('Row', 'Col'))
    """
    where = "read_nfg()"
    max_players = check_int(max_players, "max_players", where, lower=1, upper=_NUMPY_MAX_DIMS)
    max_contingencies = check_int(max_contingencies, "max_contingencies", where, lower=1)
    if isinstance(path_or_text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(path_or_text))
        origin = "text"
    elif isinstance(path_or_text, str) and _looks_like_text(path_or_text):
        text = path_or_text
        origin = "text"
    elif isinstance(path_or_text, (str, os.PathLike)):
        try:
            path = Path(path_or_text)
            data = path.read_bytes()
        except (OSError, ValueError, TypeError) as err:
            raise InvalidInputError(f"{where}: cannot read {str(path_or_text)[:200]!r} as a file "
                                    f"({type(err).__name__}: {err}); pass a path or the text starting "
                                    f"with 'NFG'") from None
        text = _decode(data)
        origin = str(path)
    else:
        raise InvalidInputError(f"{where}: expected a path or the .nfg text, got {type(path_or_text).__name__}")
    if origin != "text":
        where = f"read_nfg({origin!r})"
    return _parse(text, where, max_players, max_contingencies)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# ----------------------------------------------------------------------------- writing

def format_number(value: float) -> str:
    """A float as Gambit-readable text that reads back as exactly the same float.

    Integral values below 1e16 in magnitude are written as integers (``3``, ``-12``); others
    in the shortest decimal that round-trips (``0.1``, ``-2.5e-07``, ``1e20``), with no ``+``
    in the exponent (Gambit's reader rejects ``1e+20``).

    Examples
    --------
    >>> format_number(3.0), format_number(0.1), format_number(-2.5e-7), format_number(1e20)
    ('3', '0.1', '-2.5e-07', '1e20')
    """
    v = float(value)
    if not math.isfinite(v):
        raise InvalidInputError(f"format_number(): payoffs must be finite, got {value!r}")
    if v == int(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(v).replace("+", "")


def _format_array(values: np.ndarray) -> np.ndarray:
    """:func:`format_number` of every entry (one pass; Python's repr is exact and shortest)."""
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise InvalidInputError(f"write_nfg(): payoffs must be finite, got {v[~np.isfinite(v)].flat[0]}")
    integral = ((v == np.floor(v)) & (np.abs(v) < 1e16)).ravel().tolist()
    text = [str(int(x)) if i else repr(x).replace("+", "") for x, i in zip(v.ravel().tolist(), integral)]
    out = np.empty(len(text), dtype=object)
    out[:] = text
    return out.reshape(v.shape)


def _quote(text: str, what: str, where: str) -> str:
    if text.endswith("\\"):
        raise InvalidInputError(f"{where}: {what} {text!r} ends with a backslash, which the .nfg format "
                                f"cannot represent (it would escape the closing quote)")
    return '"' + text.replace('"', '\\"') + '"'


@overload
def write_nfg(game: NormalFormGame, path: None = None, /, *, version: str = "outcome",
              durable: bool = False) -> str: ...


@overload
def write_nfg(game: NormalFormGame, path: Union[str, "os.PathLike[str]"], /, *, version: str = "outcome",
              durable: bool = False) -> None: ...


def write_nfg(game: NormalFormGame, path: Optional[Union[str, "os.PathLike[str]"]] = None, /, *,
              version: str = "outcome", durable: bool = False) -> Optional[str]:
    """Write ``game`` as a Gambit strategic-form ``.nfg`` file.

    Parameters
    ----------
    game : NormalFormGame
    path : str or os.PathLike, optional
        Where to write. ``None`` returns the text instead. The file is written atomically (a
        temporary file beside it, then a rename: a reader or a killed process never leaves a
        half-written file), with :func:`engine.io.atomic_write_text`.
    version : {"outcome", "payoff"}
        ``"outcome"`` (default) writes what Gambit itself writes: a list of the distinct payoff
        vectors as outcomes and one outcome number per contingency (all-zero contingencies get
        the null outcome ``0``). It is what Gambit's own files look like, so a file we write
        diffs cleanly against one Gambit writes, and games with repeated payoff vectors
        (common: constant-sum, coordination, generated games) come out smaller. ``"payoff"``
        writes every contingency's payoffs in order.
    durable : bool
        Also flush the file to the disk (``fsync``) before the rename, so it survives a power
        loss or an OS crash. Off by default: an fsync costs milliseconds, far more than writing a
        small game, and the rename alone already protects against a killed process. Pass
        ``durable=True`` where the file must survive a crash of the machine.

    Returns
    -------
    str or None
        The text when ``path`` is None.

    Notes
    -----
    Numbers are written exactly: integral values as integers, others in the shortest decimal
    that reads back as the same float (see :func:`format_number`), so ``read_nfg(write_nfg(g))
    == g`` holds for every game, and Gambit reads the same values.

    Examples
    --------
    >>> g = NormalFormGame.from_arrays([[3, 0], [5, 1]], [[3, 5], [0, 1]], title="PD")
    >>> print(write_nfg(g, version="payoff"))
    NFG 1 R "PD" { "Player 1" "Player 2" }
    { { "1" "2" }
      { "1" "2" }
    }
    ""
    <BLANKLINE>
    3 3
    5 0
    0 5
    1 1
    <BLANKLINE>
    >>> read_nfg(write_nfg(g)) == g
    True
    """
    where = "write_nfg()"
    check_game(game, where)
    check_choice(version, "version", where, ("outcome", "payoff"))
    if not isinstance(durable, (bool, np.bool_)):
        raise InvalidInputError(f"{where}: durable must be True or False, got {durable!r}")
    players = " ".join(_quote(pl, "player name", where) for pl in game.players)
    lines = [f"NFG 1 R {_quote(game.title, 'title', where)} {{ {players} }}"]
    strat = [" ".join(_quote(s, "strategy label", where) for s in labels) for labels in game.strategies]
    lines.append("{ " + "\n  ".join(f"{{ {s} }}" for s in strat))
    lines.append("}")
    lines.append(_quote(game.comment, "comment", where))
    lines.append("")
    table = np.stack([a.ravel(order="F") for a in game.payoffs], axis=1)  # (K, N), player 1 fastest
    if version == "payoff":
        lines.extend(" ".join(row) for row in _format_array(table).tolist())
    else:
        # distinct payoff vectors (compared as floats, -0.0 == 0.0) in order of first use
        if len(table) <= _DICT_DEDUPE:
            numbers: dict = {}
            outcomes = []
            idx = []
            for row in (table + 0.0).tolist():
                key = tuple(row)
                k = numbers.get(key)
                if k is None:
                    if any(key):
                        outcomes.append(row)
                        k = numbers[key] = str(len(outcomes))
                    else:
                        k = numbers[key] = "0"  # all-zero payoffs: the null outcome 0
                idx.append(k)
            rows_text = _format_array(np.array(outcomes, dtype=np.float64).reshape(len(outcomes), table.shape[1]))
        else:
            uniq, first, inverse = np.unique(table + 0.0, axis=0, return_index=True, return_inverse=True)
            inverse = np.asarray(inverse).reshape(-1)
            order = np.argsort(first, kind="stable")
            zero = ~np.any(uniq != 0.0, axis=1)
            number = np.zeros(len(uniq), dtype=np.int64)
            order = order[~zero[order]]  # all-zero payoffs: the null outcome 0
            number[order] = np.arange(1, len(order) + 1)
            rows_text = _format_array(uniq[order])
            idx = number[inverse].astype(str).tolist()
        lines.append("{")
        lines.extend('{ "" ' + ", ".join(row) + " }" for row in rows_text.tolist())
        lines.append("}")
        per_line = 20
        for start in range(0, len(idx), per_line):
            lines.append(" ".join(idx[start:start + per_line]))
    text = "\n".join(lines) + "\n"
    if path is None:
        return text
    atomic_write_text(path, text, fsync=bool(durable))
    return None


# ----------------------------------------------------------------------------- pygambit

def _pygambit(where: str) -> Any:
    try:  # optional dependency: only the pygambit bridge needs it
        import pygambit
    except ImportError as err:
        raise ImportError(f"{where}: pygambit is not installed; install it with "
                          f"`pip install pygambit` (or this package's [test] extra)") from err
    return pygambit


def to_pygambit(game: NormalFormGame, /) -> Any:
    """The game as a ``pygambit.Game`` (a strategic-form table), with the same labels and payoffs.

    The conversion goes through the ``.nfg`` text, so pygambit holds exactly the decimal
    values :func:`write_nfg` writes (which read back as the same floats). pygambit (16.x)
    renames empty and repeated labels (``""`` -> ``"_1"``, ``"a", "a"`` -> ``"a_1", "a_2"``)
    and rejects labels that are not printable ASCII or that have leading, trailing or doubled
    spaces (``ValueError`` from pygambit).

    Raises
    ------
    ImportError
        When pygambit is not installed.

    Examples
    --------
    >>> g = NormalFormGame.from_arrays([[1, -1], [-1, 1]], [[-1, 1], [1, -1]])
    >>> gg = to_pygambit(g)                  # doctest: +SKIP
    >>> [p.label for p in gg.players]        # doctest: +SKIP
    ['Player 1', 'Player 2']
    """
    where = "to_pygambit()"
    check_game(game, where)
    gbt = _pygambit(where)
    text = write_nfg(game, version="outcome")
    return _pygambit_parse(gbt, text)


def _pygambit_parse(gbt: Any, text: str) -> Any:
    reader = getattr(gbt, "read_nfg", None)
    if reader is not None:
        return reader(io.StringIO(text))
    return gbt.Game.parse_game(text)  # pragma: no cover - pygambit < 16.1


def from_pygambit(gbt_game: Any, /) -> NormalFormGame:
    """A :class:`NormalFormGame` from a ``pygambit.Game``.

    Payoffs (pygambit's exact ``Decimal``/``Rational`` values) are rounded once to the nearest
    float64; contingencies without an outcome (Gambit's null outcome) get payoff 0. The game
    must be a strategic-form (table) game: an extensive-form game raises
    :class:`~engine.errors.UnsupportedProblemError`.

    Examples
    --------
    >>> import pygambit as gbt                                         # doctest: +SKIP
    >>> g = from_pygambit(gbt.Game.from_arrays([[1, 2]], [[3, 4]]))  # doctest: +SKIP
    >>> g.shape, g.payoffs[1].tolist()                                 # doctest: +SKIP
    ((1, 2), [[3.0, 4.0]])
    """
    where = "from_pygambit()"
    gbt = _pygambit(where)
    if not isinstance(gbt_game, gbt.Game):
        raise InvalidInputError(f"{where}: expected a pygambit.Game, got {type(gbt_game).__name__}")
    if gbt_game.is_tree:
        raise UnsupportedProblemError(f"{where}: an extensive-form game; convert it to a table first")
    players = list(gbt_game.players)
    if not players:
        raise InvalidInputError(f"{where}: the game has no players")
    payoffs = _pygambit_payoffs(gbt_game, players, where)
    strategies = [[s.label for s in pl.strategies] for pl in players]
    comment = getattr(gbt_game, "comment", None)
    if comment is None:
        comment = getattr(gbt_game, "description", "")
    return NormalFormGame(tuple(payoffs), strategies=tuple(tuple(s) for s in strategies),
                          players=tuple(pl.label for pl in players), title=gbt_game.title or "",
                          comment=comment or "")


def _pygambit_payoffs(gbt_game: Any, players: list, where: str) -> list[np.ndarray]:
    try:
        shape = tuple(len(pl.strategies) for pl in players)
        out = [np.zeros(shape) for _ in players]
        # pygambit's to_arrays() fails on contingencies without an outcome (the null outcome,
        # payoff 0, written as index 0 in .nfg files), so read contingency by contingency
        for idx in np.ndindex(*shape):
            outcome = gbt_game[idx]
            if outcome is None:
                continue
            for p, pl in enumerate(players):
                out[p][idx] = _to_float(outcome[pl])
    except Exception as err:  # pygambit raises various types for games without a table
        raise UnsupportedProblemError(f"{where}: cannot read the strategic form of this game: {err}") from err
    return out


def _to_float(v: Any) -> float:
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(Fraction(v))  # Decimal and Rational convert exactly, then round once
    except (TypeError, ValueError):
        return float(v)
