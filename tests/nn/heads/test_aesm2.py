import math

import pytest
import torch

from mogenet.nn.heads import AESM2
from mogenet.nn.heads.aesm2 import ExpertSelection

TASKS = ("click", "buy")
F, B = 6, 16


def make_layer(**kw):
    torch.manual_seed(0)
    args = dict(
        in_channels=F,
        gate_channels=F,
        num_gates=3,
        num_experts=6,
        channels=(5,),
        top_k_specific=2,
        top_k_shared=1,
    )
    return ExpertSelection(**{**args, **kw})


def make_head(**kw):
    torch.manual_seed(0)
    args = dict(
        in_channels=F,
        tasks=TASKS,
        num_scenarios=3,
        num_experts=6,
        expert_channels=(8,),
        top_k_specific=2,
        top_k_shared=1,
        task_experts=4,
        task_expert_channels=(5,),
        task_top_k_specific=1,
        task_top_k_shared=2,
        tower_channels=(3,),
    )
    return AESM2(**{**args, **kw})


def inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, F, generator=g), torch.arange(B) % 3


def test_selection_picks_exactly_top_k_by_kl_divergence():
    layer = make_layer().eval()
    x, own = inputs()
    sel = layer(x, x, own)
    n, m = 6, 3
    assert sel.specific.shape == (B, 2) and sel.shared.shape == (B, 1)
    assert sel.output.shape == (B, 5) and sel.weights.shape == (B, n)
    # reference, written from Eq. 9-13 with explicit KL sums
    G = torch.softmax(layer.gate(x).view(B, m, n), dim=1)  # [B, m, n] softmax over gates
    p = torch.nn.functional.one_hot(own, m).float()  # [B, m]
    q = torch.full((B, m), 1.0 / m)
    kl_p = torch.stack([(p * (p.clamp_min(1e-30) / G[:, :, k]).log()).sum(1) for k in range(n)], 1)
    kl_q = torch.stack([(q * (q / G[:, :, k]).log()).sum(1) for k in range(n)], 1)
    for b in range(B):
        assert set(sel.specific[b].tolist()) == set(kl_p[b].argsort()[:2].tolist())
        rest = [k for k in kl_q[b].argsort().tolist() if k not in sel.specific[b].tolist()]
        assert sel.shared[b].tolist() == rest[:1]
    torch.testing.assert_close(sel.kl_specific, kl_p.gather(1, sel.specific))
    torch.testing.assert_close(sel.kl_shared, kl_q.gather(1, sel.shared))
    # exactly K_sp + K_sh experts per row carry weight: the selected ones
    chosen = torch.zeros(B, n, dtype=torch.bool)
    chosen.scatter_(1, torch.cat([sel.specific, sel.shared], 1), True)
    assert (chosen.sum(1) == 3).all()
    assert torch.equal(sel.weights > 0, chosen)
    torch.testing.assert_close(sel.weights.sum(1), torch.ones(B))
    # the mixture uses the row's own gate g_j over the selected experts (Eq. 14-15)
    own_logits = layer.gate(x).view(B, m, n)[torch.arange(B), own]
    w = torch.softmax(own_logits.masked_fill(~chosen, -math.inf), -1)
    experts = torch.stack([e(x) for e in layer.experts], 1)
    torch.testing.assert_close(sel.output, torch.einsum("be,bed->bd", w, experts))


@pytest.mark.parametrize("k_sp,k_sh", [(1, 0), (0, 2), (3, 3)])
def test_any_split_of_top_k(k_sp, k_sh):
    x, own = inputs()
    sel = make_layer(top_k_specific=k_sp, top_k_shared=k_sh)(x, x, own)
    assert sel.specific.shape == (B, k_sp) and sel.shared.shape == (B, k_sh)
    assert ((sel.weights > 0).sum(1) == k_sp + k_sh).all()


