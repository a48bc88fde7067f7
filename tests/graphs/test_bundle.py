import json

import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.config import GraphConfig
from mogenet.datasets import InteractionLog
from mogenet.errors import InputError
from mogenet.graphs import (
    EDGE_TYPES,
    FORMAT_VERSION,
    INTERACTS,
    ITEM_SIMILAR,
    REV_INTERACTS,
    USER_SIMILAR,
    GraphBundle,
)


def train_log(source=None):
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "user_id": [f"u{k}" for k in rng.integers(0, 12, n)],
            "item_id": [f"i{k}" for k in rng.integers(0, 9, n)],
            "timestamp": rng.integers(0, 1000, n),
            "click": (rng.random(n) < 0.5).astype(np.int8),
            "buy": (rng.random(n) < 0.2).astype(np.int8),
        }
    )
    return InteractionLog(frame, ("click", "buy"), source)


USERS = pd.DataFrame(
    {
        "user_id": [f"u{k}" for k in range(14)],  # u12, u13 are not in the log
        "age": np.arange(14, dtype=float),
        "city": ["a", "b"] * 7,
    }
)
ITEMS = pd.DataFrame({"item_id": ["i0", "i1", "i2"], "price": [1.0, 2.0, 4.0]})


@pytest.fixture(scope="module")
def bundle():
    return GraphBundle.build(train_log(), config=GraphConfig(topk=3), users=USERS, items=ITEMS)


def test_structure(bundle):
    log = train_log()
    data = bundle.data
    assert bundle.user_map.to_list() == sorted(log.frame["user_id"].unique())
    assert bundle.item_map.to_list() == sorted(log.frame["item_id"].unique())
    assert data["user"].num_nodes == bundle.num_users == len(bundle.user_map)
    assert data["item"].num_nodes == bundle.num_items
    assert set(data.edge_types) == set(EDGE_TYPES)
    assert data[REV_INTERACTS].edge_index.equal(data[INTERACTS].edge_index.flip(0))
    assert data[REV_INTERACTS].edge_attr.equal(data[INTERACTS].edge_attr)
    assert data[INTERACTS].edge_attr.shape == (data[INTERACTS].num_edges, 2)
    assert data[INTERACTS].last_timestamp.shape == (data[INTERACTS].num_edges,)
    for et in (USER_SIMILAR, ITEM_SIMILAR):
        assert data[et].edge_weight.shape == (data[et].num_edges,)
    data.validate()
    assert "GraphBundle(users=" in repr(bundle)


def test_features(bundle):
    uf, itf = bundle.user_features(), bundle.item_features()
    assert uf.num_nodes == bundle.num_users and itf.num_nodes == bundle.num_items
    assert uf.categorical_names == ("city",) and uf.numeric_names == ("age",)
    assert itf.numeric_names == ("price",) and itf.categorical_names == ()
    assert bundle.data["user"].x_cat.shape == (bundle.num_users, 1)
    plain = GraphBundle.build(train_log(), config=GraphConfig(topk=3))
    assert plain.user_features().categorical.shape == (plain.num_users, 0)
    with pytest.raises(InputError, match="user_id"):
        GraphBundle.build(train_log(), users=USERS.rename(columns={"user_id": "uid"}))


def test_meta_and_summary(bundle):
    meta = bundle.meta
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["config"] == {"similarity": "cosine", "topk": 3, "min_support": 1}
    assert meta["tasks"] == ["click", "buy"]
    assert meta["edges"]["user__interacts__item"] == bundle.data[INTERACTS].num_edges
    deg = meta["degree"]["user"]["interacts"]
    assert deg["min"] <= deg["p50"] <= deg["max"]
    summary = bundle.summary()
    json.dumps(summary)
    assert summary["num_users"] == bundle.num_users
    assert summary["edges"]["item__similar__item"] == bundle.data[ITEM_SIMILAR].num_edges


def test_source_hash(tmp_path):
    csv = tmp_path / "train.csv"
    train_log().to_csv(csv)
    b = GraphBundle.build(train_log(source=str(csv)))
    assert b.meta["source"]["path"] == str(csv)
    assert len(b.meta["source"]["sha256"]) == 64


