"""The :class:`PairBatch`: one mini-batch of (user, item) examples."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import Tensor


@dataclass
class PairBatch:
    """A mini-batch of (user, item) examples with their labels.

    Index tensors hold contiguous node indices (see :class:`~mogenet.datasets.IdMap`);
    ``-1`` marks a user or item unseen in training (cold start), which encoders map
    to a shared out-of-vocabulary row.

    Args:
        user: ``[B]`` user indices.
        item: ``[B]`` item indices.
        labels: task name → ``[B]`` float 0/1 labels.
        index: ``[B]`` row positions of the examples in their source log.
        graphs: channel name → sampled subgraph (PyG ``Data`` / ``HeteroData``) for
            models with a graph encoder; ``None`` when no sampler is used.
        sequence: ``[B, L]`` item indices of each user's last ``L`` training
            interactions before the example, oldest first and left-padded with ``-1``
            (:mod:`mogenet.sampling.sequence`); only for heads that read sequences.
        sequence_labels: ``[B, L, K]`` float 0/1 behaviour labels of those
            interactions (columns in ``tasks`` order; 0 at padding).
        scenario: ``[B]`` long scenario codes; only for heads that read scenarios.
    """

    user: Tensor
    item: Tensor
    labels: dict[str, Tensor]
    index: Tensor
    graphs: dict[str, Any] | None = None
    sequence: Tensor | None = None
    sequence_labels: Tensor | None = None
    scenario: Tensor | None = None

    def __len__(self) -> int:
        return int(self.user.numel())

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def _apply(self, fn) -> PairBatch:
        """``fn`` on every tensor and every subgraph (PyG data objects share the API)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Tensor):
                out[f.name] = fn(v)
            elif isinstance(v, dict):
                out[f.name] = {k: fn(t) for k, t in v.items()}
            else:
                out[f.name] = v
        return replace(self, **out)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PairBatch:
        """Move every tensor and subgraph to ``device``."""
        return self._apply(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> PairBatch:
        """Page-lock every tensor and subgraph (for asynchronous host→GPU copies)."""
        return self._apply(lambda t: t.pin_memory())
