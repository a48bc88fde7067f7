"""Smoke test of scripts/bench_funnel.py: ``--quick`` runs end to end on a tiny log and
writes its JSON and Markdown (a benchmark, not a timed test: structure only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_funnel  # noqa: E402

from mogenet.run import Run  # noqa: E402


def test_bench_funnel_quick(tmp_path):
    out = tmp_path / "funnel.json"
    summary = bench_funnel.main(
        ["--quick", "--interactions", "1500", "--work", str(tmp_path / "w"), "--out", str(out)]
    )
    doc = json.loads(out.read_text())
    assert doc["args"]["seeds"] == [0] and doc["args"]["epochs"] == 1
    scorers = {"mmoe", "esmm", "aitm", "bpcm", "popularity", "oracle"}
    assert set(doc["summary"]["mean"]["gauc"]) == scorers
    assert set(summary["minus_mmoe_points"]["auc"]) == {"esmm", "aitm", "bpcm"}
    assert summary["tasks"] == ["click", "cart", "fav", "buy"]
    for name in ("esmm", "aitm", "bpcm"):  # trained with the default --chain
        head = Run.load(tmp_path / "w" / "seed0" / name).model().head
        assert head.chain == ("click", "cart", "buy")
    true = summary["mean"]["auc_true"]
    assert true["oracle"]["buy"] > true["popularity"]["buy"] > 0.5  # the truth ranks best
    assert set(summary["p_value"]["auc_true"]) == {"esmm", "aitm", "bpcm"}
    table = out.with_suffix(".md").read_text()
    assert "## Test AUC" in table and "| bpcm − mmoe (points) |" in table
    assert "## Test AUC against the true probabilities" in table


def test_rate_option_sets_the_generator_rate(tmp_path):
    bench_funnel.main(
        ["--quick", "--models", "mmoe", "--rate", "buy=0.02", "--rate", "cart=0.05"]
        + [
            "--interactions",
            "1500",
            "--work",
            str(tmp_path / "w"),
            "--out",
            str(tmp_path / "f.json"),
        ]
    )
    log = pd.read_csv(tmp_path / "w" / "seed0" / "raw" / "interactions.csv")
    assert log["oracle_buy"].mean() == pytest.approx(0.02, rel=0.05)
    assert log["oracle_cart"].mean() == pytest.approx(0.05, rel=0.05)
    with pytest.raises(SystemExit):
        bench_funnel.main(["--quick", "--rate", "buy"])


def test_jobs_keep_seed_order(tmp_path):
    """``--jobs 2`` runs the seeds in worker processes and returns them in seed order:
    the data-only oracle scores match a serial run seed for seed."""
    common = ["--quick", "--seeds", "1,0", "--models", "mmoe", "--interactions", "1500"]
    for name, jobs in (("a", "1"), ("b", "2")):
        bench_funnel.main(
            [*common, "--jobs", jobs, "--work", str(tmp_path / name)]
            + ["--out", str(tmp_path / f"{name}.json")]
        )
    a = json.loads((tmp_path / "a.json").read_text())["per_seed"]
    b = json.loads((tmp_path / "b.json").read_text())["per_seed"]
    assert a[0]["baselines"]["oracle"] != a[1]["baselines"]["oracle"]  # the check can fail
    for s, p in zip(a, b, strict=True):
        assert s["baselines"]["oracle"] == p["baselines"]["oracle"]


def test_chain_option_takes_the_branches_of_a_tree(tmp_path):
    assert bench_funnel.chain_setting("click,buy") == "[click,buy]"
    assert bench_funnel.chain_setting("click,cart,buy/click,fav") == (
        "[[click,cart,buy],[click,fav]]"
    )
    work = tmp_path / "w"
    bench_funnel.main(
        ["--quick", "--models", "esmm", "--chain", "click,cart,buy/click,fav"]
        + ["--interactions", "1500", "--work", str(work), "--out", str(tmp_path / "f.json")]
    )
    head = Run.load(work / "seed0" / "esmm").model().head
    assert head.chain == (("click", "cart", "buy"), ("click", "fav"))
