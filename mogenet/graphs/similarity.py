r"""Collaborative-similarity graphs :math:`\mathcal{G}^{\mathcal{U}}` and
:math:`\mathcal{G}^{\mathcal{I}}` (MoGENet paper, §2; item-based CF, Sarwar et al. 2001).

Two source nodes are similar when they share destination neighbours in the
bipartite graph: users that interacted with the same items, items that were
interacted with by the same users.  With :math:`\mathbf{A}` the
``[num_src, num_dst]`` interaction matrix — binary, or holding a behaviour weight
per edge (the behaviour-weighted variant, e.g. a purchase counts more than a
click) — the co-interaction scores are :math:`\mathbf{D} = \mathbf{A}\mathbf{A}^\top`
and the squared norms :math:`n_a = \sum_d A_{a,d}^2`:

.. math::
    \mathrm{cosine}(a, b) = \frac{D_{a,b}}{\sqrt{n_a\, n_b}}, \qquad
    \mathrm{jaccard}(a, b) = \frac{D_{a,b}}{n_a + n_b - D_{a,b}}, \qquad
    \mathrm{cooccur}(a, b) = D_{a,b}.

On a binary matrix :math:`D_{a,b} = |\mathcal{N}(a) \cap \mathcal{N}(b)|` and
:math:`n_a = |\mathcal{N}(a)|`: the usual cosine, Jaccard and common-neighbour
count; with weights, Jaccard is its real-valued extension (Tanimoto).

**Hub cap.**  A destination with :math:`d` sources contributes :math:`d^2` pairs
(an item with :math:`10^5` users, :math:`10^{10}`).  With ``hub_cap = c``, a
destination with more than :math:`c` sources keeps a seeded uniform sample of
:math:`c` of them, and the similarity is that of the capped matrix (its dot
products and its norms).  The work is then bounded by :math:`\sum_d \min(d, c)^2`.

**Selection rules** (deterministic, the same on every device):

- pairs with fewer than ``min_support`` common neighbours and self pairs are dropped;
- each node ``a`` keeps its ``topk`` best neighbours ``b``: higher weight first,
  then smaller neighbour index.  Weights are computed in float32 from the float32
  scores and norms, and ranked as those stored float32 values, so the selection can
  be re-derived from the output alone;
- the result is symmetrised as the *union* of the per-node selections: if ``b`` is
  among ``a``'s top-k **or** ``a`` among ``b``'s, the edge is kept in both directions
  with one weight (the one computed at the smaller endpoint).  A node can
  therefore have more than ``topk`` neighbours.

**Computation.**  :math:`\mathbf{D}` is never formed whole: rows are processed in
blocks whose partial products :math:`\sum_{a \in \text{block}} \sum_{d \in
\mathcal{N}(a)} \deg(d)` stay below ``chunk_nnz``, so the peak memory of a block is
bounded (about 40 bytes per partial product, times the number of worker threads).
Each block is a sparse CSR × CSR product in PyTorch followed by a top-k selection
on dense per-width buckets of rows (``torch.topk``), so the same code runs on CPU
(blocks spread over threads; the sparse product releases the GIL) and on CUDA.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from tqdm.auto import tqdm

from mogenet.errors import InputError

#: ``(dot, sq_norm_a, sq_norm_b) -> weight``, float32 tensors (broadcastable).
SimilarityFn = Callable[[Tensor, Tensor, Tensor], Tensor]


def cosine(dot: Tensor, norm_a: Tensor, norm_b: Tensor) -> Tensor:
    """Cosine of the interaction vectors."""
    return dot / torch.sqrt(norm_a * norm_b)


def jaccard(dot: Tensor, norm_a: Tensor, norm_b: Tensor) -> Tensor:
    """Intersection over union (Tanimoto for weighted vectors)."""
    return dot / (norm_a + norm_b - dot)


def cooccur(dot: Tensor, norm_a: Tensor, norm_b: Tensor) -> Tensor:
    """Number (or weighted sum) of common neighbours."""
    return dot


#: Similarity measures by name (``GraphConfig.similarity``, ``--similarity``).
#: Every measure must be symmetric in ``(a, b)``.
SIMILARITIES: dict[str, SimilarityFn] = {
    "cosine": cosine,
    "jaccard": jaccard,
    "cooccur": cooccur,
}

#: Default bound on the partial products of one row block.
CHUNK_NNZ = 1 << 22


def resolve_similarity(name: str) -> SimilarityFn:
    """The measure registered as ``name``; :class:`InputError` listing the choices otherwise."""
    try:
        return SIMILARITIES[name]
    except KeyError:
        choices = ", ".join(sorted(SIMILARITIES))
        raise InputError(f"unknown similarity measure '{name}' (choose from {choices})") from None


def cap_hubs(dst: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Mask keeping at most ``cap`` edges per destination, a seeded uniform sample.

    Args:
        dst: ``[E]`` destination of each edge.
        cap: the most edges kept per destination.
        seed: seeds the sample.

    Returns:
        ``[E]`` bool mask, ``True`` for kept edges.
    """
    keep = np.ones(len(dst), dtype=bool)
    if len(dst) == 0:
        return keep
    deg = np.bincount(dst)
    hub_edges = np.flatnonzero(deg[dst] > cap)  # only hubs' edges are sampled
    if len(hub_edges) == 0:
        return keep
    noise = np.random.default_rng(seed).random(len(hub_edges))
    order = hub_edges[np.lexsort((noise, dst[hub_edges]))]  # by destination, random within
    sorted_dst = dst[order]
    starts = np.flatnonzero(np.r_[True, sorted_dst[1:] != sorted_dst[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keep[order[rank >= cap]] = False
    return keep


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


def _products(
    src: np.ndarray,
    dst: np.ndarray,
    val: np.ndarray,
    shape: tuple[int, int],
    device: torch.device,
    use_torch: bool | None = None,
) -> Callable[[int, int], tuple[Tensor, Tensor, Tensor]]:
    """``(start, end) -> (crow, col, values)`` of rows ``[start, end)`` of ``A Aᵀ``.

    ``src, dst`` must be sorted and duplicate-free.  On CPU the product is SciPy's
    (it releases the GIL, so blocks run in parallel threads, and returns its memory;
    PyTorch's CPU CSR product kept about 3 GB more resident at 10^7 interactions);
    on CUDA it is PyTorch's (cuSPARSE).  ``use_torch`` forces one or the other
    (tests run the PyTorch branch on CPU).
    """
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(src, minlength=shape[0]))
    if not (device.type != "cpu" if use_torch is None else use_torch):
        a = sp.csr_matrix((val, dst, indptr), shape=shape)
        a_t = a.T.tocsr()

        def cpu(start: int, end: int) -> tuple[Tensor, Tensor, Tensor]:
            block = a[start:end] @ a_t  # [end - start, num_src]
            return (
                torch.from_numpy(block.indptr.astype(np.int64)),
                torch.from_numpy(block.indices),
                torch.from_numpy(block.data),
            )

        return cpu

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        a = torch.sparse_csr_tensor(
            torch.from_numpy(indptr),
            torch.from_numpy(dst),
            torch.from_numpy(val),
            size=shape,
            device=device,
            check_invariants=False,
        )
        a_t = a.t().to_sparse_csr()

    def torch_product(start: int, end: int) -> tuple[Tensor, Tensor, Tensor]:
        lo, hi = int(indptr[start]), int(indptr[end])
        block = torch.sparse_csr_tensor(
            a.crow_indices()[start : end + 1] - lo,
            a.col_indices()[lo:hi],
            a.values()[lo:hi],
            size=(end - start, shape[1]),
            check_invariants=False,
        )
        out = block @ a_t
        return out.crow_indices(), out.col_indices(), out.values()

    return torch_product


def _select_topk(
    crow: Tensor,
    col: Tensor,
    dot: Tensor,
    count: Tensor | None,
    row0: int,
    norm: Tensor,
    fn: SimilarityFn,
    topk: int | None,
    min_support: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(row, col, weight)`` of each row's selected neighbours in one block of ``D``.

    Rows are grouped by the next power of two of their number of candidates, each
    group laid out as a dense ``[rows, width]`` matrix (padding ≤ 2×): a
    ``torch.topk`` gives each row's k-th best weight, entries above it are kept,
    and ties at it are filled by the smallest column indices.
    """
    device = dot.device
    nnz = crow[1:] - crow[:-1]  # [R]
    rows = torch.nonzero(nnz).squeeze(1)
    empty = (
        torch.zeros(0, dtype=torch.long, device=device),
        torch.zeros(0, dtype=torch.long, device=device),
        torch.zeros(0, dtype=torch.float32, device=device),
    )
    if rows.numel() == 0:
        return empty
    width = torch.pow(2, torch.ceil(torch.log2(nnz[rows].double()))).long()  # [R']
    width, order = torch.sort(width, stable=True)
    rows = rows[order]
    widths, sizes = torch.unique_consecutive(width, return_counts=True)
    out_r, out_c, out_w = [], [], []
    for w_, group in zip(widths.tolist(), torch.split(rows, sizes.tolist()), strict=True):
        start, length = crow[group], nnz[group]  # [G]
        pos = torch.arange(w_, device=device)
        valid = pos < length[:, None]  # [G, W]
        src = torch.minimum(start[:, None] + pos, (start + length - 1)[:, None])  # [G, W]
        c = col[src].long()  # [G, W]
        r = group + row0  # [G]
        weight = fn(dot[src], norm[r][:, None], norm[c]).float()  # [G, W]
        ok = valid & (c != r[:, None])
        if min_support > 1:
            ok &= (count if count is not None else dot)[src] >= min_support
        weight = torch.where(ok, weight, torch.full_like(weight, -1.0))  # weights are ≥ 0
        if topk is None or w_ <= topk:
            keep = ok
        else:
            kth = torch.topk(weight, topk, dim=1).values[:, -1:]  # [G, 1]
            above = weight > kth
            tied = ok & (weight == kth)
            need = topk - above.sum(1, keepdim=True)  # [G, 1]
            floor = torch.iinfo(torch.long).min
            tie_key = torch.where(tied, -c, torch.full_like(c, floor))  # smallest col first
            tie_val, tie_pos = torch.topk(tie_key, topk, dim=1)  # [G, k]
            take = (torch.arange(topk, device=device) < need) & (tie_val != floor)
            keep = above | torch.zeros_like(above).scatter_(1, tie_pos, take)
        gi, wi = keep.nonzero(as_tuple=True)
        out_r.append(r[gi])
        out_c.append(c[gi, wi])
        out_w.append(weight[gi, wi])
    return torch.cat(out_r), torch.cat(out_c), torch.cat(out_w)


def build_similarity(
    edge_index: Tensor | np.ndarray,
    num_src: int,
    num_dst: int,
    *,
    measure: str = "cosine",
    topk: int | None = 10,
    min_support: int = 1,
    edge_weight: Tensor | np.ndarray | None = None,
    hub_cap: int | None = None,
    seed: int = 0,
    chunk_nnz: int = CHUNK_NNZ,
    num_threads: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Top-k source–source similarity graph over common destination neighbours.

    For user–user similarity pass the bipartite ``edge_index`` (users in row 0);
    for item–item pass ``edge_index.flip(0)`` with ``num_src=num_items``.
    Duplicate input edges count once (with their largest weight).

    Args:
        edge_index: ``[2, E]`` source (row 0) → destination (row 1) edges.
        num_src: number of source nodes.
        num_dst: number of destination nodes.
        measure: a key of :data:`SIMILARITIES`.
        topk: neighbours selected per node before symmetrisation (``None``: all).
        min_support: minimum number of common neighbours for an edge.
        edge_weight: ``[E]`` positive weight per edge (behaviour-weighted variant);
            ``None`` = binary.
        hub_cap: at most this many sources per destination (seeded sample);
            ``None`` = no cap.
        seed: seeds the hub sample.
        chunk_nnz: bound on the partial products of one row block.
        num_threads: CPU worker threads (0 = every core); CUDA uses one stream.
        device: where the products and selections run.
        progress: show a progress bar over blocks (on a terminal).

    Returns:
        ``(edge_index, edge_weight)``: ``[2, E']`` int64 symmetric edges without
        self loops, sorted by ``(row 0, row 1)``, and ``[E']`` float32 weights (CPU).

    Raises:
        InputError: unknown ``measure``, ``topk`` < 1, ``min_support`` < 1,
            ``hub_cap`` < 1, or a non-positive edge weight.
    """
    fn = resolve_similarity(measure)
    if topk is not None and topk < 1:
        raise InputError(f"similarity topk must be >= 1, got {topk}")
    if min_support < 1:
        raise InputError(f"similarity min_support must be >= 1, got {min_support}")
    if hub_cap is not None and hub_cap < 1:
        raise InputError(f"similarity hub_cap must be >= 1 (or none), got {hub_cap}")
    device = torch.device(device)

    ei = torch.as_tensor(edge_index).cpu().numpy()
    src, dst = ei[0].astype(np.int64), ei[1].astype(np.int64)
    value = None if edge_weight is None else torch.as_tensor(edge_weight).cpu().numpy()
    if value is not None and len(value) and not (value > 0).all():
        raise InputError("similarity edge weights must be > 0")
    # duplicate-free, (src, dst)-sorted edges; a repeated edge keeps its largest weight
    key = src * max(num_dst, 1) + dst
    if value is None:
        key = np.sort(key)  # a plain sort: numpy's hashed np.unique was 10x slower here
        key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    else:
        order = np.lexsort((-value, key))
        key, value = key[order], value[order]
        first = np.r_[True, key[1:] != key[:-1]]
        key, value = key[first], value[first].astype(np.float32)
    src, dst = key // max(num_dst, 1), key % max(num_dst, 1)
    if hub_cap is not None:
        keep = cap_hubs(dst, hub_cap, seed)
        src, dst = src[keep], dst[keep]
        value = None if value is None else value[keep]
    val = np.ones(len(src), np.float32) if value is None else value

    norm = torch.zeros(num_src).index_add_(0, torch.from_numpy(src), torch.from_numpy(val) ** 2)
    deg_dst = np.bincount(dst, minlength=num_dst)
    cost = np.bincount(src, weights=deg_dst[dst], minlength=num_src)  # partial products
    product = _products(src, dst, val, (num_src, num_dst), device)
    count = None
    if value is not None and min_support > 1:  # supports need the binary product too
        count = _products(src, dst, np.ones_like(val), (num_src, num_dst), device)
    norm = norm.to(device)

    def run(block: tuple[int, int]) -> tuple[Tensor, Tensor, Tensor]:
        start, end = block
        crow, col, dot = product(start, end)
        support = None if count is None else count(start, end)[2]
        return _select_topk(crow, col, dot, support, start, norm, fn, topk, min_support)

    blocks = list(_row_blocks(cost, chunk_nnz)) if num_src else []
    workers = 1 if device.type != "cpu" else (num_threads or os.cpu_count() or 1)
    bar = tqdm(
        total=len(blocks), desc="similarity", unit="block", disable=None if progress else True
    )
    torch_threads = torch.get_num_threads()
    try:
        if workers > 1:
            torch.set_num_threads(1)  # the workers own the cores
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = []
            for part in pool.map(run, blocks):  # in block order: deterministic
                parts.append(tuple(t.cpu() for t in part))
                bar.update()
    finally:
        torch.set_num_threads(torch_threads)
        bar.close()

    if parts:
        row, col, weight = (torch.cat(x).numpy() for x in zip(*parts, strict=True))
    else:
        row, col, weight = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return _symmetrise(row, col, weight, num_src)


def _symmetrise(
    row: np.ndarray, col: np.ndarray, weight: np.ndarray, n: int
) -> tuple[Tensor, Tensor]:
    """Union of both directions; one weight per pair, the one computed at its smaller
    endpoint (exactly equal to the other for binary and integer weights)."""
    lo, hi = np.minimum(row, col), np.maximum(row, col)
    n = max(n, 1)
    pair = lo * n + hi
    order = np.lexsort((row != lo, pair))  # per pair, the smaller endpoint's entry first
    pair, weight = pair[order], weight[order]
    first = np.r_[True, pair[1:] != pair[:-1]] if len(pair) else np.zeros(0, bool)
    pair, weight = pair[first], weight[first]
    lo, hi = pair // n, pair % n
    key = np.concatenate([lo * n + hi, hi * n + lo])  # distinct: no self loops
    order = np.argsort(key)
    key = key[order]
    out = np.stack([key // n, key % n])  # [2, E']
    both = np.concatenate([weight, weight])[order].astype(np.float32)
    return torch.from_numpy(out.astype(np.int64)), torch.from_numpy(both)