def test_round_trip(bundle, tmp_path):
    out = bundle.save(tmp_path / "g")
    assert sorted(p.name for p in out.iterdir()) == [
        "graph.pt",
        "items.json",
        "meta.json",
        "users.json",
    ]
    loaded = GraphBundle.load(out)
    assert loaded.user_map == bundle.user_map and loaded.item_map == bundle.item_map
    assert loaded.meta == bundle.meta  # save() added "hash" and "files" to bundle.meta
    assert loaded.meta["hash"] == loaded.content_hash() == bundle.content_hash()
    assert loaded.summary()["hash"] == bundle.meta["hash"]
    a, b = bundle.tensors(), loaded.tensors()
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].equal(b[k]), k
    for et in EDGE_TYPES:
        for key, value in bundle.data[et].items():
            assert loaded.data[et][key].equal(value)
    # plain torch can read the tensor file
    raw = torch.load(out / "graph.pt", weights_only=True)
    assert raw["interacts.edge_index"].equal(bundle.data[INTERACTS].edge_index)
    # saving again over an earlier graph directory replaces it; an unrelated one is refused
    bundle.save(out)
    GraphBundle.load(out)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="refusing to overwrite"):
        bundle.save(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_to_networkx(bundle):
    g = bundle.to_networkx()
    assert g.number_of_nodes() == bundle.num_users + bundle.num_items
    n_sim = sum(bundle.data[et].num_edges for et in (USER_SIMILAR, ITEM_SIMILAR)) // 2
    assert g.number_of_edges() == bundle.data[INTERACTS].num_edges + n_sim
    with pytest.raises(ValueError, match="max_nodes"):
        bundle.to_networkx(max_nodes=3)


@pytest.fixture
def saved(bundle, tmp_path):
    return bundle.save(tmp_path / "g")


def test_load_missing_dir(tmp_path):
    with pytest.raises(InputError, match="does not exist") as e:
        GraphBundle.load(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(e.value)


def test_load_dir_without_meta(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a mogenet graph directory") as e:
        GraphBundle.load(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(e.value)
    assert "\n" not in str(e.value)


def test_load_foreign_meta(saved):
    (saved / "meta.json").write_text(json.dumps({"name": "someone else's model"}))
    with pytest.raises(InputError, match="not a mogenet graph manifest"):
        GraphBundle.load(saved)
    (saved / "meta.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable"):
        GraphBundle.load(saved)


def test_load_unsupported_version(saved):
    meta = json.loads((saved / "meta.json").read_text())
    meta["format_version"] = 99
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="unsupported graph format_version 99"):
        GraphBundle.load(saved)


def test_load_tampered_tensor_file(saved):
    blob = bytearray((saved / "graph.pt").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (saved / "graph.pt").write_bytes(bytes(blob))
    with pytest.raises(InputError, match="corrupted") as e:
        GraphBundle.load(saved)
    assert "graph.pt" in str(e.value) and "\n" not in str(e.value)


def test_load_truncated_or_missing_files(saved):
    blob = (saved / "graph.pt").read_bytes()
    (saved / "graph.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError, match="truncated"):
        GraphBundle.load(saved)
    (saved / "graph.pt").write_bytes(blob)
    GraphBundle.load(saved)
    (saved / "users.json").unlink()
    with pytest.raises(InputError, match="missing") as e:
        GraphBundle.load(saved)
    assert "users.json" in str(e.value)


def test_load_checks_tensor_shapes_even_with_matching_hash(saved):
    from mogenet.io import file_sha256

    tensors = torch.load(saved / "graph.pt", weights_only=True)
    tensors["interacts.edge_index"] = tensors["interacts.edge_index"] + 1000
    torch.save(tensors, saved / "graph.pt")
    meta = json.loads((saved / "meta.json").read_text())
    meta["files"]["graph.pt"] = {
        "sha256": file_sha256(saved / "graph.pt"),
        "bytes": (saved / "graph.pt").stat().st_size,
    }
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="outside the node range"):
        GraphBundle.load(saved)


def test_content_hash_is_deterministic_and_checked(saved):
    a = GraphBundle.build(train_log(), config=GraphConfig(topk=3), users=USERS, items=ITEMS)
    b = GraphBundle.build(train_log(), config=GraphConfig(topk=3), users=USERS, items=ITEMS)
    assert a.content_hash() == b.content_hash() == GraphBundle.load(saved).meta["hash"]
    c = GraphBundle.build(train_log(), config=GraphConfig(topk=1))
    assert c.content_hash() != a.content_hash()
    meta = json.loads((saved / "meta.json").read_text())
    meta["hash"] = "0" * 64
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="content hash differs"):
        GraphBundle.load(saved)
