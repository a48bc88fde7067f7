"""Gowalla check-ins, as split by NGCF / LightGCN.

``train.txt`` and ``test.txt`` hold one line per user, ``user item item …``
(space-separated integer ids, already remapped to 0..n-1 by the NGCF authors).  Each
(user, item) becomes one row with the single task ``interact`` = 1; the published
split is kept as ``train.csv`` / ``test.csv`` (``interactions.csv`` is both, train
first).  There are no timestamps and no negatives: ``mogenet split --negatives K``
samples them.  See ``datasets/gowalla.md``.
"""

from __future__ import annotations

import gzip
import io
import itertools
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, USER
from mogenet.datasets.public._base import (
    DistinctRows,
    concat_csv,
    csv_sink,
    find_raw,
    log_columns,
    register,
    summary,
)
from mogenet.errors import InputError

SPLITS = ("train", "test")
TASKS = ("interact",)


def _open_text(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    if path.suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = archive.namelist()
        if len(members) != 1:
            raise InputError(
                f"zip archive must hold exactly one file, found {len(members)}", file=path
            )
        return io.TextIOWrapper(archive.open(members[0]), encoding="utf-8")
    return open(path, encoding="utf-8")


def read_adjacency(path: Path, *, chunksize: int) -> Iterator[pd.DataFrame]:
    """Yield ``user_id, item_id`` frames from ``chunksize`` lines of a ``user item …`` file.

    Blank lines and users listed without items are skipped.
    """
    line = 1
    try:
        with _open_text(path) as fh:
            while lines := list(itertools.islice(fh, chunksize)):
                tokens = pd.Series(lines, dtype=str).str.split()
                frame = pd.DataFrame(
                    {"line": np.arange(line, line + len(lines)), "tok": tokens}
                ).explode("tok", ignore_index=True)
                frame = frame[frame["tok"].notna()]
                bad = ~frame["tok"].str.fullmatch(r"\d+").to_numpy(dtype=bool)
                if bad.any():
                    pos = int(np.flatnonzero(bad)[0])
                    raise InputError(
                        f"expected space-separated integer ids 'user item item …', "
                        f"got {frame['tok'].iloc[pos]!r}",
                        file=path,
                        row=int(frame["line"].iloc[pos]),
                    )
                first = ~frame["line"].duplicated().to_numpy()
                users = frame["tok"].where(first).ffill()
                pairs = pd.DataFrame({USER: users[~first], ITEM: frame["tok"][~first]})
                yield pairs.reset_index(drop=True)
                line += len(lines)
    except UnicodeDecodeError as e:
        raise InputError(f"not utf-8 text ({e.reason})", file=path) from None


@register("gowalla", title="Gowalla (NGCF/LightGCN split)", files=("train.txt", "test.txt"))
def prepare(raw_dir: Path, out_dir: Path, *, chunksize: int = 100_000) -> dict:
    """Prepare the NGCF/LightGCN Gowalla split (see the module docstring).

    Args:
        raw_dir: folder holding ``train.txt`` and ``test.txt``.
        out_dir: where ``train.csv``, ``test.csv`` and ``interactions.csv`` go.
        chunksize: raw lines (users) read at a time.
    """
    paths = find_raw(raw_dir, ("train.txt", "test.txt"), dataset="gowalla")
    users, items = DistinctRows(USER), DistinctRows(ITEM)
    counts = {}
    for split in SPLITS:
        with csv_sink(out_dir / f"{split}.csv", log_columns(TASKS)) as sink:
            for pairs in read_adjacency(paths[f"{split}.txt"], chunksize=chunksize):
                pairs["interact"] = np.int8(1)
                sink.write(pairs)
                users.add(pairs[[USER]])
                items.add(pairs[[ITEM]])
        counts[f"{split}_rows"] = sink.rows
    concat_csv(out_dir / "interactions.csv", [out_dir / f"{s}.csv" for s in SPLITS])
    return summary(
        rows=sum(counts.values()),
        users=len(users),
        items=len(items),
        tasks=TASKS,
        files=["interactions.csv", "train.csv", "test.csv"],
        **counts,
    )
