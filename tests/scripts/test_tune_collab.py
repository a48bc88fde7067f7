"""Smoke and unit tests of ``scripts/tune_collab.py`` (equal-budget tuning)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import tune_collab  # noqa: E402

TINY = ["--users", "150", "--items", "60", "--interactions", "2500", "--epochs", "1"]


def test_grid_axis_keeps_list_values_whole():
    assert tune_collab.grid_axis("loss.temperature=0.1,0.5") == [
        "loss.temperature=0.1",
        "loss.temperature=0.5",
    ]
    assert tune_collab.grid_axis("sampler.bipartite=[5,5],[10,10]") == [
        "sampler.bipartite=[5,5]",
        "sampler.bipartite=[10,10]",
    ]
    for bad in ("loss.temperature", "=0.1", "loss.temperature="):
        with pytest.raises(argparse.ArgumentTypeError):
            tune_collab.grid_axis(bad)


def test_grid_points_is_the_product():
    axes = [["a=1", "a=2"], ["b=x", "b=y", "b=z"]]
    points = tune_collab.grid_points(axes)
    assert len(points) == 6 and ["a=2", "b=z"] in points
    assert tune_collab.grid_points([]) == [[]]


def test_tune_collab_tiny_chooses_by_validation_and_reports_held_out_seeds(tmp_path):
    out = tmp_path / "tuned.json"
    report = tune_collab.main(
        [
            "--tune-seed",
            "0",
            "--seeds",
            "1,2",
            *TINY,
            "--models",
            "mmoe+contrastive,mogenet+contrastive",
            "--grid",
            "loss.temperature=0.1,0.5",
            "--work",
            str(tmp_path / "w"),
            "--out",
            str(out),
        ]
    )
    doc = json.loads(out.read_text())
    for m, rows in doc["tuning"]["grid"].items():
        assert [r["point"] for r in rows] == [["loss.temperature=0.1"], ["loss.temperature=0.5"]]
        best = max(rows, key=lambda r: r["valid_mean_gauc"])
        assert doc["tuning"]["chosen"][m] == best["point"]
    # the held-out runs used the chosen point, and only the held-out seeds are reported
    for m, point in doc["tuning"]["chosen"].items():
        config = (tmp_path / "w" / "test" / "seed1" / m / "config.yaml").read_text()
        assert f"temperature: {point[0].split('=')[1]}" in config
    assert [r["seed"] for r in report["per_seed"]] == [1, 2]
    assert set(report["summary"]["gain_points"]) == {"mogenet+contrastive − mmoe+contrastive"}
    md = out.with_suffix(".md").read_text()
    assert "| loss.temperature=0.1 |" in md and "★" in md
    assert "| mogenet+contrastive − mmoe+contrastive (points) |" in md


def test_tune_seed_must_be_held_out(capsys):
    with pytest.raises(SystemExit):
        tune_collab.main(["--tune-seed", "1", "--seeds", "1,2"])
    assert "also in --seeds" in capsys.readouterr().err


def test_a_wider_grid_reuses_the_finished_runs(tmp_path, capsys):
    """A rerun on the same --work trains only the new grid points; the reused points
    give the same scores and test metrics, and a changed setting trains again."""
    common = [*TINY, "--seeds", "1", "--models", "mmoe+contrastive", "--work", str(tmp_path)]
    first = tune_collab.main(
        [*common, "--grid", "loss.temperature=0.1", "--out", str(tmp_path / "a.json")]
    )
    capsys.readouterr()
    wider = tune_collab.main(
        [*common, "--grid", "loss.temperature=0.1,0.5", "--out", str(tmp_path / "b.json")]
    )
    tuned = {
        line.split(":")[0]: line.endswith("(reused)")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("tune ")
    }
    assert tuned == {
        "tune mmoe+contrastive loss.temperature=0.1": True,
        "tune mmoe+contrastive loss.temperature=0.5": False,
    }
    score = first["tuning"]["grid"]["mmoe+contrastive"][0]["valid_mean_gauc"]
    assert wider["tuning"]["grid"]["mmoe+contrastive"][0]["valid_mean_gauc"] == score
    if wider["tuning"]["chosen"] == first["tuning"]["chosen"]:  # the held-out run is reused
        assert wider["per_seed"] == first["per_seed"]
    tune_collab.main(
        [*common, "--grid", "loss.temperature=0.1", "--set", "train.lr=0.01"]
        + ["--out", str(tmp_path / "c.json")]
    )
    assert "(reused)" not in capsys.readouterr().out
