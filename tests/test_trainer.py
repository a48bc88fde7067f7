import json
import math
import random
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.build import build_loss, build_model
from mogenet.config import LossConfig, ModelConfig, TrainConfig
from mogenet.datasets import IdMap, InteractionLog
from mogenet.datasets.features import FeatureTable
from mogenet.errors import InputError, TrainingError
from mogenet.metrics import to_jsonable
from mogenet.sampling import Examples
from mogenet.trainer import (
    LR_SCHEDULES,
    EpochRecord,
    HistoryWriter,
    TensorBoardUnavailable,
    Trainer,
    TrainingInterrupted,
    check_monitor,
    flatten,
    load_checkpoint,
    mean_gauc,
    monitor_score,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
)


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


def make_trainer(
    seed=0, epochs=3, weighting="uncertainty", lr=1e-2, dropout=0.0, contrastive=0.0, **train
):
    seed_everything(seed)
    model = build_model(
        ModelConfig(embedding_dim=8, expert_channels=(16,), tower_channels=(8,), dropout=dropout),
        tasks=("click", "buy"),
        user_features=FeatureTable.empty(50),
        item_features=FeatureTable.empty(20),
    )
    loss = build_loss(
        LossConfig(weighting=weighting, contrastive=contrastive), tasks=("click", "buy")
    )
    cfg = TrainConfig(epochs=epochs, batch_size=128, lr=lr, seed=seed, patience=5, **train)
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


METRICS = {
    "click": {"gauc": 0.6, "auc": 0.7, "logloss": 0.3},
    "buy": {"gauc": math.nan, "auc": 0.9, "logloss": 0.1},
}


@pytest.mark.parametrize(
    ("monitor", "score"),
    [
        ("gauc", 0.6),  # NaN tasks ignored
        ("auc", 0.8),
        ("logloss", -0.2),  # lower is better: negated
        ("buy.auc", 0.9),
        ("click.logloss", -0.3),
        ("buy.gauc", 0.9),  # no GAUC: its AUC, as mean_gauc
    ],
)
def test_monitor_score(monitor, score):
    check_monitor(monitor, ("click", "buy"))
    assert monitor_score(METRICS, monitor) == pytest.approx(score)
    nothing = {"click": {"gauc": math.nan, "auc": math.nan, "logloss": math.nan}}
    assert math.isnan(monitor_score(nothing, monitor.replace("buy", "click")))


@pytest.mark.parametrize(
    ("monitor", "words"),
    [
        ("aucc", "unknown metric 'aucc'.*did you mean 'auc'"),
        ("buy.ndcg", "unknown metric 'ndcg'"),
        ("bye.auc", "unknown task 'bye'; the tasks are click, buy; did you mean 'buy'"),
    ],
)
def test_check_monitor_errors(monitor, words):
    with pytest.raises(InputError, match=words):
        check_monitor(monitor, ("click", "buy"))


def test_monitor_picks_the_best_epoch_by_its_own_score():
    train, valid = learnable_examples(600), learnable_examples(300, 1)
    result = make_trainer(epochs=4, monitor="buy.logloss").fit(train, valid)
    scores = [r.valid_score for r in result.history]
    assert scores == [-r.valid["buy"]["logloss"] for r in result.history]
    assert result.best_epoch == 1 + int(np.argmax(scores))
    record = result.history[0].to_dict()  # the history keeps the mean GAUC beside it
    assert record["valid_mean_gauc"] == mean_gauc(result.history[0].valid)
    with pytest.raises(InputError, match="unknown metric"):
        make_trainer(monitor="recall")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when CUDA is absent")
def test_cuda_requested_without_cuda():
    with pytest.raises(InputError, match="CUDA is not available"):
        resolve_device("cuda")


def without_seconds(history):
    """The records as JSON-able dicts (NaN → None, so NaN metrics compare equal)."""
    return [to_jsonable({k: v for k, v in r.to_dict().items() if k != "seconds"}) for r in history]


