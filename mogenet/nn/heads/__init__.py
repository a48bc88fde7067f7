"""Multi-task heads, one file per head, registered by name in :data:`HEADS`."""

from mogenet.nn.heads.aesm2 import AESM2
from mogenet.nn.heads.aitm import AITM
from mogenet.nn.heads.base import MultiTaskHead, check_tasks
from mogenet.nn.heads.bpcm import BPCM
from mogenet.nn.heads.cross_stitch import CrossStitch
from mogenet.nn.heads.esmm import ESMM
from mogenet.nn.heads.graph_input import GraphInput, GraphRepresentationStack
from mogenet.nn.heads.mmoe import MMoE
from mogenet.nn.heads.mogenet import GraphEnhancedExperts
from mogenet.nn.heads.mose import MoSE
from mogenet.nn.heads.omoe import OMoE
from mogenet.nn.heads.ple import CGC, PLE
from mogenet.nn.heads.shared_bottom import SharedBottom
from mogenet.nn.heads.single_task import SingleTaskMLP
from mogenet.nn.heads.snr import SNRAver, SNRTrans
from mogenet.nn.resolver import HEADS, register_head, resolve_head

__all__ = [
    "AESM2",
    "AITM",
    "BPCM",
    "CGC",
    "CrossStitch",
    "ESMM",
    "HEADS",
    "GraphEnhancedExperts",
    "GraphInput",
    "GraphRepresentationStack",
    "MMoE",
    "MoSE",
    "MultiTaskHead",
    "OMoE",
    "PLE",
    "SNRAver",
    "SNRTrans",
    "SharedBottom",
    "SingleTaskMLP",
    "check_tasks",
    "register_head",
    "resolve_head",
]
