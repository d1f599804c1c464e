"""Game trees as ``gameplan/tree`` JSON documents (round trips, hostile documents) and in the
``games`` suite / ``engine-bench solve`` (``.efg`` files and tree documents)."""

from __future__ import annotations

import copy
import json
from fractions import Fraction

import pytest

import games.documents  # noqa: F401 - registers the kinds
from engine.cli import main
from engine.errors import InvalidInputError
from engine.schemas import validate
from engine.suites import RunContext
from games.efg import ExtensiveFormGame, TreeBuilder, kuhn_poker, random_tree
from games.efg_io import read_efg, write_efg
from games.suites import tree_cases


def _small() -> ExtensiveFormGame:
    b = TreeBuilder(["A", "B"], title="small", comment="c")
    h, t = b.chance(b.root, ["H", "T"], ["0.50", "1/2"])
    for node in (h, t):
        x, y = b.move(node, "A", ["l", "r"], infoset="I")
        b.outcome(x, ["6/4", "-1e-2"], label="o1")
        u, v = b.move(y, "B", ["u", "d"], infoset="J")
        b.outcome(u, [1, 2])
        b.outcome(v, [3, -4])
    return b.build()


@pytest.mark.parametrize("seed", range(6))
def test_round_trip_through_json(seed: int) -> None:
    g = random_tree(4, seed=seed, n_players=2 + seed % 2, group=1 + seed % 3)
    doc = g.to_dict()
    validate(doc, expected="gameplan/tree")
    g2 = ExtensiveFormGame.from_dict(json.dumps(doc))
    assert g2 == g and write_efg(g2) == write_efg(g)
    assert g2.to_dict() == doc


def test_exact_texts_kept_and_json_numbers_accepted(tmp_path) -> None:
    g = _small()
    doc = g.to_dict()
    assert doc["infosets"][-1]["probs"] == ["0.50", "1/2"] and doc["outcomes"][0]["payoffs"] == ["6/4", "-1e-2"]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    assert ExtensiveFormGame.from_dict(path) == g
    numeric = copy.deepcopy(doc)
    numeric["outcomes"][0]["payoffs"] = [1.5, -0.01]
    numeric["infosets"][-1]["probs"] = [0.5, 0.5]
    g3 = ExtensiveFormGame.from_dict(numeric)
    assert g3.outcome_payoffs[0] == (Fraction(3, 2), Fraction(-1, 100))
    assert g3.infoset_probs[-1] == (Fraction(1, 2), Fraction(1, 2))


def _bad(mutate):
    doc = _small().to_dict()
    mutate(doc)
    return doc


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d["nodes"]["infoset"].append(-1), "one entry per node"),
    (lambda d: [d["nodes"][k].append(v) for k, v in (("infoset", -1), ("outcome", -1), ("label", ""))],
     "complete after"),
    (lambda d: [d["nodes"][k].pop() for k in ("infoset", "outcome", "label")], "more nodes expected"),
    (lambda d: d["nodes"]["infoset"].__setitem__(0, 7), "does not exist"),
    (lambda d: d["nodes"]["outcome"].__setitem__(3, 99), "does not exist"),
    (lambda d: d["infosets"][0].__setitem__("probs", ["1/2", "1/2"]), "'probs' belongs to chance"),
    (lambda d: d["infosets"][-1].__setitem__("probs", ["1/2", "1/3"]), "sum to exactly 1"),
    (lambda d: d["infosets"][-1].__setitem__("probs", ["1/2"]), "2 actions but 1 probabilities"),
    (lambda d: d["infosets"][0].__setitem__("player", 2), "player 2 out of range"),
    (lambda d: d["infosets"].append({"player": 0, "actions": ["z"]}), "belongs to no node"),
    (lambda d: d["outcomes"][0].__setitem__("payoffs", [1]), "1 payoffs for 2 players"),
    (lambda d: d["outcomes"][0].__setitem__("payoffs", ["1" * 300, 1]), "digits"),
    (lambda d: d["outcomes"][0].__setitem__("payoffs", [10 ** 300, 1]), "digits"),
    (lambda d: d["outcomes"][0].__setitem__("payoffs", ["1e99999", 1]), "exponent"),
    (lambda d: d["outcomes"][0].__setitem__("payoffs", ["x", 1]), r"\$\['outcomes'\]\[0\]\['payoffs'\]\[0\]"),
    (lambda d: d.__setitem__("colour", 1), "Additional properties"),
    (lambda d: d["nodes"].__setitem__("infoset", "nope"), r"\$\['nodes'\]\['infoset'\]"),
])
def test_hostile_documents_give_invalid_input(mutate, match) -> None:
    with pytest.raises(InvalidInputError, match=match):
        ExtensiveFormGame.from_dict(_bad(mutate))


