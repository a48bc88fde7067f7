"""The stages behind the CLI verbs, as library functions.

``train`` → a run directory; ``evaluate`` / ``predict`` read one.  The CLI only
parses arguments and prints; scripts and notebooks call these directly.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from mogenet import __version__
from mogenet.baselines import PopularityScorer, oracle_scores
from mogenet.build import build_loss, build_model
from mogenet.config import GraphConfig, RunConfig, SamplerConfig
from mogenet.datasets.log import ITEM, USER, InteractionLog
from mogenet.datasets.negatives import sample_negatives
from mogenet.datasets.readers import (
    CsvSchema,
    check_same_header,
    read_features,
    read_log,
    read_pairs,
)
from mogenet.datasets.split import drop_train_pairs, split_log
from mogenet.errors import InputError
from mogenet.graphs import GraphBundle, check_leakage
from mogenet.graphs.bundle import BUILD_STAGES, StageClock
from mogenet.io import atomic_dir, atomic_path, file_sha256, write_json
from mogenet.metrics import evaluate as evaluate_scores
from mogenet.metrics import to_jsonable
from mogenet.run import Run
from mogenet.sampling import BatchMaker, Examples, Fanouts, MultiChannelSampler
from mogenet.trainer import FitResult, Trainer, predict, seed_everything


class GraphSourceWarning(UserWarning):
    """The training file is not the file the graphs were built from."""


def split_file(
    log_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    by: str | None = None,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    negatives: int = 0,
    tasks: tuple[str, ...] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Split a log file into ``out/{train,valid,test}.csv`` (each file written atomically).

    ``by`` defaults to ``time`` when the log has timestamps, else ``random``.  Valid
    and test rows whose pair is a training positive are dropped
    (:func:`~mogenet.datasets.split.drop_train_pairs`); with ``negatives=K`` every
    part gets K sampled negatives per positive, never a positive of the user
    anywhere in the log.  Returns a summary.
    """
    if negatives < 0:
        raise InputError(f"--negatives must be >= 0, got {negatives}")
    log = read_log(log_path, CsvSchema(tasks=tasks))
    by = by or ("time" if log.has_timestamp else "random")
    kwargs: dict[str, Any] = {"seed": seed}
    if by != "leave-last":
        kwargs["ratios"] = ratios
    split = drop_train_pairs(split_log(log, by, **kwargs))
    parts = dict(split.items())
    if negatives:
        parts = {
            name: sample_negatives(part, k=negatives, seed=seed + i, exclude=log)
            for i, (name, part) in enumerate(parts.items())
        }
    for name, part in parts.items():  # every input was validated above; each file is atomic
        part.to_csv(Path(out) / f"{name}.csv")
    return {
        "by": by,
        "parts": {
            name: {"rows": len(p), "positives": int(p.positive_mask().sum())}
            for name, p in parts.items()
        },
        "dropped_train_pairs": split.info["dropped_train_pairs"],
    }


def build_graphs(
    train_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    users: str | os.PathLike | None = None,
    items: str | os.PathLike | None = None,
    tasks: tuple[str, ...] | None = None,
    config: GraphConfig | None = None,
    categorical: tuple[str, ...] = (),
    plot: bool | str | os.PathLike = False,
    clock: StageClock | None = None,
) -> GraphBundle:
    """Build the graph bundle of a training file (with optional feature tables) and save it.

    Args:
        train_path: the training log (CSV, wide or long form).
        out: the graph directory to write (atomically).
        users: optional user feature table.
        items: optional item feature table.
        tasks: label columns to use (default: all).
        config: how to build the graphs (:class:`~mogenet.config.GraphConfig`).
        categorical: feature columns to embed as categories even if numeric.
        plot: also draw the degree distributions
            (:func:`~mogenet.graphs.plot.plot_degrees`): ``True`` writes
            ``out/degrees.png``, a path writes that file.
        clock: times the stages (``read``, :data:`~mogenet.graphs.bundle.BUILD_STAGES`,
            ``save``, ``plot``) and draws a progress bar when its ``progress`` is on;
            read :attr:`StageClock.seconds` afterwards.
    """
    plot_path = None
    if plot is True:
        plot_path = Path(out) / "degrees.png"
    elif plot not in (False, None):
        plot_path = Path(plot)
        if plot_path.suffix.lower() != ".png":
            raise InputError("the degree plot must be a .png file", file=plot_path)
    if plot_path is not None:
        from mogenet.graphs.plot import require_matplotlib

        require_matplotlib()  # before any work
    own_clock = clock is None
    clock = clock or StageClock()
    clock.start(("read", *BUILD_STAGES, "save", *(("plot",) if plot_path else ())))
    try:
        with clock("read"):
            log = read_log(train_path, CsvSchema(tasks=tasks))
            user_table = (
                read_features(users, id_column=USER, categorical=categorical) if users else None
            )
            item_table = (
                read_features(items, id_column=ITEM, categorical=categorical) if items else None
            )
        bundle = GraphBundle.build(
            log,
            config=config or GraphConfig(),
            users=user_table,
            items=item_table,
            source=train_path,
            clock=clock,
        )
        with clock("save"):
            bundle.save(out)
        if plot_path is not None:
            from mogenet.graphs.plot import plot_degrees

            with clock("plot"):
                plot_degrees(bundle, plot_path)
    finally:
        if own_clock:
            clock.close()
    return bundle


