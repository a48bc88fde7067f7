"""The demo's claim, checked on the real ``demo`` preset (about 75 s on 2 CPU cores):
the trained MoGENet (``mogenet-fast``) beats the popularity baseline on every task's
test GAUC and stays below the oracle (the true probabilities)."""

from __future__ import annotations

import json

import pytest

from mogenet.cli import main


@pytest.mark.slow
def test_demo_mogenet_between_popularity_and_oracle(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--seed", "0"]) == 0
    table = capsys.readouterr().out
    assert "popularity" in table and "oracle" in table
    metrics = json.loads((out / "run" / "metrics.test.json").read_text())
    assert metrics["run"]["model"] == "mogenet"
    tasks = metrics["run"]["tasks"]
    assert tasks == ["click", "cart", "fav", "buy"]
    for task in tasks:
        model = metrics[task]["gauc"]
        popularity = metrics["baselines"]["popularity"][task]["gauc"]
        oracle = metrics["baselines"]["oracle"][task]["gauc"]
        assert popularity < model < oracle, (task, popularity, model, oracle)
