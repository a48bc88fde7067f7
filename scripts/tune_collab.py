"""Equal-budget tuning for the collaborative benchmark (issue "MoGENet", must-show 2).

Each model of :data:`bench_collab.MODELS` named in ``--models`` gets the same grid of
``RunConfig`` overrides (``--grid KEY=V1,V2,…``, repeatable: the grid is their
product).  Every grid point is trained on the tuning seed's log (``--tune-seed``)
and scored by its best validation mean GAUC (the early-stopping score); each model
keeps its own best point.  The chosen configurations are then trained on the
held-out seeds' logs (``--seeds``, each its own generated log) and compared on their
test splits exactly as ``bench_collab.py`` compares them: mean GAUC, the gains in
points with a paired t-test over seeds, and the shares of the oracle's lift.  No
test split is read before the choice, and the tuning seed is not among those
reported.

    python scripts/tune_collab.py --tune-seed 0 --seeds 1,2,3 \\
        --models mmoe+contrastive,mogenet+contrastive \\
        --grid loss.temperature=0.1,0.2,0.5 --grid loss.contrastive=0.5,1,2 \\
        --out bench/collab_tuned.json

Writes JSON and a Markdown table (``.md`` beside the JSON).

Runs are kept under ``--work``. A finished run there that was trained with the same
configuration on the same training file is reused, not trained again (the same
seed on the same device gives the same numbers), so widening the grid trains only
the new points. Delete ``--work`` to train everything afresh, e.g. after changing
mogenet itself.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import warnings
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_collab import (  # noqa: E402
    MODELS,
    _gaucs,
    _models,
    add_data_args,
    check_spectral,
    item_cf,
    map_jobs,
    prepare,
    run_config,
    summarise,
    table_lines,
    train_and_evaluate,
)

from mogenet import pipeline  # noqa: E402
from mogenet.config import RunConfig  # noqa: E402
from mogenet.io import file_sha256, write_report  # noqa: E402
from mogenet.report import load_history  # noqa: E402
from mogenet.run import INCOMPLETE  # noqa: E402
from mogenet.trainer import EpochRecord  # noqa: E402

#: Commas inside brackets belong to a list value (``sampler.bipartite=[5,5]``).
_VALUE_SPLIT = re.compile(r",(?![^\[]*\])")


def grid_axis(text: str) -> list[str]:
    """``KEY=V1,V2`` → ``["KEY=V1", "KEY=V2"]`` (``argparse`` type)."""
    key, sep, values = text.partition("=")
    points = [v for v in _VALUE_SPLIT.split(values) if v]
    if not key or not sep or not points:
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,..., got {text!r}")
    return [f"{key}={v}" for v in points]


def grid_points(axes: list[list[str]]) -> list[list[str]]:
    """Every combination of one value per axis (one empty point without axes)."""
    return [list(point) for point in itertools.product(*axes)]


def reused_score(d: Path, name: str, sets: list[str], seed: int, args) -> float | None:
    """Best validation score of the finished run ``d/name`` if it was trained with the
    configuration :func:`run_config` gives now, on ``d``'s training file as it is now;
    else ``None`` (train it)."""
    run_dir = d / name
    if not (run_dir / "run.json").is_file() or (run_dir / INCOMPLETE).exists():
        return None
    info = json.loads((run_dir / "run.json").read_text())
    saved, wanted = RunConfig.from_yaml(run_dir / "config.yaml"), run_config(sets, seed, args)
    if saved != replace(wanted, tasks=wanted.tasks or saved.tasks):  # tasks: resolved
        return None
    if info["train"]["sha256"] != file_sha256(d / "train.csv"):
        return None
    best = [r for r in load_history(run_dir) if r["epoch"] == info["best_epoch"]]
    return float(EpochRecord.from_dict(best[0]).valid_score) if best else None


def _validation_job(d: Path, name: str, point: list[str], seed: int, args) -> float:
    """Best validation mean GAUC of ``name`` with ``point`` on the tuning log."""
    run, sets = _run_name(name, point), [*MODELS[name], *point]
    score = reused_score(d, run, sets, seed, args)
    note = " (reused)"
    if score is None:
        score, note = float(train_and_evaluate(d, run, sets, seed, args)[1].best_score), ""
    print(f"tune {name} {' '.join(point)}: valid {score:.4f}{note}", flush=True)
    return score


def _test_job(d: Path, name: str, point: list[str], seed: int, args) -> dict:
    """Test metrics of ``name`` with its chosen ``point`` on a held-out log."""
    sets = [*MODELS[name], *point]
    if reused_score(d, name, sets, seed, args) is None:
        rows, _ = train_and_evaluate(d, name, sets, seed, args)
    else:
        rows = pipeline.evaluate(d / name, d / "test.csv")
    print(f"seed {seed} {name}: {_gaucs(rows['model'])}", flush=True)
    return rows


def _run_name(name: str, point: list[str]) -> str:
    return name + "".join(f"@{s}" for s in point).replace("/", "_")


def tune(args) -> dict:
    """Validation score of every (model, grid point) and each model's choice."""
    work = Path(args.work)
    d = prepare(args.tune_seed, args, work / "tune")
    points = grid_points(args.grid)
    calls = [(d, m, p, args.tune_seed, args) for m in args.models for p in points]
    scores = map_jobs(args.jobs, _validation_job, calls)
    table = {m: [] for m in args.models}
    for (_, m, p, _, _), score in zip(calls, scores, strict=True):
        table[m].append({"point": p, "valid_mean_gauc": score})
    chosen = {m: max(rows, key=_valid)["point"] for m, rows in table.items()}
    return {"grid": table, "chosen": chosen}


