"""``mogenet export RUN_DIR --out EMB_DIR``: user/item embeddings keyed by raw id."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export user/item embeddings (Parquet + .npy)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--out",
        required=True,
        metavar="EMB_DIR",
        help="writes users/items .parquet, .npy and .ids.txt here",
    )
    p.set_defaults(func=run)


def run(args) -> None:
    from mogenet.export import export_embeddings

    s = export_embeddings(args.run_dir, args.out)
    print(
        f"exported {s['users']} users (dim {s['user_dim']}) and {s['items']} items "
        f"(dim {s['item_dim']}) to {s['out']}"
    )
