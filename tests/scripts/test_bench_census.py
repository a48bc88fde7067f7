"""``scripts/bench_census.py`` on made-up census-format lines (``census_raw``): it
prepares, builds, trains and writes its JSON and Markdown (benchmarks are not timed
tests: structure only, plus the features being read)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_census.py"


def test_run_writes_report(bench, census_raw, tmp_path):
    out = tmp_path / "census.json"
    argv = ["--raw", str(census_raw), "--seeds", "0,1", "--models", "mmoe,shared_bottom"]
    argv += ["--epochs", "4", "--set", "train.batch_size=128"]
    argv += ["--work", str(tmp_path / "work"), "--out", str(out)]
    summary = bench.main(argv)
    doc = json.loads(out.read_text())
    assert [sorted(r) for r in doc["per_seed"]] == [["mmoe", "shared_bottom"]] * 2
    for model in ("mmoe", "shared_bottom"):
        for task in ("income", "never_married"):
            # Unseen test people are scored by their features, not alike (AUC 0.5).
            assert summary["mean_auc"][model][task] > 0.7, (model, task)
    assert set(summary["mmoe_within_1_point"]) == {"income", "never_married"}
    run = tmp_path / "work" / "data" / "mmoe_s0"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["ids"] == []  # features only
    md = out.with_suffix(".md").read_text()
    assert "| MMoE, published | 0.94–0.96 | ≥ 0.99 | |" in md


def test_missing_raw_files_stop_with_one_line(bench, tmp_path):
    with pytest.raises(SystemExit) as e:
        bench.main(["--raw", str(tmp_path / "none"), "--work", str(tmp_path / "w")])
    message = str(e.value.code)
    assert message.startswith("bench_census: ") and "datasets/census.md" in message
    assert "\n" not in message


def test_unknown_model_is_a_usage_error(bench, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--raw", str(tmp_path), "--models", "mmoe,esmm"])
    assert e.value.code == 2
    assert "unknown model(s) esmm; choose from mmoe, shared_bottom, omoe" in capsys.readouterr().err
