"""MoGENet vs MMoE where the signal is collaborative (issue "MoGENet", must-show 2).

Synthetic logs whose features are uninformative (``feature_noise=1``) and not even
given to the models (ids only), so everything beyond popularity must come from
who-interacted-with-what.  For each seed: generate → split by time → build graphs
→ train MMoE and MoGENet, each with the paper's losses and with the in-batch
contrastive loss (``loss.contrastive=1.0``), with the same seed (and, with
``--spectral K``, both with the contrastive loss and the graphs' spectral node
embeddings, ``mogenet.graphs.spectral``) → test GAUC per task, beside the item-CF,
popularity and oracle scorers.  Reports the mean over seeds, the differences in
GAUC points (:data:`GAINS`) with a two-sided paired t-test over seeds, and each
model's share of the oracle's lift over 0.5: ``(gauc − 0.5) / (oracle − 0.5)``.

    python scripts/bench_collab.py --seeds 0,1,2 --out bench/collab.json

Writes JSON and a Markdown table (``.md`` beside the JSON).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from mogenet import pipeline
from mogenet.baselines import ItemCFScorer
from mogenet.config import GraphConfig, RunConfig
from mogenet.datasets.readers import read_log
from mogenet.datasets.synthetic import SyntheticConfig, SyntheticData, generate
from mogenet.io import write_report
from mogenet.metrics import evaluate_log

MOGENET = ["model.name=mogenet", "model.tower_channels=[]"]
#: In-batch contrastive loss on the pair embeddings (``mogenet.losses.contrastive_loss``).
CONTRASTIVE = ["loss.contrastive=1.0"]
#: Models named without ``+spectral`` ignore the graphs' spectral node embeddings.
IDS_ONLY = ["model.spectral=false"]
MODELS = {
    "mmoe": IDS_ONLY,
    "mogenet": [*MOGENET, *IDS_ONLY],
    "mmoe+contrastive": [*CONTRASTIVE, *IDS_ONLY],
    "mogenet+contrastive": [*MOGENET, *CONTRASTIVE, *IDS_ONLY],
    "mmoe+contrastive+spectral": CONTRASTIVE,
    "mogenet+contrastive+spectral": [*MOGENET, *CONTRASTIVE],
}
#: The models run when ``--models`` is not given (the ``+spectral`` ones need
#: ``--spectral K``).
DEFAULT_MODELS = [m for m in MODELS if not m.endswith("+spectral")]
#: (model, reference) pairs whose GAUC difference the summary reports.
GAINS = (
    ("mogenet", "mmoe"),
    ("mogenet+contrastive", "mmoe+contrastive"),
    ("mogenet+contrastive", "mmoe"),
    ("mmoe+contrastive+spectral", "mmoe+contrastive"),
    ("mogenet+contrastive+spectral", "mmoe+contrastive"),
    ("mogenet+contrastive+spectral", "mmoe+contrastive+spectral"),
)


def synthetic_config(seed: int, args: argparse.Namespace) -> SyntheticConfig:
    """The generator settings of one seed's log: ``--preset`` with the data options,
    features made pure noise."""
    return SyntheticConfig.preset(
        args.preset,
        seed=seed,
        feature_noise=1.0,
        num_users=args.users,
        num_items=args.items,
        num_interactions=args.interactions,
        rates={**SyntheticConfig.preset(args.preset).rates, **dict(args.rate)},
        **{
            k: v
            for k, v in (
                ("latent_noise", args.latent_noise),
                ("affinity_weight", args.affinity_weight),
                ("num_communities", args.communities),
                ("item_churn", args.item_churn),
            )
            if v is not None
        },
    )


def prepare(
    seed: int, args: argparse.Namespace, work: Path, data: SyntheticData | None = None
) -> Path:
    """Generate (unless ``data`` is that log already), split and build the graphs of
    one seed's log; returns its folder."""
    d = work / f"seed{seed}"
    if data is None:
        data = generate(synthetic_config(seed, args))
    data.write(d / "raw")
    pipeline.split_file(d / "raw" / "interactions.csv", d, by="time", seed=seed)
    # ids only: no feature tables (the spectral coordinates come from the rows alone)
    pipeline.build_graphs(d / "train.csv", d / "graphs", config=GraphConfig(spectral=args.spectral))
    return d


