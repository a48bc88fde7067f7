"""Comparing runs over seeds: statistics against numpy/scipy, pairing by seed,
RelaImpr, grouping rules and the metrics files read."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import ttest_rel

from mogenet.compare import (
    RunMetrics,
    compare_runs,
    format_markdown,
    load_run_metrics,
    metrics_file,
)
from mogenet.errors import InputError
from mogenet.metrics import rela_impr

A = {0: 0.71, 1: 0.73, 2: 0.70, 3: 0.74}  # model A's AUC per seed
B = {0: 0.69, 1: 0.70, 2: 0.70, 3: 0.71}  # baseline's


def run(model, seed, auc, gauc=None, task="buy"):
    gauc = auc - 0.05 if gauc is None else gauc
    return RunMetrics(
        path=f"runs/{model}_s{seed}",
        model=model,
        seed=seed,
        metrics={task: {"auc": auc, "gauc": gauc, "logloss": 0.1}},
    )


def test_statistics_match_numpy_and_scipy():
    runs = [run("mogenet", s, A[s]) for s in (3, 1, 0, 2)]  # order must not matter
    base = [run("mmoe", s, B[s]) for s in (0, 1, 2, 3)]
    report = compare_runs(runs, base)
    assert report["baseline"] == "mmoe" and list(report["groups"]) == ["mmoe", "mogenet"]
    stats = report["groups"]["mogenet"]["tasks"]["buy"]["auc"]
    values = np.array(list(A.values()))
    assert stats["mean"] == pytest.approx(values.mean())
    assert stats["std"] == pytest.approx(values.std(ddof=1)) and stats["n"] == 4
    cmp = report["comparisons"]["mogenet"]["buy"]["auc"]
    expected = ttest_rel([A[s] for s in range(4)], [B[s] for s in range(4)])
    assert cmp["t"] == pytest.approx(expected.statistic)
    assert cmp["p"] == pytest.approx(expected.pvalue) and cmp["pairs"] == 4
    mean_a, mean_b = np.mean(list(A.values())), np.mean(list(B.values()))
    assert cmp["rela_impr"] == pytest.approx(rela_impr(mean_a, mean_b))
    assert cmp["diff"] == pytest.approx(mean_a - mean_b)
    assert "rela_impr" not in report["comparisons"]["mogenet"]["buy"]["logloss"]
    assert "mmoe" not in report["comparisons"]


def test_pairs_only_common_seeds():
    runs = [run("a", s, A[s]) for s in (0, 1, 2)]
    base = [run("b", s, B[s]) for s in (1, 2, 3)]
    cmp = compare_runs(runs, base)["comparisons"]["a"]["buy"]["auc"]
    assert cmp["pairs"] == 2
    assert cmp["p"] == pytest.approx(ttest_rel([A[1], A[2]], [B[1], B[2]]).pvalue)
    one = compare_runs([run("a", 0, 0.7)], [run("b", 0, 0.6)])
    entry = one["comparisons"]["a"]["buy"]["auc"]
    assert entry["pairs"] == 1 and math.isnan(entry["p"])  # a t-test needs two pairs
    assert math.isnan(one["groups"]["a"]["tasks"]["buy"]["auc"]["std"])


def test_grouping_by_model_and_first_group_baseline():
    runs = [run("mmoe", 0, 0.7), run("ple", 0, 0.72), run("mmoe", 1, 0.71), run("ple", 1, 0.73)]
    report = compare_runs(runs)
    assert report["baseline"] == "mmoe"
    assert report["groups"]["ple"]["seeds"] == [0, 1]
    assert list(report["comparisons"]) == ["ple"]
    # a baseline of the same model gets its own label
    same = compare_runs([run("mmoe", 0, 0.7)], [run("mmoe", 0, 0.6)])
    assert same["baseline"] == "mmoe (baseline)" and "mmoe" in same["comparisons"]
    single = compare_runs([run("mmoe", 0, 0.7), run("mmoe", 1, 0.8)])
    assert single["comparisons"] == {} and single["baseline"] == "mmoe"


def test_duplicate_seed_in_a_group_is_an_error():
    with pytest.raises(InputError, match="seed 0"):
        compare_runs([run("mmoe", 0, 0.7), run("mmoe", 0, 0.71)])
    with pytest.raises(InputError, match="at least one"):
        compare_runs([])


def test_nan_metrics_are_left_out():
    runs = [run("a", 0, 0.7, gauc=math.nan), run("a", 1, 0.8, gauc=0.6), run("a", 2, 0.9, 0.7)]
    base = [run("b", s, 0.6, gauc=0.5 + s / 100) for s in range(3)]
    report = compare_runs(runs, base)
    gauc = report["groups"]["a"]["tasks"]["buy"]["gauc"]
    assert gauc["n"] == 2 and gauc["mean"] == pytest.approx(0.65)
    assert report["comparisons"]["a"]["buy"]["gauc"]["pairs"] == 2


def test_markdown_table():
    runs = [run("mogenet", s, A[s]) for s in range(4)]
    base = [run("mmoe", s, B[s]) for s in range(4)]
    text = format_markdown(compare_runs(runs, base))
    lines = text.splitlines()
    assert lines[0] == "# Run comparison (test metrics)"
    header = [line for line in lines if line.startswith("| task")][0]
    assert "RelaImpr GAUC" in header and "p (AUC)" in header
    rows = [line for line in lines if line.startswith("| buy")]
    assert len(rows) == 2 and "baseline" in rows[0]
    mean, std = np.mean(list(A.values())), np.std(list(A.values()), ddof=1)
    assert f"{mean:.4f} ± {std:.4f}" in rows[1]
    assert f"{100 * rela_impr(mean, np.mean(list(B.values()))):+.2f} %" in rows[1]


def write_run(directory, *, model="mmoe", seed=0, stem="test", auc=0.7):
    directory.mkdir(parents=True)
    (directory / "run.json").write_text(json.dumps({"model": model, "seed": seed}))
    doc = {"buy": {"auc": auc, "gauc": None, "logloss": 0.2}, "baselines": {}, "run": {}}
    (directory / ("metrics.json" if stem == "valid" else f"metrics.{stem}.json")).write_text(
        json.dumps(doc)
    )
    return directory


def test_load_run_metrics(tmp_path):
    d = write_run(tmp_path / "r0", seed=4)
    r = load_run_metrics(d)
    assert (r.model, r.seed) == ("mmoe", 4)
    assert r.metrics["buy"]["auc"] == 0.7 and math.isnan(r.metrics["buy"]["gauc"])
    assert set(r.metrics) == {"buy"}  # "baselines" and "run" are not tasks
    assert metrics_file(d, "valid").name == "metrics.json"
    with pytest.raises(InputError, match="mogenet evaluate .* --data test.csv"):
        load_run_metrics(write_run(tmp_path / "r1", stem="valid"))
    assert load_run_metrics(tmp_path / "r1", "valid").metrics["buy"]["auc"] == 0.7
    with pytest.raises(InputError, match="no run.json"):
        load_run_metrics(tmp_path)
