"""Train / valid / test splits of an :class:`~mogenet.datasets.log.InteractionLog`.

Four strategies, all vectorised (numpy / pandas, no Python loop over users or
rows, so they scale to 10^7 rows) and deterministic:

- :func:`temporal_split` (``"time"``): by timestamp, at explicit cutoffs or at the
  global time quantiles given by ``ratios``.
- :func:`random_split` (``"random"``): random, stratified by user.
- :func:`user_split` (``"user"``): whole users held out (cold-start users in
  valid/test).
- :func:`leave_last_split` (``"leave-last"``): per user, the last interaction is the
  test row and the second-to-last the validation row.

:func:`split_log` resolves a strategy name to its function.  Every split is a
partition of the log's rows: each row lands in exactly one of train / valid / test,
and inside each part the rows keep their original order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, TIMESTAMP, USER, InteractionLog
from mogenet.errors import InputError

#: Default (train, valid, test) fractions of :func:`temporal_split` and :func:`random_split`.
DEFAULT_RATIOS = (0.8, 0.1, 0.1)

# Part codes of the per-row assignment array.
_TRAIN, _VALID, _TEST = 0, 1, 2


@dataclass
class Split:
    """The three parts of a split log.

    Iterating yields the part names (``"train"``, ``"valid"``, ``"test"``);
    :meth:`items` yields ``(name, log)`` pairs and ``split[name]`` gets one part.

    Args:
        train: the training rows.
        valid: the validation rows.
        test: the test rows.
        info: how the split was made (strategy, seed, ratios, cutoffs), JSON-safe.
    """

    train: InteractionLog
    valid: InteractionLog
    test: InteractionLog
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    names: ClassVar[tuple[str, str, str]] = ("train", "valid", "test")

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __getitem__(self, name: str) -> InteractionLog:
        if name not in self.names:
            raise KeyError(f"unknown split part '{name}'; choose from {list(self.names)}")
        return getattr(self, name)

    def items(self) -> Iterator[tuple[str, InteractionLog]]:
        return ((name, getattr(self, name)) for name in self.names)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(log)}" for name, log in self.items())
        return f"Split({sizes})"

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per part: rows, users, items, positive rows, positive rate and per-task rates.

        Rates of an empty part are ``0.0``.
        """
        out: dict[str, dict[str, Any]] = {}
        for name, log in self.items():
            n = len(log)
            labels = log.labels()
            positives = int(labels.any(axis=1).sum())
            task_rates = labels.mean(axis=0) if n else np.zeros(len(log.tasks))
            out[name] = {
                "rows": n,
                "users": log.num_users,
                "items": log.num_items,
                "positives": positives,
                "positive_rate": positives / n if n else 0.0,
                "task_rates": {t: float(r) for t, r in zip(log.tasks, task_rates, strict=True)},
            }
        return out


def _from_parts(log: InteractionLog, part: np.ndarray, info: dict[str, Any]) -> Split:
    """Build a :class:`Split` from a per-row part code (0 train, 1 valid, 2 test)."""
    train, valid, test = (log.take(np.flatnonzero(part == code)) for code in (0, 1, 2))
    return Split(train, valid, test, info)


def _check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or any(not np.isfinite(r) or r < 0 for r in ratios):
        raise InputError(f"split ratios must be three non-negative numbers, got {ratios}")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise InputError(f"split ratios must sum to 1, got {ratios} (sum {sum(ratios):g})")
    return ratios  # type: ignore[return-value]


def _quantile_cutoff(ts: np.ndarray, position: int) -> int:
    """The cutoff timestamp that puts about ``position`` of the rows before it.

    All rows sharing a timestamp stay on the same side: if ``position`` falls inside
    a block of equal timestamps ``v``, the cut moves to the block edge nearer to
    ``position`` (cutoff ``v``: block goes after; cutoff ``v + 1``: block goes
    before), the later side on an exact tie.  O(n): one partition, two counts.
    """
    n = len(ts)
    if position >= n:
        return int(ts.max()) + 1  # nothing at or after the cutoff
    v = int(np.partition(ts, position)[position])
    lo = int(np.count_nonzero(ts < v))  # cut before the block
    hi = int(np.count_nonzero(ts <= v))  # cut after the block
    return v if position - lo <= hi - position else v + 1


