"""CSV readers with validation: wide-form and long-form interaction logs, feature tables.

Files are read in chunks (``pandas.read_csv(chunksize=…)``), validated chunk by
chunk, and concatenated as columnar arrays, never as Python objects per row.
Every problem is an :class:`~mogenet.errors.InputError` naming the file, the line
(as an editor shows it: the header is line 1) and the column.

Policies (documented here, tested in ``tests/datasets/test_readers.py``):

* labels must be ``0`` or ``1`` (``0.0``/``1.0`` accepted); anything else is an error;
* ids must be non-empty; raw ids are kept as strings exactly as written;
* duplicate ``(user, item, timestamp)`` rows — ``(user, item)`` without timestamps —
  are merged, each label taking its maximum (an action seen once counts), with a
  :class:`DuplicateRowsWarning` giving the number of merged rows;
* a long-form log (``user_id,item_id,behavior[,timestamp]``) is pivoted to wide
  form: one example per ``(user, item)`` pair, label ``b`` = 1 iff an event with
  behaviour ``b`` exists, timestamp = the pair's first event.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, ORACLE_PREFIX, SCENARIO, TIMESTAMP, USER, InteractionLog
from mogenet.errors import InputError

#: Default number of rows per chunk.
CHUNK_ROWS = 1_000_000


class DuplicateRowsWarning(UserWarning):
    """Duplicate example rows were merged (labels took their maximum)."""


@dataclass
class CsvSchema:
    """Column names of the user's CSV files (defaults: the canonical names).

    Args:
        user: user id column.
        item: item id column.
        timestamp: timestamp column (optional in the file); integers (e.g. unix
            seconds) or date-time strings.
        scenario: scenario column (optional in the file).
        behavior: behaviour column of long-form logs.
        tasks: label columns; ``None`` = every column that is not one of the above
            and not an ``oracle_*`` column.
    """

    user: str = USER
    item: str = ITEM
    timestamp: str = TIMESTAMP
    scenario: str = SCENARIO
    behavior: str = "behavior"
    tasks: tuple[str, ...] | None = None


def _check_text_file(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError("is a directory, expected a CSV file", file=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=path)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if b"\x00" in head:
        raise InputError("not a text CSV file (binary content)", file=path)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a multi-byte char cut by the 64 KiB window
            raise InputError(
                f"not a UTF-8 text CSV file (undecodable byte at offset {e.start})", file=path
            ) from None


def read_header(path: str | os.PathLike) -> list[str]:
    """The header of a CSV file, validated (non-empty, no duplicate names)."""
    path = Path(path)
    _check_text_file(path)
    try:
        header = pd.read_csv(path, nrows=0, dtype=str).columns.tolist()
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise InputError(f"cannot parse CSV header ({_first_line(e)})", file=path, row=1) from None
    raw = _raw_header(path)
    seen = set()
    for name in raw:
        if name in seen:
            raise InputError("duplicate column name in header", file=path, row=1, column=name)
        seen.add(name)
    if not header or all(h.startswith("Unnamed:") for h in header):
        raise InputError("no header row", file=path, row=1)
    return header


def _raw_header(path: Path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return [c.strip() for c in next(csv.reader(f), [])]


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _chunks(path: Path, usecols: list[str], chunk_rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield ``(first_line_number, chunk)``; all columns read as strings."""
    try:
        reader = pd.read_csv(
            path,
            usecols=usecols,
            dtype=str,
            keep_default_na=False,
            chunksize=chunk_rows,
            skipinitialspace=True,
        )
        line = 2
        for chunk in reader:
            yield line, chunk
            line += len(chunk)
    except pd.errors.ParserError as e:
        raise InputError(f"malformed CSV ({_first_line(e)})", file=path) from None
    except UnicodeDecodeError as e:
        raise InputError(f"not a UTF-8 text CSV file ({e.reason})", file=path) from None


def _require_columns(
    path: Path, header: list[str], required: list[str], problem: str = "missing required column"
) -> None:
    for c in required:
        if c not in header:
            hint = ""
            if len(header) == 1:
                sep = next((s for s in (";", "\t", "|") if s in header[0]), None)
                if sep is not None:
                    hint = f"; the file looks {sep!r}-separated, mogenet reads comma-separated CSV"
            raise InputError(
                f"{problem} (header has: {', '.join(header)}{hint})", file=path, row=1, column=c
            )


