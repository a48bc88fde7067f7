"""Trained tiny runs shared by the CLI tests of the verbs that read a run
(recommend, report, compare, evaluate --topk): each is trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from mogenet.cli import main

#: Settings that keep MoGENet tiny (as in test_end_to_end.py).
MOGENET_TINY = [
    "--set",
    "model.graph_channels=8",
    "--set",
    "model.tower_channels=[]",
    "--set",
    "sampler.bipartite=[3,3]",
    "--set",
    "sampler.user_sim=[3,3]",
    "--set",
    "sampler.item_sim=[3,3]",
]


def train_tiny(split: Path, graphs: Path, out: Path, *, model="mmoe", seed=0, extra=()) -> Path:
    """``mogenet train`` for 2 epochs on the tiny split; returns the run directory."""
    argv = ["train", "--graphs", str(graphs), "--train", str(split / "train.csv")]
    argv += ["--valid", str(split / "valid.csv"), "--out", str(out), "--model", model]
    argv += ["--epochs", "2", "--seed", str(seed), *extra]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_split, tiny_graphs, tmp_path_factory) -> Path:
    """An MMoE run (2 epochs, seed 0). Tests must not write into it: pass --out."""
    return train_tiny(tiny_split, tiny_graphs, tmp_path_factory.mktemp("runs") / "mmoe")


@pytest.fixture(scope="session")
def tiny_mogenet_run(tiny_split, tiny_graphs, tmp_path_factory) -> Path:
    """A MoGENet run (2 epochs, seed 0, tiny sizes). Tests must not write into it."""
    out = tmp_path_factory.mktemp("runs") / "mogenet"
    return train_tiny(tiny_split, tiny_graphs, out, model="mogenet", extra=MOGENET_TINY)


@pytest.fixture(scope="session")
def seed_runs(tiny_split, tiny_graphs, tmp_path_factory) -> dict[str, list[Path]]:
    """MMoE and Shared-Bottom, seeds 0 and 1, each evaluated on test.csv
    (``metrics.test.json``): ``{model: [run seed 0, run seed 1]}``."""
    root = tmp_path_factory.mktemp("seed_runs")
    runs: dict[str, list[Path]] = {}
    for model in ("mmoe", "shared_bottom"):
        for seed in (0, 1):
            run = train_tiny(
                tiny_split, tiny_graphs, root / f"{model}_s{seed}", model=model, seed=seed
            )
            assert main(["evaluate", str(run), "--data", str(tiny_split / "test.csv")]) == 0
            runs.setdefault(model, []).append(run)
    return runs
