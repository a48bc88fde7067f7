import math

import pytest
import torch

from mogenet.nn.heads import AITM
from mogenet.nn.heads.aitm import AdaptiveInformationTransfer
from mogenet.nn.heads.chain import ChainError

TASKS = ("click", "cart", "buy")


def make(**kwargs):
    defaults = dict(in_channels=6, tasks=TASKS, hidden_channels=(8, 4), tower_channels=(3,))
    return AITM(**{**defaults, **kwargs})


def test_shapes_and_repr():
    head = make()
    out = head(torch.randn(7, 6))
    assert tuple(out.logits) == TASKS and out.gates is None
    assert all(v.shape == (7,) for v in out.logits.values())
    assert set(out.aux) == {"cart_transfer_weight", "buy_transfer_weight"}
    assert out.losses["calibration"].shape == ()
    assert repr(head) == (
        "AITM(6, tasks=['click', 'cart', 'buy'], chain=['click', 'cart', 'buy'], "
        "hidden_channels=[8, 4], tower_channels=[3], calibration_weight=0.6)"
    )


def test_ait_attention_matches_the_paper():
    ait = AdaptiveInformationTransfer(channels=5)
    p, q = torch.randn(9, 5), torch.randn(9, 5)
    z, w = ait(p, q)
    torch.testing.assert_close(w.sum(-1), torch.ones(9))

    def score(u):
        return (ait.h1(u) * ait.h2(u)).sum(-1) / math.sqrt(5)

    w_p = torch.exp(score(p)) / (torch.exp(score(p)) + torch.exp(score(q)))
    torch.testing.assert_close(w[:, 0], w_p)
    expected = w_p[:, None] * ait.h3(p) + (1 - w_p)[:, None] * ait.h3(q)
    torch.testing.assert_close(z, expected)
    assert repr(ait) == "AdaptiveInformationTransfer(5)"


def test_forward_follows_the_chain():
    head = make().eval()
    x = torch.randn(10, 6)
    out = head(x)
    q = {t: head.encoders[t](x) for t in TASKS}
    z_click = q["click"]  # the first step is its own tower
    z_cart, w_cart = head.ait["cart"](head.transfers["cart"](z_click), q["cart"])
    z_buy, _ = head.ait["buy"](head.transfers["buy"](z_cart), q["buy"])
    for t, z in (("click", z_click), ("cart", z_cart), ("buy", z_buy)):
        torch.testing.assert_close(out.logits[t], head.towers[t](z).squeeze(-1))
    torch.testing.assert_close(out.aux["cart_transfer_weight"], w_cart[:, 0])


def test_branches_read_their_parent():
    chain = [["click", "cart"], ["click", "buy"]]  # cart and buy both follow click
    head = make(chain=chain).eval()
    x = torch.randn(10, 6)
    out = head(x)
    q = {t: head.encoders[t](x) for t in TASKS}
    for t in ("cart", "buy"):
        z, _ = head.ait[t](head.transfers[t](q["click"]), q[t])
        torch.testing.assert_close(out.logits[t], head.towers[t](z).squeeze(-1))


def test_calibration_zero_when_monotone_positive_otherwise(set_constant_logits):
    head = make()
    x = torch.randn(16, 6)
    set_constant_logits(head, {"click": 2.0, "cart": 0.5, "buy": 0.5})  # non-increasing
    assert head(x).losses["calibration"].item() == 0.0
    set_constant_logits(head, {"click": 2.0, "cart": 0.5, "buy": 3.0})  # buy rises
    expected = 0.6 * (torch.sigmoid(torch.tensor(3.0)) - torch.sigmoid(torch.tensor(0.5)))
    torch.testing.assert_close(head(x).losses["calibration"], expected)


def test_calibration_weight_and_chain_subset(set_constant_logits):
    head = make(calibration_weight=0.0)
    assert head(torch.randn(4, 6)).losses == {}
    head = make(chain=["click", "buy"], calibration_weight=1.0)
    assert set(head.transfers) == {"buy"}  # cart is outside the chain: no transfer
    x = torch.randn(4, 6)
    set_constant_logits(head, {"click": 0.0, "cart": 5.0, "buy": -1.0})
    out = head(x)
    assert out.losses["calibration"].item() == 0.0  # cart is not calibrated
    own = head.towers["cart"](head.encoders["cart"](x)).squeeze(-1)
    torch.testing.assert_close(out.logits["cart"], own)


def test_gradients_through_the_total_loss(assert_total_loss_grads):
    torch.manual_seed(0)
    head = make(hidden_channels=(16, 8), tower_channels=(8,), dropout=0.1)
    assert_total_loss_grads(head, torch.randn(64, 6), term="calibration")


def test_calibration_gradient_pushes_later_task_down(set_constant_logits):
    head = make(tasks=("click", "buy"), calibration_weight=1.0)
    set_constant_logits(head, {"click": -1.0, "buy": 1.0})
    head(torch.randn(8, 6)).losses["calibration"].backward()
    assert head.towers["buy"].lins[-1].bias.grad.item() > 0  # descent lowers buy
    assert head.towers["click"].lins[-1].bias.grad.item() < 0  # and raises click


def test_bad_arguments():
    with pytest.raises(ChainError):
        make(chain=["click", "click"])
    with pytest.raises(ValueError):
        make(calibration_weight=-1.0)
    with pytest.raises(ValueError):
        make(hidden_channels=())
