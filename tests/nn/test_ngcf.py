"""NGCF: Eq. 7 and its 1/sqrt(|N_u||N_i|) on a hand-made graph, shapes, gradients,
cold start, sampled == full graph, and no message over a supervision edge.

The graph, encoders and pairs are the fixtures of ``tests/nn/conftest.py``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from mogenet.nn import NGCF, NGCFLayer
from mogenet.nn.mgnn import INTERACTS, REV_INTERACTS, GraphRepresentations
from mogenet.sampling import Fanouts, MultiChannelSampler

USER_CH, ITEM_CH, D = 5, 4, 6


def make(**kwargs):
    return NGCF(**{"user_channels": USER_CH, "item_channels": ITEM_CH, "channels": D, **kwargs})


# ------------------------------------------------------------------ hand-made graph
# users 0, 1, 2 (2 has no edge); items 0, 1, 2
# edges u0-i0, u0-i1, u1-i1, u1-i2  →  |N_u| = 2, 2, 0   |N_i| = 1, 2, 1
EDGES = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 2]])  # user → item
DEG_U, DEG_I = torch.tensor([2.0, 2.0, 0.0]), torch.tensor([1.0, 2.0, 1.0])


def hand_made(fixed_weights: str) -> tuple[NGCF, Tensor, Tensor]:
    """A one-layer NGCF with identity initial projections, W_1 = I or W_2 = I (the
    other 0), no biases; and the initial embeddings of the 3 users and 3 items."""
    m = NGCF(user_channels=2, item_channels=2, channels=2, num_layers=1).eval()
    with torch.no_grad():
        for lin in (m.user_lin, m.item_lin, m.convs[0].lin1, m.convs[0].lin2):
            lin.weight.copy_(torch.eye(2))
            lin.bias.zero_()
        off = m.convs[0].lin2 if fixed_weights == "W1" else m.convs[0].lin1
        off.weight.zero_()
    e_u = torch.tensor([[1.0, 2.0], [-1.0, 0.5], [3.0, -2.0]])
    e_i = torch.tensor([[0.5, 1.0], [2.0, -1.0], [-3.0, 4.0]])
    return m, e_u, e_i


def expected_layer(fixed_weights: str, e_u: Tensor, e_i: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. 7 written out edge by edge."""
    new_u, new_i = torch.zeros_like(e_u), torch.zeros_like(e_i)
    for u in range(3):
        new_u[u] = e_u[u] if fixed_weights == "W1" else 0  # m_{u←u} = W_1 e_u
    for i in range(3):
        new_i[i] = e_i[i] if fixed_weights == "W1" else 0
    for u, i in EDGES.t().tolist():
        p = 1.0 / (DEG_U[u] * DEG_I[i]).sqrt()
        to_u = e_i[i] if fixed_weights == "W1" else e_i[i] * e_u[u]  # W_1 e_i or W_2 (e_i ⊙ e_u)
        to_i = e_u[u] if fixed_weights == "W1" else e_u[u] * e_i[i]
        new_u[u] += p * to_u
        new_i[i] += p * to_i
    return F.leaky_relu(new_u, 0.2), F.leaky_relu(new_i, 0.2)


def table(rows: Tensor):
    """A feature function: global ids → rows, ``-1`` → zeros."""
    padded = torch.cat([rows, rows.new_zeros(1, rows.size(1))])
    return lambda ids: padded[torch.where(ids < 0, rows.size(0), ids)]


