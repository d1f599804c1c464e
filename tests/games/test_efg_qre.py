"""games.efg.logit_solve / logit_branch: the agent logit QRE of game trees, against pygambit's
``qre.logit_solve_lambda`` (behaviour strategies), the normal-form QRE where the two coincide, a
closed form with a probability-zero chance move, and finite differences of the Jacobian."""

from __future__ import annotations

import io
import math
from fractions import Fraction

import numpy as np
import pytest

from engine import Status
from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.result import SolveResult
from games.efg import (ExtensiveFormGame, TreeBuilder, TreeQREBranch, TreeQREResult, kuhn_poker, logit_branch,
                       logit_solve, random_tree)
from games.efg.qre import _AgentSystem
from games.efg_io import write_efg
from games.normal_form import NormalFormGame
from games.qre import logit_solve as nf_logit_solve

gbt = pytest.importorskip("pygambit")


def small_tree(depth: int, n_players: int, seed: int) -> ExtensiveFormGame:
    """Random trees with chance nodes and information sets of up to 3 nodes, binary moves (so
    that pygambit's agent QRE stays fast at depth 6)."""
    return random_tree(depth, n_players=n_players, seed=seed, p_chance=0.25, branching=(2,), p_terminal=0.25)


def gambit_agent_qre(game: ExtensiveFormGame, lams: list) -> list:
    gg = gbt.read_efg(io.StringIO(write_efg(game)))
    out: list = []
    for q in gbt.qre.logit_solve_lambda(gg, lams):
        assert q.lam == pytest.approx(lams[len(out)], rel=1e-6)   # Gambit reached the precision asked
        out.append(np.array([q[i] for i in range(len(q))]))
    return out


# ---------------------------------------------------------------------------- against pygambit
CASES = [(2, 2, 0), (2, 3, 2), (3, 2, 1), (3, 3, 0), (4, 2, 0), (4, 3, 1), (5, 2, 2), (5, 3, 0), (6, 2, 2),
         (6, 3, 2)]


@pytest.mark.parametrize("depth,n_players,seed", CASES)
def test_agent_qre_matches_pygambit(depth, n_players, seed):
    game = small_tree(depth, n_players, seed)
    lams = [0.3, 1.0, 3.0, 8.0]
    ref = gambit_agent_qre(game, lams)
    prev = None
    for lam, gv in zip(lams, ref):
        r = logit_solve(game, lam)
        assert r.status == Status.OPTIMAL and r.residual <= 1e-10
        assert np.abs(r.x - gv).max() <= 1e-6
        # the same point traced in one pass with warm starts
        prev = logit_solve(game, lam, warm_start=prev)
        assert np.abs(prev.x - r.x).max() <= 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_agent_qre_matches_pygambit_larger_trees(seed):
    game = random_tree(4, n_players=2, seed=seed, p_chance=0.3)   # up to ~70 nodes, 3-way moves
    lams = [0.5, 2.0, 6.0]
    for lam, gv in zip(lams, gambit_agent_qre(game, lams)):
        assert np.abs(logit_solve(game, lam).x - gv).max() <= 1e-6


def test_kuhn_poker_against_pygambit_and_its_value():
    game = kuhn_poker()
    lams = [1.0, 4.0]
    for lam, gv in zip(lams, gambit_agent_qre(game, lams)):
        assert np.abs(logit_solve(game, lam).x - gv).max() <= 1e-6
    b = logit_branch(game)
    assert isinstance(b, TreeQREBranch) and b.status == Status.OPTIMAL
    assert b.max_regret <= 1e-8 * 4 and b.max_regret == pytest.approx(game.max_regret(list(b.behavior)))
    assert b.payoffs[0] == pytest.approx(-1 / 18, abs=1e-6)
    assert np.all(np.diff(b.lams[:5]) > 0) and len(b.lams) == len(b.profiles)


