"""``mogenet build-graphs TRAIN.csv --out GRAPH_DIR``: bipartite + similarity graphs."""

from __future__ import annotations

import json

from mogenet.cli.common import show_warnings_briefly, tasks_arg
from mogenet.config import GraphConfig


def add_parser(sub) -> None:
    p = sub.add_parser("build-graphs", help="build the graph bundle from a training log")
    p.add_argument("train", metavar="TRAIN.csv", help="training interactions (wide or long form)")
    p.add_argument("--out", required=True, metavar="GRAPH_DIR", help="output directory")
    p.add_argument("--users", metavar="U.csv", help="user features (user_id + columns)")
    p.add_argument("--items", metavar="I.csv", help="item features (item_id + columns)")
    p.add_argument("--tasks", type=tasks_arg, help="label columns, comma separated (default: all)")
    p.add_argument(
        "--categorical",
        type=tasks_arg,
        default=(),
        metavar="COL,COL",
        help="feature columns to embed as categories even if numeric (e.g. brand ids)",
    )
    p.add_argument("--similarity", default=GraphConfig.similarity, help="similarity measure")
    p.add_argument("--topk", type=int, default=GraphConfig.topk, help="similar neighbours per node")
    p.set_defaults(func=run)


def run(args) -> None:
    from mogenet.pipeline import build_graphs

    show_warnings_briefly()
    bundle = build_graphs(
        args.train,
        args.out,
        users=args.users,
        items=args.items,
        tasks=args.tasks,
        categorical=args.categorical,
        config=GraphConfig(similarity=args.similarity, topk=args.topk),
    )
    print(f"graphs written to {args.out}")
    print(json.dumps(bundle.summary(), indent=2))