@pytest.mark.parametrize("fixed_weights", ["W1", "W2"])
def test_propagation_and_normalisation_on_a_hand_made_graph(fixed_weights):
    m, e_u, e_i = hand_made(fixed_weights)
    want_u, want_i = expected_layer(fixed_weights, e_u, e_i)
    data = HeteroData()
    data["user"].n_id, data["item"].n_id = torch.tensor([2, 0, 1]), torch.tensor([1, 2, 0])
    data["user"].deg, data["item"].deg = DEG_U[[2, 0, 1]].long(), DEG_I[[1, 2, 0]].long()
    local_u, local_i = torch.tensor([1, 2, 0]), torch.tensor([2, 0, 1])  # global → local
    data[INTERACTS].edge_index = torch.stack([local_u[EDGES[0]], local_i[EDGES[1]]])
    data[REV_INTERACTS].edge_index = data[INTERACTS].edge_index.flip(0)
    data["user"].pair_index = local_u[[0, 1, 2, 0]]
    data["item"].pair_index = local_i[[0, 2, 1, 1]]
    with torch.no_grad():
        reps = m({"bipartite": data}, table(e_u), table(e_i))
        full = m.inference(full_graph(), e_u, e_i, batch_size=2)
    # e* = e^(0) ‖ e^(1) (Eq. 9)
    torch.testing.assert_close(reps.user, torch.cat([e_u, want_u], -1)[[0, 1, 2, 0]])
    torch.testing.assert_close(reps.item, torch.cat([e_i, want_i], -1)[[0, 2, 1, 1]])
    assert reps.user_sim is reps.user and reps.item_sim is reps.item  # no similarity channels
    torch.testing.assert_close(full["user"], torch.cat([e_u, want_u], -1))
    torch.testing.assert_close(full["item"], torch.cat([e_i, want_i], -1))


def full_graph() -> HeteroData:
    data = HeteroData()
    data[INTERACTS].edge_index = EDGES
    return data


def test_node_without_edges_gets_its_self_message_only():
    m, e_u, e_i = hand_made("W1")
    with torch.no_grad():
        full = m.inference(full_graph(), e_u, e_i, batch_size=10)
    torch.testing.assert_close(full["user"][2], torch.cat([e_u[2], F.leaky_relu(e_u[2], 0.2)]))


# ------------------------------------------------------------------------- layer
def test_layer_shapes_repr_and_both_input_forms():
    layer = NGCFLayer(in_channels=D, out_channels=3)
    x_src, x_dst = torch.randn(6, D), torch.randn(3, D)
    edge_index = torch.tensor([[0, 1, 5, 2], [0, 0, 1, 2]])
    assert layer((x_src, x_dst), edge_index, torch.rand(4)).shape == (3, 3)
    assert layer(torch.randn(6, D), edge_index, torch.rand(4)).shape == (6, 3)
    assert repr(layer) == f"NGCFLayer({D}, 3)"
    with pytest.raises(ValueError, match="channels"):
        NGCFLayer(in_channels=0, out_channels=3)


def test_layer_message_dropout():
    layer = NGCFLayer(in_channels=D, out_channels=D, dropout=0.5)
    x, edges = torch.randn(50, D), torch.zeros(2, 0, dtype=torch.long)
    layer.train()
    assert (layer(x, edges, torch.zeros(0)) == 0).float().mean() > 0.2
    layer.eval()
    torch.testing.assert_close(layer(x, edges, torch.zeros(0)), layer(x, edges, torch.zeros(0)))


# ------------------------------------------------------------------------- NGCF
def test_repr_layout_and_bad_arguments():
    m = make(num_layers=3)
    assert repr(m) == f"NGCF(({USER_CH}, {ITEM_CH}), {D}, num_layers=3, out_channels={4 * D})"
    assert m.out_channels == 4 * D and len(m.convs) == 3
    assert NGCF.representations == ("user", "item")
    with pytest.raises(ValueError, match="num_layers"):
        make(num_layers=0)
    with pytest.raises(ValueError, match="channels"):
        make(channels=0)
    with pytest.raises(ValueError, match="batch_size"):
        m.inference(None, torch.randn(2, USER_CH), torch.randn(2, ITEM_CH), 0)


