import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.datasets import IdMap, InteractionLog
from mogenet.errors import InputError
from mogenet.graphs import BipartiteEdges, build_bipartite
from mogenet.graphs.bipartite import behavior_edge_weight, resolve_behavior_weights


def make_log(rows, tasks=("click", "buy"), timestamp=True):
    cols = ["user_id", "item_id", *(["timestamp"] if timestamp else []), *tasks]
    frame = pd.DataFrame([r if timestamp else r[:2] + r[3:] for r in rows], columns=cols)
    for t in tasks:
        frame[t] = frame[t].astype(np.int8)
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    return InteractionLog(frame, tasks)


ROWS = [
    # user, item, ts, click, buy
    ("u2", "i1", 5, 1, 0),
    ("u1", "i2", 3, 1, 1),
    ("u1", "i1", 1, 0, 0),  # negative only: no edge
    ("u1", "i2", 9, 1, 0),  # repeat: same edge, counts add, last ts 9
    ("u3", "i3", 2, 0, 1),
    ("u3", "i1", 7, 0, 0),  # negative only
    ("u2", "i1", 4, 0, 1),
]


def build(log):
    users = IdMap.from_values(log.frame["user_id"])
    items = IdMap.from_values(log.frame["item_id"])
    return build_bipartite(log, users, items), users, items


def test_edges_are_exactly_pairs_with_a_positive():
    edges, users, items = build(make_log(ROWS))
    assert isinstance(edges, BipartiteEdges)
    assert "edges=3" in repr(edges)
    ei = edges.edge_index
    assert ei.dtype.is_floating_point is False and ei.shape == (2, 3)
    got = list(zip(users.decode(ei[0]), items.decode(ei[1]), strict=True))
    assert got == [("u1", "i2"), ("u2", "i1"), ("u3", "i3")]  # sorted by (user, item)
    assert (edges.num_users, edges.num_items) == (3, 3)


def test_edge_attributes_count_positives_and_last_timestamp():
    edges, _, _ = build(make_log(ROWS))
    assert edges.tasks == ("click", "buy")
    assert edges.edge_attr.dtype.is_floating_point
    assert edges.edge_attr.tolist() == [[2.0, 1.0], [1.0, 1.0], [0.0, 1.0]]
    assert edges.last_timestamp.tolist() == [9, 5, 2]


def test_no_timestamp_and_row_order_invariance():
    log = make_log(ROWS, timestamp=False)
    edges, _, _ = build(log)
    assert edges.last_timestamp is None
    shuffled = log.take(np.random.default_rng(0).permutation(len(log)))
    again, _, _ = build(shuffled)
    assert again.edge_index.equal(edges.edge_index)
    assert again.edge_attr.equal(edges.edge_attr)


def test_unknown_ids_raise():
    log = make_log(ROWS)
    with pytest.raises(ValueError, match="missing from the id maps"):
        build_bipartite(log, IdMap(["u1"]), IdMap.from_values(log.frame["item_id"]))


def test_all_negative_log_has_no_edges():
    edges, _, _ = build(make_log([("a", "x", 1, 0, 0)]))
    assert edges.edge_index.shape == (2, 0)
    assert edges.edge_attr.shape == (0, 2)


def test_behavior_edge_index_is_the_subset_with_that_task():
    edges, users, items = build(make_log(ROWS))
    click = edges.behavior_edge_index("click")
    buy = edges.behavior_edge_index("buy")
    assert list(zip(users.decode(click[0]), items.decode(click[1]), strict=True)) == [
        ("u1", "i2"),
        ("u2", "i1"),
    ]
    assert list(zip(users.decode(buy[0]), items.decode(buy[1]), strict=True)) == [
        ("u1", "i2"),
        ("u2", "i1"),
        ("u3", "i3"),
    ]
    with pytest.raises(KeyError, match="cart"):
        edges.behavior_edge_index("cart")


def test_behavior_edge_weight_sums_weights_of_present_behaviours():
    edges, _, _ = build(make_log(ROWS))
    # counts [[2, 1], [1, 1], [0, 1]]: presence, not counts, is weighted
    w = edges.edge_weight({"click": 1, "buy": 4})
    assert w.dtype == torch.float32 and w.tolist() == [5.0, 5.0, 4.0]
    assert edges.edge_weight({"buy": 0.5}).tolist() == [1.5, 1.5, 0.5]  # click defaults to 1
    attr = torch.tensor([[3.0, 0.0, 1.0]])
    assert behavior_edge_weight(attr, ("a", "b", "c"), {"a": 2, "b": 7}).tolist() == [3.0]


def test_resolve_behavior_weights():
    assert resolve_behavior_weights({"buy": 4}, ("click", "buy")) == {"click": 1.0, "buy": 4.0}
    with pytest.raises(InputError, match="unknown task.*'pay'.*tasks: click, buy"):
        resolve_behavior_weights({"pay": 1}, ("click", "buy"))
    for bad in (0, -2, float("inf"), "2", True):
        with pytest.raises(InputError, match="'click' must be a finite number > 0"):
            resolve_behavior_weights({"click": bad}, ("click", "buy"))
