"""Per-stage configuration (nanoGPT style): one small typed dataclass per stage.

A run's resolved configuration is a :class:`RunConfig` of stage configs; it is
read from YAML, overridden by ``--set stage.key=value`` and written back into the
run directory.  Modules never receive these objects whole: the code that builds
a module passes the fields it needs as keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GraphConfig:
    """How the graph bundle is built from the training log.

    Args:
        similarity: collaborative-similarity measure over co-interactions
            (``cosine``; later also ``jaccard``, ``cooccur``).
        topk: neighbours kept per node in the user–user / item–item graphs.
        min_support: minimum number of common interactions for a similarity edge.
    """

    similarity: str = "cosine"
    topk: int = 10
    min_support: int = 1
