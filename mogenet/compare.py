"""Compare runs over seeds: mean ± std, paired t-tests and RelaImpr per task.

How MoGENet (Table 2) and most multi-task papers report results: each model is
trained with several seeds, the per-task AUC / GAUC are averaged (mean ± sample
standard deviation), a paired t-test over seeds says whether a model beats the
baseline, and RelaImpr (:func:`mogenet.metrics.rela_impr`) gives the relative
lift above chance.

* **Which metrics.** Each run's metrics JSON: ``metrics.<stem>.json`` as written
  by ``mogenet evaluate RUN --data <stem>.csv`` (default ``test``: the held-out
  test file), or ``valid`` for ``metrics.json``, the validation metrics of the
  best epoch written by ``train`` (early stopping selected that epoch on them, so
  they flatter every model; compare on test data where there is some).
* **Groups.** Runs are grouped by model name (``run.json`` ``model``); the
  baseline group is the ``baseline`` runs when given, else the first group.
  Within a group every seed appears once (two runs with one seed are an error:
  they would be averaged as if independent).
* **Paired t-test** (``scipy.stats.ttest_rel``, two-sided) between a group and
  the baseline on the seeds both have, pairing runs with the same seed (same
  data order and initialisation stream); fewer than two common seeds give NaN.
* **RelaImpr** of the group's mean over the baseline's mean, for AUC and GAUC.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mogenet.errors import InputError
from mogenet.metrics import rela_impr

__all__ = ["RunMetrics", "compare_runs", "format_markdown", "load_run_metrics", "metrics_file"]

#: Metrics compared (others in the JSON are kept out of the comparison).
METRICS = ("auc", "gauc", "logloss")
#: Metrics RelaImpr applies to (0.5 = random ranking).
RANKING = ("auc", "gauc")


@dataclass
class RunMetrics:
    """One run's identity and per-task metrics.

    Args:
        path: the run directory.
        model: model name (``run.json``).
        seed: training seed (``run.json``).
        metrics: ``{task: {metric: value}}`` (NaN where undefined).
    """

    path: str
    model: str
    seed: int | None
    metrics: dict[str, dict[str, float]]


def metrics_file(run_dir: str | os.PathLike, which: str = "test") -> Path:
    """``valid`` → ``RUN/metrics.json``, any other stem → ``RUN/metrics.<which>.json``."""
    name = "metrics.json" if which == "valid" else f"metrics.{which}.json"
    return Path(run_dir) / name


def load_run_metrics(run_dir: str | os.PathLike, which: str = "test") -> RunMetrics:
    """Read a run's ``run.json`` and metrics JSON; a clear error if either is missing."""
    d = Path(run_dir)
    if not (d / "run.json").is_file():
        raise InputError("not a mogenet run directory (no run.json)", file=d)
    path = metrics_file(d, which)
    if not path.is_file():
        hint = (
            f"run `mogenet evaluate {d} --data {which}.csv` first, or compare on validation "
            "metrics with --metrics valid"
            if which != "valid"
            else "the run has no validation metrics"
        )
        raise InputError(f"no {path.name}: {hint}", file=d)
    try:
        info = json.loads((d / "run.json").read_text())
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"unreadable run file ({type(e).__name__}: {e})", file=d) from None
    metrics = {
        task: {m: math.nan if values.get(m) is None else float(values[m]) for m in METRICS}
        for task, values in doc.items()
        if task not in ("baselines", "run") and isinstance(values, dict)
    }
    return RunMetrics(
        path=os.fspath(run_dir),
        model=str(info.get("model")),
        seed=info.get("seed"),
        metrics=metrics,
    )


def _groups(
    runs: Sequence[RunMetrics], baseline: Sequence[RunMetrics]
) -> tuple[dict[str, list[RunMetrics]], str | None]:
    groups: dict[str, list[RunMetrics]] = {}
    for r in runs:
        groups.setdefault(r.model, []).append(r)
    base_label = None
    if baseline:
        models = {r.model for r in baseline}
        base_label = models.pop() if len(models) == 1 else "baseline"
        if base_label in groups:
            base_label = f"{base_label} (baseline)"
        groups = {base_label: list(baseline), **groups}
    elif groups:
        base_label = next(iter(groups))
    for label, members in groups.items():
        seen: dict[Any, str] = {}
        for r in members:
            if r.seed in seen:
                raise InputError(
                    f"two runs of group '{label}' have seed {r.seed}: {seen[r.seed]} and "
                    f"{r.path}; a seed may appear once per group (compare differing "
                    "configurations with --baseline)"
                )
            seen[r.seed] = r.path
    return groups, base_label


def _stats(values: list[float]) -> dict[str, Any]:
    v = np.array([x for x in values if not math.isnan(x)], dtype=np.float64)
    return {
        "mean": float(v.mean()) if v.size else math.nan,
        "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
        "n": int(v.size),
    }


