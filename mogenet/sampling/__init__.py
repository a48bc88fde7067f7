"""Mini-batching of (user, item) examples (and, later, multi-channel neighbour sampling)."""

from mogenet.sampling.batch import PairBatch

__all__ = ["PairBatch"]
