"""``mogenet predict RUN_DIR --data PAIRS.csv --out PRED.csv``."""

from __future__ import annotations

from mogenet.cli.common import cold_start_note, show_warnings_briefly


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="per-task probabilities for (user_id, item_id) pairs")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--data", required=True, metavar="PAIRS.csv")
    p.add_argument("--out", required=True, metavar="PRED.csv")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.set_defaults(func=run)


def run(args) -> None:
    from mogenet import pipeline

    show_warnings_briefly()
    table = pipeline.predict_pairs(args.run_dir, args.data, args.out, device=args.device)
    if note := cold_start_note(table.attrs["unseen"]):
        print(note)
    print(f"{len(table)} predictions written to {args.out}")
