"""``mogenet train --graphs G --train T.csv --valid V.csv --out RUN_DIR``
and ``mogenet train --resume RUN_DIR``.

Under ``torchrun --nproc_per_node N -m mogenet train …`` every process runs this
verb; the trainer trains data-parallel and rank 0 alone writes and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mogenet.cli.common import show_warnings_briefly, tasks_arg
from mogenet.config import PRESETS, RunConfig
from mogenet.errors import InputError
from mogenet.metrics import format_table

#: Flags that name the inputs and output of a fresh run (saved in the run directory).
PATH_FLAGS = ("graphs", "train", "valid", "out")
#: Flags that change the configuration (flag → RunConfig key).
CONFIG_FLAGS = {
    "model": "model.name",
    "device": "train.device",
    "epochs": "train.epochs",
    "seed": "train.seed",
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a multi-task model; writes a run directory",
        description="Train a model (or continue an interrupted run with --resume RUN_DIR).",
    )
    p.add_argument("--graphs", metavar="GRAPH_DIR")
    p.add_argument("--train", metavar="TRAIN.csv")
    p.add_argument("--valid", metavar="VALID.csv")
    p.add_argument("--out", metavar="RUN_DIR")
    p.add_argument(
        "--model",
        help="mmoe (default), mogenet, ple, esmm, …, or NAME+mgnn for a head on the MGNN "
        "representations; a wrong name lists them all",
    )
    p.add_argument("--tasks", type=tasks_arg, help="tasks to train, comma separated")
    p.add_argument("--device", help="cpu, cuda or cuda:N")
    p.add_argument("--epochs", type=int)
    base = p.add_mutually_exclusive_group()
    base.add_argument("--config", metavar="FILE.yaml", help="a RunConfig in YAML")
    base.add_argument("--preset", help=f"a named configuration: {', '.join(sorted(PRESETS))}")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, e.g. train.lr=1e-3",
    )
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run from its last checkpoint, with the settings and "
        "inputs saved in RUN_DIR (the other flags may be left out)",
    )
    p.set_defaults(func=run)


def resolve_config(args) -> RunConfig:
    """Preset or config file, then ``--set`` overrides, then the explicit flags."""
    if args.preset:
        config = RunConfig.preset(args.preset)
    else:
        config = RunConfig.from_yaml(args.config) if args.config else RunConfig()
    sets = list(args.set)
    for flag, key in CONFIG_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            sets.append(f"{key}={value}")
    if args.tasks:
        sets.append(f"tasks=[{','.join(args.tasks)}]")
    return config.override(sets)


def check_resume_args(args) -> None:
    """With ``--resume``, other flags may repeat the run's saved paths and settings but
    not change them (a changed setting would not continue the same training)."""
    from mogenet.pipeline import read_incomplete
    from mogenet.trainer import flatten

    marker = read_incomplete(args.resume)
    saved = dict(marker.get("inputs", {}), out=args.resume)
    changed = [
        f"--{flag}"
        for flag in PATH_FLAGS
        if getattr(args, flag) is not None
        and Path(getattr(args, flag)).resolve() != Path(saved[flag]).resolve()
    ]
    if (
        args.preset
        or args.config
        or args.set
        or args.tasks
        or any(getattr(args, flag) is not None for flag in CONFIG_FLAGS)
    ):
        stored = flatten(RunConfig.from_yaml(Path(args.resume) / "config.yaml").to_dict())
        given = flatten(resolve_config(args).to_dict())
        keys = dict.fromkeys([*given, *stored])
        if given.get("tasks", ...) is None:  # no --tasks: the run took the graph's tasks
            keys = [k for k in keys if k.split(".")[0] != "tasks"]
        changed += [k for k in keys if given.get(k) != stored.get(k)]
    if changed:
        raise InputError(
            f"--resume continues the run with the settings saved in {args.resume}; "
            f"these differ: {', '.join(changed)} (drop them, or start a new run)"
        )


def run(args) -> None:
    from mogenet import distributed, pipeline
    from mogenet.trainer import TrainingInterrupted

    show_warnings_briefly()
    missing = [f"--{f}" for f in PATH_FLAGS if getattr(args, f) is None]
    if args.resume is None and missing:
        raise InputError(f"train needs {', '.join(missing)} (or --resume RUN_DIR)")
    out = args.resume or args.out
    try:
        if args.resume is not None:
            check_resume_args(args)
            run_, result = pipeline.resume_training(args.resume)
        else:
            run_, result = pipeline.train(
                graphs=args.graphs,
                train_path=args.train,
                valid_path=args.valid,
                out=args.out,
                config=resolve_config(args),
            )
    except TrainingInterrupted as e:
        if distributed.detect().is_main and e.saved_epoch is not None:
            print(
                f"\n{e}; {out} holds the checkpoint after epoch {e.saved_epoch}.\n"
                f"continue with: {pipeline.resume_command(out)}",
                file=sys.stderr,
            )
        raise
    finally:
        distributed.shutdown()
    if not distributed.detect().is_main:
        return
    if args.resume is not None:
        print(f"resumed from the checkpoint after epoch {result.start_epoch}")
    print(
        f"trained {run_.config.model.name} for {len(result.history)} epoch(s); "
        f"best epoch {result.best_epoch} (mean valid GAUC {result.best_score:.4f})"
    )
    print(format_table({"valid": result.best_metrics}))
    print(f"run written to {out}")
