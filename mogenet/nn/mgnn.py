r"""The Multi-channel Graph Neural Network (MGNN) encoder of MoGENet (§2.1, Eq. 1–2).

- :class:`MGNNLayer` — one propagation step of one channel: GAT attention and a
  gated recurrent update of the node state;
- :class:`GraphEncoder` — what every graph encoder (MGNN, :class:`~mogenet.nn.NGCF`)
  shares: the initial encodings, cold start, and the pairs' rows of full-graph output;
- :class:`MGNN` — shared initial encodings :math:`\mathbf{p}_u, \mathbf{q}_i` and
  ``num_layers`` layers in each channel (bipartite :math:`\mathcal{G}`, user
  similarity :math:`\mathcal{G}^{\mathcal{U}}`, item similarity
  :math:`\mathcal{G}^{\mathcal{I}}`), on sampled subgraphs (training) or layer-wise
  over the full graphs (:meth:`MGNN.inference`, evaluation and export);
- :class:`GraphRepresentations` — the four pair representations it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import GATConv
from torch_geometric.nn.inits import reset

from mogenet.nn.resolver import Registry

#: Channel names, as the keys of :class:`~mogenet.sampling.MultiChannelSampler` output.
CHANNELS = ("bipartite", "user_sim", "item_sim")
INTERACTS = ("user", "interacts", "item")  # messages user → item
REV_INTERACTS = ("item", "rev_interacts", "user")  # messages item → user
USER_SIMILAR = ("user", "similar", "user")
ITEM_SIMILAR = ("item", "similar", "item")

#: Negative slope of the message activation :math:`\sigma` (LeakyReLU), as GAT's.
NEGATIVE_SLOPE = 0.2

#: Node-state updates :math:`f` of Eq. 1–2, by name.
UPDATES: Registry[nn.Module] = Registry("update")


@UPDATES.register("gru")
class GRUUpdate(nn.Module):
    r""":math:`f(\mathbf{h}, \mathbf{m}) = \mathrm{GRU}(\mathbf{m}, \mathbf{h})`: a
    :class:`~torch.nn.GRUCell` with the message as input and the node state as
    hidden state. Carries no cell state (returns ``None``)."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.cell = nn.GRUCell(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.cell.reset_parameters()

    def forward(self, m: Tensor, h: Tensor, c: Tensor | None = None) -> tuple[Tensor, None]:
        return self.cell(m, h), None


