"""Node encoders: ids and feature tables → dense node representations."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mogenet.datasets.features import FeatureTable


class NodeEncoder(nn.Module):
    r"""Encodes nodes of one type (users or items) from their id and features: the
    shared initial representations :math:`\mathbf{p}_u, \mathbf{q}_i` of
    `"Mixture of Graph Enhanced Expert Networks for Multi-task Recommendation"
    <https://doi.org/10.1007/978-3-031-20868-3_1>`_ (MoGENet, PRICAI'22, §2.1).

    .. math::
        \mathbf{x}_v = \mathbf{E}_{\mathrm{id}}[v] \,\Vert\,
        \mathbf{E}_1[c_{v,1}] \,\Vert \cdots \Vert\, \mathbf{E}_C[c_{v,C}]
        \,\Vert\, \mathbf{W}_{\mathrm{num}} \mathbf{n}_v

    with one embedding table per categorical column (sized by its cardinality; code 0,
    "missing or rare", has its own learnt row) and a linear projection of the
    standardised numeric features :math:`\mathbf{n}_v`.

    Only nodes :math:`v < K` (``num_embedded``: by default all :math:`N`) own an
    id row. Nodes :math:`K \le v < N` are in the feature table but not in the
    training log (e.g. the test people of census-income, or catalogue items never
    shown yet): they share one extra *out-of-vocabulary* (OOV) id row, row
    :math:`K`, and keep their own features. Index ``-1`` (any negative index) is a
    node unknown to the table (cold start): the OOV id row, all categorical codes 0
    and numeric features 0 (the mean). The loss reaches the OOV row only through
    nodes that use it. With :math:`K = 0` (a node type left out of
    ``ModelConfig.ids``: features only) every node does, and it is a learnt bias.
    Otherwise training sees it only with ``id_dropout``; without, only weight decay
    moves it (towards zero).

    The feature table is stored as **non-persistent buffers**: they move with
    :meth:`~torch.nn.Module.to` (lookups stay on the device) but are not part of
    :meth:`~torch.nn.Module.state_dict`. Features are data, not learnt state, and
    the encoder cannot be rebuilt without them anyway (their cardinalities size the
    embedding tables), so a run saves the :class:`FeatureTable` once, next to the
    model state, instead of a second copy inside every checkpoint.

    Args:
        num_nodes: number of nodes :math:`N` (rows of the feature table).
        embedding_dim: size of the id embedding.
        features: encoded node features, or ``None`` for ids only.
        feature_dim: size of each categorical embedding and of the numeric
            projection (default: ``embedding_dim``).
        num_embedded: nodes :math:`[0, K)` with an id row of their own (default
            ``num_nodes``); ``0`` = features only.
        id_dropout: in training mode, each looked-up node uses the OOV id row
            instead of its own with this probability (features kept), so that the
            OOV row learns how an unseen node scores, as DropoutNet
            (Volkovs et al., NeurIPS 2017) drops preference inputs; ``0`` = off.

    Shapes:
        - **input:** ``[B]`` long node indices in ``[0, N)``, or ``-1`` for cold start
        - **output:** ``[B, out_channels]`` with ``out_channels = embedding_dim +
          C * feature_dim + (feature_dim if F > 0 else 0)``
    """

    categorical: Tensor
    numeric: Tensor

    def __init__(
        self,
        *,
        num_nodes: int,
        embedding_dim: int,
        features: FeatureTable | None = None,
        feature_dim: int | None = None,
        num_embedded: int | None = None,
        id_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_nodes < 1 or embedding_dim < 1:
            raise ValueError(
                f"NodeEncoder needs num_nodes >= 1 and embedding_dim >= 1, "
                f"got {num_nodes} and {embedding_dim}"
            )
        if features is None:
            features = FeatureTable.empty(num_nodes)
        if features.num_nodes != num_nodes:
            raise ValueError(
                f"feature table has {features.num_nodes} rows but num_nodes={num_nodes}"
            )
        num_embedded = num_nodes if num_embedded is None else num_embedded
        if not 0 <= num_embedded <= num_nodes:
            raise ValueError(f"num_embedded must be in [0, {num_nodes}], got {num_embedded}")
        if not 0.0 <= id_dropout < 1.0:
            raise ValueError(f"id_dropout must be in [0, 1), got {id_dropout}")
        feature_dim = embedding_dim if feature_dim is None else feature_dim
        if feature_dim < 1:
            raise ValueError(f"feature_dim must be >= 1, got {feature_dim}")

        self.num_nodes = num_nodes
        self.num_embedded = num_embedded
        self.id_dropout = id_dropout
        self.embedding_dim = embedding_dim
        self.feature_dim = feature_dim
        self.categorical_names = tuple(features.categorical_names)
        self.numeric_names = tuple(features.numeric_names)

        # Row ``num_nodes`` is the out-of-vocabulary node: id row N, codes 0, numerics 0.
        categorical = features.categorical.long()
        numeric = features.numeric.float()
        self.register_buffer(
            "categorical",
            torch.cat([categorical, categorical.new_zeros(1, categorical.size(1))]),
            persistent=False,
        )  # [N + 1, C]
        self.register_buffer(
            "numeric",
            torch.cat([numeric, numeric.new_zeros(1, numeric.size(1))]),
            persistent=False,
        )  # [N + 1, F]

        self.id_embedding = nn.Embedding(num_embedded + 1, embedding_dim)
        self.categorical_embeddings = nn.ModuleList(
            nn.Embedding(int(card), feature_dim) for card in features.cardinalities
        )
        num_numeric = int(numeric.size(1))
        self.numeric_lin = nn.Linear(num_numeric, feature_dim) if num_numeric > 0 else None
        self.out_channels = (
            embedding_dim
            + feature_dim * len(self.categorical_embeddings)
            + (feature_dim if self.numeric_lin is not None else 0)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Xavier-uniform embeddings, as PyG's LightGCN and the NGCF/MoGENet code.
        nn.init.xavier_uniform_(self.id_embedding.weight)
        for emb in self.categorical_embeddings:
            nn.init.xavier_uniform_(emb.weight)
        if self.numeric_lin is not None:
            self.numeric_lin.reset_parameters()

    @property
    def oov_index(self) -> int:
        """The id-embedding row shared by nodes without their own (cold start)."""
        return self.num_embedded

    def forward(self, index: Tensor) -> Tensor:
        index = torch.where(index < 0, self.num_nodes, index)  # cold start → zero features
        ids = torch.where(index < self.num_embedded, index, self.num_embedded)  # → OOV row
        if self.training and self.id_dropout > 0:
            drop = torch.rand(ids.shape, device=ids.device) < self.id_dropout
            ids = torch.where(drop, self.num_embedded, ids)
        out = [self.id_embedding(ids)]  # [B, embedding_dim]
        if len(self.categorical_embeddings) > 0:
            codes = self.categorical[index]  # [B, C]
            out.extend(emb(codes[:, j]) for j, emb in enumerate(self.categorical_embeddings))
        if self.numeric_lin is not None:
            out.append(self.numeric_lin(self.numeric[index]))  # [B, feature_dim]
        return torch.cat(out, dim=-1) if len(out) > 1 else out[0]

    def __repr__(self) -> str:
        embedded = (
            f"num_embedded={self.num_embedded}, " if self.num_embedded < self.num_nodes else ""
        )
        return (
            f"{self.__class__.__name__}({self.num_nodes}, {self.out_channels}, "
            f"embedding_dim={self.embedding_dim}, {embedded}"
            f"categorical={len(self.categorical_embeddings)}, numeric={len(self.numeric_names)})"
        )
