"""The :class:`InteractionLog`: the one in-memory form of an interaction log.

Every reader (wide CSV, long CSV, public-dataset preparers, the synthetic
generator) produces an ``InteractionLog``; every later stage (splits, negative
sampling, graph builders, the loader) consumes one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mogenet.io import atomic_path

#: Canonical column names inside an :class:`InteractionLog`.
USER = "user_id"
ITEM = "item_id"
TIMESTAMP = "timestamp"
SCENARIO = "scenario"
#: Columns ``oracle_<task>`` hold the *true* probability of ``<task>`` (synthetic data
#: only).  They are never fed to a model; they give the upper-bound metrics.
ORACLE_PREFIX = "oracle_"

RESERVED = (USER, ITEM, TIMESTAMP, SCENARIO)


@dataclass
class InteractionLog:
    """Wide-form interactions: one row per (user, item[, timestamp]) example.

    ``frame`` has the columns ``user_id`` and ``item_id`` (strings: raw ids are kept
    as the user wrote them), optionally ``timestamp`` (int64) and ``scenario``
    (string), one ``int8`` 0/1 column per task, and optionally ``oracle_<task>``
    float columns.  Rows whose labels are all zero are negatives (impressions
    without action).

    Args:
        frame: the table, in the canonical column names above.
        tasks: task (label column) names, in the order the user gave them.
        source: the file the log was read from, for error messages and hashes.
    """

    frame: pd.DataFrame
    tasks: tuple[str, ...]
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        missing = [c for c in (USER, ITEM, *self.tasks) if c not in self.frame.columns]
        if missing:
            raise ValueError(f"InteractionLog frame lacks columns {missing}")

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        extra = [c for c in (TIMESTAMP, SCENARIO) if c in self.frame.columns]
        return (
            f"InteractionLog(rows={len(self)}, users={self.num_users}, items={self.num_items}, "
            f"tasks={list(self.tasks)}" + (f", extra={extra}" if extra else "") + ")"
        )

    @property
    def has_timestamp(self) -> bool:
        return TIMESTAMP in self.frame.columns

    @property
    def has_scenario(self) -> bool:
        return SCENARIO in self.frame.columns

    @property
    def oracle_tasks(self) -> tuple[str, ...]:
        """Tasks for which the true probability is known (``oracle_<task>`` columns)."""
        return tuple(t for t in self.tasks if ORACLE_PREFIX + t in self.frame.columns)

    @property
    def num_users(self) -> int:
        return int(self.frame[USER].nunique())

    @property
    def num_items(self) -> int:
        return int(self.frame[ITEM].nunique())

    def labels(self) -> np.ndarray:
        """Labels as a ``[rows, tasks]`` int8 array, columns in ``self.tasks`` order."""
        return self.frame[list(self.tasks)].to_numpy(dtype=np.int8)

    def positive_mask(self) -> np.ndarray:
        """``[rows]`` bool: the row has at least one positive label."""
        return self.labels().any(axis=1)

    def take(self, index: np.ndarray | pd.Index) -> InteractionLog:
        """Rows at the given positions (a new log, fresh 0..n-1 index)."""
        frame = self.frame.iloc[np.asarray(index)].reset_index(drop=True)
        return InteractionLog(frame, self.tasks, self.source)

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the log as a wide-form CSV, atomically (temp file, then rename)."""
        cols = [USER, ITEM]
        cols += [c for c in (TIMESTAMP, SCENARIO) if c in self.frame.columns]
        cols += list(self.tasks)
        cols += [ORACLE_PREFIX + t for t in self.oracle_tasks]
        with atomic_path(path) as tmp:
            self.frame[cols].to_csv(tmp, index=False, float_format="%.6g")
