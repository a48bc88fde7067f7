r"""Per-user behaviour sequences, built from the **training** log only.

A sequence head (MoSE) sees, for an example :math:`(u, i, t)`, the user's last
:math:`L` training interactions with a timestamp **strictly before** :math:`t`:

.. math::
    \mathcal{S}_L(u, t) = \text{the last } L \text{ rows of }
    \big[(i', \mathbf{y}') : (u, i', t', \mathbf{y}') \in \mathcal{D}_{\text{train}},\ t' < t\big]
    \text{ sorted by } (t', \text{row})

Every training row is an interaction, impressions without action included (the
activity stream of MoSE §4.1 holds impression events too), each with its
:math:`K` behaviour labels :math:`\mathbf{y}'`.  Rows with the same timestamp keep
their order in the log (a deterministic tie-break); they are all excluded from
each other's sequences (``strictly before``), so a training example never sees its
own labels nor those of an interaction logged at the same instant, and a
validation or test example sees only training history.  Rows added by negative
sampling carry their positive's timestamp and appear as impressions.  Examples
without a time (a pairs file without ``timestamp``) are scored *after* the whole
training log (the last :math:`L` training interactions).

The lookup is vectorised: rows are sorted once by ``(user, time, row)``, keyed
``user · (R + 1) + rank(time)`` (``R`` distinct times), and every query is one
``searchsorted`` — no Python loop over users or examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from mogenet.datasets.idmap import IdMap
from mogenet.datasets.log import ITEM, TIMESTAMP, USER, InteractionLog
from mogenet.errors import InputError

#: Item index of a padding position of a sequence.
PAD = -1


class History:
    """The training interactions of every user in time order: where behaviour
    sequences come from.

    Args:
        user: ``[M]`` user indices.
        item: ``[M]`` item indices.
        time: ``[M]`` int64 timestamps.
        labels: ``[M, K]`` 0/1 behaviour labels, columns in ``tasks`` order.
        tasks: task names of the label columns.

    Rows are sorted by ``(user, time, given order)`` on construction.
    """

    def __init__(
        self,
        *,
        user: np.ndarray,
        item: np.ndarray,
        time: np.ndarray,
        labels: np.ndarray,
        tasks: Sequence[str],
    ) -> None:
        user = np.asarray(user, dtype=np.int64)
        item = np.asarray(item, dtype=np.int64)
        time = np.asarray(time, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int8).reshape(len(user), len(tasks))
        if not (len(user) == len(item) == len(time)):
            raise ValueError("user, item and time must have the same length")
        if (user < 0).any() or (item < 0).any():
            raise ValueError("a history holds training rows only (no unknown user or item)")
        order = np.lexsort((np.arange(len(user)), time, user))  # user, then time, then row
        self.user, self.item, self.time = user[order], item[order], time[order]
        self.labels = labels[order]
        self.tasks = tuple(tasks)
        self._times = np.unique(self.time)  # [R] sorted distinct times
        self._key = self.user * (len(self._times) + 1) + np.searchsorted(self._times, self.time)

    @classmethod
    def from_log(cls, log: InteractionLog, user_map: IdMap, item_map: IdMap) -> History:
        """The history of a training log (ids through the training id maps).

        Raises:
            InputError: the log has no ``timestamp`` column (a sequence needs an order).
        """
        if not log.has_timestamp:
            raise InputError(
                "behaviour sequences need a 'timestamp' column in the training log",
                file=log.source,
                column=TIMESTAMP,
            )
        frame = log.frame
        user, item = user_map.encode(frame[USER]), item_map.encode(frame[ITEM])
        keep = (user >= 0) & (item >= 0)
        return cls(
            user=user[keep],
            item=item[keep],
            time=frame[TIMESTAMP].to_numpy(dtype=np.int64)[keep],
            labels=log.labels()[keep],
            tasks=log.tasks,
        )

    def __len__(self) -> int:
        return int(self.user.shape[0])

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    def __repr__(self) -> str:
        users = len(np.unique(self.user))
        return f"History(rows={len(self)}, users={users}, tasks={list(self.tasks)})"

    def sequences(
        self, user: Tensor | np.ndarray, time: np.ndarray | None, length: int
    ) -> tuple[Tensor, Tensor]:
        """The last ``length`` interactions of each ``user[n]`` strictly before ``time[n]``.

        Args:
            user: ``[N]`` user indices (``-1`` = unseen user: an empty sequence).
            time: ``[N]`` int64 timestamps, or ``None`` for "after the whole history".
            length: ``L``, the number of positions.

        Returns:
            ``([N, L]`` long item indices, oldest first, left-padded with
            :data:`PAD`, ``[N, L, K]`` float labels, 0 at padding``)``.
        """
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        user = user.cpu().numpy() if isinstance(user, Tensor) else np.asarray(user)
        user = user.astype(np.int64)
        stride = len(self._times) + 1
        if time is None:
            rank = np.full(user.shape, len(self._times), dtype=np.int64)
        else:
            rank = np.searchsorted(self._times, np.asarray(time, dtype=np.int64), side="left")
        known = user >= 0
        end = np.searchsorted(self._key, user * stride + rank, side="left")  # [N] exclusive
        start = np.searchsorted(self._key, user * stride, side="left")  # [N] user's first row
        end = np.where(known, end, 0)
        start = np.where(known, start, 0)
        index = end[:, None] - length + np.arange(length)  # [N, L]
        valid = index >= start[:, None]
        index = np.where(valid, index, 0)
        if len(self) == 0:  # nothing to gather from: every position is padding
            index[:] = 0
            items = np.full(index.shape, PAD, dtype=np.int64)
            labels = np.zeros((*index.shape, self.num_tasks), dtype=np.float32)
        else:
            items = np.where(valid, self.item[index], PAD)
            labels = np.where(valid[..., None], self.labels[index], 0).astype(np.float32)
        return torch.from_numpy(items), torch.from_numpy(labels)

    def state_dict(self) -> dict:
        """Tensors and task names (loadable with ``torch.load(weights_only=True)``)."""
        return {
            "user": torch.from_numpy(self.user),
            "item": torch.from_numpy(self.item),
            "time": torch.from_numpy(self.time),
            "labels": torch.from_numpy(self.labels),
            "tasks": list(self.tasks),
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> History:
        return cls(
            user=state["user"].numpy(),
            item=state["item"].numpy(),
            time=state["time"].numpy(),
            labels=state["labels"].numpy(),
            tasks=state["tasks"],
        )


__all__ = ["PAD", "History"]
