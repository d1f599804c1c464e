"""Tests for games.nfg: Gambit .nfg reading/writing, round trips with pygambit, malformed files."""

from __future__ import annotations

import io
import math
import os
import re
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError, UnsupportedProblemError
from games.nfg import _format_array, format_number, from_pygambit, read_nfg, to_pygambit, write_nfg
from games.normal_form import NormalFormGame, random_game

# ----------------------------------------------------------------------------- hand-written files

PD_PAYOFF = """NFG 1 R "Prisoner's Dilemma" { "Row" "Column" }
{ { "Cooperate" "Defect" }
  { "Cooperate" "Defect" }
}
"The classic"

-1 -1  0 -10  -10 0  -5 -5
"""

# the same game, outcome version, outcomes listed in a different order than the contingencies
PD_OUTCOME = """NFG 1 R "Prisoner's Dilemma" { "Row" "Column" }
{ { "Cooperate" "Defect" } { "Cooperate" "Defect" } }
"The classic"
{
{ "both defect" -5, -5 }
{ "sucker" -10, 0 }
{ "temptation" 0 -10 }
{ "both cooperate" -1, -1 }
}
4 3 2 1
"""


def test_prisoners_dilemma_payoff_positions():
    g = read_nfg(PD_PAYOFF)
    assert g.title == "Prisoner's Dilemma" and g.comment == "The classic"
    assert g.players == ("Row", "Column")
    assert g.strategies == (("Cooperate", "Defect"), ("Cooperate", "Defect"))
    A, B = g.payoffs
    # contingencies: (C,C) (D,C) (C,D) (D,D): player 1 varies fastest
    assert (A[0, 0], B[0, 0]) == (-1, -1)
    assert (A[1, 0], B[1, 0]) == (0, -10)   # Row defects, Column cooperates
    assert (A[0, 1], B[0, 1]) == (-10, 0)   # Row cooperates, Column defects
    assert (A[1, 1], B[1, 1]) == (-5, -5)
    assert read_nfg(PD_OUTCOME) == g


# 3 players, 2 strategies each; the payoff of player p in contingency (i, j, k) is written as
# "ijk" + p so that every position can be checked by eye. Player 1 varies fastest.
THREE_PAYOFF = """NFG 1 D "three" { "P1" "P2" "P3" } { 2 2 2 }
1111 1112 1113
2111 2112 2113
1211 1212 1213
2211 2212 2213
1121 1122 1123
2121 2122 2123
1221 1222 1223
2221 2222 2223
"""

THREE_OUTCOME = """NFG 1 R "three" { "P1" "P2" "P3" } { 2 2 2 }
{ { "a" 1111 1112 1113 } { "b" 2111, 2112, 2113 } { "c" 1211 1212 1213 } { "" 2211 2212 2213 }
  { "e" 1121 1122 1123 } { "f" 2121 2122 2123 } { "g" 1221 1222 1223 } }
1 2 3 4 5 6 7 0
"""


def test_three_player_positions():
    g = read_nfg(THREE_PAYOFF)
    assert g.shape == (2, 2, 2) and g.players == ("P1", "P2", "P3")
    assert g.strategies == (("1", "2"),) * 3  # counts give labels "1", "2", ...
    for i in range(2):
        for j in range(2):
            for k in range(2):
                for p in range(3):
                    assert g.payoffs[p][i, j, k] == int(f"{i + 1}{j + 1}{k + 1}{p + 1}")
    h = read_nfg(THREE_OUTCOME)
    assert h.payoffs[0][1, 1, 1] == 0 and h.payoffs[2][1, 1, 1] == 0  # outcome 0: the null outcome
    for p in range(3):
        expect = g.payoffs[p].copy()
        expect[1, 1, 1] = 0
        np.testing.assert_array_equal(h.payoffs[p], expect)


def test_numbers_rationals_decimals_exponents():
    text = 'NFG 1 R "n" { "a" "b" } { 3 1 }\n3/4 -1/3  0.1 -2.5e-3  1E5 -0.0\n'
    g = read_nfg(text)
    np.testing.assert_array_equal(g.payoffs[0][:, 0], [0.75, 0.1, 1e5])
    np.testing.assert_array_equal(g.payoffs[1][:, 0], [float(Fraction(-1, 3)), -0.0025, 0.0])
    # accepted beyond what Gambit accepts: a leading '+', '+' exponents, '.5'
    g2 = read_nfg('NFG 1 R "n" { "a" } { 3 } +3 1e+2 .5')
    np.testing.assert_array_equal(g2.payoffs[0], [3.0, 100.0, 0.5])
    # huge exact integers and rationals round to the nearest float
    g3 = read_nfg('NFG 1 R "n" { "a" } { 2 } 123456789012345678901234567890 1/3')
    assert g3.payoffs[0][0] == float(123456789012345678901234567890)
    assert g3.payoffs[0][1] == float(Fraction(1, 3))


