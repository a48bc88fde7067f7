"""Shared fixtures: tiny synthetic data written once per session."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.config import GraphConfig
from mogenet.datasets import InteractionLog
from mogenet.datasets.synthetic import SyntheticConfig, generate
from mogenet.graphs import GraphBundle


@pytest.fixture(scope="module")
def bench(request):
    """The script of the test module's ``SCRIPT`` path (``scripts/NAME.py``), imported
    as module ``NAME``; registered in ``sys.modules`` while the module's tests run
    (dataclasses look their module up there)."""
    path = Path(request.module.SCRIPT)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


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


def census_lines(n: int, rng: np.random.Generator) -> str:
    """``n`` lines in the census-income raw format (``datasets/census.md``) whose
    labels follow the features: income rises with education and weeks worked, the
    young are never married. Not the real data: a fixture for the pipeline."""
    from mogenet.datasets.public.census import COLUMNS, NUMERIC

    education = ("Children", "High school graduate", "Bachelors degree(BA AB BS)")
    age = rng.integers(16, 80, n)
    edu = rng.integers(0, len(education), n)
    weeks = rng.integers(0, 53, n)
    income = rng.random(n) < 1 / (1 + np.exp(-(2.0 * edu + 0.08 * weeks - 6.5)))
    never = rng.random(n) < 1 / (1 + np.exp(-(0.25 * (32 - age))))
    lines = []
    for k in range(n):
        v = dict.fromkeys(COLUMNS, "Not in universe")
        v.update(dict.fromkeys(NUMERIC, "0"))
        v.update(
            age=str(age[k]),
            education=education[edu[k]],
            weeks_worked=str(weeks[k]),
            det_ind_code=str(edu[k] * 7),  # an integer code that is a category
            instance_weight="1700.09",
            marital_stat="Never married" if never[k] else "Married-civilian spouse present",
            income_50k="50000+." if income[k] else "- 50000.",
        )
        lines.append(", ".join(v[c] for c in COLUMNS))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def census_raw(tmp_path_factory) -> Path:
    """``census-income.data`` (1200 people) and ``census-income.test`` (800) made by
    :func:`census_lines`."""
    out = tmp_path_factory.mktemp("census_raw")
    rng = np.random.default_rng(0)
    (out / "census-income.data").write_text(census_lines(1200, rng))
    (out / "census-income.test").write_text(census_lines(800, rng))
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
