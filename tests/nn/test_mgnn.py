"""MGNN: layer shapes, gradients, cold start, channels off, and sampled == full graph.

The graph, encoders and pairs are the fixtures of ``tests/nn/conftest.py``."""

from __future__ import annotations

import pytest
import torch

from mogenet.nn import UnknownNameError
from mogenet.nn.mgnn import MGNN, UPDATES, GraphRepresentations, MGNNLayer
from mogenet.sampling import Fanouts, MultiChannelSampler

KEYS = ("user", "item", "user_sim", "item_sim")
USER_CH, ITEM_CH, D = 5, 4, 8


def make(**kwargs):
    defaults = dict(user_channels=USER_CH, item_channels=ITEM_CH, channels=D)
    return MGNN(**{**defaults, **kwargs})


def full_fanouts(hops):
    return Fanouts(bipartite=(-1,) * hops, user_sim=(-1,) * hops, item_sim=(-1,) * hops)


# ------------------------------------------------------------------------- layer
@pytest.mark.parametrize("update", ["gru", "lstm"])
def test_layer_shapes_both_input_forms(update):
    layer = MGNNLayer(channels=D, heads=2, update=update)
    x_src, x_dst = torch.randn(6, D), torch.randn(3, D)
    edge_index = torch.tensor([[0, 1, 5, 2], [0, 0, 1, 2]])
    h, c = layer((x_src, x_dst), edge_index)
    assert h.shape == (3, D)
    assert (c is None) == (update == "gru")
    if c is not None:
        assert c.shape == (3, D)
        h2, c2 = layer((x_src, h), edge_index, cell=c)  # cell state carried on
        assert h2.shape == c2.shape == (3, D)
    h, _ = layer(torch.randn(6, D), edge_index)  # one node set (similarity channel)
    assert h.shape == (6, D)
    assert repr(layer) == f"MGNNLayer({D}, heads=2, update='{update}', edge_dim=None)"


def test_layer_uses_edge_weight():
    layer = MGNNLayer(channels=D, edge_dim=1).eval()
    x, edge_index = torch.randn(4, D), torch.tensor([[1, 2, 3], [0, 0, 0]])
    with pytest.raises(ValueError, match="edge_weight"):
        layer(x, edge_index)
    a, _ = layer(x, edge_index, torch.tensor([0.1, 0.5, 0.9]))
    b, _ = layer(x, edge_index, torch.tensor([0.9, 0.5, 0.1]))
    assert not torch.allclose(a[0], b[0])  # the weights change the attention
    torch.testing.assert_close(a[1:], b[1:])  # nodes without in-edges unaffected


def test_layer_isolated_node_is_updated_from_its_own_state():
    layer = MGNNLayer(channels=D).eval()
    x = torch.randn(2, D)
    h, _ = layer(x, torch.zeros(2, 0, dtype=torch.long))
    assert h.shape == (2, D) and torch.isfinite(h).all()


def test_unknown_update():
    assert {"gru", "lstm"} <= set(UPDATES)
    with pytest.raises(UnknownNameError, match="gru"):
        MGNNLayer(channels=D, update="rnn")
    with pytest.raises(ValueError, match="update"):
        make(update="rnn")


# ------------------------------------------------------------------------- MGNN
def test_repr_and_layout():
    m = make(num_layers=3, heads=2, update="lstm")
    assert repr(m) == (
        f"MGNN(({USER_CH}, {ITEM_CH}), {D}, num_layers=3, heads=2, update='lstm', "
        "channels_used=['bipartite', 'user_sim', 'item_sim'])"
    )
    assert m.out_channels == D
    for channel in ("bipartite", "user_sim", "item_sim"):
        assert len(m.convs[channel]) == 3
    # one W (a single GATConv lin) serves both bipartite directions
    conv = m.convs["bipartite"][0].conv
    assert conv.lin is not None and conv.lin_src is None and conv.lin_edge is None
    assert make(use_edge_weight=True).convs["user_sim"][0].conv.lin_edge is not None
    assert make(use_edge_weight=True).convs["bipartite"][0].conv.lin_edge is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_layers"):
        make(num_layers=0)
    with pytest.raises(ValueError, match="unknown MGNN channel"):
        make(channels_used=("bipartite", "social"))
    with pytest.raises(ValueError, match="batch_size"):
        make().inference(None, torch.randn(2, USER_CH), torch.randn(2, ITEM_CH), 0)


@pytest.mark.parametrize("update", ["gru", "lstm"])
def test_forward_shapes_and_gradients(bundle, encoders, pairs, update, assert_grads):
    torch.manual_seed(0)
    m = make(num_layers=2, heads=2, update=update, use_edge_weight=True)
    # fewer hops than layers in the similarity channels: still runs
    sampler = MultiChannelSampler(bundle, fanouts=Fanouts(bipartite=(3, 2), user_sim=(2,)))
    reps = m(sampler.sample(*pairs, torch.Generator().manual_seed(0)), *encoders)
    assert isinstance(reps, GraphRepresentations)
    for key in KEYS:
        assert getattr(reps, key).shape == (5, D)
    sum(getattr(reps, key).pow(2).sum() for key in KEYS).backward()
    # α_dst is constant over a destination's in-edges, so softmax cancels it exactly
    assert_grads(m, may_be_zero=("att_dst",))


