"""Tests of ``scripts/diagnose_lightgcn.py`` (the LightGCN diagnostic outside mogenet)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from mogenet import pipeline
from mogenet.datasets.synthetic import SyntheticConfig, generate
from mogenet.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import diagnose_lightgcn  # noqa: E402


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lightgcn")
    cfg = SyntheticConfig.preset("tiny", seed=0, num_users=200, num_items=80, num_interactions=4000)
    generate(cfg).write(d / "raw")
    pipeline.split_file(d / "raw" / "interactions.csv", d, by="time", seed=0)
    return d


def test_normalised_adjacency_is_symmetric_with_inverse_sqrt_degrees():
    # users 0, 1; items 0, 1 (nodes 2, 3); edges u0-i0, u0-i1, u1-i1 (u0-i1 twice)
    users, items = torch.tensor([0, 0, 1, 0]), torch.tensor([0, 1, 1, 1])
    adj = diagnose_lightgcn.normalised_adjacency(users, items, 2, 4).to_dense()
    deg = torch.tensor([2.0, 1.0, 1.0, 2.0])  # u0, u1, i0, i1 (duplicates counted once)
    expected = torch.zeros(4, 4)
    for u, i in [(0, 2), (0, 3), (1, 3)]:
        expected[u, i] = expected[i, u] = 1 / (deg[u] * deg[i]).sqrt()
    torch.testing.assert_close(adj, expected)


def test_diagnostic_reports_test_gauc_per_task_and_is_reproducible(split_dir, tmp_path):
    out = tmp_path / "lg.json"
    threads = torch.get_num_threads()
    args = [str(split_dir), "--layers", "2", "--steps", "40", "--seed", "3"]
    first = diagnose_lightgcn.main([*args, "--out", str(out)])
    assert first["tasks"] == ["click", "cart", "fav", "buy"]
    assert set(first["test_gauc"]) == set(first["tasks"])
    assert all(0.0 < g < 1.0 for g in first["test_gauc"].values())
    assert 0.0 < first["valid_mean_gauc"] < 1.0
    assert first["step"] % 10 == 9 and first["step"] < 40
    assert json.loads(out.read_text())["test_gauc"] == first["test_gauc"]
    assert "| LightGCN, 2 layers |" in out.with_suffix(".md").read_text()
    assert diagnose_lightgcn.main(args) == {**first, "args": {**first["args"], "out": "None"}}
    assert torch.get_num_threads() == threads  # restored after the one-thread run


def test_layers_change_the_scores(split_dir):
    base = [str(split_dir), "--steps", "20"]
    mf = diagnose_lightgcn.main([*base, "--layers", "0"])
    lightgcn = diagnose_lightgcn.main([*base, "--layers", "2"])
    assert mf["test_gauc"] != lightgcn["test_gauc"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--edge-task", "share"], "--edge-task 'share' is not a task of train.csv"),
        (["--layers", "-1"], "--layers must be >= 0"),
    ],
)
def test_bad_arguments_are_input_errors(split_dir, extra, message):
    with pytest.raises(InputError, match=message):
        diagnose_lightgcn.main([str(split_dir), *extra])


def test_a_missing_split_names_the_file(tmp_path):
    with pytest.raises(InputError, match="train.csv"):
        diagnose_lightgcn.main([str(tmp_path)])
