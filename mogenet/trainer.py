r"""The :class:`Trainer`: mini-batch training with early stopping on a validation score.

The trainer knows nothing about model classes: it calls ``model(batch)`` to get a
:class:`~mogenet.nn.HeadOutput` and ``loss(output, batch.labels)`` to get a
:class:`~mogenet.losses.LossOutput`.  Everything a head needs beyond the pair
(graphs, sequences) travels inside the batch, never through trainer branches.

What a production run gets on top of the loop:

- **Devices and precision.** CPU or CUDA; on CUDA the forward pass and the loss run
  under bf16 autocast (``train.amp``, ignored on CPU).
- **Optimisation.** Adam, gradient-norm clipping (``train.grad_clip``) and a
  per-step learning-rate schedule from :data:`LR_SCHEDULES` (``train.lr_schedule``).
- **Checkpoints.** With ``fit(checkpoint=PATH)`` the whole training state — model,
  loss, optimiser, scheduler, the RNG states of Python, NumPy and PyTorch (every
  rank), the epoch, the best weights and score, the early-stopping counter and the
  history — is written atomically before the first epoch and after every epoch;
  ``fit(checkpoint=PATH, resume=True)`` continues from it.  Batches are a function
  of ``(seed, epoch)`` (:class:`~mogenet.sampling.PairLoader`, and each sampled
  subgraph of ``(seed, epoch, batch)``), so a resumed run replays exactly the
  batches and random draws of an uninterrupted one: on CPU the final metrics are
  identical.  An interrupted epoch is redone from its start (checkpoints are per
  epoch); Ctrl-C raises :class:`TrainingInterrupted`, which names the epoch the
  checkpoint holds.
- **Data-parallel training** under ``torchrun`` (:mod:`mogenet.distributed`).
- **Monitoring.** A tqdm bar over all steps (live loss, last validation score, ETA
  to the last epoch — early stopping may end sooner), and an :class:`EpochRecord`
  per epoch with the learning rate and each task's mean gate weight per expert on
  the validation set; :class:`HistoryWriter` writes them as JSONL, CSV and
  (optionally) TensorBoard scalars.
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import random
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from mogenet import distributed
from mogenet.config import TrainConfig
from mogenet.errors import InputError, TrainingError, did_you_mean
from mogenet.io import atomic_path
from mogenet.metrics import evaluate, to_jsonable
from mogenet.nn.resolver import Registry
from mogenet.sampling import BatchMaker, Examples, PairBatch, PairLoader

#: Version of the checkpoint layout (bumped when its keys change).
CHECKPOINT_FORMAT = 1


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str, env: distributed.DistEnv | None = None) -> torch.device:
    """``cpu`` / ``cuda`` / ``cuda:N`` → a device, with a clear error if CUDA is absent.

    Under ``torchrun`` (``env`` with several processes) ``cuda`` means
    ``cuda:LOCAL_RANK``.
    """
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r} (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but CUDA is not available on this machine")
    return distributed.local_device(device, env or distributed.DistEnv())


def mean_gauc(metrics: dict[str, dict[str, float]]) -> float:
    """Mean GAUC over tasks (NaN tasks ignored; falls back to AUC if every GAUC is NaN)."""
    for key in ("gauc", "auc"):
        values = [m[key] for m in metrics.values() if not math.isnan(m[key])]
        if values:
            return float(np.mean(values))
    return math.nan


#: Metrics that ``train.monitor`` may name → whether higher is better.
MONITORED = {"gauc": True, "auc": True, "logloss": False}


def check_monitor(monitor: str, tasks: Sequence[str] | None = None) -> None:
    """Raise :class:`~mogenet.errors.InputError` unless ``monitor`` is ``METRIC`` or
    ``TASK.METRIC`` with a metric of :data:`MONITORED` (and, given ``tasks``, one of
    them)."""
    task, _, metric = monitor.rpartition(".")
    if metric not in MONITORED:
        raise InputError(
            f"train.monitor: unknown metric {metric!r} in {monitor!r}; use one of "
            f"{', '.join(MONITORED)}, or TASK.METRIC" + did_you_mean(metric, MONITORED)
        )
    if task and tasks is not None and task not in tasks:
        raise InputError(
            f"train.monitor: unknown task {task!r}; the tasks are {', '.join(tasks)}"
            + did_you_mean(task, tasks)
        )


def monitor_score(metrics: dict[str, dict[str, float]], monitor: str = "gauc") -> float:
    """The validation score named by ``train.monitor``, higher is better: the mean
    over tasks of ``gauc`` (:func:`mean_gauc`), ``auc`` or ``logloss`` (negated), or
    ``TASK.METRIC`` for one task. GAUC falls back to AUC where no task has one, as
    in :func:`mean_gauc`; otherwise NaN when no task has the metric."""
    task, _, metric = monitor.rpartition(".")
    chosen = {task: metrics[task]} if task else metrics
    if metric == "gauc":
        return mean_gauc(chosen)
    chosen = list(chosen.values())
    values = [m[metric] for m in chosen if not math.isnan(m[metric])]
    if not values:
        return math.nan
    mean = float(np.mean(values))
    return mean if MONITORED[metric] else -mean


# --------------------------------------------------------------------------------------
# Learning-rate schedules: factor of the base lr at optimiser step `step` (0-based) of
# `total`, with `warmup` warm-up steps.  One decorated function per schedule.

#: Learning-rate schedules by name (``train.lr_schedule``).
LR_SCHEDULES: Registry = Registry("learning-rate schedule")


@LR_SCHEDULES.register("constant")
def constant_schedule(step: int, *, total: int, warmup: int) -> float:
    """The base learning rate at every step."""
    return 1.0


@LR_SCHEDULES.register("cosine")
def cosine_schedule(step: int, *, total: int, warmup: int) -> float:
    r"""Cosine annealing (Loshchilov & Hutter, `SGDR <https://arxiv.org/abs/1608.03983>`_)
    from the base rate to 0 at step ``total``: :math:`\tfrac12(1 + \cos(\pi t / T))`."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


