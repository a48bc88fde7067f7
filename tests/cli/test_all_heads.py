"""Every model name trains and evaluates through the CLI: each registered head
(picked up from ``HEADS`` when the test is collected, so a new head is covered
without editing this file), its ``+mgnn`` variant, and the named models of
``mogenet.build.MODELS`` (``ngcf``). One epoch on a tiny split built once per
session (with a ``scenario`` column, which scenario heads read and the others
ignore), tiny sizes, each head with its defaults."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mogenet.build import MODELS
from mogenet.cli import main
from mogenet.datasets.synthetic import SyntheticConfig, generate
from mogenet.nn.heads import HEADS
from mogenet.pipeline import build_graphs, split_file
from mogenet.run import Run

PLAIN = sorted(HEADS)
GRAPH_VARIANTS = [f"{name}+mgnn" for name in PLAIN if not HEADS[name].uses_graph]
NAMED = sorted(MODELS)

TINY = [
    "model.embedding_dim=4",
    "model.expert_channels=[8]",
    "model.tower_channels=[4]",
    "model.graph_channels=4",
    "model.graph_layers=1",
    "sampler.bipartite=[3]",
    "sampler.user_sim=[3]",
    "sampler.item_sim=[3]",
    "sampler.num_workers=0",
    "train.batch_size=512",
    "train.eval_batch_size=4096",
]


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """``(split_dir, graph_dir)`` of the ``tiny`` synthetic log with two scenarios."""
    root = tmp_path_factory.mktemp("all_heads")
    generate(SyntheticConfig.preset("tiny", seed=0, scenarios=2)).write(root / "raw")
    split_file(root / "raw" / "interactions.csv", root / "split", by="time")
    build_graphs(root / "split" / "train.csv", root / "graphs")
    return root / "split", root / "graphs"


def train(data, out, model: str, *sets: str) -> int:
    split, graphs = data
    args = [
        "train",
        "--graphs",
        str(graphs),
        "--train",
        str(split / "train.csv"),
        "--valid",
        str(split / "valid.csv"),
        "--out",
        str(out),
        "--model",
        model,
        "--epochs",
        "1",
    ]
    for assignment in (*TINY, *sets):
        args += ["--set", assignment]
    return main(args)


def test_every_head_is_covered():
    assert {"mmoe", "mogenet"} <= set(PLAIN)
    assert "mmoe+mgnn" in GRAPH_VARIANTS and "mogenet+mgnn" not in GRAPH_VARIANTS


@pytest.mark.parametrize("model", PLAIN + GRAPH_VARIANTS + NAMED)
def test_train_and_evaluate(model, data, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(data, run, model) == 0, capsys.readouterr().err
    info = json.loads((run / "run.json").read_text())
    assert info["model"] == model and info["epochs_run"] == 1
    reads_graph = Run.load(run).model().needs_graphs
    assert reads_graph == (model in GRAPH_VARIANTS + NAMED or HEADS[model].uses_graph)

    assert main(["evaluate", str(run), "--data", str(data[0] / "test.csv")]) == 0
    metrics = json.loads((run / "metrics.test.json").read_text())
    for task in info["tasks"]:
        assert 0.0 <= metrics[task]["auc"] <= 1.0
        assert math.isfinite(metrics[task]["logloss"])


@pytest.mark.parametrize("model", ["mogenet+mgnn", "ngcf+mgnn", "mmoe+gcn"])
def test_no_such_graph_variant(model, data, tmp_path, capsys):
    assert train(data, tmp_path / "run", model) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and model.split("+")[0] in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("model, width", [("mmoe+mgnn", 4), ("ngcf", 2 * 4)])
def test_export_graph_models(model, width, data, tmp_path):
    """Export reads the graph encoder's full-graph inference (NGCF: [e^(0) ‖ e^(1)])."""
    run, emb = tmp_path / "run", tmp_path / "emb"
    assert train(data, run, model) == 0
    assert main(["export", str(run), "--out", str(emb)]) == 0
    users, items = np.load(emb / "users.bipartite.npy"), np.load(emb / "items.item_sim.npy")
    assert users.shape[1] == items.shape[1] == width
    assert np.isfinite(users).all() and np.isfinite(items).all()


@pytest.mark.parametrize("model", ["mmoe", "mogenet"])
def test_contrastive_loss_trains_through_the_cli(model, data, tmp_path, capsys):
    """``loss.contrastive`` is accepted, saved with the run, and changes training."""
    plain, con = tmp_path / "plain", tmp_path / "con"
    assert train(data, plain, model) == 0, capsys.readouterr().err
    assert train(data, con, model, "loss.contrastive=1.0") == 0, capsys.readouterr().err
    assert Run.load(con).config.loss.contrastive == 1.0
    a, b = Run.load(plain).model(), Run.load(con).model()
    weight = "user_encoder.id_embedding.weight"
    assert not np.allclose(a.state_dict()[weight].numpy(), b.state_dict()[weight].numpy())
