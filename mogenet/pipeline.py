"""The stages behind the CLI verbs, as library functions.

``train`` → a run directory; ``evaluate`` / ``predict`` read one.  The CLI only
parses arguments and prints; scripts and notebooks call these directly.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from mogenet import __version__, distributed
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
from mogenet.io import atomic_path, file_sha256, write_json
from mogenet.metrics import evaluate as evaluate_scores
from mogenet.metrics import to_jsonable
from mogenet.run import CHECKPOINT, INCOMPLETE, Run
from mogenet.sampling import BatchMaker, Examples, Fanouts, MultiChannelSampler
from mogenet.sampling.inputs import HeadInputs, data_options
from mogenet.trainer import (
    FitResult,
    HistoryWriter,
    Trainer,
    check_monitor,
    predict,
    resolve_device,
    seed_everything,
)


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
    resume: bool = False,
) -> tuple[Run, FitResult]:
    """Train a model and write its run directory.

    While training, ``out`` is an *incomplete* run directory: ``config.yaml``, the
    history so far (``history.jsonl``, ``history.csv``), ``checkpoint.pt`` (the whole
    training state, rewritten atomically after every epoch) and the marker
    ``incomplete.json`` (the inputs and the command that resumes).  When training
    ends the finished run's files are written (each atomically), then the
    checkpoint and the marker are removed, so :meth:`Run.load` accepts only a
    finished run.  Under ``torchrun`` every rank trains and rank 0 alone writes.

    Args:
        graphs: a graph bundle directory built from ``train_path``.
        train_path: training CSV.
        valid_path: validation CSV (early stopping on its mean GAUC).
        out: the run directory.  An earlier run directory there (finished or not) is
            replaced once the inputs have been read and checked; any other non-empty
            directory is refused before any work.
        config: the resolved configuration.
        resume: continue the interrupted run in ``out`` from its checkpoint (use
            :func:`resume_training`, which reads the config and inputs saved there).

    Raises:
        TrainingInterrupted: on Ctrl-C; ``out`` keeps the checkpoint of the last
            finished epoch and :func:`resume_training` continues from it.
    """
    out = Path(out)
    env = distributed.setup(config.train.device)
    marker = read_incomplete(out) if resume else _check_new_run_dir(out)
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
    if resume and marker.get("train_sha256") not in (None, train_hash):
        raise InputError(
            "the training file changed since this run started (sha256 differs); "
            "a resumed run would not continue the same training",
            file=train_path,
        )
    check_leakage(bundle, valid_log, name="valid")
    config, trainer, extra = make_trainer(bundle, config, train_log, env=env)
    model, loss = trainer.model, trainer.loss
    train_ex = Examples.from_log(train_log, bundle.user_map, bundle.item_map)
    valid_ex = Examples.from_log(valid_log, bundle.user_map, bundle.item_map)
    train_ex, valid_ex = extra.attach(train_ex, train_log), extra.attach(valid_ex, valid_log)
    popularity = PopularityScorer().fit(train_log)

    if env.is_main and not resume:
        inputs = {"graphs": graphs, "train": train_path, "valid": valid_path}
        _start_run_dir(out, config, inputs, train_hash=train_hash, env=env)
    distributed.barrier(env)
    history = HistoryWriter(out, tensorboard=config.train.tensorboard) if env.is_main else None

    def on_epoch(record, improved):
        if history is not None:
            history.write(trainer.history)

    try:
        result = trainer.fit(
            train_ex, valid_ex, on_epoch=on_epoch, checkpoint=out / CHECKPOINT, resume=resume
        )
    finally:
        if history is not None:
            history.close()
    info = {
        "mogenet_version": __version__,
        "tasks": list(tasks),
        "model": config.model.name,
        "seed": config.train.seed,
        "device": str(trainer.device),
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "graph": {"path": os.fspath(Path(graphs).resolve()), "hash": bundle.meta.get("hash")},
        "log_nodes": bundle.log_nodes,
        "train": {"path": os.fspath(train_path), "sha256": train_hash, "rows": len(train_log)},
        "valid": {"path": os.fspath(valid_path), "rows": len(valid_log)},
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
    }
    if env.enabled:
        info["world_size"] = env.world_size
    run = Run(
        config=config,
        info=info,
        user_map=bundle.user_map,
        item_map=bundle.item_map,
        user_features=bundle.user_features(spectral=config.model.spectral),
        item_features=bundle.item_features(spectral=config.model.spectral),
        state={"model": model.cpu().state_dict(), "loss": loss.cpu().state_dict()},
        popularity=popularity,
        inputs=extra,
    )
    if env.is_main:
        HistoryWriter(out).write(result.history)
        run.save(out)
        write_json(out / "metrics.json", to_jsonable({**result.best_metrics, "run": info}))
        (out / CHECKPOINT).unlink(missing_ok=True)
        (out / INCOMPLETE).unlink()  # last: from here on the directory is a finished run
    distributed.barrier(env)
    return run, result


def resume_training(run_dir: str | os.PathLike) -> tuple[Run, FitResult]:
    """Continue the interrupted training in ``run_dir`` from its last checkpoint, with
    the configuration and inputs saved there (same seed on CPU → the same final
    metrics as an uninterrupted run).  A clear :class:`InputError` if ``run_dir`` is a
    finished run or not a run at all."""
    marker = read_incomplete(run_dir)
    config = RunConfig.from_yaml(Path(run_dir) / "config.yaml")
    cwd = marker.get("cwd") or os.getcwd()
    paths = {
        k: v if os.path.isabs(v) or cwd == os.getcwd() else os.path.join(cwd, v)
        for k, v in marker["inputs"].items()
    }
    return train(
        graphs=paths["graphs"],
        train_path=paths["train"],
        valid_path=paths["valid"],
        out=run_dir,
        config=config,
        resume=True,
    )


def resume_command(run_dir: str | os.PathLike, env: distributed.DistEnv | None = None) -> str:
    """The shell command that resumes ``run_dir`` (with ``torchrun`` under DDP)."""
    env = env or distributed.detect()
    cmd = f"mogenet train --resume {os.fspath(run_dir)}"
    if env.enabled:
        per_node = os.environ.get("LOCAL_WORLD_SIZE", env.world_size)
        cmd = f"torchrun --nproc_per_node {per_node} -m " + cmd
    return cmd


def read_incomplete(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The marker of an interrupted run directory (inputs, cwd, training-file hash).

    Raises a one-line :class:`InputError` for a finished run ("nothing to resume"), a
    directory without the marker or without a checkpoint.
    """
    d = Path(run_dir)
    if not d.is_dir():
        raise InputError("run directory not found", file=d)
    if not (d / INCOMPLETE).exists():
        if (d / "run.json").exists():
            info = json.loads((d / "run.json").read_text())
            raise InputError(
                f"training of this run has already finished ({info.get('epochs_run')} "
                f"epoch(s), best epoch {info.get('best_epoch')}); there is nothing to resume",
                file=d,
            )
        raise InputError(f"not an interrupted mogenet run (no {INCOMPLETE})", file=d)
    if not (d / CHECKPOINT).exists():
        raise InputError(f"interrupted run without {CHECKPOINT}; train it again", file=d)
    try:
        return json.loads((d / INCOMPLETE).read_text())
    except ValueError as e:
        raise InputError(f"corrupted {INCOMPLETE} ({e})", file=d) from None


