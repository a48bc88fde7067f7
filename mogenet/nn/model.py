"""The multi-task model: named parts composed, not subclassed."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mogenet.nn.encoder import NodeEncoder
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.interaction import PAIRS
from mogenet.nn.mgnn import GraphRepresentations
from mogenet.nn.output import HeadOutput, PairEmbeddings
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

    A head that declares extra :attr:`~mogenet.nn.heads.MultiTaskHead.inputs` gets
    them as keyword arguments (other heads are called as ``head(x, z)``):

    - ``"sequence"``: the batch's behaviour sequences ``batch.sequence`` ``[B, L]``
      are embedded like the pair, :math:`[\mathrm{enc}_U(u) \Vert
      \mathrm{enc}_I(i_\ell)]` for every history item :math:`i_\ell`, and passed as
      ``sequence`` ``[B, L, F]`` with ``sequence_labels`` ``[B, L, K]`` and
      ``sequence_mask`` ``[B, L]`` (``batch.sequence >= 0``);
    - ``"scenario"``: ``batch.scenario`` ``[B]`` as ``scenario``.

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
        unknown = sorted(set(head.inputs) - set(_INPUTS))
        if unknown:
            raise ValueError(
                f"{head.__class__.__name__} reads input(s) {unknown} that the model cannot "
                f"provide (known: {sorted(_INPUTS)})"
            )
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
        z = reps = None
        if self.graph_encoder is not None:
            reps = self.graph_encoder(batch.graphs, self.user_encoder, self.item_encoder)
            z = self.interaction(reps)  # [B, N, D]
        if not self.head.inputs:
            output = self.head(x, z)
        else:
            extra: dict[str, Tensor] = {}
            for name in sorted(self.head.inputs):
                extra.update(_INPUTS[name](self, batch))
            output = self.head(x, z, **extra)
        output.embeddings = self.pair_embeddings(x, batch.item, reps)
        return output

    def pair_embeddings(
        self, x: Tensor, item: Tensor, reps: GraphRepresentations | None = None
    ) -> PairEmbeddings:
        """The representation pairs of a batch (:class:`PairEmbeddings`): the id
        embeddings of user and item (the first ``embedding_dim`` columns of each half
        of ``x``) under ``"id"``, and with a graph encoder the pairs of Eq. 3 that are
        distinct (:data:`~mogenet.nn.interaction.PAIRS`, named ``"user-item"``,
        ``"user-item_sim"``, …). Only references: nothing is computed unless a loss
        reads them."""
        users = self.user_encoder.embedding_dim
        split = self.user_encoder.out_channels
        pairs = {"id": (x[:, :users], x[:, split : split + self.item_encoder.embedding_dim])}
        if reps is not None:
            fields = set(self.graph_encoder.representations)
            for u, i in PAIRS:
                if u in fields and i in fields:
                    pairs[f"{u}-{i}"] = (getattr(reps, u), getattr(reps, i))
        return PairEmbeddings(pairs=pairs, item=item)

    def sequence_inputs(self, batch: PairBatch) -> dict[str, Tensor]:
        """``batch.sequence`` ``[B, L]`` → ``sequence`` ``[B, L, F]`` (the user paired with
        each history item), ``sequence_labels`` ``[B, L, K]``, ``sequence_mask`` ``[B, L]``."""
        seq = _required(batch, "sequence", self.head)
        labels = _required(batch, "sequence_labels", self.head)
        B, L = seq.shape
        users = self.user_encoder(batch.user)  # [B, U]
        items = self.item_encoder(seq.reshape(-1)).view(B, L, -1)  # [B, L, I]; -1 → OOV row
        steps = torch.cat([users.unsqueeze(1).expand(B, L, users.size(-1)), items], dim=-1)
        return {
            "sequence": steps,  # [B, L, F]
            "sequence_labels": labels.to(steps.dtype),
            "sequence_mask": seq >= 0,
        }

    def scenario_inputs(self, batch: PairBatch) -> dict[str, Tensor]:
        """``batch.scenario`` ``[B]`` → ``scenario`` (long codes)."""
        return {"scenario": _required(batch, "scenario", self.head).long()}

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(user={self.user_encoder!r}, "
            f"item={self.item_encoder!r}, "
            + (f"graph={self.graph_encoder!r}, " if self.graph_encoder is not None else "")
            + f"head={self.head!r})"
        )


def _required(batch: PairBatch, name: str, head: MultiTaskHead) -> Tensor:
    value = getattr(batch, name)
    if value is None:
        raise ValueError(
            f"{head.__class__.__name__} reads batch.{name}, but the batch has none "
            "(attach it with mogenet.sampling.inputs.HeadInputs)"
        )
    return value


#: How :class:`MultiTaskModel` provides each extra input a head may declare.
_INPUTS = {
    "sequence": MultiTaskModel.sequence_inputs,
    "scenario": MultiTaskModel.scenario_inputs,
}
