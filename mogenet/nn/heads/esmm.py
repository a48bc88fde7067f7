"""Entire Space Multi-task Model (ESMM), generalised to a funnel of any length."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mogenet.nn.expert import tower_logits
from mogenet.nn.heads.base import TaskTowersHead
from mogenet.nn.heads.chain import Chain, chain_parents, chain_root, check_chain
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head

_LN2 = math.log(2.0)


def log1mexp(a: Tensor) -> Tensor:
    r""":math:`\log(1 - e^{a})` for :math:`a < 0`, accurate at both ends (Mächler, 2012):
    ``log(-expm1(a))`` for :math:`a > -\log 2`, ``log1p(-exp(a))`` below. Each branch
    only sees inputs from its own range, so neither can put a NaN into the gradient.
    :math:`a` is clamped to at most ``-tiny`` (the result stays finite at :math:`a = 0`).
    """
    a = a.clamp_max(-torch.finfo(a.dtype).tiny)
    near_zero = a > -_LN2
    hi = torch.log(-torch.expm1(torch.where(near_zero, a, -1.0)))
    lo = torch.log1p(-torch.exp(torch.where(near_zero, -1.0, a)))
    return torch.where(near_zero, hi, lo)


def funnel_logits(conditional: Mapping[str, Tensor], chain: Chain) -> dict[str, Tensor]:
    r"""Logits of the chain marginals from the logits of the conditionals:

    .. math::
        \log p_k = \sum_{j \le k} \log\sigma(c_j), \qquad
        o_k = \log p_k - \log(1 - p_k) = \log p_k - \mathrm{log1mexp}(\log p_k)

    (:math:`c_1` is returned unchanged as :math:`o_1`). Computed in log space, so
    :math:`c_j = \pm 50` gives finite logits and gradients. :math:`o_k \le o_{k-1}`
    holds exactly: ``torch.minimum`` removes the last-ulp rounding of the log-space
    round trip (an identity in exact arithmetic). In a branching funnel the sum runs
    over the task's ancestors (:func:`~mogenet.nn.heads.chain.chain_parents`).

    Args:
        conditional: chain task → ``[B]`` logit of :math:`p(t_k \mid t_{k-1})`
            (of :math:`p(t_1)` for the first step).
        chain: the funnel (a chain or its branches; see
            :func:`~mogenet.nn.heads.chain.check_chain`).
    """
    root = chain_root(chain)
    out = {root: conditional[root]}
    log_p = {root: F.logsigmoid(conditional[root])}  # [B] each
    for task, parent in chain_parents(chain).items():  # parents come first
        log_p[task] = log_p[parent] + F.logsigmoid(conditional[task])  # log p(t_1 … t_k)
        out[task] = torch.minimum(log_p[task] - log1mexp(log_p[task]), out[parent])
    return out


@register_head("esmm")
class ESMM(TaskTowersHead):
    r"""The Entire Space Multi-task Model of `"Entire Space Multi-Task Model: An
    Effective Approach for Estimating Post-Click Conversion Rate"
    <https://doi.org/10.1145/3209978.3210104>`_ (Ma et al., SIGIR'18), extended from
    impression → click → conversion to a chain :math:`t_1 \to \dots \to t_T`:

    .. math::
        p(t_1, \dots, t_k \mid \mathbf{x}) = \prod_{j \le k}
        \sigma\big(c_j(\mathbf{x})\big), \qquad
        c_j = \text{logit } p(t_j = 1 \mid t_{j-1} = 1, \mathbf{x})

    One tower :math:`c_j` per chain step (for two steps: the CTR and CVR towers) reads
    the shared input :math:`\mathbf{x} = [\mathbf{x}_u \Vert \mathbf{x}_i]`, whose
    embeddings the model's encoders share across tasks (ESMM's embedding sharing).
    ``logits[t_k]`` is the logit of the product (pCTR, pCTCVR, …), computed in log
    space by :func:`funnel_logits`; it never increases along the chain. The
    conditional logits :math:`c_k` (pCVR, …) are *not* supervised: every task's loss
    is the plain BCE of its marginal over **all** impressions (the entire space),
    so nothing is masked and the loss needs no special case.
    ``aux["<t_k>_given_<t_{k-1}>"]`` holds :math:`c_k` for :math:`k \ge 2` (with
    ``chain=["click", "buy"]``: ``aux["buy_given_click"]``, the pCVR logit).

    The product presumes nested labels (:math:`t_k = 1 \Rightarrow t_{k-1} = 1`);
    leave a task out of the chain when that is false for it. A branching funnel
    (:func:`~mogenet.nn.heads.chain.check_chain`, e.g. ``[[click, cart, buy], [click,
    fav]]``) multiplies along each task's path from the root. A task outside the
    chain gets its own tower, and its logit is that tower's output (no product).

    Each tower is one MLP ``in_channels → hidden_channels → tower_channels → 1``
    (:func:`~mogenet.nn.expert.tower_mlp`); the split only keeps the shared
    ``model.tower_channels`` setting meaningful (with the defaults the path
    ``64 → 32 → 16 → 1`` matches :class:`~mogenet.nn.heads.MMoE`'s). The graph
    tensor ``z`` is ignored; ``gates`` is ``None``.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        chain: the funnel order (default: ``tasks`` in order), or its branches; see
            :func:`~mogenet.nn.heads.chain.check_chain`.
        hidden_channels: first hidden layer sizes of every tower.
        tower_channels: further hidden layer sizes of every tower.
        dropout: dropout probability after each hidden layer.
        act: activation of the towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for the towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``; ``aux["<task>_given_<parent>"]`` ``[B]``
    """

    repr_fields = ("chain", "hidden_channels", "tower_channels")

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        chain: Sequence[str] | Sequence[Sequence[str]] | None = None,
        hidden_channels: Sequence[int] = (64, 32),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            tasks=tasks,
            hidden_channels=hidden_channels,
            tower_channels=tower_channels,
            dropout=dropout,
            act=act,
            norm=norm,
        )
        self.chain = check_chain(chain, self.tasks)
        self.parents = chain_parents(self.chain)
        self.hidden_channels = tuple(hidden_channels)
        self.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        own = tower_logits(self.towers, x)  # [B] each
        marginal = funnel_logits(own, self.chain)
        logits = {task: marginal.get(task, own[task]) for task in self.tasks}
        aux = {f"{task}_given_{parent}": own[task] for task, parent in self.parents.items()}
        return HeadOutput(logits=logits, gates=None, aux=aux)