def test_noise_only_in_training_and_deterministic_eval():
    head = make_head()
    x, scenario = inputs()
    head.eval()
    a, b = head(x, scenario=scenario), head(x, scenario=scenario)
    for t in TASKS:
        assert torch.equal(a.logits[t], b.logits[t])
    head.train()
    c, d = head(x, scenario=scenario), head(x, scenario=scenario)
    assert not torch.equal(c.logits["click"], d.logits["click"])
    quiet = make_head(noise_scale=0.0)
    e, f = quiet(x, scenario=scenario), quiet(x, scenario=scenario)
    assert torch.equal(e.logits["click"], f.logits["click"])


def test_head_shapes_gates_and_exact_top_k_in_every_layer():
    head = make_head(scenario_layers=2, task_layers=2).eval()
    x, scenario = inputs()
    out = head(x, scenario=scenario)
    assert head.inputs == frozenset({"scenario"})
    assert {t: v.shape for t, v in out.logits.items()} == {t: (B,) for t in TASKS}
    for depth in range(2):
        g = out.aux[f"scenario_gates_{depth}"]
        assert g.shape == (B, 6) and ((g > 0).sum(1) == 3).all()
    for g in out.gates.values():
        assert g.shape == (B, 4) and ((g > 0).sum(1) == 3).all()
        torch.testing.assert_close(g.sum(1), torch.ones(B))
    assert repr(head) == (
        "AESM2(6, tasks=['click', 'buy'], num_scenarios=3, num_experts=6, top_k=(2, 1), "
        "task_experts=4, task_top_k=(1, 2), layers=(2, 2))"
    )


def test_scenario_routing_changes_outputs():
    head = make_head().eval()
    x, _ = inputs()
    outs = [head(x, scenario=torch.full((B,), s)) for s in range(3)]
    for s in (1, 2):
        assert not torch.allclose(outs[0].logits["click"], outs[s].logits["click"])
    # rows are independent: a row's output depends on its own scenario only
    mixed = head(x, scenario=torch.arange(B) % 3)
    for s in range(3):
        rows = torch.arange(B) % 3 == s
        torch.testing.assert_close(mixed.logits["buy"][rows], outs[s].logits["buy"][rows])


def test_auxiliary_loss_value_and_gradient():
    head = make_head(scenario_layers=2, lambda_specific=0.5, lambda_shared=0.25).eval()
    x, scenario = inputs()
    selections = []
    for layer in [*head.scenario_layers, *head.task_layers]:
        layer.register_forward_hook(lambda mod, args, out: selections.append(out))
    out = head(x, scenario=scenario)
    aux = out.losses["expert_selection"]
    # Eq. 20-21: lambda_sp * sum over layers of the mean KL of the selected specific
    # experts + lambda_sh * the same for the shared ones
    assert len(selections) == 3
    expected = sum(0.5 * s.kl_specific.mean() + 0.25 * s.kl_shared.mean() for s in selections)
    torch.testing.assert_close(aux, expected)
    assert aux.dim() == 0 and aux > 0
    aux.backward()  # differentiable: reaches the gates (and what feeds them), not the towers
    for layer in [*head.scenario_layers, *head.task_layers]:
        assert layer.gate.weight.grad.abs().sum() > 0
    assert head.scenario_embedding.weight.grad.abs().sum() > 0
    assert head.task_embedding.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in head.towers.parameters())
    off = make_head(lambda_specific=0.0, lambda_shared=0.0)(x, scenario=scenario)
    assert off.losses["expert_selection"].item() == 0.0


def test_gradients(assert_grads):
    # every expert selected for some row: K_sp + K_sh = n in each layer
    head = make_head(num_experts=3, task_experts=3, dropout=0.1)
    x, scenario = inputs()
    out = head(x, scenario=scenario)
    loss = sum(v.sum() for v in out.logits.values()) + sum(out.losses.values())
    loss.backward()
    assert_grads(head)
    head.reset_parameters()


def test_invalid_arguments():
    with pytest.raises(ValueError, match="exceeds num_experts"):
        make_layer(top_k_specific=4, top_k_shared=3)
    with pytest.raises(ValueError, match="at least one"):
        make_layer(top_k_specific=0, top_k_shared=0)
    with pytest.raises(ValueError, match="num_scenarios"):
        make_head(num_scenarios=0)
    with pytest.raises(ValueError, match="noise_scale"):
        make_layer(noise_scale=-1.0)
