"""Taobao UserBehavior (Tianchi dataset 649).

``UserBehavior.csv`` has no header; each line is one event
``user_id,item_id,category_id,behavior_type,timestamp`` with ``behavior_type`` one of
``pv`` (page view, i.e. click), ``cart``, ``fav``, ``buy`` and ``timestamp`` in Unix
seconds.  The long form is pivoted to one row per (user, item) pair with the tasks
``click`` (pv), ``cart``, ``fav``, ``buy`` — each 1 iff that behaviour was logged at
least once for the pair — and ``timestamp`` = the pair's first event.

Funnel: the log holds purchases, carts and favourites with no page view of the same
item logged (another device, a list page).  With ``funnel=True`` (default) ``click``
is set wherever a deeper behaviour happened, so ``buy ⇒ click`` holds (ESMM-style
heads rely on it); ``cart``, ``fav``, ``buy`` are parallel and left as logged.  With
``funnel=False`` ``click`` is exactly "a pv was logged".

The dataset's documented window is 2017-11-25 to 2017-12-03 (China time); a few
events carry stamps outside it.  ``filter_time=True`` (default) drops them.
``items.csv`` holds each item's ``category_id``.  See ``datasets/taobao.md``.
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
    find_raw,
    read_chunks,
    register,
    require_values,
    summary,
    to_int,
    write_pivot,
)
from mogenet.errors import InputError

RAW = "UserBehavior.csv"
COLUMNS = ("user_id", "item_id", "category_id", "behavior_type", "timestamp")
#: ``behavior_type`` → task column.
BEHAVIOURS = {"pv": "click", "cart": "cart", "fav": "fav", "buy": "buy"}
TASKS = ("click", "cart", "fav", "buy")
#: ``funnel=True``: ``click`` is set wherever one of these happened.
FUNNEL = ("click", ("cart", "fav", "buy"))
#: 2017-11-25 00:00:00 and 2017-12-04 00:00:00 China Standard Time (UTC+8).
WINDOW = (1511539200, 1512316800)


def _read_events(
    path: Path, pivot: PairAggregator, items: DistinctRows, *, chunksize: int, filter_time: bool
) -> tuple[int, int]:
    """Feed the events to ``pivot`` and item categories to ``items``; return
    ``(raw events, events dropped outside the window)``."""
    raw_rows = dropped = 0
    for line, chunk in read_chunks(path, chunksize=chunksize, header=False, names=COLUMNS):
        require_values(chunk, COLUMNS, path=path, line=line)
        behaviour = chunk["behavior_type"]
        unknown = ~behaviour.isin(list(BEHAVIOURS)).to_numpy()
        if unknown.any():
            pos = int(np.flatnonzero(unknown)[0])
            raise InputError(
                f"unknown behaviour {behaviour.iloc[pos]!r} (expected {', '.join(BEHAVIOURS)})",
                file=path,
                row=line + pos,
                column="behavior_type",
            )
        ts = to_int(chunk["timestamp"], path=path, line=line, column="timestamp")
        events = pd.DataFrame({USER: chunk["user_id"], ITEM: chunk["item_id"], TIMESTAMP: ts})
        for raw, task in BEHAVIOURS.items():
            events[task] = (behaviour == raw).to_numpy().astype(np.int8)
        raw_rows += len(chunk)
        if filter_time:
            keep = (ts >= WINDOW[0]) & (ts < WINDOW[1])
            dropped += int((~keep).sum())
            events, chunk = events[keep], chunk[keep]
        pivot.add(events)
        items.add(chunk[["item_id", "category_id"]].rename(columns={"item_id": ITEM}))
    return raw_rows, dropped


@register("taobao", title="Taobao UserBehavior (Tianchi 649)", files=(RAW,))
def prepare(
    raw_dir: Path,
    out_dir: Path,
    *,
    chunksize: int = CHUNKSIZE,
    funnel: bool = True,
    filter_time: bool = True,
    partitions: int = 1,
) -> dict:
    """Prepare Taobao UserBehavior (see the module docstring).

    Args:
        raw_dir: folder holding ``UserBehavior.csv``.
        out_dir: where ``interactions.csv`` and ``items.csv`` go.
        chunksize: raw lines read at a time.
        funnel: set ``click`` wherever cart/fav/buy happened.
        filter_time: drop events outside 2017-11-25 – 2017-12-03 (UTC+8).
        partitions: >1 spills the pivot to that many on-disk hash buckets (bounded
            memory for the 100M-event log).
    """
    path = find_raw(raw_dir, (RAW,), dataset="taobao")[RAW]
    items = DistinctRows(ITEM)
    with PairAggregator(TASKS, timestamp=True, partitions=partitions, workdir=out_dir) as pivot:
        raw_rows, dropped = _read_events(
            path, pivot, items, chunksize=chunksize, filter_time=filter_time
        )
        rows, users, funnel_fixed = write_pivot(
            pivot, out_dir / "interactions.csv", funnel=FUNNEL if funnel else None
        )
    num_items = items.write(out_dir / "items.csv")
    return summary(
        rows=rows,
        users=users,
        items=num_items,
        tasks=TASKS,
        files=["interactions.csv", "items.csv"],
        raw_rows=raw_rows,
        dropped_outside_window=dropped,
        click_set_by_funnel=funnel_fixed,
        categorical={"items.csv": ["category_id"]},
    )
