"""Every registered head is built, run forward and backward from a case below.

A head without a case FAILS this test (never skips): add its constructor keyword
arguments to ``HEAD_CASES`` when you register a head.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from mogenet.nn.heads import HEADS, MultiTaskHead, resolve_head

IN_CHANNELS = 6
TASKS = ("click", "buy")
BATCH = 5


@dataclass
class HeadCase:
    kwargs: dict = field(default_factory=dict)  # besides in_channels and tasks
    z_shape: tuple[int, int] | None = None  # (N, D) of z for heads with uses_graph
    may_be_zero: tuple[str, ...] = ()  # parameters whose gradient may be exactly 0


HEAD_CASES: dict[str, HeadCase] = {
    "mmoe": HeadCase(dict(num_experts=3, expert_channels=(8, 4), tower_channels=(3,))),
    "mogenet": HeadCase(
        dict(num_experts=4, expert_channels=(8, 4), z_channels=3, tower_channels=(3,)),
        z_shape=(4, 3),
    ),
    "shared_bottom": HeadCase(dict(bottom_channels=(8, 4), tower_channels=(3,))),
}


def test_no_stale_cases():
    assert set(HEAD_CASES) <= set(HEADS), (
        f"cases for unregistered heads: {set(HEAD_CASES) - set(HEADS)}"
    )


@pytest.mark.parametrize("name", sorted(HEADS))
def test_head_forward_backward(name, assert_grads):
    assert name in HEAD_CASES, (
        f"head '{name}' has no entry in HEAD_CASES ({__file__}); add its constructor kwargs"
    )
    case = HEAD_CASES[name]
    torch.manual_seed(0)
    head = resolve_head(name, in_channels=IN_CHANNELS, tasks=TASKS, **case.kwargs)
    assert isinstance(head, HEADS[name]) and isinstance(head, MultiTaskHead)
    assert head.tasks == TASKS and head.in_channels == IN_CHANNELS
    assert repr(head).startswith(f"{type(head).__name__}({IN_CHANNELS}, tasks=")

    z = None
    if head.uses_graph:
        assert case.z_shape is not None, f"head '{name}' reads z; give HEAD_CASES a z_shape"
        z = torch.randn(BATCH, *case.z_shape)
    out = head(torch.randn(BATCH, IN_CHANNELS), z)

    assert tuple(out.logits) == TASKS
    for task in TASKS:
        assert out.logits[task].shape == (BATCH,)
        assert torch.isfinite(out.logits[task]).all()
    if out.gates is not None:
        assert tuple(out.gates) == TASKS
        for g in out.gates.values():
            assert g.dim() == 2 and g.size(0) == BATCH
            torch.testing.assert_close(g.sum(-1), torch.ones(BATCH))
    loss = sum(
        torch.nn.functional.binary_cross_entropy_with_logits(
            out.logits[t], torch.randint(0, 2, (BATCH,)).float()
        )
        for t in TASKS
    )
    loss.backward()
    assert_grads(head, may_be_zero=case.may_be_zero)

    head.reset_parameters()  # must exist and run