def temporal_split(
    log: InteractionLog,
    *,
    ratios: Sequence[float] | None = None,
    cutoffs: tuple[int, int] | None = None,
    seed: int | None = None,
) -> Split:
    """Split by timestamp: train before, valid between, test after the two cutoffs.

    With ``cutoffs=(valid_start, test_start)`` a row goes to train if
    ``timestamp < valid_start``, to valid if ``valid_start <= timestamp < test_start``
    and to test if ``timestamp >= test_start``.  Otherwise the cutoffs are the
    global time quantiles at ``ratios`` (default ``(0.8, 0.1, 0.1)``).

    **Ties.** The part is a function of the timestamp alone, so rows with equal
    timestamps always land in the same part.  When a ratio quantile falls inside a
    block of equal timestamps, the whole block goes to the side that keeps the part
    sizes closer to ``ratios`` (the later part on an exact tie); with very coarse
    timestamps the sizes can therefore differ from the ratios, and if every row has
    the same timestamp everything is train.

    Args:
        log: the log; needs a ``timestamp`` column.
        ratios: (train, valid, test) fractions summing to 1; not with ``cutoffs``.
        cutoffs: explicit ``(valid_start, test_start)`` timestamps,
            ``valid_start <= test_start``.
        seed: unused (the split is deterministic); accepted so that every strategy
            of :func:`split_log` takes the same keywords.

    Raises:
        InputError: no ``timestamp`` column, both ``ratios`` and ``cutoffs`` given,
            bad ratios or decreasing cutoffs.
    """
    del seed
    if not log.has_timestamp:
        raise InputError(
            "a temporal split needs a timestamp column; use a random split instead",
            file=log.source,
            column=TIMESTAMP,
        )
    if ratios is not None and cutoffs is not None:
        raise InputError("give either split ratios or explicit time cutoffs, not both")
    ts = log.frame[TIMESTAMP].to_numpy(dtype=np.int64)
    if cutoffs is not None:
        valid_start, test_start = (int(c) for c in cutoffs)
        if valid_start > test_start:
            raise InputError(
                f"time cutoffs must be (valid_start, test_start) with valid_start <= "
                f"test_start, got {tuple(cutoffs)}",
                column=TIMESTAMP,
            )
        info: dict[str, Any] = {"by": "time"}
    else:
        r = _check_ratios(DEFAULT_RATIOS if ratios is None else ratios)
        n = len(ts)
        if n == 0:
            valid_start = test_start = 0
        else:
            valid_start = _quantile_cutoff(ts, int(round(n * r[0])))
            test_start = max(valid_start, _quantile_cutoff(ts, int(round(n * (r[0] + r[1])))))
        info = {"by": "time", "ratios": list(r)}
    info.update(valid_start=valid_start, test_start=test_start)
    part = (ts >= valid_start).astype(np.int8) + (ts >= test_start)  # 0/1/2
    return _from_parts(log, part, info)


def _user_codes(log: InteractionLog) -> tuple[np.ndarray, np.ndarray]:
    """Per-row user code ``0..U-1`` and the number of rows of each user."""
    codes, uniques = pd.factorize(log.frame[USER])
    return codes.astype(np.int64), np.bincount(codes, minlength=len(uniques))


def _rank_in_user(codes: np.ndarray, sizes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Position of each row inside its user's group, given a user-grouped ``order``."""
    starts = np.cumsum(sizes) - sizes
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]]
    return rank


def random_split(
    log: InteractionLog,
    *,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    seed: int = 0,
) -> Split:
    """Random split, stratified by user: each user's rows are split in ``ratios``.

    Each user's rows are shuffled (group-wise random ranks) and the first
    ``b1 = floor(n_u * r_train + o_u)`` go to train, the next up to
    ``b2 = floor(n_u * (r_train + r_valid) + o_u)`` to valid, the rest to test, with
    one random offset ``o_u ~ U[0, 1)`` per user (systematic rounding: the expected
    part sizes are exactly ``n_u * ratios``, and a user's counts are within one row of
    them).

    **Small users.** Every user keeps at least one row in train (so the split never
    makes a user cold), which means users with a single row are train-only; a user
    with two rows has one train row and one valid-or-test row (when those ratios are
    non-zero).

    Args:
        log: the log.
        ratios: (train, valid, test) fractions summing to 1.
        seed: seeds the shuffle; same seed and log give the same split.
    """
    r = _check_ratios(ratios)
    rng = np.random.default_rng(seed)
    codes, sizes = _user_codes(log)
    order = np.lexsort((rng.random(len(codes)), codes))  # by user, random inside a user
    rank = _rank_in_user(codes, sizes, order)
    offset = rng.random(len(sizes))
    b1 = np.clip(np.floor(sizes * r[0] + offset).astype(np.int64), 1, sizes)
    b2 = np.clip(np.floor(sizes * (r[0] + r[1]) + offset).astype(np.int64), b1, sizes)
    part = (rank >= b1[codes]).astype(np.int8) + (rank >= b2[codes])  # 0/1/2
    return _from_parts(log, part, {"by": "random", "ratios": list(r), "seed": seed})


