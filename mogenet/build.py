"""Build a model and its loss from a :class:`~mogenet.config.RunConfig`.

This is the one place where configuration becomes modules: the head class comes
from the registry (``mogenet.nn.heads.HEADS``) and receives, as typed keyword
arguments, those shared :class:`~mogenet.config.ModelConfig` fields that its
constructor declares, plus its ``head_options`` (checked against the signature).
A head that declares ``z_channels`` can read MoGENet's graph interactions; if the
built head says ``uses_graph``, the model gets an MGNN encoder and the pairwise
interaction κ, and its batches carry sampled subgraphs.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from mogenet.config import LossConfig, ModelConfig
from mogenet.datasets.features import FeatureTable
from mogenet.errors import InputError
from mogenet.losses import MultiTaskLoss
from mogenet.nn.encoder import NodeEncoder
from mogenet.nn.heads import HEADS
from mogenet.nn.interaction import PairwiseInteraction
from mogenet.nn.mgnn import MGNN
from mogenet.nn.model import MultiTaskModel

#: ModelConfig fields offered to every head constructor that declares them.
SHARED_HEAD_FIELDS = ("num_experts", "expert_channels", "tower_channels", "dropout")


def build_model(
    config: ModelConfig,
    *,
    tasks: Sequence[str],
    user_features: FeatureTable,
    item_features: FeatureTable,
) -> MultiTaskModel:
    """A :class:`MultiTaskModel` for ``tasks`` over the nodes of the feature tables."""
    cls = HEADS.get_class(config.name)
    user_encoder = NodeEncoder(
        num_nodes=user_features.num_nodes,
        embedding_dim=config.embedding_dim,
        features=user_features,
    )
    item_encoder = NodeEncoder(
        num_nodes=item_features.num_nodes,
        embedding_dim=config.embedding_dim,
        features=item_features,
    )
    params = inspect.signature(cls).parameters
    unknown = [k for k in config.head_options if k not in params]
    if unknown:
        raise InputError(
            f"model {config.name!r} has no option(s) {', '.join(unknown)} "
            f"(options: {', '.join(p for p in params if p not in ('self', 'tasks'))})"
        )
    kwargs = {k: getattr(config, k) for k in SHARED_HEAD_FIELDS if k in params}
    interaction = None
    if "z_channels" in params:  # the head can read MoGENet's graph interactions Z
        interaction = PairwiseInteraction(kind=config.interaction, channels=config.graph_channels)
        kwargs["z_channels"] = interaction.out_channels
    kwargs.update(config.head_options)
    head = cls(
        in_channels=user_encoder.out_channels + item_encoder.out_channels,
        tasks=tuple(tasks),
        **kwargs,
    )
    graph_encoder = None
    if head.uses_graph:
        graph_encoder = MGNN(
            user_channels=user_encoder.out_channels,
            item_channels=item_encoder.out_channels,
            channels=config.graph_channels,
            num_layers=config.graph_layers,
            heads=config.graph_heads,
            update=config.graph_update,
            use_edge_weight=config.graph_edge_weight,
            dropout=config.graph_dropout,
            channels_used=config.graph_channels_used,
        )
    else:
        interaction = None  # e.g. MoGENet with its graph experts off (= MMoE, §2.4)
    return MultiTaskModel(
        user_encoder=user_encoder,
        item_encoder=item_encoder,
        head=head,
        graph_encoder=graph_encoder,
        interaction=interaction,
    )


def build_loss(config: LossConfig, *, tasks: Sequence[str]) -> MultiTaskLoss:
    """The multi-task loss of a run."""
    if config.weights is not None:
        unknown = [t for t in config.weights if t not in tasks]
        if unknown:
            raise InputError(f"loss.weights names unknown task(s): {', '.join(unknown)}")
    if config.weights is not None and config.weighting != "fixed":
        raise InputError("loss.weights needs loss.weighting=fixed")
    return MultiTaskLoss(
        tasks=tuple(tasks),
        weighting=config.weighting,
        weights=config.weights,
        cooperative=config.cooperative,
    )
