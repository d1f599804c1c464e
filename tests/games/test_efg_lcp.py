"""games.efg.sequence_form_lcp: Lemke's algorithm on the sequence form, checked by regret (ours
and pygambit's computation of it), in exact rationals, against pygambit's lcp_solve and on Kuhn
poker."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from engine import Status
from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.events import Iteration
from engine.result import SolveResult
from games.efg import (ExtensiveFormGame, LCPResult, TreeBuilder, kuhn_poker, random_tree, sequence_form_lcp,
                       solve)
from games.efg import lcp as lcp_module
from tests.games.test_efg import pyg, random_tree as gen_tree

gbt = pytest.importorskip("pygambit")


# ---------------------------------------------------------------------------- oracles
def exact_regrets(g: ExtensiveFormGame, plans: tuple) -> list:
    """Per player, best-response value minus value under exact realization plans, in Fractions
    from the tree's leaves (independent of the solver's integer game)."""
    s = g._sequences()
    pays = g._leaf_fraction_payoffs()
    chance = g._leaf_chance_fractions()
    L = s["leaf_seq"].tolist()
    out = []
    for p in (0, 1):
        w = [Fraction(0)] * int(s["n_seq"][p])
        for (i, j), c, pay in zip(L, chance, pays):
            own, other = (i, j) if p == 0 else (j, i)
            w[own] += c * pay[p] * plans[1 - p][other]
        cur = sum((a * b for a, b in zip(w, plans[p])), Fraction(0))
        for h in g._seq_depth_order(p):
            k0 = int(s["first_seq"][h])
            w[int(s["iset_parent"][h])] += max(w[k0:k0 + len(g.infoset_actions[h])])
        out.append(w[0] - cur)
    return out


def is_realization_plan(g: ExtensiveFormGame, p: int, x: list) -> bool:
    s = g._sequences()
    if x[0] != 1 or any(v < 0 for v in x):
        return False
    for h in g.player_infosets[p]:
        k0 = int(s["first_seq"][h])
        if sum(x[k0:k0 + len(g.infoset_actions[h])]) != x[int(s["iset_parent"][h])]:
            return False
    return True


def gambit_regret(g: ExtensiveFormGame, behavior: tuple) -> float:
    """pygambit's max regret of our behaviour profile."""
    gg = pyg(g)
    prof = gg.mixed_behavior_profile(rational=False)
    for p, pl in enumerate(gg.players):
        k = 0
        for inf in pl.infosets:
            for a in inf.actions:
                prof[a] = float(behavior[p][k])
                k += 1
    return float(prof.max_regret())


# ---------------------------------------------------------------------------- against pygambit
@pytest.mark.parametrize("seed", range(20))
def test_equilibrium_by_regret_against_pygambit(seed: int) -> None:
    g = gen_tree(seed, depth=2 + seed % 5)            # chance, imperfect information, perfect recall
    r = sequence_form_lcp(g)
    assert isinstance(r, LCPResult) and r.status is Status.OPTIMAL
    assert r.max_regret <= 1e-9
    assert gambit_regret(g, r.behavior) <= 1e-9      # pygambit agrees it is an equilibrium
    np.testing.assert_allclose(r.payoffs, g.behavior_payoffs(list(r.behavior)), atol=1e-12)
    gg = pyg(g)
    for eq in gbt.nash.lcp_solve(gg, rational=False).equilibria:
        # pygambit's equilibria pass our certificate too (the sets may differ)
        beh = [np.array([float(eq[a]) for inf in pl.infosets for a in inf.actions]) for pl in gg.players]
        assert g.max_regret(beh) <= 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_larger_random_trees_with_several_starts(seed: int) -> None:
    g = random_tree(4, seed=seed)
    r = sequence_form_lcp(g, starts=4, seed=seed)
    assert r.status is Status.OPTIMAL and len(r.equilibria) >= 1
    for beh in r.equilibria:
        assert g.max_regret(list(beh)) <= 1e-9
        assert gambit_regret(g, beh) <= 1e-9
    # the equilibria listed are distinct
    flat = [np.concatenate(b) for b in r.equilibria]
    assert all(not np.allclose(a, b) for i, a in enumerate(flat) for b in flat[:i])


