"""Reproduce the structure of MoGENet's Tables 2–5 and Fig. 2 (issue 8) on data at hand.

MoGENet (Hu et al., PRICAI'22, §3) reports: Table 2, MoGENet against single-task
(MLP, NGCF) and multi-task baselines (Shared-Bottom, Cross-Stitch, ESMM, MMoE,
SNR-Trans, CGC), with RelaImpr over the best baseline and a paired t-test; Table 3,
each multi-task baseline with the MGNN representations as extra input
(``NAME+mgnn``); Table 4, the interaction κ (``model.interaction``); Table 5, the
loss terms (i) BCE, (ii) uncertainty weighting, (iii) cooperative loss; Fig. 2, the
number of graph-enhanced experts (``model.head_options.graph_experts``, added left
to right).  This script trains every configuration those need with N seeds on one
dataset, and writes per-task test AUC / GAUC mean ± std, paired t-tests (pairs =
runs with the same seed), RelaImpr, Markdown tables, PNG plots and JSON.

Data: the collaborative synthetic log of ``bench_collab.py`` (features uninformative
and not given: ids only; one log, ``--data-seed``), or ``--data`` for a dataset
prepared with its card (``datasets/*.md``).  Runs are cached in ``--work`` by
configuration hash and seed, so an interrupted reproduction resumes (``--force``
retrains).  ``--readme README.md`` replaces the text between the README's
``<!-- results:start -->`` / ``<!-- results:end -->`` markers with the tables.

    python scripts/reproduce_paper.py --preset small --readme README.md   # CPU, < 30 min
    python scripts/reproduce_paper.py --preset collab --studies table2 --out bench/paper_collab
    python scripts/reproduce_paper.py --preset full --device cuda         # GPU
    python scripts/reproduce_paper.py --quick --models mmoe --studies table2

See scripts/README.md for every flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
import warnings
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation_mogenet import KAPPAS, LOSSES  # noqa: E402
from bench_collab import add_data_args, prepare, worker_pool  # noqa: E402

from mogenet import pipeline  # noqa: E402
from mogenet.compare import RunMetrics, compare_runs, load_run_metrics, metrics_file  # noqa: E402
from mogenet.config import RunConfig  # noqa: E402
from mogenet.errors import InputError  # noqa: E402
from mogenet.io import atomic_path, file_sha256, write_json, write_report  # noqa: E402
from mogenet.metrics import rela_impr, to_jsonable  # noqa: E402
from mogenet.nn.interaction import NUM_INTERACTIONS  # noqa: E402
from mogenet.run import CHECKPOINT, INCOMPLETE  # noqa: E402

#: MoGENet as every table trains it: the paper's full model (i+ii+iii, §3). Still
#: being tuned, so it lives in this one dict (``--set``-style values); override it
#: for one reproduction with ``--model-set mogenet:KEY=VALUE``.  The κ, loss and
#: graph-expert studies vary one setting of this configuration.
MOGENET: dict[str, str] = {
    "model.name": "mogenet",
    "model.tower_channels": "[]",  # a linear v_k per task (Eq. 4)
    "loss.weighting": "uncertainty",  # (ii), Eq. 6
    "loss.cooperative": "1e-6",  # (iii), β of Eq. 7 (paper: 1e-6)
}

#: Table 2's baselines, in the paper's order: model name → the paper's name.
BASELINES: dict[str, str] = {
    "mlp": "MLP",
    "ngcf": "NGCF",
    "shared_bottom": "Shared-Bottom",
    "cross_stitch": "Cross-Stitch",
    "esmm": "ESMM",
    "mmoe": "MMoE",
    "snr_trans": "SNR-Trans",
    "cgc": "CGC",
}
#: Single-task baselines: no ``+MGNN`` variant in Table 3.
SINGLE_TASK = ("mlp", "ngcf")
#: Settings of each model beyond ``model.name=NAME`` (empty: the library defaults).
MODEL_SETTINGS: dict[str, dict[str, str]] = {"mogenet": MOGENET}
#: Table 4's names of κ (the paper's abbreviations).
KAPPA_NAMES = {"product": "EP", "concat": "CON", "add": "ADD", "mlp": "MLP"}
#: Fig. 2: number of graph-enhanced experts (MoGENet has |Z| = 4 experts).
GRAPH_EXPERTS = tuple(range(NUM_INTERACTIONS + 1))
STUDIES = ("table2", "table3", "table4", "table5", "fig2")

#: Training settings of the CPU presets ``small`` and ``collab`` (fast convergence,
#: fanout 5 in every channel, single-process sampling).
CPU_SETS = [
    "train.patience=3",
    "train.batch_size=1024",
    "train.lr=2e-3",
    "sampler.bipartite=[5,5]",
    "sampler.user_sim=[5,5]",
    "sampler.item_sim=[5,5]",
    "sampler.num_workers=0",
]
#: Reproduction presets: data size, epochs cap, seeds, parallel runs, shared settings.
#: ``small`` fits ALL tables and plots in < 30 min on a calm 2-core CPU; ``collab`` is
#: the denser log where the graph helps (Table 2 alone takes about an hour on CPU);
#: ``full`` is meant for a GPU (``--device cuda``).  Every value can be overridden by
#: its flag.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {  # smoke test: tiny log, 1 epoch
        "synthetic": "demo",
        "users": 150,
        "items": 60,
        "interactions": 2500,
        "epochs": 1,
        "seeds": 2,
        "jobs": 1,
        "device": "cpu",
        "sets": ["train.batch_size=512", "sampler.num_workers=0"],
    },
    "small": {
        "synthetic": "demo",
        "users": 2000,
        "items": 600,
        "interactions": 30_000,
        "epochs": 10,
        "seeds": 5,
        "jobs": 2,
        "device": "cpu",
        "sets": CPU_SETS,
    },
    # bench_collab's denser log (about 60 impressions per user, sharper communities),
    # every model with the in-batch contrastive loss: where MoGENet's graph helps.
    "collab": {
        "synthetic": "demo",
        "users": 4000,
        "items": 1000,
        "interactions": 240_000,
        "latent_noise": 0.3,
        "affinity_weight": 2.0,
        "epochs": 15,
        "seeds": 5,
        "jobs": 2,
        "device": "cpu",
        "sets": [*CPU_SETS, "loss.contrastive=1.0"],
    },
    "full": {
        "synthetic": "small",
        "users": 20_000,
        "items": 10_000,
        "interactions": 500_000,
        "epochs": 30,
        "seeds": 5,
        "jobs": 1,
        "device": "cuda",
        "sets": ["train.patience=5"],
    },
}


def readme_markers(section: str) -> tuple[str, str]:
    """The ``<!-- SECTION:start -->`` / ``<!-- SECTION:end -->`` pair around a
    generated README section."""
    return f"<!-- {section}:start -->", f"<!-- {section}:end -->"


RESULTS_START, RESULTS_END = readme_markers("results")

# Settings that do not change what a run computes (not part of its cache key).
_NOT_IN_KEY = {("train", "seed"), ("train", "cpu_threads"), ("train", "tensorboard")}
_NOT_IN_KEY |= {("sampler", "num_workers")}  # batches are the same for any number


# --------------------------------------------------------------------------- data


@dataclasses.dataclass
class Data:
    """The dataset every run trains on (paths absolute)."""

    name: str
    description: str
    train: Path
    valid: Path
    test: Path
    graphs: Path
    tasks: tuple[str, ...] | None
    fingerprint: str


def _ready(d: Path) -> bool:
    return (
        all((d / f).is_file() for f in ("train.csv", "valid.csv", "test.csv"))
        and (d / "graphs" / "meta.json").is_file()
    )


def _short_hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


def prepare_data(args: argparse.Namespace, work: Path) -> Data:
    """The synthetic log of ``bench_collab.py`` (prepared once per size and data seed),
    or ``--data``: a folder with ``train/valid/test.csv`` (and ``graphs/``, built into
    the work folder when absent), a folder with ``interactions.csv`` or a log CSV
    (split by time when it has timestamps, into the work folder).  ``users.csv`` /
    ``items.csv`` beside the data are used as feature tables."""
    tasks = tuple(args.tasks.split(",")) if args.tasks else None
    if args.data is None:
        knobs = {  # generator settings beyond the preset's, in the key and the text
            "latent noise τ": args.latent_noise,
            "affinity weight α": args.affinity_weight,
            **{f"{t} rate": r for t, r in args.rate},
        }
        knobs = {k: v for k, v in knobs.items() if v is not None}
        key = (
            f"synthetic-{args.synthetic}-u{args.users}-i{args.items}-n{args.interactions}"
            f"-seed{args.data_seed}" + (f"-{_short_hash(knobs)}" if knobs else "")
        )
        d = work / key / f"seed{args.data_seed}"
        if not _ready(d):
            # bench_collab's --preset is the generator preset, here --synthetic
            prepare(
                args.data_seed,
                argparse.Namespace(**{**vars(args), "preset": args.synthetic}),
                d.parent,
            )
        description = (
            f"the collaborative synthetic log ({args.synthetic} generator, {args.users} users, "
            f"{args.items} items, {args.interactions} impressions, "
            + "".join(f"{k} {v}, " for k, v in knobs.items())
            + f"data seed {args.data_seed}; features uninformative and not given: ids only), "
            "split by time 80/10/10"
        )
        return _data(key, description, d, d / "graphs", tasks)
    src = Path(args.data).resolve()
    if not src.exists():
        raise InputError("--data: not found", file=src)
    key = f"data-{src.stem}-{_short_hash(str(src), tasks)}"
    folder = src if src.is_dir() else src.parent
    features = {
        k: folder / f"{k}.csv" for k in ("users", "items") if (folder / f"{k}.csv").is_file()
    }
    if src.is_dir() and all((src / f"{p}.csv").is_file() for p in ("train", "valid", "test")):
        d, how = src, "its own train/valid/test split"
    else:
        log = src / "interactions.csv" if src.is_dir() else src
        if not log.is_file():
            raise InputError(
                "--data needs a folder with train.csv, valid.csv and test.csv, a folder "
                "with interactions.csv, or a log CSV",
                file=src,
            )
        d = work / key
        if not (d / "split.json").is_file():
            summary = pipeline.split_file(log, d, tasks=tasks, seed=args.data_seed)
            write_json(d / "split.json", summary)  # last: marks the split as done
        by = json.loads((d / "split.json").read_text())["by"]
        how = f"split {by} 80/10/10 by this script"
    graphs = d / "graphs"
    if not (graphs / "meta.json").is_file():
        graphs = work / key / "graphs"
        if not (graphs / "meta.json").is_file():
            pipeline.build_graphs(d / "train.csv", graphs, tasks=tasks, **features)
    names = " and ".join(f"{k}.csv" for k in features) or "no feature tables (ids only)"
    return _data(key, f"`{src}` ({how}; {names})", d, graphs, tasks)


def _data(name: str, description: str, d: Path, graphs: Path, tasks) -> Data:
    d, graphs = d.resolve(), graphs.resolve()
    meta = json.loads((graphs / "meta.json").read_text())
    parts = {p: d / f"{p}.csv" for p in ("train", "valid", "test")}
    fingerprint = _short_hash(meta.get("hash"), {p: file_sha256(f) for p, f in parts.items()})
    return Data(name, description, *parts.values(), graphs, tasks, fingerprint)


# -------------------------------------------------------------------------- specs


@dataclasses.dataclass
class Spec:
    """One row of one study: a label and the settings of its runs."""

    study: str
    label: str
    model: str  # the model whose MODEL_SETTINGS / --model-set apply
    sets: list[str]  # the study's own settings (applied last: they must win)


def _model_sets(model: str, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The model's settings (:data:`MODEL_SETTINGS`) and its ``--model-set`` overrides."""
    settings = MODEL_SETTINGS.get(model, {"model.name": model})
    extra = [s.partition(":")[2] for s in args.model_set if s.partition(":")[0] == model]
    return [f"{k}={v}" for k, v in settings.items()], extra


