r"""Build a model and its loss from a :class:`~mogenet.config.RunConfig`.

This is the one place where configuration becomes modules. A model name
(``ModelConfig.name``, parsed by :func:`parse_model_name`) is one of

- a **head** of the registry (``mogenet.nn.heads.HEADS``) on the pair encodings
  :math:`\mathbf{x} = [\mathbf{x}_u \Vert \mathbf{x}_i]`. A head that declares
  ``z_channels`` can read MoGENet's graph interactions :math:`\mathcal{Z} =
  \kappa(\cdot, \cdot)` (Eq. 3, ``model.interaction``); if the built head says
  ``uses_graph``, the model gets a graph encoder and the interaction κ;
- ``NAME+mgnn``, for every head ``NAME`` that does not read the graph itself: the
  head on :math:`[\mathbf{x} \Vert \mathbf{h}_u \Vert \mathbf{h}_i \Vert
  \mathbf{h}_u^{\mathcal{U}} \Vert \mathbf{h}_i^{\mathcal{I}}]`, the four MGNN
  representations themselves (MoGENet Table 3: the variants "simply take the output
  of the MGNN module as input"; no κ, so ``model.interaction`` is not read), through
  :class:`~mogenet.nn.heads.graph_input.GraphInput`. ``model.graph_channels_used``
  applies: a channel off contributes its initial encodings;
- a name of :data:`MODELS`: ``ngcf``, the NGCF baseline (MoGENet Table 2).

The head receives, as typed keyword arguments, those shared
:class:`~mogenet.config.ModelConfig` fields that its constructor declares, plus its
``head_options`` (checked against the signature). The graph encoder is
``model.graph_encoder`` from :data:`GRAPH_ENCODERS` (default: the model's own,
MGNN but for ``ngcf``) and receives the ``graph_*`` fields its constructor declares;
setting one it does not declare is an error. Models with a graph encoder get batches
with sampled subgraphs.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torch import nn

from mogenet.config import LossConfig, ModelConfig
from mogenet.datasets.features import FeatureTable
from mogenet.errors import InputError, did_you_mean
from mogenet.losses import MultiTaskLoss
from mogenet.nn.encoder import NodeEncoder
from mogenet.nn.heads import HEADS, MultiTaskHead
from mogenet.nn.heads.graph_input import REPRESENTATIONS, GraphInput, GraphRepresentationStack
from mogenet.nn.interaction import PairwiseInteraction
from mogenet.nn.mgnn import MGNN
from mogenet.nn.model import MultiTaskModel
from mogenet.nn.ngcf import NGCF
from mogenet.nn.resolver import Registry, UnknownNameError, normalize_name

#: ModelConfig fields offered to every head constructor that declares them.
SHARED_HEAD_FIELDS = ("num_experts", "expert_channels", "tower_channels", "dropout")

#: Graph encoders by name (``model.graph_encoder``); each takes ``user_channels``,
#: ``item_channels`` and some of :data:`GRAPH_ENCODER_FIELDS`, and has the interface
#: of :class:`~mogenet.nn.mgnn.MGNN` (sampled forward, ``inference``, ``gather``).
GRAPH_ENCODERS: Registry[nn.Module] = Registry("graph encoder")
GRAPH_ENCODERS.register("mgnn")(MGNN)
GRAPH_ENCODERS.register("ngcf")(NGCF)

#: Graph-encoder constructor argument → the ModelConfig field that sets it.
GRAPH_ENCODER_FIELDS = {
    "channels": "graph_channels",
    "num_layers": "graph_layers",
    "heads": "graph_heads",
    "update": "graph_update",
    "use_edge_weight": "graph_edge_weight",
    "dropout": "graph_dropout",
    "channels_used": "graph_channels_used",
}

#: The suffix of the "+MGNN" variants (MoGENet Table 3).
GRAPH_SUFFIX = "mgnn"


@dataclass(frozen=True)
class ModelSpec:
    """What a model name stands for.

    Args:
        head: the registered head.
        graph_input: the head reads the graph encoder's representations as extra
            input features (:class:`~mogenet.nn.heads.graph_input.GraphInput`).
        graph_encoder: the graph encoder when ``model.graph_encoder`` is unset.
        with_x: with ``graph_input``, the head reads ``x`` too.
    """

    head: str
    graph_input: bool = False
    graph_encoder: str = "mgnn"
    with_x: bool = True


#: Models that are not a head name. ``ngcf``: NGCF (Wang et al., SIGIR'19), the
#: graph baseline of MoGENet Table 2, made multi-task as one MLP per task (the
#: ``mlp`` head, nothing shared between tasks but the encoder) on the pair's NGCF
#: representations :math:`[\mathbf{e}_u^* \Vert \mathbf{e}_i^*]` only. The paper
#: runs NGCF as a single-task method (one model per task, score
#: :math:`\mathbf{e}_u^{*\top}\mathbf{e}_i^*`); per-task towers on the shared
#: encoder are its multi-task form here (``--tasks t`` gives one task).
MODELS: dict[str, ModelSpec] = {
    "ngcf": ModelSpec(head="mlp", graph_input=True, graph_encoder="ngcf", with_x=False),
}


def _head_class(name: str) -> type[MultiTaskHead]:
    try:
        return HEADS.get_class(name)
    except UnknownNameError:
        models = ", ".join(sorted([*HEADS, *MODELS]))
        raise UnknownNameError(
            f"unknown model {name!r}; models: {models}, and NAME+{GRAPH_SUFFIX} for a "
            "head NAME that does not read the graph" + did_you_mean(name, [*HEADS, *MODELS])
        ) from None


def parse_model_name(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of a model name (``mmoe``, ``ple+mgnn``, ``ngcf``;
    case-insensitive, ``-`` = ``_``, as the registry)."""
    key = normalize_name(name)
    if key in MODELS:
        return MODELS[key]
    head, plus, suffix = (normalize_name(part) for part in key.partition("+"))
    if not plus:
        _head_class(head)
        return ModelSpec(head=head)
    if suffix != GRAPH_SUFFIX or not head:
        raise InputError(
            f"unknown model {name!r}: the only suffix is '+{GRAPH_SUFFIX}' "
            f"(NAME+{GRAPH_SUFFIX}: head NAME on the MGNN representations)"
        )
    if head in MODELS or _head_class(head).uses_graph:
        raise InputError(
            f"model {head!r} already reads the graph; there is no '{head}+{GRAPH_SUFFIX}' "
            f"(use --model {head})"
        )
    return ModelSpec(head=head, graph_input=True)


