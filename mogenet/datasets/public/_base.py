"""Shared machinery of the public-dataset preparers.

* the registry (:data:`PREPARERS`, filled by the :func:`register` decorator);
* raw-file lookup with an error that lists every file a preparer expects;
* chunked CSV reading whose errors name the file, line and column;
* streaming, atomic CSV writers (:func:`csv_sink`), distinct-row accumulators for
  ``users.csv`` / ``items.csv``;
* :class:`PairAggregator`, the long-form → wide-form pivot for behaviour logs that do
  not fit in memory (optionally spilled to hash partitions on disk).

Every preparer is a function ``prepare(raw_dir, out_dir, *, chunksize=…, **options)
-> dict`` registered under its CLI name; it writes ``interactions.csv`` (wide form, the
canonical columns of :class:`~mogenet.datasets.InteractionLog`) and, where the data
has them, ``users.csv`` / ``items.csv`` and the official ``train.csv`` / ``test.csv``.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, SCENARIO, TIMESTAMP, USER
from mogenet.errors import InputError
from mogenet.io import atomic_path, write_json

#: Default number of raw lines per chunk.
CHUNKSIZE = 1_000_000

#: Name of the provenance file every preparer writes next to its CSVs.
SUMMARY_FILE = "prepare.json"


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Preparer:
    """A registered public-dataset preparer.

    Args:
        name: the CLI name (``mogenet prepare NAME``).
        title: the dataset's name in words.
        files: the raw files it reads, relative to the raw directory.
        fn: ``fn(raw_dir, out_dir, **options) -> summary dict``.
    """

    name: str
    title: str
    files: tuple[str, ...]
    fn: Callable[..., dict]

    @property
    def options(self) -> dict[str, Any]:
        """Keyword options the preparer accepts, with their defaults."""
        params = inspect.signature(self.fn).parameters.values()
        return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    def __call__(self, raw_dir: str | Path, out_dir: str | Path, **options: Any) -> dict:
        known = self.options
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise InputError(
                f"unknown option(s) {', '.join(unknown)} for '{self.name}'; "
                f"it accepts {', '.join(known) or 'none'}"
            )
        if options.get("chunksize", 1) < 1:
            raise InputError(f"chunksize must be ≥ 1, got {options['chunksize']}")
        raw_dir, out_dir = Path(raw_dir), Path(out_dir)
        if not raw_dir.is_dir():
            raise InputError(
                f"raw directory not found; '{self.name}' expects {', '.join(self.files)} there "
                f"(see datasets/{self.name}.md)",
                file=raw_dir,
            )
        summary = {"dataset": self.name, **self.fn(raw_dir, out_dir, **options)}
        write_json(
            out_dir / SUMMARY_FILE,
            {**summary, "raw_dir": str(raw_dir), "options": {**known, **options}},
        )
        summary["files"] = [*summary.get("files", []), SUMMARY_FILE]
        return summary

    def __repr__(self) -> str:
        return f"Preparer(name={self.name!r}, files={list(self.files)})"


#: CLI name → preparer.  Filled by :func:`register` when the dataset modules import.
PREPARERS: dict[str, Preparer] = {}


def register(name: str, *, title: str, files: Sequence[str]) -> Callable:
    """Decorator: register ``fn`` as the preparer of the public dataset ``name``."""

    def decorate(fn: Callable[..., dict]) -> Callable[..., dict]:
        if name in PREPARERS:
            raise ValueError(f"public dataset '{name}' registered twice")
        PREPARERS[name] = Preparer(name=name, title=title, files=tuple(files), fn=fn)
        return fn

    return decorate


# ------------------------------------------------------------------------ raw files
#: Compressed forms of a raw file that are read as is (pandas decompresses them).
COMPRESSED = (".gz", ".zip")


def find_raw(
    raw_dir: Path, names: Sequence[str], *, dataset: str, subdirs: Sequence[str] = ()
) -> dict[str, Path]:
    """Locate every raw file up front (before anything is written).

    Each name is looked up in ``raw_dir`` and then in each of ``subdirs`` (the folder
    the official archive unpacks to), as is or compressed (``NAME.gz``, ``NAME.zip``
    holding only that file).  The error names the first missing file and lists all
    expected ones.
    """
    folders = [raw_dir, *(raw_dir / s for s in subdirs)]
    found: dict[str, Path] = {}
    for name in names:
        candidates = (d / (name + ext) for d in folders for ext in ("", *COMPRESSED))
        hit = next((p for p in candidates if p.is_file()), None)
        if hit is None:
            where = " or ".join(str(d) for d in folders)
            raise InputError(
                f"raw file not found; '{dataset}' expects {', '.join(names)} in {where} "
                f"(.gz/.zip also read; see datasets/{dataset}.md)",
                file=raw_dir / name,
            )
        found[name] = hit
    return found


def check_header(path: Path, required: Sequence[str], *, sep: str = ",") -> list[str]:
    """Read only the header line and check it has every required column."""
    try:
        columns = [str(c) for c in pd.read_csv(path, sep=sep, nrows=0).columns]
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", file=path) from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(
            f"header lacks column(s) {', '.join(missing)} (found {', '.join(columns)})",
            file=path,
            row=1,
            column=missing[0],
        )
    return columns


_LINE = re.compile(r"line (\d+)")


def read_chunks(
    path: Path,
    *,
    chunksize: int,
    header: bool = True,
    names: Sequence[str] | None = None,
    usecols: Sequence[str] | None = None,
    sep: str = ",",
    encoding: str = "utf-8",
    engine: str = "c",
    skipinitialspace: bool = False,
    quoting: int = csv.QUOTE_MINIMAL,
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield ``(line, chunk)``: string-typed chunks of a CSV and the 1-based line
    number (as an editor shows it) of each chunk's first row.

    Empty fields are missing (``NaN``); no other value (``NA``, ``null``) is.  Parser
    errors (a row with too many fields, bad encoding) become an :class:`InputError`
    naming the file and, where the parser knows it, the line.
    """
    if chunksize < 1:
        raise InputError(f"chunksize must be ≥ 1, got {chunksize}")
    line = 2 if header else 1
    try:
        reader = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            names=names,
            usecols=usecols,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            chunksize=chunksize,
            encoding=encoding,
            engine=engine,
            skipinitialspace=skipinitialspace,
            quoting=quoting,
        )
        with reader:
            for chunk in reader:
                yield line, chunk.reset_index(drop=True)
                line += len(chunk)
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", file=path) from None
    except pd.errors.ParserError as e:
        m = _LINE.search(str(e))
        msg = str(e).split(". ", 1)[-1].strip().removeprefix("C error: ")
        raise InputError(
            f"malformed row ({msg})", file=path, row=int(m.group(1)) if m else None
        ) from None
    except UnicodeDecodeError as e:
        raise InputError(f"not {encoding} text ({e.reason})", file=path) from None


