"""Adaptive Information Transfer Multi-task (AITM) framework."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mogenet.nn.expert import expert_mlp, task_towers, tower_logits
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.heads.chain import calibration_losses, chain_parents, check_chain
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


class AdaptiveInformationTransfer(nn.Module):
    r"""The attention of AITM's AIT module (Xi et al., KDD'21): weighs the
    information :math:`\mathbf{p}_{t-1}` transferred from the previous task against
    the current task's own representation :math:`\mathbf{q}_t`,

    .. math::
        \mathbf{z}_t = \sum_{\mathbf{u} \in \{\mathbf{p}_{t-1}, \mathbf{q}_t\}}
        w_{\mathbf{u}}\, h_3(\mathbf{u}), \qquad
        w_{\mathbf{u}} = \frac{\exp \hat w_{\mathbf{u}}}
        {\sum_{\mathbf{u}'} \exp \hat w_{\mathbf{u}'}}, \qquad
        \hat w_{\mathbf{u}} = \frac{\langle h_1(\mathbf{u}), h_2(\mathbf{u})\rangle}{\sqrt{k}}

    with :math:`h_1, h_2, h_3` bias-free linear maps :math:`k \to k` (as the authors'
    code). Each candidate scores itself (query and key of the same vector), so the
    softmax is over the two candidates, not a pairwise attention matrix.

    Args:
        channels: size :math:`k` of :math:`\mathbf{p}` and :math:`\mathbf{q}`.

    Shapes:
        - **input:** ``p`` ``[B, k]``, ``q`` ``[B, k]``
        - **output:** ``z`` ``[B, k]`` and the weights ``[B, 2]`` of ``(p, q)``
          (rows sum to 1)
    """

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = channels
        self.h1 = nn.Linear(channels, channels, bias=False)
        self.h2 = nn.Linear(channels, channels, bias=False)
        self.h3 = nn.Linear(channels, channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.h1, self.h2, self.h3):
            lin.reset_parameters()

    def forward(self, p: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        u = torch.stack([p, q], dim=1)  # [B, 2, k]
        score = (self.h1(u) * self.h2(u)).sum(-1) / math.sqrt(self.channels)  # [B, 2]
        w = torch.softmax(score, dim=1)  # [B, 2]
        z = torch.einsum("bu,buk->bk", w, self.h3(u))  # [B, k]
        return z, w

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"


@register_head("aitm")
class AITM(MultiTaskHead):
    r"""The Adaptive Information Transfer Multi-task framework of `"Modeling the
    Sequential Dependence among Audience Multi-step Conversions with Multi-task
    Learning in Targeted Display Advertising"
    <https://doi.org/10.1145/3447548.3467071>`_ (Xi et al., KDD'21).

    Along the chain :math:`t_1 \to \dots \to t_T`, each task has a tower
    :math:`\mathbf{q}_t = f_t(\mathbf{x})` on the shared input, and the AIT module
    (:class:`AdaptiveInformationTransfer`) mixes in what the previous task passes on:

    .. math::
        \mathbf{z}_1 = \mathbf{q}_1, \qquad
        \mathbf{p}_{t-1} = g_{t}(\mathbf{z}_{t-1}), \qquad
        \mathbf{z}_t = \mathrm{AIT}(\mathbf{p}_{t-1}, \mathbf{q}_t), \qquad
        o_t = \mathbf{v}_t^\top \mathbf{z}_t

    where the transfer :math:`g_t` is one ReLU layer :math:`k \to k` with dropout (the
    authors' code) and :math:`o_t` is the task's logit. The behavioural expectation
    calibrator adds

    .. math::
        \alpha\, \mathcal{L}_{lc} = \alpha \sum_{t=2}^{T} \frac{1}{B} \sum_b
        \max\big(\sigma(o^t_b) - \sigma(o^{t-1}_b), 0\big)

    as ``losses["calibration"]`` (:func:`~mogenet.nn.heads.chain.calibration_penalty`;
    :class:`~mogenet.losses.MultiTaskLoss` adds it to the total), with the paper's
    :math:`\alpha` = 0.6 (the authors' ``--weight 0.6``) by default; 0 turns it off.
    Every task's BCE is over all impressions, as in the paper.

    The paper has two tasks; with more, every step :math:`t \ge 2` has its own
    transfer :math:`g_t` and AIT parameters. In a branching funnel
    (:func:`~mogenet.nn.heads.chain.check_chain`), :math:`t-1` is :math:`t`'s parent,
    so siblings read the same :math:`\mathbf{z}`. A task outside ``chain`` keeps
    :math:`\mathbf{z} = \mathbf{q}` (like the first step) and is not calibrated.
    ``aux["<task>_transfer_weight"]`` is :math:`w_{\mathbf{p}_{t-1}}` ``[B]``, the share
    of the transferred information, for each step :math:`t \ge 2`.

    The towers :math:`f_t` are :func:`~mogenet.nn.expert.expert_mlp` s of sizes
    ``hidden_channels`` (the paper: 128, 64, 32 on 18 five-dimensional field
    embeddings), and :math:`\mathbf{v}_t` is a :func:`~mogenet.nn.expert.tower_mlp`
    with ``tower_channels`` hidden layers (the paper: none). The graph tensor ``z``
    is ignored; ``gates`` is ``None``.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        chain: the funnel order (default: ``tasks`` in order), or its branches; see
            :func:`~mogenet.nn.heads.chain.check_chain`.
        hidden_channels: layer sizes of each task tower :math:`f_t` (the last is
            :math:`k`).
        tower_channels: hidden layer sizes of each prediction layer :math:`\mathbf{v}_t`.
        dropout: dropout probability in towers, transfers and prediction layers.
        calibration_weight: :math:`\alpha` of the calibrator.
        act: activation of towers, transfers and prediction layers.
        norm: ``None`` or a PyG normalisation name for towers and prediction layers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``, ``losses["calibration"]`` scalar,
          ``aux["<task>_transfer_weight"]`` ``[B]``
    """

    repr_fields = ("chain", "hidden_channels", "tower_channels", "calibration_weight")

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        chain: Sequence[str] | Sequence[Sequence[str]] | None = None,
        hidden_channels: Sequence[int] = (64, 32),
        tower_channels: Sequence[int] = (),
        dropout: float = 0.0,
        calibration_weight: float = 0.6,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        if calibration_weight < 0:
            raise ValueError(f"calibration_weight must be >= 0, got {calibration_weight}")
        if len(hidden_channels) == 0:
            raise ValueError("AITM's task towers need at least one layer (hidden_channels)")
        self.chain = check_chain(chain, self.tasks)
        self.parents = chain_parents(self.chain)
        self.hidden_channels = tuple(hidden_channels)
        self.tower_channels = tuple(tower_channels)
        self.calibration_weight = float(calibration_weight)
        k = self.hidden_channels[-1]
        self.encoders = nn.ModuleDict(
            {
                task: expert_mlp(
                    in_channels=in_channels,
                    channels=self.hidden_channels,
                    act=act,
                    norm=norm,
                    dropout=dropout,
                )
                for task in self.tasks
            }
        )
        self.transfers = nn.ModuleDict(
            {
                task: expert_mlp(in_channels=k, channels=(k,), act=act, dropout=dropout)
                for task in self.parents
            }
        )
        self.ait = nn.ModuleDict(
            {task: AdaptiveInformationTransfer(channels=k) for task in self.parents}
        )
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=k,
            channels=self.tower_channels,
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        rep = {task: self.encoders[task](x) for task in self.tasks}  # q_t [B, k]
        aux = {}
        for task, parent in self.parents.items():  # chain order: z of the parent is ready
            p = self.transfers[task](rep[parent])  # [B, k]
            rep[task], w = self.ait[task](p, rep[task])  # z_t [B, k], w [B, 2]
            aux[f"{task}_transfer_weight"] = w[:, 0]
        logits = tower_logits(self.towers, rep)  # [B] each
        losses = calibration_losses(logits, self.chain, self.calibration_weight)
        return HeadOutput(logits=logits, gates=None, aux=aux, losses=losses)
