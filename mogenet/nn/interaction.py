r"""Pairwise graph-representation interactions :math:`\kappa` (MoGENet Eq. 3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import MLP

from mogenet.nn.mgnn import GraphRepresentations
from mogenet.nn.resolver import Registry

#: The (user, item) :class:`~mogenet.nn.mgnn.GraphRepresentations` fields paired by
#: Eq. 3, in the order of :math:`\mathcal{Z}` (entry :math:`n` feeds expert :math:`n`).
PAIRS: tuple[tuple[str, str], ...] = (
    ("user", "item"),
    ("user", "item_sim"),
    ("user_sim", "item"),
    ("user_sim", "item_sim"),
)

#: Number of pairwise interactions :math:`N = |\mathcal{Z}|` of Eq. 3.
NUM_INTERACTIONS = len(PAIRS)

#: Interaction functions :math:`\kappa(\mathbf{h}_a, \mathbf{h}_b)` by name; the
#: paper's ablation names (EP, CON, ADD, MLP) are aliases.
INTERACTIONS: Registry[nn.Module] = Registry("interaction")


class _Parameterless(nn.Module):
    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.out_channels = channels

    def reset_parameters(self) -> None:
        pass


@INTERACTIONS.register("ep")
@INTERACTIONS.register("product")
class ProductInteraction(_Parameterless):
    r""":math:`\kappa(\mathbf{h}_a, \mathbf{h}_b) = \mathbf{h}_a \odot \mathbf{h}_b`."""

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a * b


@INTERACTIONS.register("add")
class AddInteraction(_Parameterless):
    r""":math:`\kappa(\mathbf{h}_a, \mathbf{h}_b) = \mathbf{h}_a + \mathbf{h}_b`."""

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


@INTERACTIONS.register("con")
@INTERACTIONS.register("concat")
class ConcatInteraction(_Parameterless):
    r""":math:`\kappa(\mathbf{h}_a, \mathbf{h}_b) = [\mathbf{h}_a \Vert \mathbf{h}_b]`
    (``out_channels = 2 d``)."""

    def __init__(self, *, channels: int) -> None:
        super().__init__(channels=channels)
        self.out_channels = 2 * channels

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.cat([a, b], dim=-1)


@INTERACTIONS.register("mlp")
class MLPInteraction(nn.Module):
    r""":math:`\kappa(\mathbf{h}_a, \mathbf{h}_b) = \mathrm{MLP}([\mathbf{h}_a \Vert
    \mathbf{h}_b])`: ``2d → d → d`` with LeakyReLU after the hidden layer (the last
    layer is linear), one MLP shared by the four pairs."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.out_channels = channels
        self.mlp = MLP([2 * channels, channels, channels], act="leaky_relu", norm=None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.mlp(torch.cat([a, b], dim=-1))


class PairwiseInteraction(nn.Module):
    r"""The pairwise graph-representation interaction of `"Mixture of Graph Enhanced
    Expert Networks for Multi-task Recommendation"
    <https://doi.org/10.1007/978-3-031-20868-3_1>`_ (MoGENet, PRICAI'22, Eq. 3).

    .. math::
        \mathcal{Z} = \{ \kappa(\mathbf{h}_u^L, \mathbf{h}_i^L),\;
        \kappa(\mathbf{h}_u^L, \mathbf{h}_i^{\mathcal{I},L}),\;
        \kappa(\mathbf{h}_u^{\mathcal{U},L}, \mathbf{h}_i^L),\;
        \kappa(\mathbf{h}_u^{\mathcal{U},L}, \mathbf{h}_i^{\mathcal{I},L}) \}

    stacked in this order along dimension 1 (entry :math:`n` feeds expert
    :math:`n` of :class:`~mogenet.nn.heads.GraphEnhancedExperts`).

    Args:
        kind: :math:`\kappa`, a name in :data:`INTERACTIONS`: ``"product"`` (EP,
            :math:`\odot`), ``"concat"`` (CON), ``"add"`` (ADD) or ``"mlp"`` (MLP on
            the concatenation).
        channels: size :math:`d` of each graph representation.

    Shapes:
        - **input:** :class:`~mogenet.nn.mgnn.GraphRepresentations`, each ``[B, d]``
        - **output:** ``[B, 4, out_channels]`` (``2 d`` for ``"concat"``, else ``d``)
    """

    def __init__(self, *, kind: str = "product", channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"PairwiseInteraction needs channels >= 1, got {channels}")
        self.kind = kind
        self.channels = channels
        self.kappa = INTERACTIONS.resolve(kind, channels=channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.kappa.reset_parameters()

    @property
    def out_channels(self) -> int:
        return self.kappa.out_channels

    def forward(self, reps: GraphRepresentations) -> Tensor:
        users = torch.stack([getattr(reps, u) for u, _ in PAIRS], dim=1)  # [B, 4, d]
        items = torch.stack([getattr(reps, i) for _, i in PAIRS], dim=1)  # [B, 4, d]
        batch = users.size(0)
        z = self.kappa(users.flatten(0, 1), items.flatten(0, 1))  # [B * 4, D]
        return z.view(batch, NUM_INTERACTIONS, -1)  # [B, 4, D]

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(kind='{self.kind}', channels={self.channels}, "
            f"out_channels={self.out_channels})"
        )
