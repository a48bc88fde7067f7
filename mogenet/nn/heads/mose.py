"""Mixture of Sequential Experts (MoSE)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from torch_geometric.nn.inits import reset

from mogenet.nn.expert import task_towers
from mogenet.nn.gate import mixture, task_gates
from mogenet.nn.heads.base import MultiTaskHead, check_tasks
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import register_head


def _repack(packed: PackedSequence, data: Tensor) -> PackedSequence:
    """``packed`` with new per-step ``data`` (same steps, same order)."""
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)


class LSTMStack(nn.Module):
    r"""Stacked single-layer :class:`~torch.nn.LSTM` s with hidden sizes ``channels``,
    run on a :class:`~torch.nn.utils.rnn.PackedSequence` (padding never enters a
    cell), with dropout after every layer as in
    :func:`~mogenet.nn.expert.expert_mlp`.  One :class:`~torch.nn.LSTM` with
    ``num_layers`` cannot change the hidden size between layers, hence the stack.
    With ``channels=()`` it is the identity.

    Args:
        in_channels: size of each step.
        channels: hidden size of each layer.
        dropout: dropout probability after each layer.

    Shapes:
        - **input:** packed ``[P, in_channels]`` (``P`` = number of real steps)
        - **output:** packed ``[P, out_channels]``
    """

    def __init__(self, *, in_channels: int, channels: Sequence[int], dropout: float = 0.0) -> None:
        super().__init__()
        sizes = [int(in_channels), *(int(c) for c in channels)]
        if any(c < 1 for c in sizes):
            raise ValueError(f"LSTM channels must be positive, got {sizes}")
        self.layers = nn.ModuleList(
            nn.LSTM(a, b, batch_first=True) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.dropout = float(dropout)
        self.in_channels, self.out_channels = sizes[0], sizes[-1]
        self.channels = tuple(sizes[1:])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, packed: PackedSequence) -> PackedSequence:
        for layer in self.layers:
            packed, _ = layer(packed)
            if self.dropout > 0:
                packed = _repack(packed, F.dropout(packed.data, self.dropout, self.training))
        return packed

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, channels={list(self.channels)})"


class SequentialExperts(nn.Module):
    r"""The network of MoSE (Eq. 1–2) on sequences of step vectors, many-to-many:
    an LSTM shared bottom, :math:`n` LSTM experts mixed by per-task gates computed
    on the **whole** sequence, and an LSTM tower per task, read out at every step.

    .. math::
        y^k_{(t)} = h^k_{\mathrm{LSTM}}\Big(\sum_{i=1}^{n} g^k(x)_i\,
            f_{\mathrm{LSTM}_i}\big(f_{\mathrm{LSTM}}(\mathbf{x}_{(\le t)})\big)\Big),
        \qquad g^k(x) = \mathrm{softmax}(\mathbf{W}_{g^k}\, x),\
        \mathbf{W}_{g^k} \in \mathbb{R}^{n \times DT}

    Sequences have different lengths; they are packed, so padding never enters a
    cell. The gate input :math:`x` is the sequence flattened after right-aligning it
    in ``max_length`` slots (last step in the last slot, zeros before the first),
    so a step's gate weight depends on its distance from the end, whatever the
    padding. Each tower is an :class:`LSTMStack` followed by a linear read-out
    (:func:`~mogenet.nn.expert.tower_mlp` with no hidden layer) at every step.

    Args:
        in_channels: size :math:`D` of each step.
        max_length: :math:`T`, the most steps a sequence may have.
        tasks: task names.
        num_experts: number of sequential experts :math:`n`.
        bottom_channels: hidden sizes of the shared-bottom LSTM layers.
        expert_channels: hidden sizes of each expert's LSTM layers.
        tower_channels: hidden sizes of each tower's LSTM layers (may be empty).
        dropout: dropout after every LSTM layer.

    Shapes:
        - **input:** ``steps`` ``[B, T', in_channels]`` (``T' <= max_length``, real
          steps first), ``lengths`` ``[B]`` in ``[1, T']``
        - **output:** (task → ``[B, T']`` per-step outputs, 0 beyond a sequence's
          length; task → ``[B, num_experts]`` gate weights)
    """

    def __init__(
        self,
        *,
        in_channels: int,
        max_length: int,
        tasks: Sequence[str],
        num_experts: int = 4,
        bottom_channels: Sequence[int] = (64,),
        expert_channels: Sequence[int] = (32,),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if max_length < 1 or num_experts < 1:
            raise ValueError(
                f"max_length and num_experts must be >= 1, got {max_length} and {num_experts}"
            )
        if not bottom_channels or not expert_channels:
            raise ValueError("the shared bottom and the experts need at least one LSTM layer")
        self.tasks = check_tasks(tasks)
        self.in_channels = int(in_channels)
        self.max_length = int(max_length)
        self.num_experts = int(num_experts)
        self.bottom = LSTMStack(in_channels=in_channels, channels=bottom_channels, dropout=dropout)
        self.experts = nn.ModuleList(
            LSTMStack(
                in_channels=self.bottom.out_channels, channels=expert_channels, dropout=dropout
            )
            for _ in range(num_experts)
        )
        self.gates = task_gates(
            tasks=self.tasks,
            in_channels=self.max_length * self.in_channels,
            num_experts=num_experts,
        )
        mixed = self.experts[0].out_channels
        self.towers = nn.ModuleDict(
            {
                t: LSTMStack(in_channels=mixed, channels=tower_channels, dropout=dropout)
                for t in self.tasks
            }
        )
        self.readout = task_towers(
            tasks=self.tasks, in_channels=self.towers[self.tasks[0]].out_channels
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for child in self.children():  # bottom, experts, gates, towers, readout
            reset(child)

    def gate_input(self, steps: Tensor, lengths: Tensor) -> Tensor:
        """``[B, max_length * in_channels]``: each sequence right-aligned in
        ``max_length`` slots (zeros before its first step), flattened."""
        B, _, D = steps.shape
        slot = torch.arange(self.max_length, device=steps.device)  # [T]
        source = slot[None, :] - (self.max_length - lengths[:, None])  # [B, T] step in slot
        valid = source >= 0
        aligned = steps.gather(1, source.clamp(min=0)[..., None].expand(B, self.max_length, D))
        aligned = torch.where(valid[..., None], aligned, torch.zeros_like(aligned))
        return aligned.reshape(B, self.max_length * D)

    def forward(
        self, steps: Tensor, lengths: Tensor
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        B, T, _ = steps.shape
        lengths = lengths.long()
        shortest, longest = int(lengths.min()), int(lengths.max())
        if T > self.max_length or longest > T or shortest < 1:
            raise ValueError(
                f"sequences must have 1..{min(T, self.max_length)} steps "
                f"(max_length={self.max_length}, got {T} positions, lengths "
                f"{shortest}..{longest})"
            )
        host = lengths.cpu()  # packing wants the lengths on the host
        packed = pack_padded_sequence(steps, host, batch_first=True, enforce_sorted=False)
        rows = torch.arange(B, device=steps.device)[:, None].expand(B, T)
        row_of_step = pack_padded_sequence(
            rows, host, batch_first=True, enforce_sorted=False
        ).data  # [P] sequence of each packed step
        bottom = self.bottom(packed)
        experts = torch.stack([e(bottom).data for e in self.experts], dim=1)  # [P, E, H]
        gate_x = self.gate_input(steps, lengths)  # [B, T_max * D]
        outputs, gates = {}, {}
        for task in self.tasks:
            g = self.gates[task](gate_x)  # [B, E]
            mixed = mixture(g[row_of_step], experts)  # [P, H]
            tower = self.towers[task](_repack(packed, mixed))
            y = _repack(packed, self.readout[task](tower.data))  # [P, 1]
            outputs[task] = pad_packed_sequence(y, batch_first=True, total_length=T)[0][..., 0]
            gates[task] = g
        return outputs, gates

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, tasks={list(self.tasks)}, "
            f"max_length={self.max_length}, num_experts={self.num_experts})"
        )


@register_head("mose")
class MoSE(MultiTaskHead):
    r"""The Mixture of Sequential Experts head from the `"Multitask Mixture of
    Sequential Experts for User Activity Streams"
    <https://doi.org/10.1145/3394486.3403359>`_ paper (Qin et al., KDD'20).

    The user's behaviour history (the last ``L = max_length`` training
    interactions before the example, :mod:`mogenet.sampling.sequence`) is the
    activity stream; the candidate pair is its last step. Step :math:`\ell` of the
    history is the pair representation of the user with the history item plus its
    behaviour labels; the candidate step is the pair representation ``x`` with
    unknown (zero) labels and a flag:

    .. math::
        \mathbf{x}_{(\ell)} = [\mathbf{x}_{u, i_\ell} \Vert \mathbf{y}_{\ell} \Vert 0],
        \qquad \mathbf{x}_{(n+1)} = [\mathbf{x}_{u,i} \Vert \mathbf{0} \Vert 1],
        \qquad o^k_{u,i} = y^k_{(n+1)}

    where :math:`y^k_{(t)}` is the many-to-many output of
    :class:`SequentialExperts` (Eq. 1–2: LSTM shared bottom, LSTM experts, per-task
    gates over the whole sequence, LSTM towers) and the logit of task :math:`k` is
    its output at the candidate step, after the LSTMs have read the whole history.
    Padding (``sequence_mask = False``) is removed before the LSTMs (packed
    sequences) and zeroed in the gate input, so it never changes an output; a user
    without history gives a one-step sequence. The graph tensor ``z`` is ignored.

    Args:
        in_channels: size of the pair representation ``x`` (and of each history step).
        tasks: task names.
        max_length: ``L``, the history length the model is fed.
        num_experts: number of sequential experts.
        bottom_channels: LSTM sizes of the shared bottom.
        expert_channels: LSTM sizes of each expert.
        tower_channels: LSTM sizes of each tower (a linear read-out follows).
        dropout: dropout after every LSTM layer.

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``; ``sequence`` ``[B, L', in_channels]``,
          ``sequence_labels`` ``[B, L', K]``, ``sequence_mask`` ``[B, L']`` bool
          (``L' <= max_length``)
        - **output:** ``logits[task]`` ``[B]``, ``gates[task]`` ``[B, num_experts]``
    """

    inputs = frozenset({"sequence"})
    repr_fields = (
        "max_length",
        "num_experts",
        "bottom_channels",
        "expert_channels",
        "tower_channels",
    )

    def __init__(
        self,
        *,
        in_channels: int,
        tasks: Sequence[str],
        max_length: int = 20,
        num_experts: int = 4,
        bottom_channels: Sequence[int] = (64,),
        expert_channels: Sequence[int] = (32,),
        tower_channels: Sequence[int] = (16,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=tasks)
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.max_length = int(max_length)
        self.step_channels = self.in_channels + self.num_tasks + 1
        self.network = SequentialExperts(
            in_channels=self.step_channels,
            max_length=self.max_length + 1,  # the history and the candidate
            tasks=self.tasks,
            num_experts=num_experts,
            bottom_channels=bottom_channels,
            expert_channels=expert_channels,
            tower_channels=tower_channels,
            dropout=dropout,
        )
        self.num_experts = self.network.num_experts
        self.bottom_channels = tuple(bottom_channels)
        self.expert_channels = tuple(expert_channels)
        self.tower_channels = tuple(tower_channels)
        self.reset_parameters()

    def steps(
        self, x: Tensor, sequence: Tensor, sequence_labels: Tensor, sequence_mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The step vectors ``[B, L' + 1, step_channels]`` (history steps first, in
        order, then the candidate, then padding) and the lengths ``[B]``."""
        B, L, _ = sequence.shape
        if L > self.max_length:
            raise ValueError(f"sequences have {L} positions but max_length={self.max_length}")
        mask = sequence_mask.bool()
        hist = torch.cat(
            [sequence, sequence_labels.to(sequence.dtype), sequence.new_zeros(B, L, 1)], dim=-1
        )
        hist = torch.where(mask[..., None], hist, torch.zeros_like(hist))  # [B, L, S]
        # Real steps first, in their order (a stable sort of the padding flags).
        order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices  # [B, L]
        hist = hist.gather(1, order[..., None].expand_as(hist))
        candidate = torch.cat([x, x.new_zeros(B, self.num_tasks), x.new_ones(B, 1)], dim=-1)
        n = mask.sum(dim=1)  # [B] history length
        steps = torch.cat([hist, hist.new_zeros(B, 1, hist.size(-1))], dim=1)  # [B, L+1, S]
        steps = steps.index_put((torch.arange(B, device=x.device), n), candidate)
        return steps, n + 1

    def forward(
        self,
        x: Tensor,
        z: Tensor | None = None,
        *,
        sequence: Tensor,
        sequence_labels: Tensor,
        sequence_mask: Tensor,
    ) -> HeadOutput:
        steps, lengths = self.steps(x, sequence, sequence_labels, sequence_mask)
        outputs, gates = self.network(steps, lengths)
        last = (lengths - 1)[:, None]  # [B, 1] the candidate step
        logits = {t: outputs[t].gather(1, last).squeeze(1) for t in self.tasks}  # [B]
        return HeadOutput(logits=logits, gates=gates)
