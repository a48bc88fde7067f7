"""``mogenet build-graphs TRAIN.csv --out GRAPH_DIR``: bipartite + similarity graphs."""

from __future__ import annotations

import argparse
import math

from mogenet.cli.common import show_warnings_briefly, tasks_arg
from mogenet.config import GraphConfig
from mogenet.errors import InputError

_WEIGHTS_EXAMPLE = "e.g. click=1,cart=2,fav=2,buy=4"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "build-graphs",
        help="build the graph bundle from a training log",
        description="Build the user–item bipartite graph and the user–user / item–item "
        "similarity graphs of a training log, and save them to GRAPH_DIR "
        "(format: graphs/README.md).",
    )
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
        help="feature columns to embed as categories even if numeric (e.g. brand ids); "
        "a prepare.json beside the feature file (mogenet prepare) adds its own list",
    )
    g = p.add_argument_group("similarity graphs")
    g.add_argument(
        "--similarity",
        default=GraphConfig.similarity,
        help="similarity measure: cosine, jaccard or cooccur (default: %(default)s)",
    )
    g.add_argument(
        "--topk",
        type=int,
        default=GraphConfig.topk,
        help="similar neighbours per node (default: %(default)s)",
    )
    g.add_argument(
        "--min-support",
        type=int,
        default=GraphConfig.min_support,
        metavar="N",
        help="minimum common interactions of a similar pair (default: %(default)s)",
    )
    g.add_argument(
        "--hub-cap",
        default=str(GraphConfig.hub_cap),
        metavar="N|none",
        help="use at most N sampled users of an item (and items of a user) in the "
        "similarity; 'none' = no cap (default: %(default)s)",
    )
    g.add_argument(
        "--behavior-weights",
        metavar="TASK=W,…",
        help="behaviour-weighted similarity: an interaction weighs the sum of the weights "
        f"of its behaviours ({_WEIGHTS_EXAMPLE}; weights > 0, unlisted tasks weigh 1; "
        "default: binary)",
    )
    g.add_argument(
        "--seed",
        type=int,
        default=GraphConfig.seed,
        help="seed of the hub sampling (default: %(default)s)",
    )
    g.add_argument(
        "--device",
        default=GraphConfig.device,
        help="where the similarity is computed: cpu or cuda (default: %(default)s)",
    )
    g.add_argument(
        "--num-threads",
        type=int,
        default=GraphConfig.num_threads,
        metavar="N",
        help="CPU threads for the similarity (default: 0 = all cores)",
    )
    p.add_argument(
        "--spectral",
        type=int,
        default=GraphConfig.spectral,
        metavar="K",
        help="also store K spectral coordinates of every user and item: the top singular "
        "vectors of the normalised user–item matrix of all training rows, labels ignored; "
        "models read them as node features (default: %(default)s = none)",
    )
    p.add_argument(
        "--per-behavior-edges",
        action="store_true",
        help="also store one user–item edge type per task (edges with a positive of it)",
    )
    p.add_argument(
        "--plot",
        nargs="?",
        const=True,
        default=False,
        metavar="FILE.png",
        help="draw the degree distributions: GRAPH_DIR/degrees.png, or FILE.png if given",
    )
    p.set_defaults(func=run)


def parse_hub_cap(value: str) -> int | None:
    """``--hub-cap``: a positive integer, or ``none`` for no cap."""
    if value.strip().lower() == "none":
        return None
    try:
        cap = int(value)
    except ValueError:
        cap = 0
    if cap < 1:
        raise InputError(f"--hub-cap must be a positive integer or 'none', got {value!r}")
    return cap


def parse_behavior_weights(value: str) -> dict[str, float]:
    """``--behavior-weights click=1,buy=4`` → ``{"click": 1.0, "buy": 4.0}``.

    Raises:
        InputError: an entry is not ``NAME=WEIGHT``, a name repeats, or a weight is
            not a finite number > 0.
    """
    out: dict[str, float] = {}
    entries = [e.strip() for e in value.split(",")]
    if not any(entries):
        raise InputError(f"--behavior-weights is empty ({_WEIGHTS_EXAMPLE})")
    for entry in entries:
        name, sep, number = (part.strip() for part in entry.partition("="))
        if not sep or not name or not number:
            raise InputError(
                f"--behavior-weights: {entry!r} is not TASK=WEIGHT ({_WEIGHTS_EXAMPLE})"
            )
        try:
            weight = float(number)
        except ValueError:
            raise InputError(
                f"--behavior-weights: weight of '{name}' is not a number: {number!r}"
            ) from None
        if not math.isfinite(weight) or weight <= 0:
            raise InputError(f"--behavior-weights: weight of '{name}' must be > 0, got {number}")
        if name in out:
            raise InputError(f"--behavior-weights: '{name}' is given twice")
        out[name] = weight
    return out