def test_strings_escapes_empty_labels_and_newlines():
    text = ('NFG 1 R "say \\"hi\\"" { "" "back\\\\slash" }\n'
            '{ { "" "x" } { "multi\nline" } }\n'
            '"comment with { braces } and 1 2 3"\n'
            '1 2 3 4\n')
    g = read_nfg(text)
    assert g.title == 'say "hi"'
    assert g.players == ("", "back\\\\slash")  # a backslash not before a quote stands for itself
    assert g.strategies == (("", "x"), ("multi\nline",))
    assert g.comment == "comment with { braces } and 1 2 3"
    assert read_nfg(write_nfg(g)) == g


def test_no_comment_and_whitespace_variants():
    g = read_nfg('  \n\tNFG 1 R "t" {"a" "b"}{{"x" "y"}{"z"}}1 2 3 4')
    assert g.comment == "" and g.strategies == (("x", "y"), ("z",))
    np.testing.assert_array_equal(g.payoffs[0], [[1], [3]])


def test_gambit_written_text_reads():
    """Verbatim layout of a file Gambit 16 writes (outcome labels, '1E-7', trailing spaces)."""
    text = ('NFG 1 R "Untitled strategic game" { "1" "2" }\n\n{ { "1" }\n{ "1" "2" }\n}\n""\n\n'
            '{\n{ "_1" 0.1, 0.3333333333333333 }\n{ "_2" 1E-7, 2.0 }\n}\n1 2 \n')
    g = read_nfg(text)
    np.testing.assert_array_equal(g.payoffs[0], [[0.1, 1e-7]])
    np.testing.assert_array_equal(g.payoffs[1], [[0.3333333333333333, 2.0]])


# ----------------------------------------------------------------------------- writing

def test_write_payoff_version_layout():
    g = read_nfg(PD_PAYOFF)
    text = write_nfg(g, version="payoff")
    assert text.splitlines()[0] == 'NFG 1 R "Prisoner\'s Dilemma" { "Row" "Column" }'
    assert text.splitlines()[-4:] == ["-1 -1", "0 -10", "-10 0", "-5 -5"]
    assert read_nfg(text) == g


def test_write_outcome_version_dedupes_and_uses_null_outcome():
    A = np.array([[0.0, 1.0], [1.0, 0.0]])
    g = NormalFormGame.from_arrays(A, A)
    text = write_nfg(g)  # default: outcome version
    assert text.count('{ ""') == 1  # one distinct non-zero payoff vector
    assert text.strip().splitlines()[-1] == "0 1 1 0"  # zeros are the null outcome
    assert read_nfg(text) == g


def test_write_default_is_outcome_version():
    g = random_game(2, 2, seed=0)
    assert write_nfg(g) == write_nfg(g, version="outcome")
    assert write_nfg(g) != write_nfg(g, version="payoff")


def test_write_to_path_and_read_paths(tmp_path):
    g = random_game(3, 2, 2, seed=4)
    path = tmp_path / "sub" / "g.nfg"
    assert write_nfg(g, path) is None
    assert read_nfg(path) == g                 # os.PathLike
    assert read_nfg(str(path)) == g            # str path
    assert read_nfg(path.read_bytes()) == g    # bytes: the content
    assert [p.name for p in path.parent.iterdir()] == ["g.nfg"]  # atomic write left no temp file
    write_nfg(g, str(path), version="payoff")
    assert read_nfg(path) == g


def test_file_named_like_nfg_is_a_path(tmp_path):
    g = random_game(2, 2, seed=1)
    path = tmp_path / "NFG_game.nfg"
    write_nfg(g, path)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert read_nfg("NFG_game.nfg") == g
    finally:
        os.chdir(cwd)


def test_latin1_bytes_fallback():
    text = 'NFG 1 R "caf\xe9" { "a" } { 1 } 1'
    assert read_nfg(text.encode("latin-1")).title == "caf\xe9"
    assert read_nfg(text.encode("utf-8")).title == "caf\xe9"


def test_write_validation():
    g = random_game(2, 2, seed=0)
    with pytest.raises(InvalidInputError, match=r"write_nfg\(\).*version"):
        write_nfg(g, version="binary")
    with pytest.raises(InvalidInputError, match=r"write_nfg\(\).*NormalFormGame"):
        write_nfg([[1, 2], [3, 4]])
    bad = NormalFormGame.from_arrays(np.zeros((1, 1)), np.zeros((1, 1)), players=["a\\", "b"])
    with pytest.raises(InvalidInputError, match=r"write_nfg\(\).*backslash"):
        write_nfg(bad)


