"""mogenet: a graph-learning multi-task recommender framework on PyTorch Geometric."""

__version__ = "0.1.0"
