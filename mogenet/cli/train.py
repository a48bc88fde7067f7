"""``mogenet train --graphs G --train T.csv --valid V.csv --out RUN_DIR``."""

from __future__ import annotations

from mogenet.cli.common import show_warnings_briefly, tasks_arg
from mogenet.config import RunConfig
from mogenet.metrics import format_table


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a multi-task model; writes a run directory")
    p.add_argument("--graphs", required=True, metavar="GRAPH_DIR")
    p.add_argument("--train", required=True, metavar="TRAIN.csv")
    p.add_argument("--valid", required=True, metavar="VALID.csv")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.add_argument("--model", help="head name (default: mmoe)")
    p.add_argument("--tasks", type=tasks_arg, help="tasks to train, comma separated")
    p.add_argument("--device", help="cpu, cuda or cuda:N")
    p.add_argument("--epochs", type=int)
    base = p.add_mutually_exclusive_group()
    base.add_argument("--config", metavar="FILE.yaml", help="a RunConfig in YAML")
    base.add_argument("--preset", help="a named configuration, e.g. mogenet-paper")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, e.g. train.lr=1e-3",
    )
    p.add_argument("--seed", type=int)
    p.set_defaults(func=run)


def resolve_config(args) -> RunConfig:
    """Preset or config file, then ``--set`` overrides, then the explicit flags."""
    if args.preset:
        config = RunConfig.preset(args.preset)
    else:
        config = RunConfig.from_yaml(args.config) if args.config else RunConfig()
    sets = list(args.set)
    for flag, key in (
        ("model", "model.name"),
        ("device", "train.device"),
        ("epochs", "train.epochs"),
        ("seed", "train.seed"),
    ):
        value = getattr(args, flag)
        if value is not None:
            sets.append(f"{key}={value}")
    if args.tasks:
        sets.append(f"tasks=[{','.join(args.tasks)}]")
    return config.override(sets)


def run(args) -> None:
    from mogenet import pipeline

    show_warnings_briefly()
    config = resolve_config(args)
    run_, result = pipeline.train(
        graphs=args.graphs,
        train_path=args.train,
        valid_path=args.valid,
        out=args.out,
        config=config,
    )
    print(
        f"trained {config.model.name} for {len(result.history)} epoch(s); "
        f"best epoch {result.best_epoch} (mean valid GAUC {result.best_score:.4f})"
    )
    print(format_table({"valid": result.best_metrics}))
    print(f"run written to {args.out}")
