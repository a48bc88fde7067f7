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
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_collab import model_list  # noqa: E402
from bench_funnel import (  # noqa: E402
    parse_run_args,
    result_lines,
    run_and_report,
    train_models,
)

from mogenet import pipeline  # noqa: E402
from mogenet.datasets.synthetic import SyntheticConfig, generate  # noqa: E402

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
    return train_models(prepare(seed, args, work), seed, args, MODELS.__getitem__)


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
    args = parse_run_args(p, argv, quick=QUICK, name="cold_users")
    warnings.filterwarnings("ignore")
    return run_and_report(args, run_seed, markdown)


if __name__ == "__main__":
    main()
