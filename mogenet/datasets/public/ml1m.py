"""MovieLens-1M (GroupLens).

``ratings.dat`` lines are ``UserID::MovieID::Rating::Timestamp`` (ratings 1–5, Unix
seconds).  Every rating becomes one row with two tasks:

* ``watch`` = 1 on every row (the user rated, hence watched, the movie).  The log has
  no negatives of its own: ``mogenet split --negatives K`` samples unrated movies as
  ``watch = 0`` rows;
* ``like`` = 1 iff ``Rating >= like_threshold`` (default 4).

``users.dat`` (``UserID::Gender::Age::Occupation::Zip-code``; ``Age`` and
``Occupation`` are codes) becomes ``users.csv``; ``movies.dat``
(``MovieID::Title::Genres``, Latin-1, genres ``|``-separated) becomes ``items.csv``
with ``year`` (from the title) and ``genres``.  See ``datasets/ml1m.md``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, TIMESTAMP, USER
from mogenet.datasets.public._base import (
    CHUNKSIZE,
    DistinctRows,
    csv_sink,
    find_raw,
    log_columns,
    read_chunks,
    register,
    require_values,
    summary,
    to_int,
)
from mogenet.errors import InputError

RATINGS, USERS, MOVIES = "ratings.dat", "users.dat", "movies.dat"
TASKS = ("watch", "like")
# ``::`` split on ``:`` leaves an empty field between every two values; the C parser
# (fast, chunked) reads that, and an empty "gap" field proves the separator was ``::``.
_RATING_FIELDS = ("UserID", "_1", "MovieID", "_2", "Rating", "_3", "Timestamp")


def _read_dat(path: Path, names: tuple[str, ...], *, chunksize: int, encoding: str):
    """Small ``::``-separated files (users, movies; titles may hold single ``:``)."""
    yield from read_chunks(
        path,
        chunksize=chunksize,
        header=False,
        names=names,
        sep="::",
        engine="python",
        encoding=encoding,
        quoting=csv.QUOTE_NONE,  # titles such as '"Great Performances" Cats (1998)'
    )


@register("ml1m", title="MovieLens 1M (GroupLens)", files=(RATINGS, USERS, MOVIES))
def prepare(
    raw_dir: Path,
    out_dir: Path,
    *,
    chunksize: int = CHUNKSIZE,
    like_threshold: int = 4,
) -> dict:
    """Prepare MovieLens-1M (see the module docstring).

    Args:
        raw_dir: folder holding the three ``.dat`` files (or its ``ml-1m/`` subfolder).
        out_dir: where ``interactions.csv``, ``users.csv``, ``items.csv`` go.
        chunksize: raw lines read at a time.
        like_threshold: lowest rating that counts as ``like``.
    """
    paths = find_raw(raw_dir, (RATINGS, USERS, MOVIES), dataset="ml1m", subdirs=("ml-1m",))
    ratings = paths[RATINGS]
    users, items = DistinctRows(USER), DistinctRows(ITEM)
    rows = 0
    with csv_sink(out_dir / "interactions.csv", log_columns(TASKS, timestamp=True)) as sink:
        for line, chunk in read_chunks(
            ratings,
            chunksize=chunksize,
            header=False,
            names=_RATING_FIELDS,
            sep=":",
            quoting=csv.QUOTE_NONE,
        ):
            gaps = chunk[["_1", "_2", "_3"]].notna().to_numpy().any(axis=1)
            if gaps.any():
                pos = int(np.flatnonzero(gaps)[0])
                raise InputError(
                    "malformed row (expected UserID::MovieID::Rating::Timestamp)",
                    file=ratings,
                    row=line + pos,
                )
            require_values(
                chunk, ("UserID", "MovieID", "Rating", "Timestamp"), path=ratings, line=line
            )
            rating = to_int(
                chunk["Rating"], path=ratings, line=line, column="Rating", allowed=(1, 2, 3, 4, 5)
            )
            ts = to_int(chunk["Timestamp"], path=ratings, line=line, column="Timestamp")
            frame = pd.DataFrame(
                {
                    USER: chunk["UserID"],
                    ITEM: chunk["MovieID"],
                    TIMESTAMP: ts,
                    "watch": np.ones(len(chunk), dtype=np.int8),
                    "like": (rating >= like_threshold).astype(np.int8),
                }
            )
            sink.write(frame)
            users.add(frame[[USER]])
            items.add(frame[[ITEM]])
            rows += len(frame)

    user_rows = DistinctRows(USER)
    names = ("user_id", "gender", "age", "occupation", "zip")
    for line, chunk in _read_dat(paths[USERS], names, chunksize=chunksize, encoding="latin-1"):
        require_values(chunk, ("user_id",), path=paths[USERS], line=line)
        user_rows.add(chunk.rename(columns={"user_id": USER}))
    user_rows.write(out_dir / "users.csv")

    movie_rows = DistinctRows(ITEM)
    names = ("movie_id", "title", "genres")
    for line, chunk in _read_dat(paths[MOVIES], names, chunksize=chunksize, encoding="latin-1"):
        require_values(chunk, ("movie_id", "title"), path=paths[MOVIES], line=line)
        year = chunk["title"].str.extract(r"\((\d{4})\)\s*$", expand=False)
        movie_rows.add(
            pd.DataFrame(
                {
                    ITEM: chunk["movie_id"],
                    "year": pd.to_numeric(year, errors="coerce").astype("Int64"),
                    "genres": chunk["genres"],
                }
            )
        )
    movie_rows.write(out_dir / "items.csv")

    return summary(
        rows=rows,
        users=len(users),
        items=len(items),
        tasks=TASKS,
        files=["interactions.csv", "users.csv", "items.csv"],
        like_threshold=like_threshold,
        categorical={
            "users.csv": ["gender", "age", "occupation", "zip"],
            "items.csv": ["genres"],
        },
    )
