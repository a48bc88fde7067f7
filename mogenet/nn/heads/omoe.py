"""One-gate Mixture-of-Experts (OMoE)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from mogenet.nn.expert import expert_bank, task_towers
from mogenet.nn.gate import Gate
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


@register_head("omoe")
class OMoE(MultiTaskHead):
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

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        num_experts: int = 4,
        expert_channels: Sequence[int] = (64, 32),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        if num_experts < 1:
            raise ValueError(f"num_experts must be >= 1, got {num_experts}")
        self.num_experts = num_experts
        self.expert_channels = tuple(expert_channels)
        self.tower_channels = tuple(tower_channels)
        self.experts = expert_bank(
            num_experts=num_experts,
            in_channels=in_channels,
            channels=self.expert_channels,
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.gate = Gate(in_channels=in_channels, num_experts=num_experts)
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=self.expert_channels[-1],
            channels=self.tower_channels,
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in [*self.experts, self.gate, *self.towers.values()]:
            module.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        experts = torch.stack([expert(x) for expert in self.experts], dim=1)  # [B, E, D]
        g = self.gate(x)  # [B, E]
        mixed = torch.einsum("be,bed->bd", g, experts)  # [B, D], one mixture for all tasks
        logits = {task: self.towers[task](mixed).squeeze(-1) for task in self.tasks}
        return HeadOutput(logits=logits, gates=dict.fromkeys(self.tasks, g))

    def extra_repr(self) -> str:
        return (
            f"num_experts={self.num_experts}, expert_channels={list(self.expert_channels)}, "
            f"tower_channels={list(self.tower_channels)}"
        )