# ------------------------------------------------------------------------ validation
def require_values(frame: pd.DataFrame, columns: Iterable[str], *, path: Path, line: int) -> None:
    """Fail on the first row where one of ``columns`` is empty (or absent: a short row)."""
    for column in columns:
        missing = frame[column].isna().to_numpy()
        if missing.any():
            pos = int(np.flatnonzero(missing)[0])
            raise InputError("value is missing", file=path, row=line + pos, column=column)


def to_int(
    values: pd.Series,
    *,
    path: Path,
    line: int,
    column: str,
    allowed: Sequence[int] | None = None,
) -> np.ndarray:
    """Parse a string column as int64; the error locates the first bad value."""
    num = pd.to_numeric(values, errors="coerce")
    arr = num.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(arr) | (arr != np.round(arr))
    if allowed is not None:
        bad |= ~np.isin(arr, np.asarray(allowed, dtype=np.float64))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        want = f"one of {', '.join(map(str, allowed))}" if allowed is not None else "an integer"
        raise InputError(
            f"expected {want}, got {values.iloc[pos]!r}", file=path, row=line + pos, column=column
        )
    return arr.astype(np.int64)


def to_binary(values: pd.Series, *, path: Path, line: int, column: str) -> np.ndarray:
    """Parse a 0/1 label column as int8."""
    return to_int(values, path=path, line=line, column=column, allowed=(0, 1)).astype(np.int8)


