"""Shared fixtures: tiny synthetic data written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from mogenet.datasets.synthetic import SyntheticConfig, generate


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
