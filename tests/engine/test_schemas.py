import json

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.schemas as schemas
from engine import SolveResult, Status
from engine.errors import InvalidInputError
from engine.schemas import load_document, register_migration, upgrade, validate

GAME = {"schema": "gameplan/game", "version": 1, "title": "pd", "players": ["A", "B"],
        "payoffs": [[[3, 0], [5, 1]], [[3, 5], [0, 1]]]}


def test_every_schema_ships_and_is_a_valid_json_schema():
    import jsonschema

    for name in schemas.SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(schemas.schema(name))


def test_valid_documents_pass():
    validate(GAME)
    validate({"schema": "gameplan/map", "version": 1, "grid": [[0, 1], [-1, 0]], "start": [0, 0]})
    validate({"schema": "gameplan/submodular", "version": 1,
              "objective": {"type": "weighted_coverage", "sets": [[0, 1], [1]], "weights": [1.0, 2.0]},
              "constraint": {"type": "cardinality", "k": 1}})
    validate({"schema": "gameplan/cormab", "version": 1,
              "transitions": [[[[0.5, 0.5], [0.1, 0.9]], [[0.2, 0.8], [0.0, 1.0]]]], "rewards": [[0.0, 1.0]],
              "feasible_set": {"n_actions": 1, "A": {"shape": [1, 1], "row": [0], "col": [0], "data": [1.0]},
                               "row_lower": [None], "row_upper": [1.0]}})


@pytest.mark.parametrize("doc,match", [
    ({**GAME, "payoffs": "nope"}, r"\$\['payoffs'\]"),
    ({k: v for k, v in GAME.items() if k != "payoffs"}, "'payoffs' is a required property"),
    ({**GAME, "colour": 1}, "Additional properties"),
    ({**GAME, "payoffs": [[[1, "x"]]]}, r"\$\['payoffs'\]\[0\]"),
    ({"schema": "gameplan/map", "version": 1, "grid": [[0, 2]]}, r"\$\['grid'\]\[0\]\[1\]"),
    ({"schema": "gameplan/submodular", "version": 1,
      "objective": {"type": "weighted_coverage", "sets": [[0]], "weights": [-1.0]}}, "objective"),
    ({"schema": "gameplan/cormab", "version": 1, "transitions": [[[[1.5]], [[1.0]]]], "rewards": [[0.0]],
      "feasible_set": {"n_actions": 1, "A": {"shape": [0, 1], "row": [], "col": [], "data": []},
                       "row_lower": [], "row_upper": []}}, r"transitions.*1.5 is greater than the maximum"),
    ({"schema": "gameplan/nothing", "version": 1}, "unknown schema"),
    ({**GAME, "version": 0}, "positive integer"),
])
def test_malformed_documents_are_rejected_with_their_path(doc, match):
    with pytest.raises(InvalidInputError, match=match):
        validate(doc, where="f()")


def test_newer_versions_are_refused_clearly():
    with pytest.raises(InvalidInputError, match="written by a newer engine; this engine reads versions up to 1"):
        upgrade({**GAME, "version": 7})


def test_old_versions_migrate_or_are_refused(monkeypatch):
    monkeypatch.setitem(schemas.CURRENT, "gameplan/game", 3)
    with pytest.raises(InvalidInputError, match="version 1 can no longer be read"):
        upgrade(GAME)
    monkeypatch.setitem(schemas._MIGRATIONS, ("gameplan/game", 1), lambda d: {**d, "title": d["title"] + "+2"})
    monkeypatch.setitem(schemas._MIGRATIONS, ("gameplan/game", 2), lambda d: {**d, "title": d["title"] + "+3"})
    out = upgrade(GAME)
    assert out["version"] == 3 and out["title"] == "pd+2+3"
    assert register_migration("gameplan/game", 9)(len) is len