def user_split(
    log: InteractionLog,
    *,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    seed: int = 0,
) -> Split:
    """Held-out users: every row of a user goes to the same part.

    The users are shuffled; the first ``round(U * r_train)`` go to train, those up
    to ``round(U * (r_train + r_valid))`` to valid, the rest to test,
    so valid/test users never occur in train: what a model meets on logs whose test
    "users" are new (AliExpress search pages, census people), and the strong
    generalisation setting of collaborative-filtering papers. Give
    ``build-graphs --users`` a table listing them and they keep their features.

    Args:
        log: the log.
        ratios: (train, valid, test) fractions of the users, summing to 1.
        seed: seeds the shuffle; same seed and log give the same split.
    """
    r = _check_ratios(ratios)
    codes, sizes = _user_codes(log)
    num_users = len(sizes)
    position = np.empty(num_users, dtype=np.int64)
    position[np.random.default_rng(seed).permutation(num_users)] = np.arange(num_users)
    b1 = round(num_users * r[0])
    b2 = round(num_users * (r[0] + r[1]))
    user_part = (position >= b1).astype(np.int8) + (position >= b2)  # 0/1/2
    return _from_parts(log, user_part[codes], {"by": "user", "ratios": list(r), "seed": seed})


def leave_last_split(log: InteractionLog, *, seed: int | None = None) -> Split:
    """Leave-last-out: each user's last row is test, the second-to-last valid.

    Rows are ordered per user by timestamp, ties (and logs without a timestamp
    column) by row order, so "last" is the latest row, and among rows sharing the
    latest timestamp the one that comes last in the log.  The rule applies to all
    rows, negatives (all-zero labels) included: on a log with negative impressions
    the held-out row may be a negative.  The usual recipe is a positives-only log,
    split, then :func:`~mogenet.datasets.negatives.sample_negatives` per part.

    **Small users.** Users with fewer than 3 rows keep all their rows in train.

    Args:
        log: the log.
        seed: unused (the split is deterministic); accepted so that every strategy
            of :func:`split_log` takes the same keywords.
    """
    del seed
    codes, sizes = _user_codes(log)
    if log.has_timestamp:
        ts = log.frame[TIMESTAMP].to_numpy(dtype=np.int64)
        order = np.lexsort((ts, codes))  # lexsort is stable: ties keep row order
    else:
        order = np.argsort(codes, kind="stable")
    n_u = sizes[codes]
    from_end = n_u - 1 - _rank_in_user(codes, sizes, order)  # 0 = the user's last row
    part = np.where(from_end == 0, _TEST, np.where(from_end == 1, _VALID, _TRAIN))
    part = np.where(n_u >= 3, part, _TRAIN).astype(np.int8)
    return _from_parts(log, part, {"by": "leave-last"})


#: Strategy name → split function (the CLI's ``--by`` choices).
SPLITS: dict[str, Callable[..., Split]] = {
    "time": temporal_split,
    "random": random_split,
    "user": user_split,
    "leave-last": leave_last_split,
}


def split_log(log: InteractionLog, by: str, **kwargs: Any) -> Split:
    """Split ``log`` with the strategy named ``by`` (a key of :data:`SPLITS`).

    ``kwargs`` go to the strategy (``ratios``, ``seed``, ``cutoffs``…); every strategy
    accepts ``seed``.

    Raises:
        InputError: unknown strategy name (the message lists the valid ones).
    """
    try:
        fn = SPLITS[by]
    except KeyError:
        raise InputError(f"unknown split '{by}'; choose one of: {', '.join(SPLITS)}") from None
    return fn(log, **kwargs)


def drop_train_pairs(split: Split) -> Split:
    """Remove valid/test rows whose (user, item) pair is a positive pair of train.

    Graphs are built from the training log, so such a pair is a message-passing
    edge: keeping its valid/test row would let a graph model read the answer (the
    leakage the graph bundle's check rejects).  Logs where users act on the same
    item repeatedly (re-purchases, repeated impressions) lose those repeats from
    valid/test; the numbers dropped are recorded in ``info["dropped_train_pairs"]``.
    """
    train = split.train.frame
    pos = train.loc[split.train.positive_mask(), [USER, ITEM]]
    known = pd.MultiIndex.from_frame(pos)
    parts, dropped = {}, {}
    for name in ("valid", "test"):
        log = split[name]
        keys = pd.MultiIndex.from_frame(log.frame[[USER, ITEM]])
        hit = keys.isin(known)
        dropped[name] = int(hit.sum())
        parts[name] = log.take(np.flatnonzero(~hit))
    info = {**split.info, "dropped_train_pairs": dropped}
    return Split(split.train, parts["valid"], parts["test"], info)