def test_cold_start_rows_are_the_oov_initial_encoding(encoders, pairs, graphs):
    user_enc, item_enc = encoders
    user, _ = pairs
    m = make().eval()
    with torch.no_grad():
        reps = m(graphs, user_enc, item_enc)
        p_oov = m.user_lin(user_enc(torch.tensor([-1])))[0]
        q_oov = m.item_lin(item_enc(torch.tensor([-1])))[0]
        p = m.user_lin(user_enc(user))
    torch.testing.assert_close(reps.user[2], p_oov)
    torch.testing.assert_close(reps.user_sim[2], p_oov)
    torch.testing.assert_close(reps.item[1], q_oov)
    torch.testing.assert_close(reps.item_sim[1], q_oov)
    assert not torch.allclose(reps.user[0], p[0])  # known users are propagated


def test_channels_off_give_the_initial_encodings(encoders, pairs, graphs):
    user_enc, item_enc = encoders
    user, item = pairs
    torch.manual_seed(0)
    ngcf = make(channels_used=("bipartite",)).eval()  # NGCF-style: bipartite only
    assert set(ngcf.convs) == {"bipartite"}
    with torch.no_grad():
        reps = ngcf(graphs, user_enc, item_enc)
        p, q = ngcf.user_lin(user_enc(user)), ngcf.item_lin(item_enc(item))
    torch.testing.assert_close(reps.user_sim, p)
    torch.testing.assert_close(reps.item_sim, q)
    assert not torch.allclose(reps.user, p)

    torch.manual_seed(0)
    m = make().eval()
    with torch.no_grad():
        dropped = m({"bipartite": graphs["bipartite"]}, user_enc, item_enc)  # key missing
        only_user_sim = m({"user_sim": graphs["user_sim"]}, user_enc, item_enc, item=item)
        nothing = m({}, user_enc, item_enc, user=user, item=item)
        p, q = m.user_lin(user_enc(user)), m.item_lin(item_enc(item))
    torch.testing.assert_close(dropped.user_sim, p)
    torch.testing.assert_close(dropped.item_sim, q)
    torch.testing.assert_close(only_user_sim.user, p)  # user ids read off user_sim
    torch.testing.assert_close(only_user_sim.item_sim, q)
    for key, want in (("user", p), ("item", q), ("user_sim", p), ("item_sim", q)):
        torch.testing.assert_close(getattr(nothing, key), want)
    with pytest.raises(ValueError, match="item="):
        m({"user_sim": graphs["user_sim"]}, user_enc, item_enc)


@pytest.mark.parametrize(
    "update, num_layers, heads, use_edge_weight",
    [("gru", 2, 1, False), ("lstm", 2, 2, True), ("gru", 3, 1, True)],
)
def test_sampled_full_fanout_equals_full_graph_inference(
    bundle, sampled_and_full, update, num_layers, heads, use_edge_weight
):
    """The issue's equivalence: L hops of fanout -1 reproduce the full-graph rows."""
    torch.manual_seed(1)
    m = make(num_layers=num_layers, heads=heads, update=update, use_edge_weight=use_edge_weight)
    m.eval()
    sampled, full, one_chunk, expected = sampled_and_full(m, full_fanouts(num_layers), 3)
    assert full["user"].shape == full["user_sim"].shape == (bundle.num_users, D)
    assert full["item"].shape == full["item_sim"].shape == (bundle.num_items, D)
    for key in KEYS:
        torch.testing.assert_close(full[key], one_chunk[key], atol=1e-5, rtol=0)
        torch.testing.assert_close(getattr(sampled, key), getattr(expected, key), atol=1e-5, rtol=0)


def test_too_few_hops_differ_from_full_graph(sampled_and_full):
    """Guards the equivalence test: one hop for two layers is not the full graph."""
    torch.manual_seed(1)
    m = make(num_layers=2).eval()
    sampled, _, _, expected = sampled_and_full(m, full_fanouts(1), 4)
    assert not torch.allclose(sampled.user, expected.user, atol=1e-4)


def test_inference_with_channels_off(bundle, encoders):
    user_enc, item_enc = encoders
    m = make(channels_used=("user_sim",)).eval()
    with torch.no_grad():
        user_x = user_enc(torch.arange(bundle.num_users))
        item_x = item_enc(torch.arange(bundle.num_items))
        full = m.inference(bundle.data, user_x, item_x, batch_size=5)
        p, q = m.user_lin(user_x), m.item_lin(item_x)
    torch.testing.assert_close(full["user"], p)
    torch.testing.assert_close(full["item"], q)
    torch.testing.assert_close(full["item_sim"], q)
    assert not torch.allclose(full["user_sim"], p)