def test_load_document_reads_paths_and_text(tmp_path):
    p = tmp_path / "g.json"
    p.write_text(json.dumps(GAME))
    assert load_document(p, expected="gameplan/game")["title"] == "pd"
    assert load_document(json.dumps(GAME), expected="gameplan/game")["players"] == ["A", "B"]
    with pytest.raises(InvalidInputError, match="expected a gameplan/map document"):
        load_document(GAME, expected="gameplan/map")
    p.write_text("{not json")
    with pytest.raises(InvalidInputError, match="line 1 column 2"):
        load_document(p, expected="gameplan/game")
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_document(tmp_path / "missing.json", expected="gameplan/game")


def test_results_carry_their_schema_and_validate():
    res = SolveResult(status=Status.OPTIMAL, x=np.ones(2), objective=1.0, runtime=0.5)
    doc = res.to_dict()
    assert doc["schema"] == "gameplan/result" and doc["version"] == 1
    validate(json.loads(json.dumps(doc)))
    with pytest.raises(InvalidInputError, match="newer engine"):
        SolveResult.from_dict({**doc, "version": 2})


# ---------------------------------------------------------------------------- numeric arrays checked with numpy
def _first(validator_cls, doc):
    errors = list(validator_cls(schemas.schema(doc["schema"])).iter_errors(doc))
    if not errors:
        return None
    errors.sort(key=lambda e: [(isinstance(p, str), p) for p in e.absolute_path])
    return list(errors[0].absolute_path)


_BAD = st.sampled_from(["x", True, False, None, [], {}, 2, -2, 1.5, -0.25, 1e300, -1e300, float("nan"),
                        float("inf"), 10**400, 3.0])


def _poke(rows, data, bad_rate):
    """Replace some leaves of nested lists by hostile values."""
    if isinstance(rows, list):
        return [_poke(r, data, bad_rate) for r in rows]
    if data.draw(st.floats(0, 1)) < bad_rate:
        return data.draw(_BAD)
    return rows


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_numpy_checks_agree_with_jsonschema(data):
    kind = data.draw(st.sampled_from(["map", "game", "cormab", "submodular"]))
    rate = data.draw(st.sampled_from([0.0, 0.02, 0.3]))
    n, m = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    if kind == "map":
        grid = [[data.draw(st.sampled_from([-1, 0, 1, 0.0, 1.0])) for _ in range(m)] for _ in range(n)]
        if data.draw(st.booleans()):
            grid[data.draw(st.integers(0, n - 1))] = []
        doc = {"schema": "gameplan/map", "version": 1, "grid": _poke(grid, data, rate)}
    elif kind == "game":
        shape = [n, m] + ([2] if data.draw(st.booleans()) else [])
        pay = np.round(np.random.default_rng(n * 7 + m).normal(size=[len(shape)] + shape), 2).tolist()
        doc = {"schema": "gameplan/game", "version": 1, "payoffs": _poke(pay, data, rate)}
    elif kind == "cormab":
        p = np.random.default_rng(n).dirichlet(np.ones(m), size=(n, data.draw(st.sampled_from([2, 2, 3])), m))
        doc = {"schema": "gameplan/cormab", "version": 1, "transitions": _poke(p.tolist(), data, rate),
               "rewards": _poke(np.ones((n, m)).tolist(), data, rate),
               "feasible_set": {"n_actions": n, "A": {"shape": [1, n], "row": _poke([0] * n, data, rate),
                                                      "col": list(range(n)), "data": _poke([1.0] * n, data, rate)},
                                "row_lower": _poke([None], data, rate), "row_upper": [1.0]}}
    else:
        doc = {"schema": "gameplan/submodular", "version": 1,
               "objective": {"type": "weighted_coverage", "sets": _poke([[0, 1], [1], []][: n % 3 + 1], data, rate),
                             "weights": _poke([1.0, 2.0], data, rate)},
               "constraint": {"type": "knapsack", "costs": _poke([0.5, 1.0], data, rate), "budget": 1.0}}
    plain = _first(jsonschema.Draft202012Validator, doc)
    fast = _first(schemas._validator_class(doc["schema"], 1), doc)
    assert (plain is None) == (fast is None), (plain, fast, doc)
    if plain is not None:
        if kind == "game":  # jsonschema reports a oneOf failure where the oneOf applies; we name the value
            assert fast[: len(plain)] == plain, (plain, fast)
        else:
            assert fast == plain, (plain, fast, doc)


