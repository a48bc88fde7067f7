import numpy as np
import pandas as pd
import pytest

from mogenet.datasets import IdMap, InteractionLog
from mogenet.graphs import BipartiteEdges, build_bipartite


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
