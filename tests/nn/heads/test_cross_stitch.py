import pytest
import torch

from mogenet.config import ModelConfig
from mogenet.nn.heads import CrossStitch, SingleTaskMLP
from mogenet.nn.heads.cross_stitch import CrossStitchUnit

TASKS = ("click", "cart", "buy")


def make(**kwargs):
    defaults = dict(in_channels=6, tasks=TASKS, expert_channels=(8, 4), tower_channels=(3,))
    return CrossStitch(**{**defaults, **kwargs})


def test_shapes_and_repr():
    head = make()
    out = head(torch.randn(7, 6))
    assert out.gates is None
    assert {t: v.shape for t, v in out.logits.items()} == {t: (7,) for t in TASKS}
    assert len(head.columns) == len(head.stitches) == 2
    assert repr(head) == (
        "CrossStitch(6, tasks=['click', 'cart', 'buy'], expert_channels=[8, 4], "
        "tower_channels=[3], self_weight=0.9)"
    )
    assert repr(head.stitches[0]) == "CrossStitchUnit(3, self_weight=0.9)"


def test_init_is_a_convex_mix_close_to_identity():
    for stitch in make().stitches:
        expected = torch.full((3, 3), 0.05).fill_diagonal_(0.9)  # 0.1 / (K - 1) off-diagonal
        torch.testing.assert_close(stitch.weight.detach(), expected)
        torch.testing.assert_close(stitch.weight.sum(-1).detach(), torch.ones(3))
    pair = CrossStitchUnit(num_tasks=2)
    torch.testing.assert_close(pair.weight.detach(), torch.tensor([[0.9, 0.1], [0.1, 0.9]]))
    torch.testing.assert_close(CrossStitchUnit(num_tasks=1).weight.detach(), torch.ones(1, 1))


def test_unit_mixes_columns():
    stitch = CrossStitchUnit(num_tasks=2)
    h = torch.randn(5, 2, 4)  # [B, K, D]
    out = stitch(h)
    a = stitch.weight.detach()
    torch.testing.assert_close(out[:, 0], a[0, 0] * h[:, 0] + a[0, 1] * h[:, 1])
    torch.testing.assert_close(out[:, 1], a[1, 0] * h[:, 0] + a[1, 1] * h[:, 1])


def copy_into_single_task(stitched: CrossStitch, act: str) -> SingleTaskMLP:
    """A SingleTaskMLP whose per-task MLP has the stitched head's column and tower
    weights: its layer l is column layer l, then the tower's layers."""
    mlp = SingleTaskMLP(
        in_channels=stitched.in_channels,
        tasks=stitched.tasks,
        expert_channels=stitched.expert_channels,
        tower_channels=stitched.tower_channels,
        act=act,
    )
    for task in stitched.tasks:
        lins = [layer[task].lins[0] for layer in stitched.columns]
        lins += list(stitched.towers[task].lins)
        for target, source in zip(mlp.towers[task].lins, lins, strict=True):
            target.load_state_dict(source.state_dict())
    return mlp


def test_identity_stitches_equal_independent_mlps():
    head = make(act="leaky_relu").eval()  # leaky: a dead tower would hide the sharing
    with torch.no_grad():
        for stitch in head.stitches:
            stitch.weight.copy_(torch.eye(3))
    mlp = copy_into_single_task(head, act="leaky_relu").eval()
    x = torch.randn(9, 6)
    a, b = head(x), mlp(x)
    for task in TASKS:
        torch.testing.assert_close(a.logits[task], b.logits[task])
    # with the initial (non-identity) stitches the tasks do share
    head.reset_parameters()
    mlp = copy_into_single_task(head, act="leaky_relu").eval()
    assert not torch.allclose(head(x).logits["buy"], mlp(x).logits["buy"])


def test_swapping_stitch_routes_the_other_column():
    head = make(tasks=("a", "b"), expert_channels=(4,)).eval()
    with torch.no_grad():
        head.stitches[0].weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    x = torch.randn(5, 6)
    column_b = head.columns[0]["b"](x)
    torch.testing.assert_close(head(x).logits["a"], head.towers["a"](column_b).squeeze(-1))


def test_gradients(assert_grads):
    head = make(dropout=0.1, act="leaky_relu")  # leaky: no dead units in tiny columns
    out = head(torch.randn(16, 6))
    sum(out.logits.values()).sum().backward()
    assert_grads(head)
    assert head.stitches[1].weight.grad.abs().min() > 0  # every task pair learns


def test_bad_arguments():
    with pytest.raises(ValueError):
        make(expert_channels=())
    with pytest.raises(ValueError):
        make(self_weight=1.5)


def test_builds_from_default_config(default_head):
    head = default_head("cross_stitch", TASKS)
    assert isinstance(head, CrossStitch)
    assert head.expert_channels == ModelConfig().expert_channels
