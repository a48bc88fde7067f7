r"""Any multi-task head on top of a graph encoder: the "+MGNN" variants of MoGENet
(Table 3) and the NGCF baseline.

- :class:`GraphRepresentationStack` — the graph encoder's representations of a pair,
  stacked as the rows of :math:`\mathcal{Z}` (no pairwise interaction κ);
- :class:`GraphInput` — a head wrapper that feeds :math:`[\mathbf{x} \Vert
  \mathrm{vec}(\mathcal{Z})]` to the head it wraps.

:func:`mogenet.build.build_model` composes them for ``--model NAME+mgnn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from mogenet.nn.heads.base import MultiTaskHead
from mogenet.nn.mgnn import GraphRepresentations
from mogenet.nn.output import HeadOutput

#: The fields of :class:`~mogenet.nn.mgnn.GraphRepresentations`, in stacking order:
#: :math:`\mathbf{h}_u, \mathbf{h}_i, \mathbf{h}_u^{\mathcal{U}}, \mathbf{h}_i^{\mathcal{I}}`.
REPRESENTATIONS = ("user", "item", "user_sim", "item_sim")


class GraphRepresentationStack(nn.Module):
    r"""The graph representations of a pair as the rows of :math:`\mathcal{Z}`:

    .. math::
        \mathcal{Z} = [\mathbf{h}_u^L, \mathbf{h}_i^L, \mathbf{h}_u^{\mathcal{U},L},
        \mathbf{h}_i^{\mathcal{I},L}]

    (the ``fields`` of :class:`~mogenet.nn.mgnn.GraphRepresentations`, in order). It
    takes the place of :class:`~mogenet.nn.interaction.PairwiseInteraction` in a
    :class:`~mogenet.nn.MultiTaskModel` whose head reads the representations
    themselves rather than their interactions κ (Eq. 3). No parameters.

    Args:
        channels: size :math:`d` of each representation (the encoder's
            ``out_channels``).
        fields: which representations, in order; an encoder whose representations
            repeat (NGCF has no similarity channels) names its distinct ones.

    Shapes:
        - **input:** :class:`~mogenet.nn.mgnn.GraphRepresentations`, each ``[B, d]``
        - **output:** ``[B, len(fields), d]``
    """

    def __init__(self, *, channels: int, fields: Sequence[str] = REPRESENTATIONS) -> None:
        super().__init__()
        fields = tuple(fields)
        unknown = [f for f in fields if f not in REPRESENTATIONS]
        if not fields or unknown:
            raise ValueError(
                f"fields must be a non-empty subset of {list(REPRESENTATIONS)}, got {list(fields)}"
            )
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = channels
        self.fields = fields

    def reset_parameters(self) -> None:
        pass

    @property
    def num_outputs(self) -> int:
        """Rows :math:`N` of :math:`\\mathcal{Z}`."""
        return len(self.fields)

    @property
    def out_channels(self) -> int:
        return self.channels

    def forward(self, reps: GraphRepresentations) -> Tensor:
        return torch.stack([getattr(reps, f) for f in self.fields], dim=1)  # [B, N, d]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, fields={list(self.fields)})"


#: Extra head inputs (:attr:`MultiTaskHead.inputs`) shaped like ``x`` in their last
#: dimension, which :class:`GraphInput` widens to the wrapped head's ``in_channels``.
PAIR_INPUTS = ("sequence",)


def _class_declarations(cls: type) -> set[str]:
    """Names annotated ``ClassVar`` on ``cls`` or its bases (what a head declares to
    the model, e.g. :attr:`MultiTaskHead.inputs`)."""
    names = set()
    for klass in cls.__mro__:
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if "ClassVar" in str(annotation):
                names.add(name)
    return names


class GraphInput(MultiTaskHead):
    r"""A multi-task head that reads the pair's graph representations as extra input
    features: the "+MGNN" variants of `"Mixture of Graph Enhanced Expert Networks
    for Multi-task Recommendation" <https://doi.org/10.1007/978-3-031-20868-3_1>`_
    (MoGENet, PRICAI'22, §3.2, Table 3), which "simply take the output of the MGNN
    module as input".

    .. math::
        \{o^k_{u,i}\}_k = \mathrm{head}\big([\,\mathbf{x} \,\Vert\,
        \mathrm{vec}(\mathcal{Z})\,]\big), \qquad \mathbf{x} = [\mathbf{x}_u \Vert
        \mathbf{x}_i]

    where :math:`\mathcal{Z}` ``[B, N, D]`` is what the model computes from the graph
    encoder (for ``NAME+mgnn`` the stacked MGNN representations
    :math:`\mathbf{h}_u, \mathbf{h}_i, \mathbf{h}_u^{\mathcal{U}},
    \mathbf{h}_i^{\mathcal{I}}` of :class:`GraphRepresentationStack`) and ``head``
    is any head that does not read ``z`` itself, built with
    ``in_channels = in_channels + N * D`` (``N * D`` without ``x``). Its output —
    logits, gates, aux and head-defined losses — is returned unchanged.

    The wrapper declares what the wrapped head declares (every ``ClassVar`` of
    :class:`MultiTaskHead` such as :attr:`~MultiTaskHead.inputs`, except
    :attr:`uses_graph`, which is ``True``), passes the extra keyword inputs of
    :meth:`forward` through, and reads any other attribute it lacks off the wrapped
    head (e.g. a sequence head's ``max_length``). Extra inputs that are pair
    representations like ``x`` (:data:`PAIR_INPUTS`: the ``sequence`` of the user
    paired with each history item, ``[B, L, in_channels]``) get zeros in place of
    :math:`\mathrm{vec}(\mathcal{Z})`: the history pairs have no representation in
    the batch's subgraphs, so their graph part is "unknown" rather than borrowed
    from the target pair.

    Args:
        in_channels: size of each pair representation ``x``.
        head: the wrapped head.
        num_z: rows :math:`N` of :math:`\mathcal{Z}`.
        z_channels: size :math:`D` of each row.
        with_x: feed ``x`` too (``False``: the head sees :math:`\mathrm{vec}(\mathcal{Z})`
            only, as the NGCF model's towers).

    Shapes:
        - **input:** ``x`` ``[B, in_channels]``, ``z`` ``[B, num_z, z_channels]``
        - **output:** the wrapped head's :class:`HeadOutput`
    """

    uses_graph: ClassVar[bool] = True

    def __init__(
        self,
        *,
        in_channels: int,
        head: MultiTaskHead,
        num_z: int,
        z_channels: int,
        with_x: bool = True,
    ) -> None:
        super().__init__(in_channels=in_channels, tasks=head.tasks)
        if head.uses_graph:
            raise ValueError(f"{type(head).__name__} reads z itself; it needs no GraphInput")
        if num_z < 1 or z_channels < 1:
            raise ValueError(f"num_z and z_channels must be >= 1, got {num_z}, {z_channels}")
        expected = (in_channels if with_x else 0) + num_z * z_channels
        if head.in_channels != expected:
            raise ValueError(
                f"the wrapped head must have in_channels={expected} "
                f"({'x + ' if with_x else ''}num_z * z_channels), got {head.in_channels}"
            )
        if not with_x and set(PAIR_INPUTS) & set(head.inputs):
            raise ValueError(f"{type(head).__name__} reads sequences of x; it needs with_x=True")
        self.num_z = int(num_z)
        self.z_channels = int(z_channels)
        self.with_x = bool(with_x)
        self.head = head
        for name in _class_declarations(type(head)) - {"uses_graph"}:
            setattr(self, name, getattr(head, name))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.head.reset_parameters()

    def forward(self, x: Tensor, z: Tensor | None = None, **inputs: Tensor) -> HeadOutput:
        expected = (x.size(0), self.num_z, self.z_channels)
        if z is None or tuple(z.shape) != expected:
            got = None if z is None else tuple(z.shape)
            raise ValueError(f"{self.__class__.__name__} needs z of shape {expected}, got {got}")
        graph = z.flatten(1)  # [B, N * D]
        features = torch.cat([x, graph], dim=-1) if self.with_x else graph  # [B, head.in]
        for name in PAIR_INPUTS:
            if name in inputs:  # [..., in_channels] → [..., in_channels + N * D], zeros
                value = inputs[name]
                pad = value.new_zeros(*value.shape[:-1], graph.size(-1))
                inputs = {**inputs, name: torch.cat([value, pad], dim=-1)}
        return self.head(features, None, **inputs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)  # parameters, buffers, submodules
        except AttributeError:
            head = self.__dict__.get("_modules", {}).get("head")
            if head is None:
                raise
            return getattr(head, name)

    def extra_repr(self) -> str:
        return f"z=[{self.num_z}, {self.z_channels}], with_x={self.with_x}, head={self.head!r}"
