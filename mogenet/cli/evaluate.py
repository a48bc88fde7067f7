"""``mogenet evaluate RUN_DIR --data TEST.csv [--topk 10,20]``: metrics table + JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from mogenet.cli.common import cold_start_note, show_warnings_briefly
from mogenet.metrics import format_table, format_tables


def topk_arg(value: str) -> tuple[int, ...]:
    """``--topk 10,20`` → ``(10, 20)`` (positive integers)."""
    try:
        ks = tuple(int(k) for k in value.split(",") if k.strip())
    except ValueError:
        ks = ()
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 10,20, got {value!r}")
    return tuple(sorted(set(ks)))


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="per-task AUC/GAUC/logloss beside popularity and oracle",
        description="Per-task AUC, GAUC and logloss of a run on a labelled file, beside the "
        "popularity baseline and (synthetic data) the oracle, whose true probabilities also "
        "give each scorer auc_true, the AUC without test-label noise. With --topk, also "
        "Recall@K and NDCG@K over full item rankings (NGCF/LightGCN protocol: every item of "
        "the training graph is ranked by the model's logit for the task, except the user's "
        "training interactions; the held-out positives are the task's positive pairs in the "
        "file).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--data", required=True, metavar="TEST.csv", help="labelled rows, as the training log"
    )
    p.add_argument("--out", metavar="METRICS.json", help="default: RUN_DIR/metrics.<data>.json")
    p.add_argument(
        "--topk",
        type=topk_arg,
        default=(),
        metavar="K,K",
        help="also compute Recall@K and NDCG@K for these list lengths, e.g. 10,20",
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.set_defaults(func=run)


def run(args) -> None:
    from mogenet import pipeline

    show_warnings_briefly()
    out = args.out or Path(args.run_dir) / f"metrics.{Path(args.data).stem}.json"
    rows, doc = pipeline.evaluate_to_file(
        args.run_dir, args.data, out, device=args.device, topk=args.topk
    )
    if note := cold_start_note(doc["run"]["unseen"]):
        print(note)
    print(format_tables(rows))
    for k in args.topk:
        ranked = {name: rows[name] for name in ("model", "popularity")}
        print(f"\ntop-{k} retrieval over all items (training interactions excluded):")
        print(format_table(ranked, metric=(f"recall@{k}", f"ndcg@{k}")))
    print(f"metrics written to {out}")