@pytest.mark.parametrize("value, text", [
    (3.0, "3"), (-12.0, "-12"), (0.0, "0"), (-0.0, "0"), (0.1, "0.1"), (-2.5e-7, "-2.5e-07"),
    (1e20, "1e20"), (-1.5e300, "-1.5e300"), (9999999999999998.0, "9999999999999998"),
    (0.3333333333333333, "0.3333333333333333"), (2.0**-1074, "5e-324"),
])
def test_format_number(value, text):
    assert format_number(value) == text
    assert float(text) == value
    assert _format_array(np.array([value, value])).tolist() == [text, text]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_vectorised_formatting_equals_format_number(values):
    assert _format_array(np.array(values)).tolist() == [format_number(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_number_exact_and_gambit_lexable(v):
    text = format_number(v)
    assert float(text) == v
    assert "+" not in text and "inf" not in text and "nan" not in text  # Gambit rejects '+' signs
    if v == int(v) and abs(v) < 1e16:
        assert re.fullmatch(r"-?\d+", text)


def test_format_number_rejects_non_finite():
    with pytest.raises(InvalidInputError):
        format_number(math.nan)


# ----------------------------------------------------------------------------- malformed files

def _loc(message):
    m = re.search(r"line (\d+), column (\d+)", message)
    assert m, message
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("text, line, column, what", [
    # missing '}' after the player names: the '{' of the strategies is where a name was expected
    ('NFG 1 R "x" { "a" "b"\n{ 2 2 }\n1 2 3 4 5 6 7 8', 2, 1, "player name or '}'"),
    # one payoff short
    ('NFG 1 R "x" { "a" "b" } { 2 2 }\n1 2 3 4\n5 6 7', 3, 6, "payoff of player 2 in contingency 4"),
    # one payoff too many
    ('NFG 1 R "x" { "a" "b" } { 2 2 }\n1 2 3 4 5 6 7 8 9', 2, 17, "end of file"),
    # a bad number
    ('NFG 1 R "x" { "a" "b" } { 2 2 }\n1 2 3 4\n5 6.5.1 7 8', 3, 3, "bad number '6.5.1'"),
    ('NFG 1 R "x" { "a" } { 2 }\n1 inf', 2, 3, "expected the payoff of player 1 in contingency 2"),
    ('NFG 1 R "x" { "a" } { 2 }\n1 1e999', 2, 3, "out of the float64 range"),
    ('NFG 1 R "x" { "a" } { 2 }\n1 3/0', 2, 3, "zero denominator"),
    ('NFG 1 R "x" { "a" } { 2 }\n1 3/-4', 2, 3, "bad number"),
    # an unterminated string (the comment)
    ('NFG 1 R "x" { "a" } { 2 }\n"no end\n1 2', 2, 1, "unterminated string"),
    # a wrong outcome index
    ('NFG 1 R "x" { "a" "b" } { 1 2 }\n{ { "" 1 2 } }\n1 2', 3, 3, "outcome number of contingency 2 of 2 in [0, 1]"),
    ('NFG 1 R "x" { "a" "b" } { 1 2 }\n{ { "" 1 2 } }\n1 -1', 3, 3, "in [0, 1], got -1"),
    ('NFG 1 R "x" { "a" "b" } { 1 2 }\n{ { "" 1 2 } }\n1 1.0', 3, 3, "outcome number"),
    # an outcome with too few payoffs
    ('NFG 1 R "x" { "a" "b" } { 1 2 }\n{ { "" 1 } }\n1 1', 2, 10, "payoff of player 2 in outcome 1"),
    # a missing outcome label
    ('NFG 1 R "x" { "a" "b" } { 1 2 }\n{ { 1 2 } }\n1 1', 2, 5, "label of outcome 1"),
    # header problems
    ('NFX 1 R "x" { "a" } { 1 }\n1', 1, 1, "'NFG'"),  # a newline makes it text, not a path
    ('NFG 2 R "x" { "a" } { 1 } 1', 1, 5, "version number 1"),
    ('NFG 1 Q "x" { "a" } { 1 } 1', 1, 7, "'D' or 'R'"),
    ('NFG 1 R x { "a" } { 1 } 1', 1, 9, "title"),
    ('NFG 1 R "x" { } { } 1', 1, 15, "at least one player"),
    ('NFG 1 R "x" { "a" "b" } { 2 0 } 1', 1, 29, "number of strategies of player 2 >= 1"),
    ('NFG 1 R "x" { "a" "b" } { { "u" } { } } 1', 1, 35, "player 2 needs at least one strategy"),
    ('NFG 1 R "x" { "a" "b" } { { "u" } } 1', 1, 35, "strategy labels of player 2"),
    ('NFG 1 R "x" { "a" "b" } { 2 2 2 } 1', 1, 31, "'}' closing the strategies"),
    ('NFG 1 R "x" { "a" } { 2 }', 1, 26, "the payoffs"),
    ('NFG 1 R "x" { "a" } { 2 } "c" "d"', 1, 31, "the payoffs"),
    ('', 1, 1, "'NFG'"),
])
def test_malformed_files_say_where(text, line, column, what):
    with pytest.raises(InvalidInputError) as info:
        read_nfg(text)
    msg = str(info.value)
    assert msg.startswith("read_nfg()")
    assert (line, column) == _loc(msg), msg
    assert what in msg


def test_error_location_in_large_file_and_file_name(tmp_path):
    g = random_game(20, 20, seed=2)
    lines = write_nfg(g, version="payoff").splitlines()
    # corrupt the 2nd payoff of contingency 150 (line 5 + 150)
    row = 5 + 150 - 1
    first, second = lines[row].split()
    lines[row] = f"{first} 1.2.3"
    path = tmp_path / "big.nfg"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError) as info:
        read_nfg(path)
    msg = str(info.value)
    assert str(path) in msg and "bad number '1.2.3'" in msg
    assert _loc(msg) == (row + 1, len(first) + 2)
    # outcome version: an index out of range deep in the index list
    lines = write_nfg(g, version="outcome").splitlines()
    lines[-1] = lines[-1].rsplit(" ", 1)[0] + " 999"
    with pytest.raises(InvalidInputError, match=r"in \[0, 400\], got 999") as info:
        read_nfg("\n".join(lines))
    assert _loc(str(info.value))[0] == len(lines)


def test_missing_file_and_wrong_types(tmp_path):
    with pytest.raises(InvalidInputError, match=r"read_nfg\(\).*cannot read"):
        read_nfg(tmp_path / "nope.nfg")
    with pytest.raises(InvalidInputError, match=r"read_nfg\(\).*cannot read"):
        read_nfg(str(tmp_path))  # a directory
    with pytest.raises(InvalidInputError, match=r"read_nfg\(\).*cannot read"):
        read_nfg("bad\0name.nfg")
    with pytest.raises(InvalidInputError, match=r"read_nfg\(\).*path or the .nfg text"):
        read_nfg(12)


# ----------------------------------------------------------------------------- hypothesis

_label = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6).filter(lambda s: not s.endswith("\\"))
_payoff = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**6, 10**6).map(float),
                    st.fractions(max_denominator=50).map(float))


