"""``mogenet demo``: synthetic data → split → graphs → train → evaluate → export.

Runs the whole pipeline on the embedded synthetic default (the ``demo`` preset of
:class:`~mogenet.datasets.synthetic.SyntheticConfig`) through the same library
functions as the other verbs, and prints the test metrics of the model beside the
popularity baseline (the floor) and the oracle (the true probabilities: the ceiling).
"""

from __future__ import annotations

import time
from pathlib import Path

from mogenet.cli.common import show_warnings_briefly


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="run the whole pipeline on synthetic data (a few minutes on CPU)"
    )
    p.add_argument("--out", default="mogenet_demo", metavar="DIR", help="default: ./mogenet_demo")
    p.add_argument("--preset", default="demo", help="synthetic size preset (tiny, demo, small, …)")
    p.add_argument(
        "--config",
        default="mogenet-fast",
        help="named run configuration (default: mogenet-fast, i.e. MoGENet as benchmarked; "
        "'default' = the library defaults, 'mogenet-paper' = the paper's settings)",
    )
    p.add_argument("--model", help="model name, overriding the configuration's (e.g. mmoe)")
    p.add_argument(
        "--spectral",
        type=int,
        default=0,
        metavar="K",
        help="build the graphs with K spectral coordinates per node (build-graphs "
        "--spectral; default: 0 = none)",
    )
    p.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the data and of training (default: 0)"
    )
    p.set_defaults(func=run)


def run(args) -> None:
    from mogenet import pipeline
    from mogenet.build import parse_model_name
    from mogenet.config import GraphConfig, RunConfig
    from mogenet.datasets.synthetic import SyntheticConfig, generate
    from mogenet.errors import InputError
    from mogenet.export import export_embeddings
    from mogenet.metrics import format_tables

    show_warnings_briefly()
    # the run configuration first: a bad --config/--model fails before any work
    sets = [
        *([f"model.name={args.model}"] if args.model else []),
        f"train.device={args.device}",
        f"train.seed={args.seed}",
        f"train.epochs={args.epochs}",
    ]
    config = RunConfig.preset(args.config).override(sets)
    if args.spectral < 0:
        raise InputError(f"--spectral must be ≥ 0, got {args.spectral}")
    model = config.model.name
    parse_model_name(model)  # an unknown model name too
    out = Path(args.out)
    data, graphs, run_dir, emb = out / "data", out / "graphs", out / "run", out / "embeddings"
    clock = time.perf_counter()

    def step(msg: str) -> None:
        print(f"[{time.perf_counter() - clock:6.1f}s] {msg}", flush=True)

    synth = generate(SyntheticConfig.preset(args.preset, seed=args.seed))
    synth.write(data / "raw")
    step(f"synthetic data: {synth.log} -> {data / 'raw'}")

    summary = pipeline.split_file(
        data / "raw" / "interactions.csv", data, by="time", seed=args.seed
    )
    parts = ", ".join(f"{k} {v['rows']}" for k, v in summary["parts"].items())
    step(f"split by time: {parts}")

    bundle = pipeline.build_graphs(
        data / "train.csv",
        graphs,
        users=data / "raw" / "users.csv",
        items=data / "raw" / "items.csv",
        config=GraphConfig(spectral=args.spectral),
    )
    step(f"graphs: {bundle}")

    _, result = pipeline.train(
        graphs=graphs,
        train_path=data / "train.csv",
        valid_path=data / "valid.csv",
        out=run_dir,
        config=config,
    )
    step(
        f"trained {model} ({args.config}): {len(result.history)} epochs, best {result.best_epoch} "
        f"(valid mean GAUC {result.best_score:.4f}) -> {run_dir}"
    )

    rows, _ = pipeline.evaluate_to_file(
        run_dir, data / "test.csv", run_dir / "metrics.test.json", device=args.device
    )
    step(f"evaluated on {data / 'test.csv'} -> {run_dir / 'metrics.test.json'}")

    s = export_embeddings(run_dir, emb)
    step(f"exported {s['users']} user and {s['items']} item embeddings -> {emb}")

    print()
    print("test metrics (model vs popularity baseline vs oracle = true probabilities):")
    print(format_tables(rows))
