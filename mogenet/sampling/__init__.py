"""Mini-batching of (user, item) examples and multi-channel neighbour sampling.

- :class:`PairBatch` — one mini-batch (ids, labels, optional sampled subgraphs).
- :class:`Examples`, :class:`PairLoader` — encoded examples and seeded batches.
- :class:`MultiChannelSampler`, :class:`Fanouts` — bipartite / user-similarity /
  item-similarity subgraphs of a batch of pairs (pure PyTorch, CPU and CUDA).
- :class:`NeighborPairLoader` — batches with their subgraphs, sampled ahead by
  worker threads; :class:`BatchMaker` — which loader a model gets.
"""

from mogenet.sampling.batch import PairBatch
from mogenet.sampling.loader import BatchMaker, Examples, NeighborPairLoader, PairLoader
from mogenet.sampling.neighbor import CSR, sample_neighbors
from mogenet.sampling.sampler import CHANNELS, Fanouts, MultiChannelSampler

__all__ = [
    "BatchMaker",
    "CHANNELS",
    "CSR",
    "Examples",
    "Fanouts",
    "MultiChannelSampler",
    "NeighborPairLoader",
    "PairBatch",
    "PairLoader",
    "sample_neighbors",
]
