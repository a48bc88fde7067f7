import math

import pytest
import torch
import torch.nn.functional as F

from mogenet.losses import (
    WEIGHTINGS,
    LossOutput,
    MultiTaskLoss,
    contrastive_loss,
    cooperative_loss,
)
from mogenet.nn import HeadOutput
from mogenet.nn.output import PairEmbeddings

TASKS = ("click", "buy")


def output(b=6, e=3, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    logits = {t: torch.randn(b, generator=g).requires_grad_(requires_grad) for t in TASKS}
    gates = {t: torch.softmax(torch.randn(b, e, generator=g), -1) for t in TASKS}
    return HeadOutput(logits=logits, gates=gates)


def labels(b=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {t: torch.randint(0, 2, (b,), generator=g).float() for t in TASKS}


def bce(logit, y):
    p = torch.sigmoid(logit)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def test_uncertainty_total_matches_formula():
    loss_fn = MultiTaskLoss(tasks=TASKS)
    with torch.no_grad():
        loss_fn.log_var["click"].fill_(0.7)
        loss_fn.log_var["buy"].fill_(-1.3)
    out, y = output(), labels()
    res = loss_fn(out, y)
    assert isinstance(res, LossOutput)
    expected = sum(
        math.exp(-s) * bce(out.logits[t], y[t]).item() + s
        for t, s in (("click", 0.7), ("buy", -1.3))
    )
    assert res.total.item() == pytest.approx(expected, rel=1e-5)
    for t in TASKS:
        assert res.per_task[t].item() == pytest.approx(bce(out.logits[t], y[t]).item(), rel=1e-5)
    assert res.weights["buy"].item() == pytest.approx(math.exp(1.3))
    assert loss_fn.task_weights()["click"] == pytest.approx(math.exp(-0.7))
    assert loss_fn.sigma["click"] == pytest.approx(math.exp(0.35))
    assert set(res.terms) == {"main"}


def test_log_var_receives_gradients_and_is_not_clamped():
    loss_fn = MultiTaskLoss(tasks=TASKS)
    out = output()
    res = loss_fn(out, labels())
    res.total.backward()
    for t in TASKS:
        s = loss_fn.log_var[t]
        # d/ds [exp(-s) L + s] = 1 - exp(-s) L
        assert s.grad.item() == pytest.approx(1 - res.per_task[t].item(), rel=1e-5)
        assert out.logits[t].grad is not None
    with torch.no_grad():
        loss_fn.log_var["click"].fill_(-50.0)  # huge weight, no clamp
    assert loss_fn.task_weights()["click"] == pytest.approx(math.exp(50.0))


def test_masked_rows_add_zero():
    loss_fn = MultiTaskLoss(tasks=TASKS, weighting="fixed")
    out, y = output(), labels()
    keep = torch.tensor([True, False, True, True, False, False])
    res = loss_fn(out, y, mask={"buy": keep})
    assert res.per_task["buy"].item() == pytest.approx(
        bce(out.logits["buy"][keep], y["buy"][keep]).item(), rel=1e-5
    )
    # changing dropped rows (even to NaN labels) changes nothing, and they get no gradient
    y2 = {t: v.clone() for t, v in y.items()}
    y2["buy"][~keep] = float("nan")
    out2 = HeadOutput(
        logits={t: v.detach().clone().requires_grad_() for t, v in out.logits.items()}
    )
    with torch.no_grad():
        out2.logits["buy"][~keep] += 100.0
    res2 = loss_fn(out2, y2, mask={"buy": keep.float()})
    assert res2.total.item() == pytest.approx(res.total.item(), rel=1e-6)
    res2.total.backward()
    assert torch.equal(out2.logits["buy"].grad[~keep], torch.zeros(3))
    assert (out2.logits["buy"].grad[keep] != 0).all()


def test_fully_masked_task_is_zero():
    loss_fn = MultiTaskLoss(tasks=TASKS, weighting="fixed")
    res = loss_fn(output(), labels(), mask={"click": torch.zeros(6, dtype=torch.bool)})
    assert res.per_task["click"].item() == 0.0
    assert torch.isfinite(res.total)


def test_fixed_weights():
    loss_fn = MultiTaskLoss(tasks=TASKS, weighting="fixed", weights={"buy": 3.0})
    assert loss_fn.log_var is None and list(loss_fn.parameters()) == []
    out, y = output(), labels()
    res = loss_fn(out, y)
    expected = res.per_task["click"] + 3.0 * res.per_task["buy"]
    torch.testing.assert_close(res.total, expected)
    assert loss_fn.task_weights() == {"click": 1.0, "buy": 3.0}
    assert repr(loss_fn) == (
        "MultiTaskLoss(tasks=['click', 'buy'], FixedWeighting(weights={'click': 1.0, 'buy': 3.0}))"
    )


def test_per_task_is_unweighted_bce_with_logits():
    loss_fn = MultiTaskLoss(tasks=TASKS)
    out, y = output(), labels()
    res = loss_fn(out, y)
    for t in TASKS:
        torch.testing.assert_close(
            res.per_task[t], F.binary_cross_entropy_with_logits(out.logits[t], y[t])
        )
        assert res.per_task[t].requires_grad  # attached; detach to log


def test_cooperative_loss_matches_double_sum():
    out = output(b=4, e=4)
    brute = 0.0
    for g in out.gates.values():
        for b in range(4):
            brute -= sum(g[b, n] * g[b, m] for n in range(4) for m in range(n + 1, 4)).item() / 4
    assert cooperative_loss(out.gates).item() == pytest.approx(brute, rel=1e-5)

    plain = MultiTaskLoss(tasks=TASKS, weighting="fixed")
    co = MultiTaskLoss(tasks=TASKS, weighting="fixed", cooperative=0.5)
    y = labels(b=4)
    a, b = plain(out, y), co(out, y)
    assert b.total.item() == pytest.approx(a.total.item() + 0.5 * brute, rel=1e-5)
    assert set(b.terms) == {"main", "cooperative"}


def test_cooperative_loss_gradient_balances_gates():
    logits = torch.tensor([[3.0, 0.0, -1.0]], requires_grad=True)
    cooperative_loss({"a": torch.softmax(logits, -1)}).backward()
    assert logits.grad[0, 0] > 0  # descending lowers the dominant expert's logit


def test_errors():
    with pytest.raises(ValueError, match="unknown task weighting 'gradnorm'"):
        MultiTaskLoss(tasks=TASKS, weighting="gradnorm")
    with pytest.raises(ValueError, match="learns its weights"):
        MultiTaskLoss(tasks=TASKS, weights={"click": 2.0})
    with pytest.raises(ValueError, match="unknown tasks"):
        MultiTaskLoss(tasks=TASKS, weighting="fixed", weights={"cart": 2.0})
    with pytest.raises(ValueError):
        MultiTaskLoss(tasks=TASKS, cooperative=-1.0)
    loss_fn = MultiTaskLoss(tasks=TASKS, cooperative=0.1)
    with pytest.raises(KeyError, match="labels lack tasks"):
        loss_fn(output(), {"click": torch.zeros(6)})
    with pytest.raises(ValueError, match="needs gates"):
        loss_fn(HeadOutput(logits=output().logits), labels())


def test_registry_and_repr():
    assert set(WEIGHTINGS) >= {"uncertainty", "fixed"}
    loss_fn = MultiTaskLoss(tasks=TASKS, cooperative=0.1)
    assert repr(loss_fn) == (
        "MultiTaskLoss(tasks=['click', 'buy'], UncertaintyWeighting(tasks=['click', 'buy']), "
        "cooperative=0.1)"
    )
    assert sorted(n for n, _ in loss_fn.named_parameters()) == [
        "weighting.log_var.buy",
        "weighting.log_var.click",
    ]


def test_head_loss_terms_are_added_and_logged():
    loss_fn = MultiTaskLoss(tasks=TASKS, weighting="fixed")
    out, y = output(), labels()
    base = loss_fn(out, y).total
    extra = torch.tensor(0.25, requires_grad=True)
    out.losses = {"calibration": extra}
    res = loss_fn(out, y)
    torch.testing.assert_close(res.total, base + 0.25)
    assert res.terms["calibration"] is extra
    res.total.backward()
    assert extra.grad == 1.0
    out.losses = {"main": torch.tensor(1.0)}
    with pytest.raises(ValueError, match="clashes with a built-in term"):
        loss_fn(out, y)


def embeddings(b=6, d=4, seed=2, items=None):
    g = torch.Generator().manual_seed(seed)
    pairs = {
        name: (torch.randn(b, d, generator=g), torch.randn(b, d, generator=g))
        for name in ("id", "user-item")
    }
    item = torch.arange(b) if items is None else torch.tensor(items)
    return PairEmbeddings(pairs=pairs, item=item)


def contrastive_reference(emb, positive, tau):
    """Row-by-row InfoNCE: -log softmax over the batch's distinct other items."""
    per_pair = []
    for user, item in emb.pairs.values():
        terms = []
        for b in range(user.size(0)):
            if not positive[b]:
                continue
            u = user[b] / user[b].norm()
            scores = []
            for j in range(user.size(0)):
                if j != b and emb.item[j] == emb.item[b]:
                    continue  # the same item is not a negative
                scores.append(float(u @ (item[j] / item[j].norm())) / tau)
            own = float(u @ (item[b] / item[b].norm())) / tau
            terms.append(math.log(sum(math.exp(s) for s in scores)) - own)
        per_pair.append(sum(terms) / len(terms))
    return sum(per_pair) / len(per_pair)


def test_contrastive_loss_matches_row_by_row_reference():
    emb = embeddings(items=[0, 1, 2, 1, 3, 4])  # rows 1 and 3 share an item
    positive = torch.tensor([1, 1, 0, 0, 1, 0])
    got = contrastive_loss(emb, positive, temperature=0.5)
    assert got.item() == pytest.approx(contrastive_reference(emb, positive, 0.5), rel=1e-5)
    # the duplicate is left out: counting it as a negative gives another value
    distinct = embeddings(items=[0, 1, 2, 3, 4, 5])
    assert contrastive_loss(distinct, positive, 0.5).item() != pytest.approx(got.item())


def test_contrastive_loss_without_positives_is_zero():
    assert contrastive_loss(embeddings(), torch.zeros(6), 0.2).item() == 0.0


def test_contrastive_loss_rewards_aligned_pairs():
    aligned = embeddings()
    aligned.pairs = {"id": (aligned.pairs["id"][1], aligned.pairs["id"][1])}  # u_b = v_b
    shuffled = embeddings()
    u, v = aligned.pairs["id"]
    shuffled.pairs = {"id": (u, v.roll(1, dims=0))}
    positive = torch.ones(6)
    assert contrastive_loss(aligned, positive, 0.2) < contrastive_loss(shuffled, positive, 0.2)


def test_multitask_loss_adds_contrastive_term_on_the_chosen_task():
    out, y = output(), labels()
    out.embeddings = embeddings()
    plain = MultiTaskLoss(tasks=TASKS, weighting="fixed")(out, y)
    loss_fn = MultiTaskLoss(
        tasks=TASKS, weighting="fixed", contrastive=0.5, contrastive_task="buy", temperature=0.3
    )
    res = loss_fn(out, y)
    expected = contrastive_loss(out.embeddings, y["buy"].bool(), 0.3)
    torch.testing.assert_close(res.terms["contrastive"], expected)
    torch.testing.assert_close(res.total, plain.total + 0.5 * expected)
    # a masked row is not a positive pair
    mask = {"buy": torch.zeros(6, dtype=torch.bool)}
    assert loss_fn(out, y, mask).terms["contrastive"].item() == 0.0
    assert "contrastive=0.5 on 'buy'" in repr(loss_fn)


def test_contrastive_errors():
    with pytest.raises(ValueError, match="contrastive must be >= 0"):
        MultiTaskLoss(tasks=TASKS, contrastive=-1.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        MultiTaskLoss(tasks=TASKS, contrastive=1.0, temperature=0.0)
    with pytest.raises(ValueError, match="contrastive_task 'cart' is not a task"):
        MultiTaskLoss(tasks=TASKS, contrastive=1.0, contrastive_task="cart")
    with pytest.raises(ValueError, match="needs the pair embeddings"):
        MultiTaskLoss(tasks=TASKS, contrastive=1.0)(output(), labels())
