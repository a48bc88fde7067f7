"""Progressive Layered Extraction (PLE) and its one-level form, CGC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn.inits import reset

from mogenet.nn.expert import expert_bank, task_towers, tower_logits
from mogenet.nn.gate import Gate, mixture, task_gates
from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


class ExtractionLayer(nn.Module):
    r"""One extraction network (level) of PLE, i.e. a Customized Gate Control (CGC)
    unit: ``num_task_experts`` experts per task, ``num_shared_experts`` shared
    experts, one gate per task over [its own experts :math:`\Vert` shared experts]
    and, unless it is the last level, a shared gate over all experts.

    .. math::
        \mathbf{h}_k = \sum_{e} g^k(\mathbf{x}_k)_e \,
        \big[\mathbf{E}_k(\mathbf{x}_k) \,\Vert\, \mathbf{E}_s(\mathbf{x}_s)\big]_e,
        \qquad
        \mathbf{h}_s = \sum_{e} g^s(\mathbf{x}_s)_e \,
        \big[\mathbf{E}_1(\mathbf{x}_1) \Vert \cdots \Vert \mathbf{E}_K(\mathbf{x}_K)
        \Vert \mathbf{E}_s(\mathbf{x}_s)\big]_e

    where :math:`\mathbf{x}_k` is task :math:`k`'s input (and its gate's input) and
    :math:`\mathbf{x}_s` the shared input.

    Args:
        tasks: task names.
        in_channels: size of each input (task and shared inputs alike).
        num_shared_experts: shared experts of the level.
        num_task_experts: task-specific experts per task (may be 0).
        channels: layer sizes of each expert.
        shared_gate: whether to build the shared gate (every level but the last).
        act: activation of the experts (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for the experts.
        dropout: dropout probability in the experts.

    Shapes:
        - **input:** task inputs ``{task: [B, in_channels]}``, shared input
          ``[B, in_channels]``
        - **output:** ``({task: [B, channels[-1]]}, {task: [B, own + shared]},
          [B, channels[-1]] or None)``
    """

    def __init__(
        self,
        *,
        tasks: Sequence[str],
        in_channels: int,
        num_shared_experts: int,
        num_task_experts: int,
        channels: Sequence[int],
        shared_gate: bool,
        act: str = "relu",
        norm: str | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_shared_experts < 1 or num_task_experts < 0:
            raise ValueError(
                f"an extraction layer needs >= 1 shared and >= 0 task experts, "
                f"got {num_shared_experts} and {num_task_experts}"
            )
        self.tasks = tuple(tasks)
        self.num_shared_experts = num_shared_experts
        self.num_task_experts = num_task_experts
        kwargs = dict(
            in_channels=in_channels, channels=channels, act=act, norm=norm, dropout=dropout
        )
        self.shared_experts = expert_bank(num_experts=num_shared_experts, **kwargs)
        self.task_experts = nn.ModuleDict(
            {
                task: expert_bank(num_experts=num_task_experts, **kwargs)
                if num_task_experts
                else nn.ModuleList()
                for task in self.tasks
            }
        )
        self.task_gates = task_gates(
            tasks=self.tasks,
            in_channels=in_channels,
            num_experts=num_task_experts + num_shared_experts,
        )
        self.shared_gate = (
            Gate(
                in_channels=in_channels,
                num_experts=len(self.tasks) * num_task_experts + num_shared_experts,
            )
            if shared_gate
            else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for child in self.children():
            reset(child)

    def forward(
        self, task_inputs: Mapping[str, Tensor], shared_input: Tensor
    ) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor | None]:
        shared = [expert(shared_input) for expert in self.shared_experts]  # E_s × [B, D]
        own = {t: [expert(task_inputs[t]) for expert in self.task_experts[t]] for t in self.tasks}
        # task t mixes [own experts ‖ shared experts] ([B, E_t + E_s, D] → [B, D])
        gates = {t: self.task_gates[t](task_inputs[t]) for t in self.tasks}  # [B, E_t + E_s]
        outputs = {t: mixture(gates[t], torch.stack(own[t] + shared, 1)) for t in self.tasks}
        shared_output = None
        if self.shared_gate is not None:  # over every expert, K * E_t + E_s of them
            every = [e for t in self.tasks for e in own[t]] + shared
            shared_output = mixture(self.shared_gate(shared_input), torch.stack(every, 1))  # [B, D]
        return outputs, gates, shared_output

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(tasks={list(self.tasks)}, "
            f"num_shared_experts={self.num_shared_experts}, "
            f"num_task_experts={self.num_task_experts}, "
            f"shared_gate={self.shared_gate is not None})"
        )


@register_head("ple")
class PLE(MultiTaskHead):
    r"""The Progressive Layered Extraction head of `"Progressive Layered Extraction
    (PLE): A Novel Multi-Task Learning (MTL) Model for Personalized Recommendations"
    <https://doi.org/10.1145/3383313.3412236>`_ (Tang et al., RecSys'20).

    .. math::
        \mathbf{h}^{(l)}_k = \sum_{e} g^{k,l}\big(\mathbf{h}^{(l-1)}_k\big)_e
        \Big[\mathbf{E}^{(l)}_k\big(\mathbf{h}^{(l-1)}_k\big) \,\Vert\,
        \mathbf{E}^{(l)}_s\big(\mathbf{h}^{(l-1)}_s\big)\Big]_e,
        \qquad \mathbf{h}^{(0)}_k = \mathbf{h}^{(0)}_s = \mathbf{x},
        \qquad y_k = h^k\big(\mathbf{h}^{(L)}_k\big)

    Each of the :math:`L` levels is an :class:`ExtractionLayer`: task :math:`k`'s
    experts :math:`\mathbf{E}^{(l)}_k` and gate :math:`g^{k,l}` read task
    :math:`k`'s previous output, the shared experts :math:`\mathbf{E}^{(l)}_s` read the
    previous shared output :math:`\mathbf{h}^{(l-1)}_s`, produced at every level but
    the last by a shared gate over all the level's experts (task-specific of every
    task, then shared). The towers :math:`h^k` read the last level's task outputs.
    Every expert has the layers ``expert_channels`` (its input is ``in_channels`` at
    the first level, ``expert_channels[-1]`` above). With one level it is
    :class:`CGC`; with one level and no task-specific experts it is exactly
    :class:`~mogenet.nn.heads.MMoE` (the shared experts are MMoE's experts).
    ``gates[task]`` are the last level's task gates, over [own experts
    :math:`\Vert` shared experts]. The graph tensor ``z`` is ignored.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        num_levels: number of extraction levels :math:`L`.
        num_experts: shared experts per level (named as the shared
            :class:`~mogenet.config.ModelConfig` field).
        num_task_experts: task-specific experts per task and level (may be 0).
        expert_channels: layer sizes of each expert.
        tower_channels: hidden layer sizes of each tower (may be empty).
        dropout: dropout probability in experts and towers.
        act: activation of experts and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for experts and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``, ``gates[task]``
          ``[B, num_task_experts + num_experts]``
    """

    repr_fields = (
        "num_levels",
        "num_experts",
        "num_task_experts",
        "expert_channels",
        "tower_channels",
    )

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        num_levels: int = 2,
        num_experts: int = 4,
        num_task_experts: int = 1,
        expert_channels: Sequence[int] = (64, 32),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        if num_levels < 1:
            raise ValueError(f"num_levels must be >= 1, got {num_levels}")
        if num_experts < 1:
            raise ValueError(f"num_experts (shared experts) must be >= 1, got {num_experts}")
        if num_task_experts < 0:
            raise ValueError(f"num_task_experts must be >= 0, got {num_task_experts}")
        if len(expert_channels) == 0:
            raise ValueError("experts need at least one layer (expert_channels is empty)")
        self.num_levels = num_levels
        self.num_experts = num_experts
        self.num_task_experts = num_task_experts
        self.expert_channels = tuple(expert_channels)
        self.tower_channels = tuple(tower_channels)
        self.levels = nn.ModuleList(
            ExtractionLayer(
                tasks=self.tasks,
                in_channels=in_channels if level == 0 else self.expert_channels[-1],
                num_shared_experts=num_experts,
                num_task_experts=num_task_experts,
                channels=self.expert_channels,
                shared_gate=level < num_levels - 1,
                act=act,
                norm=norm,
                dropout=dropout,
            )
            for level in range(num_levels)
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
        task_inputs, shared_input = dict.fromkeys(self.tasks, x), x
        for level in self.levels:
            task_inputs, gates, shared_input = level(task_inputs, shared_input)
        return HeadOutput(logits=tower_logits(self.towers, task_inputs), gates=gates)


@register_head("cgc")
class CGC(PLE):
    r"""The Customized Gate Control head of `"Progressive Layered Extraction (PLE): A
    Novel Multi-Task Learning (MTL) Model for Personalized Recommendations"
    <https://doi.org/10.1145/3383313.3412236>`_ (Tang et al., RecSys'20):
    :class:`PLE` with a single extraction level.

    .. math::
        y_k = h^k\Big(\sum_{e} g^k(\mathbf{x})_e \,
        \big[\mathbf{E}_k(\mathbf{x}) \,\Vert\, \mathbf{E}_s(\mathbf{x})\big]_e\Big)

    with ``num_task_experts`` experts :math:`\mathbf{E}_k` per task, ``num_experts``
    shared experts :math:`\mathbf{E}_s`, one gate :math:`g^k` per task over [own
    experts :math:`\Vert` shared experts] and one tower :math:`h^k` per task. With no
    task-specific experts it is exactly :class:`~mogenet.nn.heads.MMoE`. The graph
    tensor ``z`` is ignored.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        num_experts: number of shared experts.
        num_task_experts: task-specific experts per task (may be 0).
        expert_channels: layer sizes of each expert.
        tower_channels: hidden layer sizes of each tower (may be empty).
        dropout: dropout probability in experts and towers.
        act: activation of experts and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for experts and towers.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``logits[task]`` ``[B]``, ``gates[task]``
          ``[B, num_task_experts + num_experts]``
    """

    repr_fields = PLE.repr_fields[1:]  # all but num_levels (always 1)

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        num_experts: int = 4,
        num_task_experts: int = 1,
        expert_channels: Sequence[int] = (64, 32),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
        act: str = "relu",
        norm: str | None = None,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            tasks=tasks,
            num_levels=1,
            num_experts=num_experts,
            num_task_experts=num_task_experts,
            expert_channels=expert_channels,
            tower_channels=tower_channels,
            dropout=dropout,
            act=act,
            norm=norm,
        )
