"""Helpers shared by the tests of :mod:`mogenet.nn`."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mogenet.build import build_model
from mogenet.config import ModelConfig
from mogenet.datasets.features import FeatureTable
from mogenet.losses import MultiTaskLoss
from mogenet.nn import HeadOutput, NodeEncoder
from mogenet.sampling import MultiChannelSampler


def check_grads(module: nn.Module, *, may_be_zero: tuple[str, ...] = ()) -> None:
    """Assert every parameter received a gradient, non-zero unless its name contains
    one of ``may_be_zero``."""
    params = list(module.named_parameters())
    assert params, "module has no parameters"
    for name, p in params:
        assert p.grad is not None, f"no gradient reached {name}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient in {name}"
        if not any(part in name for part in may_be_zero):
            assert p.grad.abs().sum() > 0, f"all-zero gradient in {name}"


@pytest.fixture
def assert_grads():
    return check_grads


def check_total_loss_grads(head: nn.Module, x: torch.Tensor, *, term: str | None = None) -> None:
    """Backpropagate the :class:`MultiTaskLoss` total (fixed weights) of ``head(x)``
    against random labels and assert every parameter of ``head`` gets a gradient;
    ``term``: a loss the head defines, which the total must include."""
    out = head(x)
    labels = {t: torch.randint(0, 2, (x.size(0),)) for t in head.tasks}
    loss = MultiTaskLoss(tasks=head.tasks, weighting="fixed")(out, labels)
    assert term is None or term in loss.terms
    loss.total.backward()
    check_grads(head)


@pytest.fixture
def assert_total_loss_grads():
    return check_total_loss_grads


def constant_logits(head: nn.Module, values: dict[str, float]) -> None:
    """Make each named task's tower output a constant logit (its last layer: zero
    weight, bias ``value``)."""
    for task, value in values.items():
        last = head.towers[task].lins[-1]
        last.weight.data.zero_()
        last.bias.data.fill_(value)


@pytest.fixture
def set_constant_logits():
    return constant_logits


def check_gated_output(out: HeadOutput, *, tasks, batch: int, num_experts: int) -> None:
    """Assert a gated head's output: one ``[batch]`` logit per task, in task order,
    and per task ``[batch, num_experts]`` gate weights that are >= 0 and sum to 1."""
    assert list(out.logits) == list(tasks)
    for task in tasks:
        assert out.logits[task].shape == (batch,)
        assert out.gates[task].shape == (batch, num_experts)
        assert (out.gates[task] >= 0).all()
        torch.testing.assert_close(out.gates[task].sum(-1), torch.ones(batch))


@pytest.fixture
def assert_gated_output():
    return check_gated_output


@pytest.fixture
def default_head():
    """``build(name, tasks)`` → the head of model ``name`` that :func:`build_model`
    makes from the default :class:`ModelConfig` (5 users, 7 items, no features),
    checked to give one logit per task and pair on three pairs."""

    def build(name, tasks):
        model = build_model(
            ModelConfig(name=name),
            tasks=tasks,
            user_features=FeatureTable.empty(5),
            item_features=FeatureTable.empty(7),
        )
        out = model.head(model.pair_features(torch.arange(3), torch.arange(3)))
        assert {t: v.shape for t, v in out.logits.items()} == {t: (3,) for t in tasks}
        return model.head

    return build


def make_features(num_nodes: int, cardinalities=(3, 5), num_numeric: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    cat = torch.stack([torch.randint(0, c, (num_nodes,), generator=g) for c in cardinalities], 1)
    return FeatureTable(
        categorical=cat.reshape(num_nodes, len(cardinalities)),
        cardinalities=tuple(cardinalities),
        categorical_names=tuple(f"c{j}" for j in range(len(cardinalities))),
        numeric=torch.randn(num_nodes, num_numeric, generator=g),
        numeric_names=tuple(f"n{j}" for j in range(num_numeric)),
    )


@pytest.fixture
def feature_table():
    return make_features


# ---------------------------------------------- graph encoders (test_mgnn, test_ngcf)
@pytest.fixture(scope="module")
def bundle(make_bundle):
    """14 users and 10 items in three groups that share items (so every channel has
    edges), clicks only."""
    return make_bundle(num_users=14, num_items=10, num_rows=70)


@pytest.fixture(scope="module")
def encoders(request, bundle):
    """``(user, item)`` :class:`NodeEncoder` s of ``bundle``'s nodes, of the test
    module's ``USER_CH`` / ``ITEM_CH`` sizes."""
    torch.manual_seed(0)
    return (
        NodeEncoder(num_nodes=bundle.num_users, embedding_dim=request.module.USER_CH),
        NodeEncoder(num_nodes=bundle.num_items, embedding_dim=request.module.ITEM_CH),
    )


@pytest.fixture(scope="module")
def pairs(bundle):
    """Five ``(user, item)`` pairs, a cold-start user in row 2 and a cold-start item
    in row 1."""
    user = torch.tensor([0, 3, -1, 5, bundle.num_users - 1])
    item = torch.tensor([1, -1, 2, 2, bundle.num_items - 1])
    return user, item


@pytest.fixture
def graphs(bundle, pairs):
    """The pairs' subgraphs with the sampler's defaults (seed 0), new for each test."""
    return MultiChannelSampler(bundle).sample(*pairs, torch.Generator().manual_seed(0))


@pytest.fixture
def sampled_and_full(bundle, encoders, pairs):
    """``run(encoder, fanouts, batch_size)`` → ``(sampled, full, one_chunk,
    gathered)`` of an encoder in eval mode: its representations of the pairs from
    subgraphs sampled with ``fanouts`` (target edges kept), its full-graph
    :meth:`inference` in chunks of ``batch_size`` and in one chunk, and the pairs'
    rows :meth:`gather` takes from the chunked one."""
    user_enc, item_enc = encoders
    user, item = pairs

    def run(encoder, fanouts, batch_size):
        sampler = MultiChannelSampler(bundle, fanouts=fanouts, remove_target_edges=False)
        with torch.no_grad():
            sampled = encoder(sampler.sample(user, item), user_enc, item_enc)
            user_x = user_enc(torch.arange(bundle.num_users))
            item_x = item_enc(torch.arange(bundle.num_items))
            full = encoder.inference(bundle.data, user_x, item_x, batch_size=batch_size)
            one_chunk = encoder.inference(bundle.data, user_x, item_x, batch_size=1000)
            gathered = encoder.gather(full, user, item, user_enc, item_enc)
        return sampled, full, one_chunk, gathered

    return run