def build_specs(args: argparse.Namespace) -> list[Spec]:
    """Every (study, row) the selected studies need."""
    specs: list[Spec] = []
    if "table2" in args.studies or "table3" in args.studies:
        for m in args.models:
            specs.append(Spec("table2", BASELINES[m], m, []))
        specs.append(Spec("table2", "MoGENet", "mogenet", []))
    if "table3" in args.studies:
        for m in args.models:
            if m not in SINGLE_TASK:
                specs.append(Spec("table3", f"{BASELINES[m]} + MGNN", m, [f"model.name={m}+mgnn"]))
    beta = args.beta
    if beta is None:  # MoGENet's own β, or the paper's when it has none
        mogenet = resolve(Spec("table2", "MoGENet", "mogenet", []), args)
        beta = mogenet.loss.cooperative or 1e-6
    if "table4" in args.studies:
        for kappa in args.kappas:
            label = KAPPA_NAMES.get(kappa, kappa)
            specs.append(Spec("table4", label, "mogenet", [f"model.interaction={kappa}"]))
    if "table5" in args.studies:
        for variant in args.losses:
            sets = ["loss.cooperative=0", *(s.format(beta=beta) for s in LOSSES[variant])]
            specs.append(Spec("table5", variant, "mogenet", sets))
    if "fig2" in args.studies:
        for n in args.graph_experts:
            specs.append(Spec("fig2", str(n), "mogenet", [f"model.head_options.graph_experts={n}"]))
    return specs


