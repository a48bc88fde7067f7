"""Every registered head is built, run forward and backward from a case below.

A head without a case FAILS this test (never skips): add its constructor keyword
arguments to ``HEAD_CASES`` when you register a head.
"""

from __future__ import annotations

from collections.abc import Callable
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
    # batch size -> keyword inputs, for heads that declare MultiTaskHead.inputs
    extra: Callable[[int], dict[str, torch.Tensor]] | None = None


HEAD_CASES: dict[str, HeadCase] = {
    "aesm2": HeadCase(
        dict(num_scenarios=3, num_experts=2, top_k_specific=1, top_k_shared=1, task_experts=2),
        extra=lambda b: {"scenario": torch.arange(b) % 3},
    ),
    "aitm": HeadCase(dict(hidden_channels=(8, 4), tower_channels=(3,))),
    "bpcm": HeadCase(dict(num_fields=2, aggregation_channels=8, tower_channels=(3,))),
    "cgc": HeadCase(
        dict(num_experts=2, num_task_experts=1, expert_channels=(8, 4), tower_channels=())
    ),
    "cross_stitch": HeadCase(dict(expert_channels=(8, 4), tower_channels=(3,))),
    "esmm": HeadCase(dict(hidden_channels=(8, 4), tower_channels=(3,))),
    "mlp": HeadCase(dict(expert_channels=(8,), tower_channels=(3,))),
    "mmoe": HeadCase(dict(num_experts=3, expert_channels=(8, 4), tower_channels=(3,))),
    "mogenet": HeadCase(
        dict(num_experts=4, expert_channels=(8, 4), z_channels=3, tower_channels=(3,)),
        z_shape=(4, 3),
    ),
    "mose": HeadCase(  # row b has 3 - b % 4 history steps (row 0 full, row 3 none)
        dict(max_length=3, num_experts=2, bottom_channels=(5,), expert_channels=(4,)),
        extra=lambda b: {
            "sequence": torch.randn(b, 3, IN_CHANNELS),
            "sequence_labels": torch.randint(0, 2, (b, 3, len(TASKS))).float(),
            "sequence_mask": torch.arange(3).expand(b, 3) >= (torch.arange(b) % 4)[:, None],
        },
    ),
    "omoe": HeadCase(dict(num_experts=3, expert_channels=(8, 4), tower_channels=(3,))),
    "ple": HeadCase(
        dict(
            num_levels=2,
            num_experts=2,
            num_task_experts=1,
            expert_channels=(8, 4),
            tower_channels=(3,),
        )
    ),
    "shared_bottom": HeadCase(dict(bottom_channels=(8, 4), tower_channels=(3,))),
    # a sampled coding variable z is exactly 0 or 1 with positive probability: a closed
    # connection (and a sub-network whose connections are all closed) gets no gradient
    "snr_aver": HeadCase(
        dict(num_experts=3, expert_channels=(8, 4), tower_channels=(3,)),
        may_be_zero=("log_alpha", "experts"),
    ),
    "snr_trans": HeadCase(
        dict(num_experts=3, expert_channels=(8, 4), trans_channels=5, tower_channels=(3,)),
        may_be_zero=("log_alpha", "transforms", "experts"),
    ),
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
    extra = {}
    if head.inputs:
        assert case.extra is not None, f"head '{name}' reads {sorted(head.inputs)}; give an extra"
        extra = case.extra(BATCH)
    out = head(torch.randn(BATCH, IN_CHANNELS), z, **extra)

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
