"""Checkpoint and ``mogenet train --resume``: a run killed during an epoch and resumed
ends with exactly the metrics, history and weights of an uninterrupted run.

The kill is deterministic: the trainer's step raises ``KeyboardInterrupt`` (what
Ctrl-C raises) at a chosen epoch and step, inside the real CLI.
"""

from __future__ import annotations

import json

import pytest
import torch

from mogenet.cli import main
from mogenet.errors import InputError
from mogenet.run import CHECKPOINT, INCOMPLETE, Run
from mogenet.trainer import Trainer

#: Dropout (torch RNG), a warm-up + cosine schedule (scheduler state), clipping and
#: uncertainty weighting (loss parameters in the optimiser) all have to resume.
COMMON = [
    "--epochs",
    "3",
    "--seed",
    "3",
    "--set",
    "train.batch_size=128",
    "--set",
    "train.lr_schedule=warmup_cosine",
    "--set",
    "train.warmup_epochs=0.5",
    "--set",
    "train.grad_clip=1.0",
    "--set",
    "model.dropout=0.2",
]
#: MoGENet adds sampled subgraphs (2 sampling threads) to what must replay.
MOGENET = [
    "--model",
    "mogenet",
    "--set",
    "model.graph_channels=8",
    "--set",
    "model.tower_channels=[]",
    "--set",
    "sampler.bipartite=[3,3]",
    "--set",
    "sampler.user_sim=[3]",
    "--set",
    "sampler.item_sim=[3]",
]


def train_args(split, graphs, out, extra=()):
    return [
        "train",
        "--graphs",
        str(graphs),
        "--train",
        str(split / "train.csv"),
        "--valid",
        str(split / "valid.csv"),
        "--out",
        str(out),
        *COMMON,
        *extra,
    ]


def interrupt_at(monkeypatch, epoch, step):
    """Make the trainer raise KeyboardInterrupt before optimiser step ``step`` of ``epoch``."""
    original = Trainer._train_step

    def step_or_interrupt(self, batch, e, s):
        if (e, s) == (epoch, step):
            raise KeyboardInterrupt
        return original(self, batch, e, s)

    monkeypatch.setattr(Trainer, "_train_step", step_or_interrupt)


def history(run):
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("seconds")
    return rows


@pytest.mark.parametrize(
    ("model", "epoch", "step"),
    [("mmoe", 2, 3), ("mmoe", 1, 2), ("mogenet", 2, 2)],
    ids=["mmoe-epoch2", "mmoe-epoch1", "mogenet-epoch2"],
)
def test_resume_equals_uninterrupted_run(
    model, epoch, step, tiny_split, tiny_graphs, tmp_path, monkeypatch, capsys
):
    extra = MOGENET if model == "mogenet" else []
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert main(train_args(tiny_split, tiny_graphs, full, extra)) == 0

    with monkeypatch.context() as m:
        interrupt_at(m, epoch, step)
        capsys.readouterr()
        assert main(train_args(tiny_split, tiny_graphs, killed, extra)) == 130
    err = capsys.readouterr().err
    assert f"interrupted during epoch {epoch}" in err
    assert f"checkpoint after epoch {epoch - 1}" in err
    assert f"mogenet train --resume {killed}" in err
    # an interrupted run directory: checkpoint + marker, not loadable as a run
    assert (killed / CHECKPOINT).exists() and (killed / INCOMPLETE).exists()
    assert not (killed / "run.json").exists()
    with pytest.raises(InputError, match="has not finished.*--resume"):
        Run.load(killed)
    state = torch.load(killed / CHECKPOINT, weights_only=True)
    assert state["epoch"] == epoch - 1 and len(state["history"]) == epoch - 1

    assert main(["train", "--resume", str(killed)]) == 0
    out = capsys.readouterr().out
    assert f"resumed from the checkpoint after epoch {epoch - 1}" in out
    assert not (killed / CHECKPOINT).exists() and not (killed / INCOMPLETE).exists()

    # exactly the uninterrupted run: metrics (with run info), history, weights
    assert (killed / "metrics.json").read_text() == (full / "metrics.json").read_text()
    assert history(killed) == history(full)
    a, b = Run.load(full).state, Run.load(killed).state
    for part in ("model", "loss"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)


def test_resume_accepts_the_same_flags_and_refuses_changed_ones(
    tiny_split, tiny_graphs, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    args = train_args(tiny_split, tiny_graphs, run)
    with monkeypatch.context() as m:
        interrupt_at(m, 2, 1)
        assert main(args) == 130
    capsys.readouterr()
    assert main([*args, "--set", "train.lr=0.5", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "train.lr" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--resume", str(run)]) == 0  # the original command + --resume
    assert Run.load(run).info["epochs_run"] == 3


def test_resume_of_a_finished_run_says_so(tiny_split, tiny_graphs, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(tiny_split, tiny_graphs, run)) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "already finished" in err and "nothing to resume" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["train", "--resume", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


def test_train_without_inputs_or_resume_is_an_error(capsys):
    assert main(["train", "--graphs", "g"]) == 2
    assert "--train, --valid, --out (or --resume RUN_DIR)" in capsys.readouterr().err


def test_new_run_replaces_an_earlier_run_but_not_other_directories(
    tiny_split, tiny_graphs, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    with monkeypatch.context() as m:  # an interrupted run is an earlier run too
        interrupt_at(m, 1, 1)
        assert main(train_args(tiny_split, tiny_graphs, run)) == 130
    assert main(train_args(tiny_split, tiny_graphs, run)) == 0
    assert Run.load(run).info["epochs_run"] == 3
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    capsys.readouterr()
    assert main(train_args(tiny_split, tiny_graphs, other)) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "keep me"