def test_large_documents_validate_with_numpy_and_name_the_bad_value():
    rng = np.random.default_rng(1)
    game = {"schema": "gameplan/game", "version": 1, "payoffs": [rng.normal(size=(300, 300)).tolist()] * 2}
    validate(game)
    game["payoffs"][1] = [row[:] for row in game["payoffs"][1]]
    game["payoffs"][1][299][298] = "7"
    with pytest.raises(InvalidInputError, match=r"at \$\['payoffs'\]\[1\]\[299\]\[298\]: '7' is not valid under any"):
        validate(game)
    grid = rng.choice([-1, 0, 1], size=(400, 400)).tolist()
    grid[399][0] = 5
    with pytest.raises(InvalidInputError, match=r"at \$\['grid'\]\[399\]\[0\]: 5 is not one of \[-1, 0, 1\]"):
        validate({"schema": "gameplan/map", "version": 1, "grid": grid})
    grid[399][0] = 10**400  # beyond float range: checked exactly, one by one
    with pytest.raises(InvalidInputError, match=r"\$\['grid'\]\[399\]\[0\]: 1000.* is not one of"):
        validate({"schema": "gameplan/map", "version": 1, "grid": grid})


def test_documents_built_in_python_with_numpy_scalars_still_validate():
    validate({"schema": "gameplan/map", "version": 1, "grid": [[np.int64(0), np.int8(1)], [np.float64(-1.0), 0]]})
    validate({**GAME, "payoffs": [[[np.float32(1.5), 0], [0, 1]], [[1, 0], [0, np.int64(1)]]]})


# ---------------------------------------------------------------------------- hostile sources
@pytest.mark.parametrize("source", [["g.json"], 3, None, 2.5, object()])
def test_load_document_wants_a_mapping_text_or_path(source):
    with pytest.raises(InvalidInputError, match=r"f\(\): expected a mapping, JSON text or a file path"):
        load_document(source, expected="gameplan/game", where="f()")


def test_load_document_parse_errors_name_file_line_and_path(tmp_path):
    p = tmp_path / "g.json"
    p.write_text('{"schema": "gameplan/game", "version": 1, "payoffs": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(InvalidInputError, match=rf"f\(\): {p}: arrays/objects nested deeper than 100 levels \(max_depth\) "
                                                rf"at line 1 column 153 \(\$\['payoffs'\]\[0\]\[0\]"):
        load_document(p, expected="gameplan/game", where="f()")
    p.write_text('{"schema": "gameplan/game", "version": 1,\n "payoffs": [[[1, ' + "2" * 4301 + "]]]}")
    with pytest.raises(InvalidInputError, match=r"integer with 4301 digits exceeds the limit of 4300 digits at line 2 "
                                                r"column 19 \(\$\['payoffs'\]\[0\]\[0\]\[1\]\)"):
        load_document(p, expected="gameplan/game", where="f()")
    p.write_bytes(b'{"schema": "gameplan/game", "version": 1, "title": "caf\xe9", "payoffs": [[[1]]]}')
    with pytest.raises(InvalidInputError, match=r"not valid UTF-8 .*\(\$\['title'\]\)"):
        load_document(p, expected="gameplan/game", where="f()")
    p.write_text(json.dumps(GAME)[:-20])
    with pytest.raises(InvalidInputError, match=r"not valid JSON: .* at line 1 column \d+ \(\$\['payoffs'\]"):
        load_document(p, expected="gameplan/game", where="f()")
    with pytest.raises(InvalidInputError, match="max_bytes"):
        load_document(json.dumps(GAME), expected="gameplan/game", max_bytes=50)
    assert load_document(json.dumps(GAME).encode(), expected="gameplan/game")["title"] == "pd"


def test_deep_python_documents_are_invalid_input_not_recursion_errors():
    deep: list = [1.0]
    for _ in range(3000):
        deep = [deep]
    with pytest.raises(InvalidInputError, match="nested too deeply to validate"):
        validate({**GAME, "payoffs": [deep]})
    with pytest.raises(InvalidInputError, match="nested too deeply to validate"):
        validate({**GAME, "title": deep})
