"""Public-dataset preparers on tiny hand-written raw files in the real formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from mogenet.datasets import InteractionLog
from mogenet.datasets.public import PREPARERS, prepare
from mogenet.errors import InputError

EXPECTED = {"aliccp", "aliexpress", "census", "gowalla", "ijcai15", "ml1m", "taobao"}


def read(path: Path) -> pd.DataFrame:
    """A written CSV with every value as the exact string on disk."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def labels(frame: pd.DataFrame, key: tuple[str, str], tasks: list[str]) -> dict:
    """``(user, item) → (label, …)`` as ints."""
    return {
        (u, i): tuple(int(v) for v in row)
        for u, i, *row in frame[[*key, *tasks]].itertuples(index=False)
    }


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def check_readable(out: Path, tasks) -> None:
    """Every written file passes mogenet's own readers (the CSV schema contract)."""
    from mogenet.datasets.readers import read_features, read_log

    for name in ("interactions.csv", "train.csv", "test.csv"):
        if (out / name).exists():
            log = read_log(out / name)
            assert isinstance(log, InteractionLog) and log.tasks == tuple(tasks)
    for name, key in (("users.csv", "user_id"), ("items.csv", "item_id")):
        if (out / name).exists():
            assert len(read_features(out / name, id_column=key)) > 0


