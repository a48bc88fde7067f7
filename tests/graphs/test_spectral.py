"""Tests of the spectral node embeddings (``mogenet.graphs.spectral``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mogenet.graphs.spectral as spectral
from mogenet.errors import InputError
from mogenet.graphs.spectral import spectral_embeddings


def block_graph(num_users=90, num_items=60, blocks=3, per_user=12, mix=0.15, seed=0):
    """Logged pairs of a bipartite block model: a user's pairs fall in its own block
    of items, but for a share ``mix`` drawn from all items. Returns users, items and
    each node's block."""
    rng = np.random.default_rng(seed)
    user_block, item_block = np.arange(num_users) % blocks, np.arange(num_items) % blocks
    users, items = [], []
    for u in range(num_users):
        own = np.flatnonzero(item_block == user_block[u])
        for _ in range(per_user):
            pool = np.arange(num_items) if rng.random() < mix else own
            users.append(u)
            items.append(rng.choice(pool))
    return np.array(users), np.array(items), user_block, item_block


def _nearest_centroid_accuracy(x: np.ndarray, block: np.ndarray) -> float:
    centroids = np.stack([x[block == b].mean(0) for b in np.unique(block)])
    guess = ((x[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    return float((guess == block).mean())


def test_the_top_vectors_separate_the_blocks_and_carry_the_degree():
    users, items, ub, ib = block_graph()
    su, si = spectral_embeddings(users, items, num_users=90, num_items=60, dim=3)
    assert su.shape == (90, 3) and si.shape == (60, 3)
    assert su.dtype == si.dtype == torch.float32
    # vectors 2 and 3 span the 3 blocks
    assert _nearest_centroid_accuracy(su[:, 1:].numpy(), ub) == 1.0
    assert _nearest_centroid_accuracy(si[:, 1:].numpy(), ib) == 1.0
    # unit root mean square per column, like a standardised feature
    torch.testing.assert_close(su.pow(2).mean(0), torch.ones(3))
    torch.testing.assert_close(si.pow(2).mean(0), torch.ones(3))
    # the first vector is proportional to sqrt(degree) (distinct pairs)
    deg = np.bincount(np.unique(items * 1000 + users) // 1000, minlength=60)
    assert np.corrcoef(si[:, 0].numpy(), np.sqrt(deg))[0, 1] > 0.9999
    # sign convention: each column's largest item entry is positive
    cols = torch.arange(3)
    assert (si[si.abs().argmax(0), cols] > 0).all()


def test_repeated_pairs_count_once_and_order_does_not_matter():
    users, items, _, _ = block_graph(seed=1)
    a = spectral_embeddings(users, items, num_users=90, num_items=60, dim=4)
    order = np.random.default_rng(0).permutation(len(users))
    b = spectral_embeddings(
        np.concatenate([users[order], users[:10]]),
        np.concatenate([items[order], items[:10]]),
        num_users=90,
        num_items=60,
        dim=4,
    )
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=0)


def test_nodes_without_pairs_get_zero_rows():
    users, items, _, _ = block_graph()
    su, si = spectral_embeddings(users, items, num_users=95, num_items=64, dim=3)
    assert (su[90:] == 0).all() and (si[60:] == 0).all()
    assert (su[:90].abs().sum(1) > 0).all()
    torch.testing.assert_close(su.pow(2).mean(0), torch.ones(3))


def test_arpack_and_dense_svd_span_the_same_subspace(monkeypatch):
    users, items, _, _ = block_graph(num_users=300, num_items=120, blocks=4, seed=2)
    kwargs = dict(num_users=300, num_items=120, dim=6, seed=3)
    arpack = spectral_embeddings(users, items, **kwargs)
    again = spectral_embeddings(users, items, **kwargs)
    assert all(x.equal(y) for x, y in zip(arpack, again, strict=True))  # same digits
    monkeypatch.setattr(spectral, "_MIN_ARPACK_SIDE", 10**9)
    dense = spectral_embeddings(users, items, **kwargs)
    for a, d in zip(arpack, dense, strict=True):
        qa, _ = torch.linalg.qr(a.double())
        qd, _ = torch.linalg.qr(d.double())
        cosines = torch.linalg.svdvals(qa.T @ qd)  # of the principal angles
        assert cosines.min() > 1 - 1e-6


@pytest.mark.parametrize("dim", [0, 60, 61])
def test_dim_must_be_below_the_rank(dim):
    users, items, _, _ = block_graph()
    with pytest.raises(InputError, match="--spectral must be between 1 and 59"):
        spectral_embeddings(users, items, num_users=90, num_items=60, dim=dim)