@st.composite
def games(draw, max_players=3, max_strategies=3, labels=_label, payoffs=_payoff):
    n_players = draw(st.integers(1, max_players))
    shape = tuple(draw(st.lists(st.integers(1, max_strategies), min_size=n_players, max_size=n_players)))
    size = int(np.prod(shape))
    arrays = [np.array(draw(st.lists(payoffs, min_size=size, max_size=size))).reshape(shape)
              for _ in range(n_players)]
    players = draw(st.lists(labels, min_size=n_players, max_size=n_players))
    strategies = [draw(st.lists(labels, min_size=n, max_size=n)) for n in shape]
    return NormalFormGame.from_arrays(*arrays, players=players, strategies=strategies, title=draw(labels),
                                      comment=draw(labels))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games(), st.sampled_from(["payoff", "outcome"]))
def test_random_games_round_trip_exactly(g, version):
    h = read_nfg(write_nfg(g, version=version))
    assert h == g  # payoffs (bit for bit, -0.0 == 0.0), labels, players, title, comment
    assert h.comment == g.comment


# two larger files, so that mutations also hit the bulk (numpy) paths for >= 64 numbers
_BIG = random_game(8, 8, seed=5, integer=True, low=-3, high=3)
_valid = [PD_PAYOFF, PD_OUTCOME, THREE_PAYOFF, THREE_OUTCOME, write_nfg(_BIG, version="payoff"),
          write_nfg(_BIG, version="outcome")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_valid), st.data())
def test_mutated_files_parse_or_raise_invalid_input(text, data):
    """Delete, insert or replace characters of valid files: a game or InvalidInputError, nothing else."""
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        char = data.draw(st.sampled_from(list('{}",\\/.-+e0123456789 \n') + ["NFG", "x"]))
        if op == "delete":
            text = text[:pos] + text[pos + 1:]
        elif op == "insert":
            text = text[:pos] + char + text[pos:]
        else:
            text = text[:pos] + char + text[pos + 1:]
    try:
        g = read_nfg(text)
    except InvalidInputError as err:
        assert str(err).startswith("read_nfg()")
        return
    assert isinstance(g, NormalFormGame)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_raises_invalid_input(text):
    for candidate in (text, "NFG " + text, "NFG 1 R " + text):
        try:
            g = read_nfg(candidate)
        except InvalidInputError:
            continue
        assert isinstance(g, NormalFormGame)  # pragma: no cover - valid by chance


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_invalid_input(data):
    for candidate in (data, b"NFG 1 R " + data):
        try:
            read_nfg(candidate)
        except InvalidInputError:
            pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(['{', '}', '"a"', '""', "1", "-2/3", "0.5", ",", "NFG", "R", "D", "1e3", "x"]),
                max_size=40))
