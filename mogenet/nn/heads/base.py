"""The interface every multi-task head implements."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn
from torch_geometric.nn.inits import reset

from mogenet.nn.expert import expert_bank, task_towers, tower_logits
from mogenet.nn.output import HeadOutput

_TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    """Validate task names: a non-empty sequence of unique identifiers (they key
    :class:`~torch.nn.ModuleDict` s, so no ``.``, and must not be a bare string)."""
    if isinstance(tasks, str):
        raise ValueError(f"tasks must be a sequence of names, not the string '{tasks}'")
    tasks = tuple(tasks)
    if not tasks:
        raise ValueError("a multi-task head needs at least one task")
    bad = [t for t in tasks if not isinstance(t, str) or not _TASK_NAME.match(t)]
    if bad:
        raise ValueError(f"task names must be identifiers ([A-Za-z_][A-Za-z0-9_]*), got {bad}")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"duplicate task names in {list(tasks)}")
    return tasks


class MultiTaskHead(nn.Module, ABC):
    r"""Base class of multi-task heads: maps the pair representation
    :math:`\mathbf{x} = [\mathbf{x}_u \Vert \mathbf{x}_i]` (and, for graph-enhanced
    heads, the graph interactions :math:`\mathcal{Z}`) to one logit per task.

    Subclasses are built from typed keyword arguments, register themselves with
    :func:`~mogenet.nn.resolver.register_head`, end ``__init__`` with
    :meth:`reset_parameters` and name their hyper-parameters in :attr:`repr_fields`
    (or override :meth:`extra_repr`), shown by the one-line ``__repr__``.

    Args:
        in_channels: size of each input sample ``x``.
        tasks: task names; outputs are keyed by them, in this order.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``; ``z`` ``[B, N, D]`` or ``None``
        - **output:** :class:`HeadOutput` with ``logits[task]`` ``[B]`` and, for gated
          heads, ``gates[task]`` ``[B, E]``
    """

    #: Whether :meth:`forward` reads the graph-interaction tensor ``z`` (MoGENet's
    #: :math:`\mathcal{Z}`, Eq. 3). Models compute ``z`` only for heads that set it.
    uses_graph: ClassVar[bool] = False
    #: Extra inputs :meth:`forward` reads besides ``x`` and ``z``; the model passes
    #: them as keyword arguments only to heads that declare them (see
    #: :class:`~mogenet.nn.MultiTaskModel`): ``"sequence"`` gives ``sequence``
    #: ``[B, L, in_channels]`` (the pair representation of the user with each item of
    #: the user's behaviour history), ``sequence_labels`` ``[B, L, num_tasks]`` and
    #: ``sequence_mask`` ``[B, L]`` bool (``False`` = padding); ``"scenario"`` gives
    #: ``scenario`` ``[B]`` long scenario codes.  Empty for most heads.  A head that
    #: reads sequences has a ``max_length`` attribute (the ``L`` it is fed), one that
    #: reads scenarios a ``num_scenarios`` attribute (codes lie in ``[0, num_scenarios)``).
    inputs: ClassVar[frozenset[str]] = frozenset()
    #: Attributes :meth:`extra_repr` shows as ``name=value``, in this order (tuples
    #: as lists).
    repr_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, in_channels: int, tasks: Sequence[str]) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.in_channels = int(in_channels)
        self.tasks: tuple[str, ...] = check_tasks(tasks)

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    def reset_parameters(self) -> None:
        """Re-initialise every learnable parameter: by default every child module,
        in registration order (PyG's :func:`~torch_geometric.nn.inits.reset`, which
        enters :class:`~torch.nn.ModuleList` and :class:`~torch.nn.ModuleDict`).
        Heads with parameters of their own, or another initialisation, override it."""
        for child in self.children():
            reset(child)

    @abstractmethod
    def forward(self, x: Tensor, z: Tensor | None = None, **inputs: Tensor) -> HeadOutput:
        r"""Per-task logits.

        Args:
            x: ``[B, in_channels]`` pair representation.
            z: ``[B, N, D]`` graph-interaction tensor (one row per interaction
                :math:`\kappa(\cdot, \cdot)` of MoGENet Eq. 3) or ``None``. Heads with
                ``uses_graph = False`` ignore it.
            **inputs: the extra inputs the head declares in :attr:`inputs` (none for
                most heads, whose ``forward(x, z=None)`` never receives any).
        """

    def extra_repr(self) -> str:
        def plain(value):  # tuples (also nested, as a branching chain) print as lists
            return [plain(v) for v in value] if isinstance(value, tuple) else value

        return ", ".join(f"{name}={plain(getattr(self, name))}" for name in self.repr_fields)

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra = f", {extra}" if extra else ""
        return f"{self.__class__.__name__}({self.in_channels}, tasks={list(self.tasks)}{extra})"


class TaskTowersHead(MultiTaskHead):
    r"""Base of the heads whose tasks share nothing but the input: one independent
    MLP :math:`h^k` per task on :math:`\mathbf{x}` (:func:`~mogenet.nn.expert.tower_mlp`
    with the hidden layers ``hidden_channels + tower_channels``), as
    :class:`~mogenet.nn.heads.SingleTaskMLP` and :class:`~mogenet.nn.heads.ESMM`.
    :meth:`forward` returns the towers' logits :math:`h^k(\mathbf{x})`.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        hidden_channels: the first hidden layer sizes of every tower.
        tower_channels: the further hidden layer sizes of every tower.
        dropout: dropout probability after each hidden layer.
        act: activation after each hidden layer (a PyG activation name).
        norm: ``None`` or a PyG normalisation name after each hidden layer.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        hidden_channels: Sequence[int],
        tower_channels: Sequence[int],
        dropout: float,
        act: str,
        norm: str | None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        self.tower_channels = tuple(tower_channels)
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=in_channels,
            channels=(*hidden_channels, *self.tower_channels),
            act=act,
            norm=norm,
            dropout=dropout,
        )

    def forward(self, x: Tensor, z: Tensor | None = None) -> HeadOutput:
        return HeadOutput(logits=tower_logits(self.towers, x), gates=None)  # [B] each


