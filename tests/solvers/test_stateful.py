"""Stateful differential tests: "build once, re-solve cheaply" must never differ from a fresh build.

Hypothesis drives random sequences of changes and solves. ``LinearModel``: row/column bounds,
coefficients, objective, sense and integrality changes with solves under random options, each
compared with a model built fresh from the arrays this test tracks itself and, when every column is
integer, with brute force over the (small, bounded) integer box. ``NetworkMIP``: random sequences of
states, senses, time limits, warm starts, seeds and options for every method (mip, bab, the affine
path, enumerate, auto) on SEQUOIA-shaped networks (one hidden layer on concat(action, one-hot state))
and two-layer ones, over budget, knapsack, capacity, matching and path sets, compared with
enumeration. On CI the examples are derandomized (tests/conftest.py); the ``slow`` variants run many
more steps (``pytest -m slow tests/solvers/test_stateful.py``).
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from engine.status import Status
from solvers import FeasibleSet, LinearModel, NetworkMIP

from .network_fixtures import random_net

INF = math.inf
small = st.integers(-3, 3)


def brute_force(c, A, rl, ru, cl, cu, sense, offset):
    """Best objective over the integer box (all columns integer), or None when infeasible."""
    best = None
    for x in itertools.product(*[range(int(lo), int(hi) + 1) for lo, hi in zip(cl, cu)]):
        x = np.array(x, dtype=float)
        act = A @ x
        if np.all(act >= rl - 1e-9) and np.all(act <= ru + 1e-9):
            v = float(c @ x + offset)
            if best is None or (v > best if sense == "max" else v < best):
                best = v
    return best


class LinearModelMachine(RuleBasedStateMachine):
    """A LinearModel changed and re-solved; the oracle is this machine's own copy of the arrays."""

    @initialize(data=st.data(), n=st.integers(2, 4), m=st.integers(1, 3))
    def build(self, data, n, m):
        self.c = np.array(data.draw(st.lists(small, min_size=n, max_size=n)), dtype=float)
        self.A = np.array(data.draw(st.lists(st.lists(small, min_size=n, max_size=n), min_size=m, max_size=m)),
                          dtype=float)
        self.rl = np.array([data.draw(st.sampled_from([-INF, -4.0, -1.0, 0.0])) for _ in range(m)])
        self.ru = np.array([max(lo, data.draw(st.sampled_from([INF, 0.0, 2.0, 5.0]))) for lo in self.rl])
        self.cl = np.array([data.draw(st.integers(-2, 0)) for _ in range(n)], dtype=float)
        self.cu = np.array([data.draw(st.integers(0, 2)) for _ in range(n)], dtype=float)
        self.integ = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        self.sense = data.draw(st.sampled_from(["min", "max"]))
        self.offset = float(data.draw(small))
        self.model = LinearModel(self.c, self.A, self.rl, self.ru, col_lower=self.cl, col_upper=self.cu,
                                 integrality=self.integ, sense=self.sense, offset=self.offset)

    @rule(data=st.data())
    def row_bounds(self, data):
        i = data.draw(st.integers(0, self.A.shape[0] - 1))
        lo = data.draw(st.sampled_from([-INF, -3.0, -1.0, 0.0, 1.0]))
        hi = max(lo, data.draw(st.sampled_from([INF, 0.0, 1.0, 3.0])))
        self.model.set_row_bounds([i], [lo], [hi])
        self.rl[i], self.ru[i] = lo, hi

    @rule(data=st.data())
    def col_bounds(self, data):
        j = data.draw(st.integers(0, self.c.size - 1))
        lo = data.draw(st.integers(-2, 1))
        hi = data.draw(st.integers(lo, 2))
        self.model.set_col_bounds([j], [lo], [hi])
        self.cl[j], self.cu[j] = lo, hi

    @rule(data=st.data())
    def coefficient(self, data):
        i = data.draw(st.integers(0, self.A.shape[0] - 1))
        j = data.draw(st.integers(0, self.c.size - 1))
        v = data.draw(small)
        self.model.set_coefficients([i], [j], [v])
        self.A[i, j] = v

    @rule(data=st.data())
    def objective(self, data):
        c = np.array(data.draw(st.lists(small, min_size=self.c.size, max_size=self.c.size)), dtype=float)
        sense = data.draw(st.sampled_from(["min", "max", None]))
        self.model.set_objective(c, sense=sense)
        self.c = c
        self.sense = sense or self.sense

    @rule(data=st.data())
    def integrality(self, data):
        j = data.draw(st.integers(0, self.c.size - 1))
        flag = data.draw(st.booleans())
        self.model.set_integrality([j], flag)
        self.integ[j] = flag

    @rule(data=st.data())
    def add_column(self, data):
        if self.c.size >= 6:  # keeps brute force over the integer box small
            return
        col = np.array(data.draw(st.lists(small, min_size=self.A.shape[0], max_size=self.A.shape[0])), dtype=float)
        cost = float(data.draw(small))
        lo = data.draw(st.integers(-2, 0))
        hi = data.draw(st.integers(0, 2))
        flag = data.draw(st.booleans())
        idx = self.model.add_cols([cost], col[:, None], [lo], [hi], integrality=[flag])
        assert idx.tolist() == [self.c.size]
        self.A = np.hstack([self.A, col[:, None]])
        self.c = np.append(self.c, cost)
        self.cl, self.cu = np.append(self.cl, lo), np.append(self.cu, hi)
        self.integ = np.append(self.integ, flag)

    @rule(seed=st.integers(0, 2**16), presolve=st.sampled_from(["on", "off", "choose"]), certify=st.booleans(),
          tight=st.booleans())
    def solve(self, seed, presolve, certify, tight):
        opts = {"presolve": presolve}
        if tight:
            opts.update(mip_feasibility_tolerance=1e-9, primal_feasibility_tolerance=1e-9)
        res = self.model.solve(seed=seed, options=opts, mip_rel_gap=0.0, certify=certify)
        fresh = LinearModel(self.c, self.A, self.rl, self.ru, col_lower=self.cl, col_upper=self.cu,
                            integrality=self.integ, sense=self.sense, offset=self.offset).solve(mip_rel_gap=0.0)
        assert res.status == fresh.status, (res.message, fresh.message)
        # HiGHS accepts a point within its feasibility tolerance (1e-6 per row/column): with presolve
        # off a MIP may return x = 1.0000005 where a fresh solve returns 1, so objectives agree to
        # that tolerance times the coefficients (|c| <= 3, at most 6 columns), not to 1e-6
        tol = 2e-5
        if fresh.status == Status.OPTIMAL:
            assert res.objective == pytest.approx(fresh.objective, abs=tol)
            act = self.A @ res.x
            assert np.all(act >= self.rl - 1e-6) and np.all(act <= self.ru + 1e-6)
            assert np.all(res.x >= self.cl - 1e-9) and np.all(res.x <= self.cu + 1e-9)
            sign = 1 if self.sense == "max" else -1
            assert sign * (res.bound - res.objective) >= -1e-6
        if self.integ.all():
            best = brute_force(self.c, self.A, self.rl, self.ru, self.cl, self.cu, self.sense, self.offset)
            if best is None:
                assert res.status == Status.INFEASIBLE
            else:
                assert res.status == Status.OPTIMAL and res.objective == pytest.approx(best, abs=tol)

    @invariant()
    def arrays_match(self):
        if not hasattr(self, "model"):
            return
        arr = self.model.arrays()
        assert np.array_equal(arr["A"].toarray(), self.A) and np.array_equal(arr["c"], self.c)
        assert np.array_equal(arr["row_lower"], self.rl) and np.array_equal(arr["row_upper"], self.ru)