def test_forward_shapes_and_gradients(bundle, encoders, pairs, assert_grads):
    torch.manual_seed(0)
    m = make(num_layers=2, dropout=0.1)
    sampler = MultiChannelSampler(bundle, fanouts=Fanouts(bipartite=(3, 2)))
    reps = m(sampler.sample(*pairs, torch.Generator().manual_seed(0)), *encoders)
    assert isinstance(reps, GraphRepresentations)
    assert reps.user.shape == reps.item.shape == (5, 3 * D)
    (reps.user.pow(2).sum() + reps.item.pow(2).sum()).backward()
    assert_grads(m)


def test_cold_start_is_an_isolated_out_of_vocabulary_node(encoders, pairs, graphs):
    user_enc, item_enc = encoders
    user, item = pairs
    m = make().eval()
    with torch.no_grad():
        reps = m(graphs, user_enc, item_enc)
        oov = m._isolated(m.user_lin(user_enc(torch.tensor([-1]))))[0]
        no_graph = m({}, user_enc, item_enc, user=user, item=item)
    torch.testing.assert_close(reps.user[2], oov)
    torch.testing.assert_close(no_graph.user[2], oov)
    assert not torch.allclose(reps.user[0], no_graph.user[0])  # known users are propagated
    with pytest.raises(ValueError, match="user="):
        m({}, user_enc, item_enc)


def test_subgraph_without_degrees_is_refused(encoders, graphs):
    del graphs["bipartite"]["user"].deg
    with pytest.raises(ValueError, match="deg"):
        make()(graphs, *encoders)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_sampled_full_fanout_equals_full_graph_inference(bundle, sampled_and_full, num_layers):
    torch.manual_seed(1)
    m = make(num_layers=num_layers).eval()
    fanouts = Fanouts(bipartite=(-1,) * num_layers)
    sampled, full, one_chunk, expected = sampled_and_full(m, fanouts, 3)  # several chunks
    D_out = (num_layers + 1) * D
    assert full["user"].shape == (bundle.num_users, D_out)
    assert full["item"].shape == (bundle.num_items, D_out)
    assert full["user_sim"] is full["user"] and full["item_sim"] is full["item"]
    for key in ("user", "item"):
        torch.testing.assert_close(full[key], one_chunk[key], atol=1e-5, rtol=0)
        torch.testing.assert_close(getattr(sampled, key), getattr(expected, key), atol=1e-5, rtol=0)


def test_too_few_hops_differ_from_full_graph(sampled_and_full):
    """Guards the equivalence test: one hop for two layers is not the full graph."""
    torch.manual_seed(1)
    m = make(num_layers=2).eval()
    sampled, _, _, expected = sampled_and_full(m, Fanouts(bipartite=(-1,)), 4)
    assert not torch.allclose(sampled.user, expected.user, atol=1e-4)


@pytest.mark.parametrize("remove", [True, False])
def test_no_message_over_the_supervision_edge(bundle, remove):
    """A training positive (u, i) is a graph edge; with the sampler's target-edge
    removal u's representation gets nothing from i (one layer: only direct neighbours)."""
    src, dst = bundle.data[INTERACTS].edge_index
    u, i = int(src[0]), int(dst[0])  # a training positive
    m = make(num_layers=1)
    user_rows = torch.randn(bundle.num_users, USER_CH)
    item_rows = torch.randn(bundle.num_items, ITEM_CH, requires_grad=True)
    sampler = MultiChannelSampler(
        bundle, fanouts=Fanouts(bipartite=(-1,)), remove_target_edges=remove
    )
    reps = m(
        sampler.sample(torch.tensor([u]), torch.tensor([i])), table(user_rows), table(item_rows)
    )
    (grad,) = torch.autograd.grad(reps.user.sum(), item_rows)
    assert grad[i].abs().sum().item() == 0 if remove else grad[i].abs().sum().item() > 0
    neighbours = dst[(src == u) & (dst != i)]
    assert (grad[neighbours].abs().sum(-1) > 0).all()  # the other neighbours do reach u
