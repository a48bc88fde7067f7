"""``mogenet recommend``: top-K by the model's probability (equal to ``predict``),
training interactions excluded unless asked, embedding ranking, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mogenet.cli import main

TASKS = ["click", "cart", "fav", "buy"]


@pytest.fixture(scope="module")
def train_items(tiny_split):
    """Raw user id → set of items with a positive of any task in train.csv."""
    train = pd.read_csv(tiny_split / "train.csv", dtype={"user_id": str, "item_id": str})
    positive = train[train[TASKS].sum(axis=1) > 0]
    return positive.groupby("user_id")["item_id"].apply(set).to_dict()


def busy_user(train_items) -> str:
    return max(train_items, key=lambda u: (len(train_items[u]), u))


def items_of(run) -> list[str]:
    return json.loads((run / "id_maps.json").read_text())["items"]


def recommend(run, tmp_path, *args) -> pd.DataFrame:
    out = tmp_path / "rec.csv"
    assert main(["recommend", str(run), *args, "--out", str(out)]) == 0
    return pd.read_csv(out, dtype={"user_id": str, "item_id": str})


def predict_all(run, user, tmp_path) -> pd.DataFrame:
    """``mogenet predict`` on (user, every item)."""
    pairs = pd.DataFrame({"user_id": user, "item_id": items_of(run)})
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    pred = tmp_path / "pred.csv"
    argv = ["predict", str(run), "--data", str(tmp_path / "pairs.csv"), "--out", str(pred)]
    assert main(argv) == 0
    return pd.read_csv(pred, dtype={"user_id": str, "item_id": str}).set_index("item_id")


def test_top_k_equals_predict_without_training_items(tiny_run, train_items, tmp_path, capsys):
    user = busy_user(train_items)
    table = recommend(tiny_run, tmp_path, "--user", user, "--k", "5")
    printed = capsys.readouterr().out
    assert "p_buy" in printed and user in printed  # the last task ranks by default
    assert list(table.columns) == ["user_id", "rank", "item_id", "score"]
    assert table["rank"].tolist() == [1, 2, 3, 4, 5] and (table["user_id"] == user).all()
    assert table["item_id"].is_unique
    assert not set(table["item_id"]) & train_items[user]  # never a training item
    assert (np.diff(table["score"]) <= 1e-7).all()  # best first

    pred = predict_all(tiny_run, user, tmp_path)  # the same model, pair by pair
    np.testing.assert_allclose(table["score"], pred.loc[table["item_id"], "p_buy"], rtol=1e-4)
    allowed = pred.drop(index=list(train_items[user]))
    best = allowed["p_buy"].sort_values(ascending=False, kind="stable")
    assert set(table["item_id"]) == set(best.index[:5])


def test_include_train_and_task(tiny_run, train_items, tmp_path):
    user = busy_user(train_items)
    n = len(items_of(tiny_run))
    everything = recommend(tiny_run, tmp_path, "--user", user, "--k", str(n + 5), "--include-train")
    assert len(everything) == n and train_items[user] <= set(everything["item_id"])
    rest = recommend(tiny_run, tmp_path, "--user", user, "--k", str(n + 5), "--task", "click")
    assert len(rest) == n - len(train_items[user])
    pred = predict_all(tiny_run, user, tmp_path)
    np.testing.assert_allclose(rest["score"], pred.loc[rest["item_id"], "p_click"], rtol=1e-4)


def test_several_users_from_flags_and_file(tiny_run, train_items, tmp_path):
    users = sorted(train_items)[:3]
    listing = tmp_path / "users.txt"
    listing.write_text("user_id\n" + "\n".join(users[1:]) + "\n\n")
    table = recommend(tiny_run, tmp_path, "--user", users[0], "--users", str(listing), "--k", "2")
    assert table["user_id"].tolist() == [u for u in users for _ in range(2)]
    for u in users:
        assert not set(table.loc[table["user_id"] == u, "item_id"]) & train_items[u]


def test_by_embedding_is_the_exported_dot_product(tiny_mogenet_run, train_items, tmp_path):
    user = busy_user(train_items)
    table = recommend(tiny_mogenet_run, tmp_path, "--user", user, "--k", "4", "--by", "embedding")
    emb = tmp_path / "emb"
    assert main(["export", str(tiny_mogenet_run), "--out", str(emb)]) == 0
    users = (emb / "users.ids.txt").read_text().splitlines()
    items = (emb / "items.ids.txt").read_text().splitlines()
    scores = (
        np.load(emb / "items.bipartite.npy")
        @ np.load(emb / "users.bipartite.npy")[users.index(user)]
    )  # MGNN h_i · h_u for every item
    order = [items[i] for i in np.argsort(-scores) if items[i] not in train_items[user]]
    assert table["item_id"].tolist() == order[:4]
    np.testing.assert_allclose(
        table["score"], np.sort(scores[[items.index(i) for i in order[:4]]])[::-1], rtol=1e-4
    )


def test_graph_model_by_probability(tiny_mogenet_run, train_items, tmp_path):
    user = busy_user(train_items)
    table = recommend(tiny_mogenet_run, tmp_path, "--user", user, "--k", "3", "--task", "cart")
    assert len(table) == 3 and table["score"].between(0, 1).all()
    assert not set(table["item_id"]) & train_items[user]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--user", "nobody"], "unknown user 'nobody'"),
        ([], "--user ID"),
        (["--user", "u000001", "--task", "nope"], "unknown task 'nope'"),
        (["--user", "u000001", "--k", "0"], "--k must be >= 1"),
    ],
)
def test_errors_are_one_line(tiny_run, capsys, args, message):
    assert main(["recommend", str(tiny_run), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("error:")
