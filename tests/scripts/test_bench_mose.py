"""Smoke test of ``scripts/bench_mose.py`` (``--quick``): it runs end to end and
writes its JSON and Markdown (benchmarks are not timed tests: structure only)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_mose.py"


def test_quick_run_writes_report(bench, tmp_path):
    out = tmp_path / "mose.json"
    summary = bench.main(["--quick", "--out", str(out)])
    doc = json.loads(out.read_text())
    assert set(doc["summary"]["mean_mse"]) == {"mose", "mmoe", "mean"}
    for scorer in ("mose", "mmoe", "mean"):
        assert set(summary["mean_mse"][scorer]) == {"target1", "target2"}
        assert all(v >= 0 for v in summary["mean_mse"][scorer].values())
    assert doc["config"]["quick"] and doc["per_seed"][0]["mose"]["epochs"] >= 1
    assert "MoSE vs MMoE" in out.with_suffix(".md").read_text()


def test_data_follows_table_1(bench):
    args = bench.parse(["--samples", "8", "--steps", "5", "--dims", "3", "--noise", "0"])
    data = bench.generate(args, seed=0)
    assert data.x.shape == (8, 5, 3) and data.y.shape == (8, 5, 2)
    assert data.x.abs().max() <= args.waves  # a sum of O sines
    assert data.y[..., 0].abs().max() <= args.dims  # a sum of D sines
    assert data.y[..., 1].abs().max() <= 1  # one sine
    torch.testing.assert_close(bench.generate(args, seed=0).y, data.y)  # seeded


def test_jobs_match_a_serial_run(bench, tmp_path):
    """``--jobs 2`` trains the seeds in worker processes (one thread each): the same
    test MSEs as one thread in this process, in seed order."""
    tiny = ["--seeds", "1,0", "--samples", "100", "--steps", "12", "--epochs", "2"]
    serial = bench.main([*tiny, "--out", str(tmp_path / "a.json")])
    parallel = bench.main([*tiny, "--jobs", "2", "--out", str(tmp_path / "b.json")])
    a = json.loads((tmp_path / "a.json").read_text())["per_seed"]
    b = json.loads((tmp_path / "b.json").read_text())["per_seed"]
    assert a[0]["mose"]["test_mse"] != a[1]["mose"]["test_mse"]  # the check can fail
    for s, p in zip(a, b, strict=True):
        assert s["mose"]["test_mse"] == p["mose"]["test_mse"]
        assert s["mmoe"]["test_mse"] == p["mmoe"]["test_mse"]
    assert serial["mean_mse"] == parallel["mean_mse"]
