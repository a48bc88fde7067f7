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

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mogenet.datasets.idmap import IdMap
from mogenet.datasets.log import ITEM, USER, InteractionLog
from mogenet.distributed import DistEnv, shard_batches
from mogenet.sampling.batch import PairBatch
from mogenet.sampling.folds import pair_folds


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
        sequence: ``[N, L]`` item indices of each example's behaviour sequence
            (left-padded with ``-1``), or ``None``; see
            :class:`~mogenet.sampling.inputs.HeadInputs`.
        sequence_labels: ``[N, L, K]`` float labels of those interactions, or ``None``.
        scenario: ``[N]`` long scenario codes, or ``None``.
    """

    user: Tensor
    item: Tensor
    labels: Tensor
    tasks: tuple[str, ...]
    group: np.ndarray
    sequence: Tensor | None = None
    sequence_labels: Tensor | None = None
    scenario: Tensor | None = None

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
        extra = [n for n in _OPTIONAL if getattr(self, n) is not None]
        return (
            f"Examples(n={len(self)}, tasks={list(self.tasks)}, "
            f"cold_users={cold_u}, cold_items={cold_i}"
            + (f", inputs={extra}" if extra else "")
            + ")"
        )

    def to(self, device: torch.device | str) -> Examples:
        """The examples with their tensors on ``device`` (``group`` stays on the host)."""
        return replace(self, **{n: getattr(self, n).to(device) for n in self._tensors()})

    def subset(self, index: Tensor) -> Examples:
        """The examples at ``index`` (a CPU index; every tensor field and ``group``)."""
        fields = {n: getattr(self, n)[index.to(getattr(self, n).device)] for n in self._tensors()}
        return replace(self, **fields, group=self.group[index.cpu().numpy()])

    def _tensors(self) -> list[str]:
        """Names of the tensor fields that are set (the optional ones may be ``None``)."""
        names = ("user", "item", "labels", *_OPTIONAL)
        return [n for n in names if getattr(self, n) is not None]

    def batch(self, index: Tensor) -> PairBatch:
        """The examples at ``index`` as a :class:`PairBatch` (optional inputs sliced too)."""
        labels = self.labels[index]  # [B, K]
        extra = {n: getattr(self, n)[index] for n in _OPTIONAL if getattr(self, n) is not None}
        return PairBatch(
            user=self.user[index],
            item=self.item[index],
            labels={t: labels[:, k] for k, t in enumerate(self.tasks)},
            index=index,
            **extra,
        )


#: Optional per-example inputs of :class:`Examples`, sliced into :class:`PairBatch`.
_OPTIONAL = ("sequence", "sequence_labels", "scenario")


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
        self.shard = DistEnv()

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` (also advanced by each full iteration)."""
        self.epoch = epoch

    def set_shard(self, env: DistEnv) -> None:
        """Yield only rank ``env.rank``'s slice of every global batch (data-parallel
        training; see :func:`mogenet.distributed.shard_batches`)."""
        self.shard = env

    def __len__(self) -> int:
        n = len(self.examples)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __repr__(self) -> str:
        return (
            f"PairLoader(n={len(self.examples)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle})"
        )

    def _indices(self) -> list[Tensor]:
        """This epoch's batches as index tensors (on the examples' device); advances
        the epoch.  The permutation is drawn on the CPU, so it is the same everywhere."""
        n = len(self.examples)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        self.epoch += 1
        order = order.to(self.examples.user.device)
        batches = [order[b * self.batch_size : (b + 1) * self.batch_size] for b in range(len(self))]
        return shard_batches(batches, self.shard)

    def __iter__(self) -> Iterator[PairBatch]:
        for index in self._indices():
            yield self.examples.batch(index)