def _check_ids(path: Path, line0: int, chunk: pd.DataFrame, columns: list[str]) -> None:
    for c in columns:
        s = chunk[c].str.strip()
        bad = s.isna() | (s == "") | s.str.lower().isin(["nan", "null", "none", "na"])
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError("empty or NaN id", file=path, row=line0 + pos, column=c)


def _parse_labels(path: Path, line0: int, chunk: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    out = {}
    for t in tasks:
        raw = chunk[t]
        v = pd.to_numeric(raw, errors="coerce")
        bad = ~v.isin([0, 1])
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            got = raw.iloc[pos]
            raise InputError(
                f"label must be 0 or 1, got {got!r}", file=path, row=line0 + pos, column=t
            )
        out[t] = v.to_numpy(dtype=np.int8)
    return pd.DataFrame(out, index=chunk.index)


def _parse_timestamps(path: Path, line0: int, raw: pd.Series, column: str) -> np.ndarray:
    v = pd.to_numeric(raw, errors="coerce")
    if v.isna().any():  # not all integers: try date-time strings for the rest
        dt = pd.to_datetime(raw[v.isna()], errors="coerce", utc=True)
        if dt.isna().any():
            pos = int(np.flatnonzero(v.isna().to_numpy() & raw.index.isin(dt.index[dt.isna()]))[0])
            raise InputError(
                f"timestamp must be an integer or a date-time, got {raw.iloc[pos]!r}",
                file=path,
                row=line0 + pos,
                column=column,
            )
        v = v.astype("float64")
        v[dt.index] = (dt - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return v.to_numpy(dtype=np.float64).astype(np.int64)


def _merge_duplicates(frame: pd.DataFrame, tasks: tuple[str, ...], path: Path) -> pd.DataFrame:
    keys = [USER, ITEM] + ([TIMESTAMP] if TIMESTAMP in frame.columns else [])
    dup = frame.duplicated(keys, keep=False)
    if not dup.any():
        return frame
    n_before = len(frame)
    agg = {c: "max" for c in frame.columns if c not in keys}
    if SCENARIO in agg:
        agg[SCENARIO] = "first"
    merged = frame.groupby(keys, sort=False, as_index=False).agg(agg)[frame.columns]
    warnings.warn(
        f"{path}: merged {n_before - len(merged)} duplicate ({', '.join(keys)}) rows "
        "(labels take their maximum)",
        DuplicateRowsWarning,
        stacklevel=3,
    )
    return merged.reset_index(drop=True)


def infer_tasks(header: list[str], schema: CsvSchema) -> list[str]:
    """Label columns of a wide-form header under ``schema`` (see :class:`CsvSchema`)."""
    reserved = {schema.user, schema.item, schema.timestamp, schema.scenario}
    return [c for c in header if c not in reserved and not c.startswith(ORACLE_PREFIX)]


def _pair_columns(
    path: Path,
    line0: int,
    chunk: pd.DataFrame,
    schema: CsvSchema,
    optional: dict[str, str],
    *,
    more_ids: tuple[str, ...] = (),
) -> pd.DataFrame:
    """A chunk's validated ids (canonical names), plus its timestamp and scenario
    when ``optional`` has them: the columns every log or pairs file shares.
    ``more_ids`` are further id-like columns checked with the ids (not returned)."""
    _check_ids(path, line0, chunk, [schema.user, schema.item, *more_ids])
    part = pd.DataFrame(
        {USER: chunk[schema.user].str.strip(), ITEM: chunk[schema.item].str.strip()}
    )
    if TIMESTAMP in optional:
        part[TIMESTAMP] = _parse_timestamps(path, line0, chunk[schema.timestamp], schema.timestamp)
    if SCENARIO in optional:
        part[SCENARIO] = chunk[schema.scenario].str.strip()
    return part


def read_log(
    path: str | os.PathLike,
    schema: CsvSchema | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> InteractionLog:
    """Read and validate an interaction log (wide or long form, detected from the header).

    A header containing ``schema.behavior`` is long form; otherwise wide form.

    Raises:
        InputError: for any problem with the file, naming file, line and column.
    """
    path = Path(path)
    schema = schema or CsvSchema()
    header = read_header(path)
    if schema.behavior in header:
        return _read_long(path, header, schema, chunk_rows)
    return _read_wide(path, header, schema, chunk_rows)


def _optional(header: list[str], schema: CsvSchema) -> dict[str, str]:
    """Canonical name → file column, for the optional columns present."""
    return {
        canon: col
        for canon, col in ((TIMESTAMP, schema.timestamp), (SCENARIO, schema.scenario))
        if col in header
    }


def _read_wide(path: Path, header: list[str], schema: CsvSchema, chunk_rows: int) -> InteractionLog:
    _require_columns(path, header, [schema.user, schema.item])
    tasks = list(schema.tasks) if schema.tasks else infer_tasks(header, schema)
    _require_columns(path, header, tasks, "task not found in header")
    if not tasks:
        raise InputError(
            "no label columns: expected one 0/1 column per task after the id columns",
            file=path,
            row=1,
        )
    optional = _optional(header, schema)
    oracle = [ORACLE_PREFIX + t for t in tasks if ORACLE_PREFIX + t in header]
    usecols = [schema.user, schema.item, *optional.values(), *tasks, *oracle]

    parts = []
    for line0, chunk in _chunks(path, usecols, chunk_rows):
        part = _pair_columns(path, line0, chunk, schema, optional)
        part = pd.concat([part, _parse_labels(path, line0, chunk, tasks)], axis=1)
        for c in oracle:
            part[c] = pd.to_numeric(chunk[c], errors="coerce").to_numpy(dtype=np.float64)
        parts.append(part)
    if not parts or sum(len(p) for p in parts) == 0:
        raise InputError("no data rows (header only)", file=path, row=2)
    frame = pd.concat(parts, ignore_index=True)
    frame = _merge_duplicates(frame, tuple(tasks), path)
    return InteractionLog(frame, tuple(tasks), str(path))


def _read_long(path: Path, header: list[str], schema: CsvSchema, chunk_rows: int) -> InteractionLog:
    _require_columns(path, header, [schema.user, schema.item, schema.behavior])
    optional = _optional(header, schema)
    usecols = [schema.user, schema.item, schema.behavior, *optional.values()]
    parts = []
    for line0, chunk in _chunks(path, usecols, chunk_rows):
        part = _pair_columns(path, line0, chunk, schema, optional, more_ids=(schema.behavior,))
        part.insert(2, "_behavior", chunk[schema.behavior].str.strip())
        parts.append(part)
    if not parts or sum(len(p) for p in parts) == 0:
        raise InputError("no data rows (header only)", file=path, row=2)
    events = pd.concat(parts, ignore_index=True)
    behaviors = sorted(events["_behavior"].unique().tolist())
    tasks = list(schema.tasks) if schema.tasks else behaviors
    for t in tasks:
        if t not in behaviors:
            raise InputError(
                "task is not a behaviour of this long-form log "
                f"(behaviours: {', '.join(behaviors)})",
                file=path,
                column=schema.behavior,
            )
    return InteractionLog(pivot_long(events, tasks), tuple(tasks), str(path))


def pivot_long(events: pd.DataFrame, tasks: list[str], behavior: str = "_behavior") -> pd.DataFrame:
    """Pivot events (one row per ``(user, item, behaviour)``) to wide-form examples.

    One output row per ``(user, item)`` pair; task ``t`` is 1 iff the pair has an
    event with behaviour ``t``; ``timestamp`` (if present) is the pair's first event;
    ``scenario`` (if present) that of the first event.  Events of behaviours that
    are not tasks still create the example (an impression without action).
    """
    keys = [USER, ITEM]
    if TIMESTAMP in events.columns:
        events = events.sort_values(TIMESTAMP, kind="stable")
    codes, uniq = pd.factorize(pd.MultiIndex.from_frame(events[keys]))
    first = ~pd.Series(codes).duplicated().to_numpy()
    base = events.iloc[np.flatnonzero(first)]
    order = codes[first]
    frame = base.drop(columns=[behavior]).reset_index(drop=True)
    frame.index = order
    frame = frame.sort_index()
    n = len(uniq)
    for t in tasks:
        y = np.zeros(n, dtype=np.int8)
        y[codes[(events[behavior] == t).to_numpy()]] = 1
        frame[t] = y
    return frame.reset_index(drop=True)


def read_pairs(path: str | os.PathLike, schema: CsvSchema | None = None) -> pd.DataFrame:
    """Read ``(user, item)`` pairs to score: the id columns (canonical names), validated.

    ``timestamp`` and ``scenario`` are kept when present (heads that read behaviour
    sequences or scenarios need them); other columns (labels) are ignored.
    """
    path = Path(path)
    schema = schema or CsvSchema()
    header = read_header(path)
    _require_columns(path, header, [schema.user, schema.item])
    optional = _optional(header, schema)
    parts = []
    for line0, chunk in _chunks(path, [schema.user, schema.item, *optional.values()], CHUNK_ROWS):
        part = _pair_columns(path, line0, chunk, schema, optional)
        parts.append(part)
    if not parts or sum(len(p) for p in parts) == 0:
        raise InputError("no data rows (header only)", file=path, row=2)
    return pd.concat(parts, ignore_index=True)


def read_features(
    path: str | os.PathLike, *, id_column: str, categorical: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Read a ``users.csv`` / ``items.csv`` feature table (one row per id).

    Ids are strings; other columns are returned numeric where every value parses as
    a number, else as strings (categorical).  Columns named in ``categorical`` stay
    strings even when they hold numbers (integer-coded categories such as brand
    ids); names not in this file are ignored, so one list can serve both tables.
    So do the columns that a ``prepare.json`` beside the file lists for it
    (``mogenet prepare`` writes one, e.g. ``{"categorical": {"users.csv":
    ["occupation", …]}}``): a prepared public dataset needs no ``categorical``.

    Raises:
        InputError: missing id column, empty/NaN id, duplicate id (naming both lines).
    """
    path = Path(path)
    header = read_header(path)
    _require_columns(path, header, [id_column])
    categorical = (*categorical, *prepared_categorical(path))
    parts = []
    for line0, chunk in _chunks(path, header, CHUNK_ROWS):
        _check_ids(path, line0, chunk, [id_column])
        parts.append(chunk)
    if not parts or sum(len(p) for p in parts) == 0:
        raise InputError("no data rows (header only)", file=path, row=2)
    table = pd.concat(parts, ignore_index=True)
    table[id_column] = table[id_column].str.strip()
    dup = table[id_column].duplicated()
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raw = table[id_column].iloc[pos]
        first = int(np.flatnonzero((table[id_column] == raw).to_numpy())[0])
        raise InputError(
            f"duplicate id {raw!r} (first on line {first + 2})",
            file=path,
            row=pos + 2,
            column=id_column,
        )
    for c in header:
        if c == id_column or c in categorical:
            continue
        s = table[c].replace("", np.nan)
        num = pd.to_numeric(s, errors="coerce")
        table[c] = num if (num.notna() | s.isna()).all() else s
    return table


def prepared_categorical(path: str | os.PathLike) -> tuple[str, ...]:
    """The categorical columns that a ``prepare.json`` beside ``path`` lists for it
    (``()`` when there is none, or it says nothing about this file)."""
    path = Path(path)
    try:
        summary = json.loads((path.parent / "prepare.json").read_text())
        columns = summary.get("categorical", {}).get(path.name, [])
    except (OSError, ValueError, AttributeError):  # absent, unreadable, not ours
        return ()
    return tuple(str(c) for c in columns) if isinstance(columns, list) else ()


def check_same_header(reference: str | os.PathLike, other: str | os.PathLike) -> None:
    """Raise if ``other`` (a valid/test file) has other columns than ``reference`` (train).

    Column order may differ; a missing or an extra column is an error naming it.
    """
    ref, oth = read_header(reference), read_header(other)
    for c in ref:
        if c not in oth:
            raise InputError(
                f"columns differ from the training file {reference}: column missing",
                file=other,
                row=1,
                column=c,
            )
    for c in oth:
        if c not in ref:
            raise InputError(
                f"columns differ from the training file {reference}: "
                "column not in the training file",
                file=other,
                row=1,
                column=c,
            )