@LR_SCHEDULES.register("warmup_cosine")
def warmup_cosine_schedule(step: int, *, total: int, warmup: int) -> float:
    r"""Linear warm-up :math:`(t + 1) / W` over the first ``warmup`` steps, then cosine
    annealing to 0 over the remaining ``total - warmup``."""
    if step < warmup:
        return (step + 1) / warmup
    return cosine_schedule(step - warmup, total=max(total - warmup, 1), warmup=0)


# --------------------------------------------------------------------------------------


@dataclass
class EpochRecord:
    """One line of the training history.

    Args:
        epoch: 1-based epoch number.
        train_loss: mean total loss over the epoch's steps.
        train_task_loss: task → mean unweighted BCE.
        task_weights: task → loss weight after the epoch (:math:`1/\\sigma_k^2` for
            uncertainty weighting, so :math:`\\sigma_k = w_k^{-1/2}`).
        valid: task → validation metrics.
        valid_score: the early-stopping score, :func:`monitor_score` of ``valid``
            (``train.monitor``; the history also keeps the mean GAUC as
            ``valid_mean_gauc``).
        seconds: wall-clock time of the epoch (training and validation).
        lr: learning rate of the epoch's last step (first parameter group).
        gate_usage: task → mean gate weight per expert over the validation set, for
            heads that return gates; ``None`` otherwise.
        train_terms: name → mean over the epoch's steps of each named component of
            the total loss (``main``, and ``cooperative``, ``contrastive`` or a
            head's own terms when on), as :class:`~mogenet.losses.LossOutput`
            holds them: built-in terms before their coefficient, head terms as the
            head returns them (already scaled).
    """

    epoch: int
    train_loss: float
    train_task_loss: dict[str, float]
    task_weights: dict[str, float]
    valid: dict[str, dict[str, float]]
    valid_score: float
    seconds: float
    lr: float = math.nan
    gate_usage: dict[str, list[float]] | None = None
    train_terms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_task_loss": self.train_task_loss,
            "task_weights": self.task_weights,
            "valid": self.valid,
            "valid_mean_gauc": mean_gauc(self.valid) if self.valid else self.valid_score,
            "valid_score": self.valid_score,
            "seconds": self.seconds,
            "lr": self.lr,
            "gate_usage": self.gate_usage,
            "train_terms": self.train_terms,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EpochRecord:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        mean = d.pop("valid_mean_gauc")
        d.setdefault("valid_score", mean)  # histories written before train.monitor
        return cls(**d)


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns.

    Args:
        history: one record per epoch (those before a resume included).
        best_epoch: epoch of the best validation score (-1 if none).
        best_score: that score.
        stopped_early: whether early stopping ended training.
        start_epoch: the epoch the checkpoint held when the run resumed (0 = fresh).
    """

    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -math.inf
    stopped_early: bool = False
    start_epoch: int = 0

    @property
    def best_metrics(self) -> dict[str, dict[str, float]]:
        for record in self.history:
            if record.epoch == self.best_epoch:
                return record.valid
        return {}


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :meth:`Trainer.fit`.

    Args:
        epoch: the epoch that was running.
        saved_epoch: the last epoch the checkpoint holds (0 = before the first
            epoch), or ``None`` without a checkpoint.
    """

    def __init__(self, *, epoch: int, saved_epoch: int | None) -> None:
        super().__init__(f"interrupted during epoch {epoch}")
        self.epoch = epoch
        self.saved_epoch = saved_epoch


