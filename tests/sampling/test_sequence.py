import numpy as np
import pandas as pd
import pytest
import torch

from mogenet.datasets import IdMap, InteractionLog
from mogenet.errors import InputError
from mogenet.sampling.sequence import PAD, History

TASKS = ("click", "buy")


def random_log(n=300, users=12, items=30, times=40, seed=0):
    """Timestamps drawn from few values, so many rows tie."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{k}" for k in rng.integers(users, size=n)],
            "item_id": [f"i{k}" for k in rng.integers(items, size=n)],
            "timestamp": rng.integers(times, size=n).astype(np.int64),
            "click": rng.integers(2, size=n),
            "buy": rng.integers(2, size=n),
        }
    )
    log = InteractionLog(frame, TASKS)
    return log, IdMap.from_values(frame["user_id"]), IdMap.from_values(frame["item_id"])


def reference(log, user_map, item_map, user, time, length):
    """A per-example Python loop: the definition of a sequence."""
    f = log.frame
    u_all, i_all = user_map.encode(f["user_id"]), item_map.encode(f["item_id"])
    t_all, y_all = f["timestamp"].to_numpy(), log.labels()
    items = np.full((len(user), length), PAD)
    labels = np.zeros((len(user), length, len(TASKS)), dtype=np.float32)
    for n, (u, t) in enumerate(zip(user, time, strict=True)):
        rows = [r for r in range(len(f)) if u_all[r] == u and (t is None or t_all[r] < t)]
        rows = sorted(rows, key=lambda r: (t_all[r], r))[-length:]
        for k, r in enumerate(rows):
            items[n, length - len(rows) + k] = i_all[r]
            labels[n, length - len(rows) + k] = y_all[r]
    return items, labels


@pytest.mark.parametrize("length", [1, 4, 50])
def test_matches_the_definition_for_every_training_row(length):
    log, users, items = random_log()
    history = History.from_log(log, users, items)
    user = users.encode(log.frame["user_id"])
    time = log.frame["timestamp"].to_numpy()
    seq, lab = history.sequences(torch.from_numpy(user), time, length)
    ref_items, ref_labels = reference(log, users, items, user, time, length)
    assert seq.shape == (len(log), length) and seq.dtype == torch.int64
    assert lab.shape == (len(log), length, 2) and lab.dtype == torch.float32
    np.testing.assert_array_equal(seq.numpy(), ref_items)
    np.testing.assert_array_equal(lab.numpy(), ref_labels)


def test_strictly_before_no_own_labels_and_left_padding():
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "a", "b"],
            "item_id": ["i0", "i1", "i2", "i3", "i0"],
            "timestamp": [10, 20, 20, 30, 5],
            "click": [1, 0, 1, 1, 1],
            "buy": [0, 0, 1, 0, 0],
        }
    )
    log = InteractionLog(frame, TASKS)
    users, items = IdMap(["a", "b"]), IdMap(["i0", "i1", "i2", "i3"])
    history = History.from_log(log, users, items)
    seq, lab = history.sequences(torch.tensor([0, 0, 0, 0, 1]), frame["timestamp"], 3)
    assert seq.tolist() == [
        [PAD, PAD, PAD],  # first interaction: empty history
        [PAD, PAD, 0],  # t=20: rows at t=20 (itself and its tie) are not "before"
        [PAD, PAD, 0],
        [0, 1, 2],  # t=30: ties in log order, oldest first
        [PAD, PAD, PAD],
    ]
    assert lab[3].tolist() == [[1, 0], [0, 0], [1, 1]]
    assert lab[0].abs().sum() == 0  # labels are 0 at padding


def test_unknown_users_and_times_after_the_history():
    log, users, items = random_log(n=50)
    history = History.from_log(log, users, items)
    seq, _ = history.sequences(torch.tensor([-1, 0]), None, 5)
    assert (seq[0] == PAD).all()  # cold-start user: no history
    ref, _ = reference(log, users, items, [0], [None], 5)  # None: after every training row
    np.testing.assert_array_equal(seq[1:].numpy(), ref)


def test_needs_timestamps_and_round_trips():
    log, users, items = random_log(n=40)
    no_time = InteractionLog(log.frame.drop(columns="timestamp"), TASKS, source="train.csv")
    with pytest.raises(InputError, match="train.csv.*timestamp"):
        History.from_log(no_time, users, items)
    history = History.from_log(log, users, items)
    again = History.from_state_dict(history.state_dict())
    q = torch.arange(len(users))
    t = np.full(len(users), 25)
    for a, b in zip(history.sequences(q, t, 6), again.sequences(q, t, 6), strict=True):
        assert torch.equal(a, b)
    assert repr(history).startswith(f"History(rows={len(log)}, users=")


def test_empty_history_and_bad_length():
    history = History(
        user=np.zeros(0), item=np.zeros(0), time=np.zeros(0), labels=np.zeros((0, 2)), tasks=TASKS
    )
    seq, lab = history.sequences(torch.tensor([0, -1]), None, 3)
    assert (seq == PAD).all() and lab.shape == (2, 3, 2)
    with pytest.raises(ValueError, match="length"):
        history.sequences(torch.tensor([0]), None, 0)
