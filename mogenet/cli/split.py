"""``mogenet split LOG.csv --out DIR [--by time|random|user|leave-last] [--negatives K]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mogenet.cli.common import show_warnings_briefly, tasks_arg
from mogenet.datasets.split import SPLITS


def _ratios(value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three ratios like 0.8,0.1,0.1, got {value!r}")
    return parts


def add_parser(sub) -> None:
    p = sub.add_parser("split", help="split a log into train/valid/test CSVs")
    p.add_argument("log", metavar="LOG.csv", help="interactions, wide or long form")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="writes train.csv, valid.csv and test.csv here"
    )
    p.add_argument(
        "--by",
        choices=list(SPLITS),
        help="time (default when the log has timestamps), random (each user's rows), "
        "user (whole users held out: cold-start users in valid/test) or leave-last",
    )
    p.add_argument("--ratios", type=_ratios, default=(0.8, 0.1, 0.1), help="train,valid,test")
    p.add_argument(
        "--negatives",
        type=int,
        default=0,
        metavar="K",
        help="sample K negatives per positive in every part (implicit-feedback logs)",
    )
    p.add_argument("--tasks", type=tasks_arg, help="label columns to keep (default: all)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of random splits and negatives (default: 0)"
    )
    p.set_defaults(func=run)


def run(args) -> None:
    from mogenet.pipeline import split_file

    show_warnings_briefly()
    summary = split_file(
        args.log,
        args.out,
        by=args.by,
        ratios=args.ratios,
        negatives=args.negatives,
        tasks=args.tasks,
        seed=args.seed,
    )
    print(f"split {Path(args.log).name} by {summary.pop('by')} into {args.out}")
    print(json.dumps(summary, indent=2))