def test_token_soup_raises_invalid_input_or_parses(tokens):
    text = "NFG 1 R " + " ".join(tokens)
    try:
        read_nfg(text)
    except InvalidInputError as err:
        assert re.search(r"line \d+, column \d+", str(err))


# ----------------------------------------------------------------------------- pygambit

try:
    import pygambit as gbt
except ImportError:  # pragma: no cover - pygambit is in the [test] extra
    gbt = None

needs_gambit = pytest.mark.skipif(gbt is None, reason="pygambit is not installed")


def _gambit_arrays(gg):
    """pygambit's payoff tables as exact Fractions, contingency by contingency.

    (pygambit's own ``to_arrays()`` fails on contingencies with the null outcome.)
    """
    players = list(gg.players)
    shape = tuple(len(p.strategies) for p in players)
    out = [np.empty(shape, dtype=object) for _ in players]
    for idx in np.ndindex(*shape):
        outcome = gg[idx]
        for p, pl in enumerate(players):
            out[p][idx] = Fraction(0) if outcome is None else Fraction(outcome[pl])
    return out


def _assert_exact(game, gg):
    """pygambit holds exactly the decimal we wrote, and that decimal is exactly our float."""
    ours = game.payoffs
    theirs = _gambit_arrays(gg)
    assert len(theirs) == len(ours)
    for a, b in zip(ours, theirs):
        assert b.shape == a.shape
        for x, y in zip(a.ravel(), b.ravel()):
            assert y == Fraction(format_number(x))  # the exact decimal in the file
            assert float(y) == x                   # which is exactly our float


def _mutate(text, data):
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        char = data.draw(st.sampled_from(list('{}",/-0123456789 \n')))
        if op == "delete":
            text = text[:pos] + text[pos + 1:]
        elif op == "insert":
            text = text[:pos] + char + text[pos:]
        else:
            text = text[:pos] + char + text[pos + 1:]
    return text


@needs_gambit
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_valid), st.data())
def test_mutated_files_agree_with_gambit(text, data):
    """Differential fuzz: when both Gambit and we accept a mutated file, the payoffs are identical.

    (Gambit is laxer in places, e.g. it reads ``1.5.3`` as two numbers and ``1.0`` as outcome 1,
    so a file only Gambit accepts is not a failure; we never accept one Gambit rejects except
    for the documented extras: '+' signs, '.5e1', labels Gambit 16 refuses.)
    """
    text = _mutate(text, data)
    try:
        ours = read_nfg(text)
    except InvalidInputError:
        return
    try:
        theirs = gbt.read_nfg(io.StringIO(text))
    except ValueError as err:
        if "Invalid label" in str(err):
            return  # Gambit 16 restricts labels (ASCII, no leading/trailing/double spaces); we do not
        pytest.fail(f"we accept a file Gambit rejects ({err}):\n{text}")
    arrays = _gambit_arrays(theirs)
    assert [a.shape for a in arrays] == [a.shape for a in ours.payoffs]
    for a, b in zip(ours.payoffs, arrays):
        assert [float(y) for y in b.ravel()] == a.ravel().tolist()


def _gambit_read(text, tmp_path=None):
    if tmp_path is None:
        return gbt.read_nfg(io.StringIO(text))
    path = tmp_path / "g.nfg"
    path.write_text(text)
    return gbt.read_nfg(str(path))


@needs_gambit
@pytest.mark.parametrize("version", ["payoff", "outcome"])
@pytest.mark.parametrize("shape", [(2, 2), (3, 4), (2, 3, 2), (1, 5), (2, 2, 2, 2)])
def test_our_file_loads_in_pygambit(tmp_path, version, shape):
    g = random_game(*shape, seed=sum(shape), low=-5, high=5)
    g = NormalFormGame(g.payoffs, players=[f"P{i}" for i in range(len(shape))],
                       strategies=[[f"s{p}{i}" for i in range(n)] for p, n in enumerate(shape)],
                       title='A "quoted" title', comment="some comment")
    path = tmp_path / "ours.nfg"
    write_nfg(g, path, version=version)
    gg = gbt.read_nfg(str(path))
    _assert_exact(g, gg)
    assert [p.label for p in gg.players] == list(g.players)
    assert [[s.label for s in p.strategies] for p in gg.players] == [list(s) for s in g.strategies]
    assert gg.title == g.title and gg.description == g.comment


