import numpy as np
import pytest
import torch
from scipy.stats import chi2

from mogenet.sampling.neighbor import CSR, sample_neighbors


def star_graph(degrees, weights=None):
    """Node j has neighbours 1000*j + 0 … 1000*j + degrees[j] - 1."""
    rows = np.repeat(np.arange(len(degrees)), degrees)
    cols = np.concatenate([1000 * j + np.arange(d) for j, d in enumerate(degrees)])
    ei = torch.tensor(np.stack([rows, cols]))
    w = None if weights is None else torch.tensor(np.concatenate(weights), dtype=torch.float)
    return CSR.from_edge_index(ei, len(degrees), w)


def draws_by_owner(nb, num_seeds):
    return [set(nb.node[nb.owner == s].tolist()) for s in range(num_seeds)]


@pytest.mark.parametrize("degrees", [[0, 3, 10, 15, 20, 21, 50, 400]])
@pytest.mark.parametrize("fanout", [1, 10, -1])
def test_true_neighbours_distinct_and_fanout(degrees, fanout):
    csr = star_graph(degrees)
    seeds = torch.arange(len(degrees))
    nb = sample_neighbors(csr, seeds, fanout, generator=torch.Generator().manual_seed(0))
    for s, d in enumerate(degrees):
        got = nb.node[nb.owner == s].tolist()
        assert len(got) == len(set(got))  # no duplicate within one node's draw
        assert set(got) <= set(range(1000 * s, 1000 * s + d))  # true neighbours only
        assert len(got) == (d if fanout == -1 else min(d, fanout))
    # positions and edge ids point at the sampled edges
    assert torch.equal(csr.col[nb.pos], nb.node)
    source_col = torch.empty_like(csr.col)
    source_col[csr.eid if csr.eid is not None else torch.arange(csr.num_edges)] = csr.col
    assert torch.equal(source_col[nb.edge_id(csr)], nb.node)


@pytest.mark.parametrize("degree", [15, 50])  # the random-key path and the rejection path
def test_inclusion_is_uniform(degree):
    csr = star_graph([degree])
    gen = torch.Generator().manual_seed(1)
    seeds = torch.zeros(3000, dtype=torch.long)  # 3000 independent draws of node 0
    nb = sample_neighbors(csr, seeds, 10, generator=gen)
    counts = np.bincount(nb.node.numpy(), minlength=degree)
    expected = len(seeds) * 10 / degree
    stat = ((counts - expected) ** 2 / expected).sum()
    assert stat < chi2.ppf(0.999, degree - 1), (stat, counts)
    # and every draw has exactly 10 distinct neighbours
    per_draw = torch.bincount(nb.owner, minlength=len(seeds))
    assert (per_draw == 10).all()
    keys = nb.owner * 1000 + nb.node
    assert keys.unique().numel() == keys.numel()


def test_weighted_sampling_follows_weights():
    weights = [np.array([1.0, 2.0, 3.0, 4.0, 10.0])]
    csr = star_graph([5], weights)
    seeds = torch.zeros(4000, dtype=torch.long)
    nb = sample_neighbors(csr, seeds, 1, weighted=True, generator=torch.Generator().manual_seed(2))
    counts = np.bincount(nb.node.numpy(), minlength=5)
    expected = len(seeds) * weights[0] / weights[0].sum()
    assert ((counts - expected) ** 2 / expected).sum() < chi2.ppf(0.999, 4)
    both = sample_neighbors(csr, seeds[:50], 3, weighted=True, generator=torch.Generator())
    assert all(len(s) == 3 for s in draws_by_owner(both, 50))  # without replacement


def test_seeded_draws_are_reproducible():
    csr = star_graph([5, 30, 80])
    seeds = torch.tensor([0, 1, 2, 1])

    def draw(seed):
        return sample_neighbors(csr, seeds, 7, generator=torch.Generator().manual_seed(seed)).node

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_weighted_needs_weights():
    with pytest.raises(ValueError, match="weights"):
        sample_neighbors(star_graph([3]), torch.tensor([0]), 1, weighted=True)
