import pytest
import torch

from mogenet.nn import MMoE, SharedBottom

TASKS = ("click", "buy")


def make(**kwargs):
    defaults = dict(in_channels=6, tasks=TASKS, num_experts=3, expert_channels=(8, 4))
    return MMoE(**{**defaults, **kwargs})


def test_shapes_gates_and_repr(assert_gated_output):
    head = make(tower_channels=(5,))
    out = head(torch.randn(7, 6))
    assert_gated_output(out, tasks=TASKS, batch=7, num_experts=3)
    assert repr(head) == (
        "MMoE(6, tasks=['click', 'buy'], num_experts=3, expert_channels=[8, 4], tower_channels=[5])"
    )


def test_mixture_matches_equation():
    head = make()
    x = torch.randn(5, 6)
    out = head(x)
    f = torch.stack([e(x) for e in head.experts], 1)  # [B, E, D]
    g = head.gates["buy"](x)  # [B, E]
    mixed = sum(g[:, e : e + 1] * f[:, e] for e in range(3))
    torch.testing.assert_close(out.logits["buy"], head.towers["buy"](mixed).squeeze(-1))


def test_gradients(assert_grads):
    head = make(dropout=0.1)
    out = head(torch.randn(16, 6))
    sum(out.logits.values()).sum().backward()
    assert_grads(head)


def test_ignores_z():
    head = make().eval()
    x = torch.randn(3, 6)
    torch.testing.assert_close(
        head(x).logits["click"], head(x, torch.randn(3, 4, 2)).logits["click"]
    )


def test_one_expert_equals_shared_bottom():
    mmoe = make(num_experts=1, tower_channels=(3,))
    bottom = SharedBottom(in_channels=6, tasks=TASKS, bottom_channels=(8, 4), tower_channels=(3,))
    bottom.bottom.load_state_dict(mmoe.experts[0].state_dict())
    bottom.towers.load_state_dict(mmoe.towers.state_dict())
    x = torch.randn(9, 6)
    a, b = mmoe(x), bottom(x)
    for task in TASKS:
        torch.testing.assert_close(a.logits[task], b.logits[task])
        assert torch.equal(a.gates[task], torch.ones(9, 1))


def test_bad_arguments():
    with pytest.raises(ValueError):
        make(num_experts=0)
    with pytest.raises(ValueError):
        make(tasks=())