@pytest.mark.parametrize("depth,n_players,seed", [(3, 2, 1), (4, 3, 1), (5, 2, 1)])
def test_branch_ends_at_an_equilibrium_like_pygambit(depth, n_players, seed):
    game = small_tree(depth, n_players, seed)
    b = logit_branch(game, maxregret=1e-8)
    assert b.status == Status.OPTIMAL
    assert b.max_regret <= b.params["maxregret_abs"] and game.max_regret(list(b.behavior)) <= b.params["maxregret_abs"]
    # Gambit traces the same branch: its end point is close to ours (both approach one limit)
    gg = gbt.read_efg(io.StringIO(write_efg(game)))
    eq = gbt.nash.logit_solve(gg, use_strategic=False).equilibria[0]
    gv = np.array([float(eq[a]) for p in gg.players for i in p.infosets for a in i.actions])
    assert np.abs(b.x - gv).max() <= 1e-3


# ---------------------------------------------------------------------------- normal form
def simultaneous_tree(shape: tuple, seed: int) -> ExtensiveFormGame:
    """A normal-form game written as a tree behind a chance move of probabilities 1/3, 2/3:
    player p has one information set holding every node of level p, so each is reached with
    probability 1."""
    rng = np.random.default_rng(seed)
    N = len(shape)
    b = TreeBuilder([f"P{p + 1}" for p in range(N)])
    level = list(b.chance(b.root, ["x", "y"], [Fraction(1, 3), Fraction(2, 3)]))
    for p in range(N):
        nxt = []
        for node in level:
            nxt.extend(b.move(node, p, [f"a{j}" for j in range(shape[p])], infoset=f"I{p}"))
        level = nxt
    for node in level:
        b.outcome(node, rng.integers(-9, 10, size=N).tolist())
    return b.build()


@pytest.mark.parametrize("shape,seed", [((2, 3), 0), ((3, 3), 1), ((2, 2, 3), 2)])
def test_one_information_set_reached_surely_equals_the_normal_form_qre(shape, seed):
    # With one information set per player, reached with probability 1, a player's conditional
    # action values are its normal-form strategy payoffs, so the agent QRE is the logit QRE of
    # the (reduced) normal form at the same precision.
    game = simultaneous_tree(shape, seed)
    nf = game.to_normal_form()
    assert nf.shape == shape
    for lam in (0.5, 2.0, 7.0):
        r = logit_solve(game, lam)
        q = nf_logit_solve(nf, lam)
        assert r.status == q.status == Status.OPTIMAL
        assert np.abs(r.x - q.x).max() <= 1e-9


def test_an_information_set_reached_with_probability_below_one_breaks_the_equivalence():
    # Player 2 moves only after player 1's "in": its normal-form payoffs are its conditional
    # values times P(in), so the normal-form QRE is the agent QRE at a lower precision for it.
    b = TreeBuilder(["P1", "P2"])
    out, inn = b.move(b.root, "P1", ["out", "in"])
    b.outcome(out, [1, 3])
    f, s = b.move(inn, "P2", ["fight", "share"])
    b.outcome(f, [-1, -1])
    b.outcome(s, [2, 1])
    game = b.build()
    lam = 2.0
    agent = logit_solve(game, lam)
    q = nf_logit_solve(game.to_normal_form(), lam)
    p2 = agent.behavior[1]
    assert p2[1] == pytest.approx(1 / (1 + math.exp(-lam * 2)), abs=1e-12)   # share: 1 vs -1
    assert np.abs(agent.x - q.x).max() > 1e-2


# ---------------------------------------------------------------------------- zero-probability chance
def zero_chance_tree() -> ExtensiveFormGame:
    b = TreeBuilder(["A", "B"])
    left, right = b.chance(b.root, ["l", "r"], [Fraction(1), Fraction(0)])
    a1, a2 = b.move(left, "A", ["u", "d"], infoset="A1")
    b.outcome(a1, [1, 2])
    c1, c2 = b.move(a2, "B", ["x", "y"], infoset="B1")
    b.outcome(c1, [3, 0])
    b.outcome(c2, [0, 1])
    d1, d2 = b.move(right, "A", ["u", "d"], infoset="A2")
    e1, e2 = b.move(d1, "B", ["p", "q"], infoset="B2")
    f1, f2 = b.move(d2, "B", ["p", "q"], infoset="B2")
    for node, pay in zip((e1, e2, f1, f2), ([1, 5], [2, 0], [0, -3], [4, 3])):
        b.outcome(node, pay)
    return b.build()