def _valid(row: dict) -> float:
    return row["valid_mean_gauc"]


def evaluate_held_out(args, chosen: dict) -> list[dict]:
    """Per held-out seed: test metrics of every model's choice, and the baselines."""
    work = Path(args.work)
    dirs = {s: prepare(s, args, work / "test") for s in args.seeds}
    calls = [(dirs[s], m, chosen[m], s, args) for s in args.seeds for m in args.models]
    rows = map_jobs(args.jobs, _test_job, calls)
    per_seed = {s: {"seed": s, "models": {}} for s in args.seeds}
    for (_, m, _, s, _), r in zip(calls, rows, strict=True):
        per_seed[s]["models"][m] = r["model"]
        per_seed[s]["baselines"] = {k: v for k, v in r.items() if k != "model"}
    for s, d in dirs.items():
        per_seed[s]["baselines"]["itemcf"] = item_cf(d)
    return [per_seed[s] for s in args.seeds]


def markdown(report: dict, args) -> str:
    lines = [
        "# Equal-budget tuning on collaborative synthetic data",
        "",
        f"Tuned on seed {args.tune_seed}'s log by best validation mean GAUC; reported on "
        f"held-out seeds {', '.join(map(str, args.seeds))} (each its own log): "
        f"{args.users} users, {args.items} items, {args.interactions} impressions, ids "
        f"only; epochs ≤ {args.epochs}; test GAUC, mean ± std over seeds.",
        "",
        "Command: `python scripts/tune_collab.py " + " ".join(args.argv) + "`",
        "",
        "## Validation mean GAUC per grid point (tuning seed)",
        "",
        "| grid point | " + " | ".join(args.models) + " |",
        "|---|" + "---:|" * len(args.models),
    ]
    grid = report["tuning"]["grid"]
    for i, row in enumerate(grid[args.models[0]]):
        cells = []
        for m in args.models:
            mark = " ★" if grid[m][i]["point"] == report["tuning"]["chosen"][m] else ""
            cells.append(f"{grid[m][i]['valid_mean_gauc']:.4f}{mark}")
        lines.append(f"| {' '.join(row['point']) or '(defaults)'} | " + " | ".join(cells) + " |")
    lines += ["", "★ = chosen.", "", "## Held-out test GAUC", "", *table_lines(report["summary"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tune-seed", type=int, default=0, help="seed of the tuning log")
    p.add_argument(
        "--seeds",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 2, 3],
        help="held-out seeds (test logs)",
    )
    add_data_args(p)
    p.add_argument(
        "--models",
        type=_models,
        default=["mmoe+contrastive", "mogenet+contrastive"],
        help=f"comma-separated subset of {', '.join(MODELS)}",
    )
    p.add_argument(
        "--grid",
        action="append",
        type=grid_axis,
        default=[],
        metavar="KEY=V1,V2",
        help="one axis of the grid (repeatable; the grid is the product)",
    )
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    p.add_argument("--work", default="bench/tune_work")
    p.add_argument("--out", default="bench/collab_tuned.json")
    args = p.parse_args(argv)
    if args.tune_seed in args.seeds:
        p.error(f"--tune-seed {args.tune_seed} is also in --seeds: report held-out seeds only")
    check_spectral(p, args)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    warnings.filterwarnings("ignore")
    tuning = tune(args)
    for m, point in tuning["chosen"].items():
        print(f"{m}: chose {' '.join(point) or '(defaults)'}", flush=True)
    per_seed = evaluate_held_out(args, tuning["chosen"])
    report = {"args": vars(args), "tuning": tuning, "per_seed": per_seed}
    report["summary"] = summarise(per_seed)
    write_report(args.out, report, markdown(report, args))
    return report


if __name__ == "__main__":
    main()
