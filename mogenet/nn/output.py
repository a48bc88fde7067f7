"""The :class:`HeadOutput`: what every multi-task head returns, and the
:class:`PairEmbeddings` a model attaches to it for embedding-level losses."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class PairEmbeddings:
    """User and item representations of a batch's pairs, for losses that compare
    a pair with the batch's other items (the in-batch contrastive loss of
    :func:`~mogenet.losses.contrastive_loss`).

    Args:
        pairs: name → ``(user [B, d], item [B, d])``: the pairs of representations
            to score by their dot product (a graph model's Eq. 3 pairs, or the id
            embeddings of a model without a graph).
        item: ``[B]`` item indices of the rows (``-1`` = cold start), so that a row
            whose item equals the positive's is not used as its negative.
    """

    pairs: dict[str, tuple[Tensor, Tensor]]
    item: Tensor


@dataclass
class HeadOutput:
    """Per-task outputs of a multi-task head, keyed by task name.

    Args:
        logits: task name → ``[B]`` logits (never probabilities; losses use
            :func:`~torch.nn.functional.binary_cross_entropy_with_logits`).
        gates: task name → ``[B, E]`` gate weights over the ``E`` experts, for heads
            with per-task gates (MMoE, MoGENet, …); rows sum to 1. Used by the
            cooperative loss (MoGENet Eq. 7) and by reports. ``None`` for heads
            without gates (Shared-Bottom).
        aux: head-specific extra tensors for reports (e.g. an intermediate task's
            logits); empty for most heads.
        losses: name → scalar extra loss terms the head defines itself, already
            multiplied by their coefficient (AITM/BPCM calibration, AESM2 expert
            selection). :class:`~mogenet.losses.MultiTaskLoss` adds them to the total
            and logs each under its name; empty for most heads.
        embeddings: the pair representations (:class:`PairEmbeddings`), set by the
            :class:`~mogenet.nn.MultiTaskModel` rather than the head; ``None`` when a
            head is called on its own.
    """

    logits: dict[str, Tensor]
    gates: dict[str, Tensor] | None = None
    aux: dict[str, Tensor] = field(default_factory=dict)
    losses: dict[str, Tensor] = field(default_factory=dict)
    embeddings: PairEmbeddings | None = None

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.logits)

    def probabilities(self) -> dict[str, Tensor]:
        """Task name → ``[B]`` probabilities ``sigmoid(logit)`` (for prediction)."""
        return {task: logit.sigmoid() for task, logit in self.logits.items()}
