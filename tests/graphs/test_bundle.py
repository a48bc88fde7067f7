import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.cli.build_graphs import format_summary
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
from mogenet.graphs.bundle import BUILD_STAGES


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
    logged = sorted(log.frame["user_id"].unique())
    # The log's users (sorted), then the feature table's others: u12, u13.
    assert bundle.user_map.to_list() == [*logged, "u12", "u13"]
    assert bundle.item_map.to_list() == sorted(log.frame["item_id"].unique())
    assert bundle.log_nodes == {"user": len(logged), "item": bundle.num_items}
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


def test_feature_only_nodes(bundle):
    """Users of users.csv absent from the log keep their features and have no edges."""
    k = bundle.log_nodes["user"]
    extra = torch.as_tensor(bundle.user_map.encode(["u12", "u13"]))
    assert extra.tolist() == [k, k + 1]
    uf = bundle.user_features()
    age = uf.numeric[:, uf.numeric_names.index("age")]
    assert age[extra[1]] > age[extra[0]] > age[:k].max()  # ages 12 < 13 > every logged user
    assert uf.categorical[extra].gt(0).all()
    for et in (INTERACTS, USER_SIMILAR):
        assert not torch.isin(bundle.data[et].edge_index[0], extra).any()
    assert "(2 from features only)" in format_summary(bundle.summary(), {})
    plain = GraphBundle.build(train_log(), config=GraphConfig(topk=3))
    assert plain.log_nodes == {"user": plain.num_users, "item": plain.num_items}


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
    assert meta["config"] == asdict(GraphConfig(topk=3))
    assert meta["config"]["hub_cap"] == 300 and meta["config"]["behavior_weights"] is None
    assert meta["behavior_edges"] == [] and bundle.behavior_tasks == ()
    assert set(meta["build_seconds"]) == set(BUILD_STAGES)
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
    users, items = bundle.user_map.to_list(), bundle.item_map.to_list()
    assert g.nodes["user", users[0]]["type"] == "user"
    store = bundle.data[INTERACTS]
    u, i = store.edge_index[:, 0].tolist()
    edge = g.edges[("user", users[u]), ("item", items[i])]
    assert edge["channel"] == "interacts"
    assert edge["counts"] == dict(zip(bundle.tasks, store.edge_attr[0].tolist(), strict=True))
    store = bundle.data[ITEM_SIMILAR]
    a, b = store.edge_index[:, 0].tolist()
    edge = g.edges[("item", items[a]), ("item", items[b])]
    assert edge["channel"] == "similar" and edge["weight"] == store.edge_weight[0].item()
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


def test_load_bad_log_nodes(saved):
    meta = json.loads((saved / "meta.json").read_text())
    assert GraphBundle.load(saved).log_nodes == meta["log_nodes"]
    meta["log_nodes"]["user"] = meta["num_users"] + 1
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match='"log_nodes" must be'):
        GraphBundle.load(saved)
    del meta["log_nodes"]  # bundles written before log_nodes: every node is in the log
    (saved / "meta.json").write_text(json.dumps(meta))
    loaded = GraphBundle.load(saved)
    assert loaded.log_nodes == {"user": loaded.num_users, "item": loaded.num_items}


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


def rewrite_tensors(out, tensors, meta=None) -> None:
    """Save altered ``tensors`` (and ``meta``) into bundle directory ``out`` with
    matching file checksums, so that only ``load``'s tensor checks can object."""
    from mogenet.io import file_sha256

    torch.save(tensors, out / "graph.pt")
    meta = meta or json.loads((out / "meta.json").read_text())
    meta["files"]["graph.pt"] = {
        "sha256": file_sha256(out / "graph.pt"),
        "bytes": (out / "graph.pt").stat().st_size,
    }
    (out / "meta.json").write_text(json.dumps(meta))


def test_load_checks_tensor_shapes_even_with_matching_hash(saved):
    tensors = torch.load(saved / "graph.pt", weights_only=True)
    tensors["interacts.edge_index"] = tensors["interacts.edge_index"] + 1000
    rewrite_tensors(saved, tensors)
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


