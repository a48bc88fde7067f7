"""Multi-task learning framework with features based on Behavioural Pattern Conversion
(BPCM)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mogenet.nn.expert import expert_mlp, task_towers, tower_logits
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.heads.chain import calibration_losses, chain_parents, check_chain
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


class FieldAttention(nn.Module):
    r"""Scaled dot-product attention over feature fields (BPCM Eq. 2–3, the
    Transformer's attention with one head and no output projection):

    .. math::
        \mathrm{Attention}(\mathbf{E}, \mathbf{C}) = \mathrm{softmax}\Big(
        \frac{\mathbf{E}\mathbf{W}_Q (\mathbf{C}\mathbf{W}_K)^\top}{\sqrt{d}}\Big)
        \mathbf{C}\mathbf{W}_V

    Self-attention when the context :math:`\mathbf{C}` is :math:`\mathbf{E}` itself.
    :math:`\mathbf{W}_Q, \mathbf{W}_K, \mathbf{W}_V \in \mathbb{R}^{d \times d}`
    (bias-free, as in the paper).

    Args:
        channels: field width :math:`d`.

    Shapes:
        - **input:** ``query`` ``[B, L, d]``, ``context`` ``[B, M, d]`` (default: ``query``)
        - **output:** ``[B, L, d]``
    """

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = channels
        self.lin_q = nn.Linear(channels, channels, bias=False)
        self.lin_k = nn.Linear(channels, channels, bias=False)
        self.lin_v = nn.Linear(channels, channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.lin_q, self.lin_k, self.lin_v):
            lin.reset_parameters()

    def forward(self, query: Tensor, context: Tensor | None = None) -> Tensor:
        context = query if context is None else context
        return F.scaled_dot_product_attention(  # scale 1/sqrt(d)
            self.lin_q(query), self.lin_k(context), self.lin_v(context)
        )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"


class ComplementaryGate(nn.Module):
    r"""BPCM's feature complementary gate unit, FCGate (Eq. 5–6): a GRU-style update
    gate that blends the attention output and the aggregated features with
    complementary weights :math:`\mathbf{W}_b` and :math:`1 - \mathbf{W}_b`,

    .. math::
        \mathbf{W}_b = \sigma(\mathbf{E}_{org}\mathbf{W}_C + \mathbf{E}_{Att}\mathbf{W}_D
        + \mathbf{b}), \qquad
        \mathbf{q} = \mathbf{E}_{Att} \odot \mathbf{W}_b
        + \mathbf{E}_{org} \odot (1 - \mathbf{W}_b)

    so every entry of :math:`\mathbf{q}` lies between those of :math:`\mathbf{E}_{Att}`
    and :math:`\mathbf{E}_{org}`. The paper writes no bias; one bias :math:`\mathbf{b}`
    (as in a GRU gate) lets the gate learn a default preference.

    Args:
        channels: field width :math:`d`.

    Shapes:
        - **input:** ``att`` ``[B, I, d]``, ``org`` ``[B, I, d]``
        - **output:** ``q`` ``[B, I, d]`` and the gate :math:`\mathbf{W}_b` ``[B, I, d]``
          (entries in ``(0, 1)``)
    """

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.lin_org = nn.Linear(channels, channels)
        self.lin_att = nn.Linear(channels, channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin_org.reset_parameters()
        self.lin_att.reset_parameters()

    def forward(self, att: Tensor, org: Tensor) -> tuple[Tensor, Tensor]:
        gate = torch.sigmoid(self.lin_org(org) + self.lin_att(att))  # [B, I, d]
        return att * gate + org * (1 - gate), gate

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"


class FeatureTower(nn.Module):
    r"""BPCM's feature tower (§3.3) for one task: self-attention over the field
    embeddings :math:`\mathbf{E}_F`, a feature-aware aggregation unit (FAU) and the
    complementary gate,

    .. math::
        \mathbf{E}_{Att} = \mathrm{Attention}(\mathbf{E}_F), \quad
        \mathrm{vec}\,\mathbf{E}_{org} = \mathrm{ReLU}\big(\mathbf{W}_2\,
        \mathrm{ReLU}(\mathbf{W}_1 \mathrm{vec}\,\mathbf{E}_F + \mathbf{b}_1)
        + \mathbf{b}_2\big), \quad
        \mathbf{q} = \mathrm{FCGate}(\mathbf{E}_{Att}, \mathbf{E}_{org})

    Reading of Eq. 4: the FAU is meant to use "more comprehensive feature
    information" than the pairwise attention and to aggregate user and item
    features, so its two-layer MLP reads all fields at once (the flattened
    :math:`I \cdot d` vector) and is reshaped back to :math:`I \times d`.

    Args:
        num_fields: number of fields :math:`I`.
        channels: field width :math:`d`.
        aggregation_channels: hidden size of the FAU.
        act: activation of the FAU.
        dropout: dropout after each FAU layer.

    Shapes:
        - **input:** ``[B, I, d]``
        - **output:** ``q`` ``[B, I, d]`` and the gate ``[B, I, d]``
    """

    def __init__(
        self,
        *,
        num_fields: int,
        channels: int,
        aggregation_channels: int,
        act: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_fields = num_fields
        self.channels = channels
        self.attention = FieldAttention(channels=channels)
        self.aggregation = expert_mlp(
            in_channels=num_fields * channels,
            channels=(aggregation_channels, num_fields * channels),
            act=act,
            dropout=dropout,
        )
        self.gate = ComplementaryGate(channels=channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.attention.reset_parameters()
        self.aggregation.reset_parameters()
        self.gate.reset_parameters()

    def forward(self, fields: Tensor) -> tuple[Tensor, Tensor]:
        att = self.attention(fields)  # [B, I, d]
        org = self.aggregation(fields.flatten(1)).view_as(fields)  # [B, I, d]
        return self.gate(att, org)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(num_fields={self.num_fields}, channels={self.channels})"


@register_head("bpcm")
class BPCM(MultiTaskHead):
    r"""The BPCM head of "A Multi-task Learning Framework with Features Based on
    Behavioral Pattern Conversation" (Tang, Wang, Li & Shen; Heilongjiang University;
    the text the project works from has no DOI or venue).

    **Fields.** The paper attends over feature embeddings; this head receives the
    flat :math:`\mathbf{x} = [\mathbf{x}_u \Vert \mathbf{x}_i]`, read as ``num_fields``
    equal chunks of width :math:`d` = ``in_channels / num_fields``:
    :math:`\mathbf{E}_F \in \mathbb{R}^{I \times d}`. The default ``num_fields=2`` is
    the user and the item embedding (ids only). The encoders give every feature
    (id, each categorical column, the numeric projection) ``embedding_dim`` columns,
    so ``num_fields = in_channels / embedding_dim`` attends over the real features.

    **Per task** :math:`t` a :class:`FeatureTower` gives
    :math:`\mathbf{q}_t \in \mathbb{R}^{I \times d}` (Eq. 2–6). **Behaviour pattern
    conversion** along the chain (Eq. 7–9):

    .. math::
        \mathbf{Z}_1 = \mathbf{q}_1, \qquad
        \mathbf{h}_{t-1} = \mathrm{Dropout}(\mathbf{Z}_{t-1}), \qquad
        \mathbf{Z}_t = \mathrm{LN}\big(\mathrm{Attention}(\mathbf{q}_t,
        [\mathbf{h}_{t-1}; \mathbf{q}_t]) + \mathbf{q}_t\big)

    Readings: Eq. 9's :math:`\mathrm{Attention}(\mathbf{q}_{t}, \mathbf{h}_{t-1})`
    "assigns weights to the passed information and the original information", so
    the fields of :math:`\mathbf{q}_t` (queries) attend over the :math:`2I` rows of
    :math:`\mathbf{h}_{t-1}` and :math:`\mathbf{q}_t` (:class:`FieldAttention`, new
    parameters per step); the paper combines "Layer Normalization and Dropout in
    Transformer", so the residual is followed by a LayerNorm over :math:`d`
    (Transformer's "add & norm") and :math:`msg(\cdot)` is dropout
    (``message_dropout``). **Prediction** (Eq. 10): :math:`o_t =
    \mathrm{MLP}(\mathrm{vec}\,\mathbf{Z}_t)` (:func:`~mogenet.nn.expert.tower_mlp`,
    a logit). **Calibration** (Eq. 12–13):

    .. math::
        \alpha\, \mathcal{L}_{cr} = \alpha \sum_{t=2}^{T} \frac{1}{B} \sum_b
        \max\big(\sigma(o^t_b) - \sigma(o^{t-1}_b), 0\big)

    in ``losses["calibration"]`` (:func:`~mogenet.nn.heads.chain.calibration_penalty`).
    Eq. 12 as printed has a leading minus sign and :math:`\hat y_{t+1} - \hat y_t`
    from :math:`t = 2`; minimising that would *reward* a later task predicted above
    an earlier one, against the stated purpose, so this is AITM's calibrator (which
    BPCM builds on) over adjacent chain steps. :math:`\alpha` = 0.6 by default, the
    paper's best value (§4.5, also AITM's); 0 turns it off.

    In a branching funnel (:func:`~mogenet.nn.heads.chain.check_chain`),
    :math:`t-1` is :math:`t`'s parent. A task outside ``chain`` gets its feature
    tower and prediction with
    :math:`\mathbf{Z} = \mathbf{q}` (like the first step) and is not calibrated. The
    graph tensor ``z`` is ignored; ``gates`` is ``None``.

    Args:
        in_channels: size of each input sample (a multiple of ``num_fields``).
        tasks: task names.
        chain: the funnel order (default: ``tasks`` in order), or its branches; see
            :func:`~mogenet.nn.heads.chain.check_chain`.
        num_fields: number :math:`I` of equal-width fields ``x`` is split into.
        aggregation_channels: hidden size of each feature tower's FAU.
        tower_channels: hidden layer sizes of each prediction MLP.
        dropout: dropout probability in the FAUs and prediction MLPs.
        message_dropout: dropout of :math:`msg(\cdot)` between chain steps.
        calibration_weight: :math:`\alpha` of the calibrator.
        act: activation of the FAUs and prediction MLPs.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``, ``losses["calibration"]`` scalar
    """

    repr_fields = (
        "chain",
        "num_fields",
        "aggregation_channels",
        "tower_channels",
        "calibration_weight",
    )

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        chain: Sequence[str] | Sequence[Sequence[str]] | None = None,
        num_fields: int = 2,
        aggregation_channels: int = 64,
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        message_dropout: float = 0.1,
        calibration_weight: float = 0.6,
        act: str = "relu",
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        if num_fields < 1 or in_channels % num_fields != 0:
            raise ValueError(
                f"num_fields must be >= 1 and divide in_channels={in_channels} "
                f"(x is split into equal-width fields), got {num_fields}"
            )
        if calibration_weight < 0:
            raise ValueError(f"calibration_weight must be >= 0, got {calibration_weight}")
        self.chain = check_chain(chain, self.tasks)
        self.parents = chain_parents(self.chain)
        self.num_fields = int(num_fields)
        self.field_channels = in_channels // self.num_fields
        self.aggregation_channels = int(aggregation_channels)
        self.tower_channels = tuple(tower_channels)
        self.calibration_weight = float(calibration_weight)
        d = self.field_channels
        self.feature_towers = nn.ModuleDict(
            {
                task: FeatureTower(
                    num_fields=self.num_fields,
                    channels=d,
                    aggregation_channels=self.aggregation_channels,
                    act=act,
                    dropout=dropout,
                )
                for task in self.tasks
            }
        )
        self.message = nn.Dropout(message_dropout)
        self.conversions = nn.ModuleDict(
            {task: FieldAttention(channels=d) for task in self.parents}
        )
        self.norms = nn.ModuleDict({task: nn.LayerNorm(d) for task in self.parents})
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=in_channels,
            channels=self.tower_channels,
            act=act,
            dropout=dropout,
        )
        self.reset_parameters()

    def fields(self, x: Tensor) -> Tensor:
        """``[B, in_channels]`` → the field matrix :math:`\\mathbf{E}_F` ``[B, I, d]``."""
        return x.view(x.size(0), self.num_fields, self.field_channels)

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        e = self.fields(x)  # [B, I, d]
        rep = {task: self.feature_towers[task](e)[0] for task in self.tasks}  # q_t [B, I, d]
        for task, parent in self.parents.items():  # chain order: Z of the parent is ready
            q = rep[task]
            context = torch.cat([self.message(rep[parent]), q], dim=1)  # [B, 2I, d]
            rep[task] = self.norms[task](self.conversions[task](q, context) + q)  # Z_t
        logits = tower_logits(self.towers, {t: r.flatten(1) for t, r in rep.items()})  # [B] each
        losses = calibration_losses(logits, self.chain, self.calibration_weight)
        return HeadOutput(logits=logits, gates=None, losses=losses)