def read_train_valid(
    train: str | os.PathLike, valid: str | os.PathLike, tasks: tuple[str, ...] | None
) -> tuple[InteractionLog, InteractionLog]:
    """Read the training and validation logs and check that their columns agree."""
    check_same_header(train, valid)
    schema = CsvSchema(tasks=tasks)
    return read_log(train, schema), read_log(valid, schema)


def train(
    *,
    graphs: str | os.PathLike,
    train_path: str | os.PathLike,
    valid_path: str | os.PathLike,
    out: str | os.PathLike,
    config: RunConfig,
) -> tuple[Run, FitResult]:
    """Train a model and write its run directory (atomically: all or nothing).

    Args:
        graphs: a graph bundle directory built from ``train_path``.
        train_path: training CSV.
        valid_path: validation CSV (early stopping on its mean GAUC).
        out: the run directory to create (replaced if it exists, only on success).
        config: the resolved configuration.
    """
    bundle = GraphBundle.load(graphs)
    tasks = config.tasks or tuple(bundle.meta["tasks"])
    config = replace(config, tasks=tuple(tasks))
    train_log, valid_log = read_train_valid(train_path, valid_path, tuple(tasks))
    source = bundle.meta.get("source") or {}
    train_hash = file_sha256(train_path)
    if source.get("sha256") and source["sha256"] != train_hash:
        warnings.warn(
            f"{train_path}: differs from the file the graphs were built from "
            f"({source.get('path')}); id maps and edges may not match",
            GraphSourceWarning,
            stacklevel=2,
        )
    check_leakage(bundle, valid_log, name="valid")

    seed_everything(config.train.seed)
    model = build_model(
        config.model,
        tasks=tasks,
        user_features=bundle.user_features(),
        item_features=bundle.item_features(),
    )
    loss = build_loss(config.loss, tasks=tasks)
    batches = make_batches(model, bundle, config.sampler, device=config.train.device)
    trainer = Trainer(model=model, loss=loss, config=config.train, batches=batches)
    train_ex = Examples.from_log(train_log, bundle.user_map, bundle.item_map)
    valid_ex = Examples.from_log(valid_log, bundle.user_map, bundle.item_map)
    popularity = PopularityScorer().fit(train_log)

    with atomic_dir(out, marker="run.json") as tmp:
        history = open(tmp / "history.jsonl", "w")

        def on_epoch(record, improved):
            history.write(json.dumps(to_jsonable(record.to_dict())) + "\n")
            history.flush()

        try:
            result = trainer.fit(train_ex, valid_ex, on_epoch=on_epoch)
        finally:
            history.close()
        info = {
            "mogenet_version": __version__,
            "tasks": list(tasks),
            "model": config.model.name,
            "seed": config.train.seed,
            "device": str(trainer.device),
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "graph": {"path": os.fspath(Path(graphs).resolve()), "hash": bundle.meta.get("hash")},
            "train": {"path": os.fspath(train_path), "sha256": train_hash, "rows": len(train_log)},
            "valid": {"path": os.fspath(valid_path), "rows": len(valid_log)},
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "stopped_early": result.stopped_early,
        }
        run = Run(
            config=config,
            info=info,
            user_map=bundle.user_map,
            item_map=bundle.item_map,
            user_features=bundle.user_features(),
            item_features=bundle.item_features(),
            state={"model": model.cpu().state_dict(), "loss": loss.cpu().state_dict()},
            popularity=popularity,
        )
        run.save(tmp)
        write_json(tmp / "metrics.json", to_jsonable({**result.best_metrics, "run": info}))
    return run, result