def resolve(spec: Spec, args: argparse.Namespace) -> RunConfig:
    """Preset settings → the model's settings → ``--set`` and ``--model-set`` → the
    study's own settings (last, so a user override cannot undo what a study varies)."""
    sets = [*PRESETS[args.preset]["sets"], f"train.epochs={args.epochs}"]
    sets += [f"train.device={args.device}"]
    if args.tasks:
        sets.append(f"tasks=[{args.tasks}]")
    model, overrides = _model_sets(spec.model, args)
    sets += [*model, *args.set, *overrides, *spec.sets]
    config = RunConfig().override(sets)
    if config.model.head_options.get("graph_experts") == NUM_INTERACTIONS:
        # every expert graph-enhanced is MoGENet itself (the default): share its runs
        options = {k: v for k, v in config.model.head_options.items() if k != "graph_experts"}
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, head_options=options)
        )
    return config


def run_key(config: RunConfig, data: Data) -> str:
    """Directory name of a configuration's runs: model name + hash of what it computes."""
    d = config.to_dict()
    for stage, key in _NOT_IN_KEY:
        d.get(stage, {}).pop(key, None)
    name = config.model.name.replace("+", "_")
    return f"{name}-{_short_hash(d, data.fingerprint)}"


# --------------------------------------------------------------------------- runs


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) and evaluate one (configuration, seed); returns its timing.
    Runs in a worker process with ``--jobs`` > 1; either way on one torch thread,
    set by :func:`main` or by the :func:`bench_collab.worker_pool` initializer."""
    run_dir = Path(job["run_dir"])
    start = time.perf_counter()
    if not job["force"] and (run_dir / INCOMPLETE).is_file() and (run_dir / CHECKPOINT).is_file():
        pipeline.resume_training(run_dir)
    elif job["force"] or not (run_dir / "run.json").is_file():
        pipeline.train(
            graphs=job["graphs"],
            train_path=job["train"],
            valid_path=job["valid"],
            out=run_dir,
            config=RunConfig.from_dict(job["config"]),
        )
    trained = time.perf_counter()
    rows, _ = pipeline.evaluate_to_file(
        run_dir, job["test"], metrics_file(run_dir, "test"), device=job["device"]
    )
    timing = {"train_s": trained - start, "eval_s": time.perf_counter() - trained}
    # last: with the metrics file, reproduce.json marks the run as done for the cache
    write_json(run_dir / "reproduce.json", {"labels": job["labels"], **timing})
    gauc = {t: m["gauc"] for t, m in rows["model"].items()}
    return {**timing, "gauc": gauc}


def _done(run_dir: Path) -> bool:
    return all(
        f.is_file()
        for f in (run_dir / "run.json", metrics_file(run_dir, "test"), run_dir / "reproduce.json")
    )


def execute(jobs: list[dict[str, Any]], workers: int) -> list[str]:
    """Run the jobs (``workers`` processes when > 1); returns one line per failure."""
    failures: list[str] = []
    total = len(jobs)

    def report(i: int, job: dict, result: dict | None, error: BaseException | None) -> None:
        name = f"[{i}/{total}] {job['labels'][0]} seed {job['seed']}"
        if error is not None:
            failures.append(f"{name}: {type(error).__name__}: {error}")
            print(f"{name}: FAILED ({type(error).__name__}: {error})", flush=True)
            return
        gauc = " ".join(f"{t} {g:.4f}" for t, g in result["gauc"].items())
        print(f"{name}: {gauc} ({result['train_s'] + result['eval_s']:.0f} s)", flush=True)

    if workers <= 1:
        for i, job in enumerate(jobs, 1):
            try:
                report(i, job, run_job(job), None)
            except Exception as e:  # one failed run must not lose the others
                report(i, job, None, e)
        return failures
    with worker_pool(workers) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for i, future in enumerate(as_completed(futures), 1):
            try:
                report(i, futures[future], future.result(), None)
            except Exception as e:
                report(i, futures[future], None, e)
    return failures


# ------------------------------------------------------------------------ results


def _with_mean(r: RunMetrics) -> RunMetrics:
    """The run with a ``mean`` column: each metric averaged over the tasks."""
    if len(r.metrics) < 2:
        return r
    mean = {
        m: float(np.mean([v[m] for v in r.metrics.values()]))
        for m in next(iter(r.metrics.values()))
    }
    return dataclasses.replace(r, metrics={**r.metrics, "mean": mean})


def load_groups(rows: list[dict[str, Any]]) -> dict[str, list[RunMetrics]]:
    """label → the finished runs of that row (grouped under the label, not the model)."""
    groups: dict[str, list[RunMetrics]] = {}
    for row in rows:
        runs = [
            _with_mean(dataclasses.replace(load_run_metrics(d), model=row["label"]))
            for d in row["run_dirs"]
            if _done(Path(d))
        ]
        if runs:
            groups[row["label"]] = runs
    return groups


def compare(groups: dict[str, list[RunMetrics]], base: str) -> dict[str, Any]:
    """:func:`mogenet.compare.compare_runs` of every group against ``base``."""
    others = [r for label, runs in groups.items() if label != base for r in runs]
    if not others:
        return compare_runs(groups[base])
    return compare_runs(others, baseline=groups[base])


def _stat(group: dict[str, Any], task: str, metric: str) -> dict[str, Any]:
    return group["tasks"][task][metric]


def _mark(p: float, diff: float) -> str:
    if math.isnan(p) or not diff > 0:
        return ""
    return "**" if p < 0.01 else "*" if p < 0.05 else ""


def table2(groups: dict[str, list[RunMetrics]]) -> dict[str, Any]:
    """Every model's stats and, per metric and task, the best baseline (by mean), the
    paired t-test and RelaImpr of MoGENet over it, and RelaImpr over MMoE."""
    stats = compare(groups, next(iter(groups)))["groups"]
    tasks = list(next(iter(stats.values()))["tasks"])
    out: dict[str, Any] = {"tasks": tasks, "groups": stats, "mogenet": {}}
    baselines = [label for label in groups if label != "MoGENet"]
    if "MoGENet" not in groups or not baselines:
        return out
    for metric in ("gauc", "auc"):
        out["mogenet"][metric] = {}
        for task in tasks:
            best = max(baselines, key=lambda b: _mean(stats[b], task, metric))
            pair = compare({"MoGENet": groups["MoGENet"], best: groups[best]}, best)
            entry = pair["comparisons"]["MoGENet"][task][metric]
            mine = _stat(stats["MoGENet"], task, metric)["mean"]
            mmoe = _stat(stats["MMoE"], task, metric)["mean"] if "MMoE" in stats else math.nan
            out["mogenet"][metric][task] = {
                "best_baseline": best,
                **{k: entry[k] for k in ("diff", "t", "p", "pairs")},
                "significance": _mark(entry["p"], entry["diff"]),
                "rela_impr_best": entry["rela_impr"],
                "rela_impr_mmoe": rela_impr(mine, mmoe),
            }
    return out


def _mean(group: dict[str, Any], task: str, metric: str) -> float:
    value = _stat(group, task, metric)["mean"]
    return -math.inf if math.isnan(value) else value


def table3(groups: dict[str, list[RunMetrics]], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Each baseline vs its ``+ MGNN`` variant (diff, paired t-test, RelaImpr)."""
    out: dict[str, Any] = {"pairs": {}}
    for base, variant in pairs:
        if base in groups and variant in groups:
            out["pairs"][base] = {
                "variant": variant,
                **compare({base: groups[base], variant: groups[variant]}, base),
            }
    return out


