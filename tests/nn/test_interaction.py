"""Pairwise interactions κ (MoGENet Eq. 3): shapes, order, registry."""

from __future__ import annotations

import pytest
import torch

from mogenet.nn import UnknownNameError
from mogenet.nn.interaction import INTERACTIONS, NUM_INTERACTIONS, PairwiseInteraction
from mogenet.nn.mgnn import GraphRepresentations

D = 6


def reps(batch=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return GraphRepresentations(*(torch.randn(batch, D, generator=g) for _ in range(4)))


@pytest.mark.parametrize(
    "kind, out_channels",
    [("product", D), ("ep", D), ("add", D), ("concat", 2 * D), ("CON", 2 * D), ("mlp", D)],
)
def test_shapes_and_repr(kind, out_channels):
    kappa = PairwiseInteraction(kind=kind, channels=D)
    assert kappa.out_channels == out_channels
    z = kappa(reps())
    assert z.shape == (5, NUM_INTERACTIONS, out_channels)
    assert repr(kappa) == (
        f"PairwiseInteraction(kind='{kind}', channels={D}, out_channels={out_channels})"
    )


def test_order_of_the_four_pairs():
    r = reps()
    expected = [
        (r.user, r.item),
        (r.user, r.item_sim),
        (r.user_sim, r.item),
        (r.user_sim, r.item_sim),
    ]
    z = PairwiseInteraction(kind="product", channels=D)(r)
    for n, (a, b) in enumerate(expected):
        torch.testing.assert_close(z[:, n], a * b)
    z = PairwiseInteraction(kind="add", channels=D)(r)
    for n, (a, b) in enumerate(expected):
        torch.testing.assert_close(z[:, n], a + b)
    z = PairwiseInteraction(kind="concat", channels=D)(r)
    for n, (a, b) in enumerate(expected):
        torch.testing.assert_close(z[:, n], torch.cat([a, b], -1))
    kappa = PairwiseInteraction(kind="mlp", channels=D)
    z = kappa(r)
    for n, (a, b) in enumerate(expected):
        torch.testing.assert_close(z[:, n], kappa.kappa.mlp(torch.cat([a, b], -1)))


def test_mlp_gradients(assert_grads):
    kappa = PairwiseInteraction(kind="mlp", channels=D)
    kappa(reps(batch=16)).pow(2).sum().backward()
    assert_grads(kappa)
    kappa.reset_parameters()


def test_unknown_kind():
    assert {"product", "concat", "add", "mlp"} <= set(INTERACTIONS)
    with pytest.raises(UnknownNameError, match="product"):
        PairwiseInteraction(kind="outer", channels=D)
    with pytest.raises(ValueError, match="channels"):
        PairwiseInteraction(channels=0)
