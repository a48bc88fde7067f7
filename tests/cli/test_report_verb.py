"""``mogenet report``: a readable HTML page for a trained run."""

from __future__ import annotations

import base64
import re
import shutil

import pytest

from mogenet.cli import main

pytest.importorskip("matplotlib", reason="matplotlib not installed (pip install mogenet[plot])")


def test_report_of_a_trained_run(tiny_mogenet_run, tiny_split, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_mogenet_run, run)  # the report goes into the run directory
    assert main(["evaluate", str(run), "--data", str(tiny_split / "test.csv"), "--topk", "5"]) == 0
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    assert f"report written to {run / 'report.html'}" in capsys.readouterr().out
    page = (run / "report.html").read_text()
    assert "mogenet run report: mogenet" in page
    for needle in ("metrics.json", "metrics.test.json", "recall@5", "Gate usage", "Task weights"):
        assert needle in page
    sources = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)
    assert len(sources) >= 3  # losses, validation curves, σ (+ gates, lr when recorded)
    for data in sources:
        assert base64.b64decode(data, validate=True).startswith(b"\x89PNG")
    if "gate_usage" not in (run / "history.jsonl").read_text():
        assert "Gate usage not recorded" in page


def test_report_out_and_errors(tiny_run, tmp_path, capsys):
    out = tmp_path / "pages" / "mmoe.html"
    assert main(["report", str(tiny_run), "--out", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert not (tiny_run / "report.html").exists()
    assert main(["report", str(tmp_path)]) == 2
    assert "no run.json" in capsys.readouterr().err
    assert main(["report", str(tiny_run), "--out", str(tmp_path / "x.pdf")]) == 2
    assert ".html" in capsys.readouterr().err
