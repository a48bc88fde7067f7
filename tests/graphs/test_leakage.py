import numpy as np
import pandas as pd
import pytest

from mogenet.config import GraphConfig
from mogenet.datasets import InteractionLog
from mogenet.errors import InputError
from mogenet.graphs import GraphBundle, LeakageError, check_leakage, find_leaks


def log(rows, source=None):
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "click", "buy"])
    frame[["click", "buy"]] = frame[["click", "buy"]].astype(np.int8)
    return InteractionLog(frame, ("click", "buy"), source)


TRAIN = log(
    [
        ("u1", "i1", 1, 0),
        ("u1", "i2", 0, 0),  # negative only: not an edge
        ("u2", "i2", 1, 1),
        ("u3", "i1", 0, 1),
    ]
)


@pytest.fixture(scope="module")
def bundle():
    return GraphBundle.build(TRAIN, config=GraphConfig(topk=2))


def test_clean_split_passes(bundle):
    test = log(
        [
            ("u1", "i3", 1, 0),  # unseen item
            ("u1", "i2", 1, 0),  # train pair, but negative in train: not an edge
            ("u9", "i1", 0, 0),  # cold-start user
            ("u2", "i1", 0, 0),
        ]
    )
    assert find_leaks(bundle, test).tolist() == []
    check_leakage(bundle, test, name="test")


def test_planted_pair_fails(bundle, tmp_path):
    rows = [("u1", "i3", 1, 0), ("u2", "i2", 0, 0), ("u3", "i2", 1, 0), ("u1", "i1", 1, 1)]
    test = log(rows)
    leaks = find_leaks(bundle, test)
    assert leaks.dtype == np.int64 and leaks.tolist() == [1, 3]
    with pytest.raises(LeakageError, match="2 of 4 test rows") as e:
        check_leakage(bundle, test, name="test")
    assert "user 'u2', item 'i2'" in str(e.value)
    assert isinstance(e.value, InputError)
    # with a source file, the message names the file and the line of the first leak
    with pytest.raises(LeakageError) as e:
        check_leakage(bundle, log(rows, source=str(tmp_path / "test.csv")))
    assert e.value.file == str(tmp_path / "test.csv") and e.value.row == 3
    assert "\n" not in str(e.value)


def test_training_log_leaks_into_itself(bundle):
    # sanity: every positive training row is, by construction, an edge
    assert find_leaks(bundle, TRAIN).tolist() == [0, 2, 3]
