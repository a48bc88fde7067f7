"""``mogenet evaluate RUN_DIR --data TEST.csv``: metrics table + metrics JSON."""

from __future__ import annotations

from pathlib import Path

from mogenet.cli.common import show_warnings_briefly
from mogenet.metrics import format_table


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="per-task AUC/GAUC/logloss beside popularity and oracle")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--data", required=True, metavar="TEST.csv")
    p.add_argument("--out", metavar="METRICS.json", help="default: RUN_DIR/metrics.<data>.json")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args) -> None:
    from mogenet import pipeline

    show_warnings_briefly()
    rows = pipeline.evaluate(args.run_dir, args.data, device=args.device)
    out = args.out or Path(args.run_dir) / f"metrics.{Path(args.data).stem}.json"
    pipeline.write_metrics(out, rows, args.run_dir, args.data)
    print(format_table(rows))
    print(f"metrics written to {out}")