def add_data_args(p: argparse.ArgumentParser) -> None:
    """The synthetic-log options shared with the ablation script."""
    p.add_argument("--preset", default="demo")
    p.add_argument("--users", type=int, default=3000)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--interactions", type=int, default=60_000)
    p.add_argument("--latent-noise", type=float, default=None, help="generator tau")
    p.add_argument("--affinity-weight", type=float, default=None, help="generator alpha")
    p.add_argument("--communities", type=int, default=None, help="generator K (latent communities)")
    p.add_argument(
        "--item-churn", type=float, default=None, help="generator share of items launched late"
    )
    p.add_argument(
        "--rate",
        action="append",
        default=[],
        type=_task_rate,
        metavar="TASK=RATE",
        help="target marginal rate of a task (e.g. buy=0.001), over the preset's",
    )
    p.add_argument(
        "--spectral",
        type=int,
        default=0,
        metavar="K",
        help="build the graphs with K spectral coordinates per node (read by the "
        "+spectral models; default: none)",
    )
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--set", action="append", default=[], help="extra RunConfig overrides")


def _task_rate(text: str) -> tuple[str, float]:
    task, _, rate = text.partition("=")
    try:
        value = float(rate)
    except ValueError:
        value = None
    if not task or value is None:
        raise argparse.ArgumentTypeError(f"expected TASK=RATE, got {text!r}")
    return task, value


def model_list(choices) -> Callable[[str], list[str]]:
    """An argparse ``type``: a comma-separated, non-empty subset of ``choices``."""

    def parse(text: str) -> list[str]:
        names = [m for m in text.split(",") if m]
        unknown = [m for m in names if m not in choices]
        if unknown or not names:
            bad = ", ".join(unknown) or "(none given)"
            raise argparse.ArgumentTypeError(
                f"unknown model(s) {bad}; choose from {', '.join(choices)}"
            )
        return names

    return parse


_models = model_list(MODELS)