@needs_gambit
def test_our_rationals_load_in_pygambit_exactly():
    g = read_nfg('NFG 1 R "r" { "a" "b" } { 2 2 }\n3/4 -1/3 1/8 2 -7/2 1/1024 5 0')
    gg = gbt.read_nfg(io.StringIO(write_nfg(g)))
    # dyadic rationals are floats exactly: pygambit holds the same Fraction
    theirs = _gambit_arrays(gg)
    assert theirs[0][0, 0] == Fraction(3, 4) and theirs[0][0, 1] == Fraction(-7, 2)
    assert theirs[1][1, 1] == 0 and theirs[1][0, 1] == Fraction(1, 1024)
    _assert_exact(g, gg)


@needs_gambit
@pytest.mark.parametrize("version", ["payoff", "outcome"])
def test_pygambit_file_loads_in_ours(version):
    rng = np.random.default_rng(3)
    shape = (3, 2, 2)
    gg = gbt.Game.new_table(list(shape), title="from gambit")
    gg.description = "written by pygambit"
    values = {}
    players = list(gg.players)
    for p, player in enumerate(players):
        player.label = f"player {p}"
        for s, strat in enumerate(player.strategies):
            strat.label = f"p{p}s{s}"
    for idx in np.ndindex(*shape):
        outcome = gg[idx]
        for p, player in enumerate(players):
            v = [gbt.Rational(int(rng.integers(-9, 10)), int(rng.integers(1, 7))),
                 gbt.Decimal(f"{rng.uniform(-3, 3):.4f}"), int(rng.integers(-100, 100))][(p + sum(idx)) % 3]
            outcome[player] = v
            values[idx, p] = Fraction(v)
    text = gg.to_nfg()
    if version == "payoff":
        # pygambit writes the outcome version; write the same payoffs in the payoff version,
        # spelled as pygambit spells them (3/4, 0.1234, 12), below pygambit's own header
        header = text.split("\n\n{\n")[0]
        body = []
        for idx in np.ndindex(*shape[::-1]):
            idx = idx[::-1]  # player 1 fastest
            body.append(" ".join(str(gg[idx][pl]) for pl in players))
        text = header + "\n\n" + "\n".join(body) + "\n"
        assert "/" in text
    g = read_nfg(text)
    assert g.players == tuple(f"player {p}" for p in range(3))
    assert g.strategies == tuple(tuple(f"p{p}s{s}" for s in range(n)) for p, n in enumerate(shape))
    assert g.title == "from gambit"
    assert g.comment == "written by pygambit"
    for (idx, p), v in values.items():
        assert g.payoffs[p][idx] == float(v)
    assert from_pygambit(gg) == g


@needs_gambit
def test_to_and_from_pygambit():
    g = NormalFormGame(random_game(3, 2, 2, seed=9).payoffs, players=["x", "y", "z"], title="t", comment="c")
    gg = to_pygambit(g)
    assert isinstance(gg, gbt.Game)
    _assert_exact(g, gg)
    assert from_pygambit(gg) == g
    h = from_pygambit(gbt.Game.from_arrays([[1, 2], [3, 4]], [[Fraction(1, 3), 0], [0, 0]], title="fa"))
    np.testing.assert_array_equal(h.payoffs[0], [[1, 2], [3, 4]])
    assert h.payoffs[1][0, 0] == float(Fraction(1, 3)) and h.title == "fa"


@needs_gambit
def test_pygambit_renames_empty_and_repeated_labels():
    """Documented difference: Gambit 16 normalises labels; payoffs stay identical."""
    g = NormalFormGame.from_arrays(np.ones((2, 1)), np.zeros((2, 1)), players=["", ""],
                                   strategies=[["a", "a"], [""]])
    gg = to_pygambit(g)
    assert [p.label for p in gg.players] == ["_1", "_2"]
    assert [s.label for s in list(gg.players)[0].strategies] == ["a_1", "a_2"]
    _assert_exact(g, gg)


@needs_gambit
@needs_gambit
def test_from_pygambit_null_outcomes_are_zero():
    gg = gbt.read_nfg(io.StringIO('NFG 1 R "x" { "a" "b" } { 1 3 }\n{ { "o" 1/3, -2 } }\n0 1 0'))
    g = from_pygambit(gg)
    np.testing.assert_array_equal(g.payoffs[0], [[0, float(Fraction(1, 3)), 0]])
    np.testing.assert_array_equal(g.payoffs[1], [[0, -2, 0]])
    assert read_nfg(gg.to_nfg()) == g


