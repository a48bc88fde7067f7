"""Tests of mogenet.datasets.split: partitions, temporal invariants, stratification."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mogenet.datasets.log import InteractionLog
from mogenet.datasets.split import (
    SPLITS,
    Split,
    leave_last_split,
    random_split,
    split_log,
    temporal_split,
    user_split,
)
from mogenet.errors import InputError

TASKS = ("click", "buy")


def make_log(n: int = 600, users: int = 40, items: int = 30, seed: int = 0, ts_max: int = 50):
    rng = np.random.default_rng(seed)
    click = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in rng.integers(0, users, n)],
            "item_id": [f"i{i}" for i in rng.integers(0, items, n)],
            "timestamp": rng.integers(0, ts_max, n).astype(np.int64),  # many ties
            "click": click.astype(np.int8),
            "buy": (click * rng.integers(0, 2, n)).astype(np.int8),
        }
    )
    frame["row"] = np.arange(n)  # to trace rows through the split
    return InteractionLog(frame, TASKS)


def rows_of(split: Split) -> dict[str, np.ndarray]:
    return {name: log.frame["row"].to_numpy() for name, log in split.items()}


def assert_partition(split: Split, n: int) -> None:
    rows = rows_of(split)
    allrows = np.concatenate(list(rows.values()))
    assert np.array_equal(np.sort(allrows), np.arange(n))  # disjoint and complete
    for r in rows.values():
        assert np.all(np.diff(r) > 0)  # original order kept inside each part


def test_split_container():
    split = random_split(make_log(100), ratios=(0.6, 0.2, 0.2), seed=1)
    assert list(split) == ["train", "valid", "test"]
    assert [name for name, _ in split.items()] == list(split)
    assert split["valid"] is split.valid
    assert repr(split).startswith("Split(train=")
    summary = split.summary()
    assert sum(s["rows"] for s in summary.values()) == 100
    for name, s in summary.items():
        assert s["positives"] == int(split[name].positive_mask().sum())
        assert 0.0 <= s["positive_rate"] <= 1.0
        assert set(s["task_rates"]) == set(TASKS)


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.5, 0.25, 0.25), (1.0, 0.0, 0.0)])
def test_temporal_split_invariants(ratios):
    log = make_log(ts_max=50)
    split = temporal_split(log, ratios=ratios)
    assert_partition(split, len(log))
    vs, ts = split.info["valid_start"], split.info["test_start"]
    assert vs <= ts
    tr, va, te = (split[p].frame["timestamp"].to_numpy() for p in split)
    assert np.all(tr < vs)
    assert np.all((va >= vs) & (va < ts))
    assert np.all(te >= ts)
    # rows with equal timestamps never straddle two parts
    sides = [set(tr.tolist()), set(va.tolist()), set(te.tolist())]
    assert not (sides[0] & sides[1] or sides[1] & sides[2] or sides[0] & sides[2])
    # with 50 distinct timestamps the sizes are within one tie block of the ratios
    block = np.bincount(log.frame["timestamp"]).max()
    for part, r in zip(split, ratios, strict=True):
        assert abs(len(split[part]) - r * len(log)) <= block


def test_temporal_split_distinct_timestamps_exact_sizes():
    frame = make_log(1000).frame.assign(timestamp=np.arange(1000, dtype=np.int64)[::-1])
    split = temporal_split(InteractionLog(frame, TASKS))
    assert [len(split[p]) for p in split] == [800, 100, 100]


def test_temporal_split_explicit_cutoffs():
    log = make_log(ts_max=50)
    split = temporal_split(log, cutoffs=(20, 40))
    ts = log.frame["timestamp"].to_numpy()
    assert len(split.train) == int((ts < 20).sum())
    assert len(split.test) == int((ts >= 40).sum())
    assert split.valid.frame["timestamp"].between(20, 39).all()


def test_temporal_split_all_ties_stay_together():
    frame = make_log(50).frame.assign(timestamp=np.int64(7))
    split = temporal_split(InteractionLog(frame, TASKS))
    assert (len(split.train), len(split.valid), len(split.test)) == (50, 0, 0)


def test_temporal_split_errors():
    log = make_log(50)
    no_ts = InteractionLog(log.frame.drop(columns="timestamp"), TASKS, source="log.csv")
    with pytest.raises(InputError) as e:
        temporal_split(no_ts)
    assert e.value.column == "timestamp"
    with pytest.raises(InputError):
        temporal_split(log, cutoffs=(10, 5))
    with pytest.raises(InputError):
        temporal_split(log, ratios=(0.8, 0.1, 0.1), cutoffs=(1, 2))
    with pytest.raises(InputError):
        temporal_split(log, ratios=(0.8, 0.3, 0.1))


def test_random_split_stratified_by_user():
    log = make_log(4000, users=50)
    split = random_split(log, ratios=(0.6, 0.2, 0.2), seed=3)
    assert_partition(split, len(log))
    users = log.frame["user_id"]
    counts = {p: split[p].frame["user_id"].value_counts() for p in split}
    for user, n in users.value_counts().items():
        for part, r in zip(split, (0.6, 0.2, 0.2), strict=True):
            # systematic rounding: each user's part size is within one row of n * r
            assert abs(counts[part].get(user, 0) - n * r) < 1 + 1e-9
    for part, r in zip(split, (0.6, 0.2, 0.2), strict=True):
        assert abs(len(split[part]) / len(log) - r) < 0.02


def test_random_split_small_users_keep_a_train_row():
    frame = pd.DataFrame(
        {
            "user_id": ["a", "b", "b", "c", "c", "c"] + ["d"] * 10,
            "item_id": [f"i{j}" for j in range(16)],
            "click": np.ones(16, dtype=np.int8),
        }
    )
    log = InteractionLog(frame, ("click",))
    for seed in range(20):
        split = random_split(log, ratios=(0.1, 0.45, 0.45), seed=seed)
        train_users = set(split.train.frame["user_id"])
        assert train_users == {"a", "b", "c", "d"}  # every user, single-row ones included
        assert "a" not in set(split.valid.frame["user_id"]) | set(split.test.frame["user_id"])


def test_random_split_deterministic():
    log = make_log(500)
    a = rows_of(random_split(log, ratios=(0.7, 0.15, 0.15), seed=5))
    b = rows_of(random_split(log, ratios=(0.7, 0.15, 0.15), seed=5))
    c = rows_of(random_split(log, ratios=(0.7, 0.15, 0.15), seed=6))
    assert all(np.array_equal(a[p], b[p]) for p in a)
    assert not all(np.array_equal(a[p], c[p]) for p in a)


def test_user_split_holds_out_whole_users():
    log = make_log(3000, users=100)
    split = user_split(log, ratios=(0.7, 0.2, 0.1), seed=1)
    assert_partition(split, len(log))
    users = {p: set(split[p].frame["user_id"]) for p in split}
    assert sum(len(u) for u in users.values()) == 100  # disjoint: no user in two parts
    assert [len(users[p]) for p in split] == [70, 20, 10]  # round(U * cumulative ratio)
    assert split.info == {"by": "user", "ratios": [0.7, 0.2, 0.1], "seed": 1}
    again = rows_of(user_split(log, ratios=(0.7, 0.2, 0.1), seed=1))
    other = rows_of(user_split(log, ratios=(0.7, 0.2, 0.1), seed=2))
    assert all(np.array_equal(again[p], rows_of(split)[p]) for p in again)
    assert not all(np.array_equal(again[p], other[p]) for p in again)


def test_leave_last_split_hand_made():
    frame = pd.DataFrame(
        {
            #          u1: 4 rows, ts tie at 9 -> later row wins; u2: 2 rows; u3: 3 rows
            "user_id": ["u1", "u2", "u1", "u1", "u3", "u1", "u3", "u2", "u3"],
            "item_id": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
            "timestamp": np.array([5, 1, 9, 1, 3, 9, 2, 2, 1], dtype=np.int64),
            "click": np.array([1, 1, 1, 0, 1, 1, 1, 1, 1], dtype=np.int8),
        }
    )
    split = leave_last_split(InteractionLog(frame, ("click",)))
    assert sorted(split.test.frame["item_id"]) == ["e", "f"]  # u1: f (tie, later row); u3: e
    assert sorted(split.valid.frame["item_id"]) == ["c", "g"]
    assert sorted(split.train.frame["item_id"]) == ["a", "b", "d", "h", "i"]  # u2 all train


def test_leave_last_split_without_timestamp_uses_row_order():
    log = make_log(300)
    split = leave_last_split(InteractionLog(log.frame.drop(columns="timestamp"), TASKS))
    last = log.frame.groupby("user_id")["row"].agg(["max", "size"])
    expect = sorted(last.loc[last["size"] >= 3, "max"])
    assert sorted(split.test.frame["row"]) == expect
    assert_partition(split, len(log))


def test_split_log_resolver():
    log = make_log(200)
    assert set(SPLITS) == {"time", "random", "user", "leave-last"}
    for name in SPLITS:
        split = split_log(log, name, seed=0)  # every strategy accepts seed
        assert split.info["by"] == name
        assert_partition(split, len(log))
    with pytest.raises(InputError, match="time, random, user, leave-last"):
        split_log(log, "bogus")
