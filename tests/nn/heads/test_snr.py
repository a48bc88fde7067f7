import math

import pytest
import torch

from mogenet.config import ModelConfig
from mogenet.losses import MultiTaskLoss
from mogenet.nn.heads import SNRAver, SNRTrans
from mogenet.nn.heads.snr import HardConcrete

TASKS = ("click", "buy")
HEADS = [SNRTrans, SNRAver]


def make(cls, **kwargs):
    defaults = dict(in_channels=6, tasks=TASKS, num_experts=3, expert_channels=(8, 4))
    return cls(**{**defaults, **kwargs})


def force_open(head):
    """Every coding variable z = 1, in train and eval mode alike."""
    with torch.no_grad():
        head.coding.log_alpha.fill_(100.0)
    return head


def test_shapes_and_repr():
    for cls in HEADS:
        out = make(cls, tower_channels=(5,))(torch.randn(7, 6))
        assert out.gates is None and set(out.losses) == {"snr_l0"}
        assert {t: v.shape for t, v in out.logits.items()} == {t: (7,) for t in TASKS}
    head = make(SNRTrans, trans_channels=5)
    assert head.transforms.shape == (2, 3, 5, 4)  # [K, E, D_v, D]
    assert head.towers["buy"].lins[0].in_channels == 5
    assert repr(head) == (
        "SNRTrans(6, tasks=['click', 'buy'], num_experts=3, expert_channels=[8, 4], "
        "tower_channels=[16], l0_weight=0.0001, trans_channels=5)"
    )
    assert repr(make(SNRAver)) == (
        "SNRAver(6, tasks=['click', 'buy'], num_experts=3, expert_channels=[8, 4], "
        "tower_channels=[16], l0_weight=0.0001)"
    )
    assert repr(head.coding) == "HardConcrete([2, 3], beta=0.6667, gamma=-0.1, zeta=1.1)"


def test_hard_concrete_range_and_modes():
    torch.manual_seed(0)
    gate = HardConcrete(shape=(4, 5))
    samples = torch.stack([gate() for _ in range(50)])  # train mode: sampled
    assert samples.min() >= 0 and samples.max() <= 1
    # the stretched, clamped distribution puts mass on exactly 0 and exactly 1
    assert (samples == 0).any() and (samples == 1).any()
    assert not torch.equal(samples[0], samples[1])
    gate.eval()
    z = gate()
    assert torch.equal(z, gate())  # eval mode: deterministic
    expected = (torch.sigmoid(gate.log_alpha) * 1.2 - 0.1).clamp(0, 1)
    torch.testing.assert_close(z, expected)


def test_expected_l0_matches_the_sampled_rate_of_open_gates():
    torch.manual_seed(0)
    gate = HardConcrete(shape=(20000, 3))  # 20000 independent draws of 3 variables
    with torch.no_grad():
        gate.log_alpha.copy_(torch.tensor([-2.0, 0.0, 2.0]).expand(20000, 3))
    open_rate = (gate() > 0).float().mean(0)  # [3]
    shift = (2 / 3) * math.log(0.1 / 1.1)  # beta * log(-gamma / zeta)
    expected = torch.sigmoid(torch.tensor([-2.0, 0.0, 2.0]) - shift)  # 1 - Q(s < 0)
    torch.testing.assert_close(open_rate, expected, atol=0.015, rtol=0)
    torch.testing.assert_close(gate.expected_l0() / 20000, expected.sum(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("cls", HEADS)
def test_eval_is_deterministic_and_train_is_not(cls):
    head = make(cls)
    x = torch.randn(5, 6)
    head.eval()
    torch.testing.assert_close(head(x).logits["buy"], head(x).logits["buy"], rtol=0, atol=0)
    head.train()
    torch.manual_seed(1)
    draws = [head(x).logits["buy"] for _ in range(5)]
    assert any(not torch.equal(draws[0], d) for d in draws[1:])


def test_aver_with_open_coding_is_the_plain_sum():
    head = force_open(make(SNRAver))
    x = torch.randn(5, 6)
    plain = sum(expert(x) for expert in head.experts)  # [B, D]
    for mode in (True, False):
        head.train(mode)
        assert torch.equal(head.coding(), torch.ones(2, 3))
        out = head(x)
        for task in TASKS:
            torch.testing.assert_close(out.logits[task], head.towers[task](plain).squeeze(-1))


def test_trans_matches_equation():
    head = make(SNRTrans, trans_channels=5).eval()
    x = torch.randn(5, 6)
    z = head.coding()  # [K, E]
    u = [expert(x) for expert in head.experts]
    for k, task in enumerate(TASKS):
        v = sum(z[k, j] * u[j] @ head.transforms[k, j].T for j in range(3))  # [B, D_v]
        torch.testing.assert_close(head(x).logits[task], head.towers[task](v).squeeze(-1))


def test_closed_connections_cut_the_route():
    head = make(SNRAver).eval()
    with torch.no_grad():  # task "buy" reads only sub-network 1
        head.coding.log_alpha.fill_(100.0)
        head.coding.log_alpha[1].fill_(-100.0)
        head.coding.log_alpha[1, 1] = 100.0
    x = torch.randn(5, 6)
    expected = head.towers["buy"](head.experts[1](x)).squeeze(-1)
    torch.testing.assert_close(head(x).logits["buy"], expected)


@pytest.mark.parametrize("cls", HEADS)
def test_l0_penalty(cls):
    head = make(cls, l0_weight=1e-3)
    out = head(torch.randn(4, 6))
    l0 = out.losses["snr_l0"]
    assert l0.dim() == 0 and l0 > 0
    torch.testing.assert_close(l0, 1e-3 * head.coding.expected_l0())
    (grad,) = torch.autograd.grad(l0, head.coding.log_alpha)
    assert (grad > 0).all()  # every open probability is pushed down
    assert "snr_l0" not in make(cls, l0_weight=0.0)(torch.randn(4, 6)).losses
    # the multi-task loss adds the term to its total
    loss = MultiTaskLoss(tasks=TASKS, weighting="fixed")
    labels = {t: torch.ones(4) for t in TASKS}
    result = loss(out, labels)
    torch.testing.assert_close(result.terms["snr_l0"], l0)


@pytest.mark.parametrize("cls", HEADS)
def test_gradients(cls, assert_grads):
    head = make(cls, dropout=0.1, act="leaky_relu")  # leaky: no dead units
    with torch.no_grad():  # mostly open (P(z = 0) ~ 0.1%): every part is reached
        head.coding.log_alpha.fill_(5.0)
    out = head(torch.randn(16, 6))
    (sum(out.logits.values()).sum() + sum(out.losses.values())).backward()
    assert_grads(head)


def test_bad_arguments():
    with pytest.raises(ValueError):
        make(SNRAver, num_experts=0)
    with pytest.raises(ValueError):
        make(SNRAver, l0_weight=-1.0)
    with pytest.raises(ValueError):
        make(SNRTrans, gamma=0.1)


@pytest.mark.parametrize("name, cls", [("snr_trans", SNRTrans), ("snr_aver", SNRAver)])
def test_builds_from_default_config(default_head, name, cls):
    head = default_head(name, TASKS)
    assert isinstance(head, cls)
    assert head.num_experts == ModelConfig().num_experts
