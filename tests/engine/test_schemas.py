import json

import numpy as np
import pytest

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
