"""``mogenet compare``: two models over two seeds, trained and evaluated for real."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ttest_rel

from mogenet.cli import main
from mogenet.metrics import rela_impr


def test_compare_against_baseline(seed_runs, tmp_path, capsys):
    sb, mmoe = seed_runs["shared_bottom"], seed_runs["mmoe"]
    out = tmp_path / "cmp.json"
    argv = ["compare", *map(str, sb), "--baseline", *map(str, mmoe), "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| click | mmoe |" in printed and "| click | shared_bottom |" in printed
    report = json.loads(out.read_text())
    assert out.with_suffix(".md").read_text() in printed
    assert report["metrics"] == "test" and report["baseline"] == "mmoe"
    assert report["groups"]["shared_bottom"]["seeds"] == [0, 1]

    test = {m: [json.loads((r / "metrics.test.json").read_text()) for r in seed_runs[m]]
            for m in seed_runs}  # fmt: skip
    for task in ("click", "buy"):
        a = [d[task]["auc"] for d in test["shared_bottom"]]
        b = [d[task]["auc"] for d in test["mmoe"]]
        stats = report["groups"]["shared_bottom"]["tasks"][task]["auc"]
        assert stats["mean"] == pytest.approx(np.mean(a))
        assert stats["std"] == pytest.approx(np.std(a, ddof=1))
        cmp = report["comparisons"]["shared_bottom"][task]["auc"]
        assert cmp["rela_impr"] == pytest.approx(rela_impr(np.mean(a), np.mean(b)))
        assert cmp["pairs"] == 2
        expected = ttest_rel(a, b).pvalue
        assert (cmp["p"] is None and np.isnan(expected)) or cmp["p"] == pytest.approx(expected)


def test_group_by_model_and_valid_metrics(seed_runs, capsys):
    runs = [*seed_runs["mmoe"], *seed_runs["shared_bottom"]]
    assert main(["compare", *map(str, runs), "--metrics", "valid"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Run comparison (validation metrics)")
    assert "against **mmoe**" in text  # the first group is the baseline


def test_errors(seed_runs, tmp_path, capsys):
    mmoe = seed_runs["mmoe"]
    assert main(["compare", str(mmoe[0]), "--metrics", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no metrics.nope.json" in err and "mogenet evaluate" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["compare", str(mmoe[0]), str(mmoe[0])]) == 2
    assert "seed 0" in capsys.readouterr().err
    assert main(["compare", str(tmp_path)]) == 2
    assert "no run.json" in capsys.readouterr().err