# -------------------------------------------------------------------------- writing
def log_columns(
    tasks: Sequence[str], *, timestamp: bool = False, scenario: bool = False
) -> list[str]:
    """Canonical column order of a wide-form log (as :meth:`InteractionLog.to_csv`)."""
    cols = [USER, ITEM] + [TIMESTAMP] * timestamp + [SCENARIO] * scenario
    return cols + list(tasks)


class CsvSink:
    """Appends frames to one open CSV file (header written once); counts rows."""

    def __init__(self, handle: TextIO, columns: Sequence[str]) -> None:
        self._handle = handle
        self.columns = list(columns)
        self.rows = 0
        self._header = False

    def write(self, frame: pd.DataFrame) -> None:
        frame[self.columns].to_csv(self._handle, header=not self._header, index=False)
        self._header = True
        self.rows += len(frame)

    def close(self) -> None:
        if not self._header:  # an empty result still gets its header
            self.write(pd.DataFrame(columns=self.columns))


@contextlib.contextmanager
def csv_sink(path: Path, columns: Sequence[str]) -> Iterator[CsvSink]:
    """Write a CSV chunk by chunk, atomically: a temp file renamed on success."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        sink = CsvSink(fh, columns)
        yield sink
        sink.close()


def concat_csv(path: Path, parts: Sequence[Path]) -> None:
    """``path`` = the CSV files ``parts`` one after the other (one header), atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        for k, part in enumerate(parts):
            with open(part, "rb") as src:
                header = src.readline()
                if k == 0:
                    out.write(header)
                shutil.copyfileobj(src, out, 1 << 20)


