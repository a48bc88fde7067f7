import torch

from mogenet.config import ModelConfig
from mogenet.nn.heads import SingleTaskMLP

TASKS = ("click", "buy")


def make(**kwargs):
    defaults = dict(in_channels=6, tasks=TASKS, expert_channels=(8, 4), tower_channels=(3,))
    return SingleTaskMLP(**{**defaults, **kwargs})


def test_shapes_and_repr():
    head = make()
    out = head(torch.randn(7, 6))
    assert out.gates is None and out.losses == {}
    assert {t: v.shape for t, v in out.logits.items()} == {t: (7,) for t in TASKS}
    assert repr(head) == (
        "SingleTaskMLP(6, tasks=['click', 'buy'], expert_channels=[8, 4], tower_channels=[3])"
    )
    # one MLP per task: in -> expert_channels -> tower_channels -> 1 logit
    sizes = [(lin.in_channels, lin.out_channels) for lin in head.towers["buy"].lins]
    assert sizes == [(6, 8), (8, 4), (4, 3), (3, 1)]


def test_tasks_share_nothing():
    head = make().eval()
    x = torch.randn(9, 6)
    before = head(x).logits
    with torch.no_grad():
        for p in head.towers["click"].parameters():
            p.add_(torch.randn_like(p))
    after = head(x).logits
    assert torch.equal(after["buy"], before["buy"])
    assert not torch.allclose(after["click"], before["click"])
    # and a task's loss reaches only its own MLP
    head.zero_grad()
    after["click"].sum().backward()
    assert all(p.grad is None for p in head.towers["buy"].parameters())


def test_gradients(assert_grads):
    head = make(dropout=0.1, norm="layer_norm", act="leaky_relu")  # no dead units
    out = head(torch.randn(16, 6))
    sum(out.logits.values()).sum().backward()
    assert_grads(head)


def test_builds_from_default_config(default_head):
    head = default_head("mlp", TASKS)
    assert isinstance(head, SingleTaskMLP)
    assert head.expert_channels == ModelConfig().expert_channels
