r"""Multi-channel neighbour sampling for (user, item) pairs (MoGENet Algorithm 1, line 6).

For a batch of pairs :math:`\langle u, i\rangle`, L-hop neighbourhoods are collected
in each channel of a :class:`~mogenet.graphs.GraphBundle`:

- ``bipartite`` — :math:`\mathcal{G}` from both ``u`` and ``i``, alternating
  user/item hops (users sample items, items sample users);
- ``user_sim`` — :math:`\mathcal{G}^{\mathcal{U}}` from ``u``;
- ``item_sim`` — :math:`\mathcal{G}^{\mathcal{I}}` from ``i``.

Each channel becomes a PyG subgraph whose nodes are numbered locally, the batch's
seeds first and then each hop's new nodes (``num_sampled_nodes`` per hop, as PyG's
samplers do), and whose edges point from a sampled neighbour to the node that
sampled it (``edge_index[0]`` = neighbour, ``edge_index[1]`` = target: the direction
messages flow).  ``n_id`` maps local to global node ids and ``pair_index`` points
each pair at its seed row (``-1`` for a user or item unseen in training, which has
no node).

**Target edges.**  A training pair that is a positive is a bipartite edge: left in
the subgraph, the model would read the label off the graph.  With
``remove_target_edges`` every sampled bipartite edge equal to one of the batch's
pairs is dropped (after sampling, so that node keeps one neighbour fewer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from mogenet.graphs.bundle import GraphBundle
from mogenet.sampling.neighbor import CSR, sample_neighbors

#: Channel names of :class:`MultiChannelSampler` (the keys of its output).
CHANNELS = ("bipartite", "user_sim", "item_sim")
INTERACTS = ("user", "interacts", "item")
REV_INTERACTS = ("item", "rev_interacts", "user")


@dataclass
class Fanouts:
    """Neighbours sampled per hop in each channel (``-1`` = all neighbours).

    The number of hops of a channel is the length of its list; an empty list
    turns the channel off (its subgraph holds the seeds only).
    """

    bipartite: tuple[int, ...] = (10, 10)
    user_sim: tuple[int, ...] = (10,)
    item_sim: tuple[int, ...] = (10,)

    @classmethod
    def from_mapping(cls, fanouts: Mapping[str, Sequence[int]]) -> Fanouts:
        unknown = set(fanouts) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channel(s) {sorted(unknown)}; channels: {CHANNELS}")
        return cls(**{k: tuple(int(x) for x in v) for k, v in fanouts.items()})

    def __post_init__(self) -> None:
        for channel in CHANNELS:
            for f in getattr(self, channel):
                if f < -1 or f == 0:
                    raise ValueError(f"fanout of {channel} must be >= 1 or -1 (all), got {f}")


class _LocalIds:
    """Global → local node numbering for one node type, by a reusable index array.

    Assigning is a scatter into a ``[num_nodes]`` array and reading a gather, with
    no hashing; :meth:`reset` clears only the entries used by the batch.
    """

    def __init__(self, num_nodes: int, device: torch.device) -> None:
        self.table = torch.full((num_nodes,), -1, dtype=torch.long, device=device)
        self.parts: list[Tensor] = []
        self.count = 0

    def add(self, nodes: Tensor) -> Tensor:
        """Number the nodes not seen yet (sorted, so seed-independent); returns them."""
        new = torch.unique(nodes[self.table[nodes] < 0])
        self.table[new] = torch.arange(self.count, self.count + new.numel(), device=new.device)
        self.count += new.numel()
        self.parts.append(new)
        return new

    def __getitem__(self, nodes: Tensor) -> Tensor:
        return self.table[nodes]

    def finish(self) -> Tensor:
        """All numbered nodes in local order (``n_id``); clears the table."""
        n_id = torch.cat(self.parts) if self.parts else self.table.new_zeros(0)
        self.table[n_id] = -1
        self.parts, self.count = [], 0
        return n_id


@dataclass
class _Hops:
    """Per-hop bookkeeping of one node type or edge type."""

    nodes: list[int] = field(default_factory=list)
    edges: list[int] = field(default_factory=list)


class MultiChannelSampler:
    """Samples the bipartite, user-similarity and item-similarity subgraphs of pairs.

    Args:
        bundle: the graphs (built from the training log).
        fanouts: neighbours per hop and channel.
        weighted_similarity: in the similarity channels, draw neighbours with
            probability proportional to the similarity (Efraimidis–Spirakis).
        remove_target_edges: drop bipartite edges equal to a batch pair (training).
        device: where the graphs live and sampling runs.
    """

    def __init__(
        self,
        bundle: GraphBundle,
        *,
        fanouts: Fanouts | Mapping[str, Sequence[int]] | None = None,
        weighted_similarity: bool = False,
        remove_target_edges: bool = True,
        device: torch.device | str = "cpu",
    ) -> None:
        if fanouts is None:
            fanouts = Fanouts()
        elif not isinstance(fanouts, Fanouts):
            fanouts = Fanouts.from_mapping(fanouts)
        self.fanouts = fanouts
        self.weighted_similarity = weighted_similarity
        self.remove_target_edges = remove_target_edges
        self.device = torch.device(device)
        self.num_users, self.num_items = bundle.num_users, bundle.num_items
        data = bundle.data
        interacts = data[INTERACTS].edge_index
        self.user_items = CSR.from_edge_index(interacts, self.num_users).to(self.device)
        self.item_users = CSR.from_edge_index(interacts.flip(0), self.num_items).to(self.device)
        uu, ii = data["user", "similar", "user"], data["item", "similar", "item"]
        self.user_sim = CSR.from_edge_index(uu.edge_index, self.num_users, uu.edge_weight)
        self.item_sim = CSR.from_edge_index(ii.edge_index, self.num_items, ii.edge_weight)
        self.user_sim, self.item_sim = self.user_sim.to(self.device), self.item_sim.to(self.device)
        self._users = _LocalIds(self.num_users, self.device)
        self._items = _LocalIds(self.num_items, self.device)

    def __repr__(self) -> str:
        f = self.fanouts
        return (
            f"{self.__class__.__name__}(bipartite={list(f.bipartite)}, "
            f"user_sim={list(f.user_sim)}, item_sim={list(f.item_sim)}, "
            f"remove_target_edges={self.remove_target_edges}, "
            f"device={self.device})"
        )

    def sample(
        self, user: Tensor, item: Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Data | HeteroData]:
        """Subgraphs of every channel for the pairs ``(user[b], item[b])``.

        Args:
            user: ``[B]`` user indices (``-1`` = cold start).
            item: ``[B]`` item indices (``-1`` = cold start).
            generator: random source on the sampler's device.

        Returns:
            ``{"bipartite": HeteroData, "user_sim": Data, "item_sim": Data}``.
        """
        user, item = user.to(self.device), item.to(self.device)
        return {
            "bipartite": self._bipartite(user, item, generator),
            "user_sim": self._similar(
                self.user_sim, self._users, user, self.fanouts.user_sim, generator
            ),
            "item_sim": self._similar(
                self.item_sim, self._items, item, self.fanouts.item_sim, generator
            ),
        }

    def _seed(self, ids: _LocalIds, nodes: Tensor) -> tuple[Tensor, Tensor]:
        """Number the valid seeds; returns ``(seeds, pair_index)``."""
        valid = nodes >= 0
        seeds = ids.add(nodes[valid])
        pair_index = torch.full_like(nodes, -1)
        pair_index[valid] = ids[nodes[valid]]
        return seeds, pair_index

    def _similar(
        self,
        csr: CSR,
        ids: _LocalIds,
        nodes: Tensor,
        fanouts: Sequence[int],
        generator: torch.Generator | None,
    ) -> Data:
        frontier, pair_index = self._seed(ids, nodes)
        hops = _Hops(nodes=[frontier.numel()])
        src, dst, weight = [], [], []
        for fanout in fanouts:
            nb = sample_neighbors(
                csr, frontier, fanout, weighted=self.weighted_similarity, generator=generator
            )
            target = frontier[nb.owner]
            frontier = ids.add(nb.node)
            src.append(ids[nb.node])
            dst.append(ids[target])
            weight.append(nb.weight)
            hops.nodes.append(frontier.numel())
            hops.edges.append(nb.node.numel())
        n_id = ids.finish()
        empty = n_id.new_zeros(0)
        return Data(
            n_id=n_id,
            num_nodes=n_id.numel(),
            edge_index=torch.stack([torch.cat([empty, *src]), torch.cat([empty, *dst])]),
            edge_weight=torch.cat([csr.weight.new_zeros(0), *weight]),
            pair_index=pair_index,
            num_sampled_nodes=hops.nodes,
            num_sampled_edges=hops.edges,
        )

    def _bipartite(
        self, user: Tensor, item: Tensor, generator: torch.Generator | None
    ) -> HeteroData:
        users, items = self._users, self._items
        front_u, user_pair = self._seed(users, user)
        front_i, item_pair = self._seed(items, item)
        hop_u, hop_i = _Hops(nodes=[front_u.numel()]), _Hops(nodes=[front_i.numel()])
        valid = (user >= 0) & (item >= 0)
        target_keys = torch.sort(user[valid] * self.num_items + item[valid]).values
        to_user, to_item = [], []  # (src item, dst user, eid), (src user, dst item, eid)
        for fanout in self.fanouts.bipartite:
            nb_i = sample_neighbors(self.user_items, front_u, fanout, generator=generator)
            nb_u = sample_neighbors(self.item_users, front_i, fanout, generator=generator)
            u_of_i, i_of_u = front_u[nb_i.owner], front_i[nb_u.owner]  # the samplers
            keep_i = self._not_target(u_of_i, nb_i.node, target_keys)
            keep_u = self._not_target(nb_u.node, i_of_u, target_keys)
            nb_item, u_of_i, e_i = nb_i.node[keep_i], u_of_i[keep_i], nb_i.edge[keep_i]
            nb_user, i_of_u, e_u = nb_u.node[keep_u], i_of_u[keep_u], nb_u.edge[keep_u]
            front_i, front_u = items.add(nb_item), users.add(nb_user)
            to_user.append((items[nb_item], users[u_of_i], e_i))
            to_item.append((users[nb_user], items[i_of_u], e_u))
            hop_u.nodes.append(front_u.numel())
            hop_i.nodes.append(front_i.numel())
            hop_u.edges.append(nb_item.numel())
            hop_i.edges.append(nb_user.numel())
        data = HeteroData()
        for ntype, ids, pair, hops in (
            ("user", users, user_pair, hop_u),
            ("item", items, item_pair, hop_i),
        ):
            n_id = ids.finish()
            data[ntype].n_id = n_id
            data[ntype].num_nodes = n_id.numel()
            data[ntype].pair_index = pair
            data[ntype].num_sampled_nodes = hops.nodes
        empty = user.new_zeros(0)
        for etype, parts, hops in ((REV_INTERACTS, to_user, hop_u), (INTERACTS, to_item, hop_i)):
            data[etype].edge_index = torch.stack(
                [
                    torch.cat([empty, *(p[0] for p in parts)]),
                    torch.cat([empty, *(p[1] for p in parts)]),
                ]
            )
            data[etype].e_id = torch.cat([empty, *(p[2] for p in parts)])
            data[etype].num_sampled_edges = hops.edges
        return data

    def _not_target(self, user: Tensor, item: Tensor, target_keys: Tensor) -> Tensor:
        """``[M]`` bool: the edge ``(user, item)`` is not one of the batch's pairs."""
        if not self.remove_target_edges or target_keys.numel() == 0:
            return torch.ones_like(user, dtype=torch.bool)
        return ~torch.isin(user * self.num_items + item, target_keys)
