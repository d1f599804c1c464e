"""Tests for games.gtalign: strict parsing, hand-computed selections and flips, Pareto properties."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInputError
from games.gtalign import (CELLS, PAYOFF_LIMIT, RULES, PayoffMatrix, flip_point, mutual_welfare_reward, pareto_mask,
                           price_shift, rule_scores, scale_llm, scale_user, score_jsonl, select, select_batch)

PM = PayoffMatrix([[3, 1, 2], [0, 2, 1]], [[3, 1, 3.5], [0, 3, 2]])


def _json(pm: PayoffMatrix) -> dict:
    return json.loads(pm.to_json())


def test_json_round_trip():
    assert PayoffMatrix.from_json(PM.to_json()) == PM
    assert PayoffMatrix.from_json(_json(PM)) == PM


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.pop("VQ_AQ"), r"missing cell\(s\) \['VQ_AQ'\]"),
    (lambda d: d.__setitem__("XQ_DA", {"LLM": 1, "user": 1}), r"unexpected key\(s\) \['XQ_DA'\]"),
    (lambda d: d["DQ_CQ"].__setitem__("LLM", "4.0"), r"DQ_CQ.LLM must be a number, got '4.0'"),
    (lambda d: d["DQ_CQ"].__setitem__("user", True), r"DQ_CQ.user must be a number"),
    (lambda d: d["DQ_CQ"].__setitem__("user", None), r"DQ_CQ.user must be a number"),
    (lambda d: d["VQ_DA"].pop("user"), r"cell VQ_DA is missing \['user'\]"),
    (lambda d: d["VQ_DA"].__setitem__("cost", 1), r"cell VQ_DA has unexpected key"),
    (lambda d: d.__setitem__("DQ_DA", [1, 2]), r"cell DQ_DA must be an object"),
])
def test_parse_errors_are_precise(mutate, match):
    d = _json(PM)
    mutate(d)
    with pytest.raises(InvalidInputError, match=match):
        PayoffMatrix.from_json(json.dumps(d))


def test_parse_nan_and_bad_json():
    text = PM.to_json().replace('"LLM": 3.0', '"LLM": NaN', 1)
    with pytest.raises(InvalidInputError, match="DQ_DA.LLM must be finite"):
        PayoffMatrix.from_json(text)
    with pytest.raises(InvalidInputError, match="invalid JSON"):
        PayoffMatrix.from_json("{'DQ_DA': 1")
    with pytest.raises(InvalidInputError, match="must be a JSON object"):
        PayoffMatrix.from_json("[1, 2]")


def test_hand_computed_selections():
    # cells DQ_DA(3,3) DQ_CQ(1,1) DQ_AQ(2,3.5) VQ_DA(0,0) VQ_CQ(2,3) VQ_AQ(1,2)
    assert select(PM, "sum").cell == "DQ_DA"            # 6 > 5.5
    assert select(PM, "product").cell == "DQ_DA"        # 9 > 7
    assert select(PM, "user_first").cell == "DQ_AQ"     # user 3.5
    assert select(PM, "llm_first").cell == "DQ_DA"      # LLM 3
    assert select(PM, "sum", user_type="VQ").cell == "VQ_CQ"
    assert select(PM, "geometric", weight=0.0).cell == "DQ_AQ"   # pure user utility
    # belief P(DQ) = 0.2: expected (L, U): DA (0.6, 0.6), CQ (1.8, 2.6), AQ (1.2, 2.3)
    s = select(PM, "sum", user_type=0.2)
    assert s.action == "CQ" and s.cell == "CQ"
    np.testing.assert_allclose(s.scores, [1.2, 4.4, 3.5])


def test_product_shift_never_rewards_two_negatives():
    # (-3, -3) would give +9 without the shift; shift s = 1 - (-3) = 4 -> scores 1, (6)(4.5)=27... 
    pm = PayoffMatrix([[-3, 2, 0], [0, 0, 0]], [[-3, 0.5, 0], [0, 0, 0]])
    s = select(pm, "product")
    assert s.cell == "DQ_CQ"
    np.testing.assert_allclose(rule_scores([-3, 2, 0], [-3, 0.5, 0], "product"), [1.0, 27.0, 16.0])
    # without negatives there is no shift
    np.testing.assert_allclose(rule_scores([1, 2], [3, 0.5], "product"), [3.0, 1.0])


def test_tie_breaking_first_and_seeded_random():
    pm = PayoffMatrix(np.ones((2, 3)), np.ones((2, 3)))
    assert select(pm, "sum").cell == "DQ_DA" and select(pm, "sum").ties == 6
    picks = {select(pm, "sum", tie_break="random", seed=s).cell for s in range(40)}
    assert len(picks) > 3
    assert select(pm, "sum", tie_break="random", seed=7).cell == select(pm, "sum", tie_break="random", seed=7).cell


def test_pricing_transforms_and_flip_points():
    assert np.array_equal(scale_llm(PM, 2).llm, 2 * PM.llm)
    assert np.array_equal(scale_user(PM, 0.5).user, 0.5 * PM.user)
    np.testing.assert_allclose(price_shift(PM, 0.5, [2, 0, 0]).llm[:, 0], [2.0, -1.0])
    # DQ row, sum: DA 6 - 2p vs AQ 5.5 -> flips at p = 0.25
    r = flip_point(PM, "shift_llm", rule="sum", costs=[2, 0, 0], user_type="DQ")
    assert r.flip_at == pytest.approx(0.25, abs=1e-9) and (r.before, r.after) == ("DQ_DA", "DQ_AQ")
    # scaling the LLM's payoffs down: DA 3f + 3 vs AQ 2f + 3.5 -> flips at f = 0.5
    r = flip_point(PM, "scale_llm", rule="sum", user_type="DQ")
    assert r.flip_at == pytest.approx(0.5, abs=1e-9) and r.after == "DQ_AQ"
    # product rule: (3f)(3) vs (2f)(3.5) -> 9f > 7f for every f > 0: no flip before 0
    r = flip_point(PM, "scale_llm", rule="product", user_type="DQ", to=0.01)
    assert math.isnan(r.flip_at) and r.status.value == "infeasible"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=12, max_size=12),
       st.sampled_from(["sum", "product"]), st.sampled_from([None, "DQ", "VQ", 0.3]))
def test_selected_action_is_on_the_pareto_frontier(vals, rule, user_type):
    pm = PayoffMatrix(np.reshape(vals[:6], (2, 3)), np.reshape(vals[6:], (2, 3)))
    s = select(pm, rule, user_type=user_type)
    assert s.pareto[s.index]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["LLM", "user"]), st.sampled_from(CELLS),
       st.one_of(st.text(max_size=3), st.none(), st.booleans(), st.just(float("inf")), st.lists(st.integers())))
def test_non_numbers_rejected(party, cell, value):
    d = _json(PM)
    d[cell][party] = value
    with pytest.raises(InvalidInputError, match=f"{cell}.{party}"):
        PayoffMatrix.from_json(d)


def test_batch_matches_single():
    rng = np.random.default_rng(0)
    L, U = rng.normal(size=(50, 2, 3)), rng.normal(size=(50, 2, 3))
    for rule in ("sum", "product", "geometric", "user_first", "llm_first"):
        out = select_batch(L, U, rule)
        for b in range(50):
            assert out["index"][b] == select(PayoffMatrix(L[b], U[b]), rule).index


def test_pareto_mask():
    assert pareto_mask([1, 2, 0, 2], [2, 1, 0, 1]).tolist() == [True, True, False, True]


def test_mutual_welfare_reward_and_ablations():
    kw = dict(answer_quality=0.8, length=1000, reasoning_length=2000)
    g = mutual_welfare_reward(**kw)
    # length far outside [50, 400]: T ~ 0; reasoning far over budget: penalty ~ 1
    assert g.length_term < 1e-9 and g.reasoning_penalty > 1 - 1e-9
    assert g.user == pytest.approx(0.8) and g.llm == pytest.approx(0.8 - 0.5 + 0.5)
    assert g.reward == pytest.approx(math.sqrt(g.user * g.llm))
    assert mutual_welfare_reward(mode="linear", **kw).reward == pytest.approx((g.user + g.llm) / 2)
    assert mutual_welfare_reward(mode="user_only", **kw).reward == pytest.approx(g.user)
    assert mutual_welfare_reward(mode="llm_only", **kw).reward == pytest.approx(g.llm)
    # geometric mean is zero when one side gets nothing
    z = mutual_welfare_reward(answer_quality=0.0, length=1000, reasoning_length=2000, format_ok=False,
                              payoff_consistent=False)
    assert z.reward == 0.0 and mutual_welfare_reward(answer_quality=0.0, length=200, reasoning_length=2000,
                                                     format_ok=False, payoff_consistent=False,
                                                     mode="linear").reward < 0.3
    arr = mutual_welfare_reward(answer_quality=[0.1, 0.9], length=[100, 200])
    assert arr.reward.shape == (2,) and arr.reward[1] > arr.reward[0]
    with pytest.raises(InvalidInputError, match="mutual_welfare_reward\\(\\): length must be >= 0"):
        mutual_welfare_reward(answer_quality=1, length=-1)
    with pytest.raises(InvalidInputError, match="format_ok"):
        mutual_welfare_reward(answer_quality=1, length=1, format_ok=0.5)


def test_jsonl_batch(tmp_path):
    src = tmp_path / "in.jsonl"
    bad = _json(PM)
    bad.pop("DQ_DA")
    lines = [PM.to_json(), json.dumps({"id": "q2", "matrix": _json(PM), "user_type": "VQ"}),
             json.dumps({"id": "q3", "matrix": bad}), "{not json", ""]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    summary = score_jsonl(src, out, rule="sum")
    assert summary["matrices"] == 2 and summary["errors"] == 2
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r.get("cell") for r in recs[:2]] == ["DQ_DA", "VQ_CQ"]
    assert recs[2]["id"] == "q3" and "missing cell" in recs[2]["error"]
    assert "invalid JSON" in recs[3]["error"]
    with pytest.raises(InvalidInputError, match="does not exist"):
        score_jsonl(tmp_path / "nope.jsonl")


def test_select_validation():
    with pytest.raises(InvalidInputError, match="select\\(\\): unknown rule"):
        select(PM, "max")
    with pytest.raises(InvalidInputError, match="unknown user_type"):
        select(PM, user_type="XQ")
    with pytest.raises(InvalidInputError, match="weight"):
        select(PM, "geometric", weight=2)
    with pytest.raises(InvalidInputError, match="PayoffMatrix\\(\\): llm must have shape"):
        PayoffMatrix([[1, 2]], [[1, 2]])


# ---------------------------------------------------------------------------- huge payoffs
@pytest.mark.parametrize("big", [1e308, -1e308, 1.5e150, 10 ** 400])
def test_payoffs_beyond_the_limit_are_refused_so_no_score_is_inf_or_nan(big):
    # with 1e308 payoffs every rule scored inf or NaN and still reported OPTIMAL
    d = _json(PM)
    d["DQ_DA"]["LLM"] = big
    with pytest.raises(InvalidInputError, match=r"DQ_DA\.LLM must (lie within|be finite)"):
        PayoffMatrix.from_json(d)
    if isinstance(big, float):  # (10 ** 400 does not fit in an array)
        L = PM.llm.copy()
        L[0, 0] = big
        with pytest.raises(InvalidInputError, match="llm must lie within"):
            PayoffMatrix(L, PM.user)
        with pytest.raises(InvalidInputError, match=r"select_batch\(\): llm must lie within"):
            select_batch(L[None], PM.user[None])
        with pytest.raises(InvalidInputError, match=r"rule_scores\(\): Lc must lie within"):
            rule_scores(L.ravel(), PM.user.ravel())


def test_payoffs_at_the_limit_give_finite_scores_for_every_rule():
    for sign_l, sign_u in ((1, 1), (1, -1), (-1, -1)):
        L = np.full((2, 3), sign_l * PAYOFF_LIMIT)
        U = np.full((2, 3), sign_u * PAYOFF_LIMIT)
        L[1, 2], U[0, 1] = -sign_l * PAYOFF_LIMIT, 0.0
        pm = PayoffMatrix(L, U)
        for rule in RULES:
            for user_type in (None, "VQ", 0.3):
                sel = select(pm, rule, user_type=user_type)
                assert sel.success and math.isfinite(sel.objective) and np.all(np.isfinite(sel.scores))
        out = select_batch(L[None], U[None], "product")
        assert np.all(np.isfinite(out["scores"]))


def test_pricing_beyond_the_limit_is_refused():
    pm = PayoffMatrix(np.full((2, 3), 1e149), np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match=r"scale_llm\(\): the transformed payoffs are out of range"):
        scale_llm(pm, 1e200)
    with pytest.raises(InvalidInputError, match=r"scale_user\(\)"):
        scale_user(pm, 1e308)
    with pytest.raises(InvalidInputError, match=r"price_shift\(\)"):
        price_shift(pm, 1e300, [1, 1, 1e10])
    with pytest.raises(InvalidInputError, match=r"flip_point\(\): llm payoffs at the ends"):
        flip_point(pm, "scale_llm", to=1e300)
    with pytest.raises(InvalidInputError, match=r"flip_point\(\): user payoffs at the ends"):
        flip_point(pm, "shift_user", to=1e300, costs=[1e10, 1, 1])


def test_jsonl_line_with_huge_payoffs_is_an_error_record(tmp_path):
    good, bad = _json(PM), _json(PM)
    bad["VQ_CQ"]["user"] = 1e308
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    summary = score_jsonl(src, out)
    assert summary["matrices"] == 1 and summary["errors"] == 1
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert "VQ_CQ.user must lie within" in lines[1]["error"]
    assert math.isfinite(lines[0]["score"])


def test_reward_overflow_is_refused_and_large_finite_rewards_stay_finite():
    with pytest.raises(InvalidInputError, match=r"mutual_welfare_reward\(\): the user component is not finite"):
        mutual_welfare_reward(answer_quality=1e308, length=100, w_quality=2.0)
    for mode in ("geometric", "linear"):
        r = mutual_welfare_reward(answer_quality=1e308, length=100, mode=mode)   # U * M would overflow
        assert math.isfinite(r.reward) and r.reward == pytest.approx(1e308, rel=1e-9)
