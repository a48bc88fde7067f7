import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from mogenet.datasets.log import InteractionLog
from mogenet.metrics import (
    TRUE_AUC,
    auc,
    evaluate,
    evaluate_log,
    expected_auc,
    format_table,
    format_tables,
    gauc,
    logloss,
    logloss_with_logits,
    rela_impr,
    to_jsonable,
)


def _random(n=600, groups=40, levels=7, seed=0):
    """Labels, heavily tied scores (few distinct levels) and group ids."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.integers(0, levels, n) / levels
    g = rng.integers(0, groups, n)
    return y, s, g


def _brute_gauc(y, s, g):
    num = den = 0.0
    for u in np.unique(g):
        m = g == u
        if 0 < y[m].sum() < m.sum():
            num += m.sum() * roc_auc_score(y[m], s[m])
            den += m.sum()
    return num / den if den else math.nan


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("levels", [3, 50, 10**9])
def test_auc_matches_sklearn(seed, levels):
    y, s, _ = _random(levels=levels, seed=seed)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("levels", [3, 50, 10**9])
def test_gauc_matches_bruteforce_sklearn(seed, levels):
    y, s, g = _random(levels=levels, seed=seed)
    assert gauc(y, s, g) == pytest.approx(_brute_gauc(y, s, g), abs=1e-9)


def test_gauc_string_groups_and_unsorted_order():
    y, s, g = _random(seed=3)
    names = np.array([f"user{i}" for i in g], dtype=object)
    perm = np.random.default_rng(0).permutation(len(y))
    expected = _brute_gauc(y, s, g)
    assert gauc(y[perm], s[perm], names[perm]) == pytest.approx(expected, abs=1e-9)


def test_gauc_skips_single_class_groups():
    # group a: perfectly ranked (AUC 1, 4 rows); b: inverted (AUC 0, 2 rows);
    # c: only positives, d: only negatives -> skipped, weights 4 and 2.
    y = np.array([0, 0, 1, 1, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.1, 0.9, 0.5, 0.6, 0.7])
    g = np.array(["a", "a", "a", "a", "b", "b", "c", "c", "d"])
    assert gauc(y, s, g) == pytest.approx((4 * 1.0 + 2 * 0.0) / 6, abs=1e-12)
    assert gauc(y, s, g) == pytest.approx(_brute_gauc(y, s, g), abs=1e-12)


def test_perfect_ranking_and_ties():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert auc(y, s) == 1.0
    assert gauc(y, s, np.zeros(5)) == 1.0
    assert auc(y, -s) == 0.0
    assert auc(y, np.ones(5)) == 0.5  # all tied


def test_nan_cases():
    assert math.isnan(auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(auc([0, 0], [0.1, 0.2]))
    assert math.isnan(auc([], []))
    assert math.isnan(gauc([1, 0, 1], [0.1, 0.2, 0.3], ["a", "b", "c"]))
    assert math.isnan(gauc([], [], []))
    assert math.isnan(logloss([], []))


def test_bad_input():
    with pytest.raises(ValueError, match="0/1"):
        auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="entries"):
        auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="NaN"):
        auc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="groups"):
        gauc([0, 1], [0.1, 0.2], [0])


def test_torch_inputs():
    y, s, g = _random(seed=4)
    assert auc(torch.tensor(y), torch.tensor(s, dtype=torch.float32)) == pytest.approx(
        roc_auc_score(y, s.astype(np.float32)), abs=1e-9
    )
    assert gauc(torch.tensor(y), torch.tensor(s), torch.tensor(g)) == pytest.approx(
        _brute_gauc(y, s, g), abs=1e-9
    )


def test_logloss_matches_sklearn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p = rng.uniform(0.01, 0.99, 300)
    assert logloss(y, p) == pytest.approx(log_loss(y, p), abs=1e-9)
    logits = np.log(p) - np.log1p(-p)
    assert logloss_with_logits(y, logits) == pytest.approx(log_loss(y, p), abs=1e-9)
    torch_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(logits), torch.tensor(y, dtype=torch.float64)
    )
    assert logloss_with_logits(y, logits) == pytest.approx(torch_loss.item(), abs=1e-9)
    # 0/1 predictions stay finite thanks to clipping
    assert math.isfinite(logloss([0, 1], [1.0, 0.0]))


def test_evaluate_and_jsonable():
    y, s, g = _random(seed=6)
    labels = {"click": y, "buy": np.zeros_like(y)}
    scores = {"buy": s, "click": s}
    out = evaluate(labels, scores, g)
    assert list(out) == ["click", "buy"]  # label order
    assert set(out["click"]) == {"auc", "gauc", "logloss", "positives", "count"}
    assert out["click"]["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
    assert out["click"]["positives"] == int(y.sum()) and out["click"]["count"] == len(y)
    assert math.isnan(out["buy"]["auc"]) and math.isnan(out["buy"]["gauc"])
    # tasks without scores are left out; scores without labels are an error
    assert list(evaluate(labels, {"click": s}, g)) == ["click"]
    with pytest.raises(KeyError):
        evaluate(labels, {"cart": s}, g)

    js = to_jsonable({"model": out})
    assert js["model"]["buy"]["auc"] is None
    assert isinstance(js["model"]["click"]["positives"], int)
    assert json.loads(json.dumps(js, allow_nan=False)) == js


def test_evaluate_adds_auc_true_for_tasks_with_known_probabilities():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.5, size=400)
    y = (rng.uniform(size=400) < p).astype(np.int8)
    s = p + rng.normal(0, 0.1, size=400)
    g = rng.integers(0, 20, size=400)
    labels = {"click": y, "buy": y}
    out = evaluate(labels, {"click": s, "buy": s}, g, truth={"click": p})
    assert out["click"][TRUE_AUC] == pytest.approx(expected_auc(p, s), abs=1e-12)
    assert out["click"][TRUE_AUC] != pytest.approx(out["click"]["auc"], abs=1e-6)
    assert TRUE_AUC not in out["buy"]  # no true probabilities for buy
    assert TRUE_AUC not in evaluate(labels, {"click": s}, g)["click"]  # none given


def test_format_tables_adds_the_true_auc_table_only_when_there_is_one():
    plain = {"model": {"click": {"auc": 0.7, "gauc": 0.6}}}
    assert format_tables(plain) == format_table(plain)
    rows = {"model": {"click": {"auc": 0.7, "gauc": 0.6, TRUE_AUC: 0.75}}}
    text = format_tables(rows)
    assert text.startswith(format_table(rows))
    assert text.endswith(format_table(rows, metric=TRUE_AUC)) and "0.7500" in text


def test_evaluate_log():
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2"],
            "item_id": ["a", "b", "a", "c"],
            "click": np.array([1, 0, 0, 1], dtype=np.int8),
        }
    )
    log = InteractionLog(frame, ("click",))
    out = evaluate_log(log, {"click": np.array([0.9, 0.1, 0.2, 0.3])})
    assert out["click"]["auc"] == 1.0 and out["click"]["gauc"] == 1.0


def test_format_table():
    y, s, g = _random(seed=7)
    tasks = ["click", "cart", "favourite", "buy"]
    labels = {t: y for t in tasks}
    rows = {
        "model": evaluate(labels, {t: s for t in tasks}, g),
        "popularity": evaluate(labels, {t: 1 - s for t in tasks}, g),
        "oracle": evaluate(labels, {"click": s}, g),  # knows one task only
    }
    text = format_table(rows)
    for name in [*rows, *tasks, "auc", "gauc"]:
        assert name in text
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert max(len(line) for line in lines) <= 80
    assert f"{rows['model']['click']['gauc']:.4f}" in lines[2]
    assert lines[4].rstrip().endswith("-")  # oracle has no "buy"
    single = format_table(rows, metric="logloss")
    assert "logloss" in single and "gauc" not in single
    with pytest.raises(ValueError):
        format_table(rows, metric=[])


def test_rela_impr():
    # MoGENet Table 2, Adv. A click GAUC: 0.7428 vs the best baseline (NGCF) 0.7383 -> 1.89 %
    assert rela_impr(0.7428, 0.7383) == pytest.approx(0.0189, abs=5e-5)
    # BPCM Table 2, Ali-CCP purchase AUC: MMoE 0.6420 vs MLP 0.5841 -> +0.6884
    assert rela_impr(0.6420, 0.5841) == pytest.approx(0.6884, abs=5e-4)
    assert rela_impr(0.7, 0.7) == 0.0
    assert rela_impr(0.6, 0.7) == pytest.approx(-0.5)  # half of the lift above chance
    assert math.isnan(rela_impr(0.7, 0.5))  # a random base has no lift to compare with
    assert math.isnan(rela_impr(math.nan, 0.7)) and math.isnan(rela_impr(0.7, math.nan))


def _brute_expected_auc(p, s):
    num = den = 0.0
    for i in range(p.size):
        for j in range(p.size):
            if i != j:
                w = p[i] * (1 - p[j])
                num += w * ((s[i] > s[j]) + 0.5 * (s[i] == s[j]))
                den += w
    return num / den


@pytest.mark.parametrize("levels", [3, 10**9])
def test_expected_auc_matches_pairwise_definition(levels):
    rng = np.random.default_rng(levels)
    p = rng.uniform(0, 0.3, 120)
    s = rng.integers(0, levels, 120) / levels
    assert expected_auc(p, s) == pytest.approx(_brute_expected_auc(p, s), abs=1e-12)


def test_expected_auc_of_hard_labels_is_auc():
    y, s, _ = _random(levels=5)
    assert expected_auc(y.astype(float), s) == pytest.approx(auc(y, s), abs=1e-12)


def test_expected_auc_is_the_mean_auc_over_label_draws():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 4000)
    s = p + rng.normal(0, 0.05, p.size)  # a noisy scorer
    draws = [auc(rng.random(p.size) < p, s) for _ in range(200)]
    # the mean over draws converges to the ratio of expectations (std of the mean ~0.001)
    assert expected_auc(p, s) == pytest.approx(np.mean(draws), abs=0.004)
    assert expected_auc(p, p) > expected_auc(p, s) > expected_auc(p, -s)


def test_expected_auc_bad_input():
    assert math.isnan(expected_auc([0.0, 0.0], [0.1, 0.2]))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        expected_auc([0.5, 1.5], [0.1, 0.2])
    with pytest.raises(ValueError, match="2 entries"):
        expected_auc([0.5, 0.5], [0.1, 0.2, 0.3])
