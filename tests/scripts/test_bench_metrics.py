"""Smoke test of ``scripts/bench_metrics.py --quick`` (10^4 examples).

Benchmarks are not timed tests: this checks the report's structure and that the
vectorised GAUC equals the per-user scikit-learn loop it is timed against.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_metrics.py"


def test_quick_report(bench, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    report = bench.main(["--quick", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    markdown = out.with_suffix(".md").read_text()
    assert markdown.startswith("# GAUC benchmark") and markdown in capsys.readouterr().out
    result = report["result"]
    assert result["examples"] == 10_000 and 0 < result["users_scored"] <= result["users"]
    assert result["reference"]["users"] == 200 and result["reference"]["max_abs_diff"] < 1e-12
    assert result["sklearn_auc"]["abs_diff"] < 1e-12
    assert result["mogenet"]["string_ids_equal"] is True
    assert result["mogenet"]["int_codes"]["best_s"] > 0 and result["speedup"] > 0
    assert result["target"]["result"].startswith("N/A")  # below the target size
    assert {"date", "cpu_count", "load_average_1_5_15"} <= report["machine"].keys()


def test_reference_is_the_per_user_mean(bench):
    labels, scores, groups = bench.make_data(300, 20, seed=1)
    from mogenet.metrics import gauc

    value, scored = bench.reference_gauc(labels, scores, groups)
    assert scored == bench.users_with_both_classes(labels, groups) > 0
    assert value == pytest.approx(gauc(labels, scores, groups), abs=1e-12)
