"""Smoke test of ``scripts/bench_sampler.py`` on a ~10^3-edge graph.

Benchmarks are not timed tests: these check the structure of the report only.
"""

from __future__ import annotations

import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_sampler.py"


def test_main_writes_report(bench, tmp_path):
    out = tmp_path / "sampler.json"
    argv = ["--edges", "2e3", "--batch-sizes", "16,32", "--fanouts", "3,2", "--batches", "2"]
    argv += ["--workers", "2", "--device", "cpu,cuda", "--pyg", "--out", str(out), "--in-process"]
    report = bench.main(argv)

    assert json.loads(out.read_text()) == report
    assert out.with_suffix(".md").read_text().startswith("# Neighbour sampler benchmark")
    assert {"date", "cpu_count", "torch", "git_commit"} <= report["machine"].keys()
    size = report["sizes"]["2000"]
    assert {"edges", "users", "items", "generate_seconds", "runs"} <= size.keys()
    assert [(r["fanout"], r["batch_size"]) for r in size["runs"]] == [([3, 2], 16), ([3, 2], 32)]
    for run in size["runs"]:
        assert {"loader", "direct"} <= run["modes"].keys()
        for mode in run["modes"].values():
            assert mode["batches"] == 2 and mode["edges"] > 0, mode
            assert {"edges_per_s", "pairs_per_s", "edges_per_batch"} <= mode.keys()
    # an unavailable backend is a note, never a failure
    assert "pyg" in size["runs"][0]["modes"] or any("pyg-lib" in n for n in size["notes"])
    assert ("cuda_direct" in size["runs"][0]["modes"]) or (
        "cuda: not available on this machine" in size["notes"]
    )
    assert [t["result"] for t in report["targets"]] == ["N/A (config not run)"] * 2


def test_bundle_and_pairs(bench):
    users, items, num_users, num_items = bench.power_law_log(2_000, seed=1)
    bundle = bench.make_bundle(users, items, num_users, num_items)
    edge_index = bundle.data[bench.INTERACTS].edge_index
    keys = edge_index[0] * num_items + edge_index[1]
    assert bool((keys[1:] > keys[:-1]).all())  # sorted by (user, item), no duplicates
    assert (bundle.num_users, bundle.num_items) == (num_users, num_items)
    assert bundle.data["user", "similar", "user"].edge_index.shape == (2, 0)
    user, item = bench.random_pairs(edge_index, 50, seed=0)
    assert set((user * num_items + item).tolist()) <= set(keys.tolist())  # existing edges
