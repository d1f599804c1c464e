"""Submodular instances round-trip through ``gameplan/submodular`` v1 JSON documents."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.schemas import validate
from planning.submodular import (FacilityLocation, FeatureBased, GraphCoverage, LogDet, Modular, WeightedCoverage,
                                 SubmodularInstance, greedy, instance_to_dict, knapsack_greedy, lazy_greedy,
                                 load_instance, matroid_greedy, solve_instance)


def _objectives():
    rng = np.random.default_rng(0)
    X = rng.random((8, 3))
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1))
    sparse_sim = sp.random(8, 10, density=0.3, random_state=1, format="csr")
    return {
        "facility_dense": FacilityLocation(rng.random((8, 12))),
        "facility_float32": FacilityLocation(rng.random((8, 12)).astype(np.float32)),
        "facility_sparse": FacilityLocation(sparse_sim),
        "coverage": WeightedCoverage([rng.choice(15, size=4, replace=False).tolist() for _ in range(8)],
                                     weights=rng.random(15) * 3, n_items=15),
        "coverage_empty_set": WeightedCoverage([[0, 1], [], [2]], weights=[1.0, 2.0, 0.5, 7.0], n_items=4),
        "graph_coverage": GraphCoverage((4, 2), radius=1),
        "modular": Modular(rng.random(8)),
        "logdet": LogDet(K, noise=0.3),
    }


OBJECTIVES = _objectives()


def _random_sets(n, rng, count=25):
    return [rng.choice(n, size=int(rng.integers(0, n + 1)), replace=False) for _ in range(count)]


@pytest.mark.parametrize("key", sorted(OBJECTIVES))
def test_round_trip_preserves_values(key, tmp_path):
    f = OBJECTIVES[key]
    doc = instance_to_dict(f, name=key)
    validate(json.loads(json.dumps(doc)))
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(doc))
    for source in (doc, json.dumps(doc), path, str(path)):
        g, constraint, name = load_instance(source)
        assert constraint is None and name == key and g.n == f.n
        rng = np.random.default_rng(1)
        for S in _random_sets(f.n, rng):
            assert g.evaluate(S) == pytest.approx(f.evaluate(S), rel=1e-12, abs=1e-12)
        rest = np.arange(1, f.n)
        assert np.allclose(g.marginal_gains([0], rest), f.marginal_gains([0], rest), rtol=1e-12, atol=1e-12)
    # the greedy picks the same elements
    assert greedy(g, 3).selected.tolist() == greedy(f, 3).selected.tolist()


def test_exact_types_and_arrays_come_back():
    f = OBJECTIVES["facility_dense"]
    g = load_instance(instance_to_dict(f)).objective
    assert type(g) is FacilityLocation and np.array_equal(g.similarity, f.similarity)
    f = OBJECTIVES["logdet"]
    g = load_instance(json.dumps(instance_to_dict(f))).objective
    assert type(g) is LogDet and g.noise == f.noise and np.array_equal(g.kernel, f.kernel)
    f = OBJECTIVES["coverage"]
    g = load_instance(instance_to_dict(f)).objective
    assert type(g) is WeightedCoverage and (g.incidence != f.incidence).nnz == 0
    assert np.array_equal(g.weights, f.weights)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_coverage_round_trip_property(n_sets, n_items, seed):
    rng = np.random.default_rng(seed)
    sets = [sorted(set(rng.integers(0, n_items, size=int(rng.integers(0, 4))).tolist())) for _ in range(n_sets)]
    f = WeightedCoverage(sets, weights=rng.random(n_items), n_items=n_items)
    g = load_instance(json.dumps(instance_to_dict(f))).objective
    for S in _random_sets(n_sets, rng, 5):
        assert g.evaluate(S) == f.evaluate(S)


CONSTRAINTS = {
    "cardinality": {"type": "cardinality", "k": 3},
    "knapsack": {"type": "knapsack", "costs": [1.0, 2.0, 1.5, 3.0, 1.0, 2.5, 0.5, 1.0], "budget": 4.0},
    "partition_matroid": {"type": "partition_matroid", "partition": [0, 0, 1, 1, 2, 2, 2, 0],
                          "capacities": [1, 1, 2]},
}


@pytest.mark.parametrize("kind", sorted(CONSTRAINTS))
def test_constraints_round_trip_and_solve_instance(kind, tmp_path):
    f = OBJECTIVES["facility_dense"]
    c = CONSTRAINTS[kind]
    doc = instance_to_dict(f, c)
    validate(doc)
    inst = load_instance(doc)
    assert isinstance(inst, SubmodularInstance) and inst.constraint == c
    path = tmp_path / "i.json"
    path.write_text(json.dumps(doc))
    res = solve_instance(path)
    if kind == "cardinality":
        ref = lazy_greedy(f, 3)
        assert solve_instance(path, method="greedy").selected.tolist() == ref.selected.tolist()
    elif kind == "knapsack":
        ref = knapsack_greedy(f, c["costs"], c["budget"])
        assert np.asarray(c["costs"])[res.selected].sum() <= c["budget"]
    else:
        ref = matroid_greedy(f, c["partition"], c["capacities"])
        counts = np.bincount(np.asarray(c["partition"])[res.selected], minlength=3)
        assert np.all(counts <= c["capacities"])
    assert res.selected.tolist() == ref.selected.tolist() and res.value == ref.value


def test_solve_instance_options_and_refusals():
    f = OBJECTIVES["coverage"]
    assert solve_instance(instance_to_dict(f, CONSTRAINTS["knapsack"]), lazy=False).params["lazy"] is False
    with pytest.raises(InvalidInputError, match=r"solve_instance\(\): the instance has no constraint"):
        solve_instance(instance_to_dict(f))
    with pytest.raises(InvalidInputError, match=r"solve_instance\(\): method='greedy' applies to cardinality"):
        solve_instance(instance_to_dict(f, CONSTRAINTS["knapsack"]), method="greedy")


def test_unsupported_objectives_and_bad_constraints_on_write():
    with pytest.raises(UnsupportedProblemError, match=r"instance_to_dict\(\).*FeatureBased"):
        instance_to_dict(FeatureBased(np.ones((3, 2))))
    f = OBJECTIVES["modular"]
    with pytest.raises(InvalidInputError, match=r"instance_to_dict\(\): constraint\['k'\]"):
        instance_to_dict(f, {"type": "cardinality", "k": 99})
    with pytest.raises(InvalidInputError, match=r"instance_to_dict\(\): constraint\['costs'\]"):
        instance_to_dict(f, {"type": "knapsack", "costs": [1.0], "budget": 1.0})
    with pytest.raises(InvalidInputError, match=r"instance_to_dict\(\): unknown constraint\['type'\] 'matroid'"):
        instance_to_dict(f, {"type": "matroid"})


BASE = instance_to_dict(WeightedCoverage([[0, 1], [1, 2]], weights=[1.0, 2.0, 3.0]), {"type": "cardinality", "k": 1})
LOGDET = instance_to_dict(LogDet(np.eye(2)), {"type": "knapsack", "costs": [1.0, 2.0], "budget": 2.0})
FL = instance_to_dict(FacilityLocation(np.ones((2, 3))),
                      {"type": "partition_matroid", "partition": [0, 1], "capacities": [1, 1]})


@pytest.mark.parametrize("doc,match", [
    ({**BASE, "objective": {"type": "weighted_coverage", "sets": [[0]], "weights": [-1.0]}}, r"\$\['objective'\]"),
    ({**BASE, "objective": {"type": "weighted_coverage", "sets": [[0, 5]], "weights": [1.0]}},
     r"\$\['objective'\]\['sets'\] names item 5"),
    ({**BASE, "objective": {"type": "sum"}}, r"\$\['objective'\]"),
    ({k: v for k, v in BASE.items() if k != "objective"}, "'objective' is a required property"),
    ({**BASE, "constraint": {"type": "cardinality"}}, r"\$\['constraint'\]: 'k' is a required property"),
    ({**BASE, "constraint": {"type": "cardinality", "k": 5}}, r"\$\['constraint'\]\['k'\]"),
    ({**BASE, "constraint": {"type": "cardinality", "k": -1}}, r"\$\['constraint'\]\['k'\]"),
    ({**BASE, "constraint": {"type": "budget", "k": 1}}, r"\$\['constraint'\]\['type'\]"),
    ({**LOGDET, "constraint": {"type": "knapsack", "costs": [1.0]}}, "'budget' is a required property"),
    ({**LOGDET, "constraint": {"type": "knapsack", "costs": [1.0], "budget": 1}}, r"\$\['constraint'\]\['costs'\]"),
    ({**LOGDET, "constraint": {"type": "knapsack", "costs": [1.0, 0.0], "budget": 1}},
     r"\$\['constraint'\]\['costs'\]"),
    ({**LOGDET, "objective": {"type": "log_det", "kernel": [[1.0, 0.5], [0.0, 1.0]]}},
     r"\$\['objective'\]\['kernel'\].*symmetric"),
    ({**LOGDET, "objective": {"type": "log_det", "kernel": [[1.0, 0.0], [0.0]]}},
     r"\$\['objective'\]\['kernel'\] must be a regular"),
    ({**LOGDET, "objective": {"type": "log_det", "kernel": [[1.0]], "noise": 0}}, r"\$\['objective'\]"),
    ({**FL, "objective": {"type": "facility_location", "similarity": [[1.0, -2.0]]}},
     r"\$\['objective'\]\['similarity'\].*>= 0"),
    ({**FL, "constraint": {"type": "partition_matroid", "partition": [0, 3], "capacities": [1, 1]}},
     r"\$\['constraint'\]\['partition'\]\[1\] = 3 names a block"),
    ({**BASE, "version": 2}, "written by a newer engine"),
    ({**BASE, "schema": "gameplan/map"}, "expected a gameplan/submodular document"),
    ({**BASE, "extra": 1}, "Additional properties"),
])
def test_malformed_documents_are_rejected(doc, match):
    with pytest.raises(InvalidInputError, match=r"load_instance\(\): .*" + match):
        load_instance(doc)
    with pytest.raises(InvalidInputError, match=match):
        solve_instance(json.dumps(doc))


def test_unreadable_sources(tmp_path):
    with pytest.raises(InvalidInputError, match=r"load_instance\(\): cannot read"):
        load_instance(tmp_path / "nope.json")


@pytest.mark.parametrize("doc, match", [
    ({**BASE, "objective": {"type": "weighted_coverage", "sets": [[0]], "weights": [10**400]}}, "float64 range"),
    ({**LOGDET, "constraint": {"type": "knapsack", "costs": [10**400, 1.0], "budget": 2.0}}, "float64 range"),
    ({**LOGDET, "constraint": {"type": "knapsack", "costs": [1.0, 1.0], "budget": 10**400}}, "float64 range"),
    ({**LOGDET, "objective": {"type": "log_det", "kernel": [[10**400, 0], [0, 1]]}},
     r"\$\['objective'\]\['kernel'\] must be a regular .* within the float64 range"),
    ({**LOGDET, "objective": {"type": "log_det", "kernel": [[1.0, 2.0], [2.0, 1.0]]}}, "positive semi-definite"),
])
def test_numbers_beyond_float64_and_indefinite_kernels_are_invalid_input(doc, match):
    """Integers like 10**400 once escaped as OverflowError; an indefinite kernel was accepted."""
    with pytest.raises(InvalidInputError, match=r"load_instance\(\): .*" + match):
        load_instance(doc)


def test_unreadable_json_is_invalid_input():
    for text in ('{"schema": "gameplan/submodular", "version": 1, "objective": ' + "[" * 100_000 + "]" * 100_000 + "}",
                 '{"schema": "gameplan/submodular", "version": 1, "x": ' + "9" * 5000 + "}"):
        with pytest.raises(InvalidInputError, match=r"load_instance\(\)"):
            load_instance(text)
