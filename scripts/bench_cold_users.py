r"""Held-out users: how MMoE scores users that training never saw (cold start).

A synthetic log whose user and item features are informative (``mogenet.datasets.
synthetic``: the age bucket and the category are noisy community proxies), split
``--by user`` so that valid/test users never occur in training, as on AliExpress
(new search pages) or census-income (new people). The graph bundle gets
``users.csv`` and ``items.csv``, so the held-out users are feature-only nodes. Then
MMoE per variant (:data:`MODELS`): id embeddings for users and items (the
default), with id dropout (``model.id_dropout``, which trains the shared
out-of-vocabulary row that unseen users get), with item ids only, and with
features only. Test AUC, GAUC and ``auc_true`` (against the generator's true
probabilities) per task, mean ± std over seeds, each variant's difference to
plain MMoE with a paired t-test, beside popularity and the oracle.

    python scripts/bench_cold_users.py --seeds 0,1,2 --out bench/cold_users.json
    python scripts/bench_cold_users.py --quick --out /tmp/cold.json   # smoke test

Writes JSON and a Markdown table (``.md`` beside the JSON).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_collab import map_jobs, model_list, train_and_evaluate  # noqa: E402
from bench_funnel import _positives, result_lines, summarise  # noqa: E402

from mogenet import pipeline  # noqa: E402
from mogenet.datasets.synthetic import SyntheticConfig, generate  # noqa: E402
from mogenet.io import write_report  # noqa: E402

#: Variant → ``--set`` overrides; ``mmoe`` is the reference.
MODELS = {
    "mmoe": [],
    "mmoe+id_dropout": ["model.id_dropout=0.1"],
    "mmoe,item_ids": ["model.ids=[item]"],
    "mmoe,features_only": ["model.ids=[]"],
}
QUICK = ["--preset", "tiny", "--epochs", "1"]


def prepare(seed: int, args: argparse.Namespace, work: Path) -> Path:
    """Generate one seed's log, split it by user and build its graphs (with the
    feature tables); returns its folder."""
    d = work / f"seed{seed}"
    generate(SyntheticConfig.preset(args.preset, seed=seed)).write(d / "raw")
    held = args.held_out
    pipeline.split_file(
        d / "raw" / "interactions.csv", d, by="user", ratios=(1 - 2 * held, held, held), seed=seed
    )
    pipeline.build_graphs(
        d / "train.csv", d / "graphs", users=d / "raw" / "users.csv", items=d / "raw" / "items.csv"
    )
    return d


def run_seed(seed: int, args: argparse.Namespace, work: Path) -> dict:
    """Test metrics of every variant (and the baselines) for one seed."""
    d = prepare(seed, args, work)
    out: dict = {"models": {}, "seconds": {}, "epochs": {}}
    for name in args.models:
        start = time.perf_counter()
        rows, fit = train_and_evaluate(d, name, MODELS[name], seed, args)
        out["models"][name] = rows["model"]
        out["baselines"] = {k: v for k, v in rows.items() if k != "model"}
        out["seconds"][name] = time.perf_counter() - start
        out["epochs"][name] = len(fit.history)
        aucs = " ".join(f"{t} {m['auc']:.4f}" for t, m in rows["model"].items())
        print(f"seed {seed} {name}: AUC {aucs} ({out['seconds'][name]:.0f} s)", flush=True)
    out["positives"] = _positives(rows["model"])
    return out


def markdown(summary: dict, args: argparse.Namespace) -> str:
    lines = [
        "# Held-out users: MMoE variants on users that training never saw",
        "",
        f"{len(args.seeds)} seed(s) ({', '.join(map(str, args.seeds))}); preset "
        f"`{args.preset}` with its informative user and item features; split by user, "
        f"{args.held_out:.0%} of the users in valid and in test each (none of them in "
        f"train); epochs ≤ {args.epochs}. Mean ± std over seeds.",
        "",
        "Command: `python scripts/bench_cold_users.py " + " ".join(args.argv) + "`",
        *result_lines(summary, args),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--preset", default="demo")
    p.add_argument(
        "--held-out", type=float, default=0.1, help="share of users in valid and in test each"
    )
    p.add_argument("--models", type=model_list(MODELS), default=list(MODELS))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--set", action="append", default=[], help="extra RunConfig overrides")
    p.add_argument(
        "--jobs", type=int, default=1, help="seeds run in parallel (processes, one thread each)"
    )
    p.add_argument("--quick", action="store_true", help="smoke run: seed 0, " + " ".join(QUICK))
    p.add_argument("--work", default="bench/cold_users_work")
    p.add_argument("--out", default="bench/cold_users.json")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    if args.quick:  # tiny defaults; flags given explicitly still win
        args = p.parse_args(["--seeds", "0", *QUICK, *argv])
    args.argv = argv
    warnings.filterwarnings("ignore")
    per_seed = map_jobs(args.jobs, run_seed, [(s, args, Path(args.work)) for s in args.seeds])
    summary = summarise(per_seed, args.models)
    report = {"args": vars(args), "per_seed": per_seed, "summary": summary}
    write_report(args.out, report, markdown(summary, args))
    return summary


if __name__ == "__main__":
    main()
