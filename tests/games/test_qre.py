"""Tests of games.qre: logit QRE, principal-branch tracing and maximum-likelihood estimation.

Oracles: pygambit (when installed), closed forms of dominance-solvable and symmetric games,
the QRE fixed point checked independently with ``game.strategy_payoffs``, LP values of zero-sum
games (scipy linprog), likelihood optimality and sampling recovery.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import linprog

from engine.errors import InvalidInputError
from engine.events import Iteration
from engine.result import SolveResult
from engine.status import Status
from games.normal_form import NormalFormGame, random_game
from games.qre import QREBranch, QREEstimate, QREResult, logit_branch, logit_estimate, logit_solve

# A 3x3 game whose principal branch folds: lam rises to ~9.29, falls back to ~2.14, then rises
# to the equilibrium (found by a scan of random integer games; the fold is asserted below).
FOLD_A = [[7, 6, 1], [9, 5, 5], [5, 8, 9]]
FOLD_B = [[0, 8, 9], [7, 6, 5], [2, 2, 0]]


def _softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def _qre_gap(game, lam, profile):
    """max |sigma - logit response to sigma|, computed independently of games.qre."""
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (game.n_players,))
    u = game.strategy_payoffs([np.asarray(p) for p in profile])
    return max(float(np.abs(np.asarray(profile[p]) - _softmax(lam[p] * u[p])).max()) for p in range(game.n_players))


def _to_gambit(game):
    gbt = pytest.importorskip("pygambit")
    arrays = [np.array([Fraction(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape) for a in game.payoffs]
    return gbt.Game.from_arrays(*arrays)


def _gambit_profile(gg, prof):
    return np.concatenate([[float(prof[st]) for st in pl.strategies] for pl in gg.players])


# ---------------------------------------------------------------------------- against pygambit
@pytest.mark.parametrize("shape,seed", [((3, 3), 0), ((4, 5), 1), ((8, 8), 2), ((2, 2, 2), 3), ((3, 2, 3), 4)])
def test_matches_pygambit_logit_solve_lambda(shape, seed):
    gbt = pytest.importorskip("pygambit")
    game = random_game(*shape, seed=seed)
    gg = _to_gambit(game)
    lams = [0.5, 2.0, 8.0]
    ref = gbt.qre.logit_solve_lambda(gg, lams)
    prev = None
    for lam, rp in zip(lams, ref):
        r = logit_solve(game, lam)
        assert r.status == Status.OPTIMAL and r.success
        assert r.residual <= 1e-10
        assert abs(float(rp.lam) - lam) < 1e-6
        assert np.abs(r.x - _gambit_profile(gg, rp.profile)).max() <= 1e-6
        assert _qre_gap(game, lam, r.profile) <= 1e-12
        np.testing.assert_allclose(r.lam, np.full(len(shape), lam))
        # warm start from the previous precision gives the same point
        if prev is not None:
            w = logit_solve(game, lam, warm_start=prev)
            assert np.abs(w.x - r.x).max() <= 1e-10
        prev = r


def test_fold_branch_and_solve_agree_with_pygambit():
    gbt = pytest.importorskip("pygambit")
    game = NormalFormGame.from_arrays(FOLD_A, FOLD_B)
    gg = _to_gambit(game)
    lams = [3.0, 5.0, 9.0, 12.0]  # 3, 5 and 9 lie in the folded lam range: first crossing wanted
    for lam, rp in zip(lams, gbt.qre.logit_solve_lambda(gg, lams)):
        r = logit_solve(game, lam)
        assert r.residual <= 1e-10
        assert np.abs(r.x - _gambit_profile(gg, rp.profile)).max() <= 1e-6
    b = logit_branch(game)
    end = gbt.nash.logit_solve(gg).equilibria[0]
    assert np.abs(b.x - _gambit_profile(gg, end)).max() <= 1e-6


# ---------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("lam1,lam2", [(0.7, 0.7), (2.0, 5.0), (10.0, 0.3)])
def test_dominance_solvable_2x2_closed_form(lam1, lam2):
    # Player 2's strategy 0 beats strategy 1 by exactly 2 whatever player 1 does, so
    # sigma2_0 = 1 / (1 + exp(-2 lam2)); player 1 then compares rows against that mix.
    A = np.array([[4.0, -1.0], [1.0, 2.0]])
    B = np.array([[3.0, 1.0], [5.0, 3.0]])
    game = NormalFormGame.from_arrays(A, B)
    r = logit_solve(game, [lam1, lam2])
    q = 1.0 / (1.0 + math.exp(-2.0 * lam2))
    d1 = (A[0] - A[1]) @ np.array([q, 1 - q])
    p = 1.0 / (1.0 + math.exp(-lam1 * d1))
    np.testing.assert_allclose(r.profile[1], [q, 1 - q], rtol=0, atol=1e-13)
    np.testing.assert_allclose(r.profile[0], [p, 1 - p], rtol=0, atol=1e-13)
    assert r.residual <= 1e-10


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0, 7.0, 60.0])
def test_rock_paper_scissors_is_uniform(lam):
    A = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=float)
    game = NormalFormGame.zero_sum(A)
    r = logit_solve(game, lam)
    for v in r.profile:
        np.testing.assert_allclose(v, np.full(3, 1 / 3), rtol=0, atol=1e-12)
    assert r.residual <= 1e-10


def test_symmetric_zero_sum_circulant_is_uniform():
    # Rock-paper-scissors-lizard-Spock style: a circulant skew-symmetric 5x5 game.
    c = np.array([0, -1, 1, -1, 1], dtype=float)
    A = np.array([np.roll(c, i) for i in range(5)])
    assert np.allclose(A, -A.T)
    game = NormalFormGame.zero_sum(A)
    for lam in (0.5, 4.0, 25.0):
        r = logit_solve(game, lam)
        np.testing.assert_allclose(np.concatenate(r.profile), np.full(10, 0.2), rtol=0, atol=1e-12)
    b = logit_branch(game)
    np.testing.assert_allclose(b.x, np.full(10, 0.2), atol=1e-9)


def test_heterogeneous_lambda_zero_makes_player_uniform():
    game = random_game(4, 3, seed=11)
    r = logit_solve(game, [3.0, 0.0])
    np.testing.assert_allclose(r.profile[1], np.full(3, 1 / 3), rtol=0, atol=1e-14)
    # player 1 best-responds (logit) to the uniform mix: closed form softmax
    u1 = game.payoffs[0] @ np.full(3, 1 / 3)
    np.testing.assert_allclose(r.profile[0], _softmax(3.0 * u1), rtol=0, atol=1e-13)
    np.testing.assert_allclose(r.lam, [3.0, 0.0])
    assert _qre_gap(game, [3.0, 0.0], r.profile) <= 1e-12


def test_heterogeneous_three_player_fixed_point():
    game = random_game(2, 3, 2, seed=5)
    lam = [4.0, 1.5, 9.0]
    r = logit_solve(game, lam)
    assert r.residual <= 1e-10
    assert _qre_gap(game, lam, r.profile) <= 1e-12


def test_log_space_keeps_tiny_probabilities():
    # Row 0 strictly dominates row 1 by exactly 1, so log(s1)-log(s0) = -lam for player 1.
    game = NormalFormGame.from_arrays([[1.0, 1.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]])
    r = logit_solve(game, 700.0)
    expected = math.exp(-700.0) / (1.0 + math.exp(-700.0))
    assert r.profile[0][1] == pytest.approx(expected, rel=1e-10)
    r = logit_solve(game, 800.0)  # exp(-800) underflows a double; the log does not
    assert r.log_profile[1] == pytest.approx(-800.0, rel=1e-13)
    assert r.log_profile[3] - r.log_profile[2] == pytest.approx(800.0, rel=1e-13)
    assert r.residual <= 1e-10


def test_lambda_zero_and_constant_game():
    game = random_game(3, 4, seed=2)
    r = logit_solve(game, 0.0)
    np.testing.assert_allclose(r.x, np.r_[np.full(3, 1 / 3), np.full(4, 1 / 4)])
    flat = NormalFormGame.from_arrays(np.ones((2, 3)), np.ones((2, 3)))
    r = logit_solve(flat, 5.0)
    np.testing.assert_allclose(r.x, np.r_[np.full(2, 1 / 2), np.full(3, 1 / 3)])


# ---------------------------------------------------------------------------- branch
@pytest.mark.parametrize("shape,seed", [((7, 6), 21), ((3, 3, 3), 1)])
def test_branch_ends_at_nash_matching_pygambit(shape, seed):
    gbt = pytest.importorskip("pygambit")
    game = random_game(*shape, seed=seed)
    b = logit_branch(game)
    assert isinstance(b, QREBranch) and b.status == Status.OPTIMAL
    assert b.max_regret <= 1e-8
    assert b.max_regret == pytest.approx(game.max_regret(list(b.profile)), abs=1e-15)
    assert b.lams[0] == 0.0 and len(b.lams) == len(b.profiles)
    gg = _to_gambit(game)
    end = gbt.nash.logit_solve(gg).equilibria[0]
    assert np.abs(b.x - _gambit_profile(gg, end)).max() <= 1e-6


@pytest.mark.parametrize("polish", [True, False])
def test_branch_zero_sum_value_equals_lp_value(polish):
    game = random_game(5, 4, seed=8, zero_sum=True)
    A = game.payoffs[0]
    b = logit_branch(game, polish=polish)
    assert b.status == Status.OPTIMAL and b.max_regret <= 1e-8
    value = float(b.profile[0] @ A @ b.profile[1])
    # LP: max v s.t. A^T x >= v, sum x = 1, x >= 0
    m, k = A.shape
    res = linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A.T, np.ones(k)], b_ub=np.zeros(k),
                  A_eq=np.r_[np.ones(m), 0.0][None, :], b_eq=[1.0], bounds=[(0, None)] * m + [(None, None)])
    assert res.status == 0
    assert value == pytest.approx(-res.fun, abs=1e-8)


def test_branch_through_fold_reaches_equilibrium():
    game = NormalFormGame.from_arrays(FOLD_A, FOLD_B)
    for polish in (True, False):
        b = logit_branch(game, polish=polish)
        # maxregret is relative to the payoff range (9 here)
        assert b.params["maxregret_abs"] == pytest.approx(9e-8, rel=1e-12)
        assert b.status == Status.OPTIMAL and b.max_regret <= 9e-8
        lams = b.lams
        assert np.any(np.diff(lams) < -1e-3), "the branch must fold back in lam"
        turn = int(np.argmax(np.diff(lams) < -1e-3))
        assert lams[turn] > 9.0 and lams[turn:].min() < 3.0
        # every traced point is a QRE (checked independently), consecutive points are close
        for lam, prof in zip(lams[::3], b.profiles[::3]):
            assert _qre_gap(game, lam, np.split(prof, [3])) <= 1e-6
        assert np.abs(np.diff(b.profiles, axis=0)).max() < 0.6
    # both ends are the same equilibrium: pure (row 2, column 1) is not it; check it is Nash
    assert game.max_regret(list(b.profile)) <= 9e-8


def test_branch_callback_and_stop():
    game = random_game(4, 4, seed=3)
    seen = []

    def cb(ev):
        seen.append(ev)
        if len(seen) == 3:
            raise StopIteration

    b = logit_branch(game, callback=cb)
    assert b.status == Status.STOPPED and not b.success
    assert len(seen) == 3 and all(isinstance(e, Iteration) for e in seen)
    assert len(b.lams) == 4 and b.lam == seen[-1].info["lam"]
    def stop(ev):
        raise StopIteration

    r = logit_solve(game, 50.0, callback=stop)
    assert r.status == Status.STOPPED and float(r.lam[0]) < 50.0
    assert _qre_gap(game, r.lam, r.profile) <= 1e-5


def test_branch_iteration_limit():
    game = random_game(6, 6, seed=4)
    b = logit_branch(game, maxiter=3)
    assert b.status == Status.ITERATION_LIMIT and b.x is not None
    r = logit_solve(game, 30.0, maxiter=2)
    assert r.status == Status.ITERATION_LIMIT


# ---------------------------------------------------------------------------- estimation
def test_estimate_recovers_lambda_from_large_sample():
    game = random_game(3, 3, seed=5)
    true = 1.7
    sigma = logit_solve(game, true)
    rng = np.random.default_rng(12345)
    counts = [rng.multinomial(1_000_000, p) for p in sigma.profile]
    fit = logit_estimate(game, counts)
    assert isinstance(fit, QREEstimate) and fit.status == Status.OPTIMAL
    assert abs(fit.lam - true) / true <= 0.03
    assert fit.residual <= 1e-10
    ll = sum(float(c @ np.log(p)) for c, p in zip(counts, fit.profile))
    assert fit.log_like == pytest.approx(ll, rel=1e-12)
    # it is a maximum along the branch: the true lam and nearby lams do no better
    for lam in (true, fit.lam * 0.99, fit.lam * 1.01):
        other = logit_solve(game, lam)
        assert sum(float(c @ np.log(p)) for c, p in zip(counts, other.profile)) <= fit.log_like + 1e-6
    # flat counts give the same answer
    flat = logit_estimate(game, np.concatenate(counts))
    assert flat.lam == pytest.approx(fit.lam, rel=1e-9)


def test_estimate_matches_pygambit():
    gbt = pytest.importorskip("pygambit")
    game = random_game(3, 4, seed=9)
    sigma = logit_solve(game, 3.0)
    rng = np.random.default_rng(7)
    counts = [rng.multinomial(5_000, p) for p in sigma.profile]
    gg = _to_gambit(game)
    data = gg.mixed_strategy_profile(rational=False)
    for pl, cp in zip(gg.players, counts):
        for s, v in zip(pl.strategies, cp):
            data[s] = float(v)
    ref = gbt.qre.logit_estimate(data)
    fit = logit_estimate(game, counts)
    assert fit.lam == pytest.approx(float(ref.lam), rel=1e-4)
    assert fit.log_like == pytest.approx(float(ref.log_like), rel=1e-8)


# ---------------------------------------------------------------------------- determinism, I/O
def test_determinism_and_round_trip():
    game = random_game(5, 4, seed=6)
    a, b = logit_solve(game, 3.0), logit_solve(game, 3.0)
    assert np.array_equal(a.x, b.x) and a.residual == b.residual
    ba, bb = logit_branch(game), logit_branch(game)
    assert np.array_equal(ba.lams, bb.lams) and np.array_equal(ba.x, bb.x)
    counts = [[10, 20, 5, 1, 0], [3, 3, 9, 1]]
    ea, eb = logit_estimate(game, counts), logit_estimate(game, counts)
    assert ea.lam == eb.lam and np.array_equal(ea.x, eb.x)
    for res in (a, ba, ea):
        back = SolveResult.from_json(res.to_json())
        assert type(back) is type(res)
        assert np.array_equal(back.x, res.x)
        assert all(np.array_equal(u, v) for u, v in zip(back.profile, res.profile))
    assert a.method == "logit_solve" and a.params["tol"] == 1e-12 and "first_step" in a.params


# ---------------------------------------------------------------------------- validation
GAME = random_game(2, 3, seed=0)

bad_lams = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1e-9, -3, "1", None, True, [1.0], [1.0, 2.0, 3.0],
                     [1.0, math.nan], [1.0, -2.0], [[1.0, 2.0]], {"a": 1}, object()]),
    st.floats(max_value=-1e-300, allow_nan=False),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=5).filter(
        lambda v: not (len(v) == 2 and all(math.isfinite(x) and x >= 0 for x in v))),
)


@settings(max_examples=80, deadline=None)
@given(bad_lams)
def test_bad_lambda_raises_invalid_input(lam):
    with pytest.raises(InvalidInputError, match=r"logit_solve\(\)"):
        logit_solve(GAME, lam)


bad_counts = st.one_of(
    st.sampled_from([None, 3, "ab", [[1, 2, 3], [1, 2]], [[1, 2]], [[0, 0], [0, 0, 0]],
                     [[1, -1], [1, 1, 1]], [[1, math.nan], [1, 1, 1]], [[1, 1], [1, math.inf, 1]],
                     np.zeros(5), np.ones(4), [[[1, 2]], [1, 2, 3]], [[1, 2], [1, 2, 3], [1]]]),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=5, max_size=5).filter(
        lambda v: not (all(math.isfinite(x) and x >= 0 for x in v) and sum(v) > 0)).map(np.array),
)


def test_good_counts_accepted():
    assert logit_estimate(GAME, [[1, 2], [1, 2, 3]]).success


@settings(max_examples=80, deadline=None)
@given(bad_counts)
def test_bad_counts_raise_invalid_input(counts):
    with pytest.raises(InvalidInputError, match=r"logit_estimate\(\)"):
        logit_estimate(GAME, counts)


@pytest.mark.parametrize("func", [logit_solve, logit_branch, logit_estimate])
def test_non_game_raises(func):
    args = {logit_solve: (1.0,), logit_branch: (), logit_estimate: ([[1, 1], [1, 1, 1]],)}[func]
    with pytest.raises(InvalidInputError, match="NormalFormGame"):
        func([[1, 2], [3, 4]], *args)


def test_bad_options_raise():
    with pytest.raises(InvalidInputError, match="maxregret"):
        logit_branch(GAME, maxregret=0.0)
    with pytest.raises(InvalidInputError, match="tol"):
        logit_solve(GAME, 1.0, tol=-1)
    with pytest.raises(InvalidInputError, match="max_accel"):
        logit_solve(GAME, 1.0, max_accel=0.5)
    with pytest.raises(InvalidInputError, match="callback"):
        logit_branch(GAME, callback=3)
    with pytest.raises(InvalidInputError, match="warm_start"):
        logit_solve(GAME, 1.0, warm_start=logit_solve(GAME, 2.0))
    with pytest.raises(InvalidInputError, match="warm_start"):
        logit_solve(GAME, [1.0, 2.0], warm_start=logit_solve(GAME, 0.5))
    with pytest.raises(InvalidInputError, match="warm_start"):
        logit_solve(GAME, 1.0, warm_start="x")
    assert isinstance(logit_solve(GAME, [2.0, 4.0], warm_start=logit_solve(GAME, [1.0, 2.0])), QREResult)


# ---------------------------------------------------------------------------- payoff scale
@pytest.mark.parametrize("scale", [1e6, 1e-6])
def test_scaled_game_gives_the_same_status_and_equilibrium(scale):
    # Tolerances are relative to the payoffs (residual: tol * max(1, lam * max|payoff|); regret
    # and lam_max: the payoff range), so multiplying every payoff by c changes nothing at lam / c.
    game = random_game(6, 6, seed=0)
    scaled = NormalFormGame.from_arrays(*(a * scale for a in game.payoffs))
    for lam in (0.5, 5.0, 50.0):
        r, rs = logit_solve(game, lam), logit_solve(scaled, lam / scale)
        assert r.status == rs.status == Status.OPTIMAL
        assert np.abs(r.x - rs.x).max() <= 1e-9
    b, bs = logit_branch(game), logit_branch(scaled)
    assert b.status == bs.status == Status.OPTIMAL
    assert np.abs(b.x - bs.x).max() <= 1e-8
    assert bs.max_regret <= bs.params["maxregret_abs"] <= 1e-8 * scale
    counts = [[10, 3, 4, 5, 6, 7], [5, 5, 5, 5, 5, 5]]
    e, es = logit_estimate(game, counts), logit_estimate(scaled, counts)
    assert e.status == es.status == Status.OPTIMAL
    assert es.lam * scale == pytest.approx(e.lam, rel=1e-6)
    assert np.abs(e.x - es.x).max() <= 1e-8


def test_payoffs_near_a_million_polish_to_optimal():
    # The same precision on payoffs of size 1e6 (was FEASIBLE: "polish stalled at residual 1e-11").
    game = random_game(6, 6, seed=0)
    big = NormalFormGame.from_arrays(*(a * 1e6 for a in game.payoffs))
    r = logit_solve(big, 1.0)
    assert r.status == Status.OPTIMAL, r.message
    pmax = max(float(np.abs(a).max()) for a in big.payoffs)      # about 1e6
    assert r.residual <= r.params["residual_tol"] == pytest.approx(1e-12 * 1.0 * pmax, rel=1e-12)
    assert np.abs(r.x - logit_solve(game, 1e6).x).max() <= 1e-9
    # an offset of 1e6 changes neither the equilibrium nor the status (Gambit-style payoffs)
    integer = random_game(6, 6, seed=3, integer=True, low=0, high=10)
    shifted = NormalFormGame.from_arrays(*(a + 1e6 for a in integer.payoffs))
    b, bs = logit_branch(integer), logit_branch(shifted)
    assert b.status == bs.status == Status.OPTIMAL and np.abs(b.x - bs.x).max() <= 1e-8
    for lam in (0.5, 5.0, 500.0):
        assert logit_solve(shifted, lam).status == Status.OPTIMAL


# ---------------------------------------------------------------------------- overflow and hangs
HUGE = [[1e308, -1e308], [0.0, 0.0]]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("game", [
    NormalFormGame.from_arrays(HUGE, HUGE),                        # the payoff range overflows
    NormalFormGame.zero_sum(HUGE),
    NormalFormGame.from_arrays([[1e308, 1e308], [0, 0]], [[0, 1], [1, 0]]),   # max|payoff| * n overflows
    NormalFormGame.from_arrays([[1.0, 1.0], [1.0, 1.0]], [[0.0, 5e-324], [0.0, 0.0]]),  # overflows once rescaled
], ids=["range", "zero_sum", "max_times_n", "rescaled"])
def test_payoffs_whose_scale_overflows_are_refused_not_looped_on(game):
    # logit_solve looped forever on HUGE (an infinite step in the tracer, ignoring maxiter/time_limit)
    for call in (lambda: logit_solve(game, 1.0, time_limit=5), lambda: logit_branch(game, time_limit=5),
                 lambda: logit_estimate(game, [[1, 2], [2, 1]], time_limit=5)):
        with pytest.raises(InvalidInputError, match="overflow"):
            call()


@pytest.mark.timeout(120)  # a hang, not the one-time compilation of the small-game kernels (cold cache: ~20 s)
def test_non_finite_steps_end_the_trace_with_error():
    game = random_game(3, 3, seed=1)
    with pytest.raises(InvalidInputError, match=r"logit_solve\(\).*lam \* max\|payoff\| overflows"):
        logit_solve(game, 1e308)
    # an unlimited step growth walks the step size to infinity: a clear ERROR, not a hang
    r = logit_solve(game, 1e300, max_accel=1e308)
    assert r.status == Status.ERROR and "non-finite step" in r.message and not r.success
    # an unreachable precision is bounded by maxiter
    r = logit_solve(game, 1e300, maxiter=50)
    assert r.status == Status.ITERATION_LIMIT


@pytest.mark.timeout(120)
@pytest.mark.parametrize("func", ["solve", "branch", "estimate"])
def test_tiny_time_limit_returns_time_limit_promptly(func):
    import time

    # the compiled kernels are built once (cached on disk) on first use: not part of the deadline
    small = random_game(2, 3, seed=0)
    logit_branch(small), logit_estimate(small, [[1, 2], [1, 2, 3]])
    game = random_game(40, 40, seed=1)
    counts = [np.arange(40) % 7, np.arange(40) % 5]
    limit = 1e-4
    t0 = time.perf_counter()
    if func == "solve":
        r = logit_solve(game, 1e4, time_limit=limit)
    elif func == "branch":
        r = logit_branch(game, time_limit=limit)
    else:
        r = logit_estimate(game, counts, time_limit=limit)
    wall = time.perf_counter() - t0
    assert r.status == Status.TIME_LIMIT and r.x is not None
    assert wall < limit + 3.0 and r.runtime < limit + 3.0


def test_estimate_refinement_stops_at_the_deadline(monkeypatch):
    # A fake clock that only moves while the 1-D refinement solves points on the branch: the
    # trace finishes, the refinement starts and must give up at the next check (it used to run
    # its whole search after the deadline).
    import types

    import games.qre as qre_mod

    clock = {"now": 0.0, "calls": 0}
    monkeypatch.setattr(qre_mod, "time", types.SimpleNamespace(perf_counter=lambda: clock["now"]))
    real = qre_mod._solve_on_hyperplane

    def slow(*args, **kwargs):
        clock["calls"] += 1
        clock["now"] += 1.0
        return real(*args, **kwargs)

    monkeypatch.setattr(qre_mod, "_solve_on_hyperplane", slow)
    game = random_game(3, 3, seed=5)
    counts = [[50, 30, 20], [10, 60, 30]]
    fit = logit_estimate(game, counts, time_limit=0.5)
    assert fit.status == Status.TIME_LIMIT and "refining" in fit.message
    assert clock["calls"] == 1
    assert np.isfinite(fit.log_like) and fit.x is not None
    monkeypatch.setattr(qre_mod, "time", __import__("time"))
    assert logit_estimate(game, counts).status == Status.OPTIMAL


def test_seed_is_validated_and_recorded():
    for func, args in ((logit_solve, (1.0,)), (logit_branch, ()), (logit_estimate, ([[1, 1], [1, 1, 1]],))):
        with pytest.raises(InvalidInputError, match="seed"):
            func(GAME, *args, seed="abc")
        assert func(GAME, *args, seed=7).params["seed"] == 7
    assert np.array_equal(logit_solve(GAME, 2.0, seed=1).x, logit_solve(GAME, 2.0, seed=2).x)


def test_counts_whose_total_overflows_are_refused():
    with pytest.raises(InvalidInputError, match="overflows"):
        logit_estimate(GAME, [[1e308, 1e308], [1, 1, 1]])


# ---------------------------------------------------------------------------- thread policy
from tests.thread_fixtures import blas_threads as _blas_threads  # noqa: E402
from tests.thread_fixtures import can_run_two_blas_threads as _two_blas_threads  # noqa: E402


@pytest.mark.skipif(not _two_blas_threads(), reason="the BLAS cannot run 2 threads here")
@pytest.mark.parametrize("shape", [(3, 3), (40, 40), (2, 2, 2)], ids=["compiled", "numpy", "three-player"])
def test_thread_policy_inside_the_call_and_user_setting_outside(shape):
    from threadpoolctl import threadpool_limits

    game = random_game(*shape, seed=2)
    n = sum(shape)
    calls = {
        "solve": lambda cb, **kw: logit_solve(game, 3.0, callback=cb, **kw),
        "branch": lambda cb, **kw: logit_branch(game, callback=cb, **kw),
        "estimate": lambda cb, **kw: logit_estimate(game, np.arange(1, n + 1), callback=cb, **kw),
    }
    for name, call in calls.items():
        seen: list = []

        def callback(event):
            seen.append(frozenset(_blas_threads()))

        with threadpool_limits(2, user_api="blas"):
            res = call(callback)
            assert _blas_threads() == {2}, name
            assert res.params["threads"] == 1
            res = call(callback, threads=2)
            assert _blas_threads() == {2}, name
            assert res.params["threads"] == 2
        with threadpool_limits(1, user_api="blas"):
            call(callback, threads=2)
            assert _blas_threads() == {1}, name
        assert seen and set(seen) == {frozenset({1}), frozenset({2})}, name


def test_threads_option_is_validated():
    for func, args in ((logit_solve, (1.0,)), (logit_branch, ()), (logit_estimate, ([[1, 1], [1, 1, 1]],))):
        with pytest.raises(InvalidInputError, match=rf"{func.__name__}\(\): threads must be >= 1"):
            func(GAME, *args, threads=0)


# ---------------------------------------------------------------------------- compiled path
@pytest.mark.parametrize("shape,seed", [((3, 3), 0), ((6, 5), 1), ((12, 12), 2), ((2, 7), 3)])
def test_compiled_and_numpy_paths_agree(shape, seed, monkeypatch):
    # two-player games up to qre._FAST_MAX_2P strategies run in compiled kernels, larger ones in
    # numpy/LAPACK: forcing each path on the same game gives the same answers
    import games.qre as qre_mod

    game = random_game(*shape, seed=seed)
    results = {}
    for limit in (10**6, 0):
        monkeypatch.setattr(qre_mod, "_FAST_MAX_2P", limit)
        g = NormalFormGame.from_arrays(*game.payoffs)      # nothing cached from the other path
        prev, sols = None, []
        for lam in (0.5, 4.0, 20.0):
            prev = logit_solve(g, lam, warm_start=prev)
            sols.append(prev)
        branch = logit_branch(g)
        fit = logit_estimate(g, [np.arange(1, shape[0] + 1), np.arange(shape[1], 0, -1)])
        results[limit] = (sols, branch, fit)
    (a, ba, fa), (b, bb, fb) = results[10**6], results[0]
    for ra, rb in zip(a, b):
        assert ra.status == rb.status == Status.OPTIMAL
        assert np.abs(ra.x - rb.x).max() <= 1e-10
    assert ba.status == bb.status == Status.OPTIMAL
    assert np.abs(ba.x - bb.x).max() <= 1e-8
    assert fa.lam == pytest.approx(fb.lam, rel=1e-6) and np.abs(fa.x - fb.x).max() <= 1e-7


@pytest.mark.parametrize("shape", [(2, 3, 2), (3, 3, 3), (2, 2, 2, 2), (2, 2, 2, 2, 2), (1, 3, 2), (4,)])
def test_n_player_qre_is_the_fixed_point_checked_independently(shape):
    game = random_game(*shape, seed=sum(shape))
    for lam in (0.7, 6.0):
        r = logit_solve(game, lam)
        assert r.status == Status.OPTIMAL
        assert _qre_gap(game, lam, r.profile) <= 1e-11
