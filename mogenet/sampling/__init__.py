"""Mini-batching of (user, item) examples (and, later, multi-channel neighbour sampling)."""

from mogenet.sampling.batch import PairBatch
from mogenet.sampling.loader import Examples, PairLoader

__all__ = ["Examples", "PairBatch", "PairLoader"]