def graph_config(args: argparse.Namespace) -> GraphConfig:
    """The :class:`GraphConfig` of the parsed ``build-graphs`` arguments."""
    if args.topk < 1:
        raise InputError(f"--topk must be ≥ 1, got {args.topk}")
    if args.min_support < 1:
        raise InputError(f"--min-support must be ≥ 1, got {args.min_support}")
    if args.num_threads < 0:
        raise InputError(f"--num-threads must be ≥ 0, got {args.num_threads}")
    if args.spectral < 0:
        raise InputError(f"--spectral must be ≥ 0, got {args.spectral}")
    weights = args.behavior_weights
    return GraphConfig(
        similarity=args.similarity,
        topk=args.topk,
        min_support=args.min_support,
        hub_cap=parse_hub_cap(args.hub_cap),
        behavior_weights=None if weights is None else parse_behavior_weights(weights),
        per_behavior_edges=args.per_behavior_edges,
        seed=args.seed,
        device=args.device,
        num_threads=args.num_threads,
        spectral=args.spectral,
    )


def run(args) -> None:
    from mogenet.graphs.bundle import StageClock
    from mogenet.pipeline import build_graphs

    show_warnings_briefly()
    config = graph_config(args)
    clock = StageClock(progress=True)  # drawn only when stderr is a terminal
    try:
        bundle = build_graphs(
            args.train,
            args.out,
            users=args.users,
            items=args.items,
            tasks=args.tasks,
            categorical=args.categorical,
            config=config,
            plot=args.plot,
            clock=clock,
        )
    finally:
        clock.close()
    print(format_summary(bundle.summary(), clock.seconds, out=args.out))
    if args.plot:
        plot = f"{args.out}/degrees.png" if args.plot is True else args.plot
        print(f"degree plot: {plot}")


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def format_summary(summary: dict, seconds: dict[str, float], *, out: str | None = None) -> str:
    """A readable text summary of :meth:`GraphBundle.summary` and stage timings."""
    cfg = summary["config"]
    lines = [f"graphs written to {out}" if out else "graphs built"]
    lines.append(
        f"  rows     {summary['num_rows']:,} ({summary['num_positive_rows']:,} with a positive)"
        f"; tasks {', '.join(summary['tasks'])}"
    )
    nodes = []
    for kind in ("user", "item"):
        n = summary[f"num_{kind}s"]
        extra = n - summary.get("log_nodes", {}).get(kind, n)
        nodes.append(f"{kind} {n:,}" + (f" ({extra:,} from features only)" if extra else ""))
    lines.append(f"  nodes    {' · '.join(nodes)}")
    weights = cfg.get("behavior_weights")
    weighting = (
        "binary"
        if not weights
        else "weighted " + " ".join(f"{k}={_num(v)}" for k, v in weights.items())
    )
    hub = cfg.get("hub_cap")
    lines.append(
        f"  similar  {cfg['similarity']}, topk {cfg['topk']}, min_support {cfg['min_support']}, "
        f"hub_cap {'none' if hub is None else hub}, {weighting}"
    )
    if cfg.get("spectral"):
        lines.append(f"  spectral {cfg['spectral']} coordinates per user and item (all rows)")
    lines.append("edges")
    edges = summary["edges"]
    reversed_types = {k for k in edges if k.split("__")[1].startswith("rev_")}
    width = max((len(k) for k in edges), default=0) + 4
    for key, count in edges.items():
        if key in reversed_types:
            continue
        src, rel, dst = key.split("__")
        name = f"{src} -{rel}-> {dst}"
        mirror = " (+ reverse)" if src != dst else ""
        lines.append(f"  {name:<{width}}{count:>12,}{mirror}")
    cols = ("min", "p50", "p90", "p99", "max", "isolated")
    heads = ("min", "median", "p90", "p99", "max", "isolated")
    channel_width = max(
        (len(f"{t} {c}") for t, chans in summary["degree"].items() for c in chans), default=0
    )
    channel_width = max(channel_width + 2, 16)
    lines.append("degree".ljust(channel_width + 2) + "".join(f"{h:>10}" for h in heads))
    for node_type, channels in summary["degree"].items():
        for channel, stats in channels.items():
            label = f"{node_type} {channel}"
            values = "".join(f"{_num(stats[c]):>10}" for c in cols)
            lines.append(f"  {label:<{channel_width}}{values}")
    if seconds:
        stages = " · ".join(f"{k} {v:.2f}s" for k, v in seconds.items())
        lines.append(f"time     {stages} · total {sum(seconds.values()):.2f}s")
    if summary.get("hash"):
        lines.append(f"hash     {summary['hash']}")
    return "\n".join(lines)
