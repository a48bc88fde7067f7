import numpy as np
import pandas as pd
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


def test_neighbor_loader_is_deterministic_across_workers(tiny_graphs, tiny_split):
    from mogenet.datasets.readers import read_log
    from mogenet.graphs import GraphBundle
    from mogenet.sampling import NeighborPairLoader
    from mogenet.sampling.sampler import MultiChannelSampler

    bundle = GraphBundle.load(tiny_graphs)
    ex = Examples.from_log(read_log(tiny_split / "train.csv"), bundle.user_map, bundle.item_map)
    sampler = MultiChannelSampler(bundle)

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
