"""Automatic Expert Selection for Multi-Scenario and Multi-Task learning (AESM²)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from mogenet.nn.expert import expert_bank, run_experts, task_towers, tower_logits
from mogenet.nn.gate import mixture
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


class Selection(NamedTuple):
    """What an :class:`ExpertSelection` layer returns for ``N`` rows.

    Args:
        output: ``[N, D]`` mixture of the selected experts (Eq. 15 / 17).
        weights: ``[N, n]`` gate weights of the row's own gate; exactly
            ``top_k_specific + top_k_shared`` entries per row are non-zero.
        specific: ``[N, K_sp]`` indices of the specific experts :math:`\\mathcal{E}_{sp}`.
        shared: ``[N, K_sh]`` indices of the shared experts :math:`\\mathcal{E}_{sh}`.
        kl_specific: ``[N, K_sp]`` :math:`KL(\\mathbf{p}_j, \\tilde G[k, :])` of the
            specific experts (differentiable; the auxiliary loss, Eq. 20).
        kl_shared: ``[N, K_sh]`` :math:`KL(\\mathbf{q}, \\tilde G[k, :])` of the shared experts.
    """

    output: Tensor
    weights: Tensor
    specific: Tensor
    shared: Tensor
    kl_specific: Tensor
    kl_shared: Tensor


class ExpertSelection(nn.Module):
    r"""One multi-scenario or multi-task layer of AESM² (Fig. 4b/c, Eq. 7–15):
    :math:`n` experts, :math:`m` gates (one per scenario or task) and, for every
    row, a sparse choice of scenario/task-specific and shared experts for the
    row's own gate :math:`j`.

    .. math::
        \mathbf{g}_{j'} = \mathbf{S}_{j'}\,\mathbf{c} + \boldsymbol{\eta}_{j'},
        \qquad \tilde G[k, :] = \mathrm{softmax}_{j'}\big(\mathbf{g}_{j'}[k]\big),

        \mathcal{E}_{sp} = \mathrm{TopK}_{K_{sp}}\big(-KL(\mathbf{p}_j, \tilde G[k,:])\big),
        \qquad \mathcal{E}_{sh} = \mathrm{TopK}_{K_{sh}}\big(-KL(\mathbf{q}, \tilde G[k,:])\big),

        \hat{\mathbf{g}}_j[k] = \begin{cases} \mathbf{g}_j[k] & k \in \mathcal{E}_{sp}
        \cup \mathcal{E}_{sh} \\ -\infty & \text{else} \end{cases}, \qquad
        \mathbf{z} = \sum_k \mathrm{softmax}(\hat{\mathbf{g}}_j)_k\, f_k(\mathbf{x})

    with :math:`\mathbf{p}_j` the one-hot vector of gate :math:`j`, :math:`\mathbf{q}`
    the uniform one, :math:`\mathbf{c}` the gate input (the layer input and the
    scenario/task embeddings) and Gaussian noise :math:`\boldsymbol{\eta}` of standard
    deviation ``noise_scale`` :math:`\cdot n` (":math:`\|\eta\| \propto n`") in training
    only, used for the selection and the mixture (Eq. 8 puts it into
    :math:`\mathbf{g}_j`). Since :math:`\mathbf{p}_j` is one-hot,
    :math:`KL(\mathbf{p}_j, \tilde G[k,:]) = -\log \tilde G[k, j]`.

    Reading of the paper: the shared experts are chosen among the experts that are
    not specific, so every row mixes exactly :math:`K_{sp} + K_{sh}` distinct
    experts ("all MMoE variant models share the same number of activated experts",
    §4.1; with overlapping sets a row could activate fewer).

    The gates are one :class:`~torch.nn.Linear` producing all :math:`m \times n`
    logits, not :class:`~mogenet.nn.Gate` s: AESM² needs the raw logits (softmax
    across gates for the selection, masked softmax across experts for the mixture).

    Args:
        in_channels: size of each input row ``x`` (the experts' input).
        gate_channels: size of each gate input ``c``.
        num_gates: :math:`m`, the number of scenarios or tasks.
        num_experts: :math:`n`.
        channels: layer sizes of each expert (:func:`~mogenet.nn.expert.expert_mlp`).
        top_k_specific: :math:`K_{sp}`.
        top_k_shared: :math:`K_{sh}`.
        noise_scale: noise standard deviation per expert (0 disables the noise).
        act: expert activation.
        norm: expert normalisation.
        dropout: expert dropout.

    Shapes:
        - **input:** ``x`` ``[N, in_channels]``, ``c`` ``[N, gate_channels]``, ``own``
          ``[N]`` long gate index in ``[0, num_gates)``
        - **output:** :class:`Selection`
    """

    def __init__(
        self,
        *,
        in_channels: int,
        gate_channels: int,
        num_gates: int,
        num_experts: int,
        channels: Sequence[int],
        top_k_specific: int = 1,
        top_k_shared: int = 1,
        noise_scale: float = 0.1,
        act: str = "relu",
        norm: str | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_gates < 1 or num_experts < 1:
            raise ValueError(
                f"num_gates and num_experts must be >= 1, got {num_gates} and {num_experts}"
            )
        if top_k_specific < 0 or top_k_shared < 0 or top_k_specific + top_k_shared < 1:
            raise ValueError(
                f"top_k_specific and top_k_shared must be >= 0 and select at least one "
                f"expert, got {top_k_specific} and {top_k_shared}"
            )
        if top_k_specific + top_k_shared > num_experts:
            raise ValueError(
                f"top_k_specific + top_k_shared = {top_k_specific + top_k_shared} exceeds "
                f"num_experts={num_experts}"
            )
        if noise_scale < 0:
            raise ValueError(f"noise_scale must be >= 0, got {noise_scale}")
        self.num_gates = int(num_gates)
        self.num_experts = int(num_experts)
        self.top_k_specific = int(top_k_specific)
        self.top_k_shared = int(top_k_shared)
        self.noise_scale = float(noise_scale)
        self.experts = expert_bank(
            num_experts=num_experts,
            in_channels=in_channels,
            channels=channels,
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.out_channels = int(channels[-1])
        self.gate = nn.Linear(gate_channels, num_gates * num_experts)  # S_1 … S_m
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for expert in self.experts:
            expert.reset_parameters()
        self.gate.reset_parameters()

    def forward(self, x: Tensor, c: Tensor, own: Tensor) -> Selection:
        N, m, n = x.size(0), self.num_gates, self.num_experts
        logits = self.gate(c).view(N, m, n)  # [N, m, n] row j' = g_j' (Eq. 7-8)
        if self.training and self.noise_scale > 0:
            logits = logits + self.noise_scale * n * torch.randn_like(logits)
        log_g = torch.log_softmax(logits, dim=1)  # [N, m, n] log G~ (Eq. 9, over gates)
        index = own.long()[:, None, None].expand(N, 1, n)
        kl_sp = -log_g.gather(1, index).squeeze(1)  # [N, n] KL(p_j, G~[k, :]) (Eq. 11)
        kl_sh = -math.log(m) - log_g.mean(dim=1)  # [N, n] KL(q, G~[k, :]) (Eq. 13)
        specific = torch.topk(-kl_sp, self.top_k_specific, dim=1).indices  # [N, K_sp] (Eq. 10)
        taken = torch.zeros_like(kl_sh, dtype=torch.bool).scatter(1, specific, True)
        shared = torch.topk(  # [N, K_sh] (Eq. 12), among the non-specific experts
            (-kl_sh).masked_fill(taken, -math.inf), self.top_k_shared, dim=1
        ).indices
        selected = taken.scatter(1, shared, True)  # [N, n], K_sp + K_sh per row
        own_logits = logits.gather(1, index).squeeze(1)  # [N, n] g_j
        weights = torch.softmax(own_logits.masked_fill(~selected, -math.inf), dim=-1)  # Eq. 14
        output = mixture(weights, run_experts(self.experts, x))  # [N, D] (Eq. 15)
        return Selection(
            output=output,
            weights=weights,
            specific=specific,
            shared=shared,
            kl_specific=kl_sp.gather(1, specific),
            kl_shared=kl_sh.gather(1, shared),
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(num_gates={self.num_gates}, "
            f"num_experts={self.num_experts}, top_k=({self.top_k_specific}, "
            f"{self.top_k_shared}))"
        )


def _selection_layers(
    num_layers: int, in_channels: int, context_channels: int, **kwargs
) -> tuple[nn.ModuleList, int]:
    """``num_layers`` stacked :class:`ExpertSelection` layers (the first reads
    ``in_channels``, each next one the previous output) whose gates read the layer
    input and ``context_channels`` more (the embeddings), and their output size.
    ``kwargs`` go to every layer."""
    layers, size = nn.ModuleList(), in_channels
    for _ in range(num_layers):
        layers.append(
            ExpertSelection(in_channels=size, gate_channels=size + context_channels, **kwargs)
        )
        size = layers[-1].out_channels
    return layers, size


def _mean(t: Tensor) -> Tensor:
    """Mean of a possibly empty tensor (``K = 0`` selects nothing: 0)."""
    return t.mean() if t.numel() else t.new_zeros(())


@register_head("aesm2")
class AESM2(MultiTaskHead):
    r"""The AESM² head from the `"Automatic Expert Selection for Multi-Scenario and
    Multi-Task Search" <https://doi.org/10.1145/3477495.3531942>`_ paper (Zou et
    al., SIGIR'22): multi-task layers stacked over multi-scenario layers, each an
    :class:`ExpertSelection` that picks scenario/task-specific and shared experts
    per example by the KL divergence of the gate distribution to a one-hot and a
    uniform vector.

    .. math::
        \mathbf{z}_j = \mathrm{ScenarioLayer}(\mathbf{x}, \mathbf{s}_j), \qquad
        \mathbf{z}_k = \mathrm{TaskLayer}(\mathbf{z}_j, \mathbf{t}_k), \qquad
        o_k = \mathrm{MLP}_k(\mathbf{z}_k),

        \mathcal{L}_{aux} = \lambda_{sp} \sum_{\text{layers}}
            \overline{KL(\mathbf{p}, \tilde G[\mathcal{E}_{sp}, :])}
        + \lambda_{sh} \sum_{\text{layers}} \overline{KL(\mathbf{q}, \tilde G[\mathcal{E}_{sh}, :])}

    A scenario layer has one gate per scenario; its gate input is
    :math:`[\mathbf{x}, \mathbf{s}]` (Eq. 8) and a row uses the gate of its
    scenario. A task layer has one gate per task and one set of experts shared by
    the tasks (Fig. 5); task :math:`k`'s row has gate input
    :math:`[\mathbf{z}_k^{l-1}, \mathbf{s}, \mathbf{t}_k]` (Eq. 16) and uses gate
    :math:`k`. Scenario and task embeddings :math:`\mathbf{s}, \mathbf{t}_k` are learnt.
    The auxiliary loss (Eq. 20–21) averages the KL values of the selected experts
    over them and over the batch (Eq. 20 sums over the selected experts; the mean
    is what the reference implementation does, and its coefficients
    :math:`\lambda_{sp} = 10^{-3}`, :math:`\lambda_{sh} = 10^{-4}` are the defaults —
    the paper gives none). It is returned, already scaled, as
    ``losses["expert_selection"]``.

    One ``scenario`` column gives one level of scenarios: ``scenario_layers`` stacks
    layers over the same scenarios (the paper's channel → domain hierarchy, a
    different scenario per layer, is not supported; combine the levels into one
    column instead). With one scenario (or one task) every expert is equally
    specific and shared, and the selection is arbitrary but fixed. The pipeline
    codes scenarios by the training log's vocabulary
    (:class:`~mogenet.sampling.inputs.HeadInputs`, saved with the run); a scenario
    the training log lacks has no gate and is an :class:`~mogenet.errors.InputError`.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        num_scenarios: number of scenarios (codes ``0..num_scenarios-1``).
        num_experts: experts per multi-scenario layer.
        expert_channels: layer sizes of each multi-scenario expert.
        top_k_specific, top_k_shared: :math:`K_{sp}`, :math:`K_{sh}` of the scenario layers.
        task_experts: experts per multi-task layer.
        task_expert_channels: layer sizes of each multi-task expert.
        task_top_k_specific, task_top_k_shared: :math:`K_{sp}`, :math:`K_{sh}` of the
            task layers.
        scenario_layers: number of multi-scenario layers :math:`L_s`.
        task_layers: number of multi-task layers :math:`L_t`.
        embedding_dim: size of the scenario and task embeddings.
        noise_scale: gate-noise standard deviation per expert (training only).
        lambda_specific: :math:`\lambda_{sp}`.
        lambda_shared: :math:`\lambda_{sh}`.
        tower_channels: hidden layer sizes of each task tower.
        dropout: dropout in experts and towers.
        act: activation of experts and towers.
        norm: normalisation of experts and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``, ``scenario`` ``[B]`` long
        - **output:** ``logits[task]`` ``[B]``; ``gates[task]`` ``[B, task_experts]``
          (last task layer, ``task_top_k_specific + task_top_k_shared`` non-zero per
          row); ``aux["scenario_gates_<l>"]`` ``[B, num_experts]``;
          ``losses["expert_selection"]`` scalar
    """

    inputs = frozenset({"scenario"})

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        num_scenarios: int,
        num_experts: int = 8,
        expert_channels: Sequence[int] = (64,),
        top_k_specific: int = 2,
        top_k_shared: int = 2,
        task_experts: int = 4,
        task_expert_channels: Sequence[int] = (32,),
        task_top_k_specific: int = 1,
        task_top_k_shared: int = 1,
        scenario_layers: int = 1,
        task_layers: int = 1,
        embedding_dim: int = 8,
        noise_scale: float = 0.1,
        lambda_specific: float = 1e-3,
        lambda_shared: float = 1e-4,
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        if num_scenarios < 1:
            raise ValueError(f"num_scenarios must be >= 1, got {num_scenarios}")
        if scenario_layers < 1 or task_layers < 1 or embedding_dim < 1:
            raise ValueError(
                "scenario_layers, task_layers and embedding_dim must be >= 1, got "
                f"{scenario_layers}, {task_layers} and {embedding_dim}"
            )
        if lambda_specific < 0 or lambda_shared < 0:
            raise ValueError("lambda_specific and lambda_shared must be >= 0")
        self.num_scenarios = int(num_scenarios)
        self.num_experts = int(num_experts)
        self.task_experts = int(task_experts)
        self.expert_channels = tuple(expert_channels)
        self.task_expert_channels = tuple(task_expert_channels)
        self.tower_channels = tuple(tower_channels)
        self.lambda_specific = float(lambda_specific)
        self.lambda_shared = float(lambda_shared)
        self.scenario_embedding = nn.Embedding(num_scenarios, embedding_dim)
        self.task_embedding = nn.Embedding(self.num_tasks, embedding_dim)
        common = dict(noise_scale=noise_scale, act=act, norm=norm, dropout=dropout)
        self.scenario_layers, size = _selection_layers(  # gates read [h, s] (Eq. 8)
            scenario_layers,
            self.in_channels,
            embedding_dim,
            num_gates=num_scenarios,
            num_experts=num_experts,
            channels=self.expert_channels,
            top_k_specific=top_k_specific,
            top_k_shared=top_k_shared,
            **common,
        )
        self.task_layers, size = _selection_layers(  # gates read [h, s, t_k] (Eq. 16)
            task_layers,
            size,
            2 * embedding_dim,
            num_gates=self.num_tasks,
            num_experts=task_experts,
            channels=self.task_expert_channels,
            top_k_specific=task_top_k_specific,
            top_k_shared=task_top_k_shared,
            **common,
        )
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=size,
            channels=self.tower_channels,
            act=act,
            norm=norm,
            dropout=dropout,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Xavier-uniform embeddings, as the node encoders.
        nn.init.xavier_uniform_(self.scenario_embedding.weight)
        nn.init.xavier_uniform_(self.task_embedding.weight)
        for module in [*self.scenario_layers, *self.task_layers, *self.towers.values()]:
            module.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None, *, scenario: Tensor) -> HeadOutput:
        B, T = x.size(0), self.num_tasks
        scenario = scenario.long()
        s = self.scenario_embedding(scenario)  # [B, E_s]
        selections: list[Selection] = []
        aux = {}
        h = x
        for depth, layer in enumerate(self.scenario_layers):
            sel = layer(h, torch.cat([h, s], dim=-1), scenario)
            selections.append(sel)
            aux[f"scenario_gates_{depth}"] = sel.weights  # [B, n]
            h = sel.output  # [B, D]
        # Task layers: one row per (example, task), row b * T + k is task k of example b.
        task = torch.arange(T, device=x.device).repeat(B)  # [B * T]
        context = torch.cat(
            [s.repeat_interleave(T, dim=0), self.task_embedding(task)], dim=-1
        )  # [B * T, E_s + E_t]
        h = h.repeat_interleave(T, dim=0)  # [B * T, D]
        for layer in self.task_layers:
            sel = layer(h, torch.cat([h, context], dim=-1), task)
            selections.append(sel)
            h = sel.output
        h = h.view(B, T, -1)
        weights = sel.weights.view(B, T, -1)
        logits = tower_logits(self.towers, h.unbind(1))  # task k reads h[:, k]
        gates = {t: weights[:, k] for k, t in enumerate(self.tasks)}
        specific = sum(_mean(sel.kl_specific) for sel in selections)  # L_sp (Eq. 20)
        shared = sum(_mean(sel.kl_shared) for sel in selections)  # L_sh
        losses = {"expert_selection": self.lambda_specific * specific + self.lambda_shared * shared}
        return HeadOutput(logits=logits, gates=gates, aux=aux, losses=losses)

    def extra_repr(self) -> str:
        sc, tk = self.scenario_layers[0], self.task_layers[0]
        return (
            f"num_scenarios={self.num_scenarios}, num_experts={self.num_experts}, "
            f"top_k=({sc.top_k_specific}, {sc.top_k_shared}), task_experts={self.task_experts}, "
            f"task_top_k=({tk.top_k_specific}, {tk.top_k_shared}), "
            f"layers=({len(self.scenario_layers)}, {len(self.task_layers)})"
        )