@needs_gambit
def test_from_pygambit_rejects_trees():
    tree = gbt.Game.new_tree(players=["a", "b"])
    with pytest.raises(UnsupportedProblemError, match=r"from_pygambit\(\).*extensive"):
        from_pygambit(tree)


def test_from_pygambit_validation():
    with pytest.raises(InvalidInputError, match=r"from_pygambit\(\).*pygambit.Game"):
        from_pygambit([[1, 2]])
    with pytest.raises(InvalidInputError, match=r"to_pygambit\(\).*NormalFormGame"):
        to_pygambit("game")


def test_clear_error_without_pygambit(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygambit", None)
    with pytest.raises(ImportError, match=r"to_pygambit\(\): pygambit is not installed"):
        to_pygambit(random_game(2, 2, seed=0))


@needs_gambit
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games(max_players=3, max_strategies=3,
             labels=st.text("abcxyz019_-", min_size=1, max_size=5)), st.sampled_from(["payoff", "outcome"]))
def test_random_games_round_trip_through_pygambit(g, version):
    """ours -> file -> pygambit -> file -> ours: identical payoffs, and exact decimals in Gambit."""
    for labels in [g.players] + [list(s) for s in g.strategies]:
        # Gambit 16 renames repeated labels and rejects labels with non-ASCII characters or
        # leading, trailing or doubled spaces
        assume(len(set(labels)) == len(labels))
    gg = gbt.read_nfg(io.StringIO(write_nfg(g, version=version)))
    _assert_exact(g, gg)
    back = read_nfg(gg.to_nfg())
    assert back == g


def test_outcome_with_missing_separator_is_not_split():
    """Regression: the fast outcome scanner once split '12121213' into two payoffs."""
    text = 'NFG 1 R "t" { "a" "b" "c" } { 1 1 1 }\n{ { "o" 1211 12121213 } }\n1\n'
    with pytest.raises(InvalidInputError, match="payoff of player 3 in outcome 1") as info:
        read_nfg(text)
    assert _loc(str(info.value)) == (2, 23)


@pytest.mark.parametrize("text, match", [
    ('NFG 1 R "t" { "a" } { 99999999999 }\n1 2', "more contingencies"),
    ('NFG 1 R "t" { "a" "b" } { 30000 30000 }\n1 2', "more contingencies"),
    ('NFG 1 R "t" { "a" "b" } { 6 6 }\n1 2 3', "payoffs of 36 contingencies, but only 5 characters"),
])
def test_huge_declared_games_fail_fast(text, match):
    """A short file declaring a huge game is refused before anything big is allocated."""
    with pytest.raises(InvalidInputError, match=match):
        read_nfg(text)


# ----------------------------------------------------------------------------- limits (issue 16 item 3)
def _players(n, strategies="counts"):
    names = " ".join(f'"p{i}"' for i in range(n))
    strat = " ".join(["1"] * n) if strategies == "counts" else " ".join(['{ "a" }'] * n)
    return f'NFG 1 R "many" {{ {names} }} {{ {strat} }}\n' + " ".join(["0"] * n)


@pytest.mark.parametrize("strategies", ["counts", "labels"])
def test_too_many_players_are_refused_with_line_info(strategies):
    """A 65-player file once failed inside numpy (ValueError: maximum supported dimension)."""
    with pytest.raises(InvalidInputError, match=r"read_nfg\(\): line 1, column \d+: more than max_players=32 players "
                                                r"\(games.nfg.MAX_PLAYERS; pass max_players= to read it, up to 64\)"):
        read_nfg(_players(65, strategies))
    with pytest.raises(InvalidInputError, match=r"more than max_players=64 players"):
        read_nfg(_players(65, strategies), max_players=64)
    g = read_nfg(_players(64, strategies), max_players=64)
    assert g.n_players == 64 and g.shape == (1,) * 64
    assert read_nfg(_players(32, strategies)).n_players == 32
    with pytest.raises(InvalidInputError, match=r"read_nfg\(\): max_players must be <= 64, got 65"):
        read_nfg(_players(2), max_players=65)


@pytest.mark.parametrize("text, kwargs, match", [
    # labels: the product of the label counts is checked per player (no characters-left bound applies yet)
    ('NFG 1 R "t" { "a" "b" } { { "1" "2" "3" } { "1" "2" "3" "4" } }\n' + "0 " * 24, {"max_contingencies": 11},
     r"line 1, column 43: the strategies of players 1..2 make 12 contingencies, above max_contingencies=11"),
    ('NFG 1 R "t" { "a" "b" } { 3 4 }\n' + "0 " * 24, {"max_contingencies": 11},
     r"line 1, column 29: the strategies of players 1..2 make 12 contingencies, above max_contingencies=11"),
    ('NFG 1 R "t" { "a" "b" } { 3 4 }\n' + "0 " * 24, {"max_contingencies": 0}, r"max_contingencies must be >= 1"),
])
def test_contingency_limit(text, kwargs, match):
    with pytest.raises(InvalidInputError, match=r"read_nfg\(\): " + match):
        read_nfg(text, **kwargs)


