"""Sub-Network Routing (SNR-Trans, SNR-Aver) with hard-concrete coding variables."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mogenet.nn.expert import run_experts, tower_logits
from mogenet.nn.heads.base import SharedExpertsHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head

#: Smallest distance of the uniform noise from 0 and 1 (keeps its logit finite).
_EPS = 1e-6


class HardConcrete(nn.Module):
    r"""A tensor of coding variables :math:`z \in [0, 1]` drawn from the hard concrete
    distribution of `"Learning Sparse Neural Networks through L0 Regularization"
    <https://arxiv.org/abs/1712.01312>`_ (Louizos et al., ICLR'18), as used by SNR:

    .. math::
        s = \sigma\big((\log u - \log(1 - u) + \log\alpha) / \beta\big), \quad
        u \sim \mathcal{U}(0, 1), \qquad
        z = \min\big(1, \max(0, s(\zeta - \gamma) + \gamma)\big)

    In training mode one :math:`u` is drawn per call (one architecture per
    mini-batch, as in SNR); in eval mode the deterministic estimator
    :math:`\hat{z} = \min(1, \max(0, \sigma(\log\alpha)(\zeta - \gamma) + \gamma))`
    is returned. :meth:`expected_l0` is the expected number of non-zero variables,
    :math:`\sum \big(1 - Q(s < 0)\big) = \sum \sigma\big(\log\alpha - \beta
    \log(-\gamma / \zeta)\big)`, differentiable in :math:`\log\alpha`.

    :math:`\log\alpha` is initialised from :math:`\mathcal{N}(0, 0.01^2)` (Louizos et
    al.'s initial drop rate 0.5: every variable starts half open).

    Args:
        shape: shape of the tensor of coding variables.
        beta: temperature :math:`\beta` (paper: ``2/3``).
        gamma: lower stretch limit :math:`\gamma < 0` (paper: ``-0.1``).
        zeta: upper stretch limit :math:`\zeta > 1` (paper: ``1.1``).

    Shapes:
        - **output:** ``shape``, values in ``[0, 1]``
    """

    def __init__(
        self,
        *,
        shape: Sequence[int],
        beta: float = 2.0 / 3.0,
        gamma: float = -0.1,
        zeta: float = 1.1,
    ) -> None:
        super().__init__()
        if not (beta > 0 and gamma < 0 and zeta > 1):
            raise ValueError(
                f"hard concrete needs beta > 0, gamma < 0 and zeta > 1, "
                f"got beta={beta}, gamma={gamma}, zeta={zeta}"
            )
        self.beta, self.gamma, self.zeta = float(beta), float(gamma), float(zeta)
        self.log_alpha = nn.Parameter(torch.empty(*shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.log_alpha, mean=0.0, std=0.01)

    def forward(self) -> Tensor:
        if self.training:
            u = torch.rand_like(self.log_alpha).clamp(_EPS, 1.0 - _EPS)
            s = torch.sigmoid((u.log() - (-u).log1p() + self.log_alpha) / self.beta)
        else:
            s = torch.sigmoid(self.log_alpha)
        return (s * (self.zeta - self.gamma) + self.gamma).clamp(0.0, 1.0)

    def expected_l0(self) -> Tensor:
        """Expected number of non-zero coding variables (a differentiable scalar)."""
        shift = self.beta * math.log(-self.gamma / self.zeta)
        return torch.sigmoid(self.log_alpha - shift).sum()

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({list(self.log_alpha.shape)}, beta={self.beta:.4g}, "
            f"gamma={self.gamma}, zeta={self.zeta})"
        )


class SubNetworkRouting(SharedExpertsHead):
    r"""Base of the SNR heads (:class:`SNRTrans`, :class:`SNRAver`) of `"SNR:
    Sub-Network Routing for Flexible Parameter Sharing in Multi-Task Learning"
    <https://ojs.aaai.org/index.php/AAAI/article/view/3788>`_ (Ma et al., AAAI'19): two layers
    of sub-networks whose connections are switched by coding variables :math:`z`.
    Subclasses define the connection (:meth:`route`).

    **Reading of the paper.** The paper routes between consecutive layers of
    sub-networks; here, as in MoGENet's SNR-trans baseline (PRICAI'22, §3: "number
    of expert networks = 4", each an MLP), the lower layer is :math:`E` expert
    sub-networks :math:`\mathbf{u}_j = f_j(\mathbf{x})`
    (:func:`~mogenet.nn.expert.expert_bank`, sizes ``expert_channels``) and the
    upper layer is one sub-network per task, its tower :math:`h^k`
    (:func:`~mogenet.nn.expert.tower_mlp`; the paper's task-specific part is one
    hidden layer of 16, the default ``tower_channels``): :math:`y_k =
    h^k(\mathbf{v}_k)` with :math:`\mathbf{v}_k` routed from the
    :math:`\mathbf{u}_j`. Each connection :math:`k \leftarrow j` has a
    :class:`HardConcrete` coding variable :math:`z_{kj}` (:math:`\beta = 2/3,
    \gamma = -0.1, \zeta = 1.1`): in training mode one draw per mini-batch, shared
    by its examples (as in the paper); in eval mode the deterministic estimate
    (``head.coding()`` returns them).

    The L0 penalty :math:`\lambda \sum_{kj} \big(1 - Q(s_{kj} < 0)\big)`, the
    expected number of open connections, is returned as ``losses["snr_l0"]`` (added
    to the total by :class:`~mogenet.losses.MultiTaskLoss`). The default
    :math:`\lambda` = ``l0_weight`` = ``1e-4`` is the middle of the paper's grid
    :math:`\{10^{-3}, 10^{-4}, 10^{-5}\}` (there ``1e-5`` left the connections
    dense and ``1e-4`` made them sparse); ``0`` drops the term. ``gates`` is
    ``None`` (the :math:`z` are not a distribution over sub-networks); the graph
    tensor ``z`` of :meth:`forward` is ignored.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        route_channels: size of each routed input :math:`\mathbf{v}_k`.
        num_experts: number of lower sub-networks :math:`E`.
        expert_channels: layer sizes of each lower sub-network.
        tower_channels: hidden layer sizes of each task tower (may be empty).
        dropout: dropout probability in sub-networks and towers.
        l0_weight: coefficient :math:`\lambda` of the L0 penalty (``0``: none).
        beta: hard-concrete temperature :math:`\beta`.
        gamma: hard-concrete lower limit :math:`\gamma`.
        zeta: hard-concrete upper limit :math:`\zeta`.
        act: activation of sub-networks and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for sub-networks and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``, ``losses["snr_l0"]`` scalar
    """

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        route_channels: int,
        num_experts: int,
        expert_channels: Sequence[int],
        tower_channels: Sequence[int],
        dropout: float,
        l0_weight: float,
        beta: float,
        gamma: float,
        zeta: float,
        act: str,
        norm: str | None,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            tasks=tasks,
            num_experts=num_experts,
            expert_channels=expert_channels,
            tower_channels=tower_channels,
            dropout=dropout,
            act=act,
            norm=norm,
        )
        if route_channels < 1:
            raise ValueError(f"route_channels must be >= 1, got {route_channels}")
        if l0_weight < 0:
            raise ValueError(f"l0_weight must be >= 0, got {l0_weight}")
        self.route_channels = int(route_channels)
        self.l0_weight = float(l0_weight)
        # coding[k, j]: z of the connection task k <- lower sub-network j
        self.coding = HardConcrete(
            shape=(self.num_tasks, num_experts), beta=beta, gamma=gamma, zeta=zeta
        )
        self.build_towers(self.route_channels)

    @abstractmethod
    def route(self, z: Tensor, u: Tensor) -> Tensor:
        """Upper inputs ``[B, K, route_channels]`` from the coding variables ``z``
        ``[K, E]`` and the lower outputs ``u`` ``[B, E, D]``."""

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        u = run_experts(self.experts, x)  # [B, E, D]
        v = self.route(self.coding(), u)  # [B, K, route_channels]
        logits = tower_logits(self.towers, v.unbind(1))  # task k reads v[:, k]
        losses = {}
        if self.l0_weight > 0:
            losses["snr_l0"] = self.l0_weight * self.coding.expected_l0()
        return HeadOutput(logits=logits, gates=None, losses=losses)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, l0_weight={self.l0_weight:g}"


@register_head("snr_trans")
class SNRTrans(SubNetworkRouting):
    r"""The SNR-Trans head of `"SNR: Sub-Network Routing for Flexible Parameter
    Sharing in Multi-Task Learning" <https://ojs.aaai.org/index.php/AAAI/article/view/3788>`_
    (Ma et al., AAAI'19): every connection is a transformation matrix scaled by its
    coding variable.

    .. math::
        \mathbf{v}_k = \sum_{j=1}^{E} z_{kj} \mathbf{W}_{kj} \mathbf{u}_j, \qquad
        \mathbf{u}_j = f_j(\mathbf{x}), \qquad y_k = h^k(\mathbf{v}_k)

    with one :math:`\mathbf{W}_{kj} \in \mathbb{R}^{D_v \times D}` (no bias) per
    connection, initialised as :class:`torch.nn.Linear` weights. Lower and upper
    layers, coding variables and the L0 penalty are described in
    :class:`SubNetworkRouting`.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        num_experts: number of lower sub-networks :math:`E`.
        expert_channels: layer sizes of each lower sub-network (:math:`D` is the last).
        tower_channels: hidden layer sizes of each task tower (may be empty).
        dropout: dropout probability in sub-networks and towers.
        l0_weight: coefficient :math:`\lambda` of the L0 penalty (``0``: none).
        trans_channels: output size :math:`D_v` of each transformation
            (``None``: :math:`D`).
        beta: hard-concrete temperature :math:`\beta`.
        gamma: hard-concrete lower limit :math:`\gamma`.
        zeta: hard-concrete upper limit :math:`\zeta`.
        act: activation of sub-networks and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for sub-networks and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``, ``losses["snr_l0"]`` scalar
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
        l0_weight: float = 1e-4,
        trans_channels: int | None = None,
        beta: float = 2.0 / 3.0,
        gamma: float = -0.1,
        zeta: float = 1.1,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        expert_channels = tuple(expert_channels)
        super().__init__(
            in_channels=in_channels,
            tasks=tasks,
            route_channels=expert_channels[-1] if trans_channels is None else trans_channels,
            num_experts=num_experts,
            expert_channels=expert_channels,
            tower_channels=tower_channels,
            dropout=dropout,
            l0_weight=l0_weight,
            beta=beta,
            gamma=gamma,
            zeta=zeta,
            act=act,
            norm=norm,
        )
        # transforms[k, j]: W_kj of the connection task k <- lower sub-network j
        self.transforms = nn.Parameter(
            torch.empty(self.num_tasks, num_experts, self.route_channels, expert_channels[-1])
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        bound = 1.0 / math.sqrt(self.expert_channels[-1])  # nn.Linear's default init
        nn.init.uniform_(self.transforms, -bound, bound)

    def route(self, z: Tensor, u: Tensor) -> Tensor:
        weights = z[:, :, None, None] * self.transforms  # [K, E, D_v, D]
        return torch.einsum("kjod,bjd->bko", weights, u)  # [B, K, D_v]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, trans_channels={self.route_channels}"


@register_head("snr_aver")
class SNRAver(SubNetworkRouting):
    r"""The SNR-Aver head of `"SNR: Sub-Network Routing for Flexible Parameter
    Sharing in Multi-Task Learning" <https://ojs.aaai.org/index.php/AAAI/article/view/3788>`_
    (Ma et al., AAAI'19): every connection is the identity scaled by its coding
    variable, so each upper sub-network reads a :math:`z`-weighted sum of the lower
    ones (unnormalised: the paper's equation with identity matrices
    :math:`\mathbf{I}_{kj}`).

    .. math::
        \mathbf{v}_k = \sum_{j=1}^{E} z_{kj} \mathbf{u}_j, \qquad
        \mathbf{u}_j = f_j(\mathbf{x}), \qquad y_k = h^k(\mathbf{v}_k)

    With every :math:`z_{kj} = 1` the towers read the plain sum
    :math:`\sum_j \mathbf{u}_j`. Lower and upper layers, coding variables and the
    L0 penalty are described in :class:`SubNetworkRouting`.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        num_experts: number of lower sub-networks :math:`E`.
        expert_channels: layer sizes of each lower sub-network.
        tower_channels: hidden layer sizes of each task tower (may be empty).
        dropout: dropout probability in sub-networks and towers.
        l0_weight: coefficient :math:`\lambda` of the L0 penalty (``0``: none).
        beta: hard-concrete temperature :math:`\beta`.
        gamma: hard-concrete lower limit :math:`\gamma`.
        zeta: hard-concrete upper limit :math:`\zeta`.
        act: activation of sub-networks and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for sub-networks and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``, ``losses["snr_l0"]`` scalar
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
        l0_weight: float = 1e-4,
        beta: float = 2.0 / 3.0,
        gamma: float = -0.1,
        zeta: float = 1.1,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        expert_channels = tuple(expert_channels)
        super().__init__(
            in_channels=in_channels,
            tasks=tasks,
            route_channels=expert_channels[-1],
            num_experts=num_experts,
            expert_channels=expert_channels,
            tower_channels=tower_channels,
            dropout=dropout,
            l0_weight=l0_weight,
            beta=beta,
            gamma=gamma,
            zeta=zeta,
            act=act,
            norm=norm,
        )
        self.reset_parameters()

    def route(self, z: Tensor, u: Tensor) -> Tensor:
        return torch.einsum("kj,bjd->bkd", z, u)  # [B, K, D]