def _paired(a: dict[Any, float], b: dict[Any, float]) -> dict[str, Any]:
    from scipy.stats import ttest_rel

    seeds = sorted((s for s in a if s in b and not (math.isnan(a[s]) or math.isnan(b[s]))), key=str)
    out: dict[str, Any] = {"pairs": len(seeds), "t": math.nan, "p": math.nan}
    if len(seeds) >= 2:
        with warnings.catch_warnings():  # identical differences: scipy warns, returns NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            test = ttest_rel([a[s] for s in seeds], [b[s] for s in seeds])
        out["t"], out["p"] = float(test.statistic), float(test.pvalue)
    return out


def compare_runs(runs: Sequence[RunMetrics], baseline: Sequence[RunMetrics] = ()) -> dict[str, Any]:
    """Group the runs and compare every group with the baseline group.

    Returns:
        ``{"baseline": label, "groups": {label: {"runs": [...], "seeds": [...],
        "tasks": {task: {metric: {"mean", "std", "n", "values"}}}}},
        "comparisons": {label: {task: {metric: {"diff", "rela_impr", "t", "p",
        "pairs"}}}}}`` (``rela_impr`` for AUC and GAUC only; ``comparisons`` has
        every group but the baseline).
    """
    if not runs:
        raise InputError("compare needs at least one run directory")
    groups, base = _groups(runs, baseline)
    tasks: list[str] = []
    for r in [*baseline, *runs]:
        tasks += [t for t in r.metrics if t not in tasks]
    out: dict[str, Any] = {"baseline": base, "groups": {}, "comparisons": {}}
    by_seed: dict[str, dict[str, dict[str, dict[Any, float]]]] = {}
    for label, members in groups.items():
        stats: dict[str, dict[str, Any]] = {}
        by_seed[label] = {}
        for task in tasks:
            stats[task], by_seed[label][task] = {}, {}
            for m in METRICS:
                values = [r.metrics.get(task, {}).get(m, math.nan) for r in members]
                stats[task][m] = {**_stats(values), "values": values}
                by_seed[label][task][m] = dict(zip([r.seed for r in members], values, strict=True))
        out["groups"][label] = {
            "runs": [r.path for r in members],
            "seeds": [r.seed for r in members],
            "tasks": stats,
        }
    for label in groups:
        if label == base:
            continue
        result: dict[str, dict[str, Any]] = {}
        for task in tasks:
            result[task] = {}
            for m in METRICS:
                mine, ref = (
                    out["groups"][label]["tasks"][task][m],
                    out["groups"][base]["tasks"][task][m],
                )
                entry = {
                    "diff": mine["mean"] - ref["mean"],
                    **_paired(by_seed[label][task][m], by_seed[base][task][m]),
                }
                if m in RANKING:
                    entry["rela_impr"] = rela_impr(mine["mean"], ref["mean"])
                result[task][m] = entry
        out["comparisons"][label] = result
    return out


def _mean_std(stats: dict[str, Any]) -> str:
    if math.isnan(stats["mean"]):
        return "-"
    if math.isnan(stats["std"]):
        return f"{stats['mean']:.4f}"
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:+.2f} %"


def _p(entry: dict[str, Any]) -> str:
    if math.isnan(entry["p"]):
        return f"- ({entry['pairs']} pair{'s' if entry['pairs'] != 1 else ''})"
    return f"{entry['p']:.3g}"


def format_markdown(report: dict[str, Any], *, which: str = "test") -> str:
    """The comparison as a Markdown table: one row per (task, group)."""
    base = report["baseline"]
    lines = [
        f"# Run comparison ({'validation' if which == 'valid' else which} metrics)",
        "",
        f"Mean ± sample std over seeds; RelaImpr and two-sided paired t-test (pairs = "
        f"common seeds) against **{base}**.",
        "",
        "| task | model | runs | AUC | GAUC | RelaImpr AUC | RelaImpr GAUC | p (AUC) | p (GAUC) |",
        "|---|---|---:|---|---|---:|---:|---:|---:|",
    ]
    tasks = next(iter(report["groups"].values()))["tasks"]
    for task in tasks:
        for label, group in report["groups"].items():
            stats = group["tasks"][task]
            runs = len(group["runs"])
            if label == base:
                extra = ["baseline", "", "", ""]
            else:
                cmp = report["comparisons"][label][task]
                extra = [
                    _percent(cmp["auc"]["rela_impr"]),
                    _percent(cmp["gauc"]["rela_impr"]),
                    _p(cmp["auc"]),
                    _p(cmp["gauc"]),
                ]
            cells = [task, label, str(runs), _mean_std(stats["auc"]), _mean_std(stats["gauc"])]
            lines.append("| " + " | ".join(cells + extra) + " |")
    lines.append("")
    return "\n".join(lines)
