"""Out-of-fold similarity graphs: stable fold assignment, and fold graphs that are
exactly the similarity of the positives outside the fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.config import GraphConfig
from mogenet.datasets import InteractionLog
from mogenet.graphs import GraphBundle
from mogenet.sampling.folds import fold_similarity, pair_folds, similarity_settings, splitmix64


def test_splitmix64_matches_the_reference_outputs():
    # first outputs of SplitMix64 generators seeded with 0 and 1 (Vigna's reference)
    out = splitmix64(np.array([0, 1], dtype=np.uint64))
    assert out.tolist() == [0xE220A8397B1DCDAF, 0x910A2DEC89025CC1]


def test_pair_folds_are_a_stable_function_of_the_pair():
    user = torch.tensor([0, 1, 2, 3, -1, 123456])
    item = torch.tensor([0, 0, 1, 5, 7, 654321])
    # golden values: the same on every platform, run and process
    assert pair_folds(user, item, 5).tolist() == [0, 3, 0, 3, 1, 0]
    assert pair_folds(user.int().numpy(), item.int().numpy(), 5).tolist() == [0, 3, 0, 3, 1, 0]
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(pair_folds(user[perm], item[perm], 5), pair_folds(user, item, 5)[perm])
    with pytest.raises(ValueError, match="num_folds"):
        pair_folds(user, item, 0)


def test_pair_folds_are_balanced():
    user = torch.arange(200).repeat_interleave(100)  # every pair of 200 users × 100 items
    item = torch.arange(100).repeat(200)
    for k in (2, 5, 7):
        counts = torch.bincount(pair_folds(user, item, k), minlength=k)
        assert counts.numel() == k
        expected = user.numel() / k
        assert (counts - expected).abs().max() < 4 * expected**0.5  # binomial spread


def random_log(n=700, users=40, items=30, seed=0):
    g = np.random.default_rng(seed)
    u = g.integers(0, users, n)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{x}" for x in u],
            "item_id": [f"i{x}" for x in (u % 5 * 4 + g.integers(0, 10, n)) % items],
            "click": (g.random(n) < 0.6).astype(int),
            "buy": (g.random(n) < 0.2).astype(int),
        }
    )
    return InteractionLog(frame, ("click", "buy"))


def edges(pair):
    edge_index, weight = pair
    return edge_index.tolist(), weight.tolist()


@pytest.mark.parametrize(
    "config",
    [
        GraphConfig(topk=5),
        GraphConfig(
            similarity="jaccard", topk=3, hub_cap=6, min_support=2, behavior_weights={"buy": 3.0}
        ),
    ],
    ids=["cosine", "jaccard-hubcap-weighted"],
)
def test_fold_graphs_equal_the_builder_without_the_fold(config, tmp_path):
    log = random_log()
    bundle = GraphBundle.load(GraphBundle.build(log, config=config).save(tmp_path / "g"))
    assert similarity_settings(bundle).topk == config.topk  # read back from meta.json
    frame = log.frame
    k = 3
    for fold in range(k):
        # the same log with fold `fold`'s positives turned into negatives: the same id
        # maps, and similarity graphs from the other folds' positives only
        u = bundle.user_map.encode(frame["user_id"])
        i = bundle.item_map.encode(frame["item_id"])
        out = frame.copy()
        out.loc[(pair_folds(u, i, k) == fold).numpy(), ["click", "buy"]] = 0
        expected = GraphBundle.build(InteractionLog(out, ("click", "buy")), config=config)
        assert expected.user_map.to_list() == bundle.user_map.to_list()
        got = fold_similarity(bundle, k, fold)
        for channel, etype in (("user_sim", "user"), ("item_sim", "item")):
            store = expected.data[etype, "similar", etype]
            assert edges(got[channel]) == edges((store.edge_index, store.edge_weight))
        # and the fold graph is not the full graph (something was left out)
        full = bundle.data["user", "similar", "user"].edge_index
        assert got["user_sim"][0].tolist() != full.tolist()


def test_fold_similarity_checks_its_arguments():
    bundle = GraphBundle.build(random_log(n=100), config=GraphConfig(topk=3))
    with pytest.raises(ValueError, match="num_folds"):
        fold_similarity(bundle, 1, 0)
    with pytest.raises(ValueError, match="fold must be"):
        fold_similarity(bundle, 3, 3)
