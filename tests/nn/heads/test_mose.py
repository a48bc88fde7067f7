import pytest
import torch

from mogenet.nn.heads import MoSE
from mogenet.nn.heads.mose import LSTMStack, SequentialExperts

TASKS = ("click", "buy")
F, L, B = 5, 4, 6


def make_head(**kw):
    torch.manual_seed(0)
    args = dict(
        in_channels=F,
        tasks=TASKS,
        max_length=L,
        num_experts=3,
        bottom_channels=(8,),
        expert_channels=(6, 4),
        tower_channels=(3,),
    )
    return MoSE(**{**args, **kw})


def make_inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, F, generator=g)
    seq = torch.randn(B, L, F, generator=g)
    labels = torch.randint(0, 2, (B, L, len(TASKS)), generator=g).float()
    lengths = torch.tensor([4, 3, 2, 1, 0, 4])
    mask = torch.arange(L)[None, :] >= (L - lengths)[:, None]  # left-padded
    return x, seq, labels, mask


def run(head, x, seq, labels, mask):
    return head(x, sequence=seq, sequence_labels=labels, sequence_mask=mask)


def test_shapes_repr_and_gates():
    head = make_head()
    out = run(head, *make_inputs())
    assert head.inputs == frozenset({"sequence"}) and not head.uses_graph
    assert {t: v.shape for t, v in out.logits.items()} == {t: (B,) for t in TASKS}
    for g in out.gates.values():
        assert g.shape == (B, 3)
        torch.testing.assert_close(g.sum(-1), torch.ones(B))
    assert repr(head) == (
        "MoSE(5, tasks=['click', 'buy'], max_length=4, num_experts=3, bottom_channels=[8], "
        "expert_channels=[6, 4], tower_channels=[3])"
    )
    assert repr(head.network.bottom) == "LSTMStack(8, channels=[8])"  # F + K + 1 = 8 per step


def test_padding_content_never_changes_the_output():
    head = make_head().eval()
    x, seq, labels, mask = make_inputs()
    ref = run(head, x, seq, labels, mask)
    pad = ~mask
    seq2 = torch.where(pad[..., None], torch.randn_like(seq) * 100, seq)
    labels2 = torch.where(pad[..., None], torch.ones_like(labels), labels)
    out = run(head, x, seq2, labels2, mask)
    for t in TASKS:
        assert torch.equal(out.logits[t], ref.logits[t])
        assert torch.equal(out.gates[t], ref.gates[t])


def test_padding_amount_and_position_do_not_matter():
    head = make_head().eval()
    x, seq, labels, mask = make_inputs()
    ref = run(head, x, seq, labels, mask)
    # each row alone, with exactly its history and no padding at all
    for b in range(B):
        keep = mask[b]
        alone = run(
            head, x[b : b + 1], seq[b : b + 1, keep], labels[b : b + 1, keep], mask[b : b + 1, keep]
        )
        for t in TASKS:
            torch.testing.assert_close(alone.logits[t], ref.logits[t][b : b + 1])
    # right-padded (real steps first) gives the same as left-padded
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
    take = lambda v: v.gather(1, order.view(B, L, *[1] * (v.dim() - 2)).expand_as(v))  # noqa: E731
    right = run(head, x, take(seq), take(labels), take(mask))
    for t in TASKS:
        torch.testing.assert_close(right.logits[t], ref.logits[t])


def test_the_history_is_read():
    head = make_head().eval()
    x, seq, labels, mask = make_inputs()
    ref = run(head, x, seq, labels, mask)
    seq2 = seq.clone()
    seq2[0, 0] += 1.0  # row 0: oldest real step
    labels2 = labels.clone()
    labels2[1, -1] = 1 - labels2[1, -1]  # row 1: labels of the newest step
    out = run(head, x, seq2, labels2, mask)
    assert not torch.allclose(out.logits["click"][:2], ref.logits["click"][:2])
    torch.testing.assert_close(out.logits["click"][2:], ref.logits["click"][2:])


def test_many_to_many_outputs_are_causal():
    torch.manual_seed(0)
    net = SequentialExperts(
        in_channels=3,
        max_length=5,
        tasks=TASKS,
        num_experts=2,
        bottom_channels=(4,),
        expert_channels=(4,),
        tower_channels=(),
    )
    net.eval()
    steps = torch.randn(2, 5, 3)
    lengths = torch.tensor([5, 3])
    out, _ = net(steps, lengths)
    assert out["click"].shape == (2, 5) and (out["click"][1, 3:] == 0).all()
    later = steps.clone()
    later[:, 3:] = torch.randn(2, 2, 3)
    changed, _ = net(later, lengths)
    # the per-step outputs before the change only move through the whole-sequence gate
    net.gates["click"].lin.weight.data.zero_()
    net.gates["buy"].lin.weight.data.zero_()
    a, _ = net(steps, lengths)
    b, _ = net(later, lengths)
    torch.testing.assert_close(a["click"][:, :3], b["click"][:, :3])
    assert not torch.allclose(changed["click"][0], out["click"][0])
    torch.testing.assert_close(changed["click"][1], out["click"][1])  # row 1 ends at step 3


def test_gradients(assert_grads):
    head = make_head(dropout=0.1)
    out = run(head, *make_inputs())
    sum(v.sum() for v in out.logits.values()).backward()
    assert_grads(head)
    head.reset_parameters()


def test_invalid_arguments():
    head = make_head()
    x, seq, labels, mask = make_inputs()
    with pytest.raises(ValueError, match="max_length=4"):
        run(head, x, torch.cat([seq, seq], 1), torch.cat([labels, labels], 1), mask.repeat(1, 2))
    with pytest.raises(ValueError, match="max_length"):
        make_head(max_length=0)
    with pytest.raises(ValueError, match="at least one LSTM layer"):
        make_head(bottom_channels=())
    with pytest.raises(ValueError, match="positive"):
        LSTMStack(in_channels=3, channels=(0,))
