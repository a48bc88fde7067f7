r"""Multi-task losses: per-task BCE with logits, task weighting, auxiliary terms.

MoGENet (`"Mixture of Graph Enhanced Expert Networks for Multi-task Recommendation"
<https://doi.org/10.1007/978-3-031-20868-3_1>`_, §2.3) trains with

.. math::
    \mathcal{L} = \underbrace{\sum_k \tfrac{1}{\sigma_k^2}\mathcal{L}^k
    + \log \sigma_k^2}_{\text{Eq. 6}} + \beta \mathcal{L}_{co} + \lambda \lVert\Theta\rVert^2

:class:`MultiTaskLoss` computes the first two terms; the L2 term
:math:`\lambda \lVert\Theta\rVert^2` is the optimiser's ``weight_decay``. Task
weightings are small modules registered by name in :data:`WEIGHTINGS`
(``"uncertainty"``, ``"fixed"``), so another scheme is one decorated class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mogenet.nn.heads.base import check_tasks
from mogenet.nn.output import HeadOutput, PairEmbeddings
from mogenet.nn.resolver import Registry

#: Task-weighting schemes by name.
WEIGHTINGS: Registry[TaskWeighting] = Registry("task weighting")


@dataclass
class LossOutput:
    r"""The result of :class:`MultiTaskLoss`.

    Args:
        total: scalar to back-propagate.
        per_task: task name → scalar *unweighted* BCE (mean over the unmasked rows).
            Still attached to the graph (schemes such as GradNorm need that); call
            ``.detach()`` / ``.item()`` to log.
        weights: task name → detached scalar weight applied to ``per_task`` this
            step (:math:`1/\sigma_k^2` for uncertainty weighting).
        terms: named components of ``total`` (``"main"``, ``"cooperative"``, …),
            attached, for logging.
    """

    total: Tensor
    per_task: dict[str, Tensor]
    weights: dict[str, Tensor] = field(default_factory=dict)
    terms: dict[str, Tensor] = field(default_factory=dict)


class TaskWeighting(nn.Module, ABC):
    """Combines per-task losses into one scalar; subclasses register in
    :data:`WEIGHTINGS`.

    Args:
        tasks: task names.
        weights: per-task constants, for schemes that take them.
    """

    def __init__(self, *, tasks: Sequence[str], weights: Mapping[str, float] | None = None):
        super().__init__()
        self.tasks = check_tasks(tasks)

    @abstractmethod
    def forward(self, per_task: dict[str, Tensor]) -> Tensor:
        """Per-task losses → the weighted total."""

    @abstractmethod
    def task_weights(self) -> dict[str, Tensor]:
        """Task name → current (detached) scalar weight of its loss."""

    def reset_parameters(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(tasks={list(self.tasks)})"


@WEIGHTINGS.register("uncertainty")
class UncertaintyWeighting(TaskWeighting):
    r"""Homoscedastic-uncertainty weighting from `"Multi-Task Learning Using
    Uncertainty to Weigh Losses for Scene Geometry and Semantics"
    <https://arxiv.org/abs/1705.07115>`_ (Kendall, Gal & Cipolla, CVPR'18), in the
    form of MoGENet Eq. 6:

    .. math::
        \mathcal{L} = \sum_k e^{-s_k} \mathcal{L}^k + s_k, \qquad s_k = \log \sigma_k^2

    :math:`s_k` is learnt, initialised to 0 (weight 1) and not clamped.

    Args:
        tasks: task names; ``log_var[task]`` holds :math:`s_k`.
    """

    def __init__(self, *, tasks: Sequence[str], weights: Mapping[str, float] | None = None):
        super().__init__(tasks=tasks)
        if weights is not None:
            raise ValueError("uncertainty weighting learns its weights; do not pass `weights`")
        self.log_var = nn.ParameterDict({t: nn.Parameter(torch.zeros(())) for t in self.tasks})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for s in self.log_var.values():
            nn.init.zeros_(s)

    def forward(self, per_task: dict[str, Tensor]) -> Tensor:
        terms = [torch.exp(-self.log_var[t]) * per_task[t] + self.log_var[t] for t in self.tasks]
        return torch.stack(terms).sum()

    def task_weights(self) -> dict[str, Tensor]:
        return {t: torch.exp(-self.log_var[t]).detach() for t in self.tasks}


@WEIGHTINGS.register("fixed")
class FixedWeighting(TaskWeighting):
    r"""Constant task weights:

    .. math::
        \mathcal{L} = \sum_k w_k \mathcal{L}^k

    Args:
        tasks: task names.
        weights: task name → :math:`w_k`; tasks left out weigh 1.
    """

    def __init__(self, *, tasks: Sequence[str], weights: Mapping[str, float] | None = None):
        super().__init__(tasks=tasks)
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(self.tasks))
        if unknown:
            raise ValueError(f"weights for unknown tasks {unknown}; tasks are {list(self.tasks)}")
        self.weights = {t: float(weights.get(t, 1.0)) for t in self.tasks}

    def forward(self, per_task: dict[str, Tensor]) -> Tensor:
        return torch.stack([self.weights[t] * per_task[t] for t in self.tasks]).sum()

    def task_weights(self) -> dict[str, Tensor]:
        return {t: torch.tensor(w) for t, w in self.weights.items()}

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(weights={self.weights})"


def cooperative_loss(gates: Mapping[str, Tensor]) -> Tensor:
    r"""MoGENet's cooperative loss (Eq. 7), averaged over the batch:

    .. math::
        \mathcal{L}_{co} = -\sum_k \sum_{n<m} g^k_n g^k_m
        = -\sum_k \tfrac{1}{2}\Big[\big(\textstyle\sum_n g^k_n\big)^2 - \sum_n (g^k_n)^2\Big]

    Minimising it spreads each gate's weight over the experts (balances their load).

    Args:
        gates: task name → ``[B, E]`` gate weights.
    """
    terms = []
    for g in gates.values():
        pairs = 0.5 * (g.sum(dim=-1).square() - g.square().sum(dim=-1))  # [B] Σ_{n<m} g_n g_m
        terms.append(pairs.mean())
    return -torch.stack(terms).sum()


def contrastive_loss(
    embeddings: PairEmbeddings, positive: Tensor, temperature: float = 0.2
) -> Tensor:
    r"""In-batch contrastive (sampled-softmax, InfoNCE) loss of the positive pairs.

    For every row :math:`b` whose ``positive`` label is 1 and every representation
    pair :math:`(\mathbf{u}, \mathbf{v})` of ``embeddings.pairs``, the batch's other
    items are the negatives:

    .. math::
        \mathcal{L}_{con} = \frac{1}{|\mathcal{P}|\,|\text{pairs}|}
        \sum_{\text{pairs}} \sum_{b \in \mathcal{P}} -\log
        \frac{\exp(\bar{\mathbf{u}}_b^\top \bar{\mathbf{v}}_b / \tau)}
        {\sum_{j=1}^{B} \exp(\bar{\mathbf{u}}_b^\top \bar{\mathbf{v}}_j / \tau)}

    with :math:`\bar{\cdot}` the L2-normalised vectors and :math:`\tau` the
    ``temperature``. A column :math:`j \ne b` whose item equals row :math:`b`'s is
    left out of the denominator (it is the same item, not a negative). Negatives are
    the items of the batch, i.e. drawn in proportion to how often items are logged,
    which keeps popularity out of what the term rewards: a positive must beat
    items as popular as itself. The labels used are the batch's own, as in the BCE;
    nothing is read from other examples.

    Under ``torchrun`` each process draws the negatives from its own slice of the
    global batch, so with this term on, N processes do not reproduce one process
    step for step (without it they do, to 1e-6).

    This term is not in the MoGENet paper. Binary cross-entropy on logged
    impressions compares a clicked item only with the items the same user was
    shown, which are often alike; the in-batch term adds the comparison with
    everyone else's items, the signal two-tower retrieval models train on. On the
    4000-user collaborative synthetic log it raised MMoE's and MoGENet's test GAUC
    on every task (``bench/collab.md``); on a sparser log (~15 impressions per
    user) it lowered the sparse ``buy`` task's by 5–6 points (README).

    Args:
        embeddings: the batch's pair representations.
        positive: ``[B]`` bool (or 0/1) — which rows are positive pairs.
        temperature: :math:`\tau` > 0.

    Returns:
        A scalar; 0 (attached to nothing) when the batch has no positive row.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    rows = positive.bool().nonzero(as_tuple=True)[0]  # [P]
    if rows.numel() == 0 or not embeddings.pairs:
        return positive.new_zeros((), dtype=torch.float32)
    item = embeddings.item
    duplicate = item[rows].unsqueeze(1) == item.unsqueeze(0)  # [P, B]
    duplicate[torch.arange(rows.numel(), device=rows.device), rows] = False
    terms = []
    for user, item_repr in embeddings.pairs.values():
        u = F.normalize(user[rows], dim=-1)  # [P, d]
        v = F.normalize(item_repr, dim=-1)  # [B, d]
        scores = (u @ v.T / temperature).masked_fill(duplicate, float("-inf"))  # [P, B]
        terms.append(F.cross_entropy(scores.float(), rows))
    return torch.stack(terms).mean()


class MultiTaskLoss(nn.Module):
    r"""Per-task binary cross-entropy on logits, combined by a task weighting, plus
    MoGENet's optional cooperative loss on the gates (Eq. 5–8):

    .. math::
        \mathcal{L}^k = \frac{1}{|M_k|} \sum_{b \in M_k}
        \mathrm{BCE}(o^k_b, y^k_b), \qquad
        \mathcal{L} = \sum_k e^{-s_k}\mathcal{L}^k + s_k \;+\; \beta\,\mathcal{L}_{co}

    plus every head-defined term of ``output.losses`` (already scaled by the head),
    where :math:`M_k` are the rows kept by ``mask[task]`` (all rows without a mask):
    masked rows add exactly 0 and do not count in the mean (a task with no kept row
    has loss 0). With ``weighting="fixed"`` the first sum is
    :math:`\sum_k w_k \mathcal{L}^k`. The L2 term of Eq. 8 is left to the
    optimiser's ``weight_decay``.

    Args:
        tasks: task names (keys of the logits and labels).
        weighting: ``"uncertainty"`` (learnt :math:`s_k = \log\sigma_k^2`, Kendall et
            al. CVPR'18) or ``"fixed"`` (any name in :data:`WEIGHTINGS`).
        weights: per-task :math:`w_k` for ``"fixed"`` (missing tasks weigh 1).
        cooperative: :math:`\beta` of the cooperative loss (0 disables it; > 0 needs a
            head that returns ``gates``).
        contrastive: :math:`\gamma` of the in-batch contrastive loss
            (:func:`contrastive_loss`, not in the paper; 0 disables it; > 0 needs the
            output's ``embeddings``, which :class:`~mogenet.nn.MultiTaskModel` sets).
        contrastive_task: the task whose positive rows are the contrastive loss's
            positive pairs (default: the first task).
        temperature: :math:`\tau` of the contrastive loss.

    Shapes:
        - **input:** ``output.logits[task]`` ``[B]``, ``labels[task]`` ``[B]`` 0/1,
          ``mask[task]`` ``[B]`` bool (or 0/1), ``output.gates[task]`` ``[B, E]``
        - **output:** :class:`LossOutput` with scalar ``total``
    """

    def __init__(
        self,
        *,
        tasks: Sequence[str],
        weighting: str = "uncertainty",
        weights: Mapping[str, float] | None = None,
        cooperative: float = 0.0,
        contrastive: float = 0.0,
        contrastive_task: str | None = None,
        temperature: float = 0.2,
    ) -> None:
        super().__init__()
        if cooperative < 0:
            raise ValueError(f"cooperative must be >= 0, got {cooperative}")
        if contrastive < 0:
            raise ValueError(f"contrastive must be >= 0, got {contrastive}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.tasks = check_tasks(tasks)
        if contrastive_task is not None and contrastive_task not in self.tasks:
            raise ValueError(
                f"contrastive_task {contrastive_task!r} is not a task ({', '.join(self.tasks)})"
            )
        self.cooperative = float(cooperative)
        self.contrastive = float(contrastive)
        self.contrastive_task = contrastive_task or self.tasks[0]
        self.temperature = float(temperature)
        self.weighting = WEIGHTINGS.resolve(weighting, tasks=self.tasks, weights=weights)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.weighting.reset_parameters()

    @property
    def log_var(self) -> nn.ParameterDict | None:
        r"""Task name → learnt :math:`s_k = \log\sigma_k^2` (``None`` unless uncertainty)."""
        return getattr(self.weighting, "log_var", None)

    def task_weights(self) -> dict[str, float]:
        r"""Task name → current weight of its loss (:math:`1/\sigma_k^2`), for logging."""
        return {t: float(w) for t, w in self.weighting.task_weights().items()}

    @property
    def sigma(self) -> dict[str, float]:
        r"""Task name → :math:`\sigma_k = w_k^{-1/2}`, for logging."""
        return {t: (w**-0.5 if w > 0 else float("inf")) for t, w in self.task_weights().items()}

    def bce(self, logit: Tensor, label: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean BCE-with-logits over the rows kept by ``mask`` (0 if none is kept)."""
        label = label.to(logit.dtype)
        if mask is None:
            return F.binary_cross_entropy_with_logits(logit, label)
        keep = mask.bool()
        # Zero the labels of dropped rows too, so a NaN label there cannot leak in.
        label = torch.where(keep, label, torch.zeros_like(label))
        loss = F.binary_cross_entropy_with_logits(logit, label, reduction="none")  # [B]
        loss = torch.where(keep, loss, torch.zeros_like(loss))
        return loss.sum() / keep.sum().clamp_min(1)

    def forward(
        self,
        output: HeadOutput,
        labels: Mapping[str, Tensor],
        mask: Mapping[str, Tensor] | None = None,
    ) -> LossOutput:
        for name, d in (("logits", output.logits), ("labels", labels)):
            missing = [t for t in self.tasks if t not in d]
            if missing:
                raise KeyError(f"{name} lack tasks {missing} (have {list(d)})")
        mask = mask or {}
        per_task = {t: self.bce(output.logits[t], labels[t], mask.get(t)) for t in self.tasks}
        main = self.weighting(per_task)
        terms = {"main": main}
        total = main
        if self.cooperative > 0:
            if output.gates is None:
                raise ValueError("cooperative loss needs gates, but the head returned none")
            co = cooperative_loss({t: output.gates[t] for t in self.tasks})
            terms["cooperative"] = co
            total = total + self.cooperative * co
        if self.contrastive > 0:
            if output.embeddings is None:
                raise ValueError(
                    "contrastive loss needs the pair embeddings, but the output has none "
                    "(call the head through a MultiTaskModel)"
                )
            positive = labels[self.contrastive_task].bool()
            keep = mask.get(self.contrastive_task)
            if keep is not None:
                positive = positive & keep.bool()
            con = contrastive_loss(output.embeddings, positive, self.temperature)
            terms["contrastive"] = con
            total = total + self.contrastive * con
        for name, term in output.losses.items():  # head-defined terms (calibration, …)
            if name in terms:
                raise ValueError(f"head loss term '{name}' clashes with a built-in term")
            terms[name] = term
            total = total + term
        return LossOutput(
            total=total,
            per_task=per_task,
            weights=self.weighting.task_weights(),
            terms=terms,
        )

    def __repr__(self) -> str:
        co = f", cooperative={self.cooperative}" if self.cooperative else ""
        if self.contrastive:
            co += f", contrastive={self.contrastive} on '{self.contrastive_task}'"
        return f"{self.__class__.__name__}(tasks={list(self.tasks)}, {self.weighting!r}{co})"
