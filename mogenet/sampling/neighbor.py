r"""Vectorised neighbour sampling over a CSR graph, the same code on CPU and CUDA.

:func:`sample_neighbors` draws, for every seed node, ``fanout`` distinct neighbours
uniformly at random (all of them when the node has at most ``fanout``, or when
``fanout = -1``), or with probability proportional to an edge weight.  There is no
Python loop over nodes; rows are handled in three vectorised groups:

- **degree ≤ fanout**: every neighbour is taken;
- **fanout < degree ≤ 2·fanout**, and every weighted row: each neighbour gets a
  random key and the ``fanout`` largest keys win (``torch.topk`` over rows padded to
  a power-of-two width).  Uniform keys give a uniform subset; the keys
  :math:`\log(u) / w` of Efraimidis & Spirakis (2006) give weighted sampling
  without replacement;
- **degree > 2·fanout**: ``fanout`` positions are drawn with replacement, and the
  repeated ones are redrawn until all are distinct.  The set of distinct values of
  i.i.d. uniform draws is, given its size, a uniform subset, and each redraw is
  uniform over the values not yet taken, so the result is a uniform
  ``fanout``-subset; with degree > 2·fanout only a few rounds are needed.

Random numbers come from a ``torch.Generator`` on the graph's device, so a seed
fixes every draw on a given device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class CSR:
    """A directed graph in compressed sparse row form (row = the node that samples).

    Args:
        rowptr: ``[N + 1]`` int64 offsets.
        col: ``[E]`` int64 neighbour of each edge, grouped by row.
        weight: ``[E]`` float edge weight (for weighted sampling), or ``None``.
        eid: ``[E]`` int64 id of each edge in its source edge list (e.g. the
            bundle's ``interacts`` order), or ``None`` when the two orders agree.
    """

    rowptr: Tensor
    col: Tensor
    weight: Tensor | None = None
    eid: Tensor | None = None

    @classmethod
    def from_edge_index(
        cls, edge_index: Tensor, num_rows: int, weight: Tensor | None = None
    ) -> CSR:
        """CSR of ``edge_index`` (row 0 = row node, row 1 = neighbour); ``eid`` records
        each CSR edge's position in ``edge_index``."""
        row, col = edge_index[0].long(), edge_index[1].long()
        key = row * max(int(col.max()) + 1 if col.numel() else 1, 1) + col
        perm = None if bool((key[1:] >= key[:-1]).all()) else torch.argsort(key)
        rowptr = torch.zeros(num_rows + 1, dtype=torch.long, device=row.device)
        rowptr[1:] = torch.bincount(row, minlength=num_rows).cumsum(0)
        if perm is None:  # already sorted: CSR order = input order
            return cls(rowptr, col, None if weight is None else weight.float(), None)
        return cls(rowptr, col[perm], None if weight is None else weight[perm].float(), perm)

    @property
    def num_rows(self) -> int:
        return self.rowptr.numel() - 1

    @property
    def num_edges(self) -> int:
        return self.col.numel()

    def degree(self, nodes: Tensor | None = None) -> Tensor:
        deg = self.rowptr[1:] - self.rowptr[:-1]
        return deg if nodes is None else deg[nodes]

    def to(self, device: torch.device | str) -> CSR:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return CSR(move(self.rowptr), move(self.col), move(self.weight), move(self.eid))

    def __repr__(self) -> str:
        return (
            f"CSR(rows={self.num_rows}, edges={self.num_edges}, weighted={self.weight is not None})"
        )


@dataclass
class Neighbors:
    """The result of :func:`sample_neighbors`.

    Args:
        node: ``[M]`` sampled neighbours (global ids).
        owner: ``[M]`` position in ``seeds`` of the node each neighbour was drawn for.
        pos: ``[M]`` CSR position of each sampled edge.
        weight: ``[M]`` weight of each sampled edge (``None`` if the CSR has none).
    """

    node: Tensor
    owner: Tensor
    pos: Tensor
    weight: Tensor | None = None

    def edge_id(self, csr: CSR) -> Tensor:
        """``[M]`` id of each sampled edge in the CSR's source edge list (``CSR.eid``)."""
        return self.pos if csr.eid is None else csr.eid[self.pos]


def _ranges(start: Tensor, count: Tensor) -> tuple[Tensor, Tensor]:
    """``(owner, position)`` of ``sum(count)`` slots: ``count[j]`` slots for row ``j``,
    positions ``start[j] + 0 … start[j] + count[j] - 1``."""
    owner = torch.repeat_interleave(torch.arange(count.numel(), device=count.device), count)
    offset = torch.cumsum(count, 0) - count  # exclusive prefix sum
    pos = torch.arange(owner.numel(), device=count.device) - offset[owner] + start[owner]
    return owner, pos


def _by_keys(
    start: Tensor, deg: Tensor, k: int, weight: Tensor | None, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Rows choose ``min(deg, k)`` neighbours by the largest random keys."""
    owners, positions = [], []
    width = torch.pow(2, torch.ceil(torch.log2(deg.double()))).long()
    width, order = torch.sort(width, stable=True)
    widths, sizes = torch.unique_consecutive(width, return_counts=True)
    for w, rows in zip(widths.tolist(), torch.split(order, sizes.tolist()), strict=True):
        slot = torch.arange(w, device=deg.device)
        valid = slot < deg[rows, None]  # [R, W]
        pos = start[rows, None] + torch.minimum(slot, deg[rows, None] - 1)  # [R, W]
        key = torch.rand(pos.shape, generator=generator, device=deg.device)
        if weight is not None:  # Efraimidis–Spirakis: u^(1/w), compared as log(u) / w
            key = torch.log(key.clamp_min(1e-30)) / weight[pos].clamp_min(1e-30)
        key = torch.where(valid, key, torch.full_like(key, -torch.inf))
        take = min(k, w)
        chosen = torch.topk(key, take, dim=1).indices  # [R, take]
        ok = chosen < deg[rows, None]
        owners.append(rows[:, None].expand(-1, take)[ok])
        positions.append(pos.gather(1, chosen)[ok])
    return torch.cat(owners), torch.cat(positions)


def _by_rejection(
    start: Tensor, deg: Tensor, k: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Rows with ``deg > 2k`` choose ``k`` distinct positions: draw, redraw repeats."""
    draw = torch.rand((deg.numel(), k), generator=generator, device=deg.device) * deg[:, None]
    draw = draw.long().clamp_max_(deg[:, None] - 1)  # [R, k]
    draw, _ = torch.sort(draw, dim=1)
    rows = torch.arange(deg.numel(), device=deg.device)  # rows still to check
    while rows.numel():
        sub = draw[rows]
        repeat = torch.zeros_like(sub, dtype=torch.bool)
        repeat[:, 1:] = sub[:, 1:] == sub[:, :-1]  # all but the first of equal values
        bad = repeat.any(1)
        if not bool(bad.any()):
            break
        rows, sub, repeat = rows[bad], sub[bad], repeat[bad]
        which = repeat.nonzero(as_tuple=True)[0]
        fresh = torch.rand(which.numel(), generator=generator, device=deg.device) * deg[rows[which]]
        sub[repeat] = fresh.long().clamp_max_(deg[rows[which]] - 1)
        draw[rows] = torch.sort(sub, dim=1)[0]
    owner = torch.arange(deg.numel(), device=deg.device)[:, None].expand(-1, k)
    return owner.reshape(-1), (start[:, None] + draw).reshape(-1)


def sample_neighbors(
    csr: CSR,
    seeds: Tensor,
    fanout: int,
    *,
    weighted: bool = False,
    generator: torch.Generator | None = None,
) -> Neighbors:
    """Sample up to ``fanout`` distinct neighbours of every seed.

    Args:
        csr: the graph (on the device where sampling runs).
        seeds: ``[S]`` node ids.
        fanout: neighbours per seed; ``-1`` takes every neighbour.
        weighted: draw proportionally to ``csr.weight`` (without replacement).
        generator: random source (on ``csr``'s device); seeds every draw.

    Returns:
        :class:`Neighbors`, grouped in an unspecified but seed-determined order.
    """
    start = csr.rowptr[seeds]
    deg = csr.rowptr[seeds + 1] - start  # [S]
    if weighted and csr.weight is None:
        raise ValueError("weighted sampling needs a CSR with edge weights")
    if fanout < 0:
        owner, pos = _ranges(start, deg)
    else:
        all_rows = deg <= fanout
        key_rows = ~all_rows if weighted else (~all_rows) & (deg <= 2 * fanout)
        rej_rows = ~(all_rows | key_rows)
        parts = []
        idx = all_rows.nonzero(as_tuple=True)[0]
        o, p = _ranges(start[idx], deg[idx])
        parts.append((idx[o], p))
        idx = key_rows.nonzero(as_tuple=True)[0]
        if idx.numel():
            w = csr.weight if weighted else None
            o, p = _by_keys(start[idx], deg[idx], fanout, w, generator)
            parts.append((idx[o], p))
        idx = rej_rows.nonzero(as_tuple=True)[0]
        if idx.numel():
            o, p = _by_rejection(start[idx], deg[idx], fanout, generator)
            parts.append((idx[o], p))
        owner = torch.cat([o for o, _ in parts])
        pos = torch.cat([p for _, p in parts])
    weight = None if csr.weight is None else csr.weight[pos]
    return Neighbors(node=csr.col[pos], owner=owner, pos=pos, weight=weight)
