import itertools

import pytest
import torch

from mogenet.nn.heads import ESMM
from mogenet.nn.heads.chain import ChainError
from mogenet.nn.heads.esmm import funnel_logits, log1mexp

TASKS = ("click", "cart", "fav", "buy")


def make(**kwargs):
    defaults = dict(in_channels=6, tasks=TASKS, hidden_channels=(8,), tower_channels=(4,))
    return ESMM(**{**defaults, **kwargs})


def test_shapes_aux_and_repr():
    head = make()
    out = head(torch.randn(7, 6))
    assert tuple(out.logits) == TASKS and out.gates is None and out.losses == {}
    assert all(v.shape == (7,) for v in out.logits.values())
    assert set(out.aux) == {"cart_given_click", "fav_given_cart", "buy_given_fav"}
    assert repr(head) == (
        "ESMM(6, tasks=['click', 'cart', 'fav', 'buy'], chain=['click', 'cart', 'fav', 'buy'], "
        "hidden_channels=[8], tower_channels=[4])"
    )


def test_ctcvr_is_the_product_of_ctr_and_cvr():
    head = make(tasks=("click", "buy"))
    x = torch.randn(32, 6)
    out = head(x)
    ctr = head.towers["click"](x).squeeze(-1)
    cvr = head.towers["buy"](x).squeeze(-1)
    torch.testing.assert_close(out.logits["click"], ctr)  # the first step is its tower
    torch.testing.assert_close(out.aux["buy_given_click"], cvr)  # aux: the pCVR logit
    torch.testing.assert_close(out.logits["buy"].sigmoid(), ctr.sigmoid() * cvr.sigmoid())


def test_direct_product_along_a_long_chain():
    c = {t: 3 * torch.randn(200, dtype=torch.float64) for t in TASKS}
    out = funnel_logits(c, TASKS)
    p = torch.ones(200, dtype=torch.float64)
    for t in TASKS:
        p = p * c[t].sigmoid()
        torch.testing.assert_close(out[t].sigmoid(), p)


def test_branching_funnel_multiplies_along_each_path():
    c = {t: 3 * torch.randn(200, dtype=torch.float64) for t in TASKS}
    out = funnel_logits(c, (("click", "cart", "buy"), ("click", "fav")))
    p = {t: c[t].sigmoid() for t in TASKS}
    torch.testing.assert_close(out["fav"].sigmoid(), p["click"] * p["fav"])
    torch.testing.assert_close(out["buy"].sigmoid(), p["click"] * p["cart"] * p["buy"])
    head = make(chain=[["click", "cart", "buy"], ["click", "fav"]])
    assert "chain=[['click', 'cart', 'buy'], ['click', 'fav']]" in repr(head)
    aux = head(torch.randn(3, 6)).aux
    assert set(aux) == {"cart_given_click", "buy_given_cart", "fav_given_click"}


def test_monotone_along_the_whole_chain():
    torch.manual_seed(0)
    head = make()
    for tower in head.towers.values():  # large weights: outputs spread over ±tens
        for p in tower.parameters():
            p.data.mul_(20)
    out = head(torch.randn(500, 6))
    for prev, task in itertools.pairwise(TASKS):
        assert (out.logits[task] <= out.logits[prev]).all()
        assert (out.logits[task].sigmoid() <= out.logits[prev].sigmoid()).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_conditional_logits_stay_finite(dtype):
    values = torch.tensor([-50.0, -20.0, 0.0, 20.0, 50.0], dtype=dtype)
    grid = torch.cartesian_prod(values, values, values)  # [125, 3] every combination
    c = {t: grid[:, k].clone().requires_grad_() for k, t in enumerate(("a", "b", "c"))}
    out = funnel_logits(c, ("a", "b", "c"))
    for t in ("a", "b", "c"):
        assert torch.isfinite(out[t]).all()
    assert (out["b"] <= out["a"]).all() and (out["c"] <= out["b"]).all()
    # log p = -50 -> logit ~ -50; all +50 -> p ~ 1 - 3e-22: logit ~ 50 - log 3
    all_pos = (grid == 50).all(1)
    torch.testing.assert_close(
        out["c"][all_pos], torch.tensor([50 - 1.0986123], dtype=dtype), atol=1e-4, rtol=0
    )
    sum(v.sum() for v in out.values()).backward()
    for t in ("a", "b", "c"):
        assert torch.isfinite(c[t].grad).all()


def test_log1mexp_matches_the_naive_formula_and_is_finite_at_zero():
    a = -torch.logspace(-6, 2, 50, dtype=torch.float64)
    torch.testing.assert_close(log1mexp(a), torch.log(1 - torch.exp(a)))
    z = torch.zeros(3, requires_grad=True)
    out = log1mexp(z)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(z.grad).all()


def test_chain_subset_and_tasks_outside_the_chain():
    head = make(chain=["click", "buy"])
    x = torch.randn(16, 6)
    out = head(x)
    own = {t: head.towers[t](x).squeeze(-1) for t in TASKS}
    for t in ("cart", "fav"):  # outside the chain: the tower's own logit, no product
        torch.testing.assert_close(out.logits[t], own[t])
    torch.testing.assert_close(
        out.logits["buy"].sigmoid(), own["click"].sigmoid() * own["buy"].sigmoid()
    )
    assert set(out.aux) == {"buy_given_click"}


def test_entire_space_loss_trains_every_tower(assert_total_loss_grads):
    torch.manual_seed(0)
    head = make(hidden_channels=(16,), tower_channels=(8,), dropout=0.1)
    assert_total_loss_grads(head, torch.randn(64, 6))


def test_bad_chain():
    with pytest.raises(ChainError, match="unknown task"):
        make(chain=["click", "pay"])
    with pytest.raises(ValueError, match="string"):
        make(chain="click,buy")