def feasible_sets():
    from bandits import make_domain

    return {
        "budget": FeasibleSet.budget(6, 2),
        "knapsack": FeasibleSet.knapsack([1, 2, 3, 1, 2, 2], 4),
        "capacity": make_domain("capacity", n_arms=6, budget=2, seed=4).feasible_set,
        "matching": make_domain("matching", n_arms=6, budget=2, seed=0).feasible_set,
        "path": make_domain("path", n_arms=6, budget=2, seed=0).feasible_set,
    }


SETS = feasible_sets()


class NetworkMIPMachine(RuleBasedStateMachine):
    """One NetworkMIP per method, re-solved over random sequences; the oracle is enumeration."""

    @initialize(kind=st.sampled_from(sorted(SETS)), shape=st.sampled_from(["sequoia", "two_layer", "stable"]),
                net_seed=st.integers(0, 2**16))
    def build(self, kind, shape, net_seed):
        self.fs = SETS[kind]
        n = self.fs.n_actions
        self.n_states = 3
        d = n * self.n_states                          # one-hot state of n arms x 3 states
        rng = np.random.default_rng(net_seed)
        sizes = {"sequoia": [n + d, 16, 1], "two_layer": [n + d, 8, 8, 1], "stable": [n + d, 12, 1]}[shape]
        self.layers = random_net(sizes, rng)
        if shape == "stable":            # every neuron on over the set: the affine path
            W, b = self.layers[0]
            self.layers[0] = (np.abs(W) * 0.1, np.abs(b) + 5.0)
        self.d = d
        self.oracle = NetworkMIP(self.layers, self.fs, state_dim=d, method="enumerate")
        methods = ["mip", "enumerate", "auto"] + (["bab"] if self.fs.cardinality_range is not None else [])
        self.solvers = {m: NetworkMIP(self.layers, self.fs, state_dim=d, method=m,
                                      enumerate_limit=0 if m == "auto" else None) for m in methods}
        self.rng = rng

    def one_hot(self, arms):
        s = np.zeros(self.d)
        s[np.arange(len(arms)) * self.n_states + np.asarray(arms)] = 1.0
        return s

    @rule(data=st.data(), sense=st.sampled_from(["max", "min"]), seed=st.integers(0, 2**16),
          time_limit=st.sampled_from([None, None, 30.0]), warm=st.booleans(),
          options=st.sampled_from([None, {"presolve": "off"}, {"mip_feasibility_tolerance": 1e-9},
                                   {"mip_feasibility_tolerance": 1e-8, "primal_feasibility_tolerance": 1e-8}]))
    def solve(self, data, sense, seed, time_limit, warm, options):
        arms = data.draw(st.lists(st.integers(0, self.n_states - 1), min_size=self.fs.n_actions,
                                  max_size=self.fs.n_actions))
        state = self.one_hot(arms)
        best = self.oracle.solve(state, sense=sense)
        sign = 1.0 if sense == "max" else -1.0
        ws = self.fs.sample(np.random.default_rng(seed)) if warm else None
        for method, mip in self.solvers.items():
            kwargs = {"sense": sense, "seed": seed, "time_limit": time_limit, "warm_start": ws}
            if mip.method == "mip":
                kwargs["options"] = options
            res = mip.solve(state, **kwargs)
            assert res.x is not None and self.fs.contains(res.x), method
            assert res.objective == pytest.approx(float(mip.forward(res.x, state)), abs=1e-9)
            assert sign * (res.bound - best.objective) >= -1e-7, (method, res.message)
            if res.status == Status.OPTIMAL:
                assert res.objective == pytest.approx(best.objective, abs=1e-6), (method, res.message)
            else:
                assert time_limit is not None or res.status == Status.FEASIBLE, (method, res.status, res.message)


TestLinearModelStateful = LinearModelMachine.TestCase
TestLinearModelStateful.settings = settings(max_examples=40, stateful_step_count=12)
TestNetworkMIPStateful = NetworkMIPMachine.TestCase
TestNetworkMIPStateful.settings = settings(max_examples=10, stateful_step_count=4)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_linear_model_stateful_long():
    run_state_machine_as_test(LinearModelMachine, settings=settings(max_examples=400, stateful_step_count=30))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_network_mip_stateful_long():
    run_state_machine_as_test(NetworkMIPMachine, settings=settings(max_examples=40, stateful_step_count=6))