@pytest.mark.parametrize("seed", [2, 15, 23])
def test_payoffs_of_a_million_stay_certified(seed: int) -> None:
    # rounding in the pivots exceeds 1e-9 here; the refactorised basis (or exact pivoting) is certified
    g = random_tree(5 + seed % 3, seed=seed, payoff_range=10 ** 6, p_chance=0.4)
    r = sequence_form_lcp(g, starts=2)
    assert r.status is Status.OPTIMAL and r.max_regret <= 1e-9
    assert all(g.max_regret(list(b)) <= 1e-9 for b in r.equilibria)


# ---------------------------------------------------------------------------- exact pivoting
@pytest.mark.parametrize("seed", range(10))
def test_exact_pivoting_gives_regret_exactly_zero(seed: int) -> None:
    g = gen_tree(100 + seed, depth=2 + seed % 4)
    r = sequence_form_lcp(g, pivoting="exact", starts=2, seed=seed)
    assert r.status is Status.OPTIMAL and r.backend == "python-exact"
    plans = tuple([Fraction(v) for v in pl] for pl in r.exact_realization)
    assert is_realization_plan(g, 0, plans[0]) and is_realization_plan(g, 1, plans[1])
    assert exact_regrets(g, plans) == [0, 0]
    np.testing.assert_allclose(r.realization[0], [float(v) for v in plans[0]], atol=1e-15)
    # the float path follows the same pivots from the same prior
    f = sequence_form_lcp(g, starts=2, seed=seed)
    assert f.nit == r.nit
    np.testing.assert_allclose(f.realization[0], r.realization[0], atol=1e-9)


def test_kuhn_poker_value_both_pivotings() -> None:
    k = kuhn_poker()
    for piv in ("float", "exact"):
        r = sequence_form_lcp(k, pivoting=piv)
        assert r.status is Status.OPTIMAL and r.max_regret <= 1e-12
        assert r.payoffs[0] == pytest.approx(-1 / 18, abs=1e-12)
    plans = tuple([Fraction(v) for v in pl] for pl in r.exact_realization)
    assert exact_regrets(k, plans) == [0, 0]
    back = SolveResult.from_dict(r.to_dict())
    assert isinstance(back, LCPResult) and back.exact_realization == r.exact_realization
    # value exactly -1/18: x'Ay from the exact plans
    s = k._sequences()
    val = sum(c * pay[0] * plans[0][i] * plans[1][j]
              for c, (i, j), pay in zip(k._leaf_chance_fractions(), s["leaf_seq"].tolist(), k._leaf_fraction_payoffs()))
    assert val == Fraction(-1, 18)


# ---------------------------------------------------------------------------- special trees
def test_zero_probability_chance_and_a_player_without_moves() -> None:
    b = TreeBuilder(["A", "B"], title="zero chance")
    left, right = b.chance(b.root, ["never", "always"], [0, 1])
    for node in (left, right):
        u, d = b.move(node, "A", ["U", "D"], infoset="a")
        for i, v in enumerate((u, d)):
            l_, r_ = b.move(v, "B", ["L", "R"], infoset="b")
            b.outcome(l_, [3 * i - 1, 2 - i] if node == right else [100, -100])
            b.outcome(r_, [1 - i, i - 2] if node == right else [-100, 100])
    g = b.build()
    for piv in ("float", "exact"):
        r = sequence_form_lcp(g, pivoting=piv)
        assert r.status is Status.OPTIMAL and r.max_regret <= 1e-12
        assert gambit_regret(g, r.behavior) <= 1e-12
    # B never moves: its best response to A is the whole story
    b = TreeBuilder(["A", "B"])
    c = b.chance(b.root, ["x", "y"], ["1/3", "2/3"])
    for i, node in enumerate(c):
        kids = b.move(node, "A", ["p", "q", "r"], infoset=f"A{i}")
        for j, kid in enumerate(kids):
            b.outcome(kid, [(i + 2 * j) % 3, j])
    g2 = b.build()
    r = sequence_form_lcp(g2, pivoting="exact")
    assert r.status is Status.OPTIMAL and r.max_regret == 0.0 and r.behavior[1].size == 0
    assert r.payoffs[0] == pytest.approx(2.0)


