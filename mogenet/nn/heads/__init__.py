"""Multi-task heads, one file per head, registered by name in :data:`HEADS`."""

from mogenet.nn.heads.base import MultiTaskHead, check_tasks
from mogenet.nn.heads.mmoe import MMoE
from mogenet.nn.heads.mogenet import GraphEnhancedExperts
from mogenet.nn.heads.shared_bottom import SharedBottom
from mogenet.nn.resolver import HEADS, register_head, resolve_head

__all__ = [
    "HEADS",
    "GraphEnhancedExperts",
    "MMoE",
    "MultiTaskHead",
    "SharedBottom",
    "check_tasks",
    "register_head",
    "resolve_head",
]
