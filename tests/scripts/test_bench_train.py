"""Smoke test of ``scripts/bench_train.py`` on a 3000-impression log (``--quick``).

Benchmarks are not timed tests: these check the structure of the report and the
peer-comparison logic only.  torch-rechub is never needed: the peer's Python is a
path that does not exist, which the report must turn into a note.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_train.py"
TASKS = ["click", "buy"]


def test_quick_report(bench, tmp_path):
    out = tmp_path / "train.json"
    argv = ["--quick", "--in-process", "--device", "cpu,cuda", "--models", "mmoe,mogenet"]
    argv += ["--peers", "--peer-python", str(tmp_path / "no-python"), "--peer-seeds", "0"]
    argv += ["--profile", "--profile-batches", "2", "--profile-top", "5"]
    argv += ["--work", str(tmp_path / "work"), "--out", str(out)]
    report = bench.main(argv)

    assert json.loads(out.read_text()) == report
    assert out.with_suffix(".md").read_text().startswith("# Training throughput")
    machine = report["machine"]
    assert {"date", "cpu_model", "torch", "torch_geometric", "cuda_device"} <= machine.keys()
    assert report["data"]["rows"]["train"] > 0 and report["data"]["tasks"][0] == "click"

    cpu = report["throughput"]["devices"]["cpu"]
    assert cpu["device_name"] == report["machine"]["cpu_model"]
    for model in ("mmoe", "mogenet"):
        r = cpu["models"][model]
        assert r["pairs"] == report["data"]["rows"]["train"], r
        assert r["seconds_per_epoch"] > 0 and r["cpu_seconds_per_epoch"] > 0
        assert r["pairs_per_s"] == pytest.approx(r["pairs"] / r["seconds_per_epoch"], rel=1e-3)
        assert r["peak_rss_mib"] > 0 and r["num_parameters"] > 0
    assert cpu["models"]["mmoe"]["time_vs_mmoe"] == 1.0
    overhead = cpu["graph_overhead"]["mogenet_over_mmoe"]
    assert overhead == cpu["models"]["mogenet"]["time_vs_mmoe"] > 0
    assert ("cuda" in report["throughput"]["devices"]) or (
        "cuda: not available on this machine" in report["throughput"]["notes"]
    )

    peers = report["peers"]
    assert not peers["peer"]["available"] and "not found" in peers["notes"][0]
    assert [(r["impl"], r["model"]) for r in peers["runs"]] == [
        ("mogenet", "mmoe"),
        ("mogenet", "ple"),
    ]
    for run in peers["runs"]:
        assert 1 <= run["epochs_run"] <= 2 and len(run["epochs"]) == run["epochs_run"]
        assert set(run["test"]) == set(report["data"]["tasks"])
        for e in run["epochs"]:
            assert e["epoch_s"] >= e["train_s"] > 0 and e["valid_s"] > 0
    summary = peers["summary"]
    assert set(summary["models"]["mmoe"]) == {"mogenet"} and summary["checks"] == []
    assert set(report["profile"]) == {"mmoe", "ple"}
    assert len(report["profile"]["mmoe"]["top"]) == 5


def _run(impl: str, seed: int, auc: float, train_s: float) -> dict:
    epoch = {"train_s": train_s, "epoch_s": train_s + 0.1}
    epoch.update(train_cpu_s=train_s, epoch_cpu_s=train_s + 0.1, valid_s=0.1)
    test = {t: {"auc": auc, "gauc": auc - 0.05} for t in TASKS}
    return {"impl": impl, "model": "mmoe", "seed": seed, "epochs_run": 1, "epochs": [epoch]}, test


def _runs(mogenet: list[float], peer: list[float], mog_s: float, peer_s: float) -> list[dict]:
    out = []
    for seed, (a, b) in enumerate(zip(mogenet, peer, strict=True)):
        for impl, auc, secs in (("mogenet", a, mog_s), ("torch-rechub", b, peer_s)):
            run, test = _run(impl, seed, auc, secs)
            out.append({**run, "test": test})
    return out


def test_summarise_peers_checks(bench):
    # mogenet 0.005 below the peer, seed std 0.01 → within the spread; 2.5x faster
    runs = _runs([0.695, 0.705, 0.715], [0.70, 0.71, 0.72], mog_s=1.0, peer_s=2.5)
    s = bench.summarise_peers(runs, TASKS)
    rows = s["models"]["mmoe"]
    assert rows["mogenet"]["auc"]["click"]["mean"] == pytest.approx(0.705)
    assert rows["mogenet"]["auc"]["click"]["std"] == pytest.approx(0.01)
    assert rows["speedup"]["train_s"] == pytest.approx(2.5)
    assert [c["result"] for c in s["checks"]] == ["PASS", "PASS", "PASS"]
    assert "ple" not in [m for m, r in s["models"].items() if r]

    # 0.03 below with std 0.01 → FAIL; only 1.5x faster → FAIL
    runs = _runs([0.67, 0.68, 0.69], [0.70, 0.71, 0.72], mog_s=1.0, peer_s=1.5)
    s = bench.summarise_peers(runs, TASKS)
    accuracy, wall, cpu = s["checks"]
    assert accuracy["result"] == "FAIL" and accuracy["value"]["diff"] == pytest.approx(-0.03)
    assert (wall["result"], cpu["result"]) == ("FAIL", "FAIL")

    # better than the peer is always as accurate, even with no spread
    runs = _runs([0.75, 0.75], [0.70, 0.70], mog_s=1.0, peer_s=3.0)
    assert bench.summarise_peers(runs, TASKS)["checks"][0]["result"] == "PASS"


def test_missing_package_is_a_clear_error(bench, monkeypatch):
    monkeypatch.setitem(bench.REQUIRED, "no_such_module_xyz", "no-such-package")
    with pytest.raises(SystemExit, match="missing package.*no-such-package"):
        bench.require_packages()


def test_peer_available_without_python(bench, tmp_path):
    assert bench.peer_available(None) == (False, "no --peer-python given")
    ok, why = bench.peer_available(str(tmp_path / "python"))
    assert not ok and "not found" in why
