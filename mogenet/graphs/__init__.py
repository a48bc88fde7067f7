"""Graph builders: user–item bipartite graph and collaborative-similarity graphs."""

from mogenet.graphs.bipartite import BipartiteEdges, build_bipartite
from mogenet.graphs.bundle import (
    EDGE_TYPES,
    FORMAT,
    FORMAT_VERSION,
    INTERACTS,
    ITEM_SIMILAR,
    REV_INTERACTS,
    USER_SIMILAR,
    GraphBundle,
)
from mogenet.graphs.leakage import LeakageError, check_leakage, find_leaks
from mogenet.graphs.similarity import SIMILARITIES, build_similarity, resolve_similarity

__all__ = [
    "EDGE_TYPES",
    "FORMAT",
    "FORMAT_VERSION",
    "INTERACTS",
    "ITEM_SIMILAR",
    "REV_INTERACTS",
    "SIMILARITIES",
    "USER_SIMILAR",
    "BipartiteEdges",
    "GraphBundle",
    "LeakageError",
    "build_bipartite",
    "build_similarity",
    "check_leakage",
    "find_leaks",
    "resolve_similarity",
]
