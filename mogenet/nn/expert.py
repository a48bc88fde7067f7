"""The one place that builds and runs expert and tower networks.

Experts, bottoms and towers are plain :class:`torch_geometric.nn.MLP` s; these
functions only fix the conventions every head shares, so a head never spells out
``plain_last`` or the channel list of a tower itself:

- an **expert** (or shared bottom) maps ``in_channels`` through ``channels`` and is
  activated after its *last* layer too (``plain_last=False``): its output is a hidden
  representation that gates mix and towers consume;
- a **tower** maps a representation to one logit per example; its last layer is
  plain (``plain_last=True``), so it returns a logit, never a probability;
- ``norm="layer_norm"`` normalises each example (PyG's default ``mode="graph"`` would
  normalise over the whole mini-batch, mixing examples).

:func:`run_experts` stacks a bank's outputs for a gate to mix
(:func:`~mogenet.nn.gate.mixture`) and :func:`tower_logits` turns per-task
representations into per-task logits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import MLP

# Per-example normalisation: PyG's LayerNorm defaults to mode="graph" (whole batch).
_NORM_KWARGS: dict[str, dict] = {"layer_norm": {"mode": "node"}}


def _check(name: str, in_channels: int, channels: Sequence[int]) -> list[int]:
    channel_list = [int(in_channels), *(int(c) for c in channels)]
    if any(c < 1 for c in channel_list):
        raise ValueError(f"{name} channels must be positive, got {channel_list}")
    return channel_list


def expert_mlp(
    *,
    in_channels: int,
    channels: Sequence[int],
    act: str | None = "relu",
    norm: str | None = None,
    dropout: float = 0.0,
) -> MLP:
    """An expert (or shared-bottom) network ``in_channels → channels[0] → … → channels[-1]``
    with ``act`` (and ``norm``, ``dropout``) after every layer, the last included.

    Args:
        in_channels: size of each input sample.
        channels: output sizes of the layers (at least one).
        act: activation name resolved by PyG (``"relu"``, ``"leaky_relu"``, …).
        norm: ``None`` or a PyG normalisation name (``"batch_norm"``, ``"layer_norm"``).
        dropout: dropout probability after each layer.

    Shapes:
        - **input:** ``[B, in_channels]``
        - **output:** ``[B, channels[-1]]``
    """
    if len(channels) == 0:
        raise ValueError("an expert needs at least one layer (channels is empty)")
    return MLP(
        _check("expert", in_channels, channels),
        act=act,
        norm=norm,
        norm_kwargs=_NORM_KWARGS.get(norm),
        dropout=dropout,
        plain_last=False,
    )


def tower_mlp(
    *,
    in_channels: int,
    channels: Sequence[int] = (),
    act: str | None = "relu",
    norm: str | None = None,
    dropout: float = 0.0,
) -> MLP:
    r"""A task tower ``in_channels → channels… → 1`` whose last layer is plain (a logit).

    With ``channels=()`` the tower is a single linear layer (MoGENet's
    :math:`\mathbf{v}^\top` in Eq. 4).

    Args:
        in_channels: size of each input sample.
        channels: hidden layer sizes (may be empty).
        act: activation name resolved by PyG, after each hidden layer.
        norm: ``None`` or a PyG normalisation name, after each hidden layer.
        dropout: dropout probability after each hidden layer (none on the logit).

    Shapes:
        - **input:** ``[B, in_channels]``
        - **output:** ``[B, 1]`` logits (heads squeeze the last dimension)
    """
    channel_list = _check("tower", in_channels, channels) + [1]
    return MLP(
        channel_list,
        act=act,
        norm=norm,
        norm_kwargs=_NORM_KWARGS.get(norm),
        dropout=[float(dropout)] * (len(channel_list) - 2) + [0.0],
        plain_last=True,
    )


def task_towers(
    *,
    tasks: Sequence[str],
    in_channels: int,
    channels: Sequence[int] = (),
    act: str | None = "relu",
    norm: str | None = None,
    dropout: float = 0.0,
) -> nn.ModuleDict:
    """One :func:`tower_mlp` per task, keyed by task name (what every head ends with)."""
    return nn.ModuleDict(
        {
            task: tower_mlp(
                in_channels=in_channels, channels=channels, act=act, norm=norm, dropout=dropout
            )
            for task in tasks
        }
    )


def expert_bank(
    *,
    num_experts: int,
    in_channels: int,
    channels: Sequence[int],
    act: str | None = "relu",
    norm: str | None = None,
    dropout: float = 0.0,
) -> nn.ModuleList:
    """``num_experts`` independent :func:`expert_mlp` of the same shape (a mixture's experts)."""
    if num_experts < 1:
        raise ValueError(f"num_experts must be >= 1, got {num_experts}")
    return nn.ModuleList(
        expert_mlp(in_channels=in_channels, channels=channels, act=act, norm=norm, dropout=dropout)
        for _ in range(num_experts)
    )


def run_experts(experts: Iterable[nn.Module], x: Tensor) -> Tensor:
    """The outputs of ``E`` experts on the same input, stacked along dimension 1.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``
        - **output:** ``[B, E, D]``
    """
    return torch.stack([expert(x) for expert in experts], dim=1)


def tower_logits(
    towers: nn.ModuleDict, inputs: Tensor | Mapping[str, Tensor] | Sequence[Tensor]
) -> dict[str, Tensor]:
    """Task → ``[B]`` logits ``towers[task](h).squeeze(-1)``, in the towers' (task)
    order, where ``h`` is ``inputs`` itself for every task (one tensor), ``inputs[task]``
    (task → tensor) or ``inputs[k]`` for the ``k``-th task (a sequence in task order,
    such as ``v.unbind(1)`` of a ``[B, K, D]`` ``v``).

    Shapes:
        - **input:** ``[B, D]`` per task
        - **output:** ``[B]`` per task
    """
    if isinstance(inputs, Tensor):
        return {task: tower(inputs).squeeze(-1) for task, tower in towers.items()}
    if not isinstance(inputs, Mapping):
        inputs = dict(zip(towers.keys(), inputs, strict=True))
    return {task: tower(inputs[task]).squeeze(-1) for task, tower in towers.items()}
