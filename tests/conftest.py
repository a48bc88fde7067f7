"""Shared fixtures: tiny synthetic data written once per session."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest
import torch

from mogenet.config import GraphConfig
from mogenet.datasets import InteractionLog
from mogenet.datasets.synthetic import SyntheticConfig, generate
from mogenet.graphs import GraphBundle


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory) -> Path:
    """``interactions.csv``, ``users.csv``, ``items.csv`` of the ``tiny`` preset."""
    out = tmp_path_factory.mktemp("tiny_raw")
    generate(SyntheticConfig.preset("tiny", seed=0)).write(out)
    return out


@pytest.fixture(scope="session")
def tiny_split(tiny_raw, tmp_path_factory) -> Path:
    """``train.csv``, ``valid.csv``, ``test.csv`` split by time from :func:`tiny_raw`."""
    from mogenet.pipeline import split_file

    out = tmp_path_factory.mktemp("tiny_split")
    split_file(tiny_raw / "interactions.csv", out, by="time")
    return out


@pytest.fixture(scope="session")
def tiny_graphs(tiny_raw, tiny_split, tmp_path_factory) -> Path:
    """A graph bundle built from :func:`tiny_split`'s train.csv with features."""
    from mogenet.pipeline import build_graphs

    out = tmp_path_factory.mktemp("tiny_graphs") / "graphs"
    build_graphs(
        tiny_split / "train.csv",
        out,
        users=tiny_raw / "users.csv",
        items=tiny_raw / "items.csv",
    )
    return out


def random_bundle(
    *,
    num_users: int,
    num_items: int,
    num_rows: int,
    groups: int = 3,
    stride: int = 2,
    spread: int = 5,
    labels: Mapping[str, float] | None = None,
    topk: int = 3,
) -> GraphBundle:
    """The graph bundle of a small random log (generator seed 0): ``num_rows`` draws
    of a user ``u`` and an item ``(u % groups * stride + r) % num_items``, ``r`` drawn
    from ``[0, spread)`` (users of a group share items, so the similarity graphs have
    edges), duplicate pairs dropped. ``labels`` maps each task to the rate of 1s:
    ``1`` and ``0`` are constant columns, other rates are drawn in order (default:
    every row a click)."""
    labels = {"click": 1.0} if labels is None else labels
    g = torch.Generator().manual_seed(0)
    users = torch.randint(0, num_users, (num_rows,), generator=g)
    offset = torch.randint(0, spread, (num_rows,), generator=g)
    items = (users % groups * stride + offset) % num_items
    columns = {
        task: rate if rate in (0, 1) else (torch.rand(num_rows, generator=g) < rate).int().numpy()
        for task, rate in labels.items()
    }
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in users.tolist()],
            "item_id": [f"i{i}" for i in items.tolist()],
            **columns,
        }
    ).drop_duplicates(["user_id", "item_id"])
    return GraphBundle.build(InteractionLog(frame, tuple(labels)), config=GraphConfig(topk=topk))


@pytest.fixture(scope="session")
def make_bundle():
    """:func:`random_bundle`, for module fixtures that build their own graph."""
    return random_bundle
