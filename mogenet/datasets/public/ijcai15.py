"""IJCAI-15 Tmall repeat buyers (the public dataset of the MoGENet paper).

``user_log_format1.csv`` (header ``user_id,item_id,cat_id,seller_id,brand_id,
time_stamp,action_type``; ``time_stamp`` is ``mmdd``: the six months before and on
Double 11, 2014 — the competition ran in 2015 on 2014 data; ``action_type`` 0 click,
1 add-to-cart, 2 purchase, 3 add-to-favourite) is pivoted to one row per
(user, item) pair with the tasks ``click``, ``cart``, ``fav``, ``buy`` (1 iff the
behaviour was logged at least once for the pair) and ``timestamp`` = Unix seconds of
the pair's first logged day (00:00 UTC).  MoGENet trains on ``fav`` and ``buy``.

With ``funnel=True`` (default) ``click`` is also set where only a deeper behaviour
(cart, fav, buy) was logged: every pair in the log was viewed.  ``cart``, ``fav`` and
``buy`` are never altered: they are parallel, not a chain.

``user_info_format1.csv`` (``user_id,age_range,gender``) becomes ``users.csv``;
``items.csv`` holds each item's ``cat_id``, ``seller_id`` and ``brand_id`` (integer
codes, all categorical).  See ``datasets/ijcai15.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, TIMESTAMP, USER
from mogenet.datasets.public._base import (
    CHUNKSIZE,
    DistinctRows,
    PairAggregator,
    check_header,
    find_raw,
    read_chunks,
    register,
    require_values,
    summary,
    to_int,
    write_pivot,
)
from mogenet.errors import InputError

LOG = "user_log_format1.csv"
USER_INFO = "user_info_format1.csv"
LOG_COLUMNS = ("user_id", "item_id", "cat_id", "seller_id", "brand_id", "time_stamp", "action_type")
#: The competition's documentation calls ``seller_id`` ``merchant_id``; either is accepted.
SELLER_ALIASES = ("seller_id", "merchant_id")
ITEM_COLUMNS = ("cat_id", "seller_id", "brand_id")
USER_COLUMNS = ("user_id", "age_range", "gender")
#: ``action_type`` code → task column.
ACTIONS = {0: "click", 1: "cart", 2: "buy", 3: "fav"}
TASKS = ("click", "cart", "fav", "buy")
#: ``funnel=True``: ``click`` is set wherever one of these happened.
FUNNEL = ("click", ("cart", "fav", "buy"))


def mmdd_to_unix(mmdd: np.ndarray, year: int) -> np.ndarray:
    """``mmdd`` integers → Unix seconds at 00:00 UTC; invalid dates → -1."""
    dates = pd.to_datetime(
        pd.DataFrame({"year": year, "month": mmdd // 100, "day": mmdd % 100}), errors="coerce"
    )
    secs = (dates - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return secs.fillna(-1).to_numpy(dtype=np.int64)


def _seller_column(path: Path) -> str:
    """Check the log's header; return its name for the seller column."""
    header = check_header(path, [c for c in LOG_COLUMNS if c != "seller_id"])
    seller = next((c for c in SELLER_ALIASES if c in header), None)
    if seller is None:
        check_header(path, ["seller_id"])  # raises, naming the column
    return seller


def _read_log(
    path: Path, pivot: PairAggregator, items: DistinctRows, *, chunksize: int, year: int
) -> int:
    """Feed the behaviour log to ``pivot`` (one 0/1 task column per event) and the item
    attributes to ``items``; return the number of raw events."""
    seller = _seller_column(path)
    usecols = [seller if c == "seller_id" else c for c in LOG_COLUMNS]
    raw_rows = 0
    for line, chunk in read_chunks(path, chunksize=chunksize, usecols=usecols):
        chunk = chunk.rename(columns={seller: "seller_id"})
        require_values(
            chunk, ("user_id", "item_id", "time_stamp", "action_type"), path=path, line=line
        )
        action = to_int(
            chunk["action_type"], path=path, line=line, column="action_type", allowed=tuple(ACTIONS)
        )
        mmdd = to_int(chunk["time_stamp"], path=path, line=line, column="time_stamp")
        ts = mmdd_to_unix(mmdd, year)
        if (ts < 0).any():
            pos = int(np.flatnonzero(ts < 0)[0])
            raise InputError(
                f"not a valid mmdd date: {chunk['time_stamp'].iloc[pos]!r}",
                file=path,
                row=line + pos,
                column="time_stamp",
            )
        events = pd.DataFrame({USER: chunk["user_id"], ITEM: chunk["item_id"], TIMESTAMP: ts})
        for code, task in ACTIONS.items():
            events[task] = (action == code).astype(np.int8)
        pivot.add(events)
        items.add(chunk[["item_id", *ITEM_COLUMNS]].rename(columns={"item_id": ITEM}))
        raw_rows += len(chunk)
    return raw_rows


@register(
    "ijcai15",
    title="IJCAI-15 Tmall repeat buyers (user behaviour log)",
    files=(LOG, USER_INFO),
)
def prepare(
    raw_dir: Path,
    out_dir: Path,
    *,
    chunksize: int = CHUNKSIZE,
    funnel: bool = True,
    partitions: int = 1,
    year: int = 2014,
) -> dict:
    """Prepare IJCAI-15 from ``data_format1`` (see the module docstring).

    Args:
        raw_dir: folder holding the two CSVs (or its ``data_format1/`` subfolder).
        out_dir: where ``interactions.csv``, ``users.csv``, ``items.csv`` go.
        chunksize: raw lines read at a time.
        funnel: set ``click`` wherever cart/fav/buy happened.
        partitions: >1 spills the pivot to that many on-disk hash buckets (bounded
            memory for the 55M-row log).
        year: the year of the ``mmdd`` stamps (the log is May–November 2014).
    """
    paths = find_raw(raw_dir, (LOG, USER_INFO), dataset="ijcai15", subdirs=("data_format1",))
    log_path, info_path = paths[LOG], paths[USER_INFO]
    _seller_column(log_path)
    check_header(info_path, USER_COLUMNS)

    items = DistinctRows(ITEM)
    with PairAggregator(TASKS, timestamp=True, partitions=partitions, workdir=out_dir) as pivot:
        raw_rows = _read_log(log_path, pivot, items, chunksize=chunksize, year=year)
        rows, users, funnel_fixed = write_pivot(
            pivot, out_dir / "interactions.csv", funnel=FUNNEL if funnel else None
        )

    user_rows = DistinctRows(USER)
    for line, chunk in read_chunks(info_path, chunksize=chunksize, usecols=USER_COLUMNS):
        require_values(chunk, ("user_id",), path=info_path, line=line)
        user_rows.add(chunk.rename(columns={"user_id": USER}))
    user_rows.write(out_dir / "users.csv")
    num_items = items.write(out_dir / "items.csv")

    return summary(
        rows=rows,
        users=users,
        items=num_items,
        tasks=TASKS,
        files=["interactions.csv", "users.csv", "items.csv"],
        raw_rows=raw_rows,
        click_set_by_funnel=funnel_fixed,
        categorical={"users.csv": ["age_range", "gender"], "items.csv": list(ITEM_COLUMNS)},
    )
