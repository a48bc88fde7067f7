r"""The Neural Graph Collaborative Filtering (NGCF) graph encoder, MoGENet's graph
baseline (Table 2) and the bipartite-only degradation of its MGNN (§2.4).

- :class:`NGCFLayer` — one embedding propagation step (NGCF Eq. 7);
- :class:`NGCF` — ``num_layers`` steps over the user–item graph and the
  concatenation of every layer's embeddings (NGCF Eq. 9), with the interface of
  :class:`~mogenet.nn.mgnn.MGNN`: sampled subgraphs (training), layer-wise full-graph
  :meth:`~NGCF.inference` (export) and :meth:`~NGCF.gather`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import scatter

from mogenet.nn.mgnn import (
    INTERACTS,
    NEGATIVE_SLOPE,
    REV_INTERACTS,
    FeatureFn,
    GraphEncoder,
    GraphRepresentations,
    _DstChunks,
    _gather,
)


class NGCFLayer(nn.Module):
    r"""One embedding propagation layer of `"Neural Graph Collaborative Filtering"
    <https://doi.org/10.1145/3331184.3331267>`_ (Wang et al., SIGIR'19, Eq. 7).

    .. math::
        \mathbf{e}_u^{(l+1)} = \mathrm{LeakyReLU}\Big(\mathbf{m}_{u \leftarrow u}
        + \sum_{i \in \mathcal{N}_u} \mathbf{m}_{u \leftarrow i}\Big), \qquad
        \mathbf{m}_{u \leftarrow u} = \mathbf{W}_1 \mathbf{e}_u^{(l)}, \qquad
        \mathbf{m}_{u \leftarrow i} = \frac{1}{\sqrt{|\mathcal{N}_u||\mathcal{N}_i|}}
        \big(\mathbf{W}_1 \mathbf{e}_i^{(l)} + \mathbf{W}_2 (\mathbf{e}_i^{(l)} \odot
        \mathbf{e}_u^{(l)})\big)

    followed by message dropout on the output (NGCF §2.4.2). The sum is linear, so it
    is computed as :math:`\mathbf{W}_1(\mathbf{e}_u + \mathbf{a}_u) +
    \mathbf{W}_2(\mathbf{a}_u \odot \mathbf{e}_u)` with
    :math:`\mathbf{a}_u = \sum_i p_{ui} \mathbf{e}_i`; the biases of
    :math:`\mathbf{W}_1, \mathbf{W}_2` are added once per node, as in NGCF's matrix
    form (Eq. 8). The same layer (one :math:`\mathbf{W}_1, \mathbf{W}_2`) updates
    users from items and items from users. The coefficients
    :math:`p_{ui} = 1/\sqrt{|\mathcal{N}_u||\mathcal{N}_i|}` are passed in as
    ``edge_weight`` (they need full-graph degrees, which a sampled subgraph does not
    show). PyG has no NGCF convolution (:class:`~torch_geometric.nn.conv.LGConv` has
    no self message, no :math:`\mathbf{W}` and no :math:`\odot` term), hence this
    layer; the aggregation is PyG's :func:`~torch_geometric.utils.scatter`.

    Args:
        in_channels: size of :math:`\mathbf{e}^{(l)}`.
        out_channels: size of :math:`\mathbf{e}^{(l+1)}`.
        dropout: message dropout probability on the output.

    Shapes:
        - **input:** ``x`` ``[N, in]`` or ``([N_src, in], [N_dst, in])``,
          ``edge_index`` ``[2, E]`` (row 0 = neighbour, row 1 = destination),
          ``edge_weight`` ``[E]``
        - **output:** ``[N_dst, out]``
    """

    def __init__(self, *, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        if min(in_channels, out_channels) < 1:
            raise ValueError(
                f"NGCFLayer channels must be >= 1, got {in_channels} -> {out_channels}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = float(dropout)
        self.lin1 = nn.Linear(in_channels, out_channels)  # W_1
        self.lin2 = nn.Linear(in_channels, out_channels)  # W_2
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def forward(
        self, x: Tensor | tuple[Tensor, Tensor], edge_index: Tensor, edge_weight: Tensor
    ) -> Tensor:
        x_src, x_dst = x if isinstance(x, tuple) else (x, x)
        src, dst = edge_index
        messages = edge_weight.view(-1, 1).to(x_src.dtype) * x_src[src]  # [E, in]
        agg = scatter(messages, dst, dim=0, dim_size=x_dst.size(0), reduce="sum")  # [N_dst, in]
        out = self.lin1(x_dst + agg) + self.lin2(agg * x_dst)  # [N_dst, out]
        out = F.leaky_relu(out, NEGATIVE_SLOPE)
        return F.dropout(out, self.dropout, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"


def ngcf_norm(deg_src: Tensor, deg_dst: Tensor, edge_index: Tensor) -> Tensor:
    r"""``[E]`` coefficients :math:`1/\sqrt{|\mathcal{N}_j||\mathcal{N}_v|}` of the
    edges ``j → v`` from the ``[N_src]`` / ``[N_dst]`` degrees of their end nodes."""
    src, dst = edge_index
    deg = deg_src[src].float() * deg_dst[dst].float()  # [E], >= 1 for an edge
    return deg.clamp_min(1.0).rsqrt()


class NGCF(GraphEncoder):
    r"""The Neural Graph Collaborative Filtering encoder of `"Neural Graph
    Collaborative Filtering" <https://doi.org/10.1145/3331184.3331267>`_ (Wang et
    al., SIGIR'19), the graph baseline of MoGENet (Table 2).

    .. math::
        \mathbf{e}_u^{(0)} = \mathbf{W}_U \mathbf{x}_u, \qquad
        \mathbf{e}_i^{(0)} = \mathbf{W}_I \mathbf{x}_i, \qquad
        \mathbf{e}_u^{*} = \mathbf{e}_u^{(0)} \Vert \mathbf{e}_u^{(1)} \Vert \cdots
        \Vert \mathbf{e}_u^{(L)} \quad (\text{Eq. 9})

    with ``num_layers`` :class:`NGCFLayer` s (Eq. 7) over the bipartite user–item
    graph :math:`\mathcal{G}` only; the initial embeddings project the model's node
    encodings (id embedding + features) to ``channels``, as
    :class:`~mogenet.nn.mgnn.MGNN`'s :math:`\mathbf{p}_u, \mathbf{q}_i`. The
    authors' code also L2-normalises each layer's output before the concatenation;
    Eq. 9 of the paper does not, nor does this module. NGCF's node dropout is left
    out (neighbour sampling already drops edges at random).

    **Interface of MGNN.** :meth:`forward` reads the ``"bipartite"`` subgraph of
    :class:`~mogenet.sampling.MultiChannelSampler` (its node stores carry the
    full-graph degrees ``deg``), :meth:`inference` runs layer-wise over the full
    graph and :meth:`gather` picks pairs from it; both return
    :class:`~mogenet.nn.mgnn.GraphRepresentations`. NGCF has no similarity
    channels: ``user_sim`` / ``item_sim`` are the same tensors as ``user`` /
    ``item``, so that every reader of the representations (MoGENet's κ of Eq. 3,
    export) works unchanged; :attr:`representations` names the distinct ones. With
    fanout ``-1`` over ``num_layers`` hops the sampled forward equals the full graph.

    **Cold start.** A user or item unseen in training (``pair_index = -1``) is
    propagated as a node without neighbours (self messages only) from the
    out-of-vocabulary encoding; so is a node without edges.

    Args:
        user_channels: size of the raw user encodings :math:`\mathbf{x}_u`.
        item_channels: size of the raw item encodings :math:`\mathbf{x}_i`.
        channels: embedding size :math:`d` of every layer.
        num_layers: propagation layers :math:`L`.
        dropout: message dropout of every layer.

    Shapes:
        - **input:** ``graphs["bipartite"]``: sampled ``HeteroData``;
          ``user_features`` / ``item_features`` map ``[N]`` global ids (``-1`` = cold
          start) to ``[N, user_channels]`` / ``[N, item_channels]``
        - **output:** :class:`~mogenet.nn.mgnn.GraphRepresentations`, each
          ``[B, (num_layers + 1) * channels]``
    """

    #: The distinct fields of the :class:`GraphRepresentations` it returns.
    representations: ClassVar[tuple[str, ...]] = ("user", "item")

    def __init__(
        self,
        *,
        user_channels: int,
        item_channels: int,
        channels: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(  # user_lin, item_lin: e_u^(0), e_i^(0)
            user_channels=user_channels,
            item_channels=item_channels,
            channels=channels,
            num_layers=num_layers,
            dropout=dropout,
        )
        self.convs = nn.ModuleList(
            NGCFLayer(in_channels=channels, out_channels=channels, dropout=dropout)
            for _ in range(num_layers)
        )
        self.reset_parameters()

    @property
    def out_channels(self) -> int:
        return (self.num_layers + 1) * self.channels

    # ------------------------------------------------------------ sampled forward
    def forward(
        self,
        graphs: Mapping[str, object],
        user_features: FeatureFn,
        item_features: FeatureFn,
        *,
        user: Tensor | None = None,
        item: Tensor | None = None,
    ) -> GraphRepresentations:
        """Representations of the batch's pairs from their sampled bipartite subgraph.

        Args:
            graphs: ``{"bipartite": HeteroData, …}`` as
                :meth:`MultiChannelSampler.sample` returns (other channels ignored).
                Without ``"bipartite"`` nothing is propagated: every pair gets the
                representation of a node without neighbours.
            user_features: global user ids ``[N]`` (``-1`` = cold start) →
                ``[N, user_channels]`` (the model's user :class:`NodeEncoder`).
            item_features: the same for items.
            user: ``[B]`` global user ids of the pairs; only read without a
                bipartite subgraph and without a similarity subgraph to read them off.
            item: the same for items.
        """
        data = graphs.get("bipartite")
        if data is None:
            e_u = self._isolated(self.user_lin(user_features(self._pair_ids(graphs, "user", user))))
            e_i = self._isolated(self.item_lin(item_features(self._pair_ids(graphs, "item", item))))
            return GraphRepresentations(user=e_u, item=e_i, user_sim=e_u, item_sim=e_i)
        users, items = data["user"], data["item"]
        if "deg" not in users or "deg" not in items:
            raise ValueError(
                "NGCF needs the full-graph degrees `deg` on the bipartite subgraph's user "
                "and item stores (MultiChannelSampler provides them)"
            )
        to_user = data[REV_INTERACTS].edge_index  # [2, E] item → user (local ids)
        to_item = data[INTERACTS].edge_index  # [2, E'] user → item
        h_u, h_i = self._propagate(
            self.user_lin(user_features(users.n_id)),  # [N_u, d]
            self.item_lin(item_features(items.n_id)),  # [N_i, d]
            (to_user, ngcf_norm(items.deg, users.deg, to_user)),
            (to_item, ngcf_norm(users.deg, items.deg, to_item)),
        )
        e_u = _gather(h_u, users.pair_index, self._oov(self.user_lin, user_features))
        e_i = _gather(h_i, items.pair_index, self._oov(self.item_lin, item_features))
        return GraphRepresentations(user=e_u, item=e_i, user_sim=e_u, item_sim=e_i)

    def _propagate(
        self,
        e_u: Tensor,
        e_i: Tensor,
        to_user: tuple[Tensor, Tensor],
        to_item: tuple[Tensor, Tensor],
    ) -> tuple[Tensor, Tensor]:
        """``(e_u*, e_i*)``: every layer's embeddings concatenated (Eq. 9)."""
        users, items = [e_u], [e_i]
        for layer in self.convs:
            new_u = layer((items[-1], users[-1]), *to_user)
            new_i = layer((users[-1], items[-1]), *to_item)
            users.append(new_u)
            items.append(new_i)
        return torch.cat(users, dim=-1), torch.cat(items, dim=-1)  # [N, (L+1) d]

    def _isolated(self, e: Tensor) -> Tensor:
        """``[N, d]`` initial embeddings of nodes without neighbours → ``[N, (L+1) d]``."""
        none = e.new_zeros(2, 0, dtype=torch.long)
        out = [e]
        for layer in self.convs:
            out.append(layer(out[-1], none, e.new_zeros(0)))
        return torch.cat(out, dim=-1)

    def _oov(self, lin: nn.Linear, features: FeatureFn) -> Tensor:
        """``[1, (L+1) d]`` representation of the out-of-vocabulary (cold-start) id."""
        return self._isolated(super()._oov(lin, features))

    # -------------------------------------------------------- full-graph inference
    @torch.no_grad()
    def inference(
        self, bundle_data, user_x: Tensor, item_x: Tensor, batch_size: int
    ) -> dict[str, Tensor]:
        r""":math:`\mathbf{e}^*` of **every** user and item, layer by layer over the
        full ``('user', 'interacts', 'item')`` graph, ``batch_size`` destination nodes
        at a time (memory bounded by one chunk's edges plus the node states). Call in
        ``eval()`` mode.

        Args:
            bundle_data: the :attr:`GraphBundle.data` the subgraphs are sampled from.
            user_x: ``[U, user_channels]`` raw encodings of users ``0 … U-1``.
            item_x: ``[I, item_channels]`` raw encodings of items ``0 … I-1``.
            batch_size: destination nodes per chunk.

        Returns:
            ``{"user": [U, D], "item": [I, D], "user_sim": …, "item_sim": …}`` with
            ``D = (num_layers + 1) * channels`` (``*_sim`` are the same tensors).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        num_users, num_items = user_x.size(0), item_x.size(0)
        edge_index = bundle_data[INTERACTS].edge_index.to(user_x.device)  # user → item
        deg_u = torch.bincount(edge_index[0], minlength=num_users)
        deg_i = torch.bincount(edge_index[1], minlength=num_items)
        norm = ngcf_norm(deg_u, deg_i, edge_index)  # [E], symmetric
        to_user, to_item = _DstChunks.bipartite(edge_index, norm, num_users, num_items)
        users, items = [self.user_lin(user_x)], [self.item_lin(item_x)]
        for layer in self.convs:
            new_u = self._layer_in_chunks(layer, items[-1], users[-1], to_user, batch_size)
            new_i = self._layer_in_chunks(layer, users[-1], items[-1], to_item, batch_size)
            users.append(new_u)
            items.append(new_i)
        e_u, e_i = torch.cat(users, dim=-1), torch.cat(items, dim=-1)
        return {"user": e_u, "item": e_i, "user_sim": e_u, "item_sim": e_i}

    @staticmethod
    def _layer_in_chunks(
        layer: NGCFLayer, x_src: Tensor, x_dst: Tensor, chunks: _DstChunks, batch_size: int
    ) -> Tensor:
        out = [
            layer(x, edge_index, weight)
            for _, x, edge_index, weight in chunks.subgraphs(x_src, x_dst, batch_size)
        ]
        return torch.cat(out) if out else x_dst.new_zeros(0, layer.out_channels)

    def extra_repr(self) -> str:
        return f"out_channels={self.out_channels}"
