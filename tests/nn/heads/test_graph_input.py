"""GraphInput ("+MGNN"): the wrapped head on [x ‖ vec(z)], everything else passed through;
GraphRepresentationStack: the representations as the rows of z."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from mogenet.nn.heads import GraphInput, GraphRepresentationStack, MultiTaskHead, resolve_head
from mogenet.nn.mgnn import GraphRepresentations
from mogenet.nn.output import HeadOutput

TASKS = ("click", "buy")
B, F, N, D = 5, 6, 4, 3


def wrap(name="mmoe", *, with_x=True, **kwargs):
    torch.manual_seed(0)
    inner = resolve_head(name, in_channels=(F if with_x else 0) + N * D, tasks=TASKS, **kwargs)
    return GraphInput(in_channels=F, head=inner, num_z=N, z_channels=D, with_x=with_x)


def test_equals_the_inner_head_on_x_and_flat_z():
    head = wrap(num_experts=3, expert_channels=(8,))
    x, z = torch.randn(B, F), torch.randn(B, N, D)
    out = head(x, z)
    ref = head.head(torch.cat([x, z.reshape(B, N * D)], dim=-1))
    assert tuple(out.logits) == TASKS
    for task in TASKS:
        torch.testing.assert_close(out.logits[task], ref.logits[task])
        torch.testing.assert_close(out.gates[task], ref.gates[task])  # gates pass through
    assert head.in_channels == F and head.head.in_channels == F + N * D
    assert head.tasks == TASKS and head.uses_graph and not head.head.uses_graph


def test_without_x_the_head_sees_z_only():
    head = wrap("shared_bottom", with_x=False, bottom_channels=(8,))
    x, z = torch.randn(B, F), torch.randn(B, N, D)
    out = head(x, z)
    ref = head.head(z.flatten(1))
    torch.testing.assert_close(out.logits["buy"], ref.logits["buy"])
    torch.testing.assert_close(head(torch.randn(B, F), z).logits["buy"], ref.logits["buy"])


def test_gradients_reach_z_and_every_parameter(assert_grads):
    head = wrap(num_experts=2, expert_channels=(8,))
    z = torch.randn(B, N, D, requires_grad=True)
    out = head(torch.randn(B, F), z)
    sum(v.sum() for v in out.logits.values()).backward()
    assert z.grad is not None and (z.grad.abs().sum(-1) > 0).all()  # every row of every pair
    assert_grads(head)


def test_repr():
    head = wrap(num_experts=2, expert_channels=(8,), tower_channels=())
    assert repr(head) == (
        f"GraphInput({F}, tasks=['click', 'buy'], z=[{N}, {D}], with_x=True, "
        f"head=MMoE({F + N * D}, tasks=['click', 'buy'], num_experts=2, expert_channels=[8], "
        "tower_channels=[]))"
    )


def test_reset_parameters_resets_the_wrapped_head():
    head = wrap(num_experts=2, expert_channels=(8,))
    before = [p.clone() for p in head.parameters()]
    head.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, head.parameters(), strict=True))


def test_bad_arguments():
    graph_head = resolve_head(
        "mogenet", in_channels=F + N * D, tasks=TASKS, expert_channels=(4,), z_channels=D
    )
    with pytest.raises(ValueError, match="reads z itself"):
        GraphInput(in_channels=F, head=graph_head, num_z=N, z_channels=D)
    inner = resolve_head("mmoe", in_channels=F, tasks=TASKS)
    with pytest.raises(ValueError, match=f"in_channels={F + N * D}"):
        GraphInput(in_channels=F, head=inner, num_z=N, z_channels=D)
    head = wrap()
    with pytest.raises(ValueError, match=r"z of shape \(5, 4, 3\), got None"):
        head(torch.randn(B, F))
    with pytest.raises(ValueError, match=r"got \(5, 3, 4\)"):
        head(torch.randn(B, F), torch.randn(B, D, N))


class RecordingHead(MultiTaskHead):
    """A head with extra inputs, aux outputs and its own loss term, that records what it
    received (the wrapper must pass all of it through untouched)."""

    inputs: ClassVar[frozenset[str]] = frozenset({"sequence", "scenario"})

    def __init__(self, *, in_channels, tasks):
        super().__init__(in_channels=in_channels, tasks=tasks)
        self.lin = torch.nn.Linear(in_channels, len(tasks))
        self.max_length = 7
        self.received = {}
        self.reset_parameters()

    def reset_parameters(self):
        self.lin.reset_parameters()

    def forward(self, x, z=None, **inputs):
        self.received = {"x": x, "z": z, **inputs}
        out = self.lin(x)
        return HeadOutput(
            logits={t: out[:, k] for k, t in enumerate(self.tasks)},
            aux={"first": out[:, 0]},
            losses={"calibration": out.square().mean()},
        )


def test_declarations_inputs_and_outputs_pass_through():
    inner = RecordingHead(in_channels=F + N * D, tasks=TASKS)
    head = GraphInput(in_channels=F, head=inner, num_z=N, z_channels=D)
    assert head.inputs == inner.inputs  # the ClassVar the model reads
    assert head.max_length == 7  # other attributes are read off the wrapped head
    with pytest.raises(AttributeError):
        head.no_such_attribute  # noqa: B018

    x, z = torch.randn(B, F), torch.randn(B, N, D)
    sequence, scenario = torch.randn(B, 2, F), torch.tensor([0, 1, 0, 2, 1])
    out = head(x, z, sequence=sequence, scenario=scenario)
    got = inner.received
    assert got["z"] is None and got["scenario"] is scenario
    torch.testing.assert_close(got["x"], torch.cat([x, z.flatten(1)], dim=-1))
    # history pairs: their own x, zeros for the graph part they do not have
    assert got["sequence"].shape == (B, 2, F + N * D)
    torch.testing.assert_close(got["sequence"][..., :F], sequence)
    assert not got["sequence"][..., F:].any()
    assert set(out.aux) == {"first"} and set(out.losses) == {"calibration"}

    with pytest.raises(ValueError, match="with_x=True"):
        GraphInput(
            in_channels=F,
            head=RecordingHead(in_channels=N * D, tasks=TASKS),
            num_z=N,
            z_channels=D,
            with_x=False,
        )


def test_wrapping_a_plain_head_keeps_its_declarations():
    head = wrap()
    assert head.inputs == frozenset() and type(head).uses_graph


# ------------------------------------------------------------ representation stack
def reps(d=D):
    return GraphRepresentations(*(torch.full((B, d), float(k)) for k in range(4)))


def test_stack_of_the_four_representations():
    stack = GraphRepresentationStack(channels=D)
    z = stack(reps())
    assert z.shape == (B, 4, D) and stack.num_outputs == 4 and stack.out_channels == D
    # order h_u, h_i, h_u^U, h_i^I: the GraphRepresentations fields
    torch.testing.assert_close(z[0, :, 0], torch.tensor([0.0, 1.0, 2.0, 3.0]))
    assert (
        repr(stack)
        == f"GraphRepresentationStack({D}, fields=['user', 'item', 'user_sim', 'item_sim'])"
    )
    assert list(stack.parameters()) == []
    stack.reset_parameters()


def test_stack_of_some_fields():
    stack = GraphRepresentationStack(channels=D, fields=("item", "user"))
    torch.testing.assert_close(stack(reps())[0, :, 0], torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="subset"):
        GraphRepresentationStack(channels=D, fields=("user", "social"))
    with pytest.raises(ValueError, match="subset"):
        GraphRepresentationStack(channels=D, fields=())
