"""AliExpress Searching System (Tianchi 74690), in the MTReclib per-country layout.

The widely used multi-task form (MTReclib / PLE benchmarks) is one folder per country,
``AliExpress_<CC>/train.csv`` and ``test.csv`` (time-ordered official split), each with
the header ``search_id, categorical_1..16, numerical_1..63, click, conversion``:

* ``search_id`` — one search result page (user + query); every item shown on the
  page shares the page's user/query features;
* ``categorical_1..9`` and ``numerical_1..23`` — user/query (page) features;
* ``categorical_10..16`` — item features; ``numerical_24..63`` — item and
  query–item features (they vary per row);
* ``click``, ``conversion`` — 0/1 (a conversion always follows a click).

The data has **no user id and no item id**.  mogenet derives them:

* ``user_id`` = ``<CC>-<split>-<search_id>``: the search page is the "user" node (its
  features are user + query features).  Pages of the test split never occur in the
  train split (time split), so every test "user" is a cold-start node: graph channels
  help through the item side only;
* ``item_id`` = the values of ``categorical_10..16`` joined by ``_`` (``item_key``
  option): a pseudo item — rows with identical item categorical features share a node.

``scenario`` is the country code.  ``users.csv`` holds each page's
``categorical_1..9`` and ``numerical_1..23``; ``items.csv`` each pseudo item's
``categorical_10..16``.  The 40 per-row ``numerical_24..63`` features are not carried
(mogenet's wide form has no per-pair feature columns).  See ``datasets/aliexpress.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, SCENARIO, USER
from mogenet.datasets.public._base import (
    CHUNKSIZE,
    DistinctRows,
    check_header,
    concat_csv,
    csv_sink,
    find_raw,
    log_columns,
    read_chunks,
    register,
    require_values,
    summary,
    to_binary,
)
from mogenet.errors import InputError

COUNTRIES = ("NL", "ES", "FR", "US")
SPLITS = ("train", "test")
TASKS = ("click", "conversion")
USER_CATEGORICAL = tuple(f"categorical_{i}" for i in range(1, 10))
USER_NUMERIC = tuple(f"numerical_{i}" for i in range(1, 24))
ITEM_CATEGORICAL = tuple(f"categorical_{i}" for i in range(10, 17))


def _countries(value: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in value.split(",") if c.strip())
    if not codes:
        raise InputError("option countries is empty (e.g. countries=NL,ES,FR,US)")
    return codes


@register(
    "aliexpress",
    title="AliExpress Searching System (Tianchi 74690, MTReclib layout)",
    files=tuple(f"AliExpress_{c}/{s}.csv" for c in COUNTRIES for s in SPLITS),
)
def prepare(
    raw_dir: Path,
    out_dir: Path,
    *,
    chunksize: int = CHUNKSIZE,
    countries: str = ",".join(COUNTRIES),
    item_key: str = ",".join(ITEM_CATEGORICAL),
) -> dict:
    """Prepare AliExpress (see the module docstring).

    Args:
        raw_dir: folder holding ``AliExpress_<CC>/{train,test}.csv``.
        out_dir: where ``train.csv``, ``test.csv``, ``interactions.csv``, ``users.csv``
            and ``items.csv`` go.
        chunksize: raw lines read at a time.
        countries: comma-separated country codes to include (``RU`` works too when
            its folder is present).
        item_key: comma-separated columns whose values define the pseudo item id.
    """
    codes = _countries(countries)
    key = [c.strip() for c in item_key.split(",") if c.strip()]
    if not key:
        raise InputError("option item_key is empty (e.g. item_key=categorical_10,categorical_11)")
    names = [f"AliExpress_{c}/{s}.csv" for c in codes for s in SPLITS]
    paths = find_raw(raw_dir, names, dataset="aliexpress")
    item_cols = list(dict.fromkeys([*ITEM_CATEGORICAL, *key]))
    usecols = ["search_id", *USER_CATEGORICAL, *USER_NUMERIC, *item_cols, *TASKS]
    for path in paths.values():
        check_header(path, usecols)

    users, items = DistinctRows(USER), DistinctRows(ITEM)
    counts: dict[str, int] = {}
    for split in SPLITS:
        with csv_sink(out_dir / f"{split}.csv", log_columns(TASKS, scenario=True)) as sink:
            for code in codes:
                path = paths[f"AliExpress_{code}/{split}.csv"]
                for line, chunk in read_chunks(path, chunksize=chunksize, usecols=usecols):
                    require_values(chunk, ["search_id", *key], path=path, line=line)
                    item = chunk[key[0]]
                    for column in key[1:]:
                        item = item + "_" + chunk[column]
                    frame = pd.DataFrame(
                        {
                            USER: f"{code}-{split}-" + chunk["search_id"],
                            ITEM: item,
                            SCENARIO: code,
                        }
                    )
                    for t in TASKS:
                        frame[t] = to_binary(chunk[t], path=path, line=line, column=t)
                    bad = (frame["conversion"] > frame["click"]).to_numpy()
                    if bad.any():
                        raise InputError(
                            "conversion without click",
                            file=path,
                            row=line + int(np.flatnonzero(bad)[0]),
                            column="conversion",
                        )
                    sink.write(frame)
                    page = chunk[[*USER_CATEGORICAL, *USER_NUMERIC]]
                    users.add(pd.concat([frame[[USER]], page], axis=1))
                    items.add(pd.concat([frame[[ITEM]], chunk[list(ITEM_CATEGORICAL)]], axis=1))
        counts[f"{split}_rows"] = sink.rows
    concat_csv(out_dir / "interactions.csv", [out_dir / f"{s}.csv" for s in SPLITS])
    num_users = users.write(out_dir / "users.csv")
    num_items = items.write(out_dir / "items.csv")
    return summary(
        rows=sum(counts.values()),
        users=num_users,
        items=num_items,
        tasks=TASKS,
        files=["interactions.csv", "train.csv", "test.csv", "users.csv", "items.csv"],
        **counts,
        scenarios=list(codes),
        categorical={"users.csv": list(USER_CATEGORICAL), "items.csv": list(ITEM_CATEGORICAL)},
    )
