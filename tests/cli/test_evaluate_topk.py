"""``mogenet evaluate --topk``: Recall@K / NDCG@K of the model and the popularity
baseline over full item rankings, in the metrics JSON and the printed tables."""

from __future__ import annotations

import json

import pytest

from mogenet.cli import main

TASKS = ["click", "cart", "fav", "buy"]


@pytest.mark.parametrize("fixture", ["tiny_run", "tiny_mogenet_run"])
def test_topk_metrics(fixture, request, tiny_split, tmp_path, capsys):
    run = request.getfixturevalue(fixture)
    out = tmp_path / "metrics.json"
    argv = ["evaluate", str(run), "--data", str(tiny_split / "test.csv"), "--topk", "1000,5"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "top-5 retrieval" in printed and "top-1000 retrieval" in printed
    assert printed.index("top-5") < printed.index("top-1000")  # sorted
    metrics = json.loads(out.read_text())
    items = len(json.loads((run / "id_maps.json").read_text())["items"])
    assert items < 1000
    for scorer in (metrics, metrics["baselines"]["popularity"]):
        for task in TASKS:
            m = scorer[task]
            assert {"auc", "recall@5", "ndcg@5", "recall@1000", "ndcg@1000"} <= set(m)
            if m["retrieval_users"] == 0:
                assert m["recall@5"] is None
                continue
            assert 0 <= m["recall@5"] <= m["recall@1000"] and 0 <= m["ndcg@5"] <= 1
            # K beyond the number of items: every rankable held-out positive is found
            assert m["recall@1000"] == pytest.approx(1.0)
            assert 0 < m["ndcg@1000"] <= 1
            assert m["retrieval_skipped"] >= 0
    assert sum(metrics[t]["retrieval_users"] for t in TASKS) > 0
    assert "recall@5" not in metrics["baselines"]["oracle"]["click"]  # pairs only


def test_without_topk_no_retrieval_metrics(tiny_run, tiny_split, tmp_path):
    out = tmp_path / "metrics.json"
    argv = ["evaluate", str(tiny_run), "--data", str(tiny_split / "test.csv"), "--out", str(out)]
    assert main(argv) == 0
    assert not any("@" in key for key in json.loads(out.read_text())["click"])


@pytest.mark.parametrize("value", ["0", "ten", ","])
def test_bad_topk(tiny_run, tiny_split, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", str(tiny_run), "--data", str(tiny_split / "test.csv"), "--topk", value])
    assert exit_.value.code == 2 and "positive integers" in capsys.readouterr().err
