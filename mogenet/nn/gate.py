"""The gating primitive of mixture-of-experts heads, and the mixture it weighs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class Gate(nn.Module):
    r"""A gating network: a linear map followed by a softmax over experts, as in
    `"Modeling Task Relationships in Multi-task Learning with Multi-gate
    Mixture-of-Experts" <https://doi.org/10.1145/3219819.3220007>`_ (MMoE) and
    MoGENet Eq. 4.

    .. math::
        g(\mathbf{x}) = \mathrm{softmax}(\mathbf{W}_g \mathbf{x} + \mathbf{b}_g)

    Deliberately not an :class:`~torch_geometric.nn.MLP`: no hidden layer, no
    normalisation, no dropout (design: gates are their own primitive).

    Args:
        in_channels: size of each input sample.
        num_experts: number of experts :math:`E` to weigh.

    Shapes:
        - **input:** ``[B, in_channels]``
        - **output:** ``[B, num_experts]``, non-negative, rows sum to 1
    """

    def __init__(self, *, in_channels: int, num_experts: int) -> None:
        super().__init__()
        if in_channels < 1 or num_experts < 1:
            raise ValueError(
                f"Gate needs in_channels >= 1 and num_experts >= 1, "
                f"got {in_channels} and {num_experts}"
            )
        self.in_channels = in_channels
        self.num_experts = num_experts
        self.lin = nn.Linear(in_channels, num_experts)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        # The softmax over the short last dimension (E ~ 4) is ~20x slower on CPU
        # than along dim 0 of the transpose (scripts/bench_train.py --profile).
        return torch.softmax(self.lin(x).t(), dim=0).t()  # [B, E]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, num_experts={self.num_experts})"


def task_gates(*, tasks: Sequence[str], in_channels: int, num_experts: int) -> nn.ModuleDict:
    """One :class:`Gate` per task, keyed by task name (the "multi-gate" of MMoE)."""
    return nn.ModuleDict(
        {task: Gate(in_channels=in_channels, num_experts=num_experts) for task in tasks}
    )


def mixture(weights: Tensor, experts: Tensor) -> Tensor:
    r"""The gate-weighted sum of stacked expert outputs,
    :math:`\sum_{e=1}^{E} g_e \, f_e` (the mixture of MMoE and of MoGENet Eq. 4).

    Shapes:
        - **input:** ``weights`` ``[B, E]`` (a :class:`Gate`'s output), ``experts``
          ``[B, E, D]`` (:func:`~mogenet.nn.expert.run_experts`)
        - **output:** ``[B, D]``
    """
    # A broadcast multiply-sum, not einsum: einsum becomes B tiny batched matmuls,
    # ~25 % of an MMoE step on CPU (scripts/bench_train.py --profile).
    return (weights.unsqueeze(-1) * experts).sum(dim=1)
