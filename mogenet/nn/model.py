"""The multi-task model: named parts composed, not subclassed."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mogenet.nn.encoder import NodeEncoder
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.output import HeadOutput
from mogenet.sampling.batch import PairBatch


class MultiTaskModel(nn.Module):
    r"""A multi-task recommender composed of named parts (as TorchRec composes
    ``EmbeddingBagCollection`` and an over-arch): a user encoder, an item encoder
    and a multi-task head.

    .. math::
        \mathbf{x} = [\,\mathrm{enc}_U(u) \,\Vert\, \mathrm{enc}_I(i)\,], \qquad
        \{o^k_{u,i}\}_k = \mathrm{head}(\mathbf{x}, \mathcal{Z})

    With a graph encoder (MoGENet's MGNN) and a pairwise interaction κ, the head
    also receives :math:`\mathcal{Z} = \kappa(\mathrm{MGNN}(\text{subgraphs}))`
    ``[B, N, D]`` (Eq. 3), computed from ``batch.graphs``; without them ``z = None``.

    The model is the only thing a trainer sees: ``model(batch)`` returns a
    :class:`HeadOutput` of logits keyed by task, whatever the head, so no training,
    evaluation or export code needs to know which head is inside.

    Args:
        user_encoder: encodes user indices (``-1`` = cold start).
        item_encoder: encodes item indices (``-1`` = cold start).
        head: the multi-task head; its ``in_channels`` must equal
            ``user_encoder.out_channels + item_encoder.out_channels``.

    Shapes:
        - **input:** :class:`~mogenet.sampling.PairBatch` with ``user``, ``item`` ``[B]``
        - **output:** :class:`HeadOutput`, ``logits[task]`` ``[B]``
    """

    def __init__(
        self,
        *,
        user_encoder: NodeEncoder,
        item_encoder: NodeEncoder,
        head: MultiTaskHead,
        graph_encoder: nn.Module | None = None,
        interaction: nn.Module | None = None,
    ) -> None:
        super().__init__()
        expected = user_encoder.out_channels + item_encoder.out_channels
        if head.in_channels != expected:
            raise ValueError(
                f"head expects in_channels={head.in_channels} but the encoders produce "
                f"{user_encoder.out_channels} + {item_encoder.out_channels} = {expected}"
            )
        if head.uses_graph != (graph_encoder is not None):
            raise ValueError(
                f"{head.__class__.__name__} {'reads' if head.uses_graph else 'ignores'} graph "
                f"interactions z, but the model {'has no' if graph_encoder is None else 'has a'} "
                "graph encoder"
            )
        if (graph_encoder is None) != (interaction is None):
            raise ValueError("a graph encoder needs a pairwise interaction, and vice versa")
        self.user_encoder = user_encoder
        self.item_encoder = item_encoder
        self.graph_encoder = graph_encoder
        self.interaction = interaction
        self.head = head
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.user_encoder.reset_parameters()
        self.item_encoder.reset_parameters()
        for part in (self.graph_encoder, self.interaction):
            if part is not None:
                part.reset_parameters()
        self.head.reset_parameters()

    @property
    def needs_graphs(self) -> bool:
        """Whether batches must carry sampled subgraphs (``PairBatch.graphs``)."""
        return self.graph_encoder is not None

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.head.tasks

    def user_embedding(self, index: Tensor) -> Tensor:
        """``[B]`` user indices → ``[B, user_encoder.out_channels]`` (for export)."""
        return self.user_encoder(index)

    def item_embedding(self, index: Tensor) -> Tensor:
        """``[B]`` item indices → ``[B, item_encoder.out_channels]`` (for export)."""
        return self.item_encoder(index)

    def pair_features(self, user: Tensor, item: Tensor) -> Tensor:
        """``[B]`` user and item indices → ``[B, head.in_channels]`` input of the head."""
        return torch.cat([self.user_encoder(user), self.item_encoder(item)], dim=-1)

    def forward(self, batch: PairBatch) -> HeadOutput:
        x = self.pair_features(batch.user, batch.item)  # [B, F]
        z = None
        if self.graph_encoder is not None:
            reps = self.graph_encoder(batch.graphs, self.user_encoder, self.item_encoder)
            z = self.interaction(reps)  # [B, N, D]
        return self.head(x, z)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(user={self.user_encoder!r}, "
            f"item={self.item_encoder!r}, "
            + (f"graph={self.graph_encoder!r}, " if self.graph_encoder is not None else "")
            + f"head={self.head!r})"
        )