def test_history_records_lr_and_gate_usage():
    trainer = make_trainer(epochs=3, lr_schedule="cosine")
    result = trainer.fit(learnable_examples(600), learnable_examples(200, 1))
    history = result.history
    lrs = [r.lr for r in history]
    assert lrs[0] < 1e-2 and lrs[0] > lrs[1] > lrs[2] > 0  # cosine decay, per step
    for record in history:
        assert set(record.gate_usage) == {"click", "buy"}
        for usage in record.gate_usage.values():  # mean softmax rows: sum to 1 over experts
            assert len(usage) == 4 and sum(usage) == pytest.approx(1.0, abs=1e-5)
    # sigma_k is derivable from the logged weights 1/sigma^2 (best epoch's weights restored)
    sigma = {t: w**-0.5 for t, w in history[result.best_epoch - 1].task_weights.items()}
    assert sigma == pytest.approx(trainer.loss.sigma)


def test_history_records_each_loss_term():
    plain = make_trainer(epochs=2).fit(learnable_examples(600), learnable_examples(200, 1))
    assert all(set(r.train_terms) == {"main"} for r in plain.history)
    result = make_trainer(epochs=2, contrastive=0.5).fit(
        learnable_examples(600), learnable_examples(200, 1)
    )
    for record in result.history:
        terms = record.train_terms
        assert set(terms) == {"main", "contrastive"} and terms["contrastive"] > 0
        # step means are linear: mean total = mean main + γ · mean contrastive
        expected = terms["main"] + 0.5 * terms["contrastive"]
        assert record.train_loss == pytest.approx(expected, rel=1e-6)


def test_lr_schedules():
    const, cos, warm = (LR_SCHEDULES.get_class(n) for n in ("constant", "cosine", "warmup_cosine"))
    assert [const(s, total=10, warmup=0) for s in (0, 9)] == [1.0, 1.0]
    assert cos(0, total=10, warmup=0) == 1.0
    assert cos(5, total=10, warmup=0) == pytest.approx(0.5)
    assert cos(10, total=10, warmup=0) == pytest.approx(0.0)
    assert [warm(s, total=12, warmup=4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert warm(4, total=12, warmup=4) == 1.0  # cosine starts after the warm-up
    assert warm(8, total=12, warmup=4) == pytest.approx(0.5)
    with pytest.raises(InputError, match="constant, cosine, warmup_cosine"):
        make_trainer(lr_schedule="step")


def test_scheduler_sets_the_optimizer_lr_per_step():
    trainer = make_trainer(epochs=2, lr_schedule="warmup_cosine", warmup_epochs=1.0)
    seen = []
    trainer.optimizer.register_step_pre_hook(
        lambda opt, args, kw: seen.append(opt.param_groups[0]["lr"])
    )
    trainer.fit(learnable_examples(512))  # 4 steps per epoch: 4 warm-up, 4 cosine
    expected = [1e-2 * LR_SCHEDULES["warmup_cosine"](s, total=8, warmup=4) for s in range(8)]
    assert seen == pytest.approx(expected)


def test_grad_clip_bounds_the_gradient_norm():
    trainer = make_trainer(epochs=1, grad_clip=0.05)
    norms = []

    def record_norm(opt, args, kwargs):
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))

    trainer.optimizer.register_step_pre_hook(record_norm)
    trainer.fit(learnable_examples(512))
    assert norms and max(norms) <= 0.05 * (1 + 1e-4)
    with pytest.raises(InputError, match="grad_clip"):
        make_trainer(grad_clip=-1.0)


def test_amp_is_ignored_on_cpu():
    assert make_trainer(amp=True).amp is False


@pytest.mark.skipif(
    not torch.set_flush_denormal(False), reason="this CPU cannot flush denormals (x86 + SSE3)"
)
def test_flush_denormal_on_cpu():
    """``flush_denormal`` turns on flush-to-zero of subnormal floats for the process
    (subnormal arithmetic is slow on x86); off, a subnormal product survives."""
    torch.set_flush_denormal(False)  # earlier trainers in this process turned it on
    try:
        tiny = torch.tensor([1e-39])
        make_trainer(flush_denormal=False)
        assert (tiny * 1.0).item() != 0.0
        make_trainer(flush_denormal=True)
        assert (tiny * 1.0).item() == 0.0
    finally:
        torch.set_flush_denormal(False)


