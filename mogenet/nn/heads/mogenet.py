"""MoGENet's graph-enhanced experts head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from mogenet.nn.expert import run_experts, tower_logits
from mogenet.nn.gate import mixture, task_gates
from mogenet.nn.heads.base import SharedExpertsHead
from mogenet.nn.interaction import NUM_INTERACTIONS
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head

#: MoGENet's experts use LeakyReLU (§2.2); towers with hidden layers use it too.
ACT = "leaky_relu"


@register_head("mogenet")
class GraphEnhancedExperts(SharedExpertsHead):
    r"""The graph enhanced expert network of `"Mixture of Graph Enhanced Expert
    Networks for Multi-task Recommendation"
    <https://doi.org/10.1007/978-3-031-20868-3_1>`_ (MoGENet, PRICAI'22, §2.2).

    .. math::
        o^k_{u,i} = \mathbf{v}_k^\top \sum_{n=1}^{N} g^k(\mathbf{x})_n
        \big[ f^n(\mathbf{x}) \,\Vert\, \mathcal{Z}^n \big],
        \qquad \mathbf{x} = [\mathbf{x}_u \Vert \mathbf{x}_i]

    with :math:`N` experts :math:`f^n` (MLPs with LeakyReLU,
    :func:`~mogenet.nn.expert.expert_mlp`), one softmax :class:`~mogenet.nn.Gate`
    :math:`g^k` per task, the graph interactions :math:`\mathcal{Z}` ``[B, N, D]`` of
    :class:`~mogenet.nn.interaction.PairwiseInteraction` (Eq. 3) and a tower
    :math:`\mathbf{v}_k` per task (:func:`~mogenet.nn.expert.tower_mlp`: a single
    linear layer, the paper's :math:`\mathbf{v}`, with the default
    ``tower_channels=()``; hidden layers are allowed). Outputs are logits.

    **Graph experts** (Fig. 2, ablation study 3). Only the first ``graph_experts``
    experts are graph enhanced; the others have :math:`\mathcal{Z}^n = \mathbf{0}`.
    Since :math:`\sum_n g_n [f^n \Vert \mathcal{Z}^n] = [\sum_n g_n f^n \Vert
    \sum_{n \le n_0} g_n \mathcal{Z}^n]`, no zero padding is materialised.

    **Degradation to MMoE** (§2.4). With ``use_graph=False`` (or ``graph_experts=0``)
    ``z`` is ignored, :attr:`uses_graph` is ``False`` for this instance (a model
    computes no ``z`` for it) and the head is exactly
    :class:`~mogenet.nn.heads.MMoE` with LeakyReLU experts and towers (same parameter
    names: an MMoE state dict loads into it).

    Args:
        in_channels: size of each input sample :math:`\mathbf{x}`.
        tasks: task names.
        num_experts: number of experts :math:`N`; with the graph it must equal
            :math:`|\mathcal{Z}| = 4`.
        expert_channels: layer sizes of each expert (the last is the mixed size).
        z_channels: size :math:`D` of each :math:`\mathcal{Z}^n` (the interaction's
            ``out_channels``); required with the graph.
        tower_channels: hidden layer sizes of each tower (default none: linear).
        dropout: dropout probability in experts and towers.
        use_graph: attach :math:`\mathcal{Z}` to the experts.
        graph_experts: how many experts, from the first, get their
            :math:`\mathcal{Z}^n` (``None``: all).

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``, ``z`` ``[B, num_experts, z_channels]``
          (``None`` without the graph)
        - **output:** ``logits[task]`` ``[B]``, ``gates[task]`` ``[B, num_experts]``
    """

    uses_graph: ClassVar[bool] = True
    repr_fields = (
        "num_experts",
        "expert_channels",
        "z_channels",
        "graph_experts",
        "tower_channels",
    )

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        num_experts: int = NUM_INTERACTIONS,
        expert_channels: Sequence[int] = (32, 32),
        z_channels: int | None = None,
        tower_channels: Sequence[int] = (),
        dropout: float = 0.0,
        use_graph: bool = True,
        graph_experts: int | None = None,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            tasks=tasks,
            num_experts=num_experts,
            expert_channels=expert_channels,
            tower_channels=tower_channels,
            dropout=dropout,
            act=ACT,
            norm=None,
        )
        if use_graph:
            if num_experts != NUM_INTERACTIONS:
                raise ValueError(
                    f"with use_graph=True MoGENet has one expert per graph interaction: "
                    f"num_experts must be {NUM_INTERACTIONS} (|Z|, Eq. 3), got {num_experts}"
                )
            if z_channels is None or z_channels < 1:
                raise ValueError(
                    "with use_graph=True z_channels (the PairwiseInteraction's "
                    f"out_channels) must be >= 1, got {z_channels}"
                )
            graph_experts = num_experts if graph_experts is None else int(graph_experts)
            if not 0 <= graph_experts <= num_experts:
                raise ValueError(
                    f"graph_experts must be in [0, {num_experts}], got {graph_experts}"
                )
        elif graph_experts:
            raise ValueError(f"graph_experts={graph_experts} needs use_graph=True")
        else:
            graph_experts = 0
        self.graph_experts = graph_experts
        # Instance override of the class flag: without graph experts z is not read.
        self.uses_graph = graph_experts > 0
        self.z_channels = int(z_channels) if self.uses_graph else 0
        self.gates = task_gates(tasks=self.tasks, in_channels=in_channels, num_experts=num_experts)
        self.build_towers(self.expert_channels[-1] + self.z_channels)
        self.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        experts = run_experts(self.experts, x)  # [B, N, D_e]
        n0 = self.graph_experts
        if self.uses_graph:
            expected = (x.size(0), self.num_experts, self.z_channels)
            if z is None or tuple(z.shape) != expected:
                got = None if z is None else tuple(z.shape)
                raise ValueError(
                    f"{self.__class__.__name__} needs z of shape {expected}, got {got}"
                )
            z = z[:, :n0]  # [B, n0, D_z]
        gates = {task: gate(x) for task, gate in self.gates.items()}  # [B, N] each
        mixed = {task: mixture(g, experts) for task, g in gates.items()}  # [B, D_e] each
        if self.uses_graph:
            for task, g in gates.items():
                mixed_z = mixture(g[:, :n0], z)  # [B, D_z]
                mixed[task] = torch.cat([mixed[task], mixed_z], dim=-1)  # [B, D_e + D_z]
        return HeadOutput(logits=tower_logits(self.towers, mixed), gates=gates)
