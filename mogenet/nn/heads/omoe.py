"""One-gate Mixture-of-Experts (OMoE)."""

from __future__ import annotations

from torch import Tensor

from mogenet.nn.expert import run_experts, tower_logits
from mogenet.nn.gate import Gate, mixture
from mogenet.nn.heads.base import MixtureOfExpertsHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


@register_head("omoe")
class OMoE(MixtureOfExpertsHead):
    r"""The One-gate Mixture-of-Experts head, the baseline of `"Modeling Task
    Relationships in Multi-task Learning with Multi-gate Mixture-of-Experts"
    <https://doi.org/10.1145/3219819.3220007>`_ (Ma et al., KDD'18): the one-gate
    model that MMoE extends with one gate per task.

    .. math::
        y_k = h^k\Big(\sum_{e=1}^{E} g(\mathbf{x})_e \, f_e(\mathbf{x})\Big),
        \qquad g(\mathbf{x}) = \mathrm{softmax}(\mathbf{W}_g \mathbf{x})

    with :math:`E` shared experts :math:`f_e` (:func:`~mogenet.nn.expert.expert_bank`),
    a single :class:`~mogenet.nn.Gate` :math:`g` shared by all tasks and one tower
    :math:`h^k` per task: every task reads the same mixture. It is exactly
    :class:`~mogenet.nn.heads.MMoE` with all gates tied to the same weights, and, like
    MMoE, :class:`~mogenet.nn.heads.SharedBottom` with one expert. ``gates[task]`` is
    the one gate's weights for every task. The graph tensor ``z`` is ignored.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        num_experts: number of shared experts :math:`E`.
        expert_channels: layer sizes of each expert (the last is the mixed size).
        tower_channels: hidden layer sizes of each tower (may be empty).
        dropout: dropout probability in experts and towers.
        act: activation of experts and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for experts and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``, ``gates[task]`` ``[B, num_experts]``
          (the same tensor for every task)
    """

    def build_gates(self) -> None:
        self.gate = Gate(in_channels=self.in_channels, num_experts=self.num_experts)

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        experts = run_experts(self.experts, x)  # [B, E, D]
        g = self.gate(x)  # [B, E]
        mixed = mixture(g, experts)  # [B, D], one mixture for all tasks
        logits = tower_logits(self.towers, mixed)  # [B] each
        return HeadOutput(logits=logits, gates=dict.fromkeys(self.tasks, g))