# ------------------------------------------------------- behaviours (hand-made log)
def hand_log(tasks=("click", "buy")):
    rows = [
        # user, item, click, buy
        ("a", "i1", 1, 0),
        ("a", "i2", 1, 0),
        ("a", "i3", 0, 1),
        ("b", "i1", 1, 0),
        ("b", "i1", 1, 0),  # repeat: counts 2, weight still 1
        ("b", "i2", 1, 0),
        ("b", "i4", 0, 0),  # negative only: no edge
        ("c", "i3", 1, 0),
        ("d", "i4", 1, 0),
        ("d", "i4", 0, 1),  # click and buy on (d, i4): weight 1 + 4
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", *tasks])
    for t in tasks:
        frame[t] = frame[t].astype(np.int8)
    return InteractionLog(frame, tasks)


def pairs(bundle, edge_type):
    src, _, dst = edge_type
    maps = {"user": bundle.user_map, "item": bundle.item_map}
    ei = bundle.data[edge_type].edge_index
    return list(zip(maps[src].decode(ei[0]), maps[dst].decode(ei[1]), strict=True))


def top1(bundle, user):
    """The most similar user of ``user`` (ties: smaller index)."""
    ei, w = bundle.data[USER_SIMILAR].edge_index, bundle.data[USER_SIMILAR].edge_weight
    u = bundle.user_map.encode([user])[0]
    mask = ei[0] == u
    cols, ws = ei[1][mask].tolist(), w[mask].tolist()
    return bundle.user_map.decode(
        [min(zip(cols, ws, strict=True), key=lambda cw: (-cw[1], cw[0]))[0]]
    )[0]


def test_per_behavior_edges_exact_sets():
    b = GraphBundle.build(hand_log(), config=GraphConfig(per_behavior_edges=True))
    assert b.behavior_tasks == ("click", "buy") and b.meta["behavior_edges"] == ["click", "buy"]
    click, rev_click = ("user", "click", "item"), ("item", "rev_click", "user")
    buy = ("user", "buy", "item")
    assert set(b.data.edge_types) == {
        *EDGE_TYPES,
        click,
        rev_click,
        buy,
        ("item", "rev_buy", "user"),
    }
    assert pairs(b, click) == [
        ("a", "i1"),
        ("a", "i2"),
        ("b", "i1"),
        ("b", "i2"),
        ("c", "i3"),
        ("d", "i4"),
    ]
    assert pairs(b, buy) == [("a", "i3"), ("d", "i4")]
    assert b.data[rev_click].edge_index.equal(b.data[click].edge_index.flip(0))
    assert b.meta["edges"]["user__buy__item"] == 2 and b.meta["edges"]["item__rev_buy__user"] == 2
    assert b.meta["degree"]["user"]["buy"]["isolated"] == 2  # b and c bought nothing
    assert b.meta["degree"]["item"]["buy"]["max"] == 1
    assert b.summary()["behavior_edges"] == ["click", "buy"]
    assert b.degrees()["item"]["click"].tolist() == [2, 2, 1, 1]
    b.data.validate()
    # off by default: no extra edge types
    plain = GraphBundle.build(hand_log())
    assert set(plain.data.edge_types) == set(EDGE_TYPES)
    assert "behavior.click.edge_index" not in plain.tensors()


def test_per_behavior_round_trip(tmp_path):
    b = GraphBundle.build(hand_log(), config=GraphConfig(per_behavior_edges=True))
    out = b.save(tmp_path / "g")
    raw = torch.load(out / "graph.pt", weights_only=True)
    assert {"behavior.click.edge_index", "behavior.buy.edge_index"} <= raw.keys()
    loaded = GraphBundle.load(out)
    assert loaded.meta == b.meta and loaded.behavior_tasks == ("click", "buy")
    assert set(loaded.data.edge_types) == set(b.data.edge_types)
    for et in b.data.edge_types:
        for key, value in b.data[et].items():
            assert loaded.data[et][key].equal(value), (et, key)
    assert loaded.content_hash() == b.content_hash()
    # the behaviour edges are part of the content hash
    assert b.content_hash() != GraphBundle.build(hand_log()).content_hash()


@pytest.mark.parametrize("tamper", ["drop", "extra", "range", "meta"])
def test_load_checks_behavior_tensors(tamper, tmp_path):
    out = GraphBundle.build(hand_log(), config=GraphConfig(per_behavior_edges=True)).save(
        tmp_path / "g"
    )
    tensors = torch.load(out / "graph.pt", weights_only=True)
    meta = json.loads((out / "meta.json").read_text())
    match = {
        "drop": "'behavior.buy.edge_index' is missing",
        "extra": "unexpected tensor",
        "range": "outside the node range",
        "meta": "behavior_edges",
    }[tamper]
    if tamper == "drop":
        del tensors["behavior.buy.edge_index"]
    elif tamper == "extra":
        tensors["behavior.view.edge_index"] = tensors["behavior.buy.edge_index"]
    elif tamper == "range":
        tensors["behavior.buy.edge_index"] = tensors["behavior.buy.edge_index"] + 100
    else:
        meta["behavior_edges"] = ["view"]
    rewrite_tensors(out, tensors, meta)
    with pytest.raises(InputError, match=match):
        GraphBundle.load(out)


@pytest.mark.parametrize(
    ("tasks", "bad"),
    [
        (("click", "interacts"), "'interacts'"),
        (("similar", "buy"), "'similar'"),
        (("rev_interacts", "buy"), "'rev_interacts'"),
        (("click", "rev_click"), "'rev_click'"),
    ],
)
def test_behavior_task_names_cannot_clash(tasks, bad):
    config = GraphConfig(per_behavior_edges=True)
    with pytest.raises(InputError, match=f"task name\\(s\\) {bad} clash"):
        GraphBundle.build(hand_log(tasks), config=config)
    GraphBundle.build(hand_log(tasks))  # fine without per-behaviour edges


def test_behavior_weights_reach_similarity(monkeypatch):
    import mogenet.graphs.bundle as bundle_module

    calls = []
    real = bundle_module.build_similarity

    def spy(edge_index, num_src, num_dst, **kwargs):
        calls.append((edge_index, kwargs))
        return real(edge_index, num_src, num_dst, **kwargs)

    monkeypatch.setattr(bundle_module, "build_similarity", spy)
    config = GraphConfig(
        topk=1, behavior_weights={"buy": 4}, hub_cap=7, seed=3, min_support=1, num_threads=1
    )
    b = GraphBundle.build(hand_log(), config=config)
    assert len(calls) == 2
    # edges sorted by (user, item): (a,i1) (a,i2) (a,i3) (b,i1) (b,i2) (c,i3) (d,i4)
    expected = [1.0, 1.0, 4.0, 1.0, 1.0, 1.0, 5.0]
    for edge_index, kwargs in calls:
        assert kwargs["edge_weight"].tolist() == expected
        assert kwargs["edge_weight"].dtype == torch.float32
        assert kwargs["edge_weight"].shape == (edge_index.size(1),)
        assert (kwargs["hub_cap"], kwargs["seed"], kwargs["topk"]) == (7, 3, 1)
        assert (kwargs["measure"], kwargs["num_threads"], kwargs["device"]) == ("cosine", 1, "cpu")
        assert kwargs["progress"] is False
    assert calls[1][0].equal(calls[0][0].flip(0))
    # the resolved weights (unlisted tasks weigh 1) are recorded
    assert b.meta["config"]["behavior_weights"] == {"click": 1.0, "buy": 4.0}
    assert b.meta["config"]["hub_cap"] == 7


def test_behavior_weights_change_the_nearest_neighbour():
    # binary cosine: a~b = 2/sqrt(3*2) = .82 > a~c = 1/sqrt(3) = .58;
    # buy=4: a~b = 2/sqrt(18*2) = .33 < a~c = 4/sqrt(18*1) = .94
    binary = GraphBundle.build(hand_log(), config=GraphConfig(topk=1))
    weighted = GraphBundle.build(
        hand_log(), config=GraphConfig(topk=1, behavior_weights={"buy": 4})
    )
    assert top1(binary, "a") == "b"
    assert top1(weighted, "a") == "c"
    # all weights equal is the binary graph
    same = GraphBundle.build(
        hand_log(), config=GraphConfig(topk=1, behavior_weights={"click": 2, "buy": 2})
    )
    assert pairs(same, USER_SIMILAR) == pairs(binary, USER_SIMILAR)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"click": 1, "view": 2, "pay": 1}, "unknown task.*'view', 'pay'"),
        ({"click": 0}, "'click' must be a finite number > 0"),
        ({"buy": -1.0}, "'buy' must be a finite number > 0"),
        ({"buy": float("nan")}, "'buy' must be"),
    ],
)
def test_bad_behavior_weights(weights, match):
    with pytest.raises(InputError, match=match):
        GraphBundle.build(hand_log(), config=GraphConfig(behavior_weights=weights))


