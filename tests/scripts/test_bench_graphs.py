"""Smoke test of ``scripts/bench_graphs.py`` on ~10^4 interactions.

Benchmarks are not timed tests: these check the structure of the report only.
"""

from __future__ import annotations

import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_graphs.py"


def test_main_writes_report(bench, tmp_path):
    out = tmp_path / "graphs.json"
    argv = ["--sizes", "1e4", "--baseline-size", "1e4", "--out", str(out), "--in-process"]
    report = bench.main(argv)

    assert json.loads(out.read_text()) == report
    assert out.with_suffix(".md").read_text().startswith("# Graph builders benchmark")
    assert {"date", "cpu_count", "torch", "numpy", "pandas"} <= report["machine"].keys()
    assert {"topk", "hub_cap", "seed"} <= report["params"].keys()
    size = report["sizes"]["10000"]
    assert {"rows", "users", "items", "generate_seconds"} <= size.keys()
    assert set(size["stages"]) == {"bipartite", "user_user", "item_item", "spectral", "total"}
    for name, stage in size["stages"].items():
        out = "dim" if name == "spectral" else "edges"
        assert {"seconds", "peak_rss_mib", "rss_before_mib", out} <= stage.keys()
    assert size["stages"]["spectral"]["dim"] == bench.SPECTRAL_DIM
    assert set(size["stages"]["total"]["edges"]) == {"bipartite", "user_user", "item_item"}
    assert set(size["baselines"]) == {"pandas", "networkx"}
    for baseline in size["baselines"].values():
        assert {"seconds", "peak_rss_mib", "edges", "speedup"} <= baseline.keys()
    assert all(c["equal"] for c in size["check"].values())  # same graph as the baselines
    assert report["targets"] == []  # no target size (1e6, 1e7) in this run


def test_generator_is_seeded_and_deduplicated(bench):
    users, items, num_users, num_items = bench.power_law_log(10_000, seed=3)
    again = bench.power_law_log(10_000, seed=3)
    assert (users == again[0]).all() and (items == again[1]).all()
    assert (num_users, num_items) == (1_000, 200)
    keys = users * num_items + items
    assert len(set(keys.tolist())) == len(keys) <= 10_000


def test_stage_in_child_process_and_timeout(bench, tmp_path):
    opts = bench.Options()
    bench.save_size_inputs(tmp_path, 2_000, seed=0)
    bench.stage_bipartite(tmp_path, opts)
    child = bench.run_stage("pandas", tmp_path, opts, timeout=120, in_process=False)
    assert {"seconds", "peak_rss_mib", "edges"} <= child.keys()
    killed = bench.run_stage("networkx", tmp_path, opts, timeout=0.01, in_process=False)
    assert killed == {"timed_out_after_s": 0.01}
