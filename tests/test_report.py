"""The HTML run report: every plot embedded as a valid PNG, tables, σ from the logged
weights, "not recorded" sections, and (with Chromium) what a browser shows."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="matplotlib not installed (pip install mogenet[plot])")

from PIL import Image  # noqa: E402 — comes with matplotlib

from mogenet import report  # noqa: E402
from mogenet.errors import InputError  # noqa: E402
from mogenet.report import build_report, load_history, sigmas, write_html_report  # noqa: E402

TASKS = ["click", "buy"]
CHROMIUM = "/usr/bin/chromium"
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "screenshot_report.py"


def fake_run(directory: Path, *, epochs=3, gates=True, lr=True) -> Path:
    """A run directory with the text files a report reads (no model needed)."""
    directory.mkdir(parents=True)
    info = {
        "tasks": TASKS,
        "model": "mmoe",
        "seed": 1,
        "device": "cpu",
        "best_epoch": 2,
        "epochs_run": epochs,
        "num_parameters": 1234,
        "train": {"path": "data/train.csv"},
        "graph": {"path": "/g"},
    }
    (directory / "run.json").write_text(json.dumps(info))
    (directory / "config.yaml").write_text("loss:\n  weighting: uncertainty\n")
    lines = []
    for e in range(1, epochs + 1):
        record = {
            "epoch": e,
            "train_loss": 1.0 / e,
            "train_task_loss": {t: 0.5 / e for t in TASKS},
            "task_weights": {"click": 4.0, "buy": 1.0 / e},
            "valid": {
                t: {"auc": 0.6 + e / 100, "gauc": None if t == "buy" else 0.55} for t in TASKS
            },
            "valid_mean_gauc": 0.55,
        }
        if gates:
            record["gate_usage"] = {"click": [0.7, 0.2, 0.1], "buy": [0.1, 0.1, 0.8]}
        if lr:
            record["lr"] = 1e-3 / e
        lines.append(json.dumps(record))
    (directory / "history.jsonl").write_text("\n".join(lines) + "\n")
    valid = {
        t: {"auc": 0.61, "gauc": 0.55, "logloss": 0.3, "positives": 5, "count": 50} for t in TASKS
    }
    (directory / "metrics.json").write_text(json.dumps({**valid, "run": info}))
    test = {
        t: {
            "auc": 0.62,
            "auc_true": 0.6875,
            "gauc": 0.56,
            "logloss": 0.3,
            "recall@10": 0.25,
            "ndcg@10": 0.125,
        }
        for t in TASKS
    }
    baselines = {"popularity": {t: {"auc": 0.58, "gauc": 0.5, "logloss": 0.35} for t in TASKS}}
    doc = {**test, "baselines": baselines, "run": {"data": "data/test.csv"}}
    (directory / "metrics.test.json").write_text(json.dumps(doc))
    return directory


def images(page: str) -> list[Image.Image]:
    """Every <img> of the page, decoded from its base64 data URL (fails if invalid)."""
    tags = re.findall(r"<img [^>]*>", page)
    out = []
    for tag in tags:
        match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', tag)
        assert match, tag[:80]
        data = base64.b64decode(match.group(1), validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        image = Image.open(io.BytesIO(data))
        image.load()  # decodes the whole image
        assert image.width > 200 and image.height > 100
        out.append(image)
    return out


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    """A fake run with every history field, and its written report."""
    run = fake_run(tmp_path_factory.mktemp("report") / "run")
    assert write_html_report(run) == run / "report.html"
    return run


def test_report_has_every_plot(full_run):
    page = (full_run / "report.html").read_text()
    alts = re.findall(r'<img alt="([^"]*)"', page)
    assert alts == [
        "training loss by epoch",
        "validation GAUC and AUC by epoch",
        "task uncertainty sigma by epoch",
        "gate usage heatmap per task and expert",
        "learning rate by epoch",
    ]
    assert len(images(page)) == 5
    assert "not recorded" not in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "data-images-ok" not in page.split("<script>")[0]  # set by the script at load


def test_report_tables(full_run):
    page = (full_run / "report.html").read_text()
    assert "metrics.test.json" in page and "data/test.csv" in page
    for header in ("<th>recall@10</th>", "<th>ndcg@10</th>", "<th>gauc</th>", "<th>auc_true</th>"):
        assert header in page
    assert "<td>0.6875</td>" in page  # synthetic data's auc_true
    assert page.count('<tr class="model">') == 2 * len(TASKS)  # valid + test rows
    assert "<td>popularity</td>" in page and "<td>0.1250</td>" in page
    assert "config.yaml" in page and "weighting: uncertainty" in page


def test_report_names_the_early_stopping_score(full_run, tmp_path):
    page = (full_run / "report.html").read_text()
    assert "<dt>early stopping on</dt><dd>mean GAUC</dd>" in page
    assert "keeps the epoch with the best mean GAUC" in page
    run = fake_run(tmp_path / "run")
    (run / "config.yaml").write_text("train:\n  monitor: buy.logloss\n")
    page = build_report(run)
    assert "<dt>early stopping on</dt><dd>buy.logloss</dd>" in page
    assert "keeps the epoch with the best validation buy.logloss" in page


def test_missing_gate_usage_and_lr_say_not_recorded(tmp_path):
    page = build_report(fake_run(tmp_path / "run", gates=False, lr=False))
    assert "Gate usage not recorded" in page
    assert "Learning rate" not in page
    assert len(images(page)) == 3  # losses, validation, σ


def test_no_history(tmp_path):
    run = fake_run(tmp_path / "run")
    (run / "history.jsonl").unlink()
    page = build_report(run)
    assert "Training history not recorded" in page and "Task weights not recorded" in page
    assert images(page) == []


def test_sigma_is_inverse_sqrt_of_logged_weight(tmp_path):
    history = load_history(fake_run(tmp_path / "run"))
    s = sigmas(history, TASKS)
    assert s["click"] == [0.5, 0.5, 0.5]  # w = 4 = 1/σ²
    assert s["buy"] == pytest.approx([1.0, 2**0.5, 3**0.5])  # w = 1/e


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="no run.json"):
        build_report(tmp_path)
    run = fake_run(tmp_path / "run")
    with pytest.raises(InputError, match=".html"):
        write_html_report(run, tmp_path / "report.png")
    (run / "history.jsonl").write_text('{"epoch": 1}\nnot json\n')
    with pytest.raises(InputError, match="line 2"):
        build_report(run)


@pytest.fixture(scope="module")
def screenshot(bench):
    """``scripts/screenshot_report.py`` as a module."""
    return bench


def test_script_helpers(screenshot, tmp_path):
    dom = '<html lang="en" data-images-ok="4" data-images-total="5"><body></body></html>'
    assert screenshot.image_counts(dom) == (4, 5)
    assert screenshot.image_counts("<html><body></body></html>") == (-1, -1)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (40, 30), "white").save(blank)
    assert screenshot.ink(blank) == {"width": 40, "height": 30, "ink": 0.0, "colours": 1}


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed")
def test_chromium_renders_every_plot(screenshot, full_run, tmp_path):
    out = tmp_path / "shot.png"
    page = full_run / "report.html"
    result = screenshot.main([str(page), "--out", str(out), "--height", "1600"])
    assert result["images"] == {"decoded": 5, "total": 5, "img_tags": 5}
    assert result["checks"] == {"images_decoded": True, "screenshot_not_blank": True}
    assert result["png"]["width"] == 1280 and result["png"]["ink"] > 0.02


def test_loss_plot_draws_the_extra_loss_terms(monkeypatch):
    figures = []
    monkeypatch.setattr(report, "_png", lambda fig: figures.append(fig) or "png")
    history = [
        {
            "epoch": e,
            "train_loss": 1.0 / e,
            "train_task_loss": {"click": 0.5 / e},
            "train_terms": {"main": 0.9 / e, "contrastive": 2.0 / e},
        }
        for e in (1, 2)
    ]
    assert report.plot_losses(history, ["click"], best=2) == "png"
    total = figures[0].axes[0]
    labels = [line.get_label() for line in total.get_lines()]
    assert "total" in labels and "contrastive" in labels and "main" not in labels
    line = total.get_lines()[labels.index("contrastive")]
    assert list(line.get_ydata()) == [2.0, 1.0]
