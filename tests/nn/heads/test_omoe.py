import pytest
import torch

from mogenet.config import ModelConfig
from mogenet.nn.heads import MMoE, OMoE

TASKS = ("click", "cart", "buy")


def make(**kwargs):
    defaults = dict(in_channels=6, tasks=TASKS, num_experts=3, expert_channels=(8, 4))
    return OMoE(**{**defaults, **kwargs})


def test_shapes_gates_and_repr(assert_gated_output):
    head = make(tower_channels=(5,))
    out = head(torch.randn(7, 6))
    assert_gated_output(out, tasks=TASKS, batch=7, num_experts=3)
    assert repr(head) == (
        "OMoE(6, tasks=['click', 'cart', 'buy'], num_experts=3, expert_channels=[8, 4], "
        "tower_channels=[5])"
    )


def test_one_gate_for_all_tasks():
    head = make()
    x = torch.randn(5, 6)
    out = head(x)
    for task in TASKS:
        assert torch.equal(out.gates[task], out.gates["click"])
    torch.testing.assert_close(out.gates["buy"], head.gate(x))
    # every tower reads the same mixture
    f = torch.stack([e(x) for e in head.experts], 1)  # [B, E, D]
    mixed = (head.gate(x).unsqueeze(-1) * f).sum(1)  # [B, D]
    for task in TASKS:
        torch.testing.assert_close(out.logits[task], head.towers[task](mixed).squeeze(-1))


def test_equals_mmoe_with_tied_gates():
    omoe = make(tower_channels=(3,), dropout=0.2).eval()
    mmoe = MMoE(
        in_channels=6, tasks=TASKS, num_experts=3, expert_channels=(8, 4), tower_channels=(3,)
    ).eval()
    state = {k: v for k, v in omoe.state_dict().items() if not k.startswith("gate.")}
    for task in TASKS:  # every MMoE gate gets the one OMoE gate's weights
        state.update({f"gates.{task}.{k}": v for k, v in omoe.gate.state_dict().items()})
    mmoe.load_state_dict(state)  # strict: the two heads have the same parts otherwise
    x = torch.randn(9, 6)
    a, b = omoe(x), mmoe(x)
    for task in TASKS:
        torch.testing.assert_close(a.logits[task], b.logits[task], rtol=0, atol=0)
        torch.testing.assert_close(a.gates[task], b.gates[task], rtol=0, atol=0)


def test_gradients(assert_grads):
    head = make(dropout=0.1, act="leaky_relu")  # leaky: no dead units in tiny experts
    out = head(torch.randn(16, 6))
    sum(out.logits.values()).sum().backward()
    assert_grads(head)


def test_bad_arguments():
    with pytest.raises(ValueError):
        make(num_experts=0)


def test_builds_from_default_config(default_head):
    head = default_head("omoe", TASKS)
    assert isinstance(head, OMoE)
    assert head.num_experts == ModelConfig().num_experts
