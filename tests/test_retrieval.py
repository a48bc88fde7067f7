"""Retrieval: item sets, Recall@K / NDCG@K against a brute-force reference, the
all-item model scorer against the model's own forward (plain and MoGENet), and
dot-product ranking (torch and FAISS)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.baselines import PopularityScorer
from mogenet.build import build_model
from mogenet.config import ModelConfig
from mogenet.datasets import InteractionLog
from mogenet.retrieval import (
    ItemSets,
    ModelScorer,
    PopularityRanker,
    rank_by_embedding,
    ranking_metrics,
    top_items,
    training_items,
)
from mogenet.sampling import Fanouts, MultiChannelSampler
from mogenet.sampling.batch import PairBatch

TASKS = ("click", "buy")


# ------------------------------------------------------------------ helpers
def random_sets(num_users, num_items, density, seed):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(num_users, num_items, generator=g) < density
    user, item = mask.nonzero().T
    return ItemSets.from_pairs(user, item, num_users=num_users, num_items=num_items), mask


def brute_force(scores, positives, exclude, ks):
    """Per-user loops over NumPy: rank all non-excluded items, count hits."""
    out = {f"{m}@{k}": [] for k in ks for m in ("recall", "ndcg")}
    for u in range(scores.shape[0]):
        pos = set(np.flatnonzero(positives[u]))
        if not pos:
            continue
        order = [i for i in np.argsort(-scores[u], kind="stable") if not exclude[u, i]]
        for k in ks:
            top = order[:k]
            hits = [1.0 if i in pos else 0.0 for i in top]
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(pos), k)))
            out[f"recall@{k}"].append(sum(hits) / len(pos))
            out[f"ndcg@{k}"].append(dcg / idcg)
    return {m: float(np.mean(v)) for m, v in out.items()}, len(out["recall@1"])


# ----------------------------------------------------------------- ItemSets
def test_item_sets_merge_duplicates_and_index_rows():
    sets = ItemSets.from_pairs(
        torch.tensor([2, 0, 2, 2, 0]), torch.tensor([3, 1, 0, 3, 1]), num_users=4, num_items=5
    )
    assert repr(sets) == "ItemSets(users=4, items=5, pairs=3)"
    assert sets.counts().tolist() == [1, 0, 2, 0]
    row, item = sets.rows(torch.tensor([2, 1, 0]))
    assert row.tolist() == [0, 0, 2] and item.tolist() == [0, 3, 1]
    mask = sets.mask(torch.tensor([0, 2]))
    assert mask.shape == (2, 5) and mask.nonzero().tolist() == [[0, 1], [1, 0], [1, 3]]
    found = sets.contains(torch.tensor([0, 0, 2, 3, 2]), torch.tensor([1, 2, 3, 4, 0]))
    assert found.tolist() == [True, False, True, False, True]
    empty = ItemSets.from_pairs(torch.tensor([]), torch.tensor([]), num_users=2, num_items=3)
    assert not empty.contains(torch.tensor([1]), torch.tensor([1])).any()
    with pytest.raises(ValueError, match="item indices"):
        ItemSets.from_pairs(torch.tensor([0]), torch.tensor([5]), num_users=1, num_items=5)


# ------------------------------------------------------------------ metrics
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("max_elements", [1 << 22, 150])  # one chunk / chunks of 2 users
def test_ranking_metrics_equal_brute_force(seed, max_elements):
    num_users, num_items, ks = 41, 67, (1, 5, 20, 100)  # 100 > items: capped
    g = torch.Generator().manual_seed(seed)
    scores = {t: torch.randn(num_users, num_items, generator=g) for t in TASKS}
    exclude, ex_mask = random_sets(num_users, num_items, 0.2, seed + 10)
    positives, masks = {}, {}
    for j, t in enumerate(TASKS):
        _, m = random_sets(num_users, num_items, 0.05 * (j + 1), seed + 20 + j)
        m &= ~ex_mask  # held-out positives are never training interactions
        m[3] = False  # a user without positives is not evaluated
        user, item = m.nonzero().T
        positives[t] = ItemSets.from_pairs(user, item, num_users=num_users, num_items=num_items)
        masks[t] = m

    def score_fn(users):
        return {t: s[users].clone() for t, s in scores.items()}

    got = ranking_metrics(score_fn, positives, ks, exclude=exclude, max_elements=max_elements)
    for t in TASKS:
        expected, users = brute_force(scores[t].numpy(), masks[t].numpy(), ex_mask.numpy(), ks)
        assert got[t]["users"] == users > 0
        for name, value in expected.items():
            assert got[t][name] == pytest.approx(value, abs=1e-12), (t, name)


def test_ndcg_by_hand_and_exclusion():
    # one user, 4 items ranked 3 > 2 > 1 > 0; item 3 excluded; positives 1 and 0
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    pos = ItemSets.from_pairs(torch.tensor([0, 0]), torch.tensor([1, 0]), num_users=1, num_items=4)
    ex = ItemSets.from_pairs(torch.tensor([0]), torch.tensor([3]), num_users=1, num_items=4)
    out = ranking_metrics(lambda u: {"buy": scores.clone()}, {"buy": pos}, (1, 2, 3), exclude=ex)
    # ranking without item 3: 2, 1, 0 -> hits at ranks 2 and 3
    idcg = 1 + 1 / math.log2(3)
    assert out["buy"]["recall@1"] == 0.0 and out["buy"]["ndcg@1"] == 0.0
    assert out["buy"]["recall@2"] == 0.5
    assert out["buy"]["ndcg@2"] == pytest.approx((1 / math.log2(3)) / idcg)
    assert out["buy"]["recall@3"] == 1.0
    assert out["buy"]["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / idcg)
    # without exclusion item 3 takes rank 1 and pushes the hits down
    plain = ranking_metrics(lambda u: {"buy": scores.clone()}, {"buy": pos}, (3,))
    assert plain["buy"]["recall@3"] == 0.5


def test_no_positive_is_nan_and_bad_ks():
    empty = ItemSets.from_pairs(torch.tensor([]), torch.tensor([]), num_users=3, num_items=4)
    out = ranking_metrics(lambda u: {"click": torch.rand(len(u), 4)}, {"click": empty}, (2,))
    assert out["click"]["users"] == 0 and math.isnan(out["click"]["recall@2"])
    with pytest.raises(ValueError, match="ks"):
        ranking_metrics(lambda u: {}, {"click": empty}, (0,))


def test_top_items_never_returns_excluded():
    scores = torch.randn(6, 9)
    exclude = torch.zeros(6, 9, dtype=torch.bool)
    exclude[:, :5] = True  # 4 rankable items per user
    values, index = top_items(scores.clone(), 6, exclude)
    assert values.shape == (6, 6)
    assert (index[:, :4] >= 5).all()  # the rankable ones come first
    assert torch.isinf(values[:, 4:]).all()  # then -inf padding
    expected = scores[:, 5:].sort(dim=1, descending=True).values
    torch.testing.assert_close(values[:, :4], expected)


# ------------------------------------------------------------------ scorers
@pytest.fixture(scope="module")
def bundle(make_bundle):
    return make_bundle(num_users=12, num_items=9, num_rows=60, labels={"click": 1, "buy": 0.3})


def make_model(bundle, **fields):
    torch.manual_seed(0)
    config = ModelConfig(expert_channels=(8,), tower_channels=(4,), embedding_dim=4, **fields)
    model = build_model(
        config,
        tasks=TASKS,
        user_features=bundle.user_features(),
        item_features=bundle.item_features(),
    )
    return model.eval()


def grid(num_users, num_items):
    users = torch.arange(num_users)
    return users.repeat_interleave(num_items), torch.arange(num_items).repeat(num_users)


def test_model_scorer_equals_forward(bundle):
    model = make_model(bundle, name="mmoe", num_experts=3)
    scorer = ModelScorer(model, pair_batch=7)  # several forwards per call
    assert repr(scorer) == f"ModelScorer(items={bundle.num_items}, tasks=['click', 'buy'], " + (
        "full_graph=False)"
    )
    users = torch.tensor([4, 0, 11])
    out = scorer(users)
    assert {t: v.shape for t, v in out.items()} == {t: (3, bundle.num_items) for t in TASKS}
    user, item = grid(3, bundle.num_items)
    with torch.no_grad():
        batch = PairBatch(user=users[user], item=item, labels={}, index=torch.arange(user.numel()))
        expected = model(batch).logits
    for t in TASKS:
        torch.testing.assert_close(out[t], expected[t].view(3, -1))


def test_model_scorer_mogenet_equals_full_fanout_forward(bundle):
    """Graph models are scored from full-graph inference: the same logits as the
    sampled forward with every neighbour (fanout -1 for every layer)."""
    model = make_model(
        bundle, name="mogenet", graph_channels=4, graph_layers=2, interaction="product"
    )
    with pytest.raises(ValueError, match="graph_data"):
        ModelScorer(model)
    scorer = ModelScorer(model, graph_data=bundle.data, pair_batch=10, node_batch=4)
    assert "full_graph=True" in repr(scorer)
    users = torch.tensor([1, 7])
    out = scorer(users)
    user, item = grid(2, bundle.num_items)
    full = Fanouts(bipartite=(-1, -1), user_sim=(-1, -1), item_sim=(-1, -1))
    sampler = MultiChannelSampler(bundle, fanouts=full, remove_target_edges=False)
    with torch.no_grad():
        batch = PairBatch(
            user=users[user],
            item=item,
            labels={},
            index=torch.arange(user.numel()),
            graphs=sampler.sample(users[user], item),
        )
        expected = model(batch).logits
    for t in TASKS:
        torch.testing.assert_close(out[t], expected[t].view(2, -1), atol=1e-5, rtol=0)


def test_popularity_ranker_and_training_items(bundle):
    log = InteractionLog(
        pd.DataFrame(
            {"user_id": ["u0", "u1", "u1"], "item_id": ["i1", "i1", "i2"], "click": [1, 1, 0]}
        ),
        ("click",),
    )
    pop = PopularityScorer().fit(log)
    items = bundle.item_map.to_list()
    ranker = PopularityRanker(pop, items)
    out = ranker(torch.tensor([0, 5, 2]))["click"]
    assert out.shape == (3, len(items)) and (out == out[0]).all()  # same for every user
    assert int(out[0].argmax()) == items.index("i1")
    sets = training_items(bundle)
    assert len(sets) == bundle.data["user", "interacts", "item"].num_edges
    user, item = bundle.data["user", "interacts", "item"].edge_index
    assert sets.contains(user, item).all()


# ------------------------------------------------------------- dot product
BACKENDS = ["torch", "faiss"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_rank_by_embedding_matches_brute_force(backend):
    if backend == "faiss":
        pytest.importorskip(
            "faiss", reason="faiss-cpu not installed (optional: pip install faiss-cpu)"
        )
    rng = np.random.default_rng(0)
    users, items = rng.standard_normal((5, 8)), rng.standard_normal((30, 8))
    exclude = [rng.choice(30, size=n, replace=False) for n in (0, 3, 10, 29, 30)]
    scores, index = rank_by_embedding(users, items, 4, exclude, backend=backend)
    assert scores.shape == index.shape == (5, 4)
    full = users @ items.T
    for u in range(5):
        allowed = [i for i in np.argsort(-full[u]) if i not in set(exclude[u])][:4]
        got = [i for i in index[u] if i >= 0]
        assert got == allowed
        np.testing.assert_allclose(scores[u, : len(got)], full[u, got], rtol=1e-5)
        assert np.isneginf(scores[u, len(got) :]).all()
    with pytest.raises(Exception, match="dimensions"):
        rank_by_embedding(users, items[:, :3], 4)
