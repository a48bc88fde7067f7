r"""Funnel heads (ESMM, AITM, BPCM) vs MMoE where the last task is sparse (issue 6).

Synthetic click → cart → fav → buy logs (``mogenet.datasets.synthetic``; preset
``funnel`` by default: buy is rare) with uninformative features that the models do
not get (ids only), generated, split by time and graphed exactly as in
``bench_collab.py`` (whose ``prepare`` this reuses). For each seed every model is
trained with the library pipeline (same seed, early stopping on validation GAUC)
and scored on the test split: AUC and GAUC per task, and the AUC against the
generator's true probabilities (``auc_true``, :func:`mogenet.metrics.expected_auc`),
beside the popularity baseline and the oracle. Reports the mean ± std over seeds,
each funnel head's difference to MMoE on every task and its two-sided paired
t-test over seeds.

Why ``auc_true``: with about a hundred test buys, which rows happened to be buys
moves the buy AUC by ±2 points, more than the differences between heads; scoring
against the true probabilities removes that noise (not the noise of training), so
the paired test compares the heads themselves.  ``--rate buy=0.001`` makes the last
task as sparse as a real conversion log (about 1 buy per 120 clicks).

The chain given to ESMM/AITM/BPCM is ``--chain`` (default ``click,cart,buy``): in
the generator ``fav`` is a sibling of ``cart`` under ``click`` (its true probability
exceeds cart's on about a quarter of the impressions), while ``buy`` is boosted by
``cart`` and its true probability stays below cart's on > 99 % of them. ``fav``
is then outside the chain (an ordinary tower). ``--chain click,cart,fav,buy``
runs the tasks' own order, and ``--chain click,cart,buy/click,fav`` the generator's
own funnel, a tree (branches separated by ``/``; see
:func:`mogenet.nn.heads.chain.check_chain`).

    python scripts/bench_funnel.py --seeds 0,1,2 --out bench/funnel.json
    python scripts/bench_funnel.py --seeds 0,1,2,3,4 --users 5000 --items 2000 \
        --interactions 1000000 --rate buy=0.001 --set train.batch_size=2048 \
        --set train.lr=2e-3 --set train.patience=3 --epochs 20 \
        --out bench/funnel_sparse.json
    python scripts/bench_funnel.py --quick --out /tmp/funnel.json     # smoke test

Writes JSON and a Markdown table (``.md`` beside the JSON).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_collab import (  # noqa: E402
    add_data_args,
    map_jobs,
    model_list,
    paired_p,
    prepare,
    train_and_evaluate,
)

from mogenet.config import RunConfig  # noqa: E402
from mogenet.io import write_report  # noqa: E402

#: Model name → ``--set`` overrides (``{chain}`` is filled from ``--chain``).
MODELS = {
    "mmoe": [],
    "esmm": ["model.name=esmm", "model.head_options.chain={chain}"],
    "aitm": ["model.name=aitm", "model.head_options.chain={chain}"],
    "bpcm": ["model.name=bpcm", "model.head_options.chain={chain}"],
}


def chain_setting(chain: str) -> str:
    """``--chain`` as the YAML of ``model.head_options.chain``: ``click,cart,buy`` →
    ``[click,cart,buy]``; ``click,cart,buy/click,fav`` → ``[[click,cart,buy],[click,fav]]``."""
    branches = [f"[{branch}]" for branch in chain.split("/")]
    return branches[0] if len(branches) == 1 else f"[{','.join(branches)}]"


#: ``auc_true``: AUC against the oracle's true probabilities, which
#: :func:`mogenet.pipeline.evaluate` reports on synthetic data.
METRICS = ("auc", "auc_true", "gauc")
TITLES = {
    "auc": "AUC",
    "auc_true": "AUC against the true probabilities (no test-label noise)",
    "gauc": "GAUC",
}
QUICK = ["--users", "150", "--items", "60", "--interactions", "2500", "--epochs", "1"]


def run_seed(seed: int, args: argparse.Namespace, work: Path) -> dict:
    """Test metrics of every model (and the baselines) for one seed."""
    d = prepare(seed, args, work)
    chain = chain_setting(args.chain)
    return train_models(d, seed, args, lambda m: [s.format(chain=chain) for s in MODELS[m]])


def train_models(
    d: Path, seed: int, args: argparse.Namespace, sets_of: Callable[[str], list[str]]
) -> dict:
    """Train every model of ``args.models`` on the prepared folder ``d`` (its
    ``--set`` overrides: ``sets_of(name)``) and test it: the per-seed record that
    :func:`summarise` reads."""
    out: dict = {"models": {}, "seconds": {}, "epochs": {}}
    for name in args.models:
        start = time.perf_counter()
        rows, fit = train_and_evaluate(d, name, sets_of(name), seed, args)
        out["models"][name] = rows["model"]
        out["baselines"] = {k: v for k, v in rows.items() if k != "model"}
        out["seconds"][name] = time.perf_counter() - start
        out["epochs"][name] = len(fit.history)
        gaucs = " ".join(f"{t} {m['gauc']:.4f}" for t, m in rows["model"].items())
        print(f"seed {seed} {name}: GAUC {gaucs} ({out['seconds'][name]:.0f} s)", flush=True)
    out["positives"] = _positives(rows["model"])
    return out


def parse_run_args(
    p: argparse.ArgumentParser, argv: list[str] | None, *, quick: list[str], name: str
) -> argparse.Namespace:
    """Add ``--jobs``, ``--quick`` (seed 0 and the ``quick`` flags, which flags
    given explicitly override), ``--work`` and ``--out`` (``bench/<name>…``), parse
    ``argv`` and keep it as ``args.argv``."""
    p.add_argument(
        "--jobs", type=int, default=1, help="seeds run in parallel (processes, one thread each)"
    )
    p.add_argument("--quick", action="store_true", help="smoke run: seed 0, " + " ".join(quick))
    p.add_argument("--work", default=f"bench/{name}_work")
    p.add_argument("--out", default=f"bench/{name}.json")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    if args.quick:
        args = p.parse_args(["--seeds", "0", *quick, *argv])
    args.argv = argv
    return args


def run_and_report(args: argparse.Namespace, run_seed, markdown) -> dict:
    """``run_seed`` for every seed (``args.jobs`` at a time), then the summary, its
    JSON and ``markdown(summary, args)`` written to ``args.out``."""
    per_seed = map_jobs(args.jobs, run_seed, [(s, args, Path(args.work)) for s in args.seeds])
    summary = summarise(per_seed, args.models)
    report = {"args": vars(args), "per_seed": per_seed, "summary": summary}
    write_report(args.out, report, markdown(summary, args))
    return summary


def _positives(metrics: dict) -> dict:
    """Test rows and positive labels per task (how sparse each task is), from the
    test metrics :func:`mogenet.pipeline.evaluate` returned."""
    first = next(iter(metrics.values()))
    return {"rows": first["count"], **{t: m["positives"] for t, m in metrics.items()}}


def summarise(per_seed: list[dict], models: list[str]) -> dict:
    """Mean and std over seeds of every metric, scorer and task; funnel head − MMoE."""
    tasks = list(per_seed[0]["models"][models[0]])
    where = {**{m: "models" for m in models}, "popularity": "baselines", "oracle": "baselines"}

    def values(scorer: str, task: str, metric: str) -> list[float]:
        return [r[where[scorer]][scorer][task][metric] for r in per_seed]

    mean = {
        k: {s: {t: float(np.nanmean(values(s, t, k))) for t in tasks} for s in where}
        for k in METRICS
    }
    std = {
        k: {s: {t: float(np.nanstd(values(s, t, k))) for t in tasks} for s in where}
        for k in METRICS
    }
    diff = {
        k: {
            m: {t: 100 * (mean[k][m][t] - mean[k]["mmoe"][t]) for t in tasks}
            for m in models
            if m != "mmoe"
        }
        for k in METRICS
        if "mmoe" in models
    }
    p_value = {
        k: {m: {t: paired_p(per_seed, m, "mmoe", t, k) for t in tasks} for m in diff[k]}
        for k in diff
    }
    return {
        "tasks": tasks,
        "mean": mean,
        "std": std,
        "minus_mmoe_points": diff,
        "p_value": p_value,
        "seconds": {m: float(np.mean([r["seconds"][m] for r in per_seed])) for m in models},
        "epochs_run": {m: [r["epochs"][m] for r in per_seed] for m in models},
        "test_positives": [r["positives"] for r in per_seed],
    }


def markdown(summary: dict, args: argparse.Namespace) -> str:
    tasks = summary["tasks"]
    pos = summary["test_positives"]
    lines = [
        "# Funnel heads vs MMoE on a sparse last task",
        "",
        f"{len(args.seeds)} seed(s) ({', '.join(map(str, args.seeds))}); preset "
        f"`{args.preset}`, {args.users} users, {args.items} items, {args.interactions} "
        f"impressions, split by time; ids only; chain `{args.chain}` for the funnel heads; "
        f"epochs ≤ {args.epochs}. Test positives per seed: "
        + "; ".join(f"{p['rows']} rows, " + ", ".join(f"{t} {p[t]}" for t in tasks) for p in pos)
        + ". Mean ± std over seeds.",
        "",
        "Command: `python scripts/bench_funnel.py " + " ".join(args.argv) + "`",
        *result_lines(summary, args),
    ]
    return "\n".join(lines) + "\n"


def result_lines(summary: dict, args: argparse.Namespace) -> list[str]:
    """Markdown of :func:`summarise`: per metric, mean ± std per scorer and every
    model's difference to MMoE with its p-value; then seconds and epochs."""
    tasks = summary["tasks"]
    lines = []
    for k in METRICS:
        lines += [
            "",
            f"## Test {TITLES[k]}",
            "",
            "| scorer | " + " | ".join(tasks) + " |",
            "|---|" + "---:|" * len(tasks),
        ]
        for s, row in summary["mean"][k].items():
            cells = [f"{row[t]:.4f} ± {summary['std'][k][s][t]:.4f}" for t in tasks]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        for m, row in summary["minus_mmoe_points"].get(k, {}).items():
            lines.append(
                f"| {m} − mmoe (points) | " + " | ".join(f"{row[t]:+.2f}" for t in tasks) + " |"
            )
            p = summary["p_value"][k][m]
            cells = " | ".join(f"{p[t]:.3g}" for t in tasks)
            lines.append(f"| {m} − mmoe: paired t-test p | {cells} |")
    lines += [
        "",
        "Mean seconds per model (train + evaluate): "
        + ", ".join(f"{m} {s:.0f}" for m, s in summary["seconds"].items())
        + ". Epochs run per seed (early stopping, patience "
        + f"{RunConfig().override(args.set).train.patience}, cap {args.epochs}): "
        + "; ".join(f"{m} {e}" for m, e in summary["epochs_run"].items())
        + ".",
    ]
    return lines


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    add_data_args(p)
    p.set_defaults(preset="funnel", users=1000, items=500, interactions=100_000)
    p.add_argument(
        "--chain",
        default="click,cart,buy",
        help="funnel order, comma-separated; branches of a tree separated by /",
    )
    p.add_argument("--models", type=model_list(MODELS), default=list(MODELS))
    args = parse_run_args(p, argv, quick=QUICK, name="funnel")
    warnings.filterwarnings("ignore")
    return run_and_report(args, run_seed, markdown)


if __name__ == "__main__":
    main()
