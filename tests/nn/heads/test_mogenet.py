"""MoGENet graph-enhanced experts: Eq. 4, graph experts, degradation to MMoE."""

from __future__ import annotations

import pytest
import torch

from mogenet.nn import MMoE, NodeEncoder
from mogenet.nn.heads import GraphEnhancedExperts, resolve_head
from mogenet.nn.interaction import PairwiseInteraction
from mogenet.nn.mgnn import MGNN

TASKS = ("click", "buy")
IN, DZ, B = 6, 3, 7


def make(**kwargs):
    defaults = dict(in_channels=IN, tasks=TASKS, expert_channels=(8, 4), z_channels=DZ)
    return GraphEnhancedExperts(**{**defaults, **kwargs})


def test_shapes_gates_and_repr(assert_gated_output):
    head = make(tower_channels=(5,))
    assert head.uses_graph and GraphEnhancedExperts.uses_graph
    out = head(torch.randn(B, IN), torch.randn(B, 4, DZ))
    assert_gated_output(out, tasks=TASKS, batch=B, num_experts=4)
    assert repr(head) == (
        "GraphEnhancedExperts(6, tasks=['click', 'buy'], num_experts=4, "
        "expert_channels=[8, 4], z_channels=3, graph_experts=4, tower_channels=[5])"
    )
    assert isinstance(
        resolve_head("mogenet", in_channels=IN, tasks=TASKS, z_channels=2), GraphEnhancedExperts
    )


def test_matches_equation_4():
    head = make()
    x, z = torch.randn(B, IN), torch.randn(B, 4, DZ)
    out = head(x, z)
    for task in TASKS:
        g = head.gates[task](x)  # [B, N]
        mixed = sum(
            g[:, n : n + 1] * torch.cat([head.experts[n](x), z[:, n]], -1) for n in range(4)
        )
        v = head.towers[task]  # a single linear layer: the paper's v
        assert len(v.lins) == 1
        torch.testing.assert_close(out.logits[task], v(mixed).squeeze(-1))


def test_experts_use_leaky_relu():
    head = make()
    assert isinstance(head.experts[0].act, torch.nn.LeakyReLU)


@pytest.mark.parametrize("tower_channels", [(), (5,)])
def test_gradients(tower_channels, assert_grads):
    head = make(tower_channels=tower_channels, dropout=0.1)
    z = torch.randn(16, 4, DZ, requires_grad=True)
    out = head(torch.randn(16, IN), z)
    sum(out.logits.values()).sum().backward()
    assert_grads(head)
    assert z.grad is not None and z.grad.abs().sum() > 0


@pytest.mark.parametrize("tower_channels", [(), (5,)])
def test_without_graph_equals_mmoe(tower_channels):
    """§2.4: ignoring the MGNN, MoGENet degrades into MMoE (LeakyReLU experts)."""
    torch.manual_seed(0)
    mmoe = MMoE(
        in_channels=IN,
        tasks=TASKS,
        num_experts=3,
        expert_channels=(8, 4),
        tower_channels=tower_channels,
        act="leaky_relu",
    )
    head = make(num_experts=3, tower_channels=tower_channels, use_graph=False, z_channels=None)
    assert not head.uses_graph  # a model computes no z for it
    head.load_state_dict(mmoe.state_dict())  # strict: same parameters
    x = torch.randn(9, IN)
    a, b = head(x, torch.randn(9, 3, DZ)), mmoe(x)
    for task in TASKS:
        torch.testing.assert_close(a.logits[task], b.logits[task])
        torch.testing.assert_close(a.gates[task], b.gates[task])


@pytest.mark.parametrize("graph_experts", [0, 1, 2, 3, 4])
def test_graph_experts_left_to_right(graph_experts):
    head = make(graph_experts=graph_experts).eval()
    assert head.uses_graph == (graph_experts > 0)
    assert head.towers["click"].lins[0].in_channels == 4 + (DZ if graph_experts else 0)
    x, z = torch.randn(B, IN), torch.randn(B, 4, DZ)
    out = head(x, z if graph_experts else None)
    assert out.logits["buy"].shape == (B,)
    if graph_experts == 0:
        return
    tail = z.clone()
    tail[:, graph_experts:] = torch.randn(B, 4 - graph_experts, DZ)  # plain experts' slots
    torch.testing.assert_close(head(x, tail).logits["buy"], out.logits["buy"])
    head_z = z.clone()
    head_z[:, graph_experts - 1] += 1.0  # the last graph expert's slot
    assert not torch.allclose(head(x, head_z).logits["buy"], out.logits["buy"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_experts must be 4"):
        make(num_experts=3)
    with pytest.raises(ValueError, match="z_channels"):
        make(z_channels=None)
    with pytest.raises(ValueError, match="graph_experts"):
        make(graph_experts=5)
    with pytest.raises(ValueError, match="needs use_graph"):
        make(use_graph=False, graph_experts=2)
    head = make()
    with pytest.raises(ValueError, match=r"needs z of shape \(7, 4, 3\)"):
        head(torch.randn(B, IN))
    with pytest.raises(ValueError, match="needs z"):
        head(torch.randn(B, IN), torch.randn(B, 3, DZ))


def test_composed_with_mgnn_and_interaction(assert_grads):
    """The model's wiring: encoders → MGNN → κ → head, gradients reach every part."""
    torch.manual_seed(0)
    users, items = (
        NodeEncoder(num_nodes=4, embedding_dim=3),
        NodeEncoder(num_nodes=5, embedding_dim=3),
    )
    mgnn = MGNN(user_channels=3, item_channels=3, channels=4, num_layers=1)
    kappa = PairwiseInteraction(kind="concat", channels=4)
    head = make(in_channels=6, z_channels=kappa.out_channels)
    user, item = torch.tensor([0, 1, 3]), torch.tensor([4, 0, 2])
    full = mgnn.inference(
        _tiny_graph(), users(torch.arange(4)), items(torch.arange(5)), batch_size=2
    )
    assert not full["user"].requires_grad  # inference runs without autograd
    reps = mgnn({}, users, items, user=user, item=item)  # no subgraphs: initial encodings
    out = head(torch.cat([users(user), items(item)], -1), kappa(reps))
    sum(out.logits.values()).sum().backward()
    assert_grads(head)
    assert mgnn.user_lin.weight.grad.abs().sum() > 0


def _tiny_graph():
    from torch_geometric.data import HeteroData

    data = HeteroData()
    data["user", "interacts", "item"].edge_index = torch.tensor([[0, 1, 3], [4, 0, 2]])
    for ntype in ("user", "item"):
        data[ntype, "similar", ntype].edge_index = torch.tensor([[0, 1], [1, 0]])
        data[ntype, "similar", ntype].edge_weight = torch.tensor([0.5, 0.5])
    return data