def test_set_reached_only_through_a_zero_chance_move_has_uniform_beliefs():
    game = zero_chance_tree()
    lam = 3.0
    r = logit_solve(game, lam)
    assert r.status == Status.OPTIMAL
    logistic = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    # B2 (never reached): uniform beliefs, p is worth (5 - 3) / 2 = 1, q (0 + 3) / 2 = 1.5
    bp = logistic(lam * (1.0 - 1.5))
    # A2: u leads to B2's p/q mix at the left node, d at the right node
    au = logistic(lam * ((bp * 1 + (1 - bp) * 2) - (bp * 0 + (1 - bp) * 4)))
    bx = logistic(lam * (0 - 1))
    a1u = logistic(lam * (1 - 3 * bx))
    expect = np.array([a1u, 1 - a1u, au, 1 - au, bx, 1 - bx, bp, 1 - bp])
    assert np.abs(r.x - expect).max() <= 1e-12
    nodes_b2 = game.infoset_members[game.player_infosets[1][1]]
    assert np.allclose(r.beliefs[list(nodes_b2)], 0.5) and np.isnan(r.beliefs[0])
    # pygambit agrees where its trace gets (it stalls near lam = 0.8 on this tree)
    for lam, gv in zip([0.3, 0.6], gambit_agent_qre(game, [0.3, 0.6])):
        assert np.abs(logit_solve(game, lam).x - gv).max() <= 1e-6


def test_bayes_beliefs_ignore_members_behind_a_zero_chance_move():
    # B's information set spans three chance branches, one of probability zero: its beliefs are
    # Bayes' rule on the other two (zero on the third), as in pygambit
    b = TreeBuilder(["A", "B"])
    kids = b.chance(b.root, ["l", "m", "r"], [Fraction(1, 2), Fraction(1, 2), Fraction(0)])
    pays = ([[1, 2], [3, 0], [0, 1]], [[2, 0], [0, 3], [1, -1]], [[5, 5], [-4, 2], [3, 3]])
    for node, tag, pay in zip(kids, "LMR", pays):
        up, down = b.move(node, "A", ["u", "d"], infoset="A" + tag)
        b.outcome(up, pay[0])
        x, y = b.move(down, "B", ["x", "y"], infoset="B")
        b.outcome(x, pay[1])
        b.outcome(y, pay[2])
    game = b.build()
    lams = [0.3, 1.0, 3.0, 8.0]
    members = list(game.infoset_members[game.player_infosets[1][0]])
    for lam, gv in zip(lams, gambit_agent_qre(game, lams)):
        r = logit_solve(game, lam)
        assert np.abs(r.x - gv).max() <= 1e-6
        assert r.beliefs[members[2]] == 0.0 and r.beliefs[members].sum() == pytest.approx(1.0)


# ---------------------------------------------------------------------------- the equations
@pytest.mark.parametrize("game", [kuhn_poker(), zero_chance_tree(), small_tree(5, 3, 1),
                                  random_tree(4, n_players=2, seed=3, p_chance=0.3)],
                         ids=["kuhn", "zero-chance", "3p", "3-way"])
def test_jacobian_matches_finite_differences(game):
    sys = _AgentSystem(game, np.array([1.0, 0.7, 1.3][:game.n_players]), "test")
    rng = np.random.default_rng(0)
    z = sys.start() + rng.normal(scale=0.5, size=sys.n + 1)
    z[-1] = 2.5
    J = sys.jacobian(z)
    h = 1e-6
    for j in range(sys.n + 1):
        e = np.zeros(sys.n + 1)
        e[j] = h
        col = (sys.residual(z + e) - sys.residual(z - e)) / (2 * h)
        assert np.abs(J[:, j] - col).max() <= 1e-7 * max(1.0, np.abs(col).max())


