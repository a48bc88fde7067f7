"""MMoE on census-income against the MMoE paper's test AUC (issue "head library",
must-show 3).

Prepares the UCI Census-Income (KDD) raw files with the dataset card
(``datasets/census.md``: train = the official training file, valid/test = the
official test file halved at random), builds the graph directory (only for the id
maps and the people's features: census has no user–item structure), then trains
each model per seed on features only (``model.ids=[]``: no valid/test person is
in training) with early stopping on validation AUC, and scores the test half: AUC
of ``income`` and ``never_married``, mean ± std over seeds, beside the published
figures (Ma et al., KDD 2018, group 1; the range issue 6 quotes: income 0.94–0.96,
marital status 0.99 and above).

    python scripts/bench_census.py --raw raw/census --seeds 0,1,2 --out bench/census.json

The raw files are not in the repository (UCI, CC BY 4.0; ``datasets/census.md``
says where to get them); without them the script stops with a one-line error.

Writes JSON and a Markdown table (``.md`` beside the JSON).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_collab import model_list, train_and_evaluate  # noqa: E402

from mogenet import pipeline  # noqa: E402
from mogenet.config import GraphConfig  # noqa: E402
from mogenet.datasets.public import prepare  # noqa: E402
from mogenet.datasets.public.census import TASKS  # noqa: E402
from mogenet.errors import InputError  # noqa: E402
from mogenet.io import write_report  # noqa: E402

#: Model name → ``--set`` overrides (on top of the features-only base).
MODELS = {
    "mmoe": ["model.name=mmoe"],
    "shared_bottom": ["model.name=shared_bottom"],
    "omoe": ["model.name=omoe"],
}
#: Every model reads features only (see the module docstring).
BASE = ["model.ids=[]", "train.batch_size=1024"]
#: Published test AUC of MMoE on census-income group 1: (low, high); high ``None``
#: = "and above".
PUBLISHED = {"income": (0.94, 0.96), "never_married": (0.99, None)}


def prepare_data(args: argparse.Namespace) -> Path:
    """Prepare the raw files under ``--work`` and build their graph directory;
    returns that folder (``train.csv``, ``valid.csv``, ``test.csv``, ``graphs``)."""
    d = Path(args.work) / "data"
    prepare("census", Path(args.raw), d)
    pipeline.build_graphs(
        d / "train.csv",
        d / "graphs",
        users=d / "users.csv",  # categorical codes: from prepare.json
        config=GraphConfig(topk=1),
    )
    return d


def run_model(d: Path, name: str, seed: int, args: argparse.Namespace) -> dict:
    """Train one model with one seed (run ``d/<name>_s<seed>``); its test AUC /
    logloss per task."""
    start = time.perf_counter()
    rows, fit = train_and_evaluate(d, f"{name}_s{seed}", [*BASE, *MODELS[name]], seed, args)
    test = rows["model"]
    return {
        "test": {t: {k: test[t][k] for k in ("auc", "logloss")} for t in TASKS},
        "best_epoch": fit.best_epoch,
        "epochs_run": len(fit.history),
        "seconds": time.perf_counter() - start,
    }


def summarise(per_seed: list[dict]) -> dict:
    """Mean and std of test AUC per model and task; MMoE against the published range."""
    models = list(per_seed[0])
    auc = {m: {t: [r[m]["test"][t]["auc"] for r in per_seed] for t in TASKS} for m in models}
    summary = {
        "mean_auc": {m: {t: float(np.mean(v)) for t, v in row.items()} for m, row in auc.items()},
        "std_auc": {m: {t: float(np.std(v)) for t, v in row.items()} for m, row in auc.items()},
        "published": {t: list(v) for t, v in PUBLISHED.items()},
    }
    if "mmoe" in models:
        summary["mmoe_within_1_point"] = {
            t: bool(summary["mean_auc"]["mmoe"][t] >= PUBLISHED[t][0] - 0.01) for t in TASKS
        }
    return summary


def markdown(summary: dict, per_seed: list[dict], args: argparse.Namespace) -> str:
    published = [
        f"{lo:.2f}–{hi:.2f}" if hi is not None else f"≥ {lo:.2f}" for lo, hi in PUBLISHED.values()
    ]
    lines = [
        "# Census-income: test AUC against the MMoE paper",
        "",
        f"Seeds {', '.join(map(str, args.seeds))}; features only; epochs ≤ {args.epochs}; "
        "test AUC, mean ± std over seeds.",
        "",
        "Command: `python scripts/bench_census.py " + " ".join(args.argv) + "`",
        "",
        "| model | " + " | ".join(TASKS) + " | epochs run |",
        "|---|" + "---:|" * (len(TASKS) + 1),
    ]
    for m, row in summary["mean_auc"].items():
        cells = [f"{row[t]:.4f} ± {summary['std_auc'][m][t]:.4f}" for t in TASKS]
        epochs = "/".join(str(r[m]["epochs_run"]) for r in per_seed)
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {epochs} |")
    lines.append("| MMoE, published | " + " | ".join(published) + " | |")
    if "mmoe_within_1_point" in summary:
        verdict = ", ".join(
            f"{t} {'yes' if ok else 'no'}" for t, ok in summary["mmoe_within_1_point"].items()
        )
        lines += ["", f"MMoE within 1 point of the published low end: {verdict}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--raw", required=True, help="folder with census-income.data/.test (.gz)")
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--models", type=model_list(MODELS), default=list(MODELS))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--set", action="append", default=[], help="extra RunConfig overrides")
    p.add_argument("--work", default="bench/census_work")
    p.add_argument("--out", default="bench/census.json")
    args = p.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    warnings.filterwarnings("ignore")
    try:
        d = prepare_data(args)
    except InputError as e:
        sys.exit(f"bench_census: {e}")
    per_seed = []
    for seed in args.seeds:
        row = {m: run_model(d, m, seed, args) for m in args.models}
        aucs = "  ".join(
            f"{m} " + "/".join(f"{r['test'][t]['auc']:.4f}" for t in TASKS) for m, r in row.items()
        )
        print(f"seed {seed}: {aucs}", flush=True)
        per_seed.append(row)
    summary = summarise(per_seed)
    report = {"args": vars(args), "per_seed": per_seed, "summary": summary}
    write_report(args.out, report, markdown(summary, per_seed, args))
    return summary


if __name__ == "__main__":
    main()
