"""Tests for games.normal_form: validation, payoff contractions against brute force, seeding."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from games.normal_form import NormalFormGame, as_profile, random_game


# ----------------------------------------------------------------------------- brute force

def brute_strategy_payoffs(game: NormalFormGame, profile):
    """u[p][s] by summing over every contingency explicitly."""
    out = [np.zeros(n) for n in game.shape]
    for cont in itertools.product(*(range(n) for n in game.shape)):
        for p in range(game.n_players):
            prob = 1.0
            for q in range(game.n_players):
                if q != p:
                    prob *= profile[q][cont[q]]
            out[p][cont[p]] += prob * game.payoffs[p][cont]
    return out


def brute_max_regret(game: NormalFormGame, profile):
    worst = 0.0
    for p in range(game.n_players):
        best = -math.inf
        for s in range(game.shape[p]):
            pure = [np.eye(game.shape[p])[s] if q == p else profile[q] for q in range(game.n_players)]
            best = max(best, _expected(game, pure, p))
        worst = max(worst, best - _expected(game, profile, p))
    return worst


def _expected(game, profile, p):
    total = 0.0
    for cont in itertools.product(*(range(n) for n in game.shape)):
        prob = np.prod([profile[q][cont[q]] for q in range(game.n_players)])
        total += prob * game.payoffs[p][cont]
    return total


def _random_profile(rng, shape):
    return [rng.dirichlet(np.ones(n)) for n in shape]


# ----------------------------------------------------------------------------- construction

def test_from_arrays_defaults_and_readonly():
    g = NormalFormGame.from_arrays([[3, 0], [5, 1]], [[3, 5], [0, 1]], title="PD")
    assert g.shape == (2, 2) and g.n_players == 2 and g.n_contingencies == 4
    assert g.players == ("Player 1", "Player 2")
    assert g.strategies == (("1", "2"), ("1", "2"))
    assert g.title == "PD" and g.comment == ""
    assert g.payoffs[0].dtype == np.float64
    with pytest.raises(ValueError):
        g.payoffs[0][0, 0] = 7.0
    assert g.payoff_tensor().shape == (2, 2, 2)


def test_input_arrays_are_copied():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = NormalFormGame.from_arrays(a, -a)
    a[0, 0] = 99.0
    assert g.payoffs[0][0, 0] == 1.0


def test_labels_and_names_kept():
    g = NormalFormGame.from_arrays(np.zeros((2, 3)), np.zeros((2, 3)), players=["Row", "Col"],
                                   strategies=[["U", "D"], ["L", "C", "R"]], comment="c")
    assert g.players == ("Row", "Col")
    assert g.strategies == (("U", "D"), ("L", "C", "R"))
    assert g.comment == "c"


def test_equality_covers_every_field():
    a = np.arange(4.0).reshape(2, 2)
    g = NormalFormGame.from_arrays(a, a.T, title="t", comment="c")
    assert g == NormalFormGame.from_arrays(a.copy(), a.T.copy(), title="t", comment="c")
    assert g != NormalFormGame.from_arrays(a, a.T, title="t", comment="other")
    assert g != NormalFormGame.from_arrays(a, a.T, title="u", comment="c")
    assert g != NormalFormGame.from_arrays(a, a.T + 1, title="t", comment="c")
    assert g != NormalFormGame.from_arrays(a, a.T, title="t", comment="c", players=["x", "y"])


def test_zero_sum_and_constant_sum():
    A = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = NormalFormGame.zero_sum(A)
    assert g.is_zero_sum() and g.is_constant_sum()
    np.testing.assert_array_equal(g.payoffs[1], -A)
    h = NormalFormGame.from_arrays(A, 5 - A)
    assert h.is_constant_sum() and not h.is_zero_sum()
    assert not random_game(3, 3, seed=0).is_constant_sum()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_payoffs_rejected(bad):
    with pytest.raises(InvalidInputError, match=r"NormalFormGame\(\).*payoffs\[1\].*finite"):
        NormalFormGame.from_arrays([[1, 2], [3, 4]], [[1, 2], [3, bad]])


def test_ragged_rejected():
    with pytest.raises(InvalidInputError, match=r"NormalFormGame\(\).*ragged"):
        NormalFormGame.from_arrays([[1, 2], [3]], [[1, 2], [3, 4]])


def test_mismatched_shapes_rejected():
    with pytest.raises(InvalidInputError, match=r"payoffs\[1\] has shape \(3, 2\)"):
        NormalFormGame.from_arrays(np.zeros((2, 3)), np.zeros((3, 2)))


def test_wrong_dimension_rejected():
    with pytest.raises(InvalidInputError, match="2 players need 2-dimensional"):
        NormalFormGame.from_arrays(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))


def test_zero_strategies_rejected():
    with pytest.raises(InvalidInputError, match="at least one strategy"):
        NormalFormGame.from_arrays(np.zeros((0, 2)), np.zeros((0, 2)))


def test_no_players_rejected():
    with pytest.raises(InvalidInputError, match="non-empty"):
        NormalFormGame(())


def test_wrong_labels_rejected():
    with pytest.raises(InvalidInputError, match="player names"):
        NormalFormGame.from_arrays(np.zeros((2, 2)), np.zeros((2, 2)), players=["only one"])
    with pytest.raises(InvalidInputError, match="strategy labels"):
        NormalFormGame.from_arrays(np.zeros((2, 2)), np.zeros((2, 2)), strategies=[["a", "b"], ["c"]])
    with pytest.raises(InvalidInputError, match="players must be a sequence"):
        NormalFormGame.from_arrays(np.zeros((2, 2)), np.zeros((2, 2)), players="AB")
    with pytest.raises(InvalidInputError, match="strategies must hold one sequence"):
        NormalFormGame.from_arrays(np.zeros((2, 2)), np.zeros((2, 2)), strategies=["ab", "cd"])


def test_object_and_string_payoffs_rejected():
    with pytest.raises(InvalidInputError):
        NormalFormGame.from_arrays([["a", "b"], ["c", "d"]], np.zeros((2, 2)))
    with pytest.raises(InvalidInputError):
        NormalFormGame.from_arrays(np.array([[1, None], [2, 3]], dtype=object), np.zeros((2, 2)))


@pytest.mark.parametrize("payoff", [
    [[1 + 2j, 0], [0, 1]],                                   # Python complex
    np.array([[1 + 2j, 0], [0, 1]]),                         # complex128 array (numpy drops the imaginary part)
    np.array([[1, 0], [0, 1]], dtype=np.complex64),          # complex dtype with zero imaginary parts
    [[np.complex128(1 + 1j), 0.0], [0.0, 1.0]],              # numpy complex scalars in a list
    np.array([[1, 1j], [0, 1]], dtype=object),
], ids=["python", "complex128", "complex64", "numpy_scalars", "object"])
def test_complex_payoffs_rejected_not_truncated(payoff):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(InvalidInputError, match=r"NormalFormGame\(\)"):
            NormalFormGame.from_arrays(payoff, np.zeros((2, 2)))
        with pytest.raises(InvalidInputError, match="payoffs\\[1\\] must be real"):
            NormalFormGame.from_arrays(np.zeros((2, 2)), np.asarray(payoff, dtype=complex))
        with pytest.raises(InvalidInputError, match=r"zero_sum\(\): A must be real"):
            NormalFormGame.zero_sum(np.asarray(payoff, dtype=complex))
        game = NormalFormGame.from_arrays(np.eye(2), np.eye(2))
        with pytest.raises(InvalidInputError, match=r"profile\[0\] must be real"):
            game.max_regret([np.array([0.5, 0.5 + 0j]), [0.5, 0.5]])


# hypothesis: any nested list of numbers either builds a valid game or raises InvalidInputError
_scalars = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10), st.just("x"),
                     st.none(), st.complex_numbers(max_magnitude=10))
_nested = st.recursive(_scalars, lambda inner: st.lists(inner, min_size=0, max_size=3), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(_nested, min_size=0, max_size=3))
def test_arbitrary_input_is_game_or_invalid_input(arrays):
    try:
        g = NormalFormGame(tuple(arrays))
    except InvalidInputError:
        return
    assert g.n_players == len(arrays)
    assert all(np.all(np.isfinite(a)) and a.shape == g.shape for a in g.payoffs)
    assert all(n >= 1 for n in g.shape)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=3), st.integers(0, 2), st.sampled_from(
    [math.nan, math.inf, -math.inf, None]))
def test_bad_shapes_and_values_raise_invalid_input(shape, which, bad):
    """Zero-size axes, wrong shapes or a non-finite entry always raise InvalidInputError."""
    arrays = [np.ones(shape) for _ in shape]
    which = which % len(shape)
    if bad is not None and arrays[which].size:
        arrays[which].flat[0] = bad
    elif len(shape) > 1 and all(n > 0 for n in shape):
        arrays[which] = np.ones(tuple(reversed(shape)) + (1,))  # wrong dimension
    expect_ok = False
    if bad is None and (len(shape) == 1 and shape[0] > 0):
        expect_ok = True
    if expect_ok:
        assert NormalFormGame(tuple(arrays)).shape == tuple(shape)
    else:
        with pytest.raises(InvalidInputError, match=r"NormalFormGame\(\)"):
            NormalFormGame(tuple(arrays))


# ----------------------------------------------------------------------------- evaluation

@pytest.mark.parametrize("shape", [(2, 3), (3, 2, 4), (2, 2, 2, 2)])
def test_strategy_payoffs_match_brute_force(shape):
    rng = np.random.default_rng(7)
    for trial in range(3):
        g = random_game(*shape, seed=trial, low=-3, high=5)
        prof = _random_profile(rng, shape)
        got = g.strategy_payoffs(prof)
        want = brute_strategy_payoffs(g, prof)
        for p in range(g.n_players):
            np.testing.assert_allclose(got[p], want[p], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g.expected_payoffs(prof),
                                   [_expected(g, prof, p) for p in range(g.n_players)], rtol=1e-12, atol=1e-12)
        assert g.max_regret(prof) == pytest.approx(brute_max_regret(g, prof), abs=1e-12)


def test_strategy_payoffs_at_pure_profiles_are_table_entries():
    g = random_game(3, 2, 4, seed=3)
    for cont in itertools.product(range(3), range(2), range(4)):
        prof = [np.eye(n)[c] for n, c in zip(g.shape, cont)]
        u = g.strategy_payoffs(prof)
        for p in range(3):
            idx = list(cont)
            for s in range(g.shape[p]):
                idx[p] = s
                assert u[p][s] == g.payoffs[p][tuple(idx)]


def test_max_regret_zero_at_known_equilibria():
    mp = NormalFormGame.from_arrays([[1, -1], [-1, 1]], [[-1, 1], [1, -1]])
    assert mp.max_regret([[0.5, 0.5], [0.5, 0.5]]) == 0.0
    assert mp.max_regret([[1, 0], [1, 0]]) == 2.0
    pd = NormalFormGame.from_arrays([[3, 0], [5, 1]], [[3, 5], [0, 1]])
    assert pd.max_regret([[0, 1], [0, 1]]) == 0.0
    np.testing.assert_array_equal(pd.regrets([[1, 0], [1, 0]]), [2.0, 2.0])


def test_profile_forms_and_validation():
    g = random_game(2, 3, seed=1)
    flat = np.array([0.5, 0.5, 0.2, 0.3, 0.5])
    assert g.max_regret(flat) == g.max_regret([[0.5, 0.5], [0.2, 0.3, 0.5]])
    with pytest.raises(InvalidInputError, match="sum to 1"):
        g.max_regret([[0.5, 0.6], [0.2, 0.3, 0.5]])
    with pytest.raises(InvalidInputError, match="2 players"):
        g.max_regret([[0.5, 0.5]])
    with pytest.raises(InvalidInputError, match=r"profile\[1\]"):
        g.max_regret([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(InvalidInputError, match=r"profile\[0\].*>="):
        as_profile(g, [[1.5, -0.5], [0.2, 0.3, 0.5]], "f()")
    with pytest.raises(InvalidInputError, match="finite"):
        g.max_regret([[math.nan, 0.5], [0.2, 0.3, 0.5]])


# ----------------------------------------------------------------------------- random_game

def test_random_game_determinism():
    a = random_game(4, 3, 2, seed=11)
    b = random_game(4, 3, 2, seed=11)
    c = random_game(4, 3, 2, seed=12)
    assert a == b
    assert a != c
    gen_a = random_game(3, 3, seed=np.random.default_rng(5))
    gen_b = random_game(3, 3, seed=np.random.default_rng(5))
    assert gen_a == gen_b


def test_random_game_options():
    g = random_game(5, 4, seed=0, low=-2, high=3)
    assert all(a.min() >= -2 and a.max() <= 3 for a in g.payoffs)
    z = random_game(4, 4, seed=0, zero_sum=True)
    assert z.is_zero_sum()
    i = random_game(6, 6, seed=0, integer=True, low=-1, high=1)
    vals = np.unique(np.concatenate([a.ravel() for a in i.payoffs]))
    assert set(vals) <= {-1.0, 0.0, 1.0} and len(vals) == 3


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=(0, 2)), "shape"),
    (dict(shape=()), "at least one"),
    (dict(shape=(2, 2, 2), zero_sum=True), "zero_sum"),
    (dict(shape=(2, 2), low=1.0, high=0.0), "low <= high"),
    (dict(shape=(2, 2), low=0.2, high=0.8, integer=True), "integer"),
    (dict(shape=(2, 2), low=math.nan), "low"),
    (dict(shape=(2, 2), high=math.inf), "high"),
    (dict(shape=(2.5, 2)), "shape"),
])
def test_random_game_validation(kwargs, match):
    shape = kwargs.pop("shape")
    with pytest.raises(InvalidInputError, match=r"random_game\(\).*" + match):
        random_game(*shape, **kwargs)


def test_json_document_round_trip_and_validation(tmp_path):
    import json

    from engine.errors import InvalidInputError
    from engine.schemas import validate
    from games.normal_form import NormalFormGame, random_game

    g = random_game(2, 3, 2, seed=4)
    doc = g.to_dict()
    validate(doc)
    path = tmp_path / "g.json"
    path.write_text(json.dumps(doc))
    assert NormalFormGame.from_dict(path) == g
    assert NormalFormGame.from_dict(json.dumps(doc)) == g
    with pytest.raises(InvalidInputError, match=r"NormalFormGame.from_dict\(\).*\$\['payoffs'\]"):
        NormalFormGame.from_dict({**doc, "payoffs": [[["x"]]]})
    with pytest.raises(InvalidInputError, match="shape"):
        NormalFormGame.from_dict({**doc, "payoffs": [[1, 2], [3]]})


# ---------------------------------------------------------------------------- compiled contractions
def _tensordot_payoffs(game, prof):
    out = []
    for p, a in enumerate(game.payoffs):
        t = a
        for q in range(game.n_players - 1, -1, -1):
            if q != p:
                t = np.tensordot(t, prof[q], axes=([q], [0]))
        out.append(np.asarray(t))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=5), st.integers(0, 10**6), st.booleans())
def test_strategy_payoffs_and_derivatives_equal_tensor_contractions(shape, seed, tiny):
    from games.normal_form import _NO_D, contract, flat_payoffs

    game = random_game(*shape, seed=seed, low=-5, high=5)
    rng = np.random.default_rng(seed)
    prof = [rng.dirichlet(np.ones(n)) for n in shape]
    if tiny:                                   # probabilities that underflow: no division anywhere
        prof = [np.where(v < 0.3, 0.0, v) / np.where(v < 0.3, 0.0, v).sum() if (v >= 0.3).any() else v
                for v in prof]
    ref = _tensordot_payoffs(game, prof)
    got = game.strategy_payoffs(prof)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=0, atol=1e-12)
    T, dims, off = flat_payoffs(game)
    n = int(off[-1])
    u, D = np.empty(n), np.empty((n, n))
    contract(T, dims, off, np.concatenate(prof), u, D, True)
    for p in range(len(shape)):
        for q in range(len(shape)):
            if p == q:
                continue
            others = [r for r in range(len(shape)) if r not in (p, q)]
            t = game.payoffs[p]
            for r in sorted(others, reverse=True):
                t = np.tensordot(t, prof[r], axes=([r], [0]))
            block = t if p < q else t.T                          # axes (p, q) in increasing order
            np.testing.assert_allclose(D[off[p]:off[p + 1], off[q]:off[q + 1]], block, rtol=0, atol=1e-12)
    np.testing.assert_allclose(u, np.concatenate(ref), rtol=0, atol=1e-12)
    contract(T, dims, off, np.concatenate(prof), u, _NO_D, False)
    np.testing.assert_allclose(u, np.concatenate(ref), rtol=0, atol=1e-12)
    reg = game.regrets(prof)
    exp = [max(0.0, float(r.max() - r @ v)) for r, v in zip(ref, prof)]
    np.testing.assert_allclose(reg, exp, rtol=0, atol=1e-12)


def test_payoff_arrays_are_read_only_views_of_one_flat_array():
    from games.normal_form import flat_payoffs

    g = random_game(2, 3, 4, seed=0)
    T, dims, off = flat_payoffs(g)
    assert T.shape == (3, 24) and dims.tolist() == [2, 3, 4] and off.tolist() == [0, 2, 5, 9]
    for p, a in enumerate(g.payoffs):
        assert not a.flags.writeable and np.shares_memory(a, T)
        np.testing.assert_array_equal(a.reshape(-1), T[p])
    with pytest.raises(ValueError):
        g.payoffs[0][0, 0, 0] = 1.0
    import pickle

    h = pickle.loads(pickle.dumps(g))
    assert h == g and h.max_regret([[1, 0], [0, 1, 0], [0, 0, 0, 1]]) == g.max_regret([[1, 0], [0, 1, 0], [0, 0, 0, 1]])


def test_evaluation_runs_under_the_thread_policy(monkeypatch):
    import games.normal_form as nf
    from engine import threads

    seen = []
    real = nf.strategy_payoffs_flat

    def spy(game, sig):
        seen.append(threads.current_threads())
        return real(game, sig)

    monkeypatch.setattr(nf, "strategy_payoffs_flat", spy)
    g = random_game(2, 2, seed=0)
    g.strategy_payoffs([[0.5, 0.5], [0.5, 0.5]])
    assert seen == [threads.default_threads()] and threads.current_threads() is None
