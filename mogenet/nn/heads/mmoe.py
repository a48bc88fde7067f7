"""Multi-gate Mixture-of-Experts (MMoE)."""

from __future__ import annotations

from torch import Tensor

from mogenet.nn.expert import run_experts, tower_logits
from mogenet.nn.gate import mixture, task_gates
from mogenet.nn.heads.base import MixtureOfExpertsHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


@register_head("mmoe")
class MMoE(MixtureOfExpertsHead):
    r"""The Multi-gate Mixture-of-Experts head from the `"Modeling Task Relationships
    in Multi-task Learning with Multi-gate Mixture-of-Experts"
    <https://doi.org/10.1145/3219819.3220007>`_ paper (Ma et al., KDD'18).

    .. math::
        y_k = h^k\Big(\sum_{e=1}^{E} g^k(\mathbf{x})_e \, f_e(\mathbf{x})\Big),
        \qquad g^k(\mathbf{x}) = \mathrm{softmax}(\mathbf{W}_{g^k} \mathbf{x})

    with :math:`E` shared experts :math:`f_e` (:func:`~mogenet.nn.expert.expert_mlp`),
    one :class:`~mogenet.nn.Gate` :math:`g^k` and one tower :math:`h^k`
    (:func:`~mogenet.nn.expert.tower_mlp`) per task. With one expert it is exactly
    :class:`~mogenet.nn.heads.SharedBottom`. The graph tensor ``z`` is ignored.

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
    """

    def build_gates(self) -> None:
        self.gates = task_gates(
            tasks=self.tasks, in_channels=self.in_channels, num_experts=self.num_experts
        )

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        experts = run_experts(self.experts, x)  # [B, E, D]
        gates = {task: gate(x) for task, gate in self.gates.items()}  # [B, E] each
        mixed = {task: mixture(g, experts) for task, g in gates.items()}  # [B, D] each
        return HeadOutput(logits=tower_logits(self.towers, mixed), gates=gates)
