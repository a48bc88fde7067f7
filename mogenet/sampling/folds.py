r"""Out-of-fold similarity graphs (the training-time fix of the similarity leak).

The user–user and item–item graphs of a :class:`~mogenet.graphs.GraphBundle` are
built from every training positive, so for a training positive :math:`(u, i)` the
similarity edges around ``u`` and ``i`` were partly made by that very interaction
(``u`` and ``v`` look alike *because* both clicked ``i``).  As in out-of-fold
target encoding, every training pair gets a fold

.. math::
    f(u, i) = \mathrm{mix}\big(\mathrm{mix}(u) + i\big) \bmod K,

with :math:`\mathrm{mix}` SplitMix64's output function (uint64 arithmetic, the same
on every platform and run, and a function of the pair alone: all rows of one pair,
positive or not, share a fold), and fold ``f``'s similarity graphs are built by
:func:`~mogenet.graphs.similarity.build_similarity` from the bundle's ``interacts``
edges *outside* fold ``f`` (their behaviour weights too), with the bundle's own
builder settings (``meta['config']``: measure, ``topk``, ``min_support``,
``hub_cap``, behaviour weights, ``seed``, block size, threads).  A training batch
of fold-``f`` pairs is then sampled from graphs its targets did not help build.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from mogenet.config import GraphConfig
from mogenet.graphs.bipartite import behavior_edge_weight
from mogenet.graphs.bundle import INTERACTS, GraphBundle
from mogenet.graphs.similarity import build_similarity

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output for state ``x`` (``x + γ``, then the finaliser), elementwise.

    A bijection of uint64 (wrapping arithmetic); ``splitmix64(0)`` is the first
    output of a SplitMix64 generator seeded with 0, ``0xE220A8397B1DCDAF``.
    """
    z = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def pair_folds(user: Tensor | np.ndarray, item: Tensor | np.ndarray, num_folds: int) -> Tensor:
    """Fold in ``[0, num_folds)`` of each ``(user, item)`` index pair (see the module doc).

    Deterministic across runs, processes and platforms; ``-1`` (cold start) is hashed
    like any other index.

    Shapes:
        - **user**, **item**: ``[N]`` int indices (any device)
        - **output**: ``[N]`` int64, on the CPU
    """
    if num_folds < 1:
        raise ValueError(f"num_folds must be >= 1, got {num_folds}")
    u = torch.as_tensor(user).cpu().numpy().astype(np.int64).view(np.uint64)
    i = torch.as_tensor(item).cpu().numpy().astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        h = splitmix64(splitmix64(u) + i)
    return torch.from_numpy((h % np.uint64(num_folds)).astype(np.int64))


def similarity_settings(bundle: GraphBundle) -> GraphConfig:
    """The :class:`~mogenet.config.GraphConfig` the bundle's similarity graphs were
    built with (``meta['config']``; fields it lacks keep their defaults)."""
    known = {f.name for f in dataclasses.fields(GraphConfig)}
    stored = bundle.meta.get("config") or {}
    return GraphConfig(**{k: v for k, v in stored.items() if k in known})


def interaction_weights(bundle: GraphBundle, config: GraphConfig) -> Tensor | None:
    """``[E]`` behaviour weight of every ``interacts`` edge, as the bundle's
    similarity used it; ``None`` for the binary similarity."""
    if config.behavior_weights is None:
        return None
    return behavior_edge_weight(
        bundle.data[INTERACTS].edge_attr, bundle.tasks, config.behavior_weights
    )


def fold_similarity(
    bundle: GraphBundle,
    num_folds: int,
    fold: int,
    *,
    device: str | torch.device | None = None,
) -> dict[str, tuple[Tensor, Tensor]]:
    """The user–user and item–item graphs of the positives outside ``fold``.

    Args:
        bundle: the graphs of the training log.
        num_folds: ``K`` (≥ 2).
        fold: the fold ``f`` whose ``interacts`` edges are left out.
        device: where the similarity is computed (default: the bundle's build
            device); the graphs are the same on every device.

    Returns:
        ``{"user_sim": (edge_index, edge_weight), "item_sim": (edge_index,
        edge_weight)}`` as :func:`~mogenet.graphs.similarity.build_similarity`
        returns them (CPU).
    """
    if num_folds < 2:
        raise ValueError(f"num_folds must be >= 2, got {num_folds}")
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must be in [0, {num_folds}), got {fold}")
    config = similarity_settings(bundle)
    edge_index = bundle.data[INTERACTS].edge_index
    keep = pair_folds(edge_index[0], edge_index[1], num_folds) != fold  # [E]
    weight = interaction_weights(bundle, config)
    sim = dict(
        measure=config.similarity,
        topk=config.topk,
        min_support=config.min_support,
        edge_weight=None if weight is None else weight[keep],
        hub_cap=config.hub_cap,
        seed=config.seed,
        chunk_nnz=config.chunk_nnz,
        num_threads=config.num_threads,
        device=config.device if device is None else device,
    )
    kept = edge_index[:, keep]  # [2, E_f]
    n_u, n_i = bundle.num_users, bundle.num_items
    return {
        "user_sim": build_similarity(kept, n_u, n_i, **sim),
        "item_sim": build_similarity(kept.flip(0), n_i, n_u, **sim),
    }


__all__ = [
    "fold_similarity",
    "interaction_weights",
    "pair_folds",
    "similarity_settings",
    "splitmix64",
]