def test_limits_checked_before_building() -> None:
    doc = kuhn_poker().to_dict()
    with pytest.raises(InvalidInputError, match="more than max_nodes=10"):
        ExtensiveFormGame.from_dict(doc, max_nodes=10)
    with pytest.raises(InvalidInputError, match="more than max_players=1"):
        ExtensiveFormGame.from_dict(doc, max_players=1)
    with pytest.raises(InvalidInputError, match="max_nodes must be a positive integer"):
        ExtensiveFormGame.from_dict(doc, max_nodes=0)
    huge = {**doc, "nodes": {"infoset": [-1] * 10_000, "outcome": [-1] * 10_000}}
    with pytest.raises(InvalidInputError, match="complete after 1 nodes"):
        ExtensiveFormGame.from_dict(huge)


# ---------------------------------------------------------------------------- suite and CLI
def test_tree_cases_report_certificates() -> None:
    g = random_tree(4, seed=101, group=2, zero_sum=True)
    cases = tree_cases("z.efg", g, lams=[2.0])
    assert [c.name for c in cases] == ["spe/z.efg", "nash/z.efg", "stackelberg/z.efg", "qre/z.efg/lam=2"]
    spe, nash, sse, qre = (c.run(RunContext(seed=0, repeat=0)) for c in cases)
    assert qre["residual"] <= 1e-9 and qre["max_regret"] == pytest.approx(qre["max_regret_check"], abs=1e-12)
    assert spe["status"] == "optimal" and spe["subgame_max_regret"] <= 1e-9 and spe["subgame_max_regret_check"] <= 1e-9
    assert nash["max_regret_check"] <= 1e-9 and abs(nash["value"] - spe["payoff_1"]) <= 1e-9  # one value
    assert sse["leader_value"] >= nash["value"] - 1e-9 and sse["follower_regret"] <= 1e-9
    general = random_tree(4, seed=101, group=2)
    nash = tree_cases("g.efg", general, methods=["nash"])[0].run(RunContext(seed=0, repeat=0))
    assert nash["method"] == "sequence_form_lcp" and nash["max_regret_check"] <= 1e-9
    three = random_tree(3, seed=1, n_players=3, group=1)
    assert [c.name for c in tree_cases("p3", three, lams=[1.0])] == ["spe/p3", "qre/p3/lam=1"]
    with pytest.raises(InvalidInputError, match="nash does not apply"):
        tree_cases("p3", three, methods=["nash"], explicit=True)


def test_run_games_instances_with_trees(tmp_path, capsys) -> None:
    write_efg(kuhn_poker(), tmp_path / "kuhn.efg")
    (tmp_path / "small.json").write_text(json.dumps(_small().to_dict()))
    rc = main(["run", "games", "--instances", str(tmp_path / "*"), "--methods", "spe,nash", "--format", "json",
               "--no-progress", "-q"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["case"] for r in rows] == [f"spe/{tmp_path / 'kuhn.efg'}", f"nash/{tmp_path / 'kuhn.efg'}",
                                                     f"spe/{tmp_path / 'small.json'}",
                                                     f"nash/{tmp_path / 'small.json'}"]
    assert all(r["status"] == "optimal" and r["max_regret_check"] <= 1e-9 for r in rows)
    assert abs(rows[1]["value"] + 1 / 18) <= 1e-9
    rc = main(["run", "games", "--sizes", "3", "--methods", "spe", "--no-progress", "-q"])
    assert rc == 2 and "spe applies to game trees" in capsys.readouterr().err


def test_solve_tree_document(tmp_path, capsys) -> None:
    path = tmp_path / "kuhn.json"
    path.write_text(json.dumps(kuhn_poker().to_dict()))
    rc = main(["solve", str(path), "--method", "sequence_form_lp", "--format", "json", "-q"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and abs(doc["value"] + 1 / 18) <= 1e-9
    rc = main(["solve", str(path), "--method", "sequence_form_lcp", "--format", "json", "-q"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["max_regret"] <= 1e-9 and abs(doc["payoffs"]["__ndarray__"][0] + 1 / 18) <= 1e-9
    assert read_efg(write_efg(kuhn_poker())) == ExtensiveFormGame.from_dict(path)
