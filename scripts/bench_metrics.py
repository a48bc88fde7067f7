"""Benchmark mogenet's vectorised GAUC against the per-user scikit-learn loop.

Usage::

    python scripts/bench_metrics.py                         # 1e6 examples, 1e5 users
    python scripts/bench_metrics.py --reference-users all   # the whole sklearn loop (~1 min)
    python scripts/bench_metrics.py --quick --out /tmp/m.json   # smoke test, 1e4 examples

What is measured, and how:

- **data**: ``--examples`` rows over ``--users`` users drawn uniformly (≈ 10 rows per
  user at the defaults), labels Bernoulli(0.1), scores = 0.5·label + N(0, 1)
  (continuous, so a few users have one class only and are left out of GAUC as the
  definition says).  Generation is not timed.
- **mogenet**: :func:`mogenet.metrics.gauc` with integer user codes (what the
  trainer passes) and with string user ids (what ``mogenet evaluate`` passes: the
  raw ids of the CSV); best and median of ``--repeats`` runs.  :func:`~mogenet.metrics.auc`
  over all rows is timed beside ``sklearn.metrics.roc_auc_score`` as well.
- **reference**: the brute-force GAUC everyone writes first — group rows by user,
  call ``roc_auc_score`` per user with both classes, weight by the user's rows.
  It runs on the first ``--reference-users`` users (their rows only); its time is
  extrapolated to all users linearly in the number of users scored (each call
  costs about the same on ~10 rows), unless ``--reference-users all``.  mogenet's
  GAUC on the same subset must equal the reference (``max_abs_diff``).
- **target**: mogenet's GAUC (integer codes, best run) ≤ 2 s on 10^6 examples over
  10^5 users, printed as PASS/FAIL.

Writes ``--out`` (JSON) and the same results as Markdown next to it (``.md``),
both atomically, and prints the Markdown.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_graphs import machine_info  # noqa: E402 — the same machine record as the others

from mogenet.io import write_report  # noqa: E402
from mogenet.metrics import auc, gauc  # noqa: E402

TARGET = {"examples": 1_000_000, "users": 100_000, "max_seconds": 2.0}


def make_data(examples: int, users: int, seed: int = 0):
    """``(labels, scores, user codes)``: uniform users, 10 % positives, scores with signal."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, users, examples)
    labels = (rng.random(examples) < 0.1).astype(np.int8)
    scores = 0.5 * labels + rng.standard_normal(examples)
    return labels, scores, groups


def reference_gauc(labels, scores, groups) -> tuple[float, int]:
    """Per-user ``roc_auc_score`` loop: ``(gauc, users scored)``."""
    from sklearn.metrics import roc_auc_score

    order = np.argsort(groups, kind="stable")
    g, y, s = groups[order], labels[order], scores[order]
    bounds = np.flatnonzero(np.diff(g)) + 1
    num = den = 0.0
    scored = 0
    for ys, ss in zip(np.split(y, bounds), np.split(s, bounds), strict=True):
        positives = int(ys.sum())
        if 0 < positives < len(ys):
            num += len(ys) * roc_auc_score(ys, ss)
            den += len(ys)
            scored += 1
    return (num / den if den else float("nan")), scored


def timed(fn, repeats: int) -> tuple[float, list[float]]:
    """``(last value, seconds of each run)``."""
    seconds, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        seconds.append(time.perf_counter() - start)
    return value, seconds


def summary(seconds: list[float]) -> dict:
    return {"best_s": round(min(seconds), 4), "median_s": round(float(np.median(seconds)), 4)}


