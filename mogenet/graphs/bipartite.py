"""The user–item bipartite graph :math:`\\mathcal{G}` (MoGENet paper, §2).

.. math::
    e_{u,i} = e_{i,u} = 1 \\iff \\sum_{k=1}^{K} y_{u,i}^k \\ge 1

An edge joins a user and an item when at least one row of the (training) log for
that pair has at least one positive label.  Rows whose labels are all zero
(impressions without action) add no edge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mogenet.datasets.idmap import IdMap
from mogenet.datasets.log import ITEM, TIMESTAMP, USER, InteractionLog
from mogenet.errors import InputError

#: ``last_timestamp`` of an edge none of whose positive rows has a timestamp.
NO_TIMESTAMP = np.iinfo(np.int64).min


@dataclass
class BipartiteEdges:
    """Deduplicated user–item edges with per-edge attributes.

    Edges are sorted by ``(user, item)`` (i.e. by the key ``user * num_items + item``),
    so the output is the same whatever the row order of the log.

    Args:
        edge_index: ``[2, E]`` int64; row 0 user index, row 1 item index.
        edge_attr: ``[E, K]`` float32; number of positive rows per task for the pair,
            columns in ``tasks`` order.
        last_timestamp: ``[E]`` int64 latest timestamp among the pair's positive rows,
            or ``None`` when the log has no timestamps.
        tasks: the task names (columns of ``edge_attr``).
        num_users: number of user nodes (size of the user id map).
        num_items: number of item nodes (size of the item id map).
    """

    edge_index: Tensor
    edge_attr: Tensor
    last_timestamp: Tensor | None
    tasks: tuple[str, ...]
    num_users: int
    num_items: int

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.size(1))

    def behavior_edge_index(self, task: str) -> Tensor:
        """``[2, E_t]`` the edges with at least one positive ``task`` row (a subset of
        :attr:`edge_index`, same order)."""
        if task not in self.tasks:
            raise KeyError(f"unknown task {task!r} (tasks: {', '.join(self.tasks)})")
        k = self.tasks.index(task)
        return self.edge_index[:, self.edge_attr[:, k] > 0]

    def edge_weight(self, weights: Mapping[str, float]) -> Tensor:
        """``[E]`` float32 behaviour weight of every edge (see :func:`behavior_edge_weight`)."""
        return behavior_edge_weight(self.edge_attr, self.tasks, weights)

    def __repr__(self) -> str:
        return (
            f"BipartiteEdges(users={self.num_users}, items={self.num_items}, "
            f"edges={self.num_edges}, tasks={list(self.tasks)})"
        )


def pair_keys(user: np.ndarray, item: np.ndarray, num_items: int) -> np.ndarray:
    """``int64`` key ``user * num_items + item`` of each pair (monotone in (user, item))."""
    return np.asarray(user, dtype=np.int64) * np.int64(max(num_items, 1)) + np.asarray(
        item, dtype=np.int64
    )


def build_bipartite(log: InteractionLog, user_map: IdMap, item_map: IdMap) -> BipartiteEdges:
    """Build the bipartite graph of ``log`` (the training log) over the given id maps.

    Args:
        log: the training interactions.
        user_map: user ids; node ``j`` is ``user_map.decode(j)``.
        item_map: item ids.

    Raises:
        ValueError: a positive row's user or item is not in the id maps (the maps
            must cover the log they index; build them from it).

    Shapes:
        - **output.edge_index**: ``[2, E]``
        - **output.edge_attr**: ``[E, K]``
    """
    frame = log.frame
    positive = log.positive_mask()
    users = user_map.encode(frame[USER].to_numpy()[positive])
    items = item_map.encode(frame[ITEM].to_numpy()[positive])
    unknown = (users < 0) | (items < 0)
    if unknown.any():
        raise ValueError(
            f"{int(unknown.sum())} positive rows have a user or item missing from the id maps"
        )
    num_users, num_items = len(user_map), len(item_map)
    labels = log.labels()[positive].astype(np.float32)  # [P, K]

    keys, inverse = np.unique(pair_keys(users, items, num_items), return_inverse=True)
    num_edges = len(keys)
    edge_index = np.stack([keys // max(num_items, 1), keys % max(num_items, 1)])  # [2, E]

    # per-task positive counts: one bincount per task (K is small), no loop over edges
    counts = np.zeros((num_edges, len(log.tasks)), dtype=np.float32)  # [E, K]
    for k in range(len(log.tasks)):
        counts[:, k] = np.bincount(inverse, weights=labels[:, k], minlength=num_edges)

    last = None
    if log.has_timestamp:
        ts = frame[TIMESTAMP].to_numpy(dtype=np.int64, na_value=NO_TIMESTAMP)[positive]
        last_np = np.full(num_edges, NO_TIMESTAMP, dtype=np.int64)
        np.maximum.at(last_np, inverse, ts)
        last = torch.from_numpy(last_np)

    return BipartiteEdges(
        edge_index=torch.from_numpy(edge_index.astype(np.int64)),
        edge_attr=torch.from_numpy(counts),
        last_timestamp=last,
        tasks=tuple(log.tasks),
        num_users=num_users,
        num_items=num_items,
    )


def resolve_behavior_weights(
    weights: Mapping[str, float], tasks: tuple[str, ...] | list[str]
) -> dict[str, float]:
    """Every task's behaviour weight, in ``tasks`` order: the given ones, 1.0 for the rest.

    Raises:
        InputError: a name is not one of ``tasks``, or a weight is not a finite
            number > 0 (a zero weight would give edges of weight 0; to ignore a
            behaviour, leave it out of ``--tasks`` instead).
    """
    unknown = [name for name in weights if name not in tasks]
    if unknown:
        raise InputError(
            f"behavior weights name unknown task(s) {', '.join(map(repr, unknown))} "
            f"(tasks: {', '.join(tasks)})"
        )
    out = {}
    for task in tasks:
        w = weights.get(task, 1.0)
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w <= 0:
            raise InputError(f"behavior weight of '{task}' must be a finite number > 0, got {w!r}")
        out[task] = float(w)
    return out


def behavior_edge_weight(
    edge_attr: Tensor, tasks: tuple[str, ...] | list[str], weights: Mapping[str, float]
) -> Tensor:
    """Behaviour weight of each bipartite edge (behaviour-weighted similarity).

    .. math::
        w_{u,i} = \\sum_{k=1}^{K} w_k \\, [\\mathrm{count}_k(u, i) > 0]

    ``weights`` maps task names to :math:`w_k > 0`; tasks it leaves out weigh 1.
    Every edge has at least one positive behaviour, so every weight is > 0.

    Args:
        edge_attr: ``[E, K]`` per-task positive counts (:attr:`BipartiteEdges.edge_attr`).
        tasks: the ``K`` task names, column order of ``edge_attr``.
        weights: task → weight.

    Raises:
        InputError: see :func:`resolve_behavior_weights`.

    Shapes:
        - **output**: ``[E]`` float32
    """
    resolved = resolve_behavior_weights(weights, tasks)
    w = torch.tensor([resolved[t] for t in tasks], dtype=torch.float64)  # [K]
    return ((edge_attr > 0).double() @ w).float()  # [E]