def _check_new_run_dir(out: Path) -> dict[str, Any]:
    """Before any work: ``out`` is absent, empty or an earlier run directory."""
    if out.exists():
        if not out.is_dir():
            raise InputError("exists and is not a directory", file=out)
        earlier = (out / "run.json").exists() or (out / INCOMPLETE).exists()
        if any(out.iterdir()) and not earlier:
            raise InputError(
                "directory exists and is not empty (and has no run.json, so it is not an "
                "earlier run); refusing to overwrite it",
                file=out,
            )
    return {}


def _start_run_dir(
    out: Path,
    config: RunConfig,
    inputs: dict[str, str | os.PathLike],
    *,
    train_hash: str,
    env: distributed.DistEnv,
) -> None:
    """Replace an earlier run in ``out`` by an incomplete one: config + marker."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(config.to_yaml())
    marker = {
        "status": "training has not finished",
        "resume": resume_command(out, env),
        "inputs": {k: os.fspath(v) for k, v in inputs.items()},
        "cwd": os.getcwd(),
        "train_sha256": train_hash,
        "world_size": env.world_size,
    }
    write_json(out / INCOMPLETE, marker)


def with_input_options(config: RunConfig, train_log: InteractionLog) -> RunConfig:
    """``config`` with the head options the training data fixes (``num_scenarios`` for
    heads that read scenarios, :func:`~mogenet.sampling.inputs.data_options`); an
    option the user set wins."""
    from mogenet.build import head_class

    options = data_options(head_class(config.model.name), train_log)
    if not options:
        return config
    options = {**options, **config.model.head_options}
    return replace(config, model=replace(config.model, head_options=options))


def make_trainer(
    bundle: GraphBundle,
    config: RunConfig,
    train_log: InteractionLog,
    *,
    env: distributed.DistEnv | None = None,
) -> tuple[RunConfig, Trainer, HeadInputs]:
    """The seeded model, loss, batches and :class:`Trainer` of a run (what
    :func:`train` trains, without the run directory; benchmarks reuse it).

    Returns the configuration completed with the head's input options, the trainer
    (``trainer.model`` / ``trainer.loss``) and the head's extra inputs fitted on
    ``train_log`` (attach them to every :class:`Examples` the trainer sees).
    """
    config = with_input_options(config, train_log)
    tasks = config.tasks or tuple(bundle.meta["tasks"])
    check_monitor(config.train.monitor, tasks)
    seed_everything(config.train.seed)
    try:
        model = build_model(
            config.model,
            tasks=tasks,
            user_features=bundle.user_features(spectral=config.model.spectral),
            item_features=bundle.item_features(spectral=config.model.spectral),
            log_nodes=bundle.log_nodes,
        )
    except ValueError as e:  # a module rejected a setting (e.g. 0 experts)
        raise InputError(f"model settings: {e}") from None
    lacking = sorted({"user", "item"} - set(config.model.ids))
    if config.loss.contrastive > 0 and lacking and not model.needs_graphs:
        raise InputError(
            "loss.contrastive compares user and item id embeddings, and model.ids "
            f"leaves {config.model.name!r} none for {', '.join(lacking)}: turn one of them off"
        )
    loss = build_loss(config.loss, tasks=tasks)
    device = resolve_device(config.train.device, env)
    batches = make_batches(model, bundle, config.sampler, device=str(device))
    trainer = Trainer(model=model, loss=loss, config=config.train, batches=batches)
    extra = HeadInputs.fit(model.head, train_log, bundle.user_map, bundle.item_map)
    return config, trainer, extra


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
        similarity_folds=config.similarity_folds,
        device=device,
    )
    workers = config.num_workers if sampler.device.type == "cpu" else 0
    return BatchMaker(sampler, num_workers=workers)


def score_log(run: Run, log_or_pairs: InteractionLog | pd.DataFrame, *, device: str = "cpu"):
    """Model probabilities ``{task: [N]}`` for every row (cold-start ids allowed)."""
    frame = log_or_pairs.frame if isinstance(log_or_pairs, InteractionLog) else log_or_pairs
    log = log_or_pairs if isinstance(log_or_pairs, InteractionLog) else InteractionLog(frame, ())
    examples = Examples.from_log(log, run.user_map, run.item_map)
    examples = run.inputs.attach(examples, log)
    model = run.model().to(device)
    bundle = run.bundle() if model.needs_graphs else None
    batches = make_batches(model, bundle, run.config.sampler, device=device)
    return predict(
        model, examples, batch_size=run.config.train.eval_batch_size, device=device, batches=batches
    )


def evaluate(
    run_dir: str | os.PathLike,
    data: str | os.PathLike,
    *,
    device: str = "cpu",
    topk: tuple[int, ...] = (),
) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics of the model, the popularity baseline and (synthetic data) the oracle.

    Returns ``{"model": {task: metrics}, "popularity": …, "oracle": …}``.  The oracle
    row is there only when ``data`` has ``oracle_<task>`` columns; those true
    probabilities also give every scorer ``auc_true`` per task
    (:func:`mogenet.metrics.expected_auc`).  With ``topk`` (e.g.
    ``(10, 20)``) the model and popularity metrics also hold ``recall@K`` and
    ``ndcg@K`` over full item rankings (:func:`mogenet.retrieval.evaluate_retrieval`).
    """
    run = Run.load(run_dir)
    return _evaluate_log(run, read_log(data, CsvSchema(tasks=run.tasks)), device, topk)


