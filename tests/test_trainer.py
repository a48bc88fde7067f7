import math

import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.build import build_loss, build_model
from mogenet.config import LossConfig, ModelConfig, TrainConfig
from mogenet.datasets import IdMap, InteractionLog
from mogenet.datasets.features import FeatureTable
from mogenet.errors import InputError, TrainingError
from mogenet.sampling import Examples
from mogenet.trainer import Trainer, mean_gauc, resolve_device, seed_everything


def learnable_examples(n=2000, seed=0):
    """Users 0..49, items 0..19; click iff the user is even, buy iff also item < 5."""
    rng = np.random.default_rng(seed)
    u, i = rng.integers(0, 50, n), rng.integers(0, 20, n)
    frame = pd.DataFrame(
        {
            "user_id": u.astype(str),
            "item_id": i.astype(str),
            "click": (u + 1) % 2,
            "buy": ((u + 1) % 2) * (i < 5),
        }
    )
    log = InteractionLog(frame, ("click", "buy"))
    return Examples.from_log(
        log, IdMap([str(k) for k in range(50)]), IdMap([str(k) for k in range(20)])
    )


def make_trainer(seed=0, epochs=3, weighting="uncertainty", lr=1e-2):
    seed_everything(seed)
    model = build_model(
        ModelConfig(embedding_dim=8, expert_channels=(16,), tower_channels=(8,)),
        tasks=("click", "buy"),
        user_features=FeatureTable.empty(50),
        item_features=FeatureTable.empty(20),
    )
    loss = build_loss(LossConfig(weighting=weighting), tasks=("click", "buy"))
    cfg = TrainConfig(epochs=epochs, batch_size=128, lr=lr, seed=seed, patience=5)
    return Trainer(model=model, loss=loss, config=cfg)


def test_fit_learns_and_restores_best_epoch():
    train, valid = learnable_examples(seed=0), learnable_examples(500, seed=1)
    trainer = make_trainer(epochs=4)
    result = trainer.fit(train, valid)
    assert len(result.history) == 4
    assert result.best_metrics["click"]["auc"] > 0.9
    # the restored weights are those of the best epoch
    assert trainer.evaluate(valid)["click"]["auc"] == pytest.approx(
        result.best_metrics["click"]["auc"]
    )
    weights = result.history[-1].task_weights
    assert set(weights) == {"click", "buy"} and all(w > 0 for w in weights.values())


def test_same_seed_same_history():
    runs = []
    for _ in range(2):
        trainer = make_trainer(seed=5, epochs=2)
        runs.append(
            [r.valid for r in trainer.fit(learnable_examples(), learnable_examples(300, 1)).history]
        )
    assert runs[0] == runs[1]


def test_early_stopping():
    trainer = make_trainer(epochs=20, lr=0.0)  # nothing improves after epoch 1
    trainer.config.patience = 1
    result = trainer.fit(learnable_examples(500), learnable_examples(200, 1))
    assert result.stopped_early and len(result.history) == 2 and result.best_epoch == 1


def test_non_finite_loss_names_step_and_task():
    trainer = make_trainer(epochs=1)
    ex = learnable_examples(300)
    ex.labels[5, 1] = float("nan")
    with pytest.raises(TrainingError, match=r"epoch 1 step \d+ \(tasks: buy\)"):
        trainer.fit(ex)


def test_mean_gauc_ignores_nan_tasks():
    assert mean_gauc({"a": {"gauc": 0.6, "auc": 0.7}, "b": {"gauc": math.nan, "auc": 0.9}}) == 0.6
    assert mean_gauc({"a": {"gauc": math.nan, "auc": 0.7}}) == 0.7


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when CUDA is absent")
def test_cuda_requested_without_cuda():
    with pytest.raises(InputError, match="CUDA is not available"):
        resolve_device("cuda")