def study(groups: dict[str, list[RunMetrics]], base: str | None) -> dict[str, Any]:
    """A MoGENet study (κ, loss, graph experts): every row against MoGENet's own."""
    if not groups:
        return {}
    base = base if base in groups else next(iter(groups))
    return compare(groups, base)


# ----------------------------------------------------------------------- markdown


def _cell(stats: dict[str, Any]) -> str:
    if math.isnan(stats["mean"]):
        return "-"
    if math.isnan(stats["std"]):
        return f"{stats['mean']:.4f}"
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


def _esc(mark: str) -> str:
    return mark.replace("*", "\\*")


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:+.2f} %"


def _pval(entry: dict[str, Any]) -> str:
    return "-" if math.isnan(entry["p"]) else f"{entry['p']:.3g}"


def _header(first: str, columns: list[str]) -> list[str]:
    return [
        f"| {first} | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]


def md_table2(t2: dict[str, Any], metric: str, title: str, note: str = "") -> list[str]:
    tasks, groups = t2["tasks"], t2["groups"]
    vs = t2["mogenet"].get(metric)
    lines = [f"### {title}", "", *([note, ""] if note else []), *_header("model", tasks)]
    top = {t: max(groups, key=lambda g: _mean(groups[g], t, metric)) for t in tasks}
    for label, group in groups.items():
        cells = []
        for task in tasks:
            c = _cell(_stat(group, task, metric))
            if label == "MoGENet" and vs:
                c += _esc(vs[task]["significance"])
            if label == top[task]:
                c = f"**{c}**"
            elif vs and label == vs[task]["best_baseline"]:
                c = f"<ins>{c}</ins>"
            cells.append(c)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if vs:
        rows = {
            "RelaImpr vs best baseline": [_pct(vs[t]["rela_impr_best"]) for t in tasks],
            "RelaImpr vs MMoE": [_pct(vs[t]["rela_impr_mmoe"]) for t in tasks],
            "p, paired t-test vs best": [_pval(vs[t]) for t in tasks],
            "best baseline": [vs[t]["best_baseline"] for t in tasks],
        }
        lines += [f"| {k} | " + " | ".join(v) + " |" for k, v in rows.items()]
    return [*lines, ""]


def md_table3(t3: dict[str, Any], mogenet: dict[str, Any] | None) -> list[str]:
    first = next(iter(t3["pairs"].values()))
    tasks = list(first["groups"][first["baseline"]]["tasks"])
    lines = [
        "### Table 3 — the baselines with the MGNN representations as input (test GAUC)",
        "",
        "↑ = `+ MGNN` has the higher mean; \\* / \\*\\* = also p < 0.05 / 0.01 (two-sided "
        "paired t-test over seeds).",
        "",
        *_header("model", tasks),
    ]
    for base, entry in t3["pairs"].items():
        variant = entry["variant"]
        for label in (base, variant):
            cells = []
            for task in tasks:
                c = _cell(_stat(entry["groups"][label], task, "gauc"))
                if label == variant:
                    cmp = entry["comparisons"][variant][task]["gauc"]
                    c += (" ↑" if cmp["diff"] > 0 else "") + _esc(_mark(cmp["p"], cmp["diff"]))
                cells.append(c)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if mogenet is not None:
        cells = [_cell(_stat(mogenet, t, "gauc")) for t in tasks]
        lines.append("| MoGENet | " + " | ".join(cells) + " |")
    return [*lines, ""]


def md_study(result: dict[str, Any], title: str, first: str) -> list[str]:
    groups, base, default = result["groups"], result["baseline"], result["default"]
    groups = {label: groups[label] for label in result["order"]}
    tasks = list(next(iter(groups.values()))["tasks"])
    versus = "MoGENet" if base == default else base
    columns = [*tasks, f"Δ mean vs {versus} (p)"] if "mean" in tasks else tasks
    lines = [f"### {title}", "", *_header(first, columns)]
    top = {t: max(groups, key=lambda g: _mean(groups[g], t, "gauc")) for t in tasks}
    for label, group in groups.items():
        cells = []
        for task in tasks:
            c = _cell(_stat(group, task, "gauc"))
            cells.append(f"**{c}**" if label == top[task] and len(groups) > 1 else c)
        if "mean" in tasks:
            if label == base:
                cells.append("")
            else:
                cmp = result["comparisons"][label]["mean"]["gauc"]
                cells.append(f"{cmp['diff']:+.4f} ({_pval(cmp)})")
        name = f"{label} (= MoGENet)" if label == default else label
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


# -------------------------------------------------------------------------- plots


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(tasks: list[str], title: str):
    plt = _plt()
    fig, axes = plt.subplots(1, len(tasks), figsize=(2.6 * len(tasks) + 1.2, 3.6), squeeze=False)
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(wspace=0.4)
    for ax, task in zip(axes[0], tasks, strict=True):
        ax.set_title(task, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("test GAUC (mean ± std over seeds)")
    return fig, axes[0]


def _zoom(ax, values: list[tuple[float, float]]) -> None:
    lo = [m - (0 if math.isnan(s) else s) for m, s in values if not math.isnan(m)]
    hi = [m + (0 if math.isnan(s) else s) for m, s in values if not math.isnan(m)]
    if lo:
        pad = max(0.15 * (max(hi) - min(lo)), 0.002)
        ax.set_ylim(min(lo) - pad, max(hi) + pad)


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)


def plot_bars(
    path: Path,
    title: str,
    tasks: list[str],
    categories: list[str],
    series: dict[str, dict[str, dict[str, Any]]],
    reference: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Grouped bars: one panel per task, ``categories`` on x, one bar per series, error
    bars = std over seeds; ``series[name][category]`` is a compare_runs group (missing:
    no bar); each ``reference`` group is a dashed horizontal line."""
    fig, axes = _panels(tasks, title)
    width = 0.8 / len(series)
    for ax, task in zip(axes, tasks, strict=True):
        values = []
        for k, (name, groups) in enumerate(series.items()):
            xs, ms, ss = [], [], []
            for i, cat in enumerate(categories):
                if cat in groups:
                    st = _stat(groups[cat], task, "gauc")
                    xs.append(i + (k - (len(series) - 1) / 2) * width)
                    ms.append(st["mean"])
                    ss.append(0.0 if math.isnan(st["std"]) else st["std"])
                    values.append((st["mean"], st["std"]))
            ax.bar(xs, ms, width, yerr=ss, capsize=2, label=name, color=f"C{k}", alpha=0.85)
        for k, (name, group) in enumerate((reference or {}).items(), len(series)):
            st = _stat(group, task, "gauc")
            ax.axhline(st["mean"], color=f"C{k}", linestyle="--", label=name)
            values.append((st["mean"], 0.0))
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels(categories, rotation=60, ha="right", fontsize=8)
        _zoom(ax, values)
    if len(series) + len(reference or {}) > 1:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, fontsize=8, loc="upper right")
    _save(fig, path)


def plot_lines(path: Path, title: str, tasks: list[str], xs: list[str], groups: dict) -> None:
    """Fig. 2: GAUC against the number of graph-enhanced experts, one panel per task."""
    fig, axes = _panels(tasks, title)
    for ax, task in zip(axes, tasks, strict=True):
        pts = [(int(x), _stat(groups[x], task, "gauc")) for x in xs if x in groups]
        ms = [st["mean"] for _, st in pts]
        ss = [0.0 if math.isnan(st["std"]) else st["std"] for _, st in pts]
        ax.errorbar([n for n, _ in pts], ms, yerr=ss, marker="o", capsize=3)
        ax.set_xticks([n for n, _ in pts])
        ax.set_xlabel("graph-enhanced experts")
        _zoom(ax, [(st["mean"], st["std"]) for _, st in pts])
    _save(fig, path)


# ------------------------------------------------------------------------- report


def _run_timing(run_dirs: list[str]) -> list[float]:
    seconds = []
    for d in run_dirs:
        if _done(Path(d)):
            t = json.loads((Path(d) / "reproduce.json").read_text())
            seconds.append(t["train_s"] + t["eval_s"])
    return seconds


def _reference(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """The scorers every run's test metrics hold beside the model (popularity, and the
    oracle on synthetic data): the same for every run, so read from the first."""
    for d in (Path(d) for r in rows for d in r["run_dirs"]):
        if _done(d):
            doc = json.loads(metrics_file(d, "test").read_text())
            return doc.get("baselines", {})
    return {}


def build_report(
    args: argparse.Namespace,
    data: Data,
    rows: list[dict[str, Any]],
    configs: dict[str, RunConfig],
    mogenet_key: str,
    wall: float,
) -> dict[str, Any]:
    """Every study's statistics, the plots (written to ``--out``) and the timings."""
    out = Path(args.out)
    of = {s: [r for r in rows if r["study"] == s] for s in STUDIES}
    report: dict[str, Any] = {
        "preset": args.preset,
        "command": args.command,
        "data": {"name": data.name, "description": data.description},
        "seeds": args.seeds,
        "settings": {
            "shared": [*PRESETS[args.preset]["sets"], *args.set],
            "epochs": args.epochs,
            "device": args.device,
            "mogenet": MOGENET,
            "model_set": args.model_set,
        },
        "studies": {},
        "plots": {},
    }
    t2_groups = load_groups(of["table2"])
    if t2_groups and "table2" in args.studies:
        t2 = table2(t2_groups)
        report["studies"]["table2"] = t2
        report["plots"]["table2"] = "table2.png"
        plot_bars(
            out / "table2.png",
            "Table 2: MoGENet vs baselines",
            t2["tasks"],
            list(t2_groups),
            {"GAUC": t2["groups"]},
        )
    t3_groups = {**t2_groups, **load_groups(of["table3"])}
    pairs = [(r["label"].removesuffix(" + MGNN"), r["label"]) for r in of["table3"]]
    t3 = table3(t3_groups, pairs)
    if t3["pairs"]:
        report["studies"]["table3"] = t3
        first = next(iter(t3["pairs"].values()))
        tasks = list(first["groups"][first["baseline"]]["tasks"])
        heads = list(t3["pairs"])
        base = {h: t3["pairs"][h]["groups"][h] for h in heads}
        plus = {h: t3["pairs"][h]["groups"][t3["pairs"][h]["variant"]] for h in heads}
        reference = None
        if "MoGENet" in t2_groups:
            reference = {"MoGENet": compare(t2_groups, "MoGENet")["groups"]["MoGENet"]}
        report["plots"]["table3"] = "table3.png"
        plot_bars(
            out / "table3.png",
            "Table 3: baselines + MGNN",
            tasks,
            heads,
            {"baseline": base, "+ MGNN": plus},
            reference,
        )
    for name, title in (
        ("table4", "Table 4: interaction κ"),
        ("table5", "Table 5: loss terms"),
        ("fig2", "Fig. 2: graph-enhanced experts"),
    ):
        groups = load_groups(of[name])
        default = next((r["label"] for r in of[name] if r["key"] == mogenet_key), None)
        result = study(groups, default)
        if not result:
            continue
        result["default"] = default
        result["order"] = list(groups)
        report["studies"][name] = result
        tasks = list(next(iter(result["groups"].values()))["tasks"])
        report["plots"][name] = f"{name}.png"
        if name == "fig2":
            plot_lines(out / "fig2.png", title, tasks, list(groups), result["groups"])
        else:
            plot_bars(out / f"{name}.png", title, tasks, list(groups), {"GAUC": result["groups"]})
    report["reference"] = _reference(rows)
    seconds = {
        key: _run_timing(next(r["run_dirs"] for r in rows if r["key"] == key)) for key in configs
    }
    expected = len(configs) * len(args.seeds)
    done = sum(len(v) for v in seconds.values())
    report["runs"] = {
        key: {
            "model": configs[key].model.name,
            "labels": [f"{r['study']}:{r['label']}" for r in rows if r["key"] == key],
            "finished": len(seconds[key]),
            "seconds": seconds[key],
        }
        for key in configs
    }
    report["timing"] = {
        "configurations": len(configs),
        "runs_expected": expected,
        "runs_finished": done,
        "run_seconds_total": float(sum(sum(v) for v in seconds.values())),
        "wall_seconds_this_call": wall,
        "jobs": args.jobs,
        "report_only": args.report_only,
    }
    return report


def _reference_line(reference: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    names = {
        "popularity": "popularity (training-set rates)",
        "oracle": "oracle (true probabilities)",
    }
    parts = []
    for scorer, tasks in reference.items():
        values = ", ".join(
            f"{t} {m['gauc']:.4f}" for t, m in tasks.items() if m.get("gauc") is not None
        )
        parts.append(f"{names.get(scorer, scorer)}: {values}")
    if not parts:
        return []
    return ["Test GAUC of scorers without training, for scale: " + "; ".join(parts) + ".", ""]


def markdown(report: dict[str, Any], *, image_prefix: str) -> str:
    """The tables and image links (``image_prefix`` + PNG name) as Markdown."""
    studies, timing = report["studies"], report["timing"]
    seeds = report["seeds"]
    settings = report["settings"]
    mogenet = ", ".join(f"`{k}={v}`" for k, v in settings["mogenet"].items())
    shared = ", ".join(f"`{s}`" for s in settings["shared"]) or "library defaults"
    lines = [
        f"Generated by `{report['command']}` (preset `{report['preset']}`); do not edit by "
        "hand. Structure of MoGENet's Tables 2–5 and Fig. 2; data: "
        f"{report['data']['description']}.",
        "",
        f"{len(seeds)} seeds per configuration ({', '.join(map(str, seeds))}) on that one "
        f"dataset; test metrics, mean ± sample std over seeds; epochs ≤ "
        f"{settings['epochs']} with early stopping on validation mean GAUC; device "
        f"`{settings['device']}`. Every run: {shared}. MoGENet: {mogenet}"
        + (f"; overrides {', '.join(settings['model_set'])}" if settings["model_set"] else "")
        + ". `mean` = the metric averaged over tasks per run.",
        "",
        f"Runs: {timing['runs_finished']} of {timing['runs_expected']} finished "
        f"({timing['configurations']} configurations); {timing['run_seconds_total'] / 60:.1f} "
        "min of training and evaluation in total, summed over runs"
        + (
            " (tables rebuilt from the cached runs)."
            if timing["report_only"]
            else f" (this call: {timing['wall_seconds_this_call'] / 60:.1f} min wall, "
            f"{timing['jobs']} run(s) at a time)."
        ),
        "",
    ]

    def image(name: str, alt: str) -> list[str]:
        if name not in report["plots"]:
            return []
        return [f"![{alt}]({image_prefix}{report['plots'][name]})", ""]

    if "table2" in studies:
        lines += md_table2(
            studies["table2"],
            "gauc",
            "Table 2 — overall performance (test GAUC)",
            "Best per column in bold, best baseline underlined; MoGENet's \\* / \\*\\* = "
            "better than the best baseline at p < 0.05 / 0.01 (two-sided paired t-test over "
            "seeds); RelaImpr = (GAUC − 0.5) / (GAUC_base − 0.5) − 1.",
        )
        lines += _reference_line(report.get("reference", {}))
        lines += image("table2", "Table 2: test GAUC per task")
        lines += md_table2(studies["table2"], "auc", "Table 2 (test AUC)")
    if "table3" in studies:
        mogenet = studies.get("table2", {}).get("groups", {}).get("MoGENet")
        lines += md_table3(studies["table3"], mogenet)
        lines += image("table3", "Table 3: baselines with and without MGNN")
    titles = {
        "table4": ("Table 4 — interaction κ (test GAUC)", "κ"),
        "table5": (
            "Table 5 — loss: i BCE, ii uncertainty weighting, iii cooperative loss (test GAUC)",
            "loss",
        ),
        "fig2": ("Fig. 2 — graph-enhanced experts, added left to right (test GAUC)", "experts"),
    }
    for name, (title, first) in titles.items():
        if name in studies:
            lines += md_study(studies[name], title, first)
            lines += image(name, title.split(" (")[0])
    return "\n".join(lines)


# ------------------------------------------------------------------------- README


def update_readme(readme: str | os.PathLike, body: str, section: str = "results") -> None:
    """Replace the text between the :func:`readme_markers` of ``section`` in
    ``readme`` (atomically; default: :data:`RESULTS_START` / :data:`RESULTS_END`)."""
    path = Path(readme)
    text = path.read_text()
    start, end = readme_markers(section)
    if text.count(start) != 1 or text.count(end) != 1:
        raise InputError(f"needs one {start} and one {end} marker", file=path)
    head, rest = text.split(start)
    _, tail = rest.split(end)
    with atomic_path(path) as tmp:
        tmp.write_text(f"{head}{start}\n{body.strip()}\n{end}{tail}")


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    # conflict_handler="resolve": this script's --preset (small/full) replaces
    # bench_collab's --preset (the generator preset), which is --synthetic here.
    p = argparse.ArgumentParser(description=doc.splitlines()[0], conflict_handler="resolve")
    add_data_args(p)  # --users --items --interactions --epochs --set (+ --preset, replaced)
    p.add_argument("--preset", choices=sorted(PRESETS), default="small")
    p.add_argument("--quick", action="store_const", const="quick", dest="preset")
    p.add_argument("--synthetic", help="generator preset of the synthetic log")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic log / split")
    p.add_argument("--data", help="a prepared dataset folder or log CSV instead")
    p.add_argument("--tasks", help="comma-separated tasks (default: every task of the data)")
    p.add_argument("--seeds", help="N (seeds 0..N-1) or a comma-separated list")
    p.add_argument("--models", default=",".join(BASELINES), help="Table 2/3 baselines")
    p.add_argument("--studies", default=",".join(STUDIES))
    p.add_argument("--kappas", default=",".join(KAPPAS))
    p.add_argument("--losses", default=",".join(LOSSES))
    p.add_argument("--graph-experts", default=",".join(map(str, GRAPH_EXPERTS)))
    p.add_argument("--beta", type=float, help="β of the loss study (default: MoGENet's)")
    p.add_argument("--model-set", action="append", default=[], metavar="MODEL:KEY=VALUE")
    p.add_argument("--device")
    p.add_argument("--jobs", type=int, help="runs trained in parallel (processes)")
    p.add_argument("--force", action="store_true", help="retrain cached runs")
    p.add_argument("--report-only", action="store_true", help="no training: cached runs only")
    p.add_argument("--work", default="bench/paper_work")
    p.add_argument("--out", default="bench/paper", help="folder for paper.json/.md and PNGs")
    p.add_argument("--readme", help="replace this README's results section")
    p.add_argument(
        "--readme-section",
        default="results",
        help="marker name of that section: <!-- NAME:start --> … <!-- NAME:end -->",
    )
    p.set_defaults(users=None, items=None, interactions=None, epochs=None)
    args = p.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    args.command = " ".join(["python scripts/reproduce_paper.py", *argv])
    preset = PRESETS[args.preset]
    for key in ("synthetic", "users", "items", "interactions", "epochs", "jobs", "device"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    for key in ("latent_noise", "affinity_weight"):  # generator knobs: preset's if any
        if getattr(args, key) is None:
            setattr(args, key, preset.get(key))
    seeds = args.seeds or str(preset["seeds"])
    args.seeds = [int(s) for s in seeds.split(",")] if "," in seeds else list(range(int(seeds)))
    args.studies = _choices(args.studies, STUDIES, "--studies")
    args.models = _choices(args.models, tuple(BASELINES), "--models")
    args.kappas = _choices(args.kappas, KAPPAS, "--kappas")
    args.losses = _choices(args.losses, tuple(LOSSES), "--losses")
    args.graph_experts = [int(n) for n in args.graph_experts.split(",")]
    for s in args.model_set:
        if ":" not in s or "=" not in s:
            raise InputError(f"--model-set expects MODEL:KEY=VALUE, got {s!r}")
    return args


def _choices(value: str, allowed: tuple[str, ...], flag: str) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise InputError(f"{flag}: unknown {', '.join(unknown)} (choose from {', '.join(allowed)})")
    return chosen


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    args = parse_args(argv)
    wall = time.perf_counter()
    work, out = Path(args.work).resolve(), Path(args.out)
    data = prepare_data(args, work)

    specs = build_specs(args)
    mogenet_key = run_key(resolve(Spec("table2", "MoGENet", "mogenet", []), args), data)
    rows: list[dict[str, Any]] = []  # one per spec: study, label, key, run dirs
    configs: dict[str, RunConfig] = {}
    for spec in specs:
        config = resolve(spec, args)
        key = run_key(config, data)
        configs[key] = config
        run_dirs = [str(work / data.name / "runs" / key / f"seed{s}") for s in args.seeds]
        rows.append({**dataclasses.asdict(spec), "key": key, "run_dirs": run_dirs})
    jobs = []
    for key, config in configs.items():
        names = [f"{r['study']}:{r['label']}" for r in rows if r["key"] == key]
        run_dirs = next(r["run_dirs"] for r in rows if r["key"] == key)
        for seed, run_dir in zip(args.seeds, run_dirs, strict=True):
            if _done(Path(run_dir)) and not args.force:
                continue
            seeded = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
            jobs.append(
                {
                    "run_dir": run_dir,
                    "seed": seed,
                    "labels": names,
                    "config": seeded.to_dict(),
                    "graphs": str(data.graphs),
                    "train": str(data.train),
                    "valid": str(data.valid),
                    "test": str(data.test),
                    "device": args.device,
                    "force": args.force,
                }
            )
    n_runs = len(configs) * len(args.seeds)
    todo = 0 if args.report_only else len(jobs)
    print(
        f"{len(configs)} configurations × {len(args.seeds)} seeds = {n_runs} runs: "
        f"{n_runs - len(jobs)} cached, {todo} to train ({args.jobs} at a time)",
        flush=True,
    )
    failures = [] if args.report_only else execute(jobs, args.jobs)

    report = build_report(args, data, rows, configs, mogenet_key, time.perf_counter() - wall)
    body = markdown(report, image_prefix="")
    write_report(out / "paper.json", to_jsonable(report), f"# MoGENet paper reproduction\n\n{body}")
    if args.readme:
        prefix = os.path.relpath(out.resolve(), Path(args.readme).resolve().parent)
        body = markdown(report, image_prefix=Path(prefix).as_posix() + "/")
        update_readme(args.readme, body, args.readme_section)
    if failures:
        raise RuntimeError(f"{len(failures)} run(s) failed:\n" + "\n".join(failures))
    return report


if __name__ == "__main__":
    main()