def test_contingency_limit_default_and_override():
    from games import nfg

    assert (nfg.MAX_PLAYERS, nfg.MAX_CONTINGENCIES) == (32, 10_000_000)
    text = 'NFG 1 R "t" { "a" "b" } { 3 4 }\n' + "1 " * 24
    assert read_nfg(text, max_contingencies=12).shape == (3, 4)
    # a file long enough to pass the characters-left check still meets the contingency limit
    big = 'NFG 1 R "t" { "a" "b" } { 5000 5000 }\n' + " " * 25_000_001
    with pytest.raises(InvalidInputError, match=r"make 25000000 contingencies, above max_contingencies=10000000"):
        read_nfg(big)


@pytest.mark.parametrize("body, match", [
    ("{ " + "9" * 5000 + " 1 }", r"expected the number of strategies of player 1 >= 1, got "
                                 r"'9{30,}\.\.\.' \(5000 characters\)"),
    ("{ 1 1 } " + "9" * 5000 + "/3 0", r"rational '9+\.\.\.' has too many digits \(5002 characters\)"),
    ("{ 1 1 } 1/" + "9" * 5000 + " 0", r"rational '1/9+\.\.\.' has too many digits"),
    ("{ 1 1 } { { \"\" 1 2 } } " + "9" * 5000, r"expected the outcome number of contingency 1 of 1 in \[0, 1\], got "
                                                r"'9+\.\.\.' \(5000 characters\)"),
    ("{ 1 1 } " + "9" * 400 + " 0", r"number '9+\.\.\.' is out of the float64 range"),
    ("{ 1 1 } { { \"\" " + "9" * 400 + " 2 } } 1", r"number '9+\.\.\.' is out of the float64 range"),
])
def test_huge_numbers_are_invalid_input_with_line_info_and_short_messages(body, match):
    """Integers beyond Python's 4300-digit conversion limit once escaped as ValueError."""
    with pytest.raises(InvalidInputError, match=r"read_nfg\(\): line \d+, column \d+: " + match) as info:
        read_nfg('NFG 1 R "t" { "a" "b" } ' + body)
    assert len(str(info.value)) < 300


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(['{', '}', '"a"', '""', "1", "0", "-2/3", "0.5", ",", "1e400", "9" * 5000,
                                 "1/" + "9" * 5000, "99999999999999999999", "\udcff", "\x00"]), max_size=40),
       st.integers(1, 70))
def test_oversized_token_soup_raises_invalid_input_or_parses(tokens, n_players):
    names = " ".join(f'"p{i}"' for i in range(n_players))
    text = f'NFG 1 R "t" {{ {names} }} ' + " ".join(tokens)
    try:
        read_nfg(text)
    except InvalidInputError as err:
        assert re.search(r"line \d+, column \d+", str(err))


# ---------------------------------------------------------------------------- durability
def test_write_nfg_fsyncs_only_when_asked(tmp_path, monkeypatch):
    import games.nfg as nfg_mod

    calls = []
    real = nfg_mod.atomic_write_text

    def spy(path, text, **kwargs):
        calls.append(kwargs.get("fsync", True))
        return real(path, text, **kwargs)

    monkeypatch.setattr(nfg_mod, "atomic_write_text", spy)
    g = random_game(2, 3, seed=0)
    write_nfg(g, tmp_path / "a.nfg")
    write_nfg(g, tmp_path / "b.nfg", durable=True)
    assert calls == [False, True]
    assert read_nfg(tmp_path / "a.nfg") == g == read_nfg(tmp_path / "b.nfg")
    with pytest.raises(InvalidInputError, match="durable"):
        write_nfg(g, tmp_path / "c.nfg", durable="yes")


@pytest.mark.parametrize("limit", [0, 10**6])
def test_outcome_numbering_is_the_same_for_small_and_large_games(limit, monkeypatch):
    import games.nfg as nfg_mod

    games = [random_game(3, 3, seed=1, integer=True, low=-1, high=1),
             NormalFormGame.from_arrays([[0.0, -0.0], [0, 1]], [[-0.0, 0], [0, 0]]),
             NormalFormGame.from_arrays(np.zeros((2, 3)), np.zeros((2, 3))), random_game(2, 3, 2, seed=4)]
    texts = [write_nfg(g) for g in games]
    monkeypatch.setattr(nfg_mod, "_DICT_DEDUPE", limit)
    assert [write_nfg(g) for g in games] == texts
    assert all(read_nfg(t) == g for t, g in zip(texts, games))
