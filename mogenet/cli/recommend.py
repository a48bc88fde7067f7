"""``mogenet recommend RUN_DIR --user ID [--k 10]``: top-K items for a user."""

from __future__ import annotations

import argparse
from pathlib import Path

from mogenet.cli.common import show_warnings_briefly
from mogenet.errors import InputError

DESCRIPTION = """\
Top-K items for one or more users of the run (the training log's, and those of
the feature tables given to build-graphs), best first, with raw ids.

Ranking (--by):
  model      every item of the graph directory is scored by the model's probability
             for --task (default: the last task of the run), exactly as `predict`
             scores a pair, for any head; graph models (MoGENet) use full-graph
             representations (every neighbour) instead of sampled neighbourhoods.
  embedding  items are ranked by the dot product of the user and item vectors that
             `mogenet export` writes (the MGNN's bipartite h_u . h_i for graph models,
             else the node encodings, which need equal user and item sizes); uses
             FAISS (pip install faiss-cpu) when it is importable, else torch. Fast but
             approximate: the model was not trained to make u . i a score.

The user's training interactions (items with a positive of any task in the
training log) are never returned unless --include-train is given."""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "recommend",
        help="top-K items for a user (training items excluded)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ID",
        help="raw user id (repeatable)",
    )
    p.add_argument("--users", metavar="FILE", help="file with one raw user id per line")
    p.add_argument("--k", type=int, default=10, help="items per user (default: %(default)s)")
    p.add_argument(
        "--task", help="task whose probability ranks the items (--by model; default: last task)"
    )
    p.add_argument(
        "--by",
        choices=("model", "embedding"),
        default="model",
        help="rank by the model's probability (exact) or by embedding dot product",
    )
    p.add_argument(
        "--include-train",
        action="store_true",
        help="also return the user's training interactions",
    )
    p.add_argument("--out", metavar="FILE.csv", help="also write user_id,rank,item_id,score")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.set_defaults(func=run)


def read_users(path: str | Path) -> list[str]:
    """Raw user ids, one per line (blank lines and a ``user_id`` header skipped)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise InputError(f"cannot read the user list ({e.strerror})", file=path) from None
    users = [line.strip() for line in lines if line.strip()]
    if users and users[0] == "user_id":
        users = users[1:]
    if not users:
        raise InputError("no user id in the file", file=path)
    return users


def format_recommendations(table, score: str) -> str:
    """The recommendations as an aligned text table."""
    if not len(table):
        return "(no item left to recommend)"
    width_u = max(len("user_id"), *(len(str(u)) for u in table["user_id"]))
    width_i = max(len("item_id"), *(len(str(i)) for i in table["item_id"]))
    lines = [f"{'user_id':<{width_u}}  {'rank':>4}  {'item_id':<{width_i}}  {score:>10}"]
    for row in table.itertuples(index=False):
        lines.append(
            f"{row.user_id:<{width_u}}  {row.rank:>4}  {row.item_id:<{width_i}}  {row.score:>10.4f}"
        )
    return "\n".join(lines)


def run(args) -> None:
    from mogenet.io import atomic_path
    from mogenet.retrieval import recommend
    from mogenet.run import Run

    show_warnings_briefly()
    users = list(args.user) + (read_users(args.users) if args.users else [])
    if not users:
        raise InputError("give at least one user: --user ID (repeatable) or --users FILE")
    run_ = Run.load(args.run_dir)
    table = recommend(
        run_,
        users,
        k=args.k,
        task=args.task,
        by=args.by,
        include_train=args.include_train,
        device=args.device,
        run_dir=args.run_dir,
    )
    task = args.task or run_.tasks[-1]
    score = f"p_{task}" if args.by == "model" else "dot"
    print(format_recommendations(table, score))
    if args.out:
        with atomic_path(args.out) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        print(f"{len(table)} recommendations written to {args.out}")
