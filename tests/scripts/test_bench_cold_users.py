"""Smoke test of ``scripts/bench_cold_users.py`` (``--quick``): it splits by user,
keeps the held-out users as feature-only nodes, trains every variant and writes its
JSON and Markdown (benchmarks are not timed tests: structure only)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_cold_users.py"


def test_quick_run_holds_out_users(bench, tmp_path):
    out, work = tmp_path / "cold.json", tmp_path / "work"
    summary = bench.main(["--quick", "--work", str(work), "--out", str(out)])
    d = work / "seed0"
    users = {p: set(pd.read_csv(d / f"{p}.csv", dtype=str).user_id) for p in ("train", "test")}
    assert users["test"] and not users["train"] & users["test"]  # unseen in training
    meta = json.loads((d / "graphs" / "meta.json").read_text())
    assert meta["log_nodes"]["user"] == len(users["train"]) < meta["num_users"]
    for name, sets in bench.MODELS.items():  # each variant trained with its settings
        config = yaml.safe_load((d / name / "config.yaml").read_text())["model"]
        expected = {"ids": ["user", "item"], "id_dropout": 0.0}
        for s in sets:
            key, value = s.split("=")
            expected[key.removeprefix("model.")] = yaml.safe_load(value)
        assert {k: config[k] for k in expected} == expected, name
    doc = json.loads(out.read_text())
    assert list(doc["per_seed"][0]["models"]) == list(bench.MODELS)
    assert set(summary["minus_mmoe_points"]["auc"]) == set(bench.MODELS) - {"mmoe"}
    assert "split by user" in out.with_suffix(".md").read_text()
