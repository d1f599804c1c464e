"""coRMAB problems round-trip through ``gameplan/cormab`` v1 JSON documents."""

import json

import numpy as np
import pytest

import bandits
from bandits.arms import Arms, MultiStateArms
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.schemas import validate
from solvers.feasible_set import FeasibleSet


def _assert_same_problem(p, q):
    assert q.name == p.name and q.budget == p.budget
    assert q.n_arms == p.n_arms and q.n_states == p.n_states and q.n_actions == p.n_actions
    assert np.array_equal(q.arms.transitions, p.arms.transitions)
    assert np.array_equal(q.arms.rewards, p.arms.rewards)
    fp, fq = p.feasible_set, q.feasible_set
    assert (fp.n_actions, fp.n_aux, fp.n_rows) == (fq.n_actions, fq.n_aux, fq.n_rows)
    assert (fp.A != fq.A).nnz == 0
    for attr in ("row_lower", "row_upper", "aux_lower", "aux_upper", "aux_integer"):
        assert np.array_equal(getattr(fp, attr), getattr(fq, attr)), attr
    # the same feasible actions, by the feasible sets and by the problems' (domain) checkers
    assert np.array_equal(fp.enumerate(), fq.enumerate())
    assert np.array_equal(p.feasible_actions(), q.feasible_actions())


@pytest.mark.parametrize("name", ["capacity", "path", "budget", "matching"])
def test_make_domain_round_trip(name):
    p = bandits.make_domain(name, n_arms=6, budget=2, seed=3)
    doc = p.to_dict()
    validate(json.loads(json.dumps(doc)))
    q = CoRMAB.from_dict(doc)
    _assert_same_problem(p, q)
    assert isinstance(q.arms, MultiStateArms)
    assert np.array_equal(q.arms.p_active, p.arms.p_active)
    assert q.spec == p.spec
    # the domain's exact checker comes back with its attributes
    if name == "path":
        assert q.source == p.source and sorted(q.graph.edges) == sorted(p.graph.edges)
        assert type(q.constraint).__name__ == "PathConstraint"
    if name == "capacity":
        assert np.array_equal(q.costs, p.costs) and np.array_equal(q.capacities, p.capacities)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.integers(0, 2, size=p.n_actions)
        assert q.contains(a) == p.contains(a)
    s = p.initial_states(np.random.default_rng(1), 4)
    a = np.array([q.sample_action(np.random.default_rng(i)) for i in range(4)])
    assert np.allclose(q.expected_reward(s, a), p.expected_reward(s, a))


def test_json_file_on_disk_and_text(tmp_path):
    p = bandits.make_domain("capacity", n_arms=5, budget=2, seed=0)
    path = tmp_path / "cap.json"
    path.write_text(json.dumps(p.to_dict()))
    _assert_same_problem(p, CoRMAB.from_dict(path))
    _assert_same_problem(p, CoRMAB.from_dict(str(path)))
    _assert_same_problem(p, CoRMAB.from_dict(path.read_text()))


def test_general_arms_and_aux_feasible_set_round_trip():
    rng = np.random.default_rng(5)
    P = rng.random((3, 2, 2, 2))
    P /= P.sum(axis=-1, keepdims=True)
    arms = Arms(P, rng.random((3, 2)))
    # a0 + a1 <= 2 y with y integer in [0, 1], plus a2 <= 1 - a0 (no upper bound on the aux row)
    fs = FeasibleSet(3, [[1, 1, 0, -2], [1, 0, 1, 0]], [-np.inf, -np.inf], [0, 1], n_aux=1, aux_upper=1,
                     aux_integer=[True])
    p = CoRMAB(arms, fs, name="custom")
    doc = json.loads(json.dumps(p.to_dict()))
    assert doc["feasible_set"]["row_lower"] == [None, None]
    assert doc["feasible_set"]["aux_integer"] == [True]
    q = CoRMAB.from_dict(doc)
    assert type(q.arms) is Arms
    _assert_same_problem(p, q)


def test_tampered_domain_metadata_falls_back_to_the_feasible_set():
    p = bandits.make_domain("capacity", n_arms=5, budget=2, seed=0)
    doc = p.to_dict()
    doc["metadata"]["domain"]["capacities"] = [c + 1 for c in doc["metadata"]["domain"]["capacities"]]
    q = CoRMAB.from_dict(doc)
    assert q._checker is None and not hasattr(q, "constraint")
    # same actions (the feasible set's own enumeration, in its own order)
    assert sorted(map(tuple, q.feasible_actions().tolist())) == sorted(map(tuple, p.feasible_actions().tolist()))