def test_result_fields_and_round_trip():
    game = kuhn_poker()
    r = logit_solve(game, 2.0, seed=5)
    assert isinstance(r, TreeQREResult) and r.success and r.params["seed"] == 5
    assert np.allclose([b.sum() for b in r.behavior], [6, 6])    # 6 information sets of 2 actions each
    assert np.allclose(np.exp(r.log_behavior), r.x) and r.lam.tolist() == [2.0, 2.0]
    assert r.payoffs == pytest.approx(game.behavior_payoffs(list(r.behavior)))
    back = SolveResult.from_dict(r.to_dict())
    assert isinstance(back, TreeQREResult) and np.array_equal(back.x, r.x)


def test_heterogeneous_precision():
    game = small_tree(4, 2, 0)
    r = logit_solve(game, [2.0, 0.5])
    assert r.status == Status.OPTIMAL and r.lam.tolist() == [2.0, 0.5]
    # a precision of 0 for one player leaves it uniform
    u = logit_solve(game, [3.0, 0.0])
    assert np.allclose(u.behavior[1], game.uniform_behavior()[1])


def test_limits_and_callback():
    game = small_tree(5, 3, 0)
    r = logit_solve(game, 50.0, maxiter=3)
    assert r.status == Status.ITERATION_LIMIT and r.lam.max() < 50.0
    seen = []

    def cb(event):
        seen.append(event.info["lam"])
        if len(seen) == 4:
            raise StopIteration

    b = logit_branch(game, callback=cb)
    assert b.status == Status.STOPPED and len(seen) == 4 and b.lam == pytest.approx(seen[-1])
    assert logit_branch(game, lam_max=0.5).status == Status.ITERATION_LIMIT
    late = logit_solve(game, 50.0, time_limit=1e-9)       # the deadline passes before the first step
    assert late.status == Status.TIME_LIMIT and late.lam.max() == 0.0 and np.isfinite(late.residual)
    assert logit_branch(game, time_limit=1e-9).status == Status.TIME_LIMIT


def test_trivial_trees():
    b = TreeBuilder(["A", "B"])
    x, y = b.chance(b.root, ["x", "y"], ["1/2", "1/2"])
    b.outcome(x, [1, 0])
    b.outcome(y, [0, 1])
    game = b.build()       # no decisions at all
    r = logit_solve(game, 5.0)
    assert r.status == Status.OPTIMAL and r.x.size == 0 and r.payoffs.tolist() == [0.5, 0.5]
    assert logit_branch(game).status == Status.OPTIMAL


def test_validation():
    game = kuhn_poker()
    for bad in (-1.0, math.nan, "x", [1.0, 2.0, 3.0]):
        with pytest.raises(InvalidInputError, match="lam"):
            logit_solve(game, bad)
    with pytest.raises(InvalidInputError, match="ExtensiveFormGame"):
        logit_solve(NormalFormGame.from_arrays([[1]], [[1]]), 1.0)
    with pytest.raises(InvalidInputError, match="tol"):
        logit_solve(game, 1.0, tol=0)
    with pytest.raises(InvalidInputError, match="maxregret"):
        logit_branch(game, maxregret=-1)
    with pytest.raises(InvalidInputError, match="warm_start"):
        logit_solve(game, 1.0, warm_start=logit_solve(game, 2.0))
    with pytest.raises(InvalidInputError, match="warm_start"):
        logit_solve(game, 1.0, warm_start=logit_solve(small_tree(3, 2, 0), 0.5))
    # imperfect recall: player 1 forgets its first move
    b = TreeBuilder(["A", "B"])
    l, r = b.move(b.root, "A", ["L", "R"], infoset="first")
    for node in (l, r):
        u, d = b.move(node, "A", ["u", "d"], infoset="second")
        b.outcome(u, [1, 0])
        b.outcome(d, [0, 1])
    with pytest.raises(UnsupportedProblemError, match="perfect recall"):
        logit_solve(b.build(), 1.0)
