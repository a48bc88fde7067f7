"""Heads that need more than the pair, end to end through the CLI: MoSE reads
behaviour sequences, AESM² reads scenarios; train → evaluate → predict on a tiny
synthetic log with a ``scenario`` column."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from mogenet.cli import main
from mogenet.datasets.readers import read_log
from mogenet.datasets.synthetic import SyntheticConfig, generate
from mogenet.pipeline import build_graphs, score_log, split_file
from mogenet.run import Run

MODELS = {
    "mose": ["model.head_options.max_length=5", "model.num_experts=2"],
    "aesm2": ["model.num_experts=4", "model.head_options.task_experts=2"],
}


@pytest.fixture(scope="module")
def scenario_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("scenario_data")
    generate(SyntheticConfig.preset("tiny", seed=1, scenarios=3)).write(d / "raw")
    split_file(d / "raw" / "interactions.csv", d, by="time")
    build_graphs(d / "train.csv", d / "graphs")
    return d


@pytest.mark.parametrize("model", sorted(MODELS))
def test_train_evaluate_predict(scenario_data, tmp_path, capsys, model):
    d, run = scenario_data, tmp_path / "run"
    sets = [a for s in ["train.batch_size=512", *MODELS[model]] for a in ("--set", s)]
    args = ["--graphs", str(d / "graphs"), "--train", str(d / "train.csv")]
    args += ["--valid", str(d / "valid.csv"), "--out", str(run), "--model", model]
    assert main(["train", *args, "--epochs", "1", *sets]) == 0
    assert (run / "inputs.pt").exists()
    loaded = Run.load(run)
    if model == "aesm2":
        assert loaded.config.model.head_options["num_scenarios"] == 3  # from the data
        assert loaded.inputs.scenarios.to_list() == ["s0", "s1", "s2"]
    else:
        assert loaded.inputs.history is not None and loaded.inputs.sequence_length == 5

    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(d / "test.csv")]) == 0
    metrics = json.loads((run / "metrics.test.json").read_text())
    assert 0.0 <= metrics["click"]["auc"] <= 1.0

    pred = tmp_path / "pred.csv"
    assert main(["predict", str(run), "--data", str(d / "test.csv"), "--out", str(pred)]) == 0
    table = pd.read_csv(pred)
    # predict reads the test file's timestamps / scenarios as evaluate does: same scores
    scores = score_log(loaded, read_log(d / "test.csv"))
    torch.testing.assert_close(
        torch.tensor(table["p_click"].to_numpy()),
        torch.tensor(scores["click"]).double(),
        atol=1e-6,
        rtol=0,
    )


def test_unknown_scenario_is_a_one_line_error(scenario_data, tmp_path, capsys):
    d, run = scenario_data, tmp_path / "run"
    args = ["--graphs", str(d / "graphs"), "--train", str(d / "train.csv")]
    args += ["--valid", str(d / "valid.csv"), "--out", str(run), "--model", "aesm2"]
    assert main(["train", *args, "--epochs", "1", "--set", "train.batch_size=512"]) == 0
    test = pd.read_csv(d / "test.csv", dtype=str)
    test.loc[:2, "scenario"] = "s7"
    test.to_csv(tmp_path / "test.csv", index=False)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(tmp_path / "test.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "'s7'" in err and "scenario" in err and len(err.splitlines()) == 1
