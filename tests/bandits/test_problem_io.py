"""coRMAB problems round-trip through ``gameplan/cormab`` v1 JSON documents."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bandits
from bandits import io as io_module
from bandits import problem as problem_module
from bandits.arms import Arms, MultiStateArms
from bandits.problem import CoRMAB
from engine.errors import InvalidInputError, UnsupportedProblemError
from engine.schemas import validate
from solvers.feasible_set import FeasibleSet
from tests.memory_cap import run_capped


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
    assert q.domain is None and not hasattr(q, "constraint")
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
    with pytest.raises(InvalidInputError, match=r"CoRMAB.from_dict\(\): .*cannot read"):
        CoRMAB.from_dict(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(InvalidInputError, match=r"CoRMAB.from_dict\(\): .*not valid JSON"):
        CoRMAB.from_dict(tmp_path / "bad.json")


# ----------------------------------------------------------------------------- untrusted documents: size limits


def _tiny_doc(n_aux=0, rows=1):
    """One arm, two states; ``n_aux`` auxiliary columns and ``rows`` declared constraint rows."""
    return {"schema": "gameplan/cormab", "version": 1, "name": "tiny",
            "transitions": [[[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]]], "rewards": [[0.0, 1.0]],
            "feasible_set": {"n_actions": 1, "n_aux": n_aux,
                             "A": {"shape": [rows, 1 + n_aux], "row": [0], "col": [0], "data": [1.0]},
                             "row_lower": [None] * min(rows, 3), "row_upper": [1.0] * min(rows, 3)}}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS caps the address space on Linux")
def test_tiny_document_with_huge_n_aux_is_refused_under_a_memory_cap():
    """A ~300-byte document declaring n_aux = 200 million used to allocate gigabytes (24 GB, then killed)."""
    text = json.dumps(_tiny_doc(n_aux=200_000_000))
    assert len(text) < 600
    code = ("import json, sys\n"
            "from bandits.problem import CoRMAB\n"
            "from engine.errors import InvalidInputError\n"
            "try:\n"
            f"    CoRMAB.from_dict({text!r})\n"
            "    print('LOADED')\n"
            "except InvalidInputError as err:\n"
            "    print('INVALID', err)\n"
            "except MemoryError:\n"
            "    print('MEMORY')\n")
    out = run_capped(code)
    assert out.startswith("INVALID"), out
    assert "$['feasible_set']['n_aux'] = 200000000" in out and "max_aux=1000000" in out


def test_declared_sizes_above_the_limits_name_the_field_and_the_limit():
    with pytest.raises(InvalidInputError, match=r"\$\['feasible_set'\]\['n_aux'\] = 5 is above max_aux=4"):
        CoRMAB.from_dict(_tiny_doc(n_aux=5), max_aux=4)
    with pytest.raises(InvalidInputError, match=r"\$\['feasible_set'\]\['A'\]\['shape'\]\[0\] = 2000000 rows is "
                                                r"above max_rows=1000000"):
        CoRMAB.from_dict(_tiny_doc(rows=2_000_000))
    with pytest.raises(InvalidInputError, match=r"max_arms must be >= 1, got 0"):
        CoRMAB.from_dict(_tiny_doc(), max_arms=0)
    doc = json.loads(json.dumps(bandits.make_domain("budget", n_arms=3, budget=1, seed=2).to_dict()))
    with pytest.raises(InvalidInputError, match=r"\$\['transitions'\] has 3 arms, above max_arms=2"):
        CoRMAB.from_dict(doc, max_arms=2)
    assert CoRMAB.from_dict(doc, max_arms=3).n_arms == 3
    # the limits are documented module constants
    assert (problem_module.MAX_ARMS, problem_module.MAX_AUX, problem_module.MAX_ROWS,
            problem_module.MAX_DOMAIN_CELLS) == (100_000, 1_000_000, 1_000_000, 10_000_000)
    # raising a limit reads a legitimate document of that size
    q = CoRMAB.from_dict(_tiny_doc(n_aux=5), max_aux=5)
    assert q.feasible_set.n_aux == 5


def test_a_declared_row_count_must_match_the_bound_lists_before_anything_is_built():
    with pytest.raises(InvalidInputError, match=r"\$\['feasible_set'\]\['row_lower'\] must have length 900000"):
        CoRMAB.from_dict(_tiny_doc(rows=900_000))


def test_spec_with_a_huge_n_arms_is_dropped_without_building_a_domain(monkeypatch):
    """metadata.spec with n_arms = 2 000 000 used to build the whole domain before comparing."""
    p = bandits.make_domain("budget", n_arms=3, budget=1, seed=2)
    doc = json.loads(json.dumps(p.to_dict()))
    calls = []
    real = io_module.generate
    monkeypatch.setattr(io_module, "generate", lambda *args, **kw: calls.append(kw) or real(*args, **kw))
    for change in ({"n_arms": 2_000_000}, {"budget": 10**12}, {"n_states": 10**6}, {"n_arms": "3"},
                   {"name": "multiple_interventions"}):
        bad = json.loads(json.dumps(doc))
        bad["metadata"]["spec"].update(change)
        assert CoRMAB.from_dict(bad).spec is None
    assert calls == []
    assert CoRMAB.from_dict(doc).spec == p.spec and len(calls) == 1


@pytest.mark.parametrize("name, changes", [
    ("matching", {"n_slots": 10**7}),
    ("capacity", {"n_workers": 10**8}),
])
def test_spec_sizes_above_max_domain_cells_are_refused(name, changes):
    doc = json.loads(json.dumps(bandits.make_domain(name, n_arms=6, budget=2, seed=1).to_dict()))
    doc["metadata"]["spec"].update(changes)
    with pytest.raises(InvalidInputError, match=r"\$\['metadata'\]\['spec'\] describes a domain whose exact checker "
                                                r"needs \d+ cells .*above max_domain_cells=10000000"):
        CoRMAB.from_dict(doc)


def test_domain_metadata_above_max_domain_cells_is_refused_and_raising_it_reads_it():
    p = bandits.make_domain("path", n_arms=20, budget=3, seed=0)
    doc = json.loads(json.dumps(p.to_dict()))
    with pytest.raises(InvalidInputError, match=r"\$\['metadata'\]\['domain'\] describes a domain whose exact "
                                                r"checker needs \d+ cells \(a path domain on 20 arms\), above "
                                                r"max_domain_cells=100"):
        CoRMAB.from_dict(doc, max_domain_cells=100)
    q = CoRMAB.from_dict(doc)
    assert type(q.constraint).__name__ == "PathConstraint"
    # a path budget beyond the arms (the unrolled walk would have 2B steps) is not rebuilt at all
    bad = json.loads(json.dumps(doc))
    bad["metadata"]["domain"]["budget"] = 10**9
    assert getattr(CoRMAB.from_dict(bad), "constraint", None) is None


@pytest.mark.parametrize("path, value, match", [
    (("feasible_set", "A", "row", 0), 10**30, r"\$\['feasible_set'\]\['A'\]\['row'\] must hold integers within"),
    (("feasible_set", "A", "data", 0), 10**400, r"\$\['feasible_set'\]\['A'\]\['data'\] must hold numbers within"),
    (("feasible_set", "row_upper", 0), 10**400, r"\$\['feasible_set'\]\['row_upper'\] must hold numbers within"),
    (("rewards", 0, 0), 10**400, r"\$\['rewards'\] must be a regular"),
    (("feasible_set", "n_aux"), 10**30, r"n_aux'\] = 10+ is above max_aux"),
])
def test_numbers_beyond_the_machine_ranges_are_invalid_input(doc, path, value, match):
    with pytest.raises(InvalidInputError, match=match):
        CoRMAB.from_dict(_with(doc, path, value))


def test_deeply_nested_and_huge_integer_json_is_invalid_input():
    deep = '{"schema": "gameplan/cormab", "version": 1, "transitions": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(InvalidInputError, match=r"CoRMAB.from_dict\(\)"):
        CoRMAB.from_dict(deep)
    huge = '{"schema": "gameplan/cormab", "version": 1, "transitions": [], "x": ' + "9" * 5000 + "}"
    with pytest.raises(InvalidInputError, match=r"CoRMAB.from_dict\(\)"):
        CoRMAB.from_dict(huge)


_FUZZ_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.sampled_from([10**12, 10**30, -(10**30)]),
                         st.floats(allow_nan=False, width=64), st.text(max_size=3),
                         st.lists(st.integers(-1, 3), max_size=3), st.just([[1.0]]))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            yield from _paths(value, prefix + (i,))


_FUZZ_BASE = json.loads(json.dumps(bandits.make_domain("capacity", n_arms=4, budget=2, seed=3).to_dict()))
_FUZZ_PATHS = [p for p in _paths(_FUZZ_BASE) if p]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(_FUZZ_PATHS), _FUZZ_VALUES), min_size=1, max_size=3))
def test_mutated_documents_load_or_raise_invalid_input_only(edits):
    doc = json.loads(json.dumps(_FUZZ_BASE))
    for path, value in edits:
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced a parent
    try:
        q = CoRMAB.from_dict(doc)
    except InvalidInputError as err:
        assert str(err).startswith("CoRMAB.from_dict()")
        return
    assert q.n_arms == len(doc["transitions"])
