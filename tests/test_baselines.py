import numpy as np
import pandas as pd
import pytest

from mogenet.baselines import ItemCFScorer, PopularityScorer, oracle_scores
from mogenet.datasets.log import InteractionLog


def _log(items, click, buy, oracle=False):
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(len(items))],
            "item_id": items,
            "click": np.array(click, dtype=np.int8),
            "buy": np.array(buy, dtype=np.int8),
        }
    )
    if oracle:
        frame["oracle_click"] = np.linspace(0.1, 0.9, len(items))
    return InteractionLog(frame, ("click", "buy"))


def test_popularity_smoothed_rates():
    # item a: 3 rows, 2 clicks, 1 buy; item b: 1 row, 0 clicks; item c: 4 rows, 2 clicks
    train = _log(
        ["a", "a", "a", "b", "c", "c", "c", "c"],
        [1, 1, 0, 0, 1, 0, 1, 0],
        [1, 0, 0, 0, 0, 0, 0, 0],
    )
    scorer = PopularityScorer(prior_strength=2.0).fit(train)
    p_click, p_buy = 4 / 8, 1 / 8
    assert scorer.global_rate == pytest.approx({"click": p_click, "buy": p_buy})

    test = _log(["c", "z", "a", "b"], [0, 0, 0, 0], [0, 0, 0, 0])  # "z" unseen
    pred = scorer.predict(test)
    assert list(pred) == ["click", "buy"]
    expected_click = [
        (2 + 2 * p_click) / (4 + 2),
        p_click,
        (2 + 2 * p_click) / (3 + 2),
        (0 + 2 * p_click) / (1 + 2),
    ]
    expected_buy = [
        (0 + 2 * p_buy) / (4 + 2),
        p_buy,
        (1 + 2 * p_buy) / (3 + 2),
        (0 + 2 * p_buy) / (1 + 2),
    ]
    np.testing.assert_allclose(pred["click"], expected_click, rtol=1e-12)
    np.testing.assert_allclose(pred["buy"], expected_buy, rtol=1e-12)
    assert pred["click"].dtype == np.float64 and pred["click"].shape == (4,)
    # a plain DataFrame with only item ids works too
    np.testing.assert_allclose(scorer.predict(test.frame[["item_id"]])["buy"], expected_buy)
    assert "prior_strength=2" in repr(scorer) and "items=3" in repr(scorer)


def test_popularity_raw_rates_without_prior():
    train = _log(["a", "a", "b"], [1, 0, 1], [0, 0, 1])
    pred = PopularityScorer(prior_strength=0).fit(train).predict(train)
    np.testing.assert_allclose(pred["click"], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(pred["buy"], [0.0, 0.0, 1.0])


def test_popularity_errors():
    with pytest.raises(ValueError):
        PopularityScorer(prior_strength=-1)
    with pytest.raises(RuntimeError):
        PopularityScorer().predict(_log(["a"], [1], [0]))


def test_oracle_scores_picks_columns():
    log = _log(["a", "b", "c"], [1, 0, 1], [0, 0, 1], oracle=True)
    scores = oracle_scores(log)
    assert list(scores) == ["click"]
    np.testing.assert_allclose(scores["click"], [0.1, 0.5, 0.9])
    assert oracle_scores(_log(["a"], [1], [0])) == {}


def test_item_cf_matches_brute_force():
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "user_id": [f"u{k}" for k in rng.integers(0, 25, n)],
            "item_id": [f"i{k}" for k in rng.integers(0, 15, n)],
            "click": rng.integers(0, 2, n),
            "buy": np.zeros(n, dtype=int),
        }
    )
    train = InteractionLog(frame, ("click", "buy"))
    scorer = ItemCFScorer().fit(train)
    pos = frame[frame.click == 1]
    nbrs_u = pos.groupby("user_id")["item_id"].apply(set).to_dict()
    nbrs_i = pos.groupby("item_id")["user_id"].apply(set).to_dict()
    pairs = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "nobody", "u4"],
            "item_id": ["i1", "i5", "i9", "i1", "unseen"],
        }
    )

    def brute(u, i):
        if u not in nbrs_u or i not in nbrs_i:
            return 0.0
        total = sum(
            len(nbrs_i[i] & nbrs_i[j]) / np.sqrt(len(nbrs_i[i]) * len(nbrs_i[j]))
            for j in nbrs_u[u]
            if j != i
        )
        return total / (len(nbrs_u[u]) + 1)

    expected = [brute(u, i) for u, i in zip(pairs.user_id, pairs.item_id, strict=True)]
    got = scorer.predict(pairs)
    assert set(got) == {"click", "buy"}
    np.testing.assert_allclose(got["click"], expected, rtol=1e-12, atol=1e-12)
    assert got["click"][3] == 0.0 and got["click"][4] == 0.0 and max(expected) > 0
