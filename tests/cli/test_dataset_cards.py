"""Every command of a dataset card (``datasets/<name>.md``, its ``bash`` blocks) runs,
in order, on made-up raw files in that dataset's format: prepare → split →
build-graphs → train → evaluate, as a user would paste them.

The raw files are a small synthetic behaviour log (``mogenet.datasets.synthetic``)
written in each dataset's raw format, so the labels follow the users' and items'
latent preferences. The commands run as written, from a temporary working folder;
only ``train`` gets extra options (one epoch of a small model). ``census`` has its own test
(``test_census.py``).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mogenet.cli import main
from mogenet.datasets.public.taobao import WINDOW
from mogenet.datasets.synthetic import SyntheticConfig, generate

CARDS = Path(__file__).resolve().parents[2] / "datasets"
#: Appended to every ``mogenet train`` of a card: one epoch of a small model.
FAST = ["--epochs", "1", "--set", "model.graph_channels=8", "--set", "sampler.bipartite=[3,3]"]
FAST += ["--set", "sampler.user_sim=[3,3]", "--set", "sampler.item_sim=[3,3]"]


def card_commands(name: str) -> list[str]:
    """The ``mogenet …`` commands of the card's ``bash`` blocks, continuations joined."""
    text = (CARDS / f"{name}.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.strip().startswith("mogenet ")]


@pytest.fixture(scope="module")
def log():
    """A synthetic log: ``(events, users, items, frame)``: its positive events, one
    row per (pair, behaviour) with integer ids (user / item index + 1), the users and
    items with those ids (``code``), and the whole log (every impression)."""
    data = generate(SyntheticConfig.preset("tiny", num_interactions=8_000, seed=0))
    frame = data.log.frame
    codes = {c: frame[c].str[1:].astype(int) for c in ("user_id", "item_id")}
    events = []
    for task in ("click", "cart", "fav", "buy"):
        hit = frame[task] == 1
        events.append(
            pd.DataFrame(
                {
                    "user": codes["user_id"][hit],
                    "item": codes["item_id"][hit],
                    "behavior": task,
                    "timestamp": frame["timestamp"][hit],
                }
            )
        )
    events = pd.concat(events, ignore_index=True)
    items = data.items.assign(code=data.items.item_id.str[1:].astype(int))
    items["category"] = items.category.str[1:].astype(int)
    users = data.users.assign(code=data.users.user_id.str[1:].astype(int))
    return events, users, items, frame


def write_taobao(raw: Path, log) -> None:
    events, _, items, _ = log
    t = events.timestamp
    span = WINDOW[1] - WINDOW[0] - 1
    ts = WINDOW[0] + ((t - t.min()) * span // max(int(t.max() - t.min()), 1))
    category = events.item.map(items.set_index("code").category)
    behavior = events.behavior.replace({"click": "pv"})
    frame = pd.DataFrame({"u": events.user, "i": events.item, "c": category, "b": behavior})
    frame.assign(t=ts).to_csv(raw / "UserBehavior.csv", header=False, index=False)


def write_ml1m(raw: Path, log) -> None:
    """A rating per clicked pair: 5 with a buy, 4 with a fav or cart, else 1–3."""
    events, users, items, _ = log
    pairs = events.pivot_table(index=["user", "item"], columns="behavior", aggfunc="size")
    pairs = pairs.reindex(columns=["click", "cart", "fav", "buy"]).fillna(0).reset_index()
    first = events.groupby(["user", "item"]).timestamp.min()
    rating = np.where(pairs.buy > 0, 5, np.where((pairs.fav + pairs.cart) > 0, 4, 0))
    rating = np.where(rating == 0, 1 + (pairs.user + pairs.item) % 3, rating)
    ts = first.loc[list(zip(pairs.user, pairs.item, strict=True))].to_numpy()
    lines = [
        f"{u}::{i}::{r}::{t}" for u, i, r, t in zip(pairs.user, pairs.item, rating, ts, strict=True)
    ]
    (raw / "ratings.dat").write_text("\n".join(lines) + "\n")
    gender = np.where(users.gender == users.gender.iloc[0], "F", "M")
    age = users.age_bucket.astype("category").cat.codes * 10 + 1
    lines = [
        f"{u}::{g}::{a}::{u % 20}::{10000 + u}"
        for u, g, a in zip(users.code, gender, age, strict=True)
    ]
    (raw / "users.dat").write_text("\n".join(lines) + "\n")
    genres = np.array(["Drama", "Comedy", "Action|Sci-Fi", "Children's|Fantasy"])
    lines = [
        f"{i}::Film {i} (1999)::{genres[c % 4]}"
        for i, c in zip(items.code, items.category, strict=True)
    ]
    (raw / "movies.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")


def write_ijcai15(raw: Path, log) -> None:
    events, users, items, _ = log
    day = (events.timestamp - events.timestamp.min()) // 86400  # 0 … 29
    mmdd = np.where(day < 30, 1001 + day, 1030)  # October 2014
    item = items.set_index("code")
    actions = {"click": 0, "cart": 1, "buy": 2, "fav": 3}
    frame = pd.DataFrame(
        {
            "user_id": events.user,
            "item_id": events.item,
            "cat_id": events.item.map(item.category),
            "seller_id": events.item % 7,
            "brand_id": events.item.map(item.brand).str[1:].astype(int),
            "time_stamp": mmdd,
            "action_type": events.behavior.map(actions),
        }
    )
    folder = raw / "data_format1"
    folder.mkdir(parents=True)
    frame.to_csv(folder / "user_log_format1.csv", index=False)
    info = pd.DataFrame({"user_id": users.code, "age_range": users.code % 8, "gender": 1})
    info.to_csv(folder / "user_info_format1.csv", index=False)


def write_gowalla(raw: Path, log) -> None:
    """Clicked items per user; each user's latest tenth (at least one) is the test part."""
    events = log[0]
    clicks = events[events.behavior == "click"].sort_values(["user", "timestamp"])
    train, test = [], []
    for user, rows in clicks.groupby("user"):
        items = rows.item.tolist()
        cut = max(1, len(items) - max(1, len(items) // 10))
        train.append(" ".join(map(str, [user, *items[:cut]])))
        test.append(" ".join(map(str, [user, *items[cut:]])))
    (raw / "train.txt").write_text("\n".join(train) + "\n")
    (raw / "test.txt").write_text("\n".join(test) + "\n")


def impressions(log) -> pd.DataFrame:
    """Every impression of the synthetic log (labelled or not), integer ids, with the
    user's and item's codes of :func:`log`, in time order."""
    _, users, items, frame = log
    frame = frame.sort_values("timestamp", kind="stable")
    out = pd.DataFrame(
        {
            "user": frame.user_id.str[1:].astype(int).to_numpy(),
            "item": frame.item_id.str[1:].astype(int).to_numpy(),
            "click": frame.click.to_numpy(),
            "buy": frame.buy.to_numpy(),
        }
    )
    user = users.set_index("code")
    out["age"] = out.user.map(user.age_bucket.astype("category").cat.codes) + 1
    out["activity"] = out.user.map(user.activity)
    item = items.set_index("code")
    out["category"] = out.item.map(item.category)
    out["brand"] = out.item.map(item.brand.str[1:].astype(int))
    out["price"] = out.item.map(item.price)
    return out


def feature_list(fields: dict[str, pd.Series]) -> pd.Series:
    """Ali-CCP ``feature_list`` per row: ``field\\x02id\\x031.0`` joined by ``\\x01``."""
    parts = [f"{field}\x02" + ids.astype(str) + "\x031.0" for field, ids in fields.items()]
    out = parts[0]
    for part in parts[1:]:
        out = out + "\x01" + part
    return out


def write_aliccp(raw: Path, log) -> None:
    """User fields in the common features (joined by md5), item fields in the
    skeleton; the latest fifth of the impressions is the official test part."""
    rows = impressions(log)
    cut = int(0.8 * len(rows))
    for split, part in (("train", rows.iloc[:cut]), ("test", rows.iloc[cut:])):
        part = part.reset_index(drop=True)
        users = part.drop_duplicates("user")
        common = feature_list({"101": users.user, "121": users.age, "124": users.user % 2})
        md5 = "md5_" + users.user.astype(str)
        frame = pd.DataFrame({"md5": md5, "n": 3, "features": common})
        frame.to_csv(raw / f"common_features_{split}.csv", header=False, index=False)
        items = feature_list({"205": part.item, "206": part.category, "216": part.brand})
        frame = pd.DataFrame(
            {
                "sample_id": part.index + 1,
                "click": part.click,
                "buy": part.buy,
                "md5": "md5_" + part.user.astype(str),
                "n": 3,
                "features": items,
            }
        )
        frame.to_csv(raw / f"sample_skeleton_{split}.csv", header=False, index=False)


def write_aliexpress(raw: Path, log) -> None:
    """Each synthetic user is one search page (its features: categorical_1–9,
    numerical_1–23) in one of four countries; a fifth of the pages form the test
    files, so no test page is seen in training."""
    rows = impressions(log)
    header = ["search_id", *(f"categorical_{i}" for i in range(1, 17))]
    header += [*(f"numerical_{i}" for i in range(1, 64)), "click", "conversion"]
    cols = {"search_id": rows.user}
    for i in range(1, 10):
        cols[f"categorical_{i}"] = rows.age if i == 1 else rows.user % (i + 1)
    cols["categorical_10"], cols["categorical_11"] = rows.item, rows.category
    for i in range(12, 17):
        cols[f"categorical_{i}"] = rows.brand if i == 12 else 0
    for i in range(1, 64):
        cols[f"numerical_{i}"] = rows.activity if i <= 23 else rows.price
    cols["click"], cols["conversion"] = rows.click, rows.buy
    frame = pd.DataFrame(cols)[header]
    for k, country in enumerate(("NL", "ES", "FR", "US")):
        folder = raw / f"AliExpress_{country}"
        folder.mkdir(parents=True)
        mine = frame[rows.user % 4 == k]
        test = mine.search_id % 5 == 0
        mine[~test].to_csv(folder / "train.csv", index=False)
        mine[test].to_csv(folder / "test.csv", index=False)


WRITERS = {
    "aliccp": write_aliccp,
    "aliexpress": write_aliexpress,
    "taobao": write_taobao,
    "ml1m": write_ml1m,
    "ijcai15": write_ijcai15,
    "gowalla": write_gowalla,
}


def write_raw(name: str, commands: list[str], log, root: Path) -> None:
    """The raw files, where the card's ``prepare`` command (``--raw``) looks."""
    assert commands[0].startswith(f"mogenet prepare {name} ")
    argv = shlex.split(commands[0])
    raw = root / argv[argv.index("--raw") + 1]
    raw.mkdir(parents=True)
    WRITERS[name](raw, log)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_card_commands_run(name, log, tmp_path, monkeypatch):
    commands = card_commands(name)
    write_raw(name, commands, log, tmp_path)
    monkeypatch.chdir(tmp_path)  # the card's relative paths land in tmp_path
    evaluated = []
    for command in commands:
        argv = shlex.split(command)[1:]
        if argv[0] == "train":
            argv += FAST
        assert main(argv) == 0, command
        if argv[0] == "evaluate":
            evaluated.append(Path(argv[1]) / f"metrics.{Path(argv[3]).stem}.json")
    assert {c.split()[1] for c in commands} >= {"prepare", "split", "build-graphs", "train"}
    for path in evaluated:  # every task scored on test rows with positives
        metrics = json.loads(path.read_text())
        for task in metrics["run"]["tasks"]:
            m = metrics[task]
            assert m["count"] > m["positives"] > 0 and 0.0 < m["auc"] < 1.0, (task, m)


@pytest.mark.parametrize("name", ["aliccp", "aliexpress", "ijcai15", "ml1m", "taobao"])
def test_card_graphs_embed_the_prepared_categorical_columns(name, log, tmp_path, monkeypatch):
    """Integer-coded categories (``prepare.json``) reach the graph as categories,
    although the card's build-graphs command does not name them."""
    commands = card_commands(name)
    write_raw(name, commands, log, tmp_path)
    monkeypatch.chdir(tmp_path)
    build = next(c for c in commands if c.startswith("mogenet build-graphs"))
    for command in commands[: commands.index(build) + 1]:
        assert main(shlex.split(command)[1:]) == 0, command
    argv = shlex.split(build)
    prepare = shlex.split(commands[0])
    data = Path(prepare[prepare.index("--out") + 1])  # where prepare.json is
    prepared = json.loads((data / "prepare.json").read_text())
    meta = json.loads((Path(argv[argv.index("--out") + 1]) / "meta.json").read_text())
    for table, kind in (("users.csv", "user"), ("items.csv", "item")):
        if f"--{kind}s" in argv:
            listed = set(prepared["categorical"].get(table, []))
            assert listed and listed <= set(meta["features"][kind]["categorical_names"]), kind
    if name == "aliexpress":  # its test pages never occur in training: feature-only nodes
        assert meta["log_nodes"]["user"] < meta["num_users"]