class NeighborPairLoader(PairLoader):
    """Mini-batches of examples with their multi-channel subgraphs.

    Every batch is a :class:`PairBatch` whose ``graphs`` hold the subgraphs the
    :class:`~mogenet.sampling.sampler.MultiChannelSampler` draws for its pairs.
    Batch ``b`` of epoch ``e`` is sampled with its own generator, seeded from
    ``(seed, e, b)``, so the batches are the same whatever the number of workers
    and the order in which they finish.

    With ``num_workers > 0`` batches are sampled ahead by that many threads (the
    sampling ops release the GIL) and yielded in order, at most ``prefetch`` per
    worker in flight.  On CPU, run PyTorch single-threaded
    (``torch.set_num_threads(1)``) and let the workers own the cores; that was
    2x faster than one worker with two intra-op threads on the 2-core machine.
    With a CUDA sampler the examples live on the GPU and batches never leave it.

    **Fold batches.**  A shuffled (training) loader over a sampler with
    ``similarity_folds = K`` ≥ 2 makes every batch fold-homogeneous: the examples of
    each fold (:func:`~mogenet.sampling.folds.pair_folds`) are permuted, cut into
    batches (``drop_last`` per fold), and the batches of all folds are shuffled; the
    permutations come from one generator seeded with ``seed + epoch``, so
    :meth:`set_epoch` and :meth:`set_shard` work as without folds.  A fold-``f``
    batch's similarity channels come from the graphs built without fold ``f``
    (:meth:`~mogenet.sampling.sampler.MultiChannelSampler.sample` with ``fold=f``).
    An epoch has up to ``K - 1`` more batches than without folds (each fold's last
    one may be incomplete).  Unshuffled loaders (evaluation, prediction) use the
    full graphs.

    Args:
        examples: the encoded examples.
        sampler: the multi-channel sampler (its device is where batches are built).
        batch_size: examples per batch.
        shuffle: a fresh permutation each epoch (seeded with ``seed + epoch``).
        seed: seeds the permutation and every sampling draw.
        drop_last: drop the last incomplete batch.
        num_workers: sampling threads (0 = sample in the calling thread).
        prefetch: batches in flight per worker.
        pin_memory: page-lock CPU batches (for a CUDA model fed by a CPU sampler).
    """

    def __init__(
        self,
        examples: Examples,
        sampler,
        *,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        num_workers: int = 0,
        prefetch: int = 2,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(
            examples.to(sampler.device),
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
        )
        self.sampler = sampler
        self.num_workers = num_workers
        self.prefetch = max(1, prefetch)
        self.pin_memory = pin_memory
        #: ``K`` of the fold batches (0 = plain batches, full similarity graphs).
        self.folds = getattr(sampler, "similarity_folds", 0) if shuffle else 0
        self._members: list[Tensor] = []  # each fold's examples (examples' device)
        if self.folds:
            fold = pair_folds(self.examples.user, self.examples.item, self.folds)  # [N] CPU
            device = self.examples.user.device
            self._members = [
                torch.nonzero(fold == f).squeeze(1).to(device) for f in range(self.folds)
            ]

    def __len__(self) -> int:
        if not self.folds:
            return super().__len__()
        b = self.batch_size
        sizes = [m.numel() for m in self._members]
        return sum(n // b if self.drop_last else -(-n // b) for n in sizes)

    def __repr__(self) -> str:
        return (
            f"NeighborPairLoader(n={len(self.examples)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, num_workers={self.num_workers}, "
            + (f"folds={self.folds}, " if self.folds else "")
            + f"sampler={self.sampler!r})"
        )

    def _jobs(self) -> list[tuple[Tensor, int | None]]:
        """This epoch's ``(index, fold)`` batches of this rank (``fold`` is ``None``
        without fold batches); advances the epoch."""
        if not self.folds:
            return [(index, None) for index in super()._indices()]
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        size, batches = self.batch_size, []
        for f, members in enumerate(self._members):
            perm = members[torch.randperm(members.numel(), generator=gen).to(members.device)]
            n = perm.numel() // size if self.drop_last else -(-perm.numel() // size)
            batches += [(perm[b * size : (b + 1) * size], f) for b in range(n)]
        order = torch.randperm(len(batches), generator=gen).tolist()
        return [
            (part, fold)
            for index, fold in (batches[o] for o in order)
            for part in shard_batches([index], self.shard)  # this rank's slice (or none)
        ]

    def _indices(self) -> list[Tensor]:
        """This epoch's batches of this rank (fold batches too); advances the epoch."""
        return [index for index, _ in self._jobs()]

    def _make(self, epoch: int, b: int, index: Tensor, fold: int | None = None) -> PairBatch:
        device = self.sampler.device
        generator = torch.Generator(device=device)
        generator.manual_seed(hash((self.seed, epoch, b)) & 0x7FFF_FFFF_FFFF_FFFF)
        batch = self.examples.batch(index)
        kwargs = {} if fold is None else {"fold": fold}
        batch.graphs = self.sampler.sample(batch.user, batch.item, generator, **kwargs)
        return batch.pin_memory() if self.pin_memory else batch

    def __iter__(self) -> Iterator[PairBatch]:
        epoch = self.epoch
        if self.folds:
            self.sampler.fold_graphs()  # built once, here rather than in a worker
        jobs = [(epoch, b, index, fold) for b, (index, fold) in enumerate(self._jobs())]
        if self.num_workers == 0:
            for job in jobs:
                yield self._make(*job)
            return
        window = self.num_workers * self.prefetch
        with ThreadPoolExecutor(max_workers=self.num_workers) as pool:
            pending = deque(pool.submit(self._make, *job) for job in jobs[:window])
            for job in jobs[window:]:
                yield pending.popleft().result()
                pending.append(pool.submit(self._make, *job))
            while pending:
                yield pending.popleft().result()


class BatchMaker:
    """How examples become batches: plain slices, or slices with sampled subgraphs.

    The trainer and the predictor ask a ``BatchMaker`` for loaders and never look
    at the model; the pipeline gives a sampler only to models that read graphs.

    Args:
        sampler: a :class:`~mogenet.sampling.sampler.MultiChannelSampler`, or
            ``None`` for models without a graph encoder.
        num_workers: sampling threads of :class:`NeighborPairLoader`.
        pin_memory: page-lock sampled CPU batches (CUDA model, CPU sampler).
    """

    def __init__(self, sampler=None, *, num_workers: int = 0, pin_memory: bool = False) -> None:
        self.sampler = sampler
        self.num_workers = num_workers
        self.pin_memory = pin_memory

    def __repr__(self) -> str:
        return f"BatchMaker(sampler={self.sampler!r}, num_workers={self.num_workers})"

    def loader(
        self, examples: Examples, *, batch_size: int, shuffle: bool = False, seed: int = 0
    ) -> PairLoader:
        if self.sampler is None:
            return PairLoader(examples, batch_size=batch_size, shuffle=shuffle, seed=seed)
        return NeighborPairLoader(
            examples,
            self.sampler,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )
