"""A run's report: one self-contained HTML page with plots and metric tables.

``mogenet report RUN_DIR`` reads only the run's text files — ``run.json``,
``config.yaml``, ``history.jsonl``, ``metrics.json`` and every
``metrics.<stem>.json`` that ``mogenet evaluate`` wrote — so it never loads a model.
The page embeds its plots as base64 PNGs (matplotlib's Agg canvas, no display) and
has no external resource: it can be mailed or archived as one file.

Sections:

* **Run**: model, tasks, seed, device, epochs, best epoch, parameters, files.
* **Metrics**: validation metrics at the best epoch, and each evaluated file's
  metrics beside the popularity baseline and the oracle (Recall/NDCG when
  ``evaluate --topk`` computed them).
* **Training curves**: train loss (total and per task) and validation AUC / GAUC
  per task by epoch, the best epoch marked.
* **Task weights**: the uncertainty weighting's :math:`\\sigma_k` by epoch, from the
  logged weights :math:`w_k = 1/\\sigma_k^2` (so :math:`\\sigma_k = w_k^{-1/2}`).
* **Gate usage**: the mean gate weight each task gives each expert
  (``gate_usage`` in the history, ``{task: [weight per expert]}``) as a heatmap at
  the best epoch; "not recorded" for runs whose history has none (heads without
  gates, older runs).
* **Learning rate** by epoch when the history records ``lr``.

A small inline script marks ``<html data-images-ok="k" data-images-total="n">``
once the page has loaded, so a headless browser can check that every image
decoded (``scripts/screenshot_report.py``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from pathlib import Path
from typing import Any

from mogenet.errors import InputError
from mogenet.io import atomic_path
from mogenet.metrics import TRUE_AUC

__all__ = ["build_report", "load_history", "sigmas", "write_html_report"]

NOT_RECORDED = "not recorded"


# ------------------------------------------------------------------ reading
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"unreadable ({type(e).__name__}: {e})", file=path) from None


def load_history(run_dir: str | os.PathLike) -> list[dict]:
    """The records of ``history.jsonl`` (one per epoch), in order."""
    path = Path(run_dir) / "history.jsonl"
    if not path.is_file():
        return []
    records = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise InputError("not a JSON line", file=path, row=n) from None
    return records


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _series(history: list[dict], *keys: str) -> list[float]:
    """``record[k0][k1]…`` per epoch, NaN where missing."""
    out = []
    for record in history:
        value: Any = record
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        out.append(_num(value) if not isinstance(value, dict) else math.nan)
    return out


# -------------------------------------------------------------------- plots
def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(panels: int, height: float = 3.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * panels, height), dpi=100, layout="constrained")
    return fig, fig.subplots(1, panels, squeeze=False)[0]


def _epoch_axis(ax, best: int | None) -> None:
    """Integer epoch ticks, the best epoch as a dotted line, grid and legend."""
    from matplotlib.ticker import MaxNLocator

    if best is not None and best > 0:
        ax.axvline(best, color="0.5", linestyle=":", linewidth=1.2, label=f"best epoch {best}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")


def plot_losses(history: list[dict], tasks: list[str], best: int | None) -> str:
    """Train loss (total) and per-task train loss by epoch."""
    epochs = _series(history, "epoch")
    fig, (total, per_task) = _figure(2)
    total.plot(epochs, _series(history, "train_loss"), marker="o", markersize=3, label="total")
    terms = sorted({n for r in history for n in (r.get("train_terms") or {})} - {"main"})
    for name in terms:  # cooperative, contrastive, head terms (before their coefficient)
        total.plot(
            epochs, _series(history, "train_terms", name), marker="o", markersize=3, label=name
        )
    total.set_title("train loss (weighted total) and extra terms")
    for t in tasks:
        per_task.plot(
            epochs, _series(history, "train_task_loss", t), marker="o", markersize=3, label=t
        )
    per_task.set_title("train loss per task (BCE)")
    for ax in (total, per_task):
        _epoch_axis(ax, best)
    return _png(fig)


def plot_validation(
    history: list[dict], tasks: list[str], best: int | None, monitor: str = "gauc"
) -> str:
    """Validation GAUC and AUC per task by epoch, and the mean GAUC (marked as the
    early-stopping score when ``monitor``, the run's ``train.monitor``, is ``gauc``)."""
    epochs = _series(history, "epoch")
    fig, axes = _figure(2)
    for ax, metric in zip(axes, ("gauc", "auc"), strict=True):
        for t in tasks:
            ax.plot(epochs, _series(history, "valid", t, metric), marker="o", markersize=3, label=t)
        if metric == "gauc":
            ax.plot(
                epochs,
                _series(history, "valid_mean_gauc"),
                color="black",
                linewidth=2,
                label="mean (early stopping)" if monitor == "gauc" else "mean",
            )
        ax.set_title(f"validation {metric.upper()} per task")
        _epoch_axis(ax, best)
    return _png(fig)


def sigmas(history: list[dict], tasks: list[str]) -> dict[str, list[float]]:
    """``{task: [σ_k per epoch]}`` from the logged weights :math:`w_k = 1/\\sigma_k^2`
    (NaN where a weight is missing or not positive)."""
    return {
        t: [w**-0.5 if w > 0 else math.nan for w in _series(history, "task_weights", t)]
        for t in tasks
    }


def plot_sigma(history: list[dict], tasks: list[str], best: int | None, weighting: str) -> str:
    """σ_k = w_k^(-1/2) per task by epoch (w_k = 1/σ_k² as logged)."""
    epochs = _series(history, "epoch")
    fig, (ax,) = _figure(1)
    for t, sigma in sigmas(history, tasks).items():
        ax.plot(epochs, sigma, marker="o", markersize=3, label=t)
    ax.set_title(f"task uncertainty σ_k ({weighting} weighting)")
    ax.set_ylabel("σ_k = w_k^(-1/2)")
    _epoch_axis(ax, best)
    return _png(fig)


def gate_usage_at(history: list[dict], best: int | None) -> tuple[int, dict[str, list]] | None:
    """``(epoch, gate_usage)`` of the best epoch, else the last epoch that has one."""
    recorded = [r for r in history if isinstance(r.get("gate_usage"), dict) and r["gate_usage"]]
    if not recorded:
        return None
    chosen = next((r for r in recorded if r.get("epoch") == best), recorded[-1])
    return int(chosen.get("epoch", 0)), chosen["gate_usage"]


def plot_gate_usage(epoch: int, usage: dict[str, list]) -> str:
    """Heatmap of the mean gate weight of every (task, expert)."""
    import numpy as np

    tasks = list(usage)
    width = max(len(v) for v in usage.values())
    grid = np.full((len(tasks), width), np.nan)
    for r, t in enumerate(tasks):
        grid[r, : len(usage[t])] = [_num(v) for v in usage[t]]
    fig, (ax,) = _figure(1, height=1.2 + 0.55 * len(tasks))
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, aspect="auto")
    for r in range(len(tasks)):
        for c in range(width):
            if not math.isnan(grid[r, c]):
                light = grid[r, c] < 0.6 * np.nanmax(grid)
                ax.text(
                    c, r, f"{grid[r, c]:.2f}", ha="center", va="center",
                    color="white" if light else "black", fontsize="small",
                )  # fmt: skip
    ax.set_xticks(range(width), [str(c) for c in range(width)])
    ax.set_yticks(range(len(tasks)), tasks)
    ax.set_xlabel("expert")
    ax.set_title(f"mean gate weight per task and expert (epoch {epoch})")
    fig.colorbar(image, ax=ax, shrink=0.9)
    return _png(fig)


def plot_lr(history: list[dict]) -> str:
    """The learning rate by epoch."""
    epochs = _series(history, "epoch")
    fig, (ax,) = _figure(1, height=3.0)
    ax.plot(epochs, _series(history, "lr"), marker="o", markersize=3)
    ax.set_title("learning rate")
    _epoch_axis(ax, None)
    return _png(fig)


# --------------------------------------------------------------------- HTML
def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return _e(value)


def _metric_columns(rows: dict[str, dict[str, dict]]) -> list[str]:
    order = ["auc", TRUE_AUC, "gauc", "logloss"]
    extra = sorted(
        {m for r in rows.values() for v in r.values() for m in v if "@" in m},
        key=lambda m: (m.split("@")[0] != "recall", int(m.split("@")[1])),
    )
    present = {m for r in rows.values() for v in r.values() for m in v}
    return [m for m in order if m in present] + extra


def metrics_table(rows: dict[str, dict[str, dict]]) -> str:
    """``{scorer: {task: metrics}}`` as an HTML table, one row per (task, scorer)."""
    columns = _metric_columns(rows)
    tasks: list[str] = []
    for r in rows.values():
        tasks += [t for t in r if t not in tasks]
    head = "".join(f"<th>{_e(c)}</th>" for c in ["task", "scorer", *columns, "positives", "rows"])
    body = []
    for t in tasks:
        for scorer, result in rows.items():
            if t not in result:
                continue
            v = result[t]
            cells = [_e(t), _e(scorer)] + [_cell(v.get(c)) for c in columns]
            cells += [_cell(v.get("positives")), _cell(v.get("count"))]
            cls = ' class="model"' if scorer == "model" else ""
            body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _metrics_sections(run_dir: Path) -> list[str]:
    parts = []
    valid = run_dir / "metrics.json"
    if valid.is_file():
        doc = _read_json(valid)
        model = {t: v for t, v in doc.items() if t not in ("run", "baselines")}
        parts.append("<h3>Validation, best epoch (<code>metrics.json</code>)</h3>")
        parts.append(metrics_table({"model": model}))
    for path in sorted(run_dir.glob("metrics.*.json")):
        doc = _read_json(path)
        model = {t: v for t, v in doc.items() if t not in ("run", "baselines")}
        rows = {"model": model, **doc.get("baselines", {})}
        data = (doc.get("run") or {}).get("data", path.stem.split(".", 1)[1])
        parts.append(f"<h3>{_e(data)} (<code>{_e(path.name)}</code>)</h3>")
        parts.append(metrics_table(rows))
    if not parts:
        parts.append("<p class='note'>No metrics file in the run directory.</p>")
    return parts


