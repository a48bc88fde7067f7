"""Tests of mogenet.datasets.negatives.sample_negatives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mogenet.datasets.log import InteractionLog
from mogenet.datasets.negatives import sample_negatives
from mogenet.errors import InputError

TASKS = ("click", "buy")


def make_log(n: int = 400, users: int = 20, items: int = 25, seed: int = 0, oracle: bool = True):
    rng = np.random.default_rng(seed)
    click = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in rng.integers(0, users, n)],
            "item_id": [f"i{i}" for i in rng.integers(0, items, n)],
            "timestamp": rng.integers(0, 1000, n).astype(np.int64),
            "scenario": [f"s{s}" for s in rng.integers(0, 3, n)],
            "click": click.astype(np.int8),
            "buy": (click * rng.integers(0, 2, n)).astype(np.int8),
        }
    )
    if oracle:
        frame["oracle_click"] = rng.random(n)
    return InteractionLog(frame, TASKS)


def positive_pairs(*logs: InteractionLog) -> set[tuple[str, str]]:
    pairs = set()
    for log in logs:
        pos = log.frame[log.positive_mask()]
        pairs |= set(zip(pos["user_id"], pos["item_id"], strict=True))
    return pairs


@pytest.mark.parametrize("k", [1, 4])
def test_negatives_shape_labels_and_copies(k):
    log = make_log()
    out = sample_negatives(log, k=k, seed=0)
    n, pos = len(log), np.flatnonzero(log.positive_mask())
    assert len(out) == n + k * len(pos)  # exactly k per positive row
    assert out.tasks == log.tasks
    pd.testing.assert_frame_equal(out.frame.iloc[:n], log.frame)  # originals untouched
    neg = out.frame.iloc[n:].reset_index(drop=True)
    src = log.frame.iloc[np.repeat(pos, k)].reset_index(drop=True)
    assert (neg[list(TASKS)] == 0).all().all()
    assert all(neg[t].dtype == np.int8 for t in TASKS)
    assert neg["oracle_click"].isna().all()
    for col in ("user_id", "timestamp", "scenario"):
        assert neg[col].tolist() == src[col].tolist()
        assert neg[col].dtype == log.frame[col].dtype
    assert neg["item_id"].dtype == log.frame["item_id"].dtype
    assert set(neg["item_id"]) <= set(log.frame["item_id"])


def test_negatives_never_hit_a_positive():
    log = make_log(items=12)  # dense: many collisions to avoid
    out = sample_negatives(log, k=3, seed=1)
    neg = out.frame.iloc[len(log) :]
    assert not set(zip(neg["user_id"], neg["item_id"], strict=True)) & positive_pairs(log)


def test_negatives_respect_exclude():
    full = make_log(600, items=15, seed=2)
    part = InteractionLog(full.frame.iloc[500:].reset_index(drop=True), TASKS)
    out = sample_negatives(part, k=5, seed=0, exclude=full)
    neg = out.frame.iloc[len(part) :]
    assert len(neg) == 5 * part.positive_mask().sum()
    assert not set(zip(neg["user_id"], neg["item_id"], strict=True)) & positive_pairs(full)


def test_negatives_exclude_plus_own_positives():
    # exclude holds other rows only: the log's own positives must still be avoided
    def log_of(users, items):
        frame = pd.DataFrame({"user_id": users, "item_id": items})
        return InteractionLog(frame.assign(click=np.int8(1)), ("click",))

    log = log_of(["a", "a", "a"], ["x", "y", "w"])  # w is outside the universe
    train = log_of(["a", "b", "b"], ["x", "y", "z"])
    # universe {x, y, z}; a is positive on x, y (log) and x (train): only z is free
    out = sample_negatives(log, k=2, seed=0, exclude=train)
    assert out.frame["item_id"].iloc[3:].tolist() == ["z"] * 6  # few free items: repeats


def test_negatives_distinct_within_a_positive_row():
    log = make_log(300, users=10, items=30, seed=4)
    k = 8
    out = sample_negatives(log, k=k, seed=3)
    items = out.frame["item_id"].iloc[len(log) :].to_numpy().reshape(-1, k)
    assert all(len(set(row)) == k for row in items)


def test_negatives_uniform_over_free_items():
    # one user positive on i0..i4 of 10 items: negatives uniform over i5..i9
    frame = pd.DataFrame(
        {
            "user_id": ["u"] * 10,
            "item_id": [f"i{j}" for j in range(10)],
            "click": np.array([1] * 5 + [0] * 5, dtype=np.int8),
        }
    )
    out = sample_negatives(InteractionLog(frame, ("click",)), k=400, seed=0)
    counts = out.frame["item_id"].iloc[10:].value_counts()
    assert set(counts.index) == {f"i{j}" for j in range(5, 10)}
    assert counts.min() > 300  # 2000 draws over 5 items, ~400 each


def test_negatives_deterministic():
    log = make_log()
    a = sample_negatives(log, k=3, seed=7).frame
    b = sample_negatives(log, k=3, seed=7).frame
    c = sample_negatives(log, k=3, seed=8).frame
    pd.testing.assert_frame_equal(a, b)
    assert not a["item_id"].equals(c["item_id"])


def test_negatives_k_zero_and_no_positives():
    log = make_log(50)
    assert len(sample_negatives(log, k=0, seed=0)) == len(log)
    negs_only = InteractionLog(log.frame[~log.positive_mask()].reset_index(drop=True), TASKS)
    assert len(sample_negatives(negs_only, k=3, seed=0)) == len(negs_only)
    with pytest.raises(InputError):
        sample_negatives(log, k=-1, seed=0)


def test_negatives_error_when_user_saturated():
    frame = pd.DataFrame(
        {
            "user_id": ["greedy"] * 3 + ["ok"],
            "item_id": ["a", "b", "c", "a"],
            "click": np.ones(4, dtype=np.int8),
        }
    )
    with pytest.raises(InputError, match="greedy"):
        sample_negatives(InteractionLog(frame, ("click",)), k=1, seed=0)