class SharedExpertsHead(MultiTaskHead):
    r"""Base of the heads whose tasks read :math:`E` shared experts
    :math:`f_e(\mathbf{x})` (:func:`~mogenet.nn.expert.expert_bank`, run by
    :func:`~mogenet.nn.expert.run_experts`) through their own weighing of them, each
    into a tower :math:`h^k` (:class:`~mogenet.nn.heads.MMoE`,
    :class:`~mogenet.nn.heads.OMoE`, the SNR heads, MoGENet's
    :class:`~mogenet.nn.heads.GraphEnhancedExperts`).

    Builds ``experts``; the subclass then builds what weighs them (gates, coding
    variables) and calls :meth:`build_towers`, so that the modules are registered,
    and initialised by :meth:`reset_parameters`, in the order experts, weighing,
    towers.

    Args:
        in_channels: size of each input sample.
        tasks: task names.
        num_experts: number of shared experts :math:`E`.
        expert_channels: layer sizes of each expert.
        tower_channels: hidden layer sizes of each tower (may be empty).
        dropout: dropout probability in experts and towers.
        act: activation of experts and towers (a PyG activation name).
        norm: ``None`` or a PyG normalisation name for experts and towers.
    """

    repr_fields = ("num_experts", "expert_channels", "tower_channels")

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        num_experts: int,
        expert_channels: Sequence[int],
        tower_channels: Sequence[int],
        dropout: float,
        act: str,
        norm: str | None,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        self.num_experts = num_experts
        self.expert_channels = tuple(expert_channels)
        self.tower_channels = tuple(tower_channels)
        self._layer_options = dict(act=act, norm=norm, dropout=dropout)
        self.experts = expert_bank(
            num_experts=num_experts,
            in_channels=in_channels,
            channels=self.expert_channels,
            **self._layer_options,
        )

    def build_towers(self, in_channels: int | None = None) -> None:
        """Builds ``towers``, one per task, on ``in_channels`` (default: the experts'
        output size ``expert_channels[-1]``)."""
        self.towers = task_towers(
            tasks=self.tasks,
            in_channels=self.expert_channels[-1] if in_channels is None else in_channels,
            channels=self.tower_channels,
            **self._layer_options,
        )


class MixtureOfExpertsHead(SharedExpertsHead):
    r"""Base of :class:`~mogenet.nn.heads.MMoE` and :class:`~mogenet.nn.heads.OMoE`,
    whose tasks read softmax-gated mixtures of the shared experts: their common
    constructor (arguments as in :class:`SharedExpertsHead`, with MMoE's defaults)
    builds the experts, the gates (:meth:`build_gates`) and one tower per task on a
    mixture (``expert_channels[-1]`` wide), in this order.
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
        act: str = "relu",
        norm: str | None = None,
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
        self.build_gates()
        self.build_towers()
        self.reset_parameters()

    @abstractmethod
    def build_gates(self) -> None:
        """Builds the gate(s) over the ``num_experts`` experts, reading ``x``."""
