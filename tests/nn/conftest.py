"""Helpers shared by the tests of :mod:`mogenet.nn`."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mogenet.datasets.features import FeatureTable


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
