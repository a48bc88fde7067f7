"""The census-income card end to end (``datasets/census.md``): prepare → build-graphs
→ train → evaluate on census-format lines whose labels follow the features
(``tests/conftest.py: census_raw``).

Every valid/test person is absent from the training log, so the models can score
them only through their features (``users.csv``): a pipeline that drops the
features of nodes outside the log scores every test person alike (AUC 0.5).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mogenet.cli import main
from mogenet.datasets.public.census import CATEGORICAL, NUMERIC


@pytest.fixture(scope="module")
def census(census_raw, tmp_path_factory) -> tuple[Path, Path]:
    """``(prepared data dir, graph dir)``, with the card's commands."""
    root = tmp_path_factory.mktemp("census")
    data, graphs = root / "data", root / "graphs"
    assert main(["prepare", "census", "--raw", str(census_raw), "--out", str(data)]) == 0
    argv = ["build-graphs", str(data / "train.csv"), "--out", str(graphs), "--topk", "1"]
    argv += ["--users", str(data / "users.csv")]  # categorical codes: from prepare.json
    assert main(argv) == 0
    return data, graphs


def test_graphs_keep_unseen_people_with_their_features(census):
    _, graphs = census
    meta = json.loads((graphs / "meta.json").read_text())
    assert meta["log_nodes"] == {"user": 1200, "item": 1} and meta["num_users"] == 2000
    features = meta["features"]["user"]
    assert features["categorical_names"] == list(CATEGORICAL)  # integer codes included
    assert features["numeric_names"] == list(NUMERIC)


@pytest.mark.parametrize("ids", ["[user,item]", "[]"])
def test_unseen_people_are_scored_by_their_features(census, tmp_path, capsys, ids):
    data, graphs = census
    run = tmp_path / "run"
    argv = ["train", "--graphs", str(graphs), "--train", str(data / "train.csv")]
    argv += ["--valid", str(data / "valid.csv"), "--out", str(run), "--model", "mmoe"]
    argv += ["--epochs", "6", "--set", f"model.ids={ids}", "--set", "train.batch_size=128"]
    assert main(argv) == 0
    assert main(["evaluate", str(run), "--data", str(data / "test.csv")]) == 0
    assert "cold start: 100.0% of the rows have a user and 0.0% an item" in capsys.readouterr().out
    test = json.loads((run / "metrics.test.json").read_text())
    assert test["run"]["unseen"] == {"user": 1.0, "item": 0.0}  # every test person is new
    # The labels follow education/weeks and age; features alone give AUC > 0.75.
    assert test["income"]["auc"] > 0.75, test
    assert test["never_married"]["auc"] > 0.75, test


def test_contrastive_loss_needs_id_embeddings(census, tmp_path, capsys):
    data, graphs = census
    argv = ["train", "--graphs", str(graphs), "--train", str(data / "train.csv")]
    argv += ["--valid", str(data / "valid.csv"), "--out", str(tmp_path / "run")]
    argv += ["--set", "model.ids=[item]", "--set", "loss.contrastive=1.0"]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert "loss.contrastive" in err and "model.ids" in err and "for user" in err
    assert "\n" not in err
    assert not (tmp_path / "run").exists()
