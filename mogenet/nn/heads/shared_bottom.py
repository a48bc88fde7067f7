"""Shared-Bottom: hard parameter sharing."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from mogenet.nn.expert import expert_mlp, task_towers, tower_logits
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


@register_head("shared_bottom")
class SharedBottom(MultiTaskHead):
    r"""The Shared-Bottom head (hard parameter sharing) of `"Multitask Learning"
    <https://doi.org/10.1023/A:1007379606734>`_ (Caruana, 1997), the baseline of
    MMoE (Ma et al., KDD'18).

    .. math::
        y_k = h^k\big(f(\mathbf{x})\big)

    with one bottom network :math:`f` shared by all tasks and one tower :math:`h^k`
    per task. Equal to :class:`~mogenet.nn.heads.MMoE` with a single expert. The graph
    tensor ``z`` is ignored; ``gates`` is ``None``.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        bottom_channels: layer sizes of the shared bottom.
        tower_channels: hidden layer sizes of each tower (may be empty).
        dropout: dropout probability in bottom and towers.
        act: activation of bottom and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for bottom and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``
    """

    repr_fields = ("bottom_channels", "tower_channels")

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        bottom_channels: Sequence[int] = (64, 32),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        self.bottom_channels = tuple(bottom_channels)
        self.tower_channels = tuple(tower_channels)
        self.bottom = expert_mlp(
            in_channels=in_channels,
            channels=self.bottom_channels,
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=self.bottom_channels[-1],
            channels=self.tower_channels,
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        shared = self.bottom(x)  # [B, D]
        return HeadOutput(logits=tower_logits(self.towers, shared), gates=None)