def test_checkpoint_resume_replays_the_same_training(tmp_path, monkeypatch):
    """Interrupted at epoch 3, resumed from the checkpoint of epoch 2: the same history
    and weights as without the interruption (dropout draws from the restored RNG)."""
    train, valid = learnable_examples(700), learnable_examples(200, 1)
    kwargs = dict(epochs=4, dropout=0.3, lr_schedule="cosine", grad_clip=1.0)
    full = make_trainer(**kwargs)
    expected = without_seconds(full.fit(train, valid).history)

    ckpt = tmp_path / "ckpt.pt"
    original = Trainer._train_step

    def interrupt(self, batch, epoch, step):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, batch, epoch, step)

    monkeypatch.setattr(Trainer, "_train_step", interrupt)
    with pytest.raises(TrainingInterrupted) as info:
        make_trainer(**kwargs).fit(train, valid, checkpoint=ckpt)
    assert (info.value.epoch, info.value.saved_epoch) == (3, 2)
    monkeypatch.setattr(Trainer, "_train_step", original)
    torch.manual_seed(1234)  # whatever the RNG holds now, the checkpoint's state wins
    resumed = make_trainer(**kwargs)
    result = resumed.fit(train, valid, checkpoint=ckpt, resume=True)
    assert result.start_epoch == 2
    assert without_seconds(result.history) == expected
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_checkpoint_of_a_finished_fit_resumes_to_the_same_result(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    first = make_trainer(epochs=2).fit(learnable_examples(300), checkpoint=ckpt)
    again = make_trainer(epochs=2).fit(learnable_examples(300), checkpoint=ckpt, resume=True)
    assert without_seconds(again.history) == without_seconds(first.history)
    assert again.best_epoch == first.best_epoch and again.start_epoch == 2


def test_corrupted_or_missing_checkpoint(tmp_path):
    with pytest.raises(InputError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="corrupted checkpoint"):
        load_checkpoint(bad)
    torch.save({"format": 999}, bad)
    with pytest.raises(InputError, match="not a mogenet checkpoint"):
        load_checkpoint(bad)


def test_rng_state_round_trip():
    state = rng_state()
    first = (random.random(), np.random.rand(), torch.rand(()).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == first


def test_epoch_record_round_trip():
    record = EpochRecord(
        epoch=2,
        train_loss=0.5,
        train_task_loss={"click": 0.4},
        task_weights={"click": 1.1},
        valid={"click": {"auc": 0.7, "gauc": 0.6}},
        valid_score=0.7,
        seconds=1.0,
        lr=1e-3,
        gate_usage={"click": [0.25, 0.75]},
    )
    assert EpochRecord.from_dict(record.to_dict()) == record
    assert record.to_dict()["valid_mean_gauc"] == 0.6  # the mean GAUC, whatever the monitor
    old = {k: v for k, v in record.to_dict().items() if k != "valid_score"}
    old["valid_mean_gauc"] = 0.7  # a history written before train.monitor
    assert EpochRecord.from_dict(old) == record


def test_history_writer_jsonl_and_flat_csv(tmp_path):
    history = make_trainer(epochs=2).fit(learnable_examples(300), learnable_examples(200, 1))
    writer = HistoryWriter(tmp_path)
    assert not writer.tensorboard
    writer.write(history.history)
    lines = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2] and "lr" in lines[0] and "gate_usage" in lines[0]
    table = pd.read_csv(tmp_path / "history.csv")
    assert list(table["epoch"]) == [1, 2]
    for column in ("train_loss", "valid.click.auc", "task_weights.buy", "lr", "gate_usage.buy.3"):
        assert column in table.columns, column
    assert table["valid.click.auc"].tolist() == [x["valid"]["click"]["auc"] for x in lines]
    assert flatten({"a": {"b": [1, 2]}, "c": None}) == {"a.b.0": 1, "a.b.1": 2, "c": None}


def test_tensorboard_missing_warns_and_training_goes_on(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.warns(TensorBoardUnavailable, match="pip install tensorboard"):
        writer = HistoryWriter(tmp_path, tensorboard=True)
    assert not writer.tensorboard
    writer.write(make_trainer(epochs=1).fit(learnable_examples(200)).history)
    assert (tmp_path / "history.csv").exists()