class TrainStep(nn.Module):
    """Model and loss as one module: ``batch`` → ``(HeadOutput, LossOutput)``.

    Wrapping both in one :class:`~torch.nn.parallel.DistributedDataParallel`
    synchronises the loss's own parameters (uncertainty log-variances) with the
    model's.
    """

    def __init__(self, model: nn.Module, loss: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, batch: PairBatch):
        out = self.model(batch)
        return out, self.loss(out, batch.labels)


@torch.no_grad()
def collect(
    model: nn.Module,
    examples: Examples,
    *,
    batch_size: int,
    device: torch.device | str = "cpu",
    batches: BatchMaker | None = None,
    amp: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Probabilities per task in example order, and the per-task sums over the examples
    of the gate weights ``[E]`` (``None`` for heads without gates)."""
    model.eval()
    device = torch.device(device)
    parts: dict[str, list[np.ndarray]] = {}
    gate_sums: dict[str, Tensor] | None = None
    for batch in (batches or BatchMaker()).loader(examples, batch_size=batch_size):
        with _autocast(device, amp):
            out = model(batch.to(device))
        for t, p in out.probabilities().items():
            parts.setdefault(t, []).append(p.float().cpu().numpy())
        if out.gates is not None:
            sums = {t: g.float().sum(dim=0) for t, g in out.gates.items()}  # [E] per task
            gate_sums = (
                sums if gate_sums is None else {t: gate_sums[t] + s for t, s in sums.items()}
            )
    probs = {t: np.concatenate(v) for t, v in parts.items()}
    gates = (
        None if gate_sums is None else {t: s.cpu().double().numpy() for t, s in gate_sums.items()}
    )
    return probs, gates


def predict(
    model: nn.Module,
    examples: Examples,
    *,
    batch_size: int,
    device: torch.device | str = "cpu",
    batches: BatchMaker | None = None,
) -> dict[str, np.ndarray]:
    """Probabilities per task for every example of ``examples``, in example order."""
    return collect(model, examples, batch_size=batch_size, device=device, batches=batches)[0]


def _autocast(device: torch.device, enabled: bool) -> AbstractContextManager:
    """bf16 autocast on ``device`` when ``enabled`` (a no-op context otherwise)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


# --------------------------------------------------------------------------------------
# Checkpoint files and RNG states (plain types only, so `torch.load(weights_only=True)`).


def rng_state() -> dict[str, Any]:
    """The RNG states of Python, NumPy and PyTorch (CPU and every CUDA device)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> None:
    """Write a training state atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        torch.save(dict(state), tmp)


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """Read a training state; a clear :class:`InputError` if it is missing or corrupted."""
    if not Path(path).exists():
        raise InputError("checkpoint not found", file=path)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as e:
        first = (str(e).splitlines() or [""])[0][:200]
        raise InputError(f"corrupted checkpoint ({type(e).__name__}: {first})", file=path) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"not a mogenet checkpoint (format {CHECKPOINT_FORMAT})", file=path)
    return state


