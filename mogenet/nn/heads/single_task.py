"""Independent single-task MLPs: no parameter sharing at all."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from mogenet.nn.expert import task_towers
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


@register_head("mlp")
class SingleTaskMLP(MultiTaskHead):
    r"""One independent MLP per task: the single-task "MLP" baseline of
    `"Mixture of Graph Enhanced Expert Networks for Multi-task Recommendation"
    <https://doi.org/10.1007/978-3-031-20868-3_1>`_ (MoGENet, PRICAI'22, Table 2).

    .. math::
        y_k = h^k(\mathbf{x})

    with one :func:`~mogenet.nn.expert.tower_mlp` :math:`h^k` per task and nothing
    shared between tasks (the tasks only share the input encoders of the model).

    Each MLP has the hidden layers ``expert_channels + tower_channels``: the depth an
    input goes through in :class:`~mogenet.nn.heads.SharedBottom` or
    :class:`~mogenet.nn.heads.MMoE` (expert, then tower), so under one shared
    :class:`~mogenet.config.ModelConfig` every head has the same depth per task.
    The graph tensor ``z`` is ignored; ``gates`` is ``None``.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        expert_channels: the first hidden layer sizes of each MLP.
        tower_channels: the further hidden layer sizes of each MLP (may be empty).
        dropout: dropout probability after each hidden layer.
        act: activation after each hidden layer (a PyG activation name).
        norm: ``None`` or a PyG normalisation name after each hidden layer.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``
    """

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        expert_channels: Sequence[int] = (64, 32),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        self.expert_channels = tuple(expert_channels)
        self.tower_channels = tuple(tower_channels)
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=in_channels,
            channels=(*self.expert_channels, *self.tower_channels),
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for tower in self.towers.values():
            tower.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        logits = {task: self.towers[task](x).squeeze(-1) for task in self.tasks}  # [B] each
        return HeadOutput(logits=logits, gates=None)

    def extra_repr(self) -> str:
        return (
            f"expert_channels={list(self.expert_channels)}, "
            f"tower_channels={list(self.tower_channels)}"
        )