# ----------------------------------------------------------------------------- registry
def test_registry_lists_every_dataset_and_card():
    assert set(PREPARERS) == EXPECTED
    root = Path(__file__).resolve().parents[2]
    index = (root / "datasets" / "README.md").read_text()
    for name, preparer in PREPARERS.items():
        assert preparer.name == name and preparer.files
        assert "chunksize" in preparer.options
        card = (root / "datasets" / f"{name}.md").read_text()
        assert f"mogenet prepare {name} --raw" in card
        assert f"{name}.md" in index
    assert "ijcai15" in repr(PREPARERS["ijcai15"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_missing_raw_file_names_it(tmp_path, name):
    raw = tmp_path / "raw"
    raw.mkdir()
    with pytest.raises(InputError) as err:
        prepare(name, raw, tmp_path / "out")
    first = PREPARERS[name].files[0]
    assert err.value.file == str(raw / first)
    assert "raw file not found" in err.value.message
    for f in PREPARERS[name].files:
        assert f in err.value.message
    assert not (tmp_path / "out").exists()


def test_missing_raw_dir_and_unknown_option(tmp_path):
    with pytest.raises(InputError, match="raw directory not found"):
        prepare("taobao", tmp_path / "nope", tmp_path / "out")
    with pytest.raises(InputError, match="unknown option"):
        prepare("taobao", tmp_path, tmp_path / "out", bogus=1)
    with pytest.raises(InputError, match="chunksize must be"):
        prepare("gowalla", tmp_path, tmp_path / "out", chunksize=0)
    with pytest.raises(InputError, match="unknown public dataset"):
        prepare("nope", tmp_path, tmp_path / "out")


# ------------------------------------------------------------------------------ ijcai15
IJCAI_LOG = """\
user_id,item_id,cat_id,seller_id,brand_id,time_stamp,action_type
328862,323294,833,2882,2661,829,0
328862,323294,833,2882,2661,829,3
328862,844400,1271,2882,2661,830,0
328862,575153,1271,2882,2661,0831,2
234512,323294,833,2882,2661,1111,1
234512,323294,833,2882,2661,1110,0
234512,844400,1271,2882,,1111,2
00123,844400,1271,2882,,1111,0
00123,844400,1271,2882,,1111,0
"""
IJCAI_INFO = """\
user_id,age_range,gender
328862,6,1
234512,,0
00123,2,
"""


def ijcai_raw(tmp_path: Path, log: str = IJCAI_LOG) -> Path:
    raw = tmp_path / "raw"
    write(raw / "data_format1" / "user_log_format1.csv", log)  # the archive's own folder
    write(raw / "data_format1" / "user_info_format1.csv", IJCAI_INFO)
    return raw


def test_ijcai15_pivot_funnel_and_features(tmp_path):
    out = tmp_path / "out"
    s = prepare("ijcai15", ijcai_raw(tmp_path), out, chunksize=4)
    assert (s["rows"], s["users"], s["items"]) == (6, 3, 3)
    assert s["tasks"] == ["click", "cart", "fav", "buy"]
    assert s["raw_rows"] == 9 and s["click_set_by_funnel"] == 2
    assert set(s["files"]) == {"interactions.csv", "users.csv", "items.csv", "prepare.json"}

    frame = read(out / "interactions.csv")
    assert list(frame.columns) == ["user_id", "item_id", "timestamp", "click", "cart", "fav", "buy"]
    got = labels(frame, ("user_id", "item_id"), ["click", "cart", "fav", "buy"])
    assert got == {
        ("328862", "323294"): (1, 0, 1, 0),
        ("328862", "844400"): (1, 0, 0, 0),
        ("328862", "575153"): (1, 0, 0, 1),  # buy only: click set by the funnel
        ("234512", "323294"): (1, 1, 0, 0),
        ("234512", "844400"): (1, 0, 0, 1),
        ("00123", "844400"): (1, 0, 0, 0),  # leading zero kept, duplicates merged
    }
    ts = frame.set_index(["user_id", "item_id"])["timestamp"].astype(int)
    assert ts[("234512", "323294")] == int(pd.Timestamp("2014-11-10").timestamp())  # first day
    assert ts[("328862", "575153")] == int(pd.Timestamp("2014-08-31").timestamp())

    users = read(out / "users.csv")
    assert list(users.columns) == ["user_id", "age_range", "gender"]
    assert users.set_index("user_id").loc["234512", "age_range"] == ""
    items = read(out / "items.csv").set_index("item_id")
    assert list(items.columns) == ["cat_id", "seller_id", "brand_id"]
    assert items.loc["575153", "cat_id"] == "1271"
    assert json.loads((out / "prepare.json").read_text())["options"]["chunksize"] == 4
    check_readable(out, s["tasks"])


def test_ijcai15_chunked_and_partitioned_agree(tmp_path):
    raw = ijcai_raw(tmp_path)
    prepare("ijcai15", raw, tmp_path / "a", chunksize=1000)
    prepare("ijcai15", raw, tmp_path / "b", chunksize=2, partitions=3, funnel=False)
    a = read(tmp_path / "a" / "interactions.csv").sort_values(["user_id", "item_id"])
    b = read(tmp_path / "b" / "interactions.csv").sort_values(["user_id", "item_id"])
    pd.testing.assert_frame_equal(
        a.drop(columns="click").reset_index(drop=True),
        b.drop(columns="click").reset_index(drop=True),
    )
    b = b.set_index(["user_id", "item_id"])
    assert b.loc[("328862", "575153"), "click"] == "0"  # no funnel: click as logged
    assert not [p for p in (tmp_path / "b").iterdir() if p.name.startswith(".")]  # no spill left


@pytest.mark.parametrize(
    ("row", "column", "needle"),
    [
        ("1,2,3,4,5,829,7", "action_type", "one of 0, 1, 2, 3"),
        ("1,2,3,4,5,1341,0", "time_stamp", "mmdd"),
    ],
)
def test_ijcai15_bad_rows(tmp_path, row, column, needle):
    raw = ijcai_raw(tmp_path, IJCAI_LOG + row + "\n")
    with pytest.raises(InputError, match=needle) as err:
        prepare("ijcai15", raw, tmp_path / "out", chunksize=4, partitions=2)
    assert (err.value.row, err.value.column) == (11, column)
    assert not list((tmp_path / "out").iterdir())  # nothing written, spill folder removed


def test_ijcai15_header(tmp_path):
    raw = ijcai_raw(tmp_path, IJCAI_LOG.replace("action_type", "action"))
    with pytest.raises(InputError, match="header lacks") as err:
        prepare("ijcai15", raw, tmp_path / "out")
    assert err.value.column == "action_type" and err.value.row == 1
    raw = ijcai_raw(tmp_path, IJCAI_LOG.replace("seller_id", "merchant"))
    with pytest.raises(InputError, match="header lacks") as err:
        prepare("ijcai15", raw, tmp_path / "out")
    assert err.value.column == "seller_id"
    # the competition's documentation name for the seller column is accepted too
    raw = ijcai_raw(tmp_path, IJCAI_LOG.replace("seller_id", "merchant_id"))
    prepare("ijcai15", raw, tmp_path / "out")
    assert list(read(tmp_path / "out" / "items.csv").columns)[2] == "seller_id"


# ------------------------------------------------------------------------------- taobao
TAOBAO = """\
1,2268318,2520377,pv,1511544070
1,2268318,2520377,buy,1511544080
1,2333346,2520771,fav,1511561733
100,2268318,2520377,cart,1511600000
100,2268318,2520377,pv,1511590000
100,4365585,2520377,pv,1511000000
007,2333346,2520771,pv,1512000000
"""


def test_taobao_long_to_wide(tmp_path):
    write(tmp_path / "raw" / "UserBehavior.csv", TAOBAO)
    out = tmp_path / "out"
    s = prepare("taobao", tmp_path / "raw", out, chunksize=2)
    assert (s["rows"], s["users"], s["items"]) == (4, 3, 2)
    assert s["dropped_outside_window"] == 1 and s["click_set_by_funnel"] == 1
    frame = read(out / "interactions.csv")
    assert list(frame.columns) == ["user_id", "item_id", "timestamp", "click", "cart", "fav", "buy"]
    assert labels(frame, ("user_id", "item_id"), ["click", "cart", "fav", "buy"]) == {
        ("1", "2268318"): (1, 0, 0, 1),
        ("1", "2333346"): (1, 0, 1, 0),  # fav without pv → click by the funnel
        ("100", "2268318"): (1, 1, 0, 0),
        ("007", "2333346"): (1, 0, 0, 0),
    }
    ts = frame.set_index(["user_id", "item_id"])["timestamp"]
    assert ts[("100", "2268318")] == "1511590000"  # the pair's first event
    assert read(out / "items.csv").set_index("item_id").loc["2333346", "category_id"] == "2520771"
    check_readable(out, s["tasks"])

    s = prepare("taobao", tmp_path / "raw", out, funnel=False, filter_time=False, partitions=2)
    frame = read(out / "interactions.csv").set_index(["user_id", "item_id"])
    assert s["rows"] == 5 and frame.loc[("1", "2333346"), "click"] == "0"


def test_taobao_unknown_behaviour(tmp_path):
    write(tmp_path / "raw" / "UserBehavior.csv", TAOBAO + "5,6,7,like,1511544070\n")
    with pytest.raises(InputError, match="unknown behaviour 'like'") as err:
        prepare("taobao", tmp_path / "raw", tmp_path / "out", chunksize=3)
    assert (err.value.row, err.value.column) == (8, "behavior_type")


def test_taobao_short_and_long_rows(tmp_path):
    write(tmp_path / "raw" / "UserBehavior.csv", TAOBAO + "5,6,7,pv\n")
    with pytest.raises(InputError, match="missing") as err:
        prepare("taobao", tmp_path / "raw", tmp_path / "out")
    assert (err.value.row, err.value.column) == (8, "timestamp")
    write(tmp_path / "raw" / "UserBehavior.csv", TAOBAO + "5,6,7,pv,1511544070,9\n")
    with pytest.raises(InputError, match="malformed row") as err:
        prepare("taobao", tmp_path / "raw", tmp_path / "out")
    assert err.value.row == 8


# --------------------------------------------------------------------------------- ml1m
RATINGS = """\
1::1193::5::978300760
1::661::3::978302109
2::1193::4::978298413
10::2::1::978298000
"""
USERS = """\
1::F::1::10::48067
2::M::56::16::70072
10::F::35::1::95370-1234
"""
MOVIES = """\
2::Jumanji (1995)::Adventure|Children's|Fantasy
661::Cité des enfants perdus, La (1995)::Adventure|Sci-Fi
1193::One Flew Over the Cuckoo's Nest (1975)::Drama
260::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi
"""


def ml1m_raw(tmp_path: Path, ratings: str = RATINGS) -> Path:
    raw = tmp_path / "raw"
    write(raw / "ml-1m" / "ratings.dat", ratings)
    write(raw / "ml-1m" / "users.dat", USERS)
    write(raw / "ml-1m" / "movies.dat", MOVIES, encoding="latin-1")
    return raw


def test_ml1m_watch_like(tmp_path):
    out = tmp_path / "out"
    s = prepare("ml1m", ml1m_raw(tmp_path), out, chunksize=3)
    assert (s["rows"], s["users"], s["items"], s["tasks"]) == (4, 3, 3, ["watch", "like"])
    frame = read(out / "interactions.csv")
    assert list(frame.columns) == ["user_id", "item_id", "timestamp", "watch", "like"]
    assert labels(frame, ("user_id", "item_id"), ["watch", "like"]) == {
        ("1", "1193"): (1, 1),
        ("1", "661"): (1, 0),
        ("2", "1193"): (1, 1),
        ("10", "2"): (1, 0),
    }
    assert frame.timestamp.tolist()[0] == "978300760"
    users = read(out / "users.csv").set_index("user_id")
    assert list(users.columns) == ["gender", "age", "occupation", "zip"]
    assert users.loc["10", "zip"] == "95370-1234"
    items = read(out / "items.csv").set_index("item_id")
    assert items.loc["661", "year"] == "1995" and items.loc["260", "year"] == "1977"
    assert items.loc["260", "genres"] == "Action|Adventure|Fantasy|Sci-Fi"
    check_readable(out, s["tasks"])

    prepare("ml1m", ml1m_raw(tmp_path), out, like_threshold=3)
    assert read(out / "interactions.csv")["like"].tolist() == ["1", "1", "1", "0"]


def test_ml1m_bad_separator_and_rating(tmp_path):
    with pytest.raises(InputError, match="UserID::MovieID") as err:
        prepare("ml1m", ml1m_raw(tmp_path, RATINGS + "3:5:4:978298413\n"), tmp_path / "out")
    assert err.value.row == 5
    with pytest.raises(InputError, match="one of 1, 2, 3, 4, 5") as err:
        prepare("ml1m", ml1m_raw(tmp_path, RATINGS + "3::5::9::978298413\n"), tmp_path / "out")
    assert (err.value.row, err.value.column) == (5, "Rating")


# ------------------------------------------------------------------------------ gowalla
def test_gowalla_keeps_published_split(tmp_path):
    write(tmp_path / "raw" / "train.txt", "0 0 1 2\n1 3 4\n\n2 1\n")
    write(tmp_path / "raw" / "test.txt.gz", "0 5\n1 6 7\n2\n")  # compressed is read too
    out = tmp_path / "out"
    s = prepare("gowalla", tmp_path / "raw", out, chunksize=2)
    assert (s["train_rows"], s["test_rows"], s["rows"]) == (6, 3, 9)
    assert (s["users"], s["items"], s["tasks"]) == (3, 8, ["interact"])
    train, test = read(out / "train.csv"), read(out / "test.csv")
    assert list(train.columns) == ["user_id", "item_id", "interact"]
    assert train[["user_id", "item_id"]].values.tolist() == [
        ["0", "0"], ["0", "1"], ["0", "2"], ["1", "3"], ["1", "4"], ["2", "1"]
    ]  # fmt: skip
    assert test[["user_id", "item_id"]].values.tolist() == [["0", "5"], ["1", "6"], ["1", "7"]]
    both = read(out / "interactions.csv")
    pd.testing.assert_frame_equal(both, pd.concat([train, test], ignore_index=True))
    assert set(both.interact) == {"1"}
    check_readable(out, s["tasks"])


def test_gowalla_malformed(tmp_path):
    write(tmp_path / "raw" / "train.txt", "0 0 1\n1,3,4\n")
    write(tmp_path / "raw" / "test.txt", "0 5\n")
    with pytest.raises(InputError, match="integer ids") as err:
        prepare("gowalla", tmp_path / "raw", tmp_path / "out")
    assert err.value.row == 2 and err.value.file.endswith("train.txt")


# ------------------------------------------------------------------------------- census
CENSUS_ROW = (
    "73, Not in universe, 0, 0, High school graduate, 0, Not in universe, {marital}, "
    "Not in universe or children, Not in universe, White, All other, Female, Not in universe, "
    "Not in universe, Not in labor force, 0, 0, 0, Nonfiler, Not in universe, Not in universe, "
    "Other Rel 18+ ever marr not in subfamily, Other relative of householder, 1700.09, ?, ?, ?, "
    "Not in universe under 1 year old, ?, 0, Not in universe, United-States, United-States, "
    "United-States, Native- Born in the United States, 0, Not in universe, 2, 0, 95, {income}\n"
)


def census_rows(*pairs) -> str:
    return "".join(CENSUS_ROW.format(marital=m, income=i) for m, i in pairs)


def test_census_tasks_and_user_features(tmp_path):
    raw = tmp_path / "raw"
    married = "Married-civilian spouse present"
    write(
        raw / "census-income.data",
        census_rows(("Widowed", "- 50000."), ("Never married", "- 50000."), (married, "50000+.")),
    )
    write(
        raw / "census-income.test.gz",  # as UCI distributes it
        census_rows(("Never married", "50000+."), ("Divorced", "- 50000.")),
    )
    out = tmp_path / "out"
    s = prepare("census", raw, out, chunksize=2, valid_fraction=0.0)
    assert (s["train_rows"], s["valid_rows"], s["test_rows"]) == (3, 0, 2)
    assert (s["users"], s["items"]) == (5, 1)
    assert s["positives"] == {"income": 2, "never_married": 2}
    train = read(out / "train.csv")
    assert list(train.columns) == ["user_id", "item_id", "income", "never_married"]
    assert train.user_id.tolist() == ["train-1", "train-2", "train-3"]
    assert set(train.item_id) == {"census"}
    assert labels(train, ("user_id", "item_id"), ["income", "never_married"]) == {
        ("train-1", "census"): (0, 0),
        ("train-2", "census"): (0, 1),
        ("train-3", "census"): (1, 0),
    }
    test = read(out / "test.csv")
    assert test.user_id.tolist() == ["test-1", "test-2"]
    assert test[["income", "never_married"]].values.tolist() == [["1", "1"], ["0", "0"]]
    users = read(out / "users.csv")
    assert len(users) == 5 and users.columns[0] == "user_id" and len(users.columns) == 40
    for leak in ("marital_stat", "income_50k", "instance_weight"):
        assert leak not in users.columns  # no label source among the features
    assert users.loc[0, "education"] == "High school graduate"  # leading space stripped
    assert len(read(out / "interactions.csv")) == 5
    check_readable(out, s["tasks"])


def test_census_valid_half_of_test(tmp_path):
    raw = tmp_path / "raw"
    write(raw / "census-income.data", census_rows(("Widowed", "- 50000.")))
    write(raw / "census-income.test", census_rows(*[("Divorced", "- 50000.")] * 40))
    ids = {}
    for chunksize in (3, 1000):  # the same halves whatever the chunking
        out = tmp_path / f"out{chunksize}"
        s = prepare("census", raw, out, chunksize=chunksize)
        assert s["valid_rows"] + s["test_rows"] == 40 and 10 < s["valid_rows"] < 30
        ids[chunksize] = read(out / "valid.csv").user_id.tolist()
        rest = read(out / "test.csv").user_id.tolist()
        assert sorted(ids[chunksize] + rest) == sorted(f"test-{n}" for n in range(1, 41))
    assert ids[3] == ids[1000]
    with pytest.raises(InputError, match="valid_fraction"):
        prepare("census", raw, tmp_path / "bad", valid_fraction=1.5)


def test_census_bad_label(tmp_path):
    raw = tmp_path / "raw"
    write(raw / "census-income.data", census_rows(("Widowed", "- 50000."), ("Widowed", ">50K")))
    write(raw / "census-income.test", census_rows(("Widowed", "- 50000.")))
    with pytest.raises(InputError, match="income class") as err:
        prepare("census", raw, tmp_path / "out")
    assert (err.value.row, err.value.column) == (2, "income_50k")


# ------------------------------------------------------------------------------- aliccp
def feats(*entries: tuple[str, str]) -> str:
    return "\x01".join(f"{field}\x02{fid}\x031.0" for field, fid in entries)


def aliccp_raw(tmp_path: Path, extra_skeleton: str = "") -> Path:
    raw = tmp_path / "raw"
    common_train = (
        f"md5a,3,{feats(('101', '3438658'), ('121', '6'), ('109_14', '44'))}\n"
        f"md5b,2,{feats(('124', '4'), ('101', '000777'))}\n"
    )
    skeleton_train = (
        f"1,0,0,md5a,2,{feats(('210', '9'), ('205', '4900'), ('206', '7'))}\n"
        f"2,1,0,md5a,1,{feats(('205', '4901'))}\n"
        f"3,1,1,md5b,2,{feats(('205', '4900'), ('216', '55'))}\n"
        f"4,0,1,md5b,1,{feats(('205', '4902'))}\n" + extra_skeleton
    )
    write(raw / "common_features_train.csv", common_train)
    write(raw / "sample_skeleton_train.csv", skeleton_train)
    write(raw / "common_features_test.csv", f"md5c,1,{feats(('101', '3438658'))}\n")
    write(raw / "sample_skeleton_test.csv", f"9,1,0,md5c,1,{feats(('205', '4903'))}\n")
    return raw


def test_aliccp_joins_common_features(tmp_path):
    out = tmp_path / "out"
    s = prepare("aliccp", aliccp_raw(tmp_path), out, chunksize=2, common_chunksize=1)
    assert (s["train_rows"], s["test_rows"], s["dropped_buy_without_click"]) == (3, 1, 1)
    assert (s["users"], s["items"], s["tasks"]) == (2, 3, ["click", "buy"])
    train = read(out / "train.csv")
    assert list(train.columns) == ["user_id", "item_id", "click", "buy"]
    assert train.values.tolist() == [
        ["3438658", "4900", "0", "0"],
        ["3438658", "4901", "1", "0"],
        ["000777", "4900", "1", "1"],
    ]
    assert read(out / "test.csv").values.tolist() == [["3438658", "4903", "1", "0"]]
    users = read(out / "users.csv").set_index("user_id")
    assert users.loc["3438658", "f121"] == "6" and users.loc["000777", "f124"] == "4"
    items = read(out / "items.csv").set_index("item_id")
    assert items.loc["4900", "f206"] == "7"
    check_readable(out, s["tasks"])

    s = prepare("aliccp", aliccp_raw(tmp_path), out, drop_inconsistent=False)
    assert s["train_rows"] == 4


def test_aliccp_unknown_md5(tmp_path):
    raw = aliccp_raw(tmp_path, f"5,0,0,md5z,1,{feats(('205', '1'))}\n")
    with pytest.raises(InputError, match="md5 not in common_features_train.csv") as err:
        prepare("aliccp", raw, tmp_path / "out", chunksize=3)
    assert (err.value.row, err.value.column) == (5, "md5")


# --------------------------------------------------------------------------- aliexpress
ALIX_HEADER = ",".join(
    ["search_id"]
    + [f"categorical_{i}" for i in range(1, 17)]
    + [f"numerical_{i}" for i in range(1, 64)]
    + ["click", "conversion"]
)


def alix_row(search: int, item: int, click: int, conv: int) -> str:
    cats = [str(search % 3)] * 9 + [str(item), "7", "8", "9", "10", "11", "12"]
    nums = [f"{0.5 * search:g}"] * 23 + [f"{0.01 * item:g}"] * 40
    return ",".join([str(search), *cats, *nums, str(click), str(conv)])


def aliexpress_raw(tmp_path: Path, bad: str = "") -> Path:
    raw = tmp_path / "raw"
    rows = {
        ("NL", "train"): [(1, 100, 1, 0), (1, 101, 0, 0), (2, 100, 1, 1)],
        ("NL", "test"): [(1, 101, 1, 0)],
        ("US", "train"): [(5, 102, 0, 0), (5, 100, 1, 1)],
        ("US", "test"): [(6, 100, 0, 0)],
    }
    for (country, split), values in rows.items():
        body = "\n".join(alix_row(*v) for v in values)
        write(raw / f"AliExpress_{country}" / f"{split}.csv", f"{ALIX_HEADER}\n{body}\n{bad}")
    return raw


def test_aliexpress_scenarios_and_derived_ids(tmp_path):
    out = tmp_path / "out"
    s = prepare("aliexpress", aliexpress_raw(tmp_path), out, chunksize=2, countries="NL,US")
    assert (s["train_rows"], s["test_rows"], s["scenarios"]) == (5, 2, ["NL", "US"])
    assert (s["users"], s["items"], s["tasks"]) == (5, 3, ["click", "conversion"])
    train = read(out / "train.csv")
    assert list(train.columns) == ["user_id", "item_id", "scenario", "click", "conversion"]
    assert train.user_id.tolist()[:3] == ["NL-train-1", "NL-train-1", "NL-train-2"]
    assert train.item_id[0] == "100_7_8_9_10_11_12"
    assert train.scenario.tolist() == ["NL", "NL", "NL", "US", "US"]
    assert train[["click", "conversion"]].values.tolist() == [
        ["1", "0"], ["0", "0"], ["1", "1"], ["0", "0"], ["1", "1"]
    ]  # fmt: skip
    test = read(out / "test.csv")
    assert test.user_id.tolist() == ["NL-test-1", "US-test-6"]  # test pages are new nodes
    users = read(out / "users.csv").set_index("user_id")
    assert list(users.columns) == [f"categorical_{i}" for i in range(1, 10)] + [
        f"numerical_{i}" for i in range(1, 24)
    ]
    assert users.loc["NL-train-2", "numerical_1"] == "1"
    items = read(out / "items.csv").set_index("item_id")
    assert items.loc["102_7_8_9_10_11_12", "categorical_10"] == "102"
    assert len(read(out / "interactions.csv")) == 7
    check_readable(out, s["tasks"])

    s = prepare(
        "aliexpress", aliexpress_raw(tmp_path), out, countries="US", item_key="categorical_10"
    )
    assert s["rows"] == 3 and read(out / "train.csv").item_id.tolist() == ["102", "100"]


def test_aliexpress_missing_country_and_bad_label(tmp_path):
    raw = aliexpress_raw(tmp_path)
    with pytest.raises(InputError, match="raw file not found") as err:
        prepare("aliexpress", raw, tmp_path / "out")  # ES and FR are absent
    assert err.value.file == str(raw / "AliExpress_ES" / "train.csv")
    raw = aliexpress_raw(tmp_path, bad=alix_row(3, 100, 2, 0) + "\n")
    with pytest.raises(InputError, match="one of 0, 1") as err:
        prepare("aliexpress", raw, tmp_path / "out", countries="NL")
    assert (err.value.row, err.value.column) == (5, "click")