def make_batches(
    model, bundle: GraphBundle | None, config: SamplerConfig, *, device: str = "cpu"
) -> BatchMaker:
    """Plain batches, or batches with sampled subgraphs for models that read graphs."""
    if not model.needs_graphs:
        return BatchMaker()
    sampler = MultiChannelSampler(
        bundle,
        fanouts=Fanouts(
            bipartite=config.bipartite, user_sim=config.user_sim, item_sim=config.item_sim
        ),
        weighted_similarity=config.weighted_similarity,
        remove_target_edges=config.remove_target_edges,
        device=device,
    )
    workers = config.num_workers if sampler.device.type == "cpu" else 0
    return BatchMaker(sampler, num_workers=workers)


def score_log(run: Run, log_or_pairs: InteractionLog | pd.DataFrame, *, device: str = "cpu"):
    """Model probabilities ``{task: [N]}`` for every row (cold-start ids allowed)."""
    frame = log_or_pairs.frame if isinstance(log_or_pairs, InteractionLog) else log_or_pairs
    log = log_or_pairs if isinstance(log_or_pairs, InteractionLog) else InteractionLog(frame, ())
    examples = Examples.from_log(log, run.user_map, run.item_map)
    model = run.model().to(device)
    bundle = run.bundle() if model.needs_graphs else None
    batches = make_batches(model, bundle, run.config.sampler, device=device)
    return predict(
        model, examples, batch_size=run.config.train.eval_batch_size, device=device, batches=batches
    )


def evaluate(
    run_dir: str | os.PathLike, data: str | os.PathLike, *, device: str = "cpu"
) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics of the model, the popularity baseline and (synthetic data) the oracle.

    Returns ``{"model": {task: metrics}, "popularity": …, "oracle": …}`` (the oracle
    only when ``data`` has ``oracle_<task>`` columns).
    """
    run = Run.load(run_dir)
    log = read_log(data, CsvSchema(tasks=run.tasks))
    labels = {t: log.frame[t].to_numpy() for t in run.tasks}
    groups = log.frame[USER].to_numpy()
    rows = {
        "model": evaluate_scores(labels, score_log(run, log, device=device), groups),
        "popularity": evaluate_scores(labels, run.popularity.predict(log), groups),
    }
    oracle = oracle_scores(log)
    if oracle:
        rows["oracle"] = evaluate_scores(labels, oracle, groups)
    return rows


def write_metrics(
    path: str | os.PathLike, rows: dict[str, Any], run_dir: str | os.PathLike, data
) -> None:
    """Metrics JSON: ``{task: model metrics, …, "baselines": {...}, "run": {...}}``."""
    info = Run.load(run_dir).info
    doc = {**rows["model"], "baselines": {k: v for k, v in rows.items() if k != "model"}}
    doc["run"] = {"run_dir": os.fspath(run_dir), "data": os.fspath(data), **info}
    write_json(path, to_jsonable(doc))


def predict_pairs(
    run_dir: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, *, device="cpu"
) -> pd.DataFrame:
    """Write ``user_id,item_id,p_<task>…`` for every pair of ``data`` (raw ids)."""
    run = Run.load(run_dir)
    pairs = read_pairs(data)
    scores = score_log(run, pairs, device=device)
    table = pairs[[USER, ITEM]].copy()
    for t in run.tasks:
        table[f"p_{t}"] = scores[t]
    if not len(table):
        raise InputError("no pairs to score", file=data)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    return table


__all__ = [
    "GraphSourceWarning",
    "build_graphs",
    "split_file",
    "evaluate",
    "predict_pairs",
    "read_train_valid",
    "score_log",
    "train",
    "write_metrics",
]
