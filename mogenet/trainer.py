"""The :class:`Trainer`: mini-batch training with early stopping on validation GAUC.

The trainer knows nothing about model classes: it calls ``model(batch)`` to get a
:class:`~mogenet.nn.HeadOutput` and ``loss(output, batch.labels)`` to get a
:class:`~mogenet.losses.LossOutput`.  Everything a head needs beyond the pair
(graphs, sequences) travels inside the batch, never through trainer branches.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from mogenet.config import TrainConfig
from mogenet.errors import InputError, TrainingError
from mogenet.metrics import evaluate
from mogenet.sampling import BatchMaker, Examples, PairLoader


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """``cpu`` / ``cuda`` / ``cuda:N`` → a device, with a clear error if CUDA is absent."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r} (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but CUDA is not available on this machine")
    return device


def mean_gauc(metrics: dict[str, dict[str, float]]) -> float:
    """Mean GAUC over tasks (NaN tasks ignored; falls back to AUC if every GAUC is NaN)."""
    for key in ("gauc", "auc"):
        values = [m[key] for m in metrics.values() if not math.isnan(m[key])]
        if values:
            return float(np.mean(values))
    return math.nan


@dataclass
class EpochRecord:
    """One line of the training history."""

    epoch: int
    train_loss: float
    train_task_loss: dict[str, float]
    task_weights: dict[str, float]
    valid: dict[str, dict[str, float]]
    valid_score: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_task_loss": self.train_task_loss,
            "task_weights": self.task_weights,
            "valid": self.valid,
            "valid_mean_gauc": self.valid_score,
            "seconds": self.seconds,
        }


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns."""

    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -math.inf
    stopped_early: bool = False

    @property
    def best_metrics(self) -> dict[str, dict[str, float]]:
        for record in self.history:
            if record.epoch == self.best_epoch:
                return record.valid
        return {}


@torch.no_grad()
def predict(
    model: nn.Module,
    examples: Examples,
    *,
    batch_size: int,
    device: torch.device | str = "cpu",
    batches: BatchMaker | None = None,
) -> dict[str, np.ndarray]:
    """Probabilities per task for every example of ``examples``, in example order."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for batch in (batches or BatchMaker()).loader(examples, batch_size=batch_size):
        out = model(batch.to(device))
        for t, p in out.probabilities().items():
            parts.setdefault(t, []).append(p.float().cpu().numpy())
    return {t: np.concatenate(v) for t, v in parts.items()}


class Trainer:
    """Trains a multi-task model with Adam and early stopping on mean validation GAUC.

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
        self.config = config
        self.batches = batches or BatchMaker()
        self.device = resolve_device(config.device)
        if config.cpu_threads > 0:
            torch.set_num_threads(config.cpu_threads)
        self.model = model.to(self.device)
        self.loss = loss.to(self.device)
        groups = [{"params": list(self.model.parameters()), "weight_decay": config.weight_decay}]
        loss_params = list(self.loss.parameters())
        if loss_params:
            groups.append({"params": loss_params, "weight_decay": 0.0})
        self.optimizer = torch.optim.Adam(groups, lr=config.lr)

    def __repr__(self) -> str:
        return f"Trainer(device={self.device}, lr={self.config.lr}, epochs={self.config.epochs})"

    def fit(
        self,
        train: Examples,
        valid: Examples | None = None,
        *,
        on_epoch: Callable[[EpochRecord, bool], None] | None = None,
    ) -> FitResult:
        """Train; keep (and finally restore) the weights of the best validation epoch.

        Args:
            train: training examples (shuffled each epoch with ``seed + epoch``).
            valid: validation examples; without them every epoch counts as best.
            on_epoch: called after each epoch with the record and whether it is the
                best so far (e.g. to write history and checkpoints).
        """
        cfg = self.config
        loader = self.batches.loader(train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
        result = FitResult()
        best_state = None
        stale = 0
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            loader.set_epoch(epoch)
            train_loss, task_loss = self._train_epoch(loader, epoch)
            metrics = self.evaluate(valid) if valid is not None and len(valid) else {}
            score = mean_gauc(metrics) if metrics else -float(train_loss)
            improved = not math.isnan(score) and score > result.best_score
            record = EpochRecord(
                epoch=epoch,
                train_loss=train_loss,
                train_task_loss=task_loss,
                task_weights=self._task_weights(),
                valid=metrics,
                valid_score=score,
                seconds=time.perf_counter() - start,
            )
            result.history.append(record)
            if improved:
                result.best_epoch, result.best_score, stale = epoch, score, 0
                best_state = self._state()
            else:
                stale += 1
            if on_epoch is not None:
                on_epoch(record, improved)
            if stale >= cfg.patience:
                result.stopped_early = True
                break
        if best_state is not None:
            self._load_state(best_state)
        return result

    def _train_epoch(self, loader: PairLoader, epoch: int) -> tuple[float, dict[str, float]]:
        self.model.train()
        total, per_task, steps = 0.0, {}, 0
        bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=None, unit="batch")
        for batch in bar:
            batch = batch.to(self.device, non_blocking=True)
            out = self.loss(self.model(batch), batch.labels)
            if not torch.isfinite(out.total):
                bad = [t for t, v in out.per_task.items() if not torch.isfinite(v)]
                raise TrainingError(
                    f"non-finite loss at epoch {epoch} step {steps + 1}"
                    + (f" (tasks: {', '.join(bad)})" if bad else "")
                )
            self.optimizer.zero_grad(set_to_none=True)
            out.total.backward()
            self.optimizer.step()
            steps += 1
            total += float(out.total.detach())
            for t, v in out.per_task.items():
                per_task[t] = per_task.get(t, 0.0) + float(v.detach())
            if steps % 20 == 0:
                bar.set_postfix(loss=f"{total / steps:.4f}")
        steps = max(steps, 1)
        return total / steps, {t: v / steps for t, v in per_task.items()}

    def _task_weights(self) -> dict[str, float]:
        weights = getattr(self.loss, "task_weights", None)
        return {t: float(w) for t, w in weights().items()} if callable(weights) else {}

    def predict(self, examples: Examples) -> dict[str, np.ndarray]:
        """Probabilities per task for every example, in example order."""
        return predict(
            self.model,
            examples,
            batch_size=self.config.eval_batch_size,
            device=self.device,
            batches=self.batches,
        )

    def evaluate(self, examples: Examples) -> dict[str, dict[str, float]]:
        """Per-task AUC / GAUC / logloss of the current model on ``examples``."""
        scores = self.predict(examples)
        labels = {t: examples.labels[:, k].numpy() for k, t in enumerate(examples.tasks)}
        return evaluate(labels, scores, examples.group)

    def _state(self) -> dict[str, Any]:
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "loss": copy.deepcopy(self.loss.state_dict()),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.loss.load_state_dict(state["loss"])
