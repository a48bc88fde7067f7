"""The :class:`HeadOutput`: what every multi-task head returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


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
    """

    logits: dict[str, Tensor]
    gates: dict[str, Tensor] | None = None
    aux: dict[str, Tensor] = field(default_factory=dict)
    losses: dict[str, Tensor] = field(default_factory=dict)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.logits)

    def probabilities(self) -> dict[str, Tensor]:
        """Task name → ``[B]`` probabilities ``sigmoid(logit)`` (for prediction)."""
        return {task: logit.sigmoid() for task, logit in self.logits.items()}