def run(args) -> dict:
    from sklearn.metrics import roc_auc_score

    labels, scores, groups = make_data(args.examples, args.users, args.seed)
    names = np.char.add("user", groups.astype(str)).astype(object)  # raw string ids
    present = int(np.unique(groups).size)

    value, t_int = timed(lambda: gauc(labels, scores, groups), args.repeats)
    value_str, t_str = timed(lambda: gauc(labels, scores, names), args.repeats)
    auc_value, t_auc = timed(lambda: auc(labels, scores), args.repeats)
    sk_auc, t_sk_auc = timed(lambda: roc_auc_score(labels, scores), 1)

    n_ref = present if args.reference_users == "all" else min(int(args.reference_users), present)
    subset_users = np.unique(groups)[:n_ref]
    rows = np.isin(groups, subset_users)
    roc_auc_score([0, 1], [0.0, 1.0])  # warm-up: lazy imports are not the loop's cost
    start = time.perf_counter()
    ref_value, ref_scored = reference_gauc(labels[rows], scores[rows], groups[rows])
    ref_seconds = time.perf_counter() - start
    ours_subset = gauc(labels[rows], scores[rows], groups[rows])
    all_scored = users_with_both_classes(labels, groups)
    extrapolated = ref_seconds * all_scored / max(ref_scored, 1)

    best = min(t_int)
    passed = args.examples >= TARGET["examples"] and args.users >= TARGET["users"]
    return {
        "examples": args.examples,
        "users": present,
        "users_scored": all_scored,
        "gauc": value,
        "mogenet": {
            "int_codes": summary(t_int),
            "string_ids": summary(t_str),
            "string_ids_equal": value_str == value,
            "auc": summary(t_auc),
        },
        "sklearn_auc": {"seconds": round(t_sk_auc[0], 4), "abs_diff": abs(auc_value - sk_auc)},
        "reference": {
            "users": int(n_ref),
            "users_scored": ref_scored,
            "rows": int(rows.sum()),
            "seconds": round(ref_seconds, 3),
            "extrapolated_all_users_s": round(extrapolated, 1),
            "measured_on_all_users": n_ref == present,
            "max_abs_diff": abs(ours_subset - ref_value),
        },
        "speedup": round(extrapolated / best, 1),
        "target": {
            **TARGET,
            "result": ("PASS" if best <= TARGET["max_seconds"] else "FAIL")
            if passed
            else "N/A (smaller than the target size)",
        },
    }


def users_with_both_classes(labels, groups) -> int:
    """How many users hold both classes (the number of ``roc_auc_score`` calls)."""
    count = np.bincount(groups)
    pos = np.bincount(groups, weights=labels)
    return int(((pos > 0) & (pos < count)).sum())


def markdown(result: dict, machine: dict) -> str:
    m, r = result["mogenet"], result["reference"]
    loads = machine.get("load_average_1_5_15", {})
    load = (loads.get("before", [float("nan")])[0], loads.get("after", [float("nan")])[0])
    how = (
        "measured on all users"
        if r["measured_on_all_users"]
        else (
            f"measured on {r['users']:,} users ({r['rows']:,} rows, {r['seconds']} s), "
            "extrapolated linearly in users scored"
        )
    )
    lines = [
        "# GAUC benchmark",
        "",
        f"{result['examples']:,} examples over {result['users']:,} users "
        f"({result['users_scored']:,} with both classes); {machine.get('cpu_model')}, "
        f"{machine.get('cpus_usable')} usable CPUs, numpy {machine.get('numpy')}, "
        f"{machine.get('date')}; 1-minute load average {load[0]:.2f} before, "
        f"{load[1]:.2f} after (other work on the machine slows both sides).",
        "",
        "| implementation | seconds | notes |",
        "|---|---:|---|",
        f"| mogenet `gauc`, integer user codes | **{m['int_codes']['best_s']}** "
        f"(median {m['int_codes']['median_s']}) | target ≤ {TARGET['max_seconds']} s: "
        f"**{result['target']['result']}** |",
        f"| mogenet `gauc`, string user ids | {m['string_ids']['best_s']} "
        f"(median {m['string_ids']['median_s']}) | same value: {m['string_ids_equal']} |",
        f"| per-user `sklearn.metrics.roc_auc_score` loop | {r['extrapolated_all_users_s']} | "
        f"{how}; max abs diff to mogenet {r['max_abs_diff']:.1e} |",
        f"| mogenet `auc` (all rows) | {m['auc']['best_s']} | |",
        f"| `sklearn.metrics.roc_auc_score` (all rows) | {result['sklearn_auc']['seconds']} | "
        f"abs diff {result['sklearn_auc']['abs_diff']:.1e} |",
        "",
        f"mogenet's GAUC is **{result['speedup']}×** faster than the per-user loop.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=lambda s: int(float(s)), default=TARGET["examples"])
    p.add_argument("--users", type=lambda s: int(float(s)), default=TARGET["users"])
    p.add_argument(
        "--reference-users",
        default="10000",
        help="users the sklearn loop runs on (then extrapolated), or 'all'",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed runs of mogenet's GAUC")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="1e4 examples, 1e3 users (smoke test)")
    p.add_argument("--out", default="bench/metrics.json")
    args = p.parse_args(argv)
    if args.quick:
        args.examples, args.users, args.reference_users, args.repeats = 10_000, 1_000, "200", 2
    machine = machine_info()
    load_before = os.getloadavg()
    result = run(args)
    machine["load_average_1_5_15"] = {"before": load_before, "after": os.getloadavg()}
    report = {"args": vars(args), "machine": machine, "result": result}
    write_report(args.out, report, markdown(result, machine))
    return report


if __name__ == "__main__":
    main()
