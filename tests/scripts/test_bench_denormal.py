"""Smoke test of ``scripts/bench_denormal.py`` (structure only: benchmarks are not
timed tests)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import bench_denormal  # noqa: E402


@pytest.mark.skipif(
    not torch.set_flush_denormal(False), reason="this CPU cannot flush denormals (x86 + SSE3)"
)
def test_bench_denormal_quick(tmp_path):
    out = tmp_path / "d.json"
    result = bench_denormal.main(["--quick", "--out", str(out)])
    doc = json.loads(out.read_text())
    assert set(doc["seconds"]) == set(bench_denormal.CASES)
    assert all(len(t) == 2 and min(t) > 0 for t in doc["rounds"].values())
    assert result["speedup"] == doc["seconds"]["subnormal"] / doc["seconds"]["subnormal, flushed"]
    assert "| subnormal, flushed |" in out.with_suffix(".md").read_text()
    assert (torch.tensor([1e-39]) * 1.0).item() != 0.0  # the benchmark turns flushing off again


def test_make_step_scales_the_weights_into_the_subnormal_range():
    step = bench_denormal.make_step(1e-39, batch=4)
    cell = step.__closure__  # the closure holds the modules
    weights = [c.cell_contents for c in cell if isinstance(c.cell_contents, torch.nn.Module)]
    for module in weights:
        for p in module.parameters():
            nonzero = p[p != 0].abs()
            assert nonzero.numel() and bool((nonzero < 1.18e-38).all())
