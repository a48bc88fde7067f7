"""Encoded examples and a seeded mini-batch loader over them.

:class:`Examples` turns an :class:`~mogenet.datasets.InteractionLog` into index
and label tensors once (ids through the graph bundle's id maps, unseen ids as
``-1`` = cold start); :class:`PairLoader` slices it into shuffled
:class:`~mogenet.sampling.PairBatch` mini-batches.  Batches are produced by
tensor indexing alone (no per-example Python), so the same code feeds a CPU or a
GPU model; the permutation comes from a ``torch.Generator`` seeded with
``seed + epoch``, so a seed fixes the batches of every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mogenet.datasets.idmap import IdMap
from mogenet.datasets.log import ITEM, USER, InteractionLog
from mogenet.sampling.batch import PairBatch


@dataclass
class Examples:
    """Examples of one log as tensors.

    Args:
        user: ``[N]`` user indices (``-1`` = unseen in training).
        item: ``[N]`` item indices (``-1`` = unseen in training).
        labels: ``[N, K]`` float labels, columns in ``tasks`` order.
        tasks: task names.
        group: ``[N]`` int64 codes of the raw user ids (for GAUC; cold-start users
            keep distinct groups).
    """

    user: Tensor
    item: Tensor
    labels: Tensor
    tasks: tuple[str, ...]
    group: np.ndarray

    @classmethod
    def from_log(cls, log: InteractionLog, user_map: IdMap, item_map: IdMap) -> Examples:
        frame = log.frame
        return cls(
            user=torch.from_numpy(user_map.encode(frame[USER])),
            item=torch.from_numpy(item_map.encode(frame[ITEM])),
            labels=torch.from_numpy(log.labels().astype(np.float32)),
            tasks=log.tasks,
            group=pd.factorize(frame[USER])[0].astype(np.int64),
        )

    def __len__(self) -> int:
        return int(self.user.numel())

    def __repr__(self) -> str:
        cold_u = int((self.user < 0).sum())
        cold_i = int((self.item < 0).sum())
        return (
            f"Examples(n={len(self)}, tasks={list(self.tasks)}, "
            f"cold_users={cold_u}, cold_items={cold_i})"
        )

    def batch(self, index: Tensor) -> PairBatch:
        """The examples at ``index`` as a :class:`PairBatch`."""
        labels = self.labels[index]  # [B, K]
        return PairBatch(
            user=self.user[index],
            item=self.item[index],
            labels={t: labels[:, k] for k, t in enumerate(self.tasks)},
            index=index,
        )


class PairLoader:
    """Mini-batches of :class:`Examples`.

    Args:
        examples: the encoded examples.
        batch_size: examples per batch.
        shuffle: draw a fresh permutation each epoch.
        seed: the permutation of epoch ``e`` is drawn with seed ``seed + e``.
        drop_last: drop the last incomplete batch.
    """

    def __init__(
        self,
        examples: Examples,
        *,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.examples = examples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` (also advanced by each full iteration)."""
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.examples)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __repr__(self) -> str:
        return (
            f"PairLoader(n={len(self.examples)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle})"
        )

    def __iter__(self) -> Iterator[PairBatch]:
        n = len(self.examples)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        self.epoch += 1
        for b in range(len(self)):
            yield self.examples.batch(order[b * self.batch_size : (b + 1) * self.batch_size])