def _evaluate_log(
    run: Run, log: InteractionLog, device: str, topk: tuple[int, ...]
) -> dict[str, dict[str, dict[str, float]]]:
    labels = {t: log.frame[t].to_numpy() for t in run.tasks}
    groups = log.frame[USER].to_numpy()
    oracle = oracle_scores(log)
    rows = {
        "model": evaluate_scores(labels, score_log(run, log, device=device), groups, truth=oracle),
        "popularity": evaluate_scores(labels, run.popularity.predict(log), groups, truth=oracle),
    }
    if oracle:
        rows["oracle"] = evaluate_scores(labels, oracle, groups, truth=oracle)
    if topk:
        from mogenet.retrieval import evaluate_retrieval

        for scorer, tasks in evaluate_retrieval(run, log, topk, device=device).items():
            for task, values in tasks.items():
                rows[scorer][task].update(values)
    return rows


def evaluate_to_file(
    run_dir: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    device: str = "cpu",
    topk: tuple[int, ...] = (),
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, Any]]:
    """:func:`evaluate`, then write the metrics JSON to ``out`` (atomically).

    Returns ``(rows, doc)``: the rows of :func:`evaluate` and the written document,
    ``{task: model metrics, …, "baselines": {...}, "run": {...}}``, where
    ``run["unseen"]`` is the share of ``data``'s rows whose user / item does not occur
    in the training log (:meth:`Run.unseen_share`).  The run and the file are read
    once."""
    run = Run.load(run_dir)
    log = read_log(data, CsvSchema(tasks=run.tasks))
    rows = _evaluate_log(run, log, device, topk)
    doc = {**rows["model"], "baselines": {k: v for k, v in rows.items() if k != "model"}}
    doc["run"] = {"run_dir": os.fspath(run_dir), "data": os.fspath(data), **run.info}
    doc["run"]["unseen"] = run.unseen_share(log.frame[USER], log.frame[ITEM])
    write_json(out, to_jsonable(doc))
    return rows, doc


def predict_pairs(
    run_dir: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, *, device="cpu"
) -> pd.DataFrame:
    """Write ``user_id,item_id,p_<task>…`` for every pair of ``data`` (raw ids).

    The returned table's ``attrs["unseen"]`` holds the shares of pairs whose user /
    item the training log lacks (:meth:`Run.unseen_share`), which are cold start."""
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
    table.attrs["unseen"] = run.unseen_share(pairs[USER], pairs[ITEM])
    return table


__all__ = [
    "GraphSourceWarning",
    "build_graphs",
    "split_file",
    "evaluate",
    "evaluate_to_file",
    "predict_pairs",
    "read_incomplete",
    "read_train_valid",
    "resume_command",
    "resume_training",
    "score_log",
    "train",
]