def test_stage_clock():
    from mogenet.graphs.bundle import StageClock

    clock = StageClock()  # progress off: no bar, timings still recorded
    clock.start(["a", "b"])
    with clock("a"):
        pass
    with pytest.raises(RuntimeError), clock("b"):
        raise RuntimeError
    clock.close()
    assert list(clock.seconds) == ["a", "b"] and all(v >= 0 for v in clock.seconds.values())
    assert repr(clock) == "StageClock(progress=False, stages=['a', 'b'])"
    b = GraphBundle.build(hand_log(), clock=clock)
    assert list(clock.seconds) == ["a", "b", *BUILD_STAGES]
    assert b.meta["build_seconds"] == {k: round(clock.seconds[k], 6) for k in BUILD_STAGES}


def test_spectral_embeddings_are_stored_read_and_label_free(tmp_path):
    log = train_log()
    b = GraphBundle.build(log, config=GraphConfig(topk=3, spectral=3), users=USERS, items=ITEMS)
    assert b.spectral_dim == 3 and b.meta["config"]["spectral"] == 3
    assert b.data["user"].spectral.shape == (b.num_users, 3)
    assert (b.data["user"].spectral[-2:] == 0).all()  # u12, u13: features only, no rows
    # read as numeric node features after the table's own, or not at all
    uf = b.user_features()
    assert uf.numeric_names == ("age", "spectral_1", "spectral_2", "spectral_3")
    assert uf.numeric[:, 1:].equal(b.data["user"].spectral)
    assert b.user_features(spectral=False).numeric_names == ("age",)
    assert b.item_features().numeric_names == ("price", "spectral_1", "spectral_2", "spectral_3")
    plain = GraphBundle.build(log, config=GraphConfig(topk=3))
    assert plain.spectral_dim == 0 and plain.user_features().numeric_names == ()
    # every row counts, whatever its labels: other labels give the same coordinates
    flipped = log.frame.assign(click=1 - log.frame["click"], buy=0)
    other = GraphBundle.build(InteractionLog(flipped, log.tasks), config=GraphConfig(spectral=3))
    assert other.data["item"].spectral.equal(b.data["item"].spectral)
    # save / load keeps them, and they are part of the content hash
    loaded = GraphBundle.load(b.save(tmp_path / "g"))
    assert loaded.data["item"].spectral.equal(b.data["item"].spectral)
    assert loaded.content_hash() == b.content_hash()
    assert "spectral 3 coordinates" in format_summary(b.summary(), {})
    b2 = GraphBundle.build(log, config=GraphConfig(topk=3, spectral=2), users=USERS, items=ITEMS)
    assert b2.content_hash() != b.content_hash()
    with pytest.raises(InputError, match="--spectral must be between 1 and"):
        GraphBundle.build(log, config=GraphConfig(spectral=-1))


@pytest.mark.parametrize(
    ("tamper", "match"),
    [
        ("one", "must both be float32"),
        ("dtype", "must both be float32"),
        ("rows", r"must be \[nodes, dim\]"),
        ("dim", r"must be \[nodes, dim\]"),
    ],
)
def test_load_checks_spectral_tensors(tamper, match, tmp_path):
    out = GraphBundle.build(train_log(), config=GraphConfig(spectral=2)).save(tmp_path / "g")
    tensors = torch.load(out / "graph.pt", weights_only=True)
    if tamper == "one":
        del tensors["item.spectral"]
    elif tamper == "dtype":
        tensors["item.spectral"] = tensors["item.spectral"].double()
    elif tamper == "rows":
        tensors["item.spectral"] = tensors["item.spectral"][:-1]
    else:
        tensors["item.spectral"] = torch.cat([tensors["item.spectral"]] * 2, dim=1)
    rewrite_tensors(out, tensors)
    with pytest.raises(InputError, match=match):
        GraphBundle.load(out)