def head_class(name: str) -> type[MultiTaskHead]:
    """The registered head class that model ``name`` trains (for ``NAME+mgnn`` and the
    :data:`MODELS`, the head inside the wrapper): what the head declares, such as
    its :attr:`~mogenet.nn.heads.MultiTaskHead.inputs`, holds for the model."""
    return _head_class(parse_model_name(name).head)


def build_graph_encoder(
    config: ModelConfig, *, user_channels: int, item_channels: int, default: str = "mgnn"
) -> nn.Module:
    """The graph encoder ``config.graph_encoder`` (or ``default``) with the ``graph_*``
    fields its constructor declares; a field it does not declare must keep its default."""
    name = config.graph_encoder or default
    cls = GRAPH_ENCODERS.get_class(name)
    params = inspect.signature(cls).parameters
    defaults = ModelConfig()
    kwargs = {"user_channels": user_channels, "item_channels": item_channels}
    for arg, field in GRAPH_ENCODER_FIELDS.items():
        value = getattr(config, field)
        if arg in params:
            kwargs[arg] = value
        elif value != getattr(defaults, field):
            raise InputError(f"model.{field} does not apply to the {name!r} graph encoder")
    return cls(**kwargs)


def build_model(
    config: ModelConfig,
    *,
    tasks: Sequence[str],
    user_features: FeatureTable,
    item_features: FeatureTable,
    log_nodes: Mapping[str, int] | None = None,
) -> MultiTaskModel:
    """A :class:`MultiTaskModel` for ``tasks`` over the nodes of the feature tables.

    ``log_nodes`` (``{"user": K_u, "item": K_i}``, :attr:`GraphBundle.log_nodes`)
    says how many nodes of each type appear in the training log and so own an id
    embedding; the rest of each table has features only. By default every node is
    in the log. Node types left out of ``config.ids`` have no id embedding.
    """
    spec = parse_model_name(config.name)
    cls = _head_class(spec.head)
    for field in ("dropout", "graph_dropout", "id_dropout"):
        if not 0.0 <= getattr(config, field) < 1.0:
            raise InputError(f"model.{field} must be in [0, 1), got {getattr(config, field)}")
    tables = {"user": user_features, "item": item_features}
    unknown = sorted(set(config.ids) - set(tables))
    if unknown:
        raise InputError(f"model.ids lists unknown node type(s) {unknown}; use user, item")
    if not config.ids and not any(t.num_columns for t in tables.values()):
        raise InputError(
            "model.ids=[] leaves the model nothing to read: give user or item "
            "features (build-graphs --users/--items)"
        )
    user_encoder, item_encoder = (
        NodeEncoder(
            num_nodes=table.num_nodes,
            embedding_dim=config.embedding_dim,
            features=table,
            num_embedded=(log_nodes or {}).get(kind, table.num_nodes) if kind in config.ids else 0,
            id_dropout=config.id_dropout,
        )
        for kind, table in tables.items()
    )
    in_channels = user_encoder.out_channels + item_encoder.out_channels
    params = inspect.signature(cls).parameters
    unknown = [k for k in config.head_options if k not in params]
    if unknown:
        options = [p for p in params if p not in ("self", "tasks", "in_channels")]
        raise InputError(
            f"model {config.name!r} has no option(s) {', '.join(unknown)} "
            f"(options: {', '.join(options)})" + did_you_mean(unknown[0], options)
        )
    kwargs = {k: getattr(config, k) for k in SHARED_HEAD_FIELDS if k in params}
    graph_encoder = interaction = None
    if spec.graph_input or cls.uses_graph or "z_channels" in params:
        graph_encoder = build_graph_encoder(
            config,
            user_channels=user_encoder.out_channels,
            item_channels=item_encoder.out_channels,
            default=spec.graph_encoder,
        )
    if spec.graph_input:  # the head on [x ‖ the graph representations]
        interaction = GraphRepresentationStack(
            channels=graph_encoder.out_channels,
            fields=getattr(graph_encoder, "representations", REPRESENTATIONS),
        )
        num_z, z_channels = interaction.num_outputs, interaction.out_channels
        head = GraphInput(
            in_channels=in_channels,
            head=cls(
                in_channels=(in_channels if spec.with_x else 0) + num_z * z_channels,
                tasks=tuple(tasks),
                **{**kwargs, **config.head_options},
            ),
            num_z=num_z,
            z_channels=z_channels,
            with_x=spec.with_x,
        )
    else:
        if "z_channels" in params:  # the head can read MoGENet's graph interactions Z
            interaction = PairwiseInteraction(
                kind=config.interaction, channels=graph_encoder.out_channels
            )
            kwargs["z_channels"] = interaction.out_channels
        kwargs.update(config.head_options)
        head = cls(in_channels=in_channels, tasks=tuple(tasks), **kwargs)
    if not head.uses_graph:  # e.g. MoGENet with its graph experts off (= MMoE, §2.4)
        graph_encoder = interaction = None
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
    if config.contrastive_task is not None and config.contrastive_task not in tasks:
        raise InputError(
            f"loss.contrastive_task {config.contrastive_task!r} is not a task ({', '.join(tasks)})"
        )
    return MultiTaskLoss(
        tasks=tuple(tasks),
        weighting=config.weighting,
        weights=config.weights,
        cooperative=config.cooperative,
        contrastive=config.contrastive,
        contrastive_task=config.contrastive_task,
        temperature=config.temperature,
    )
