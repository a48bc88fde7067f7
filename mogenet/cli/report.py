"""``mogenet report RUN_DIR [--out FILE.html]``: one self-contained HTML page."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="HTML page with training curves, metrics, task weights and gate usage",
        description="Write a self-contained HTML page about a run (plots embedded as PNG): "
        "the run's settings, validation and test metrics beside the baselines, training "
        "loss and validation AUC/GAUC by epoch, the learned task uncertainties sigma_k, "
        "and the gate usage per task and expert. Needs matplotlib.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", metavar="FILE.html", help="default: RUN_DIR/report.html")
    p.set_defaults(func=run)


def run(args) -> None:
    from mogenet.report import write_html_report

    path = write_html_report(args.run_dir, args.out)
    print(f"report written to {path}")
