"""Negative sampling: k random non-positive items per positive row.

Sampling is exact rather than by rejection: for a user ``u`` with ``c_u`` positive
items, a rank ``r`` drawn uniformly from ``[0, num_items - c_u)`` is mapped to the
``r``-th item that is *not* a positive of ``u``.  With the user's positive items
sorted, ``p_0 < p_1 < …``, that item is ``r + #{j : p_j - j <= r}``; the counts for
all draws come from one ``np.searchsorted`` over sorted int64 keys, so there is no
redraw loop, no iteration bound to tune, and users who are positive on almost every
item cost the same as everyone else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, ORACLE_PREFIX, USER, InteractionLog
from mogenet.errors import InputError

# Positive rows processed per block while drawing (bounds the [block, k] temporaries).
_BLOCK = 1 << 20


def _draw_distinct(rng: np.random.Generator, free: np.ndarray, k: int) -> np.ndarray:
    """``[len(free), k]`` ranks; row ``i`` is a uniform k-subset of ``[0, free[i])``.

    Robert Floyd's algorithm, vectorised over rows (``k`` steps, each a bounded
    comparison with the ranks already chosen).  Needs ``free >= k``.
    """
    out = np.empty((len(free), k), dtype=np.int64)
    for i in range(k):
        top = free - k + i  # [R]
        t = rng.integers(0, top + 1)  # [R]
        seen = (out[:, :i] == t[:, None]).any(axis=1)  # [R]
        out[:, i] = np.where(seen, top, t)
    return out


def sample_negatives(
    log: InteractionLog,
    *,
    k: int,
    seed: int,
    exclude: InteractionLog | None = None,
) -> InteractionLog:
    """Add ``k`` sampled negatives per positive row of ``log``.

    For each positive row (any task label 1) ``k`` items are drawn uniformly from the
    user's *free* items: the item universe (the distinct items of ``exclude`` if
    given, else of ``log``) minus every item the user is positive on in ``log`` or in
    ``exclude``.  Pass the whole log (or train ∪ valid ∪ test) as ``exclude`` when
    sampling for a valid/test part so that its negatives never hit a train positive.

    Guarantees:

    - a sampled item is never a positive of its user, in ``log`` or in ``exclude``;
    - exactly ``k`` negatives per positive row;
    - the ``k`` negatives of one positive row are distinct when the user has at
      least ``k`` free items (a uniform random k-subset); otherwise they are drawn
      with replacement from the few free items, so repeats are unavoidable;
    - same inputs and ``seed`` give the same output.

    Not guaranteed: negatives drawn for *different* positive rows of a user may
    repeat, and a negative may coincide with an existing negative (all-zero) row.

    Args:
        log: the log to augment.
        k: negatives per positive row (``0`` returns a copy of ``log``).
        seed: seeds the draws.
        exclude: log whose positives are excluded too and whose items form the
            universe; defaults to ``log``.

    Returns:
        A new log: the original rows in their order, then the negatives, ``k``
        consecutive rows per positive row in the positive rows' order.  A negative
        copies ``user_id``, ``timestamp``, ``scenario`` (and any other non-label
        column) from its positive row, has every task label 0 and ``oracle_*``
        columns NaN.

    Raises:
        InputError: ``k < 0``, or a user with a positive row is positive on every
            item of the universe (no negative exists).
    """
    if k < 0:
        raise InputError(f"the number of negatives per positive must be >= 0, got {k}")
    frame = log.frame
    pos_rows = np.flatnonzero(log.positive_mask())
    if k == 0 or len(pos_rows) == 0:
        return InteractionLog(frame.copy(), log.tasks, log.source)
    ref = log if exclude is None else exclude

    # Item universe, sorted (deterministic whatever the row order).
    ref_items, universe = pd.factorize(ref.frame[ITEM], sort=True)
    num_items = len(universe)
    log_items = ref_items if exclude is None else universe.get_indexer(frame[ITEM])

    # One user coding over the positive rows of log and exclude.
    ref_pos = ref.positive_mask() if exclude is not None else None
    users = [frame[USER].to_numpy()[pos_rows]]
    items = [log_items[pos_rows]]
    if ref_pos is not None:
        users.append(ref.frame[USER].to_numpy()[ref_pos])
        items.append(ref_items[ref_pos])
    user_codes, user_ids = pd.factorize(np.concatenate(users))
    item_codes = np.concatenate(items).astype(np.int64)
    in_universe = item_codes >= 0  # log items missing from exclude can never be drawn
    keys = np.unique(user_codes[in_universe] * num_items + item_codes[in_universe])
    pu, pi = np.divmod(keys, num_items)  # positive (user, item), sorted by user then item

    # Per user: where its positives start in the sorted arrays, and its free-item count.
    num_users = len(user_ids)
    count = np.bincount(pu, minlength=num_users)
    start = np.cumsum(count) - count
    free = num_items - count
    query_users = user_codes[: len(pos_rows)]  # [P] user of each positive row of log
    if (free[query_users] == 0).any():
        bad = user_ids[query_users[free[query_users] == 0][0]]
        raise InputError(
            f"user '{bad}' is positive on all {num_items} items; no negative can be sampled",
            file=log.source,
            column=USER,
        )

    # r-th free item of u = r + #{j : p_j - j <= r}; keys u*(N+1) + (p_j - j) are sorted.
    shifted = pu * (num_items + 1) + (pi - (np.arange(len(pu)) - start[pu]))

    rng = np.random.default_rng(seed)
    ranks = np.empty((len(pos_rows), k), dtype=np.int64)  # [P, k]
    for lo in range(0, len(pos_rows), _BLOCK):
        f = free[query_users[lo : lo + _BLOCK]]  # [R]
        block = ranks[lo : lo + _BLOCK]
        few = f < k
        block[~few] = _draw_distinct(rng, f[~few], k)
        block[few] = rng.integers(0, f[few][:, None], size=(int(few.sum()), k))
    u = np.repeat(query_users, k)  # [P * k]
    r = ranks.ravel()
    j = np.searchsorted(shifted, u * (num_items + 1) + r, side="right") - start[u]
    neg_items = r + j

    neg = frame.iloc[np.repeat(pos_rows, k)].reset_index(drop=True)
    neg[ITEM] = pd.Series(universe.take(neg_items), dtype=frame[ITEM].dtype)
    for task in log.tasks:
        neg[task] = np.zeros(len(neg), dtype=frame[task].dtype)
    for col in frame.columns:
        if col.startswith(ORACLE_PREFIX):
            neg[col] = np.full(len(neg), np.nan, dtype=np.float64)
    out = pd.concat([frame, neg], ignore_index=True)
    return InteractionLog(out, log.tasks, log.source)
