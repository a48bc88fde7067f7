"""Collaborative-similarity graphs :math:`\\mathcal{G}^{\\mathcal{U}}` and
:math:`\\mathcal{G}^{\\mathcal{I}}` (MoGENet paper, §2; item-based CF, Sarwar et al. 2001).

Two source nodes are similar when they share destination neighbours in the
bipartite graph: users that interacted with the same items, items that were
interacted with by the same users.  With :math:`\\mathbf{A}` the binary
``[num_src, num_dst]`` interaction matrix, the co-occurrence counts are
:math:`\\mathbf{C} = \\mathbf{A}\\mathbf{A}^\\top`, i.e.
:math:`c_{a,b} = |\\mathcal{N}(a) \\cap \\mathcal{N}(b)|`, and

.. math::
    \\mathrm{cosine}(a, b) = \\frac{c_{a,b}}{\\sqrt{|\\mathcal{N}(a)|\\,|\\mathcal{N}(b)|}},
    \\quad
    \\mathrm{jaccard}(a, b) = \\frac{c_{a,b}}{|\\mathcal{N}(a)| + |\\mathcal{N}(b)| - c_{a,b}},
    \\quad
    \\mathrm{cooccur}(a, b) = c_{a,b}.

Selection rules (deterministic):

- pairs with :math:`c_{a,b}` < ``min_support`` and self pairs :math:`a = b` are dropped;
- each node ``a`` keeps its ``topk`` best neighbours ``b``, ranked by higher weight
  first, then smaller neighbour index.  Weights are computed in float64 and ranked
  as the float32 values that are stored, so two neighbours whose stored weights are
  equal are tied and the smaller index wins — the selection can be re-derived from
  the output alone;
- the result is symmetrised as the *union* of the per-node selections: if ``b`` is
  among ``a``'s top-k **or** ``a`` among ``b``'s, the edge is kept in both directions
  with the same weight.  A node can therefore end with more than ``topk`` neighbours.

``C`` is computed with ``scipy.sparse`` one block of rows at a time; a block holds
at most about ``chunk_nnz`` partial products, so memory stays bounded whatever the
number of nodes (no dense ``N × N`` matrix is ever formed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from mogenet.errors import InputError

#: ``(count, deg_a, deg_b) -> weight``: all arrays ``[P]``; counts and degrees int64.
SimilarityFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def cosine(count: np.ndarray, deg_a: np.ndarray, deg_b: np.ndarray) -> np.ndarray:
    """Cosine of the binary interaction vectors."""
    return count / np.sqrt(deg_a.astype(np.float64) * deg_b.astype(np.float64))


def jaccard(count: np.ndarray, deg_a: np.ndarray, deg_b: np.ndarray) -> np.ndarray:
    """Intersection over union of the neighbour sets."""
    return count / (deg_a + deg_b - count).astype(np.float64)


def cooccur(count: np.ndarray, deg_a: np.ndarray, deg_b: np.ndarray) -> np.ndarray:
    """Raw number of common neighbours."""
    return count.astype(np.float64)


#: Similarity measures by name (``GraphConfig.similarity``, ``--similarity``).
#: Every measure must be symmetric in ``(a, b)``.
SIMILARITIES: dict[str, SimilarityFn] = {
    "cosine": cosine,
    "jaccard": jaccard,
    "cooccur": cooccur,
}

#: Default bound on the partial products held in memory per row block.
CHUNK_NNZ = 1 << 24


def resolve_similarity(name: str) -> SimilarityFn:
    """The measure registered as ``name``; :class:`InputError` listing the choices otherwise."""
    try:
        return SIMILARITIES[name]
    except KeyError:
        choices = ", ".join(sorted(SIMILARITIES))
        raise InputError(f"unknown similarity measure '{name}' (choose from {choices})") from None


def _row_blocks(cost: np.ndarray, budget: int) -> Iterator[tuple[int, int]]:
    """Consecutive ``[start, end)`` row ranges whose summed ``cost`` is ≤ ``budget``
    (a single row costlier than the budget forms its own block)."""
    cum = np.concatenate([[0], np.cumsum(cost, dtype=np.int64)])  # [N + 1]
    n, start = len(cost), 0
    while start < n:
        end = int(np.searchsorted(cum, cum[start] + budget, side="right")) - 1
        end = min(max(end, start + 1), n)
        yield start, end
        start = end


def _descending_key(weight: np.ndarray) -> np.ndarray:
    """``int64`` in ``[0, 2**32)``, *decreasing* in the float32 ``weight`` (order-exact)."""
    bits = weight.astype(np.float32).view(np.int32).astype(np.int64)
    monotone = np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF))  # IEEE sign-magnitude → order
    return np.int64(0x7FFFFFFF) - monotone


def _topk_per_row(row: np.ndarray, weight: np.ndarray, topk: int | None) -> np.ndarray:
    """Positions of each row's ``topk`` entries: higher weight first, then smaller column.

    The entries must come in (row, column) order: the single stable sort on the
    packed key ``(row, -weight)`` then leaves equal weights in column order.
    """
    if topk is None or len(row) == 0:
        return np.arange(len(row))
    key = (row << 32) | _descending_key(weight)  # row < 2**31 inside a block
    order = np.argsort(key, kind="stable")
    sorted_row = row[order]
    starts = np.flatnonzero(np.r_[True, sorted_row[1:] != sorted_row[:-1]])  # [rows]
    lengths = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, lengths)  # position within the row
    return order[rank < topk]


def build_similarity(
    edge_index: Tensor | np.ndarray,
    num_src: int,
    num_dst: int,
    *,
    measure: str = "cosine",
    topk: int | None = 10,
    min_support: int = 1,
    chunk_nnz: int = CHUNK_NNZ,
) -> tuple[Tensor, Tensor]:
    """Top-k source–source similarity graph over common destination neighbours.

    For user–user similarity pass the bipartite ``edge_index`` (users in row 0);
    for item–item pass ``edge_index.flip(0)`` with ``num_src=num_items``.
    Duplicate input edges count once (the interaction matrix is binary).

    Args:
        edge_index: ``[2, E]`` source (row 0) → destination (row 1) edges.
        num_src: number of source nodes.
        num_dst: number of destination nodes.
        measure: a key of :data:`SIMILARITIES`.
        topk: neighbours selected per node before symmetrisation (``None``: all).
        min_support: minimum number of common neighbours for an edge.
        chunk_nnz: bound on the partial products computed per row block.

    Returns:
        ``(edge_index, edge_weight)``: ``[2, E']`` int64 symmetric edges without
        self loops, sorted by ``(row 0, row 1)``, and ``[E']`` float32 weights.

    Raises:
        InputError: unknown ``measure``, ``topk`` < 1 or ``min_support`` < 1.
    """
    fn = resolve_similarity(measure)
    if topk is not None and topk < 1:
        raise InputError(f"similarity topk must be >= 1, got {topk}")
    if min_support < 1:
        raise InputError(f"similarity min_support must be >= 1, got {min_support}")

    ei = torch.as_tensor(edge_index).cpu().numpy()
    src, dst = ei[0].astype(np.int64), ei[1].astype(np.int64)
    adj = sp.csr_matrix((np.ones(len(src), dtype=np.int32), (src, dst)), shape=(num_src, num_dst))
    adj.sum_duplicates()
    adj.data[:] = 1  # binary: a repeated interaction counts once
    adj_t = adj.T.tocsr()  # [num_dst, num_src]
    deg_src = np.diff(adj.indptr).astype(np.int64)  # [num_src]
    deg_dst = np.diff(adj_t.indptr).astype(np.int64)  # [num_dst]
    # partial products of row a in A·Aᵀ: Σ_{d ∈ N(a)} |N(d)|, an upper bound on its nnz
    cost = adj @ deg_dst  # [num_src]

    rows, cols, weights = [], [], []
    for start, end in _row_blocks(cost, chunk_nnz):
        block = adj[start:end] @ adj_t  # [end - start, num_src] co-occurrence counts
        block.sort_indices()  # (row, col) order, relied on by _topk_per_row's tie-break
        local = np.repeat(np.arange(end - start, dtype=np.int64), np.diff(block.indptr))
        col = block.indices.astype(np.int64)
        count = block.data.astype(np.int64)
        keep = (local + start != col) & (count >= min_support)
        local, col, count = local[keep], col[keep], count[keep]
        row = local + start
        weight = fn(count, deg_src[row], deg_src[col]).astype(np.float32)
        sel = _topk_per_row(local, weight, topk)
        rows.append(row[sel])
        cols.append(col[sel])
        weights.append(weight[sel])

    row = np.concatenate([np.zeros(0, np.int64), *rows])
    col = np.concatenate([np.zeros(0, np.int64), *cols])
    weight = np.concatenate([np.zeros(0, np.float32), *weights])

    # symmetrise: union of a→b and b→a selections (measures are symmetric, so the
    # two directions of a pair carry bit-identical weights)
    row, col = np.concatenate([row, col]), np.concatenate([col, row])
    weight = np.concatenate([weight, weight])
    keys, first = np.unique(row * np.int64(max(num_src, 1)) + col, return_index=True)
    out = np.stack([keys // max(num_src, 1), keys % max(num_src, 1)])  # [2, E']
    return torch.from_numpy(out.astype(np.int64)), torch.from_numpy(weight[first])
