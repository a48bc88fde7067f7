import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.datasets import IdMap, InteractionLog
from mogenet.sampling import Examples, PairBatch, PairLoader


def make_examples(n=10):
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i % 3}" for i in range(n)] + ["cold"],
            "item_id": [f"i{i}" for i in range(n)] + ["i0"],
            "click": np.arange(n + 1) % 2,
            "buy": np.zeros(n + 1, dtype=int),
        }
    )
    log = InteractionLog(frame, ("click", "buy"))
    return Examples.from_log(
        log, IdMap([f"u{i}" for i in range(3)]), IdMap([f"i{i}" for i in range(n)])
    )


def test_examples_encode_ids_and_cold_start():
    ex = make_examples()
    assert len(ex) == 11
    assert ex.user[-1] == -1 and ex.item[-1] == 0  # unseen user → -1
    assert ex.labels.shape == (11, 2) and ex.labels.dtype == torch.float32
    assert "cold_users=1" in repr(ex)


def test_batches_point_at_the_requested_rows():
    ex = make_examples()
    seen = []
    for batch in PairLoader(ex, batch_size=4, shuffle=True, seed=3):
        assert isinstance(batch, PairBatch)
        assert torch.equal(batch.user, ex.user[batch.index])
        assert torch.equal(batch.labels["click"], ex.labels[batch.index, 0])
        seen.append(batch.index)
    assert sorted(torch.cat(seen).tolist()) == list(range(11))  # each example once per epoch


def test_seeded_shuffling_is_reproducible_and_changes_per_epoch():
    ex = make_examples(50)

    def epoch_orders(seed):
        loader = PairLoader(ex, batch_size=50, shuffle=True, seed=seed)
        return [next(iter(loader)).index.tolist() for _ in range(2)]

    a, b = epoch_orders(1), epoch_orders(1)
    assert a == b and a[0] != a[1]
    assert epoch_orders(2) != a


def test_len_and_drop_last():
    ex = make_examples(10)
    assert len(PairLoader(ex, batch_size=4)) == 3
    assert len(PairLoader(ex, batch_size=4, drop_last=True)) == 2


def test_batch_to_and_pin_memory_keep_structure():
    batch = next(iter(PairLoader(make_examples(), batch_size=4)))
    moved = batch.to("cpu")
    assert moved.tasks == ("click", "buy") and len(moved) == 4
    assert torch.equal(moved.labels["buy"], batch.labels["buy"])


