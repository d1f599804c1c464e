"""The fast path of ``read_efg`` (one regular expression per node) against the token reader: on
every file the fast path takes, both give the same game, notes included; on the others (hostile
mutations, legacy layouts) the token reader decides."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from engine.errors import InvalidInputError
from games.efg import kuhn_poker, random_tree
from games.efg_io import _parse, _parse_fast, _Reader, read_efg, write_efg


def _slow(text: str, max_nodes: int = 10 ** 6):
    try:
        return _parse(_Reader(text, "<t>"), max_nodes, 64)
    except InvalidInputError:
        return None


def _values(parts) -> dict:
    """The parts as a dict, integer payoffs the fast path left as text (None) made Fractions."""
    d = dataclasses.asdict(parts)
    d["outcome_payoffs"] = [tuple(Fraction(int(t)) for t in texts) if pay is None else pay
                            for pay, texts in zip(d["outcome_payoffs"], d["outcome_texts"])]
    return d


def _same(fast, slow) -> None:
    assert slow is not None, "the fast path took a file the token reader refuses"
    assert _values(fast) == _values(slow)


def _texts():
    yield write_efg(kuhn_poker())
    for seed in range(12):
        yield write_efg(random_tree(2 + seed % 4, seed=seed, n_players=1 + seed % 3, group=1 + seed % 3))
    # numbers in every form, escaped quotes, labels that repeat, comments, no comment
    yield ('EFG 2 R "t \\"q\\"" { "A" "B" } "c"\n'
           'c "n" 1 "ch" { "x" 0.50 "y" 1/2 } 0\n'
           'p "n" 1 1 "I" { "l" "r" } 1 "o" { 6/4, -1e-2 }\n'
           't "" 2 "p" { 1 2 }\nt "" 3 "" { -3, 4, }\n'
           'p "n" 1 1 "I" { "l" "r" } 0\nt "" 2 "p" { 1 2 }\nt "" 1 "o" { 6/4, -1e-2 }\n')
    yield 'EFG 2 R "" { "A" }\np "" 1 1 "" { "a" } 0\nt "" 1 "" { 5 }\n'
    # strings glued to numbers and to each other, tabs, a trailing comma: the split-based blob readers
    yield ('EFG 2 R "" { "A" "B" }\n""\n\nc "" 1 "" {"x" 1/4"y"\t3/4} 0\np "" 1 1 "" {"l""r"} 0\n'
           't "" 1 "" { 1 2 }\nt "" 2 "" { 3, 4, }\np "" 2 1 "" { "u" "d" } 0\nt "" 3 "" { 5\t6 }\n'
           't "" 4 "" {7 8}\n')


@pytest.mark.parametrize("text", list(_texts()))
def test_fast_path_gives_the_token_readers_game(text: str) -> None:
    fast = _parse_fast(text, 10 ** 6, 64)
    assert fast is not None
    _same(fast, _slow(text))


def test_legacy_layout_taken_glued_tokens_go_to_the_token_reader() -> None:
    legacy = 'EFG 2 R "" { "A" "B" }\np "" 1 1 "" { "a" "b" } 0\nt "" 1 "" { 1 2 }\np "" 1 1 0\nt "" 1\nt "" 1\n'
    _same(_parse_fast(legacy, 10 ** 6, 64), _slow(legacy))  # actions and payoffs at first use only
    glued = 'EFG 2 R "" { "A" }\np "" 1 1 "" {"a"}0\nt "" 1 "" {5}\n'
    assert _slow(glued) is not None and _parse_fast(glued, 10 ** 6, 64) is None


def test_mutated_files_agree_with_the_token_reader() -> None:
    rng = np.random.default_rng(0)
    base = list(_texts())
    pieces = ["", " ", "0", "9", "-", '"', "{", "}", ",", "p", "t", "c", "\\", "\n", "1/0", "1e999", "\u00a0"]
    taken = 0
    for k in range(3000):
        text = base[k % len(base)]
        i = int(rng.integers(len(text)))
        j = min(len(text), i + int(rng.integers(0, 3)))
        mutated = text[:i] + pieces[int(rng.integers(len(pieces)))] + text[j:]
        fast = _parse_fast(mutated, 10 ** 6, 64)
        if fast is not None:
            _same(fast, _slow(mutated))
            taken += 1
    assert taken > 500  # most mutations keep the layout


def test_limits_are_the_token_readers() -> None:
    text = write_efg(kuhn_poker())
    assert _parse_fast(text, 54, 64) is None and _slow(text, 54) is None
    assert _parse_fast(text, 55, 64) is not None
    assert _parse_fast(text, 10 ** 6, 1) is None


@pytest.mark.parametrize("word", ["\u00b2", "\u0663", "1\u0663"])
def test_non_ascii_digits_are_refused_with_the_position(word: str) -> None:
    # str.isdigit admits them; int() then refuses "²" and reads "٣" as 3
    text = 'EFG 2 R "" { "A" "B" }\n""\n\nt "" 1 "o" { ' + word + ', 1 }\n'
    with pytest.raises(InvalidInputError, match="line 4, column 14"):
        read_efg(text)


def test_integer_payoffs_become_fractions_on_first_use() -> None:
    g = read_efg('EFG 2 R "" { "A" "B" }\n""\n\nc "" 1 "" { "x" 1/3 "y" 2/3 } 0\n'
                 't "" 1 "o" { -12345678901234567890123, 7 }\nt "" 2 "p" { 3/4, 0.5 }\n')
    assert g.outcome_payoffs == ((Fraction(-12345678901234567890123), Fraction(7)), (Fraction(3, 4), Fraction(1, 2)))
    assert g._leaf_int_payoffs() == (4, [(-4 * 12345678901234567890123, 28), (3, 2)])
    assert g.is_constant_sum() is False
    s = g._sequences()  # the largest payoff magnitude from the exact ints, as numpy finds it
    assert s["pay_absmax"] == float(np.abs(s["leaf_pay"]).max()) == 12345678901234567890123.0


def test_a_bad_payoff_after_many_outcomes_is_refused_at_once() -> None:
    # with the outcomes' texts joined, a backtracking form of the all-integer check tried 2**63
    # splits of the spaces before it failed (the test would not end)
    lines = ['EFG 2 R "" { "A" }', '""', "", 'c "" 1 "" { ' + " ".join(f'"x{k}" 1/64' for k in range(64)) + " } 0"]
    lines += [f't "" {k + 1} "" {{ {k} }}' for k in range(63)] + ['t "" 64 "" { 1/0 }']
    assert _parse_fast("\n".join(lines) + "\n", 10 ** 6, 64) is None
    with pytest.raises(InvalidInputError, match="line 68, column 14"):
        read_efg("\n".join(lines) + "\n")