def run_seed(seed: int, args: argparse.Namespace, work: Path) -> dict:
    """Metrics of every model (and the baselines) for one seed."""
    d = prepare(seed, args, work)
    out: dict = {"models": {}, "seconds": {}}
    for name in args.models:
        sets = MODELS[name]
        start = time.perf_counter()
        rows, _ = train_and_evaluate(d, name, sets, seed, args)
        out["models"][name] = rows["model"]
        out["baselines"] = {k: v for k, v in rows.items() if k != "model"}
        out["seconds"][name] = time.perf_counter() - start
        print(
            f"seed {seed} {name}: {_gaucs(rows['model'])} ({out['seconds'][name]:.0f} s)",
            flush=True,
        )
    out["baselines"]["itemcf"] = item_cf(d)
    return out


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` spawned worker processes, each on one torch thread, that exit when
    this process dies: killing only the parent (``kill PID``) would otherwise
    leave them training until their job ends, competing for the cores."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
    )


def _init_worker(parent: int) -> None:
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int, poll: float = 1.0) -> None:
    """Exit this worker once ``parent`` is no longer its parent (it died and the
    worker was re-parented)."""
    while os.getppid() == parent:
        time.sleep(poll)
    os._exit(1)


def map_jobs(jobs: int, fn, calls: list[tuple]) -> list:
    """``fn(*call)`` for every call, results in order; in this process with
    ``jobs`` ≤ 1, else ``jobs`` at a time in a :func:`worker_pool`."""
    if jobs <= 1:
        return [fn(*call) for call in calls]
    with worker_pool(jobs) as pool:
        return list(pool.map(fn, *zip(*calls, strict=True)))


def run_seeds(args: argparse.Namespace) -> list[dict]:
    """Every seed's metrics, in seed order; ``args.jobs`` seeds at a time."""
    work = Path(args.work)
    return map_jobs(args.jobs, run_seed, [(s, args, work) for s in args.seeds])


def run_config(sets: list[str], seed: int, args: argparse.Namespace) -> RunConfig:
    """The configuration :func:`train_and_evaluate` trains: the model's overrides
    ``sets``, the seed, the epoch cap and ``--set``."""
    return RunConfig().override(
        [*sets, f"train.seed={seed}", f"train.epochs={args.epochs}", *args.set]
    )


def train_and_evaluate(
    d: Path, name: str, sets: list[str], seed: int, args: argparse.Namespace
) -> tuple[dict, object]:
    """Train ``d/name`` with the model's overrides, the seed, the epoch cap and
    ``--set``; returns the test rows of :func:`pipeline.evaluate` and the fit result."""
    config = run_config(sets, seed, args)
    _, fit = pipeline.train(
        graphs=d / "graphs",
        train_path=d / "train.csv",
        valid_path=d / "valid.csv",
        out=d / name,
        config=config,
    )
    return pipeline.evaluate(d / name, d / "test.csv"), fit


def item_cf(d: Path) -> dict:
    """Test metrics of the untrained item-based CF score (:class:`ItemCFScorer`)."""
    test = read_log(d / "test.csv")
    return evaluate_log(test, ItemCFScorer().fit(read_log(d / "train.csv")).predict(test))


def _gaucs(metrics: dict) -> str:
    return " ".join(f"{t} {m['gauc']:.4f}" for t, m in metrics.items())


def summarise(per_seed: list[dict]) -> dict:
    """Mean GAUC per scorer and task, MoGENet − MMoE, and shares of the oracle lift."""
    models = list(per_seed[0]["models"])
    tasks = list(per_seed[0]["models"][models[0]])
    gains = [(a, b) for a, b in GAINS if a in models and b in models]
    scorers = {
        **{m: "models" for m in models},
        "itemcf": "baselines",
        "popularity": "baselines",
        "oracle": "baselines",
    }
    mean = {
        s: {t: float(np.mean([r[where][s][t]["gauc"] for r in per_seed])) for t in tasks}
        for s, where in scorers.items()
    }
    std = {
        s: {t: float(np.std([r[where][s][t]["gauc"] for r in per_seed])) for t in tasks}
        for s, where in scorers.items()
    }
    lift = {m: {t: (mean[m][t] - 0.5) / (mean["oracle"][t] - 0.5) for t in tasks} for m in models}
    gain = {f"{a} − {b}": {t: 100 * (mean[a][t] - mean[b][t]) for t in tasks} for a, b in gains}
    p_value = {f"{a} − {b}": {t: paired_p(per_seed, a, b, t) for t in tasks} for a, b in gains}
    return {
        "tasks": tasks,
        "mean_gauc": mean,
        "std_gauc": std,
        "oracle_lift": lift,
        "gain_points": gain,
        "p_value": p_value,
    }


def paired_p(per_seed: list[dict], a: str, b: str, task: str, metric: str = "gauc") -> float:
    """Two-sided paired t-test over seeds of model ``a``'s test ``metric`` against
    model ``b``'s (NaN with fewer than two seeds)."""
    from scipy.stats import ttest_rel

    if len(per_seed) < 2:
        return float("nan")
    x = [r["models"][a][task][metric] for r in per_seed]
    y = [r["models"][b][task][metric] for r in per_seed]
    return float(ttest_rel(x, y).pvalue)


def markdown(summary: dict, args: argparse.Namespace) -> str:
    lines = [
        "# MoGENet vs MMoE on collaborative synthetic data",
        "",
        f"{len(args.seeds)} seeds ({', '.join(map(str, args.seeds))}); {args.users} users, "
        f"{args.items} items, {args.interactions} impressions; features uninformative and "
        f"not given; epochs ≤ {args.epochs}; test GAUC, mean ± std over seeds.",
        "",
        "Command: `python scripts/bench_collab.py " + " ".join(args.argv) + "`",
        "",
        *table_lines(summary),
    ]
    return "\n".join(lines) + "\n"


def table_lines(summary: dict) -> list[str]:
    """The Markdown table of :func:`summarise`: mean ± std GAUC per scorer, the gains
    with their p-values, and each model's share of the oracle's lift."""
    tasks = summary["tasks"]
    lines = ["| scorer | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for s, row in summary["mean_gauc"].items():
        cells = [f"{row[t]:.4f} ± {summary['std_gauc'][s][t]:.4f}" for t in tasks]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    for name, gain in summary["gain_points"].items():
        lines.append(f"| {name} (points) | " + " | ".join(f"{gain[t]:+.2f}" for t in tasks) + " |")
        p = summary["p_value"][name]
        cells = " | ".join(f"{p[t]:.3g}" for t in tasks)
        lines.append(f"| {name}: paired t-test p | {cells} |")
    for m in summary["oracle_lift"]:
        lines.append(
            f"| {m}: share of oracle lift | "
            + " | ".join(f"{100 * summary['oracle_lift'][m][t]:.0f} %" for t in tasks)
            + " |"
        )
    return lines


def check_spectral(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A ``+spectral`` model needs graphs built with ``--spectral K``."""
    if args.spectral < 0:
        p.error(f"--spectral must be >= 0, got {args.spectral}")
    wanting = [m for m in args.models if m.endswith("+spectral")]
    if wanting and args.spectral == 0:
        p.error(f"{', '.join(wanting)} read spectral coordinates: give --spectral K")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    add_data_args(p)
    p.add_argument("--work", default="bench/collab_work")
    p.add_argument("--out", default="bench/collab.json")
    p.add_argument(
        "--models",
        type=_models,
        default=DEFAULT_MODELS,
        help=f"comma-separated subset of {', '.join(MODELS)} "
        f"(default: {', '.join(DEFAULT_MODELS)})",
    )
    p.add_argument(
        "--jobs", type=int, default=1, help="seeds run in parallel (processes, one thread each)"
    )
    args = p.parse_args(argv)
    check_spectral(p, args)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    warnings.filterwarnings("ignore")
    per_seed = run_seeds(args)
    summary = summarise(per_seed)
    report = {"args": vars(args), "per_seed": per_seed, "summary": summary}
    write_report(args.out, report, markdown(summary, args))
    return summary


if __name__ == "__main__":
    main()
