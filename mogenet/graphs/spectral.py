r"""Spectral node embeddings of the user–item graph of logged pairs.

The embeddings are the top singular vectors of the symmetrically normalised
user–item matrix,

.. math::
    \tilde{\mathbf{R}} = \mathbf{D}_U^{-1/2}\, \mathbf{R}\, \mathbf{D}_I^{-1/2}
        \approx \mathbf{U}_k \boldsymbol{\Sigma}_k \mathbf{V}_k^\top,
    \qquad \mathbf{s}_u = \sqrt{N_U}\, \mathbf{U}_k[u], \quad
    \mathbf{s}_i = \sqrt{N_I}\, \mathbf{V}_k[i],

with :math:`R_{ui} = 1` when the training log has a row for the pair and
:math:`\mathbf{D}` the degrees.  They span the smoothest signals on the graph, the
"ideal low-pass filter" of GF-CF (Shen et al., `"How Powerful is Graph Convolution
for Recommendation?" <https://arxiv.org/abs/2108.07567>`_, CIKM'21) and SVD-GCN
(Peng et al., CIKM'22): nodes that share many neighbours, directly or through a
few hops, get nearby rows.  The first vector is proportional to
:math:`\sqrt{\text{degree}}` (popularity).  Scaled by :math:`\sqrt{N}` every column
has unit root mean square, like a standardised feature.

**Which pairs.**  :math:`\mathbf{R}` has a 1 for every *row* of the training log,
whatever its labels: impressions without action count as much as purchases.  That
keeps the embeddings label-free, so a training pair's own label never reaches its
own embeddings (a graph of positives would leak it, as the similarity graphs do
without out-of-fold folds, see ``mogenet.sampling.sampler``).  It is also where
the signal is when a log records impressions: which items a user was *shown*
reflects the user's interests (the recommender that chose them), and on the
synthetic logs a user's impressions identify the user's latent community far
better than the user's few clicks do (``scripts/diagnose_ceiling.py``).  When the
negatives were sampled (``mogenet split --negatives K``), their random pairs are in
:math:`\mathbf{R}` too and only dilute it.

Computed with ARPACK (``scipy.sparse.linalg.svds``; a dense SVD when users or
items number fewer than 32 or ``2k + 2``) from a fixed start vector, so the same
graph gives the same embeddings; each vector's sign is fixed so that its largest
item entry is positive.  Where singular values (nearly) repeat, as with
equal-sized communities, only the subspace they span is determined.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds
from torch import Tensor

from mogenet.errors import InputError

#: ARPACK wants a few more Lanczos vectors than ``k``; smaller graphs use a dense SVD.
_MIN_ARPACK_SIDE = 32


def spectral_embeddings(
    users: Tensor | np.ndarray,
    items: Tensor | np.ndarray,
    *,
    num_users: int,
    num_items: int,
    dim: int,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    r"""``dim`` spectral coordinates of every user and item (see the module docstring).

    Args:
        users: ``[E]`` user index of every logged pair (repeats count once).
        items: ``[E]`` item index of every logged pair.
        num_users: user nodes :math:`N_U` (nodes without pairs get zero rows).
        num_items: item nodes :math:`N_I`.
        dim: number of singular vectors :math:`k`.
        seed: seeds ARPACK's start vector.

    Returns:
        ``([N_U, dim], [N_I, dim])`` float32.

    Raises:
        InputError: ``dim`` is not below the number of users and of items with pairs.
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    active_u, active_i = np.unique(users), np.unique(items)
    rank = min(len(active_u), len(active_i))
    if dim < 1 or dim >= rank:
        raise InputError(
            f"--spectral must be between 1 and {rank - 1} (users and items with logged "
            f"pairs: {len(active_u)} and {len(active_i)}), got {dim}"
        )
    # Only nodes with pairs: an empty row would make ARPACK's job singular.
    u = np.searchsorted(active_u, users)
    i = np.searchsorted(active_i, items)
    r = sp.coo_matrix((np.ones(len(u)), (u, i)), shape=(len(active_u), len(active_i))).tocsr()
    r.data[:] = 1.0  # a pair logged twice counts once
    du = np.asarray(r.sum(axis=1)).ravel()
    di = np.asarray(r.sum(axis=0)).ravel()
    norm = sp.diags(1 / np.sqrt(du)) @ r @ sp.diags(1 / np.sqrt(di))
    if rank < max(_MIN_ARPACK_SIDE, 2 * dim + 2):
        left, sigma, right_t = np.linalg.svd(norm.toarray(), full_matrices=False)
    else:
        v0 = np.random.default_rng(seed).uniform(0.5, 1.5, size=min(norm.shape))
        left, sigma, right_t = svds(norm, k=dim, v0=v0, solver="arpack")
    top = np.argsort(-sigma, kind="stable")[:dim]
    left, right = left[:, top], right_t[top].T  # [U', k], [I', k]
    flip = np.sign(right[np.abs(right).argmax(axis=0), np.arange(dim)])
    left, right = left * flip, right * flip

    user_out = torch.zeros(num_users, dim)
    item_out = torch.zeros(num_items, dim)
    user_out[torch.from_numpy(active_u)] = torch.from_numpy(left * np.sqrt(num_users)).float()
    item_out[torch.from_numpy(active_i)] = torch.from_numpy(right * np.sqrt(num_items)).float()
    return user_out, item_out
