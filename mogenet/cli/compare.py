"""``mogenet compare RUN_DIR … [--baseline RUN …]``: seeds → mean ± std, t-test, RelaImpr."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Compare runs trained with several seeds. Runs are grouped by model name (run.json);
each group gets the per-task mean ± sample std of AUC and GAUC, and every group is
compared with the baseline group (the --baseline runs, else the first group listed):
RelaImpr = (AUC - 0.5) / (AUC_base - 0.5) - 1 of the means, and a two-sided paired
t-test over the seeds both groups have (runs paired by seed).

Metrics come from each run's metrics.<STEM>.json, written by
`mogenet evaluate RUN --data STEM.csv` (default STEM: test), or from metrics.json,
the best epoch's validation metrics, with --metrics valid.

example:
  mogenet compare runs/mogenet_s0 runs/mogenet_s1 runs/mogenet_s2 \\
      --baseline runs/mmoe_s0 runs/mmoe_s1 runs/mmoe_s2 --out compare.json"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="runs over seeds: mean ± std, paired t-test, RelaImpr",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="runs to compare")
    p.add_argument(
        "--baseline",
        nargs="+",
        default=[],
        metavar="RUN",
        help="the baseline's runs (one per seed); default: the first model group",
    )
    p.add_argument(
        "--metrics",
        default="test",
        metavar="STEM",
        help="read metrics.STEM.json (default: test), or 'valid' for metrics.json",
    )
    p.add_argument("--out", metavar="FILE.json", help="also write JSON and FILE.md")
    p.set_defaults(func=run)


def run(args) -> dict:
    from mogenet.compare import compare_runs, format_markdown, load_run_metrics
    from mogenet.io import write_report
    from mogenet.metrics import to_jsonable

    runs = [load_run_metrics(r, args.metrics) for r in args.runs]
    baseline = [load_run_metrics(r, args.metrics) for r in args.baseline]
    report = compare_runs(runs, baseline)
    markdown = format_markdown(report, which=args.metrics)
    report = to_jsonable({"metrics": args.metrics, **report})
    write_report(args.out or None, report, markdown)  # prints the table too
    if args.out:
        print(f"comparison written to {args.out} and its .md")
    return report