def test_spec_is_kept_only_when_it_rebuilds_the_stored_arrays():
    p = bandits.make_domain("capacity", n_arms=5, budget=2, seed=0)
    doc = p.to_dict()
    assert CoRMAB.from_dict(doc).spec == p.spec
    doc["rewards"][0][0] += 1.0
    assert CoRMAB.from_dict(doc).spec is None


def test_multistate_metadata_that_disagrees_gives_plain_arms():
    p = bandits.make_domain("budget", n_arms=4, budget=1, seed=0)
    doc = p.to_dict()
    doc["metadata"]["arms"]["p_active"] = [0.5] * 4
    q = CoRMAB.from_dict(doc)
    assert type(q.arms) is Arms and np.array_equal(q.arms.transitions, p.arms.transitions)


def test_intervention_arms_are_unsupported():
    p = bandits.make_domain("multiple_interventions", n_arms=4, budget=1, seed=0)
    with pytest.raises(UnsupportedProblemError, match=r"CoRMAB.to_dict\(\).*InterventionArms"):
        p.to_dict()


@pytest.fixture(scope="module")
def doc():
    return json.loads(json.dumps(bandits.make_domain("budget", n_arms=3, budget=1, seed=2).to_dict()))


def _with(doc, path, value):
    out = json.loads(json.dumps(doc))
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()


@pytest.mark.parametrize("path,value,match", [
    (("transitions", 0, 1, 0, 0), 1.5, r"\$\['transitions'\]\[0\]\[1\]\[0\]\[0\].*greater than the maximum"),
    (("transitions", 0, 1, 0, 0), -0.1, r"\$\['transitions'\]\[0\]\[1\]\[0\]\[0\].*less than the minimum"),
    (("transitions", 0, 1, 0, 0), 0.0, r"\$\['transitions'\]\[0\]\[1\]\[0\] sums to"),
    (("transitions", 0, 1, 0), [1.0], r"\$\['transitions'\].*regular"),
    (("rewards",), [[0.0, 1.0]], r"\$\['rewards'\] must have shape"),
    (("feasible_set",), _DELETE, r"at \$: 'feasible_set' is a required property"),
    (("feasible_set", "A", "row", 0), -1, r"\$\['feasible_set'\]\['A'\]\['row'\]\[0\]"),
    (("feasible_set", "A", "col", 0), 9, r"\$\['feasible_set'\]\['A'\]\['col'\]\[0\] = 9 is out of range"),
    (("feasible_set", "row_upper"), [1.0, 2.0], r"\$\['feasible_set'\]\['row_upper'\] must have length 1"),
    (("feasible_set", "n_actions"), 2, r"\$\['feasible_set'\]\['n_actions'\] = 2 but the arms take 3"),
    (("feasible_set", "row_lower"), [5.0], r"\$\['feasible_set'\].*row_lower\[0\] = 5.0 exceeds"),
    (("version",), 2, "written by a newer engine"),
    (("version",), "1", r"'version' must be a positive integer"),
    (("schema",), "gameplan/game", "expected a gameplan/cormab document"),
    (("colour",), "red", "Additional properties"),
])
def test_malformed_documents_are_rejected(doc, path, value, match):
    with pytest.raises(InvalidInputError, match=r"CoRMAB.from_dict\(\): .*" + match):
        CoRMAB.from_dict(_with(doc, path, value))


def test_infeasible_constraints_are_rejected(doc):
    # sum(a) >= 4 over 3 actions: no feasible action
    bad = _with(_with(doc, ("feasible_set", "row_lower"), [4.0]), ("feasible_set", "row_upper"), [None])
    with pytest.raises(InvalidInputError, match=r"CoRMAB.from_dict\(\): .*infeasible"):
        CoRMAB.from_dict(bad)


def test_unreadable_sources(tmp_path):
    with pytest.raises(InvalidInputError, match=r"CoRMAB.from_dict\(\): cannot read"):
        CoRMAB.from_dict(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(InvalidInputError, match=r"CoRMAB.from_dict\(\): not valid JSON"):
        CoRMAB.from_dict(tmp_path / "bad.json")