@UPDATES.register("lstm")
class LSTMUpdate(nn.Module):
    r""":math:`f(\mathbf{h}, \mathbf{m}) = \mathrm{LSTM}(\mathbf{m}, (\mathbf{h},
    \mathbf{c}))`: an :class:`~torch.nn.LSTMCell` whose cell state :math:`\mathbf{c}`
    is carried from layer to layer (zero before the first)."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.cell.reset_parameters()

    def forward(self, m: Tensor, h: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if c is None:
            c = torch.zeros_like(h)
        return self.cell(m, (h, c))


class MGNNLayer(nn.Module):
    r"""One MGNN propagation step in one channel, from the `"Mixture of Graph
    Enhanced Expert Networks for Multi-task Recommendation"
    <https://doi.org/10.1007/978-3-031-20868-3_1>`_ paper (MoGENet, PRICAI'22,
    Eq. 1–2).

    .. math::
        \mathbf{h}_v^{l+1} = f\Big(\mathbf{h}_v^{l},\;
        \sigma\big(\mathbf{W} \sum_{j \in \mathcal{N}(v)} \alpha_{v \leftarrow j}\,
        \mathbf{h}_j^{l}\big)\Big)

    :math:`\alpha` and :math:`\mathbf{W}` are PyG's
    :class:`~torch_geometric.nn.conv.GATConv` (``concat=False``,
    ``add_self_loops=False``: the node's own state enters through :math:`f`, not as a
    self-loop message). GATConv computes :math:`\sum_j \alpha_{vj} \mathbf{W}
    \mathbf{h}_j`, which equals :math:`\mathbf{W} \sum_j \alpha_{vj} \mathbf{h}_j`
    because :math:`\mathbf{W}` is linear (plus GATConv's bias). :math:`\sigma` is
    LeakyReLU (slope :data:`NEGATIVE_SLOPE`); :math:`f` is the paper's "LSTM-like"
    gated update of the node state, an :class:`~torch.nn.GRUCell` (``"gru"``,
    message as input, state as hidden) or an :class:`~torch.nn.LSTMCell`
    (``"lstm"``, cell state carried across layers, see :data:`UPDATES`).

    The input is either one node set (similarity channels: ``x`` ``[N, d]``) or a
    ``(x_src, x_dst)`` pair (bipartite channel): one layer object, one
    :math:`\mathbf{W}` and one attention, serves both directions of
    :math:`\mathcal{G}` (users from items and items from users), as the paper's single
    :math:`\mathbf{W}` for :math:`\mathcal{G}`.

    Args:
        channels: node state size :math:`d` (input = output).
        heads: attention heads of the GATConv (averaged, ``concat=False``).
        update: name of the update :math:`f` in :data:`UPDATES` (``"gru"``, ``"lstm"``).
        edge_dim: ``1`` to feed a scalar edge weight (similarity) into the attention,
            ``None`` for none.
        dropout: dropout of the attention coefficients and of the message.

    Shapes:
        - **input:** ``x`` ``[N, d]`` or ``([N_src, d], [N_dst, d])``, ``edge_index``
          ``[2, E]`` (row 0 = source/neighbour, row 1 = destination), ``edge_weight``
          ``[E]`` or ``None``, ``cell`` ``[N_dst, d]`` or ``None``
        - **output:** ``(h [N_dst, d], cell [N_dst, d] or None)``
    """

    def __init__(
        self,
        *,
        channels: int,
        heads: int = 1,
        update: str = "gru",
        edge_dim: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if channels < 1 or heads < 1:
            raise ValueError(
                f"MGNNLayer needs channels >= 1 and heads >= 1, got {channels}, {heads}"
            )
        self.channels = channels
        self.heads = heads
        self.update_name = update
        self.edge_dim = edge_dim
        self.dropout = float(dropout)
        self.conv = GATConv(
            channels,
            channels,
            heads=heads,
            concat=False,
            add_self_loops=False,
            edge_dim=edge_dim,
            dropout=dropout,
        )
        self.update = UPDATES.resolve(update, channels=channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        self.update.reset_parameters()

    def forward(
        self,
        x: Tensor | tuple[Tensor, Tensor],
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        cell: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        h = x[1] if isinstance(x, tuple) else x  # [N_dst, d]
        edge_attr = None
        if self.edge_dim is not None:
            if edge_weight is None:
                raise ValueError("this MGNNLayer attends over edge weights; pass edge_weight")
            edge_attr = edge_weight.view(-1, 1).to(h.dtype)  # [E, 1]
        m = self.conv(x, edge_index, edge_attr)  # [N_dst, d] = W Σ_j α_vj h_j (+ bias)
        m = F.dropout(F.leaky_relu(m, NEGATIVE_SLOPE), self.dropout, self.training)
        return self.update(m, h, cell)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.channels}, heads={self.heads}, "
            f"update='{self.update_name}', edge_dim={self.edge_dim})"
        )


@dataclass
class GraphRepresentations:
    r"""The last-layer MGNN representations of a batch of pairs
    :math:`\langle u, i\rangle` (the list before MoGENet Eq. 3).

    Args:
        user: ``[B, d]`` :math:`\mathbf{h}_u^L` (bipartite channel).
        item: ``[B, d]`` :math:`\mathbf{h}_i^L` (bipartite channel).
        user_sim: ``[B, d]`` :math:`\mathbf{h}_u^{\mathcal{U},L}` (user similarity).
        item_sim: ``[B, d]`` :math:`\mathbf{h}_i^{\mathcal{I},L}` (item similarity).
    """

    user: Tensor
    item: Tensor
    user_sim: Tensor
    item_sim: Tensor


FeatureFn = Callable[[Tensor], Tensor]


def _gather(h: Tensor, index: Tensor, fallback: Tensor) -> Tensor:
    """Rows ``h[index]``, with the ``[1, d]`` ``fallback`` where ``index < 0``."""
    table = torch.cat([h, fallback.to(h.dtype)])  # [N + 1, d], last row = fallback
    return table[torch.where(index < 0, h.size(0), index)]


class _DstChunks:
    """Edges grouped by destination node, so that the edges into a contiguous range
    of destinations are one slice (full-graph inference in bounded memory)."""

    def __init__(self, src: Tensor, dst: Tensor, weight: Tensor | None, num_dst: int) -> None:
        perm = torch.argsort(dst, stable=True)
        self.src, self.dst = src[perm], dst[perm]
        self.weight = None if weight is None else weight[perm]
        self.rowptr = torch.zeros(num_dst + 1, dtype=torch.long, device=dst.device)
        self.rowptr[1:] = torch.bincount(dst, minlength=num_dst).cumsum(0)

    def edges(self, start: int, end: int) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(src, local dst, weight)`` of the edges into nodes ``[start, end)``."""
        a, b = int(self.rowptr[start]), int(self.rowptr[end])
        weight = None if self.weight is None else self.weight[a:b]
        return self.src[a:b], self.dst[a:b] - start, weight

    def subgraphs(
        self, x_src: Tensor, x_dst: Tensor, batch_size: int
    ) -> Iterator[tuple[slice, tuple[Tensor, Tensor], Tensor, Tensor | None]]:
        """The bipartite subgraph of each chunk of ``batch_size`` destinations
        ``[start, end)``: ``(slice(start, end), (x_src rows the chunk's edges read,
        x_dst[start:end]), local edge_index [2, E_c], weight [E_c] or None)``."""
        for start in range(0, x_dst.size(0), batch_size):
            end = min(start + batch_size, x_dst.size(0))
            src, dst, weight = self.edges(start, end)
            nodes, src = torch.unique(src, return_inverse=True)  # only the rows read
            x = (x_src[nodes], x_dst[start:end])
            yield slice(start, end), x, torch.stack([src, dst]), weight

    @classmethod
    def bipartite(
        cls, edge_index: Tensor, weight: Tensor | None, num_users: int, num_items: int
    ) -> tuple[_DstChunks, _DstChunks]:
        """``(to_user, to_item)``: the user → item edges ``edge_index`` ``[2, E]`` (and
        their ``weight``) grouped by user and by item, for messages in both directions."""
        src, dst = edge_index
        return cls(dst, src, weight, num_users), cls(src, dst, weight, num_items)


class GraphEncoder(nn.Module):
    r"""Base of the graph encoders (:class:`MGNN`, :class:`~mogenet.nn.NGCF`): the
    initial encodings :math:`\mathbf{p}_u = \mathbf{W}_U \mathbf{x}_u` (``user_lin``)
    and :math:`\mathbf{q}_i = \mathbf{W}_I \mathbf{x}_i` (``item_lin``) of the raw
    node encodings, the representation of the out-of-vocabulary (cold-start) id
    (:meth:`_oov`) and the pairs' rows of full-graph inference output (:meth:`gather`).

    Subclasses build their layers after ``user_lin`` and ``item_lin`` and end
    ``__init__`` with :meth:`reset_parameters`, which re-initialises every child
    module in registration order (PyG's :func:`~torch_geometric.nn.inits.reset`).

    Args:
        user_channels: size of the raw user encodings :math:`\mathbf{x}_u`.
        item_channels: size of the raw item encodings :math:`\mathbf{x}_i`.
        channels: size :math:`d` of the initial encodings.
        num_layers: propagation layers :math:`L`.
        dropout: dropout of the layers.
    """

    #: The distinct fields of the :class:`GraphRepresentations` it returns; a
    #: ``*_sim`` field left out is the same tensor as ``user`` / ``item``.
    representations: ClassVar[tuple[str, ...]] = ("user", "item", "user_sim", "item_sim")

    def __init__(
        self,
        *,
        user_channels: int,
        item_channels: int,
        channels: int,
        num_layers: int,
        dropout: float,
    ) -> None:
        super().__init__()
        name = self.__class__.__name__
        if min(user_channels, item_channels, channels) < 1:
            raise ValueError(
                f"{name} channels must be >= 1, got user_channels={user_channels}, "
                f"item_channels={item_channels}, channels={channels}"
            )
        if num_layers < 1:
            raise ValueError(f"{name} needs num_layers >= 1, got {num_layers}")
        self.user_channels = user_channels
        self.item_channels = item_channels
        self.channels = channels
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.user_lin = nn.Linear(user_channels, channels)  # p_u
        self.item_lin = nn.Linear(item_channels, channels)  # q_i

    def reset_parameters(self) -> None:
        for child in self.children():
            reset(child)

    @staticmethod
    def _pair_ids(graphs: Mapping[str, object], node_type: str, given: Tensor | None) -> Tensor:
        """``[B]`` global ids (``-1`` = cold start) of the pairs' users or items."""
        if given is not None:
            return given
        stores = []
        if "bipartite" in graphs:
            stores.append(graphs["bipartite"][node_type])
        if f"{node_type}_sim" in graphs:
            stores.append(graphs[f"{node_type}_sim"])
        if not stores:
            raise ValueError(
                f"no subgraph in graphs ({sorted(graphs)}) has {node_type} seeds; "
                f"pass the pairs' {node_type} ids as `{node_type}=`"
            )
        store = stores[0]
        return _gather(store.n_id, store.pair_index, store.n_id.new_full((1,), -1))

    def _oov(self, lin: nn.Linear, features: FeatureFn) -> Tensor:
        """``[1, d]`` initial encoding of the out-of-vocabulary (cold-start) id."""
        index = torch.full((1,), -1, dtype=torch.long, device=lin.weight.device)
        return lin(features(index))

    def gather(
        self,
        full: Mapping[str, Tensor],
        user: Tensor,
        item: Tensor,
        user_features: FeatureFn,
        item_features: FeatureFn,
    ) -> GraphRepresentations:
        """The :class:`GraphRepresentations` of pairs from :meth:`inference` output:
        rows ``user`` / ``item`` (``[B]`` global ids), and for cold-start ids (``-1``)
        the out-of-vocabulary representation (:meth:`_oov`), as in :meth:`forward`."""
        ids = {"user": user, "item": item}
        oov = {
            "user": self._oov(self.user_lin, user_features),  # [1, D]
            "item": self._oov(self.item_lin, item_features),  # [1, D]
        }
        rows = {}
        for field in self.representations:
            node = field.removesuffix("_sim")
            rows[field] = _gather(full[field], ids[node], oov[node])  # [B, D]
        return GraphRepresentations(
            user=rows["user"],
            item=rows["item"],
            user_sim=rows.get("user_sim", rows["user"]),
            item_sim=rows.get("item_sim", rows["item"]),
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(({self.user_channels}, {self.item_channels}), "
            f"{self.channels}, num_layers={self.num_layers}, {self.extra_repr()})"
        )


class MGNN(GraphEncoder):
    r"""The Multi-channel Graph Neural Network of `"Mixture of Graph Enhanced Expert
    Networks for Multi-task Recommendation"
    <https://doi.org/10.1007/978-3-031-20868-3_1>`_ (MoGENet, PRICAI'22, §2.1).

    .. math::
        \mathbf{h}_u^{0} = \mathbf{h}_u^{\mathcal{U},0} = \mathbf{p}_u =
        \mathbf{W}_U \mathbf{x}_u, \qquad
        \mathbf{h}_i^{0} = \mathbf{h}_i^{\mathcal{I},0} = \mathbf{q}_i =
        \mathbf{W}_I \mathbf{x}_i,

        \mathbf{h}_u^{l+1} = f\big(\mathbf{h}_u^{l}, \sigma(\mathbf{W}
        \textstyle\sum_{i \in \mathcal{N}(u)} \alpha_{u \leftarrow i}
        \mathbf{h}_i^{l})\big), \quad
        \mathbf{h}_u^{\mathcal{U},l+1} = f\big(\mathbf{h}_u^{\mathcal{U},l},
        \sigma(\mathbf{W}^{\mathcal{U}} \textstyle\sum_{v \in
        \mathcal{N}^{\mathcal{U}}(u)} \alpha_{u \leftarrow v}
        \mathbf{h}_v^{\mathcal{U},l})\big)

    (and symmetrically for items, Eq. 1–2). The initial encodings
    :math:`\mathbf{p}_u, \mathbf{q}_i` are shared by all channels; each channel has
    its own ``num_layers`` :class:`MGNNLayer` s (:math:`\mathbf{W}`,
    :math:`\mathbf{W}^{\mathcal{U}}`, :math:`\mathbf{W}^{\mathcal{I}}` per layer), and
    in the bipartite channel one layer serves both directions.

    :meth:`forward` runs on the subgraphs of
    :class:`~mogenet.sampling.MultiChannelSampler` (``num_layers`` layers whatever
    the number of sampled hops: nodes beyond the last hop simply have no
    neighbours); :meth:`inference` runs layer-wise over the full graphs. With
    full-neighbourhood sampling of ``num_layers`` hops the two agree.

    **Cold start.** A pair whose user (item) is unseen in training has no node
    (``pair_index = -1``); all its representations are the initial encoding of the
    out-of-vocabulary id (the feature callable called with ``-1``).

    **Channels off.** A channel not in ``channels_used`` has no layers, and a channel
    whose subgraph is missing from ``graphs``, is not propagated: its
    representations are the initial encodings :math:`\mathbf{p}_u` /
    :math:`\mathbf{q}_i` (``channels_used=("bipartite",)`` is the NGCF-style
    degradation of §2.4). A channel present with no edges (empty fanouts) is still
    propagated, its nodes isolated.

    Args:
        user_channels: size of the raw user encodings :math:`\mathbf{x}_u`.
        item_channels: size of the raw item encodings :math:`\mathbf{x}_i`.
        channels: representation size :math:`d`.
        num_layers: propagation layers :math:`L` per channel.
        heads: attention heads per layer (averaged).
        update: node-state update :math:`f` (``"gru"`` or ``"lstm"``, :data:`UPDATES`).
        use_edge_weight: feed the similarity weights into the similarity channels'
            attention (GATConv ``edge_dim=1``).
        dropout: attention and message dropout in every layer.
        channels_used: channels with layers (a subset of :data:`CHANNELS`).

    Shapes:
        - **input:** ``graphs`` channel → sampled subgraph; ``user_features`` /
          ``item_features`` map ``[N]`` global ids (``-1`` = cold start) to
          ``[N, user_channels]`` / ``[N, item_channels]``
        - **output:** :class:`GraphRepresentations`, each ``[B, channels]``
    """

    def __init__(
        self,
        *,
        user_channels: int,
        item_channels: int,
        channels: int = 64,
        num_layers: int = 2,
        heads: int = 1,
        update: str = "gru",
        use_edge_weight: bool = False,
        dropout: float = 0.0,
        channels_used: Sequence[str] = CHANNELS,
    ) -> None:
        super().__init__(
            user_channels=user_channels,
            item_channels=item_channels,
            channels=channels,
            num_layers=num_layers,
            dropout=dropout,
        )
        if isinstance(channels_used, str):
            channels_used = (channels_used,)
        unknown = [c for c in channels_used if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown MGNN channel(s) {unknown}; channels: {list(CHANNELS)}")
        UPDATES.get_class(update)  # fail early on an unknown name
        self.heads = heads
        self.update = update
        self.use_edge_weight = use_edge_weight
        self.channels_used = tuple(c for c in CHANNELS if c in channels_used)
        self.convs = nn.ModuleDict(
            {
                channel: nn.ModuleList(
                    MGNNLayer(
                        channels=channels,
                        heads=heads,
                        update=update,
                        edge_dim=1 if use_edge_weight and channel != "bipartite" else None,
                        dropout=dropout,
                    )
                    for _ in range(num_layers)
                )
                for channel in self.channels_used
            }
        )
        self.reset_parameters()

    @property
    def out_channels(self) -> int:
        return self.channels

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
        """Representations of the batch's pairs from their sampled subgraphs.

        Args:
            graphs: ``{"bipartite": HeteroData, "user_sim": Data, "item_sim": Data}``
                as :meth:`MultiChannelSampler.sample` returns (channels may be left
                out: see *Channels off*).
            user_features: global user ids ``[N]`` (``-1`` = cold start) →
                ``[N, user_channels]`` (the model's user :class:`NodeEncoder`).
            item_features: the same for items.
            user: ``[B]`` global user ids of the pairs; only read when no subgraph
                in ``graphs`` has user seeds (otherwise taken from the subgraphs).
            item: the same for items.
        """
        bip = graphs.get("bipartite") if "bipartite" in self.convs else None
        user_sim = graphs.get("user_sim") if "user_sim" in self.convs else None
        item_sim = graphs.get("item_sim") if "item_sim" in self.convs else None
        oov_user = self._oov(self.user_lin, user_features)  # [1, d]
        oov_item = self._oov(self.item_lin, item_features)  # [1, d]

        if bip is not None:
            h_u, h_i = self._bipartite(bip, user_features, item_features)
            rep_user = _gather(h_u, bip["user"].pair_index, oov_user)  # [B, d]
            rep_item = _gather(h_i, bip["item"].pair_index, oov_item)  # [B, d]
        else:
            rep_user = self.user_lin(user_features(self._pair_ids(graphs, "user", user)))
            rep_item = self.item_lin(item_features(self._pair_ids(graphs, "item", item)))
        if user_sim is not None:
            h = self._similarity("user_sim", user_sim, user_features, self.user_lin)
            rep_user_sim = _gather(h, user_sim.pair_index, oov_user)
        else:
            rep_user_sim = self.user_lin(user_features(self._pair_ids(graphs, "user", user)))
        if item_sim is not None:
            h = self._similarity("item_sim", item_sim, item_features, self.item_lin)
            rep_item_sim = _gather(h, item_sim.pair_index, oov_item)
        else:
            rep_item_sim = self.item_lin(item_features(self._pair_ids(graphs, "item", item)))
        return GraphRepresentations(
            user=rep_user, item=rep_item, user_sim=rep_user_sim, item_sim=rep_item_sim
        )

    def _bipartite(
        self, data: HeteroData, user_features: FeatureFn, item_features: FeatureFn
    ) -> tuple[Tensor, Tensor]:
        h_u = self.user_lin(user_features(data["user"].n_id))  # [N_u, d]
        h_i = self.item_lin(item_features(data["item"].n_id))  # [N_i, d]
        to_user = data[REV_INTERACTS].edge_index  # [2, E] item → user (local ids)
        to_item = data[INTERACTS].edge_index  # [2, E'] user → item
        c_u = c_i = None
        for layer in self.convs["bipartite"]:
            new_u, c_u = layer((h_i, h_u), to_user, cell=c_u)
            new_i, c_i = layer((h_u, h_i), to_item, cell=c_i)
            h_u, h_i = new_u, new_i
        return h_u, h_i

    def _similarity(self, channel: str, data, features: FeatureFn, lin: nn.Linear) -> Tensor:
        h = lin(features(data.n_id))  # [N, d]
        weight = data.edge_weight if self.use_edge_weight else None
        c = None
        for layer in self.convs[channel]:
            h, c = layer(h, data.edge_index, weight, cell=c)
        return h

    # -------------------------------------------------------- full-graph inference
    @torch.no_grad()
    def inference(
        self, bundle_data: HeteroData, user_x: Tensor, item_x: Tensor, batch_size: int
    ) -> dict[str, Tensor]:
        r"""Representations of **every** user and item, layer by layer over the full
        graphs (layer :math:`l` of every node from layer :math:`l-1` of every node),
        for evaluation at scale and embedding export. Call in ``eval()`` mode.

        Destination nodes are processed ``batch_size`` at a time with only the
        source rows their edges read, so memory is bounded by the chunk's edges plus
        the ``[N, d]`` node states. Reads ``('user', 'interacts', 'item')`` (both
        directions) and ``('user', 'similar', 'user')`` / ``('item', 'similar',
        'item')`` (``edge_index[0]`` samples ``edge_index[1]``, as the sampler reads
        them; ``edge_weight`` when ``use_edge_weight``).

        Args:
            bundle_data: the :attr:`GraphBundle.data` the subgraphs are sampled from.
            user_x: ``[U, user_channels]`` raw encodings of users ``0 … U-1``.
            item_x: ``[I, item_channels]`` raw encodings of items ``0 … I-1``.
            batch_size: destination nodes per chunk.

        Returns:
            ``{"user": [U, d], "item": [I, d], "user_sim": [U, d], "item_sim": [I, d]}``
            (row ``v`` = node ``v``; channels off give the initial encodings). Rows for
            a batch of pairs, cold start included, come from :meth:`gather`.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        device = user_x.device
        num_users, num_items = user_x.size(0), item_x.size(0)
        p, q = self.user_lin(user_x), self.item_lin(item_x)  # [U, d], [I, d]
        out = {"user": p, "item": q, "user_sim": p, "item_sim": q}

        if "bipartite" in self.convs:
            edge_index = bundle_data[INTERACTS].edge_index.to(device)  # user → item
            to_user, to_item = _DstChunks.bipartite(edge_index, None, num_users, num_items)
            h_u, h_i, c_u, c_i = p, q, None, None
            for layer in self.convs["bipartite"]:
                new_u, c_u = self._layer_in_chunks(layer, h_i, h_u, to_user, c_u, batch_size)
                new_i, c_i = self._layer_in_chunks(layer, h_u, h_i, to_item, c_i, batch_size)
                h_u, h_i = new_u, new_i
            out["user"], out["item"] = h_u, h_i

        for channel, etype, h in (("user_sim", USER_SIMILAR, p), ("item_sim", ITEM_SIMILAR, q)):
            if channel not in self.convs:
                continue
            store = bundle_data[etype]
            target, neighbour = store.edge_index.to(device)  # row samples col: col → row
            weight = store.edge_weight.to(device) if self.use_edge_weight else None
            chunks = _DstChunks(neighbour, target, weight, h.size(0))
            c = None
            for layer in self.convs[channel]:
                h, c = self._layer_in_chunks(layer, h, h, chunks, c, batch_size)
            out[channel] = h
        return out

    @staticmethod
    def _layer_in_chunks(
        layer: MGNNLayer,
        x_src: Tensor,
        x_dst: Tensor,
        chunks: _DstChunks,
        cell: Tensor | None,
        batch_size: int,
    ) -> tuple[Tensor, Tensor | None]:
        hs, cs = [], []
        for rows, x, edge_index, weight in chunks.subgraphs(x_src, x_dst, batch_size):
            h, c = layer(x, edge_index, weight, cell=None if cell is None else cell[rows])
            hs.append(h)
            cs.append(c)
        if not hs:  # no destination nodes
            return x_dst, cell
        return torch.cat(hs), None if cs[0] is None else torch.cat(cs)

    def extra_repr(self) -> str:
        return (
            f"heads={self.heads}, update='{self.update}', channels_used={list(self.channels_used)}"
        )