class DistinctRows:
    """First row per key over many chunks (``users.csv`` / ``items.csv`` / id counts).

    Memory grows with the number of distinct keys, not with the number of rows.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self._parts: list[pd.DataFrame] = []
        self._rows = 0
        self._compact_at = 1 << 20

    def add(self, frame: pd.DataFrame) -> None:
        part = frame.drop_duplicates(self.key)
        self._parts.append(part)
        self._rows += len(part)
        if self._rows > self._compact_at:
            self._compact()
            self._compact_at = max(self._compact_at, 2 * self._rows)

    def _compact(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=[self.key])
        frame = pd.concat(self._parts, ignore_index=True).drop_duplicates(self.key)
        frame = frame.reset_index(drop=True)
        self._parts, self._rows = [frame], len(frame)
        return frame

    def frame(self) -> pd.DataFrame:
        """The distinct rows, in order of first appearance."""
        return self._compact()

    def __len__(self) -> int:
        return len(self._compact())

    def write(self, path: Path) -> int:
        frame = self.frame()
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
        return len(frame)


# ---------------------------------------------------------------------- pair pivot
class PairAggregator:
    """Long form → wide form: one row per (user, item), each task the OR of its events.

    Feed it chunks with ``user_id``, ``item_id``, optionally ``timestamp`` and one 0/1
    column per task (one row per raw event); :meth:`results` yields the aggregated
    rows (``timestamp`` = the pair's first event).  With ``partitions == 1`` partial
    aggregates are kept in memory and merged as they grow; with more, each chunk's
    partial aggregate is spilled to ``partitions`` hash buckets by user on disk (under
    ``workdir``) and the buckets are aggregated one at a time, so memory is bounded
    by the largest bucket.
    """

    def __init__(
        self,
        tasks: Sequence[str],
        *,
        timestamp: bool,
        partitions: int = 1,
        workdir: Path | None = None,
        compact_rows: int = 4_000_000,
    ) -> None:
        if partitions < 1:
            raise InputError(f"partitions must be ≥ 1, got {partitions}")
        self.tasks = list(tasks)
        self.timestamp = timestamp
        self.partitions = partitions
        self.compact_rows = compact_rows
        self._parts: list[pd.DataFrame] = []
        self._rows = 0
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._buckets: list[Path] = []
        if partitions > 1:
            if workdir is not None:
                workdir.mkdir(parents=True, exist_ok=True)
            self._tmp = tempfile.TemporaryDirectory(prefix=".pivot.", dir=workdir)
            self._buckets = [Path(self._tmp.name) / f"part-{k}.csv" for k in range(partitions)]

    def _aggregate(self, frame: pd.DataFrame) -> pd.DataFrame:
        how = dict.fromkeys(self.tasks, "max")
        if self.timestamp:
            how[TIMESTAMP] = "min"
        out = frame.groupby([USER, ITEM], sort=False, as_index=False).agg(how)
        return out

    def add(self, frame: pd.DataFrame) -> None:
        part = self._aggregate(frame)
        if self.partitions == 1:
            self._parts.append(part)
            self._rows += len(part)
            if self._rows > self.compact_rows:
                merged = self._aggregate(pd.concat(self._parts, ignore_index=True))
                self._parts, self._rows = [merged], len(merged)
                self.compact_rows = max(self.compact_rows, 2 * len(merged))
            return
        bucket = pd.util.hash_pandas_object(part[USER], index=False).to_numpy() % np.uint64(
            self.partitions
        )
        for k, path in enumerate(self._buckets):
            rows = part[bucket == k]
            if len(rows):
                rows.to_csv(path, mode="a", header=not path.exists(), index=False)

    def results(self) -> Iterator[pd.DataFrame]:
        """Aggregated rows, sorted by user (then first-event time) within each block."""
        try:
            if self.partitions == 1:
                blocks: Iterable[pd.DataFrame] = (
                    [pd.concat(self._parts, ignore_index=True)] if (self._parts) else []
                )
            else:
                blocks = (
                    pd.read_csv(p, dtype={USER: str, ITEM: str}, keep_default_na=False)
                    for p in self._buckets
                    if p.exists()
                )
            for block in blocks:
                out = self._aggregate(block)
                order = [USER, TIMESTAMP, ITEM] if self.timestamp else [USER, ITEM]
                out = out.sort_values(order, kind="stable").reset_index(drop=True)
                for t in self.tasks:
                    out[t] = out[t].astype(np.int8)
                yield out
        finally:
            self.close()

    def close(self) -> None:
        """Drop the partial aggregates and remove the spill folder (idempotent)."""
        self._parts = []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PairAggregator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def enforce_funnel(frame: pd.DataFrame, top: str, deeper: Sequence[str]) -> int:
    """Set ``top`` to 1 wherever a deeper behaviour happened; return how many rows changed."""
    deep = frame[list(deeper)].to_numpy().any(axis=1)
    fix = deep & (frame[top].to_numpy() == 0)
    frame.loc[fix, top] = np.int8(1)
    return int(fix.sum())


def write_pivot(
    pivot: PairAggregator, path: Path, *, funnel: tuple[str, Sequence[str]] | None = None
) -> tuple[int, int, int]:
    """Write the pivot's wide rows to ``path`` (atomically).

    ``funnel=(top, deeper)`` sets ``top`` wherever one of ``deeper`` is 1.  Returns
    ``(rows, users, rows changed by the funnel)``.
    """
    rows = users = fixed = 0
    with csv_sink(path, log_columns(pivot.tasks, timestamp=pivot.timestamp)) as sink:
        for block in pivot.results():
            if funnel is not None:
                fixed += enforce_funnel(block, *funnel)
            sink.write(block)
            rows += len(block)
            users += block[USER].nunique()  # blocks never share a user
    return rows, users, fixed


def summary(
    *,
    rows: int,
    users: int,
    items: int,
    tasks: Sequence[str],
    files: Sequence[str],
    **extra: Any,
) -> dict:
    """The dict every preparer returns (and the CLI prints)."""
    return {
        "rows": int(rows),
        "users": int(users),
        "items": int(items),
        "tasks": list(tasks),
        "files": list(files),
        **extra,
    }