@pytest.mark.parametrize("folds", [0, 3])
def test_neighbor_loader_is_deterministic_across_workers(tiny_graphs, tiny_split, folds):
    from mogenet.datasets.readers import read_log
    from mogenet.graphs import GraphBundle
    from mogenet.sampling import NeighborPairLoader
    from mogenet.sampling.sampler import MultiChannelSampler

    bundle = GraphBundle.load(tiny_graphs)
    ex = Examples.from_log(read_log(tiny_split / "train.csv"), bundle.user_map, bundle.item_map)
    sampler = MultiChannelSampler(bundle, similarity_folds=folds)

    def epoch(workers):
        loader = NeighborPairLoader(
            ex, sampler, batch_size=64, shuffle=True, seed=4, num_workers=workers
        )
        out = []
        for batch in loader:
            bip = batch.graphs["bipartite"]
            assert torch.equal(bip["user"].n_id[bip["user"].pair_index], batch.user)
            out.append(
                (
                    batch.index,
                    bip["user", "interacts", "item"].edge_index,
                    batch.graphs["user_sim"].edge_index,
                )
            )
        return out, loader

    serial, loader = epoch(0)
    threaded, _ = epoch(2)
    assert len(serial) == len(loader) and len(serial) == len(threaded)
    for a, b in zip(serial, threaded, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert sorted(torch.cat([s[0] for s in serial]).tolist()) == list(range(len(ex)))
    second = next(iter(loader))  # next epoch: a new permutation
    assert not torch.equal(second.index, serial[0][0])
    moved = second.to("cpu")
    assert moved.graphs["item_sim"].n_id.device.type == "cpu"


def test_optional_inputs_are_sliced_and_moved_with_the_batch():
    from dataclasses import replace

    ex = make_examples()
    n = len(ex)
    ex = replace(
        ex,
        sequence=torch.arange(n * 3).view(n, 3),
        sequence_labels=torch.rand(n, 3, 2),
        scenario=torch.arange(n) % 2,
    )
    assert "inputs=['sequence', 'sequence_labels', 'scenario']" in repr(ex)
    moved = ex.to("cpu")
    assert torch.equal(moved.sequence, ex.sequence) and torch.equal(moved.scenario, ex.scenario)
    for batch in PairLoader(ex, batch_size=4, shuffle=True, seed=1):
        assert torch.equal(batch.sequence, ex.sequence[batch.index])
        assert torch.equal(batch.sequence_labels, ex.sequence_labels[batch.index])
        assert torch.equal(batch.scenario, ex.scenario[batch.index])
        assert torch.equal(batch.to("cpu").sequence, batch.sequence)
    plain = next(iter(PairLoader(make_examples(), batch_size=4)))
    assert plain.sequence is None and plain.scenario is None and plain.to("cpu").scenario is None


def test_subset_slices_every_field():
    from dataclasses import replace

    ex = make_examples()
    ex = replace(ex, sequence=torch.arange(len(ex) * 2).view(-1, 2), scenario=torch.arange(len(ex)))
    index = torch.tensor([4, 0, 7])
    sub = ex.subset(index)
    assert len(sub) == 3 and sub.sequence_labels is None
    for name in ("user", "item", "labels", "sequence", "scenario"):
        assert torch.equal(getattr(sub, name), getattr(ex, name)[index])
    assert sub.group.tolist() == ex.group[[4, 0, 7]].tolist()


# ---------------------------------------------------------------- fold batches
@pytest.fixture(scope="module")
def fold_setup(tiny_graphs, tiny_split):
    from mogenet.datasets.readers import read_log
    from mogenet.graphs import GraphBundle

    bundle = GraphBundle.load(tiny_graphs)
    ex = Examples.from_log(read_log(tiny_split / "train.csv"), bundle.user_map, bundle.item_map)
    return bundle, ex


def fold_loader(bundle, ex, folds=3, shuffle=True, **kwargs):
    from mogenet.sampling import NeighborPairLoader
    from mogenet.sampling.sampler import Fanouts, MultiChannelSampler

    fan = Fanouts(bipartite=(2,), user_sim=(-1,), item_sim=(-1,))
    sampler = MultiChannelSampler(bundle, fanouts=fan, similarity_folds=folds)
    return NeighborPairLoader(ex, sampler, batch_size=64, shuffle=shuffle, seed=7, **kwargs)


def edge_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


def sim_edges(sub):
    """(target, neighbour) global ids of a similarity subgraph's edges."""
    src, dst = sub.n_id[sub.edge_index[0]], sub.n_id[sub.edge_index[1]]
    return set(zip(dst.tolist(), src.tolist(), strict=True))


def test_training_batches_are_fold_homogeneous_and_cover_every_example(fold_setup):
    from mogenet.sampling.folds import fold_similarity, pair_folds

    bundle, ex = fold_setup
    fold_of = pair_folds(ex.user, ex.item, 3)
    graphs = [fold_similarity(bundle, 3, f) for f in range(3)]
    true = [{c: edge_set(g[c][0]) for c in ("user_sim", "item_sim")} for g in graphs]
    loader = fold_loader(bundle, ex)
    assert "folds=3" in repr(loader)
    seen, folds = [], []
    for batch in loader:
        fold = fold_of[batch.index].unique()
        assert fold.numel() == 1  # one fold per batch
        f = int(fold)
        folds.append(f)
        for channel in ("user_sim", "item_sim"):  # drawn from that fold's graphs
            assert sim_edges(batch.graphs[channel]) <= true[f][channel]
        seen.append(batch.index)
    assert len(seen) == len(loader)
    assert sorted(torch.cat(seen).tolist()) == list(range(len(ex)))  # each example once
    sizes = torch.bincount(fold_of, minlength=3)
    assert len(loader) == sum(-(-int(n) // 64) for n in sizes)
    assert sorted(set(folds)) == [0, 1, 2] and folds != sorted(folds)  # folds interleaved
    assert len(fold_loader(bundle, ex, drop_last=True)) == sum(int(n) // 64 for n in sizes)


def test_fold_batches_follow_the_epoch_and_the_shard(fold_setup):
    from mogenet.distributed import DistEnv

    bundle, ex = fold_setup
    loader = fold_loader(bundle, ex)

    def epoch_jobs(lo, epoch):
        lo.set_epoch(epoch)
        return [(index.tolist(), fold) for index, fold in lo._jobs()]

    assert epoch_jobs(loader, 2) == epoch_jobs(loader, 2)  # set_epoch replays (resume)
    assert epoch_jobs(loader, 2) != epoch_jobs(loader, 3)
    other_seed = fold_loader(bundle, ex)
    other_seed.seed = 8
    assert epoch_jobs(other_seed, 2) != epoch_jobs(loader, 2)
    whole = epoch_jobs(loader, 4)
    shards = []
    for rank in range(2):
        lo = fold_loader(bundle, ex)
        lo.set_shard(DistEnv(rank=rank, world_size=2))
        shards.append(epoch_jobs(lo, 4))
    assert len(shards[0]) == len(shards[1]) == len(whole)
    for (index, fold), (a, fa), (b, fb) in zip(whole, *shards, strict=True):
        assert a + b == index and fa == fb == fold  # each rank a slice, same fold


def test_unshuffled_loaders_use_the_full_graphs(fold_setup):
    bundle, ex = fold_setup
    folded = fold_loader(bundle, ex, folds=3, shuffle=False)
    plain = fold_loader(bundle, ex, folds=0, shuffle=False)
    assert folded.folds == 0 and len(folded) == len(plain)
    for a, b in zip(folded, plain, strict=True):
        assert torch.equal(a.index, b.index)
        for channel in ("user_sim", "item_sim"):
            assert torch.equal(a.graphs[channel].edge_index, b.graphs[channel].edge_index)
            assert torch.equal(a.graphs[channel].n_id, b.graphs[channel].n_id)
    assert folded.sampler.fold_build_seconds is None  # never built for evaluation


def test_without_folds_the_batches_are_those_of_a_pair_loader(fold_setup):
    bundle, ex = fold_setup
    loader = fold_loader(bundle, ex, folds=0)
    plain = PairLoader(ex, batch_size=64, shuffle=True, seed=7)
    assert loader.folds == 0 and len(loader) == len(plain)
    for a, b in zip(loader, plain, strict=True):
        assert torch.equal(a.index, b.index)


def test_a_target_never_sees_the_similarity_it_created():
    """u and v are similar only because both clicked i (and items i, j only because u
    clicked both): in the training batch of (u, i), v is not u's similar neighbour and
    j not i's; in an evaluation batch they are."""
    from mogenet.config import GraphConfig
    from mogenet.graphs import GraphBundle
    from mogenet.sampling import NeighborPairLoader
    from mogenet.sampling.sampler import Fanouts, MultiChannelSampler

    clicks = {"u": "ij", "v": "ik", "w": "jkl", "x": "kl"}
    rows = [(u, it, 1) for u, items in clicks.items() for it in items] + [("u", "l", 0)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "click"])
    bundle = GraphBundle.build(InteractionLog(frame, ("click",)), config=GraphConfig(topk=10))
    ex = Examples.from_log(InteractionLog(frame, ("click",)), bundle.user_map, bundle.item_map)
    u, v = bundle.user_map.encode(pd.Series(["u", "v"])).tolist()
    i, j = bundle.item_map.encode(pd.Series(["i", "j"])).tolist()
    fan = Fanouts(bipartite=(-1,), user_sim=(-1,), item_sim=(-1,))
    sampler = MultiChannelSampler(bundle, fanouts=fan, similarity_folds=5)
    target = int(((ex.user == u) & (ex.item == i)).nonzero())

    def neighbours(batch):
        return sim_edges(batch.graphs["user_sim"]), sim_edges(batch.graphs["item_sim"])

    for shuffle, leaks in ((False, True), (True, False)):
        loader = NeighborPairLoader(ex, sampler, batch_size=2, shuffle=shuffle, seed=0)
        (batch,) = [b for b in loader if target in b.index.tolist()]
        users, items = neighbours(batch)
        assert ((u, v) in users) is leaks and ((i, j) in items) is leaks
    assert (v, u) in edge_set(bundle.data["user", "similar", "user"].edge_index)