def test_ties_everywhere() -> None:
    # all payoffs equal: every profile is an equilibrium, the start is one (no pivot)
    g = random_tree(4, seed=2, payoff_range=0)
    r = sequence_form_lcp(g, pivoting="exact")
    assert r.status is Status.OPTIMAL and r.nit == 0 and r.max_regret == 0.0
    # a tree whose best responses to the centroid tie: the prior is perturbed, said in the message
    g = random_tree(2, seed=160, payoff_range=1)
    for piv in ("float", "exact"):
        r = sequence_form_lcp(g, pivoting=piv)
        assert r.status is Status.OPTIMAL and r.max_regret <= 1e-12
        assert "perturbed" in r.message


def test_given_starting_profiles_and_determinism() -> None:
    g = random_tree(4, seed=0)
    rng = np.random.default_rng(1)
    priors = []
    for _ in range(3):
        prof = []
        for p in range(2):
            arr = []
            for h in g.player_infosets[p]:
                v = rng.random(len(g.infoset_actions[h]))
                arr.extend(v / v.sum())
            prof.append(np.array(arr))
        priors.append(prof)
    r = sequence_form_lcp(g, starts=priors)
    assert r.status is Status.OPTIMAL and r.params["starts"] == "3 profiles"
    assert all(g.max_regret(list(b)) <= 1e-9 for b in r.equilibria)
    # the centroid is the default start; a seed fixes the random ones
    assert np.array_equal(sequence_form_lcp(g, starts="centroid").x, sequence_form_lcp(g).x)
    a, b = sequence_form_lcp(g, starts=3, seed=5), sequence_form_lcp(g, starts=3, seed=5)
    assert a.nit == b.nit and all(np.array_equal(np.concatenate(u), np.concatenate(v))
                                  for u, v in zip(a.equilibria, b.equilibria))
    # results round-trip through JSON
    back = SolveResult.from_dict(a.to_dict())
    assert isinstance(back, LCPResult) and back.nit == a.nit


# ---------------------------------------------------------------------------- limits and hooks
def test_iteration_limit_time_limit_and_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    g = random_tree(5, seed=0)
    full = sequence_form_lcp(g)
    assert full.nit > 3
    r = sequence_form_lcp(g, maxiter=2, pivoting="exact")
    assert r.status is Status.ITERATION_LIMIT and r.nit == 2 and np.isfinite(r.max_regret)
    assert "no equilibrium reached" in r.message
    r = sequence_form_lcp(g, maxiter=2)
    assert r.status is Status.ITERATION_LIMIT and r.nit == 2
    # first start done, second cut: the equilibrium found is returned
    r = sequence_form_lcp(g, starts=2, maxiter=full.nit + 1)
    assert r.status is Status.ITERATION_LIMIT and len(r.equilibria) == 1 and r.max_regret <= 1e-9
    assert sequence_form_lcp(g, time_limit=1e-9).status is Status.TIME_LIMIT
    seen: list = []

    def stop(ev: Iteration) -> None:
        seen.append(ev)
        if ev.nit >= 3:
            raise StopIteration

    r = sequence_form_lcp(g, pivoting="exact", callback=stop)
    assert r.status is Status.STOPPED and r.nit == 3 and [e.nit for e in seen] == [1, 2, 3]
    assert seen[0].info["start"] == 0 and seen[0].info["z0"] > 0
    monkeypatch.setattr(lcp_module, "_CHUNK", 2)  # float events come once per chunk of pivots
    seen.clear()
    r = sequence_form_lcp(g, callback=stop)
    assert r.status is Status.STOPPED and [e.nit for e in seen] == [2, 4]


