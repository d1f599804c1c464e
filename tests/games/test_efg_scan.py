"""The compiled scanner of small ``.efg`` files (``games.efg_scan``, read_efg's third path) against
the token reader: on every file it takes, the same game (notes included); every file it does not
take (errors, escapes, non-ASCII text, numbers written differently at a repeat) goes to the other
readers, which decide."""

from __future__ import annotations

import numpy as np
import pytest

import games.efg_io as efg_io
from engine.errors import InvalidInputError
from games.efg import kuhn_poker, random_tree
from games.efg_io import _parse_fast, _parse_scan, read_efg, write_efg

from tests.games.test_efg_read_fast import _same, _slow, _texts


@pytest.fixture(autouse=True)
def scanner(monkeypatch):
    import games.efg_scan

    monkeypatch.setattr(efg_io, "_SCAN", games.efg_scan.scan)


def _scan(text: str, max_nodes: int = 10 ** 6, max_players: int = 64):
    return _parse_scan(text, max_nodes, max_players) if text.isascii() else None


@pytest.mark.parametrize("text", list(_texts()))
def test_scanner_gives_the_token_readers_game(text: str) -> None:
    got = _scan(text)
    if '\\"' in text:  # escapes are the other readers'
        assert got is None
    else:
        assert got is not None
        _same(got, _slow(text))


def test_mutated_files_agree_with_the_token_reader() -> None:
    rng = np.random.default_rng(1)
    base = [t for t in _texts() if "\\" not in t]
    pieces = ["", " ", "0", "9", "-", '"', "{", "}", ",", "p", "t", "c", "\\", "\n", "1/0", "1e999", "3", "\t",
              '""', "1/2", "00", "\x1c"]
    taken = 0
    for k in range(3000):
        text = base[k % len(base)]
        for _ in range(1 + k % 3):  # one to three mutations
            i = int(rng.integers(len(text)))
            j = min(len(text), i + int(rng.integers(0, 3)))
            text = text[:i] + pieces[int(rng.integers(len(pieces)))] + text[j:]
        got = _scan(text)
        if got is not None:
            _same(got, _slow(text))
            taken += 1
    assert taken > 400  # most mutations keep a readable file


def test_repeats_written_alike_are_taken_others_go_to_the_other_readers() -> None:
    # the older layout: an information set's actions and an outcome's payoffs at first use only
    legacy = 'EFG 2 R "" { "A" "B" }\np "" 1 1 "" { "a" "b" } 0\nt "" 1 "" { 1 2 }\np "" 1 1 0\nt "" 1\nt "" 1\n'
    _same(_scan(legacy), _slow(legacy))
    again = 'EFG 2 R "" { "A" }\np "" 1 1 "I" { "a" "b" } 0\nt "" 1 "o" { 1 }\np "" 1 1 "I" { "a" "b" } 0\n' \
            't "" 1 "o" { 1 }\nt "" 2 "" { 0 }\n'
    _same(_scan(again), _slow(again))
    # the same payoff written another way: the token reader takes it, the scanner leaves it
    other = again.replace('t "" 1 "o" { 1 }\nt "" 2', 't "" 1 "o" { 1/1 }\nt "" 2')
    assert _scan(other) is None
    _same(_parse_fast(other, 10 ** 6, 64), _slow(other))
    # a label given at a repeat only: the token reader refuses it
    unlabelled = again.replace('p "" 1 1 "I" { "a" "b" } 0\nt "" 1 "o" { 1 }\nt', 'p "" 1 1 "" { "a" "b" } 0\n'
                               't "" 1 "o" { 1 }\nt', 1)
    assert _slow(unlabelled) is None and _scan(unlabelled) is None


def test_limits_are_the_token_readers() -> None:
    text = write_efg(kuhn_poker())
    assert _scan(text, 54) is None and _slow(text, 54) is None
    _same(_scan(text, 55), _slow(text, 55))
    assert _scan(text, 10 ** 6, 1) is None
    two = write_efg(random_tree(3, seed=0))
    assert _scan(two, 10 ** 6, 2) is not None and _scan(two, 10 ** 6, 1) is None
    # limits beyond int64 (any positive int is a valid limit)
    _same(_scan(text, 10 ** 30, 10 ** 30), _slow(text))
    big = text.replace('p "" 1 1 ', 'p "" 1 99999999999999999999 ', 1)  # > int64: the other readers
    assert _scan(big, 10 ** 30) is None


def test_chance_probabilities_are_checked() -> None:
    text = 'EFG 2 R "" { "A" }\nc "" 1 "" { "x" 1/3 "y" 1/3 } 0\nt "" 1 "" { 1 }\nt "" 2 "" { 2 }\n'
    assert _scan(text) is None
    with pytest.raises(InvalidInputError, match="sum to exactly 1"):
        read_efg(text)


def test_read_efg_switches_to_the_scanner_after_some_reads(monkeypatch) -> None:
    monkeypatch.setattr(efg_io, "_SCAN", None)
    monkeypatch.setattr(efg_io, "_small_reads", 0)
    text = write_efg(random_tree(3, zero_sum=True, seed=2))
    first = read_efg(text)
    assert efg_io._SCAN is None  # one read never loads the compiled code
    games = [read_efg(text) for _ in range(efg_io.SCAN_AFTER_READS)]
    assert efg_io._SCAN is not None
    for g in games:
        assert write_efg(g) == write_efg(first) == text
        assert g.outcome_payoffs == first.outcome_payoffs and g.notes == first.notes


def test_hostile_ascii_is_taken_only_when_the_token_reader_agrees() -> None:
    # the scanner is compiled code without bounds checks: junk, truncations and random ASCII must
    # come back as "not taken" (or the token reader's game), never as a crash
    rng = np.random.default_rng(2)
    base = [t for t in _texts() if "\\" not in t]
    alphabet = np.frombuffer(b' \t\n{}",-/.0123456789pctEFGR2\x0b\x0c\r\x00\x7f', np.uint8)
    for k in range(1500):
        text = base[k % len(base)]
        kind = k % 3
        if kind == 0:  # truncated
            text = text[: int(rng.integers(len(text) + 1))]
        elif kind == 1:  # junk inserted
            i = int(rng.integers(len(text) + 1))
            junk = bytes(rng.choice(alphabet, size=int(rng.integers(1, 30)))).decode("ascii")
            text = text[:i] + junk + text[i:]
        else:  # random text after a valid header
            text = 'EFG 2 R "" { "A" "B" }\n' + bytes(rng.choice(alphabet, size=int(rng.integers(0, 200)))).decode()
        got = _scan(text)
        if got is not None:
            _same(got, _slow(text))


def test_files_pygambit_writes_are_taken() -> None:
    # the layout users' files come in: pygambit's own writer, 1-3 players, chance, information sets
    for seed in range(12):
        g = random_tree(2 + seed % 4, seed=seed, n_players=1 + seed % 3, group=1 + seed % 3)
        text = g.to_pygambit().to_efg()
        got = _scan(text)
        assert got is not None
        _same(got, _slow(text))