def _figure_html(png: str, alt: str, caption: str) -> str:
    return (
        f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;
  max-width:1120px;padding:1.2em 1.6em 3em;color:#1d1d1f;background:#fff}
h1{font-size:1.6em;margin-bottom:.1em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;
  padding-bottom:.2em}h3{font-size:1.05em;margin:1.2em 0 .4em}
.sub{color:#555;margin-top:0}table{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f6}td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){text-align:left}
tr.model td{font-weight:600}dl{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em}
dt{color:#555}dd{margin:0}figure{margin:.6em 0 1.4em}img{max-width:100%;height:auto;
  border:1px solid #eee}figcaption{color:#555;font-size:.9em}.note{color:#8a5a00;
  background:#fff8e6;border-left:3px solid #e0a800;padding:.4em .8em}
pre{background:#f6f6f8;padding:.8em;overflow:auto;font-size:.85em}code{font-size:.92em}
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.documentElement.dataset.imagesOk = ok;
  document.documentElement.dataset.imagesTotal = imgs.length;
  if (ok < imgs.length) {
    var p = document.createElement("p");
    p.className = "note";
    p.textContent = (imgs.length - ok) + " of " + imgs.length + " plots failed to load.";
    document.body.insertBefore(p, document.body.firstChild);
  }
});
"""


def build_report(run_dir: str | os.PathLike) -> str:
    """The HTML page of a run directory (see the module docstring)."""
    from mogenet.graphs.plot import require_matplotlib

    require_matplotlib()
    d = Path(run_dir)
    if not (d / "run.json").is_file():
        raise InputError("not a mogenet run directory (no run.json)", file=d)
    info = _read_json(d / "run.json")
    history = load_history(d)
    config_text = (d / "config.yaml").read_text() if (d / "config.yaml").is_file() else ""
    config: dict = {}
    if config_text:
        import yaml

        config = yaml.safe_load(config_text) or {}
    tasks = list(info.get("tasks") or [])
    best = info.get("best_epoch")
    model = info.get("model", "?")
    weighting = (config.get("loss") or {}).get("weighting", "uncertainty")
    monitor = (config.get("train") or {}).get("monitor", "gauc")

    summary = {
        "model": model,
        "tasks": ", ".join(tasks),
        "seed": info.get("seed"),
        "device": info.get("device"),
        "epochs run": info.get("epochs_run"),
        "best epoch": best,
        "stopped early": info.get("stopped_early"),
        "parameters": info.get("num_parameters"),
        "task weighting": weighting,
        "early stopping on": "mean GAUC" if monitor == "gauc" else monitor,
        "training file": (info.get("train") or {}).get("path"),
        "validation file": (info.get("valid") or {}).get("path"),
        "graphs": (info.get("graph") or {}).get("path"),
        "mogenet": info.get("mogenet_version"),
    }
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>mogenet report — {_e(model)} — {_e(d.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>mogenet run report: {_e(model)}</h1>",
        f'<p class="sub"><code>{_e(d.resolve())}</code></p>',
        "<h2>Run</h2><dl>",
        *(f"<dt>{_e(k)}</dt><dd>{_cell(v)}</dd>" for k, v in summary.items() if v is not None),
        "</dl>",
        "<h2>Metrics</h2>",
        *_metrics_sections(d),
        "<h2>Training curves</h2>",
    ]
    if history:
        out.append(
            _figure_html(
                plot_losses(history, tasks, best),
                "training loss by epoch",
                "Mean training loss per epoch: the weighted total that is minimised, with "
                "any extra loss term before its coefficient (left), and each task's binary "
                "cross-entropy (right).",
            )
        )
        out.append(
            _figure_html(
                plot_validation(history, tasks, best, monitor),
                "validation GAUC and AUC by epoch",
                "Validation GAUC (left) and AUC (right) per task after each epoch; training "
                "keeps the epoch with the best "
                + ("mean GAUC" if monitor == "gauc" else f"validation {monitor}")
                + " (dotted line).",
            )
        )
    else:
        out.append(_note(f"Training history {NOT_RECORDED} (no history.jsonl)."))

    out.append("<h2>Task weights</h2>")
    if any(r.get("task_weights") for r in history):
        out.append(
            _figure_html(
                plot_sigma(history, tasks, best, weighting),
                "task uncertainty sigma by epoch",
                "σ_k recovered from the logged loss weights w_k = 1/σ_k² (σ_k = w_k^(-1/2)). "
                "With uncertainty weighting (Kendall et al.; MoGENet Eq. 6) a task whose σ_k "
                "grows is down-weighted; with fixed weights the lines are flat.",
            )
        )
    else:
        out.append(_note(f"Task weights {NOT_RECORDED} in this run's history."))

    out.append("<h2>Gate usage</h2>")
    usage = gate_usage_at(history, best)
    if usage is not None:
        epoch, table = usage
        out.append(
            _figure_html(
                plot_gate_usage(epoch, table),
                "gate usage heatmap per task and expert",
                "Mean gate weight each task puts on each expert over the validation set, "
                "as the history logs it (rows sum to 1). A column "
                "near 0 for every task is an unused expert; distinct rows mean the tasks "
                "share experts selectively.",
            )
        )
    else:
        out.append(
            _note(
                f"Gate usage {NOT_RECORDED}: this run's history has no <code>gate_usage</code> "
                "(the head has no gates, or the run predates gate logging)."
            )
        )
    if any(r.get("lr") is not None for r in history):
        out.append("<h2>Learning rate</h2>")
        out.append(
            _figure_html(plot_lr(history), "learning rate by epoch", "Learning rate of each epoch.")
        )

    if config_text:
        out.append("<h2>Configuration</h2>")
        out.append(f"<details><summary>config.yaml</summary><pre>{_e(config_text)}</pre></details>")
    out.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(out) + "\n"


def write_html_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write :func:`build_report` to ``out`` (default ``RUN_DIR/report.html``), atomically."""
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError("the report must be an .html file", file=path)
    page = build_report(run_dir)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
