"""Cross-stitch networks: per-task columns mixed by learnable linear units."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mogenet.nn.expert import expert_mlp, task_towers, tower_logits
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


class CrossStitchUnit(nn.Module):
    r"""A cross-stitch unit: a learnable :math:`K \times K` matrix that mixes the
    activations of :math:`K` task columns,
    :math:`\tilde{\mathbf{h}}_k = \sum_{j} \alpha_{kj} \mathbf{h}_j`.

    One scalar per (task, task) pair, shared by all channels of the layer, as in the
    paper. Initialised as a convex combination close to the identity:
    :math:`\alpha_{kk} = \alpha_S` and :math:`\alpha_{kj} = (1 - \alpha_S) / (K - 1)`
    for :math:`j \ne k` (the paper's :math:`(\alpha_S, \alpha_D) = (0.9, 0.1)` for
    two tasks); with one task, :math:`\alpha = [1]`.

    Args:
        num_tasks: number of columns :math:`K`.
        self_weight: initial :math:`\alpha_S` in ``[0, 1]``.

    Shapes:
        - **input:** ``[B, K, D]`` (column ``k`` at index ``k``)
        - **output:** ``[B, K, D]``
    """

    def __init__(self, *, num_tasks: int, self_weight: float = 0.9) -> None:
        super().__init__()
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        if not 0.0 <= self_weight <= 1.0:
            raise ValueError(f"self_weight must be in [0, 1], got {self_weight}")
        self.num_tasks = num_tasks
        self.self_weight = float(self_weight)
        self.weight = nn.Parameter(torch.empty(num_tasks, num_tasks))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = self.num_tasks
        diag = self.self_weight if k > 1 else 1.0
        off = (1.0 - diag) / (k - 1) if k > 1 else 0.0
        with torch.no_grad():
            self.weight.fill_(off).fill_diagonal_(diag)

    def forward(self, h: Tensor) -> Tensor:
        return torch.einsum("kj,bjd->bkd", self.weight, h)  # [B, K, D]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.num_tasks}, self_weight={self.self_weight})"


@register_head("cross_stitch")
class CrossStitch(MultiTaskHead):
    r"""The cross-stitch network of `"Cross-stitch Networks for Multi-task Learning"
    <https://arxiv.org/abs/1604.03539>`_ (Misra et al., CVPR'16), with MLP columns
    as in the recommender baselines of MoGENet (PRICAI'22, Table 2).

    .. math::
        \mathbf{h}^{(l)}_k = \sum_{j=1}^{K} \alpha^{(l)}_{kj}\,
        f^{(l)}_j\big(\mathbf{h}^{(l-1)}_j\big), \qquad \mathbf{h}^{(0)}_k = \mathbf{x},
        \qquad y_k = h^k\big(\mathbf{h}^{(L)}_k\big)

    One column per task, each layer :math:`f^{(l)}_k` a one-layer
    :func:`~mogenet.nn.expert.expert_mlp` of size ``expert_channels[l]``; after every
    column layer a :class:`CrossStitchUnit` :math:`\alpha^{(l)}` (one
    :math:`K \times K` matrix per layer: per-layer, per-task-pair scalars shared by
    all channels, initialised to :math:`0.9` on the diagonal and
    :math:`0.1 / (K - 1)` off it) mixes the tasks' activations; the towers
    :math:`h^k` (:func:`~mogenet.nn.expert.tower_mlp`) are not stitched. With every
    :math:`\alpha^{(l)} = \mathbf{I}` it is exactly
    :class:`~mogenet.nn.heads.SingleTaskMLP` (independent MLPs).

    There is one column per task, so ``num_experts`` does not apply. The paper
    also studies a larger learning rate for :math:`\alpha` than for the columns;
    here every parameter shares the optimiser's rate (a parameter group on the
    ``stitches`` parameters gives them their own). The graph tensor ``z`` is
    ignored; ``gates`` is ``None``.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        expert_channels: layer sizes of each task column (one stitch after each).
        tower_channels: hidden layer sizes of each tower (may be empty).
        dropout: dropout probability in columns and towers.
        self_weight: initial diagonal :math:`\alpha_S` of the cross-stitch units.
        act: activation of columns and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for columns and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``
    """

    repr_fields = ("expert_channels", "tower_channels", "self_weight")

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        expert_channels: Sequence[int] = (64, 32),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        self_weight: float = 0.9,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        if len(expert_channels) == 0:
            raise ValueError("CrossStitch needs at least one column layer (expert_channels)")
        self.expert_channels = tuple(expert_channels)
        self.tower_channels = tuple(tower_channels)
        self.self_weight = float(self_weight)
        sizes = [in_channels, *self.expert_channels]
        # columns[l][task]: layer l of the task's column
        self.columns = nn.ModuleList(
            nn.ModuleDict(
                {
                    task: expert_mlp(
                        in_channels=c_in, channels=[c_out], act=act, norm=norm, dropout=dropout
                    )
                    for task in self.tasks
                }
            )
            for c_in, c_out in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.stitches = nn.ModuleList(
            CrossStitchUnit(num_tasks=self.num_tasks, self_weight=self_weight)
            for _ in self.expert_channels
        )
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=self.expert_channels[-1],
            channels=self.tower_channels,
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        h = [x] * self.num_tasks  # column inputs, in task order
        for layer, stitch in zip(self.columns, self.stitches, strict=True):
            columns = [layer[t](h[k]) for k, t in enumerate(self.tasks)]  # K × [B, D]
            h = stitch(torch.stack(columns, dim=1)).unbind(dim=1)  # [B, K, D] -> K × [B, D]
        return HeadOutput(logits=tower_logits(self.towers, h), gates=None)
