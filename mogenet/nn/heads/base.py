"""The interface every multi-task head implements."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn

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
    :meth:`reset_parameters` and put their hyper-parameters in :meth:`extra_repr`
    (shown by the one-line ``__repr__``).

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

    def __init__(self, *, in_channels: int, tasks: Sequence[str]) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.in_channels = int(in_channels)
        self.tasks: tuple[str, ...] = check_tasks(tasks)

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    @abstractmethod
    def reset_parameters(self) -> None:
        """Re-initialise every learnable parameter."""

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

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra = f", {extra}" if extra else ""
        return f"{self.__class__.__name__}({self.in_channels}, tasks={list(self.tasks)}{extra})"
