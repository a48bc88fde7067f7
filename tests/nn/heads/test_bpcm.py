import math

import pytest
import torch

from mogenet.nn.heads import BPCM
from mogenet.nn.heads.bpcm import ComplementaryGate, FeatureTower, FieldAttention
from mogenet.nn.heads.chain import ChainError

TASKS = ("click", "cart", "buy")


def make(**kwargs):
    defaults = dict(in_channels=8, tasks=TASKS, aggregation_channels=6, tower_channels=(3,))
    return BPCM(**{**defaults, **kwargs})


def test_shapes_fields_and_repr():
    head = make(num_fields=4)
    assert head.field_channels == 2
    x = torch.randn(7, 8)
    assert torch.equal(head.fields(x)[:, 1], x[:, 2:4])  # field k = columns [k*d, (k+1)*d)
    out = head(x)
    assert tuple(out.logits) == TASKS and out.gates is None
    assert all(v.shape == (7,) for v in out.logits.values())
    assert out.losses["calibration"].shape == ()
    assert repr(head) == (
        "BPCM(8, tasks=['click', 'cart', 'buy'], chain=['click', 'cart', 'buy'], num_fields=4, "
        "aggregation_channels=6, tower_channels=[3], calibration_weight=0.6)"
    )


def test_field_attention_is_scaled_dot_product():
    att = FieldAttention(channels=3)
    e, c = torch.randn(5, 2, 3), torch.randn(5, 4, 3)
    q, k, v = att.lin_q(e), att.lin_k(c), att.lin_v(c)
    expected = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(3), dim=-1) @ v
    torch.testing.assert_close(att(e, c), expected)
    torch.testing.assert_close(att(e), att(e, e))  # self-attention by default


def test_complementary_gate():
    gate = ComplementaryGate(channels=4)
    att, org = torch.randn(6, 2, 4), torch.randn(6, 2, 4)
    q, g = gate(att, org)
    assert ((g > 0) & (g < 1)).all()
    torch.testing.assert_close(q, g * att + (1 - g) * org)  # weights g and 1 - g
    lo, hi = torch.minimum(att, org), torch.maximum(att, org)
    assert ((q >= lo - 1e-6) & (q <= hi + 1e-6)).all()  # a convex blend, entry by entry
    q_same, _ = gate(att, att)
    torch.testing.assert_close(q_same, att)  # equal inputs pass through whatever the gate


def test_feature_tower_equations():
    tower = FeatureTower(num_fields=2, channels=3, aggregation_channels=5)
    e = torch.randn(4, 2, 3)
    att = tower.attention(e)
    lin1, lin2 = tower.aggregation.lins
    org = torch.relu(lin2(torch.relu(lin1(e.flatten(1))))).view(4, 2, 3)  # Eq. 4 over all fields
    g = torch.sigmoid(tower.gate.lin_org(org) + tower.gate.lin_att(att))  # Eq. 5
    q, gate = tower(e)
    torch.testing.assert_close(gate, g)
    torch.testing.assert_close(q, att * g + org * (1 - g))  # Eq. 6


def test_behaviour_pattern_conversion_follows_the_chain():
    head = make().eval()  # eval: msg() dropout is the identity
    x = torch.randn(6, 8)
    out = head(x)
    e = head.fields(x)
    q = {t: head.feature_towers[t](e)[0] for t in TASKS}
    z = {"click": q["click"]}  # Z_1 = q_1
    for parent, task in (("click", "cart"), ("cart", "buy")):
        context = torch.cat([z[parent], q[task]], dim=1)  # [B, 2I, d]
        z[task] = head.norms[task](head.conversions[task](q[task], context) + q[task])  # Eq. 9
    for t in TASKS:
        torch.testing.assert_close(out.logits[t], head.towers[t](z[t].flatten(1)).squeeze(-1))


def test_branches_convert_from_their_parent():
    head = make(chain=[["click", "cart"], ["click", "buy"]]).eval()
    x = torch.randn(6, 8)
    out = head(x)
    e = head.fields(x)
    q = {t: head.feature_towers[t](e)[0] for t in TASKS}
    for t in ("cart", "buy"):  # both follow click
        context = torch.cat([q["click"], q[t]], dim=1)
        z = head.norms[t](head.conversions[t](q[t], context) + q[t])
        torch.testing.assert_close(out.logits[t], head.towers[t](z.flatten(1)).squeeze(-1))


def test_calibration_zero_when_monotone_positive_otherwise(set_constant_logits):
    head = make(calibration_weight=0.5)
    x = torch.randn(16, 8)
    set_constant_logits(head, {"click": 1.0, "cart": 1.0, "buy": -2.0})  # non-increasing
    assert head(x).losses["calibration"].item() == 0.0
    set_constant_logits(head, {"click": 1.0, "cart": 0.0, "buy": 2.0})  # buy rises
    expected = 0.5 * (torch.sigmoid(torch.tensor(2.0)) - 0.5)
    torch.testing.assert_close(head(x).losses["calibration"], expected)
    assert make(calibration_weight=0.0)(x).losses == {}


def test_task_outside_the_chain_is_not_converted():
    head = make(chain=["click", "buy"]).eval()
    assert set(head.conversions) == {"buy"}
    x = torch.randn(5, 8)
    q_cart = head.feature_towers["cart"](head.fields(x))[0]
    own = head.towers["cart"](q_cart.flatten(1)).squeeze(-1)
    torch.testing.assert_close(head(x).logits["cart"], own)


def test_gradients_through_the_total_loss(assert_total_loss_grads):
    torch.manual_seed(0)
    head = make(aggregation_channels=16, tower_channels=(8,), dropout=0.1)
    assert_total_loss_grads(head, torch.randn(64, 8), term="calibration")


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_fields"):
        make(num_fields=3)  # 8 columns do not split into 3 equal fields
    with pytest.raises(ValueError, match="num_fields"):
        make(num_fields=0)
    with pytest.raises(ValueError):
        make(calibration_weight=-0.1)
    with pytest.raises(ChainError):
        make(chain=["buy", "pay"])