def _spoil_float_end(monkeypatch: pytest.MonkeyPatch, g) -> None:  # type: ignore[no-untyped-def]
    """The floating-point run's end returns all-ones plans: a path that went numerically wrong."""
    finish = lcp_module._finish_float

    def spoiled(*args):  # type: ignore[no-untyped-def]
        x, y, _, _, _, pays = finish(*args)
        x, y = np.ones_like(x), np.ones_like(y)
        beh = [g.behavior_from_realization(x, 0), g.behavior_from_realization(y, 1)]
        return x, y, beh[0], beh[1], float(g._solver_payoffs_and_regrets(beh)[1].max()), pays

    monkeypatch.setattr(lcp_module, "_finish_float", spoiled)


def test_float_falls_back_to_exact_when_the_regret_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    g = random_tree(4, seed=0)
    _spoil_float_end(monkeypatch, g)
    monkeypatch.setattr(lcp_module._Problem, "solve_basis", lambda self, basis: None)
    r = sequence_form_lcp(g)
    assert r.status is Status.OPTIMAL and r.max_regret <= 1e-12 and r.backend == "python-exact"
    assert "repeated with exact pivoting" in r.message


def test_refactorisation_recovers_the_basis_solution(monkeypatch: pytest.MonkeyPatch) -> None:
    g = random_tree(5, seed=3)
    ref = sequence_form_lcp(g)
    _spoil_float_end(monkeypatch, g)
    r = sequence_form_lcp(g)
    assert "refactorised the final basis" in r.message and r.backend == "numba"
    assert r.max_regret <= 1e-9
    np.testing.assert_allclose(r.realization[0], ref.realization[0], atol=1e-12)
    np.testing.assert_allclose(r.realization[1], ref.realization[1], atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_sparse_build_for_large_trees_matches_dense(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    g = gen_tree(200 + seed, depth=4 + seed % 2)
    dense = sequence_form_lcp(g, starts=2, seed=seed)
    monkeypatch.setattr(lcp_module, "_DENSE_SEQUENCES", 0)  # the scipy.sparse path of big trees
    sparse = sequence_form_lcp(g, starts=2, seed=seed)
    assert sparse.status is Status.OPTIMAL and sparse.max_regret <= 1e-9 and sparse.nit == dense.nit
    np.testing.assert_allclose(sparse.x, dense.x, atol=1e-12)


# ---------------------------------------------------------------------------- dispatcher and refusals
def test_dispatcher_picks_lcp_for_general_sum_trees() -> None:
    g = random_tree(4, seed=1)
    assert not g.is_constant_sum() and not g.is_perfect_information
    r = solve(g)
    assert r.method == "sequence_form_lcp" and r.max_regret <= 1e-9
    assert solve(kuhn_poker()).method == "sequence_form_lp"
    assert solve(kuhn_poker(), method="sequence_form_lcp", pivoting="exact").max_regret <= 1e-12


def test_refusals() -> None:
    g = random_tree(3, seed=0)
    with pytest.raises(UnsupportedProblemError, match="two-player"):
        sequence_form_lcp(random_tree(3, n_players=3, seed=0))
    with pytest.raises(InvalidInputError, match="pivoting"):
        sequence_form_lcp(g, pivoting="rational")
    with pytest.raises(InvalidInputError, match="maxiter"):
        sequence_form_lcp(g, maxiter=0)
    with pytest.raises(InvalidInputError, match="starts"):
        sequence_form_lcp(g, starts=0)
    with pytest.raises(InvalidInputError, match="starts"):
        sequence_form_lcp(g, starts="middle")
    with pytest.raises(InvalidInputError, match="starts"):
        sequence_form_lcp(g, starts=[])
    bad = [np.full(len(b), 0.9) for b in g.uniform_behavior()]
    with pytest.raises(InvalidInputError, match="behaviour strategy"):
        sequence_form_lcp(g, starts=[bad])
    with pytest.raises(InvalidInputError, match="callback"):
        sequence_form_lcp(g, callback=3)
    with pytest.raises(InvalidInputError, match="threads"):
        sequence_form_lcp(g, threads=0)
    with pytest.raises(InvalidInputError, match="ExtensiveFormGame"):
        sequence_form_lcp("tree")
    b = TreeBuilder(["A", "B"])
    x, y = b.move(b.root, "A", ["l", "r"])
    for v in (x, y):
        u, w = b.move(v, "A", ["u", "w"], infoset="forgetful")
        b.outcome(u, [1, 0])
        b.outcome(w, [0, 1])
    with pytest.raises(UnsupportedProblemError, match="perfect recall"):
        sequence_form_lcp(b.build())


# ---------------------------------------------------------------------------- the one-call path
def _general(g: ExtensiveFormGame, **kw) -> LCPResult:  # type: ignore[no-untyped-def]
    """The general path (a callback keeps the one-call path out)."""
    return sequence_form_lcp(g, callback=lambda ev: None, **kw)


@pytest.mark.parametrize("depth,seed", [(2, 1), (2, 2), (3, 0), (3, 1), (3, 2), (4, 1), (4, 5), (5, 5)])
def test_one_call_path_equals_the_general_path(depth: int, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    g = random_tree(depth, seed=seed)
    taken: list = []
    kernel = lcp_module._solve_dense_float

    def spy(*args):  # type: ignore[no-untyped-def]
        out = kernel(*args)
        taken.append(out[0])
        return out

    monkeypatch.setattr(lcp_module, "_solve_dense_float", spy)
    fast = sequence_form_lcp(g)
    assert taken == [1]  # these trees' centroid starts do not tie: the one-call path answered
    ref = _general(g)
    assert taken == [1]
    assert (fast.status, fast.message, fast.nit, fast.backend) == (ref.status, ref.message, ref.nit, ref.backend)
    assert fast.params == ref.params
    for a, b in zip(fast.behavior + fast.realization, ref.behavior + ref.realization):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast.payoffs, ref.payoffs)
    assert fast.max_regret == ref.max_regret <= 1e-9
    assert len(fast.equilibria) == 1 and all(np.array_equal(a, b) for a, b in zip(fast.equilibria[0], ref.behavior))


def test_one_call_path_hands_long_runs_and_limits_to_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    g = random_tree(5, seed=5)  # its centroid start does not tie
    ref = _general(g)
    assert ref.nit > 2
    taken: list = []
    kernel = lcp_module._solve_dense_float

    def spy(*args):  # type: ignore[no-untyped-def]
        out = kernel(*args)
        taken.append(out[:2])
        return out

    monkeypatch.setattr(lcp_module, "_solve_dense_float", spy)
    monkeypatch.setattr(lcp_module, "_FAST_PIVOTS", 2)  # the one-call run stops short: general path
    r = sequence_form_lcp(g)
    assert taken == [(0, 2)]
    assert r.nit == ref.nit and r.message == ref.message
    np.testing.assert_array_equal(r.x, ref.x)
    r = sequence_form_lcp(g, maxiter=2)  # the user's pivot limit: the general path reports it
    assert r.status is Status.ITERATION_LIMIT and r.nit == 2 and "no equilibrium reached" in r.message
    with pytest.raises(InvalidInputError, match=r"sequence_form_lcp\(\): threads"):
        sequence_form_lcp(g, threads=0)
