"""Independent single-task MLPs: no parameter sharing at all."""

from __future__ import annotations

from collections.abc import Sequence

from mogenet.nn.heads.base import TaskTowersHead
from mogenet.nn.resolver import register_head


@register_head("mlp")
class SingleTaskMLP(TaskTowersHead):
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

    repr_fields = ("expert_channels", "tower_channels")

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
        super().__init__(
            in_channels=in_channels,
            tasks=tasks,
            hidden_channels=expert_channels,
            tower_channels=tower_channels,
            dropout=dropout,
            act=act,
            norm=norm,
        )
        self.expert_channels = tuple(expert_channels)
        self.reset_parameters()
