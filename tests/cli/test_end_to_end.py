"""The CLI contract end to end on tiny synthetic data:
demo → split → build-graphs → train → evaluate → predict → export."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mogenet.cli import main
from mogenet.datasets.readers import read_log
from mogenet.graphs import GraphBundle, check_leakage
from mogenet.run import Run


def test_demo_tiny(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--preset", "tiny", "--epochs", "2"]) == 0
    text = capsys.readouterr().out
    for word in ("model", "popularity", "oracle", "click", "buy", "gauc"):
        assert word in text
    metrics = json.loads((out / "run" / "metrics.test.json").read_text())
    assert set(metrics["baselines"]) == {"popularity", "oracle"}
    assert 0.0 <= metrics["click"]["auc"] <= 1.0
    # synthetic data: every scorer also has the AUC against the true probabilities
    assert 0.5 < metrics["baselines"]["oracle"]["buy"]["auc_true"] <= 1.0
    assert 0.0 <= metrics["click"]["auc_true"] <= 1.0
    assert "AUC against the true probabilities" in text
    assert (out / "embeddings" / "users.parquet").exists()
    assert metrics["run"]["model"] == "mogenet"  # the mogenet-fast configuration
    assert "trained mogenet (mogenet-fast)" in text


def test_demo_with_another_configuration_and_model(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--preset", "tiny", "--epochs", "1"]
    assert main([*args, "--config", "default", "--model", "mmoe", "--spectral", "4"]) == 0
    assert "trained mmoe (default)" in capsys.readouterr().out
    assert json.loads((out / "run" / "metrics.test.json").read_text())["run"]["model"] == "mmoe"
    assert GraphBundle.load(out / "graphs").spectral_dim == 4
    before = (out / "run" / "model.pt").read_bytes()
    assert main([*args, "--config", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown preset 'nope'" in err
    assert main([*args, "--spectral", "-1"]) == 2
    assert "--spectral must be ≥ 0" in capsys.readouterr().err
    assert (out / "run" / "model.pt").read_bytes() == before  # failed before any work


def test_pipeline_verbs(tiny_raw, tmp_path, capsys):
    data, graphs, run, emb = (tmp_path / n for n in ("data", "graphs", "run", "emb"))
    assert (
        main(["split", str(tiny_raw / "interactions.csv"), "--out", str(data), "--by", "time"]) == 0
    )
    for part in ("train", "valid", "test"):
        assert (data / f"{part}.csv").exists()
    assert (
        main(
            [
                "build-graphs",
                str(data / "train.csv"),
                "--out",
                str(graphs),
                "--users",
                str(tiny_raw / "users.csv"),
                "--items",
                str(tiny_raw / "items.csv"),
                "--topk",
                "5",
            ]
        )
        == 0
    )
    bundle = GraphBundle.load(graphs)
    for part in ("valid", "test"):  # the bundle passes the leakage check on held-out parts
        check_leakage(bundle, read_log(data / f"{part}.csv"), name=part)

    assert (
        main(
            [
                "train",
                "--graphs",
                str(graphs),
                "--train",
                str(data / "train.csv"),
                "--valid",
                str(data / "valid.csv"),
                "--out",
                str(run),
                "--epochs",
                "2",
                "--tasks",
                "click,buy",
                "--set",
                "train.batch_size=256",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    for f in (
        "config.yaml",
        "run.json",
        "model.pt",
        "id_maps.json",
        "history.jsonl",
        "metrics.json",
    ):
        assert (run / f).exists(), f
    info = json.loads((run / "run.json").read_text())
    assert info["tasks"] == ["click", "buy"] and info["seed"] == 3
    assert len((run / "history.jsonl").read_text().splitlines()) == info["epochs_run"]

    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(data / "test.csv")]) == 0
    printed = capsys.readouterr().out
    assert "oracle" in printed and "popularity" in printed
    metrics = json.loads((run / "metrics.test.json").read_text())
    assert set(metrics) >= {"click", "buy", "baselines", "run"}
    assert set(metrics["click"]) >= {"auc", "gauc", "logloss"}

    pred = tmp_path / "pred.csv"
    assert main(["predict", str(run), "--data", str(data / "test.csv"), "--out", str(pred)]) == 0
    table = pd.read_csv(pred, dtype={"user_id": str, "item_id": str})
    test = pd.read_csv(data / "test.csv", dtype={"user_id": str, "item_id": str})
    assert list(table.columns) == ["user_id", "item_id", "p_click", "p_buy"]
    assert (table["user_id"] == test["user_id"]).all() and (
        table["item_id"] == test["item_id"]
    ).all()
    assert table[["p_click", "p_buy"]].apply(lambda s: s.between(0, 1).all()).all()
    unseen = metrics["run"]["unseen"]  # the same shares as `evaluate` found
    assert f"cold start: {unseen['user']:.1%} of the rows have a user" in capsys.readouterr().out
    known_item = test["item_id"].iloc[0]
    (tmp_path / "new.csv").write_text(f"user_id,item_id\nnobody,{known_item}\n")
    assert main(["predict", str(run), "--data", str(tmp_path / "new.csv"), "--out", str(pred)]) == 0
    assert "cold start: 100.0% of the rows have a user and 0.0% an item" in capsys.readouterr().out

    assert main(["export", str(run), "--out", str(emb)]) == 0
    users = pq.read_table(emb / "users.parquet").to_pandas()
    items = pq.read_table(emb / "items.parquet").to_pandas()
    assert users["user_id"].is_unique and items["item_id"].is_unique
    assert sorted(users["user_id"]) == sorted(bundle.user_map.to_list())
    assert len(items) == bundle.num_items
    vec = np.load(emb / "users.npy")
    assert vec.shape[0] == len(users)
    assert np.allclose(np.stack(users["embedding"].to_numpy()), vec)
    ids = (emb / "users.ids.txt").read_text().splitlines()
    assert ids == users["user_id"].tolist()


def test_train_refuses_a_leaking_valid_file(tiny_split, tiny_graphs, tmp_path, capsys):
    train = pd.read_csv(tiny_split / "train.csv", dtype={"user_id": str, "item_id": str})
    valid = pd.read_csv(tiny_split / "valid.csv", dtype={"user_id": str, "item_id": str})
    positive = train[train[["click", "cart", "fav", "buy"]].sum(axis=1) > 0].iloc[:1]
    leaky = pd.concat([valid, positive], ignore_index=True)
    leaky.to_csv(tmp_path / "valid.csv", index=False)
    code = main(
        [
            "train",
            "--graphs",
            str(tiny_graphs),
            "--train",
            str(tiny_split / "train.csv"),
            "--valid",
            str(tmp_path / "valid.csv"),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "leak" in err.lower() and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


LONG = """user_id,item_id,behavior,timestamp
u1,i1,pv,10
u1,i1,buy,12
u1,i2,pv,20
u2,i1,pv,30
u2,i3,cart,31
u2,i3,pv,31
u3,i2,pv,40
u3,i4,fav,41
u1,i4,pv,50
u2,i2,pv,60
u3,i1,buy,70
u1,i3,pv,80
u4,i5,pv,81
u4,i6,pv,82
u4,i7,cart,83
u4,i8,pv,84
u4,i9,buy,85
"""


@pytest.mark.parametrize("form", ["long", "wide"])
def test_split_time_with_negatives(form, tmp_path, tiny_raw):
    if form == "long":
        log_path = tmp_path / "long.csv"
        log_path.write_text(LONG)
    else:
        log_path = tiny_raw / "interactions.csv"
    out = tmp_path / "split"
    assert (
        main(["split", str(log_path), "--out", str(out), "--by", "time", "--negatives", "2"]) == 0
    )
    parts = {p: read_log(out / f"{p}.csv") for p in ("train", "valid", "test")}
    full = read_log(log_path)
    positives = set(
        map(tuple, full.frame.loc[full.positive_mask(), ["user_id", "item_id"]].to_numpy())
    )
    for name, log in parts.items():
        neg = log.frame.loc[~log.positive_mask()]
        # sampled negatives never collide with any positive of the user in the whole log
        assert not set(map(tuple, neg[["user_id", "item_id"]].to_numpy())) & positives, name
    train_max = parts["train"].frame["timestamp"].max()
    valid_ts = parts["valid"].frame["timestamp"]
    test_min = parts["test"].frame["timestamp"].min()
    assert train_max < valid_ts.min() <= valid_ts.max() < test_min  # no test row before the cutoff
    if form == "long":
        assert set(parts["train"].tasks) == {"buy", "cart", "fav", "pv"}


def test_same_seed_same_metrics(tiny_split, tiny_graphs, tmp_path):
    results = []
    for k in range(2):
        run = tmp_path / f"run{k}"
        assert (
            main(
                [
                    "train",
                    "--graphs",
                    str(tiny_graphs),
                    "--train",
                    str(tiny_split / "train.csv"),
                    "--valid",
                    str(tiny_split / "valid.csv"),
                    "--out",
                    str(run),
                    "--epochs",
                    "2",
                    "--seed",
                    "7",
                ]
            )
            == 0
        )
        results.append(json.loads((run / "metrics.json").read_text()))
    for r in results:
        r.pop("run")
    assert results[0] == results[1]


def test_mogenet_trains_evaluates_and_predicts(tiny_split, tiny_graphs, tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--graphs",
                str(tiny_graphs),
                "--train",
                str(tiny_split / "train.csv"),
                "--valid",
                str(tiny_split / "valid.csv"),
                "--out",
                str(run),
                "--model",
                "mogenet",
                "--epochs",
                "2",
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
        )
        == 0
    )
    info = json.loads((run / "run.json").read_text())
    assert info["model"] == "mogenet"
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert all(0 <= h["valid"]["click"]["auc"] <= 1 for h in history)
    assert main(["evaluate", str(run), "--data", str(tiny_split / "test.csv")]) == 0
    assert "oracle" in capsys.readouterr().out
    pred = tmp_path / "pred.csv"
    assert (
        main(["predict", str(run), "--data", str(tiny_split / "test.csv"), "--out", str(pred)]) == 0
    )
    assert len(pred.read_text().splitlines()) == len(
        (tiny_split / "test.csv").read_text().splitlines()
    )


def test_spectral_coordinates_reach_the_model_unless_turned_off(tiny_split, tmp_path, capsys):
    graphs = tmp_path / "graphs"
    train = str(tiny_split / "train.csv")
    assert main(["build-graphs", train, "--out", str(graphs), "--spectral", "4"]) == 0
    assert "spectral 4 coordinates" in capsys.readouterr().out
    names = {}
    for spectral in ("true", "false"):
        run = tmp_path / f"run_{spectral}"
        argv = ["train", "--graphs", str(graphs), "--train", train, "--out", str(run)]
        argv += ["--valid", str(tiny_split / "valid.csv"), "--epochs", "1"]
        assert main([*argv, "--set", f"model.spectral={spectral}"]) == 0
        names[spectral] = Run.load(run).user_features.numeric_names
        pred = tmp_path / f"pred_{spectral}.csv"
        data = str(tiny_split / "test.csv")
        assert main(["predict", str(run), "--data", data, "--out", str(pred)]) == 0
    assert names == {"true": tuple(f"spectral_{j}" for j in range(1, 5)), "false": ()}
