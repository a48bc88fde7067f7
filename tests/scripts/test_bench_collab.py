"""Smoke tests of the MoGENet scripts: they run end to end on a tiny log and write
their JSON and Markdown (benchmarks are not timed tests: structure only)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pytest

from mogenet.run import Run

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import ablation_mogenet  # noqa: E402
import bench_collab  # noqa: E402

TINY = ["--users", "150", "--items", "60", "--interactions", "2500", "--epochs", "1"]


def test_bench_collab_tiny(tmp_path):
    out = tmp_path / "collab.json"
    summary = bench_collab.main(
        ["--seeds", "0", *TINY, "--work", str(tmp_path / "w"), "--out", str(out)]
    )
    doc = json.loads(out.read_text())
    models = {"mmoe", "mogenet", "mmoe+contrastive", "mogenet+contrastive"}
    assert set(doc["summary"]["mean_gauc"]) == models | {"itemcf", "popularity", "oracle"}
    assert set(summary["gain_points"]) == {
        "mogenet − mmoe",
        "mogenet+contrastive − mmoe+contrastive",
        "mogenet+contrastive − mmoe",
    }
    for gain in summary["gain_points"].values():
        assert set(gain) == {"click", "cart", "fav", "buy"}
    md = out.with_suffix(".md").read_text()
    assert "| mogenet+contrastive − mmoe+contrastive (points) |" in md
    assert "Command: `python scripts/bench_collab.py --seeds 0" in md


def test_ablation_tiny(tmp_path):
    out = tmp_path / "ablation.json"
    results = ablation_mogenet.main(
        [
            "--kappas",
            "add",
            "--losses",
            "i,i+iii",
            *TINY,
            "--work",
            str(tmp_path / "w"),
            "--out",
            str(out),
        ]
    )
    assert set(results["add"]) == {"i", "i+iii"}
    assert 0.0 <= results["add"]["i"]["mean_gauc"] <= 1.0
    assert "| add |" in out.with_suffix(".md").read_text()


def test_paired_p_matches_scipy_and_is_nan_for_one_seed():
    from scipy.stats import ttest_rel

    a, b = [0.71, 0.74, 0.70], [0.70, 0.72, 0.69]
    per_seed = [
        {"models": {"x": {"click": {"gauc": x}}, "y": {"click": {"gauc": y}}}}
        for x, y in zip(a, b, strict=True)
    ]
    assert bench_collab.paired_p(per_seed, "x", "y", "click") == ttest_rel(a, b).pvalue
    assert math.isnan(bench_collab.paired_p(per_seed[:1], "x", "y", "click"))


def test_jobs_keep_seed_order(tmp_path):
    """``--jobs 2`` runs the seeds in worker processes and returns them in seed order:
    the data-only oracle scores match a serial run seed for seed."""
    common = ["--seeds", "1,0", *TINY, "--models", "mmoe"]
    serial = bench_collab.main(
        [*common, "--work", str(tmp_path / "a"), "--out", str(tmp_path / "a.json")]
    )
    parallel = bench_collab.main(
        [*common, "--jobs", "2", "--work", str(tmp_path / "b"), "--out", str(tmp_path / "b.json")]
    )
    a = json.loads((tmp_path / "a.json").read_text())["per_seed"]
    b = json.loads((tmp_path / "b.json").read_text())["per_seed"]
    assert a[0]["baselines"]["oracle"] != a[1]["baselines"]["oracle"]  # the check can fail
    for s, p in zip(a, b, strict=True):
        assert s["baselines"]["oracle"] == p["baselines"]["oracle"]
    assert serial["mean_gauc"]["oracle"] == parallel["mean_gauc"]["oracle"]


def test_models_subset_reports_only_the_gains_it_has(tmp_path, capsys):
    out = tmp_path / "c.json"
    summary = bench_collab.main(
        [
            "--seeds",
            "0",
            *TINY,
            "--models",
            "mmoe,mogenet+contrastive",
            "--work",
            str(tmp_path / "w"),
            "--out",
            str(out),
        ]
    )
    assert set(summary["gain_points"]) == {"mogenet+contrastive − mmoe"}
    assert set(summary["oracle_lift"]) == {"mmoe", "mogenet+contrastive"}
    with pytest.raises(SystemExit):
        bench_collab.main(["--models", "mmoe,nope"])
    assert "unknown model(s) nope" in capsys.readouterr().err


def test_spectral_models_read_the_coordinates_the_others_do_not(tmp_path, capsys):
    out = tmp_path / "s.json"
    models = "mmoe+contrastive,mmoe+contrastive+spectral,mogenet+contrastive+spectral"
    argv = ["--seeds", "0", *TINY, "--models", models, "--work", str(tmp_path / "w")]
    summary = bench_collab.main([*argv, "--spectral", "4", "--out", str(out)])
    assert set(summary["gain_points"]) == {
        "mmoe+contrastive+spectral − mmoe+contrastive",
        "mogenet+contrastive+spectral − mmoe+contrastive",
        "mogenet+contrastive+spectral − mmoe+contrastive+spectral",
    }
    d = tmp_path / "w" / "seed0"
    names = {m: Run.load(d / m).user_features.numeric_names for m in models.split(",")}
    assert names["mmoe+contrastive"] == ()
    spectral = tuple(f"spectral_{j}" for j in range(1, 5))
    assert names["mmoe+contrastive+spectral"] == names["mogenet+contrastive+spectral"] == spectral
    with pytest.raises(SystemExit):
        bench_collab.main([*argv, "--out", str(out)])  # no --spectral K
    assert "read spectral coordinates: give --spectral K" in capsys.readouterr().err


def test_generator_options_reach_the_synthetic_config(tmp_path, monkeypatch):
    """``--communities`` / ``--latent-noise`` / ``--affinity-weight`` / ``--item-churn``
    set the generator's K, tau, alpha and churn; left out, the preset's values stand."""
    seen = []
    real = bench_collab.generate
    monkeypatch.setattr(bench_collab, "generate", lambda cfg: seen.append(cfg) or real(cfg))
    parser = argparse.ArgumentParser()
    bench_collab.add_data_args(parser)
    opts = ["--users", "60", "--items", "30", "--interactions", "600"]
    given = parser.parse_args(
        [*opts, "--communities", "3", "--latent-noise", "0.2", "--affinity-weight", "2.5"]
        + ["--item-churn", "0.4"]
    )
    bench_collab.prepare(0, given, tmp_path / "given")
    bench_collab.prepare(0, parser.parse_args(opts), tmp_path / "preset")
    preset = bench_collab.SyntheticConfig.preset("demo")
    assert (seen[0].num_communities, seen[0].latent_noise, seen[0].affinity_weight) == (3, 0.2, 2.5)
    assert (seen[0].item_churn, seen[1].item_churn) == (0.4, preset.item_churn)
    assert (seen[1].num_communities, seen[1].latent_noise, seen[1].affinity_weight) == (
        preset.num_communities,
        preset.latent_noise,
        preset.affinity_weight,
    )


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_workers_exit_when_their_parent_is_killed():
    """``worker_pool`` workers (``--jobs``) do not outlive a parent killed with SIGKILL."""
    import subprocess
    import time

    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time\n"
            f"sys.path.insert(0, {str(SCRIPTS)!r})\n"
            "import bench_collab\n"
            "pool = bench_collab.worker_pool(1)\n"
            "print(pool.submit(os.getpid).result(), flush=True)\n"
            "pool.submit(time.sleep, 120)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 20
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker)
    finally:
        parent.kill()
