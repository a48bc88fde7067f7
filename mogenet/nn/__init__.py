"""Neural modules: node encoders, the MGNN graph encoder, pairwise interactions,
experts, gates, towers and multi-task heads."""

from mogenet.nn.encoder import NodeEncoder
from mogenet.nn.expert import expert_mlp, tower_mlp
from mogenet.nn.gate import Gate
from mogenet.nn.heads import HEADS, MMoE, MultiTaskHead, SharedBottom
from mogenet.nn.interaction import PairwiseInteraction
from mogenet.nn.mgnn import MGNN, GraphRepresentations, MGNNLayer
from mogenet.nn.model import MultiTaskModel
from mogenet.nn.ngcf import NGCF, NGCFLayer
from mogenet.nn.output import HeadOutput
from mogenet.nn.resolver import Registry, UnknownNameError, register_head, resolve_head

__all__ = [
    "HEADS",
    "MGNN",
    "Gate",
    "GraphRepresentations",
    "MGNNLayer",
    "PairwiseInteraction",
    "HeadOutput",
    "MMoE",
    "MultiTaskHead",
    "MultiTaskModel",
    "NGCF",
    "NGCFLayer",
    "NodeEncoder",
    "Registry",
    "SharedBottom",
    "UnknownNameError",
    "expert_mlp",
    "register_head",
    "resolve_head",
    "tower_mlp",
]