# --------------------------------------------------------------------------------------
# History files.


class TensorBoardUnavailable(UserWarning):
    """``train.tensorboard`` is on but TensorBoard cannot be imported."""


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists → one level with dotted keys (``valid.click.auc``,
    ``gate_usage.click.0``)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out.update(flatten({str(i): v for i, v in enumerate(value)}, f"{name}."))
        else:
            out[name] = value
    return out


def _summary_writer(log_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        warnings.warn(
            f"train.tensorboard is on but TensorBoard cannot be imported ({e}); "
            "install it with `pip install tensorboard`. The history is still written "
            "to history.jsonl and history.csv",
            TensorBoardUnavailable,
            stacklevel=3,
        )
        return None
    return SummaryWriter(log_dir=os.fspath(log_dir))


class HistoryWriter:
    """Writes a training history as ``history.jsonl`` (one JSON object per epoch) and
    ``history.csv`` (one row per epoch, nested values flattened into dotted columns
    such as ``valid.click.auc`` and ``gate_usage.click.0``), and optionally logs each
    new epoch's numbers as TensorBoard scalars under ``tensorboard/``.

    :meth:`write` rewrites both files from the whole history, atomically, so after a
    resume they hold exactly the checkpoint's history plus the new epochs.

    Args:
        directory: where the files go (the run directory).
        tensorboard: also log to TensorBoard (a :class:`TensorBoardUnavailable`
            warning, and no TensorBoard logs, if it cannot be imported).
    """

    def __init__(self, directory: str | os.PathLike, *, tensorboard: bool = False) -> None:
        self.directory = Path(directory)
        self._tensorboard = _summary_writer(self.directory / "tensorboard") if tensorboard else None

    def __repr__(self) -> str:
        return f"HistoryWriter({os.fspath(self.directory)!r}, tensorboard={self.tensorboard})"

    @property
    def tensorboard(self) -> bool:
        return self._tensorboard is not None

    def write(self, history: Sequence[EpochRecord]) -> None:
        rows = [to_jsonable(r.to_dict()) for r in history]
        with atomic_path(self.directory / "history.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        with atomic_path(self.directory / "history.csv") as tmp:
            pd.DataFrame([flatten(r) for r in rows]).to_csv(tmp, index=False)
        if self._tensorboard is not None and rows:
            last = flatten(rows[-1])
            for key, value in last.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self._tensorboard.add_scalar(key.replace(".", "/"), value, last["epoch"])
            self._tensorboard.flush()

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()


# --------------------------------------------------------------------------------------


class Trainer:
    """Trains a multi-task model with Adam and early stopping on a validation score
    (``train.monitor``, by default the mean GAUC over tasks).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) it joins the process group and trains
    data-parallel (:mod:`mogenet.distributed`): ``config.batch_size`` is the global
    batch, validation metrics are exact over the whole validation set on every rank,
    and only rank 0 writes checkpoints and draws the progress bar.

    Args:
        model: maps a :class:`~mogenet.sampling.PairBatch` to a head output.
        loss: maps ``(output, labels)`` to a loss output (may own parameters, e.g.
            uncertainty log-variances; they are optimised without weight decay).
        config: optimisation settings.
        batches: how examples become batches (with sampled subgraphs for graph
            models); plain batches by default.
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        loss: nn.Module,
        config: TrainConfig,
        batches: BatchMaker | None = None,
    ) -> None:
        if config.grad_clip < 0:
            raise InputError(f"train.grad_clip must be >= 0 (0 = off), got {config.grad_clip}")
        if config.warmup_epochs < 0:
            raise InputError(f"train.warmup_epochs must be >= 0, got {config.warmup_epochs}")
        check_monitor(config.monitor)
        self.schedule = LR_SCHEDULES.get_class(config.lr_schedule)
        self.config = config
        self.batches = batches or BatchMaker()
        self.dist = distributed.setup(config.device)
        self.device = resolve_device(config.device, self.dist)
        if config.cpu_threads > 0:
            torch.set_num_threads(config.cpu_threads)
        if config.flush_denormal and self.device.type == "cpu":
            torch.set_flush_denormal(True)  # process-wide; see TrainConfig.flush_denormal
        self.amp = bool(config.amp) and self.device.type == "cuda"
        self.model = model.to(self.device)
        self.loss = loss.to(self.device)
        self.step_module = distributed.wrap(
            TrainStep(self.model, self.loss),
            self.device,
            self.dist,
            find_unused_parameters=config.find_unused_parameters,
        )
        groups = [{"params": list(self.model.parameters()), "weight_decay": config.weight_decay}]
        loss_params = list(self.loss.parameters())
        if loss_params:
            groups.append({"params": loss_params, "weight_decay": 0.0})
        # fused: one kernel for all parameters instead of ~200 small per-tensor ops
        # per step (10-12 % of an MMoE step on CPU, scripts/bench_train.py --profile).
        self.optimizer = torch.optim.Adam(groups, lr=config.lr, fused=True)
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.result = FitResult()
        self._saved_epoch: int | None = None

    def __repr__(self) -> str:
        ddp = f", world_size={self.dist.world_size}" if self.dist.enabled else ""
        return (
            f"Trainer(device={self.device}, lr={self.config.lr}, "
            f"lr_schedule={self.config.lr_schedule}, epochs={self.config.epochs}{ddp})"
        )

    @property
    def history(self) -> list[EpochRecord]:
        """The records of the current (or last) :meth:`fit`, resumed ones included."""
        return self.result.history

    def fit(
        self,
        train: Examples,
        valid: Examples | None = None,
        *,
        on_epoch: Callable[[EpochRecord, bool], None] | None = None,
        checkpoint: str | os.PathLike | None = None,
        resume: bool = False,
    ) -> FitResult:
        """Train; keep (and finally restore) the weights of the best validation epoch.

        Args:
            train: training examples (shuffled each epoch with ``seed + epoch``).
            valid: validation examples; without them every epoch counts as best.
            on_epoch: called after each epoch (and its checkpoint) with the record
                and whether it is the best so far (e.g. to write the history).
            checkpoint: file of the training state, written (by rank 0) before the
                first epoch and after every epoch.
            resume: continue from ``checkpoint`` instead of starting afresh.

        Raises:
            TrainingInterrupted: on Ctrl-C; the checkpoint holds the last finished
                epoch and ``fit(..., resume=True)`` continues from it.
            TrainingError: on a non-finite loss (naming epoch, step and tasks).
        """
        cfg = self.config
        if resume and checkpoint is None:
            raise ValueError("resume=True needs the checkpoint to resume from")
        loader = self.batches.loader(train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
        loader.set_shard(self.dist)
        steps = len(loader)
        total, warmup = cfg.epochs * steps, round(cfg.warmup_epochs * steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: self.schedule(step, total=total, warmup=warmup)
        )
        result = self.result = FitResult()
        best_state, stale = None, 0
        if resume:
            best_state, stale = self._restore(load_checkpoint(checkpoint, self.device))
        elif checkpoint is not None:
            self._save(checkpoint, 0, best_state, stale)
        epoch = result.start_epoch
        bar = tqdm(
            total=total,
            initial=min(epoch * steps, total),
            disable=None if self.dist.is_main else True,
            unit="batch",
            dynamic_ncols=True,
        )
        try:
            while epoch < cfg.epochs and not result.stopped_early:
                epoch += 1
                bar.set_description(f"epoch {epoch}/{cfg.epochs}")
                start = time.perf_counter()
                loader.set_epoch(epoch)
                train_loss, task_loss, terms, lr = self._train_epoch(loader, epoch, bar)
                if valid is not None and len(valid):
                    metrics, gate_usage = self.validate(valid)
                else:
                    metrics, gate_usage = {}, None
                score = monitor_score(metrics, cfg.monitor) if metrics else -float(train_loss)
                improved = not math.isnan(score) and score > result.best_score
                record = EpochRecord(
                    epoch=epoch,
                    train_loss=train_loss,
                    train_task_loss=task_loss,
                    task_weights=self._task_weights(),
                    valid=metrics,
                    valid_score=score,
                    seconds=time.perf_counter() - start,
                    lr=lr,
                    gate_usage=gate_usage,
                    train_terms=terms,
                )
                result.history.append(record)
                if improved:
                    result.best_epoch, result.best_score, stale = epoch, score, 0
                    best_state = self._state()
                else:
                    stale += 1
                result.stopped_early = stale >= cfg.patience
                bar.set_postfix(loss=f"{train_loss:.4f}", valid=f"{score:.4f}")
                if checkpoint is not None:
                    self._save(checkpoint, epoch, best_state, stale)
                if on_epoch is not None:
                    on_epoch(record, improved)
        except KeyboardInterrupt as e:
            raise TrainingInterrupted(epoch=epoch, saved_epoch=self._saved_epoch) from e
        finally:
            bar.close()
        if best_state is not None:
            self._load_state(best_state)
        return result

    def _train_epoch(
        self, loader: PairLoader, epoch: int, bar: tqdm
    ) -> tuple[float, dict[str, float], dict[str, float], float]:
        """One pass over ``loader``: mean total loss, mean loss per task, mean of each
        named loss term, last lr."""
        self.step_module.train()
        total, per_task, per_term, steps = 0.0, {}, {}, 0
        lr = float(self.optimizer.param_groups[0]["lr"])
        for batch in loader:
            steps += 1
            lr = float(self.optimizer.param_groups[0]["lr"])
            loss, task_loss, terms = self._train_step(
                batch.to(self.device, non_blocking=True), epoch, steps
            )
            total += loss
            for t, v in task_loss.items():
                per_task[t] = per_task.get(t, 0.0) + v
            for name, v in terms.items():
                per_term[name] = per_term.get(name, 0.0) + v
            bar.update()
            if steps % 20 == 0:
                bar.set_postfix(self._postfix(total / steps), refresh=False)
        steps = max(steps, 1)
        return (
            total / steps,
            {t: v / steps for t, v in per_task.items()},
            {name: v / steps for name, v in per_term.items()},
            lr,
        )

    def _train_step(
        self, batch: PairBatch, epoch: int, step: int
    ) -> tuple[float, dict[str, float], dict[str, float]]:
        """Forward, finiteness check, backward, clip, optimiser and scheduler step.

        Returns the global (all-rank) total loss, per-task losses and named loss
        terms of the step: each
        rank's values weighted by its share ``n_r / n`` of the global batch and summed
        in one all-reduce, which also makes every rank see a non-finite loss together.
        """
        with _autocast(self.device, self.amp):
            _, out = self.step_module(batch)
        tasks, names = list(out.per_task), list(out.terms)
        n_r = float(len(batch))
        stats = torch.stack(
            [
                out.total.detach(),
                *(out.per_task[t].detach() for t in tasks),
                *(out.terms[name].detach().to(out.total.dtype) for name in names),
            ]
        )
        stats = stats.double()
        stats = torch.cat([stats.new_ones(1), stats]) * n_r  # [1 + 1 + K + T]: n_r, n_r·losses
        stats = distributed.all_reduce_sum(stats, self.dist).cpu()
        n, values = float(stats[0]), (stats[1:] / stats[0]).tolist()
        k = 1 + len(tasks)  # values: total, the K task losses, the T terms
        if not math.isfinite(values[0]):
            bad = [t for t, v in zip(tasks, values[1:k], strict=True) if not math.isfinite(v)]
            raise TrainingError(
                f"non-finite loss at epoch {epoch} step {step}"
                + (f" (tasks: {', '.join(bad)})" if bad else "")
            )
        self.optimizer.zero_grad(set_to_none=True)
        total = out.total
        if self.dist.enabled:  # DDP averages gradients: weight this rank by n_r / n
            total = total * (n_r * self.dist.world_size / n)
        total.backward()
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.step_module.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return (
            values[0],
            dict(zip(tasks, values[1:k], strict=True)),
            dict(zip(names, values[k:], strict=True)),
        )

    def _postfix(self, loss: float) -> dict[str, str]:
        post = {"loss": f"{loss:.4f}"}
        if self.result.history:
            post["valid"] = f"{self.result.history[-1].valid_score:.4f}"
        return post

    def _task_weights(self) -> dict[str, float]:
        weights = getattr(self.loss, "task_weights", None)
        return {t: float(w) for t, w in weights().items()} if callable(weights) else {}

    def predict(self, examples: Examples) -> dict[str, np.ndarray]:
        """Probabilities per task for every example, in example order (every rank gets
        all of them under DDP)."""
        return self._collect(examples)[0]

    def evaluate(self, examples: Examples) -> dict[str, dict[str, float]]:
        """Per-task AUC / GAUC / logloss of the current model on ``examples``."""
        return self.validate(examples)[0]

    def validate(
        self, examples: Examples
    ) -> tuple[dict[str, dict[str, float]], dict[str, list[float]] | None]:
        """Per-task metrics and the mean gate weight per expert of each task (``None``
        for heads without gates) on ``examples``."""
        scores, gate_sums = self._collect(examples)
        labels = {t: examples.labels[:, k].numpy() for k, t in enumerate(examples.tasks)}
        metrics = evaluate(labels, scores, examples.group)
        n = max(len(examples), 1)
        usage = None if gate_sums is None else {t: (s / n).tolist() for t, s in gate_sums.items()}
        return metrics, usage

    def _collect(self, examples: Examples):
        """:func:`collect` over this rank's shard, gathered from every rank."""
        part = examples
        if self.dist.enabled:
            part = examples.subset(distributed.shard(torch.arange(len(examples)), self.dist))
        probs, gates = collect(
            self.model,
            part,
            batch_size=self.config.eval_batch_size,
            device=self.device,
            batches=self.batches,
            amp=self.amp,
        )
        if not self.dist.enabled:
            return probs, gates
        gathered = distributed.all_gather((probs, gates), self.dist)
        probs = distributed.concat_gathered([p for p, _ in gathered])
        sums = [g for _, g in gathered if g is not None]
        gates = {t: sum(g[t] for g in sums) for t in sums[0]} if sums else None
        return probs, gates

    # ---------------------------------------------------------------- state and checkpoints

    def _state(self) -> dict[str, Any]:
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "loss": copy.deepcopy(self.loss.state_dict()),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.loss.load_state_dict(state["loss"])

    def _save(self, path: str | os.PathLike, epoch: int, best: dict | None, stale: int) -> None:
        """Write the training state after ``epoch`` (rank 0; every rank joins the RNG gather)."""
        rng = distributed.all_gather(rng_state(), self.dist)
        if not self.dist.is_main:
            return
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "loss": self.loss.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng,
            "world_size": self.dist.world_size,
            "best": best,
            "best_epoch": self.result.best_epoch,
            "best_score": self.result.best_score,
            "stale": stale,
            "stopped_early": self.result.stopped_early,
            "history": [r.to_dict() for r in self.result.history],
        }
        save_checkpoint(path, state)
        self._saved_epoch = epoch

    def _restore(self, state: dict[str, Any]) -> tuple[dict | None, int]:
        """Load a checkpoint into the trainer; returns the best state and stale count."""
        self._load_state(state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        rng = state["rng"]
        if len(rng) != self.dist.world_size:
            warnings.warn(
                f"the checkpoint was written by {len(rng)} process(es), this run has "
                f"{self.dist.world_size}: training continues, but not bit for bit",
                stacklevel=3,
            )
        set_rng_state(rng[self.dist.rank % len(rng)])
        result = self.result
        result.history = [EpochRecord.from_dict(d) for d in state["history"]]
        result.best_epoch, result.best_score = state["best_epoch"], state["best_score"]
        result.stopped_early = state["stopped_early"]
        result.start_epoch = self._saved_epoch = state["epoch"]
        return state["best"], state["stale"]


__all__ = [
    "CHECKPOINT_FORMAT",
    "EpochRecord",
    "FitResult",
    "HistoryWriter",
    "LR_SCHEDULES",
    "TensorBoardUnavailable",
    "Trainer",
    "TrainingInterrupted",
    "TrainStep",
    "collect",
    "flatten",
    "load_checkpoint",
    "mean_gauc",
    "monitor_score",
    "check_monitor",
    "MONITORED",
    "predict",
    "resolve_device",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
]
