import json
import warnings

import numpy as np
import pytest

from mogenet.datasets.readers import (
    CsvSchema,
    DuplicateRowsWarning,
    read_features,
    read_log,
    read_pairs,
)
from mogenet.errors import InputError


def write(tmp_path, text, name="log.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_wide_form_infers_tasks_and_keeps_raw_ids(tmp_path):
    p = write(tmp_path, "user_id,item_id,timestamp,click,buy\n007,A-1,5,1,0\n7,A-1,6,0.0,1.0\n")
    log = read_log(p)
    assert log.tasks == ("click", "buy")
    assert log.frame["user_id"].tolist() == ["007", "7"]  # not parsed as integers
    assert log.frame["click"].dtype == np.int8 and log.labels().tolist() == [[1, 0], [0, 1]]
    assert log.frame["timestamp"].tolist() == [5, 6]


def test_schema_renames_columns(tmp_path):
    p = write(tmp_path, "uid,iid,ts,ctr\nu1,i1,2023-01-01T00:00:00Z,1\n")
    log = read_log(p, CsvSchema(user="uid", item="iid", timestamp="ts"))
    assert list(log.frame.columns) == ["user_id", "item_id", "timestamp", "ctr"]
    assert log.frame["timestamp"].iloc[0] == 1672531200


def test_chunked_reading_reports_the_right_line(tmp_path):
    rows = "".join(f"u{i},i{i},1\n" for i in range(25)) + "u25,i25,3\n"
    p = write(tmp_path, "user_id,item_id,click\n" + rows)
    with pytest.raises(InputError) as e:
        read_log(p, chunk_rows=7)
    assert e.value.row == 27 and e.value.column == "click"
    assert (
        len(
            read_log(
                write(tmp_path, "user_id,item_id,click\n" + rows[:-10], "ok.csv"), chunk_rows=7
            )
        )
        == 25
    )


def test_duplicates_merge_with_max(tmp_path):
    p = write(tmp_path, "user_id,item_id,click,buy\nu1,i1,1,0\nu1,i1,0,1\nu2,i1,0,0\n")
    with pytest.warns(DuplicateRowsWarning, match="merged 1 duplicate"):
        log = read_log(p)
    assert log.labels().tolist() == [[1, 1], [0, 0]]


def test_same_pair_at_other_times_is_not_a_duplicate(tmp_path):
    p = write(tmp_path, "user_id,item_id,timestamp,click\nu1,i1,1,1\nu1,i1,2,0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_log(p)) == 2


def test_long_form_pivot(tmp_path):
    p = write(
        tmp_path,
        "user_id,item_id,behavior,timestamp\nu1,i1,pv,10\nu1,i1,buy,12\nu2,i2,pv,5\nu1,i2,cart,30\n",
    )
    log = read_log(p)
    assert log.tasks == ("buy", "cart", "pv")
    rows = {
        (r.user_id, r.item_id): (r.timestamp, r.buy, r.cart, r.pv) for r in log.frame.itertuples()
    }
    assert rows == {
        ("u1", "i1"): (10, 1, 0, 1),
        ("u2", "i2"): (5, 0, 0, 1),
        ("u1", "i2"): (30, 0, 1, 0),
    }
    only_buy = read_log(p, CsvSchema(tasks=("buy",)))
    assert len(only_buy) == 3 and only_buy.tasks == ("buy",)  # pv-only pairs stay as negatives


def test_long_form_unknown_task(tmp_path):
    p = write(tmp_path, "user_id,item_id,behavior\nu1,i1,pv\n")
    with pytest.raises(InputError, match="not a behaviour"):
        read_log(p, CsvSchema(tasks=("like",)))


def test_oracle_columns_are_not_tasks(tmp_path):
    p = write(tmp_path, "user_id,item_id,click,oracle_click\nu1,i1,1,0.7\n")
    log = read_log(p)
    assert log.tasks == ("click",) and log.oracle_tasks == ("click",)


def test_features_types_and_duplicates(tmp_path):
    p = write(tmp_path, "user_id,age,city\nu1,20,paris\nu2,,rome\n", "users.csv")
    t = read_features(p, id_column="user_id")
    assert t["age"].dtype.kind == "f" and np.isnan(t["age"].iloc[1])
    assert t["city"].tolist() == ["paris", "rome"]
    with pytest.raises(InputError, match="duplicate id 'u1'"):
        read_features(write(tmp_path, "user_id,a\nu1,1\nu1,2\n", "d.csv"), id_column="user_id")


def test_pairs_need_only_ids(tmp_path):
    pairs = read_pairs(write(tmp_path, "item_id,user_id\ni1,u1\ni2,u1\n"))
    assert pairs.columns.tolist() == ["user_id", "item_id"] and len(pairs) == 2


def test_undecodable_text(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("user_id,item_id,click\nu\xe9,i1,1\n".encode("latin-1") + b"x" * 10)
    with pytest.raises(InputError, match="UTF-8"):
        read_log(p)


def test_declared_categorical_columns_stay_strings(tmp_path):
    p = write(tmp_path, "item_id,brand,price\ni1,17,9.5\ni2,04,3.0\n", "items.csv")
    t = read_features(p, id_column="item_id", categorical=("brand", "not_here"))
    assert t["brand"].tolist() == ["17", "04"] and t["price"].dtype.kind == "f"


def test_prepare_json_beside_the_file_declares_categorical_columns(tmp_path):
    p = write(tmp_path, "item_id,brand,price\ni1,17,9.5\ni2,04,3.0\n", "items.csv")
    summary = {"categorical": {"items.csv": ["brand"], "users.csv": ["price"]}}
    (tmp_path / "prepare.json").write_text(json.dumps(summary))
    t = read_features(p, id_column="item_id")
    assert t["brand"].tolist() == ["17", "04"]  # listed for items.csv
    assert t["price"].dtype.kind == "f"  # listed for another file only
    for foreign in ("{not json", '["a list"]', '{"categorical": "brand"}'):
        (tmp_path / "prepare.json").write_text(foreign)  # not ours: ignored
        assert read_features(p, id_column="item_id")["brand"].dtype.kind == "i"
