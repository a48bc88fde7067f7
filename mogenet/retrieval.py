"""Top-K retrieval over all items: Recall@K, NDCG@K and recommendations.

The protocol is the full-ranking one of NGCF (Wang et al., SIGIR 2019,
https://arxiv.org/abs/1905.08108) and LightGCN (He et al., SIGIR 2020,
https://arxiv.org/abs/2002.02126): for every evaluated user, **every** item of the
training graph is scored and ranked, except the user's training interactions, and
the held-out positives are looked up in the top K.

* **Training interactions** are the user's edges of the training graph: the items
  with a positive label of any task in the training log (the graph bundle's
  ``('user', 'interacts', 'item')`` edges, so no training CSV is read again).
  Impressions without any action are not interactions and stay rankable.
* **Held-out positives** of a task are the distinct test pairs with that task's
  label 1.  Pairs whose user or item is not in the training graph (cold start),
  or that are training interactions, cannot be ranked: they are left out and
  counted (``skipped``).  ``mogenet split`` already drops test rows that are
  training positives, so with its files nothing is skipped for that reason.
* Per user with at least one held-out positive :math:`P_u` and the top-K list
  :math:`R_u` (:math:`\\mathrm{rel}_r = 1` if the item at rank :math:`r` is in
  :math:`P_u`):

  .. math::
      \\mathrm{Recall@K}_u = \\frac{|R_u \\cap P_u|}{|P_u|}, \\qquad
      \\mathrm{NDCG@K}_u = \\frac{\\sum_{r=1}^{K} \\mathrm{rel}_r / \\log_2(r + 1)}
      {\\sum_{r=1}^{\\min(|P_u|, K)} 1 / \\log_2(r + 1)}

  and the metric is the mean over those users.  Ties between scores are broken
  by :func:`torch.topk` (arbitrarily), not averaged.

Everything is vectorised: users are processed in chunks, with a ``[U_chunk, I]``
score matrix, one :func:`torch.topk` and gathers per chunk, so 10^5 items fit in
bounded memory (``max_elements`` scores per chunk).

Scorers map a ``[U]`` tensor of user indices to ``{task: [U, I]}`` scores:

* :class:`ModelScorer` — the model's logit of every (user, item) pair: exact for any
  head.  Models with an MGNN encoder use its layer-wise full-graph
  :meth:`~mogenet.nn.mgnn.MGNN.inference` (every neighbour, the representations
  ``mogenet export`` writes) rather than sampled neighbourhoods.
* :class:`PopularityRanker` — the popularity baseline's per-item rate, the same
  ranking for every user (the floor a personal model must beat).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mogenet.datasets.log import ITEM, USER, InteractionLog
from mogenet.errors import InputError

__all__ = [
    "ItemSets",
    "ModelScorer",
    "PopularityRanker",
    "evaluate_retrieval",
    "rank_by_embedding",
    "ranking_metrics",
    "recommend",
    "top_items",
    "training_items",
]

ScoreFn = Callable[[Tensor], Mapping[str, Tensor]]


# ----------------------------------------------------------------- item sets
@dataclass
class ItemSets:
    """A set of item indices per user, stored as CSR (rows sorted, no duplicates).

    Args:
        rowptr: ``[num_users + 1]`` offsets into ``items``.
        items: ``[nnz]`` item indices, grouped by user, ascending within a user.
        num_items: size of the item index space.
    """

    rowptr: Tensor
    items: Tensor
    num_items: int

    @classmethod
    def from_pairs(cls, user: Tensor, item: Tensor, *, num_users: int, num_items: int) -> ItemSets:
        """From ``[N]`` user and item indices (duplicates merged)."""
        user, item = torch.as_tensor(user).long(), torch.as_tensor(item).long()
        if user.numel() and (user.min() < 0 or user.max() >= num_users):
            raise ValueError(f"user indices must lie in [0, {num_users})")
        if item.numel() and (item.min() < 0 or item.max() >= num_items):
            raise ValueError(f"item indices must lie in [0, {num_items})")
        key = torch.unique(user * num_items + item)  # sorted: by user, then item
        user, item = key // num_items, key % num_items
        rowptr = torch.zeros(num_users + 1, dtype=torch.long)
        rowptr[1:] = torch.bincount(user, minlength=num_users).cumsum(0)
        return cls(rowptr=rowptr, items=item, num_items=num_items)

    @property
    def num_users(self) -> int:
        return self.rowptr.numel() - 1

    def __len__(self) -> int:
        return int(self.items.numel())

    def __repr__(self) -> str:
        return f"ItemSets(users={self.num_users}, items={self.num_items}, pairs={len(self)})"

    def counts(self, users: Tensor | None = None) -> Tensor:
        """``[U]`` set sizes of ``users`` (all users when ``None``)."""
        sizes = self.rowptr[1:] - self.rowptr[:-1]
        return sizes if users is None else sizes[users.long().cpu()]

    def rows(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(row, item)``: every item of ``users`` with the position of its user in
        ``users`` (vectorised: no loop over users)."""
        users = users.long().cpu()
        start, count = self.rowptr[users], self.counts(users)
        row = torch.repeat_interleave(torch.arange(users.numel()), count)  # [nnz]
        offset = torch.arange(row.numel()) - torch.repeat_interleave(count.cumsum(0) - count, count)
        return row, self.items[start[row] + offset]

    def mask(self, users: Tensor, device: torch.device | str = "cpu") -> Tensor:
        """``[U, num_items]`` bool: ``True`` where the item is in the user's set."""
        row, item = self.rows(users)
        out = torch.zeros(users.numel(), self.num_items, dtype=torch.bool, device=device)
        out[row.to(device), item.to(device)] = True
        return out

    def contains(self, user: Tensor, item: Tensor) -> Tensor:
        """``[N]`` bool: whether each (user, item) pair is in the sets."""
        query = user.long().cpu() * self.num_items + item.long().cpu()
        if not len(self):
            return torch.zeros(query.shape, dtype=torch.bool)
        owner = torch.repeat_interleave(torch.arange(self.num_users), self.counts())
        key = owner * self.num_items + self.items  # ascending: sorted by user, then item
        pos = torch.searchsorted(key, query).clamp(max=len(self) - 1)
        return key[pos] == query


def training_items(bundle) -> ItemSets:
    """The users' training interactions: the bipartite edges of a graph bundle."""
    from mogenet.graphs.bundle import INTERACTS

    user, item = bundle.data[INTERACTS].edge_index
    return ItemSets.from_pairs(user, item, num_users=bundle.num_users, num_items=bundle.num_items)


# ------------------------------------------------------------------- scorers
class ModelScorer:
    """The model's logits of every item for a batch of users, for any head.

    .. math::
        s^k_{u,i} = o^k_{u,i} = \\mathrm{head}_k\\big([\\mathrm{enc}_U(u) \\Vert
        \\mathrm{enc}_I(i)], \\kappa(\\mathbf{h}_u, \\mathbf{h}_i, \\dots)\\big)
        \\quad \\forall i

    The item encodings (and, with an MGNN, the full-graph representations of every
    node) are computed once; each call then runs the head on the ``[U, I]`` pair
    grid, ``pair_batch`` pairs at a time.

    Args:
        model: a :class:`~mogenet.nn.model.MultiTaskModel` (put in eval mode).
        graph_data: the training graph (:attr:`GraphBundle.data`), required when
            the model has a graph encoder.
        pair_batch: pairs per head forward (default: 8192 on CPU, where small
            batches stay in cache, 262144 on a GPU).
        node_batch: destination nodes per chunk of the full-graph inference.
        device: where the model runs.

    Shapes:
        - **input:** ``[U]`` user indices
        - **output:** ``{task: [U, num_items]}`` logits
    """

    def __init__(
        self,
        model,
        *,
        graph_data=None,
        pair_batch: int | None = None,
        node_batch: int = 65536,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        if pair_batch is None:
            pair_batch = 8192 if self.device.type == "cpu" else 1 << 18
        if pair_batch < 1:
            raise ValueError(f"pair_batch must be >= 1, got {pair_batch}")
        extra = sorted(getattr(model.head, "inputs", ()))
        if extra:  # per-example context (histories, scenarios) has no all-item grid
            raise InputError(
                f"{model.head.__class__.__name__} reads per-example input(s) "
                f"{', '.join(extra)}; ranking every item is not supported for it"
            )
        self.model = model.to(self.device).eval()
        self.pair_batch = pair_batch
        self.num_items = model.item_encoder.num_nodes
        self.tasks = tuple(model.tasks)
        with torch.no_grad():
            items = torch.arange(self.num_items, device=self.device)
            self.item_x = model.item_embedding(items)  # [I, F_i]
            self.full = None
            if model.needs_graphs:
                if graph_data is None:
                    raise ValueError("a model with a graph encoder needs graph_data")
                users = torch.arange(model.user_encoder.num_nodes, device=self.device)
                self.full = model.graph_encoder.inference(
                    graph_data, model.user_embedding(users), self.item_x, node_batch
                )

    @classmethod
    def from_run(cls, run, *, device: torch.device | str = "cpu", **kwargs) -> ModelScorer:
        """The scorer of a :class:`~mogenet.run.Run` (loads its graph if needed)."""
        model = run.model()
        data = run.bundle().data if model.needs_graphs else None
        return cls(model, graph_data=data, device=device, **kwargs)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(items={self.num_items}, tasks={list(self.tasks)}, "
            f"full_graph={self.full is not None})"
        )

    @torch.no_grad()
    def pairs(self, user: Tensor, item: Tensor) -> dict[str, Tensor]:
        """``{task: [B]}`` logits of the pairs (``user``, ``item``: ``[B]`` indices)."""
        user = user.to(self.device)
        return self._logits(user, item.to(self.device), self.model.user_embedding(user))

    def _logits(self, user: Tensor, item: Tensor, user_x: Tensor) -> dict[str, Tensor]:
        m = self.model
        x = torch.cat([user_x, self.item_x[item]], dim=-1)  # [B, F]
        z = None
        if self.full is not None:
            reps = m.graph_encoder.gather(self.full, user, item, m.user_encoder, m.item_encoder)
            z = m.interaction(reps)  # [B, N, D]
        return m.head(x, z).logits

    @torch.no_grad()
    def __call__(self, users: Tensor) -> dict[str, Tensor]:
        users = users.to(self.device).long()
        user_x = self.model.user_embedding(users)  # [U, F_u], once per call
        num_users, num_items = users.numel(), self.num_items
        out = {
            t: torch.empty(num_users * num_items, device=self.device) for t in self.tasks
        }  # flat [U * I]
        for start in range(0, num_users * num_items, self.pair_batch):
            end = min(start + self.pair_batch, num_users * num_items)
            flat = torch.arange(start, end, device=self.device)
            row, item = flat // num_items, flat % num_items
            logits = self._logits(users[row], item, user_x[row])
            for t in self.tasks:
                out[t][start:end] = logits[t].float()
        return {t: v.view(num_users, num_items) for t, v in out.items()}


class PopularityRanker:
    """The popularity baseline as a scorer: every user gets the items' smoothed
    positive rates (:class:`~mogenet.baselines.PopularityScorer`) per task.

    Args:
        popularity: a fitted :class:`~mogenet.baselines.PopularityScorer`.
        item_ids: raw item ids in index order (``IdMap.to_list()``).
    """

    def __init__(self, popularity, item_ids: Sequence[str]) -> None:
        frame = pd.DataFrame({ITEM: list(item_ids)})
        self.rates = {
            t: torch.as_tensor(v, dtype=torch.float32) for t, v in popularity.predict(frame).items()
        }  # {task: [I]}
        self.tasks = tuple(self.rates)
        self.num_items = len(frame)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(items={self.num_items}, tasks={list(self.tasks)})"

    def __call__(self, users: Tensor) -> dict[str, Tensor]:
        return {t: r.expand(users.numel(), -1).clone() for t, r in self.rates.items()}


# ------------------------------------------------------------------- ranking
def top_items(scores: Tensor, k: int, exclude: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The ``k`` best items per row, excluded items never among them.

    Args:
        scores: ``[U, I]`` scores (modified in place where excluded).
        k: list length (capped at ``I``).
        exclude: ``[U, I]`` bool, ``True`` = not rankable.

    Returns:
        ``(values, indices)``, each ``[U, min(k, I)]``; slots past the user's
        rankable items hold ``-inf`` values.
    """
    if exclude is not None:
        scores.masked_fill_(exclude, -math.inf)
    return scores.topk(min(k, scores.size(1)), dim=1)


def _discounts(k: int, device) -> Tensor:
    return 1.0 / torch.log2(torch.arange(2, k + 2, device=device, dtype=torch.float64))


@torch.no_grad()
def ranking_metrics(
    score_fn: ScoreFn,
    positives: Mapping[str, ItemSets],
    ks: Sequence[int],
    *,
    exclude: ItemSets | None = None,
    max_elements: int = 1 << 22,
    device: torch.device | str = "cpu",
) -> dict[str, dict[str, float]]:
    """Recall@K and NDCG@K of a scorer, per task, over full item rankings.

    Args:
        score_fn: ``[U]`` user indices → ``{task: [U, I]}`` scores (one call per
            chunk of users; tasks in ``positives`` must be in its output).
        positives: ``{task: ItemSets}`` held-out positives per user.
        ks: list lengths, e.g. ``(10, 20)``.
        exclude: items never ranked per user (training interactions); ``None`` =
            rank everything.
        max_elements: scores per chunk and task (``U_chunk = max_elements // I``).
        device: where masks and top-k run (the scorer's output device).

    Returns:
        ``{task: {"recall@K": …, "ndcg@K": …, "users": n}}``; NaN metrics when no
        user has a positive of the task.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {list(ks)}")
    if not positives:
        return {}
    num_items = next(iter(positives.values())).num_items
    evaluated = torch.zeros(next(iter(positives.values())).num_users, dtype=torch.bool)
    for sets in positives.values():
        evaluated |= sets.counts() > 0
    users = evaluated.nonzero().view(-1)
    chunk = max(1, max_elements // max(num_items, 1))
    kmax = min(ks[-1], num_items)
    discount = _discounts(kmax, device)  # [kmax]
    ideal = torch.cumsum(_discounts(ks[-1], device), 0)  # [K]: IDCG for 1..K positives
    sums = {t: {f"{m}@{k}": 0.0 for k in ks for m in ("recall", "ndcg")} for t in positives}
    count = dict.fromkeys(positives, 0)
    for start in range(0, users.numel(), chunk):
        batch = users[start : start + chunk]
        scores = score_fn(batch)
        skip = None if exclude is None else exclude.mask(batch, device)
        for task, sets in positives.items():
            npos = sets.counts(batch).to(device)  # [U]
            keep = npos > 0
            if not bool(keep.any()):
                continue
            values, index = top_items(scores[task].to(device).float(), kmax, skip)
            hit = sets.mask(batch, device).gather(1, index) & (values > -math.inf)  # [U, kmax]
            hit, npos = hit[keep].double(), npos[keep]
            count[task] += int(keep.sum())
            for k in ks:
                kk = min(k, kmax)
                sums[task][f"recall@{k}"] += float((hit[:, :kk].sum(1) / npos).sum())
                dcg = (hit[:, :kk] * discount[:kk]).sum(1)
                sums[task][f"ndcg@{k}"] += float((dcg / ideal[npos.clamp(max=k) - 1]).sum())
    out = {}
    for task in positives:
        n = count[task]
        out[task] = {m: (v / n if n else math.nan) for m, v in sums[task].items()}
        out[task]["users"] = n
    return out


def _test_positives(
    log: InteractionLog, user_map, item_map, exclude: ItemSets | None
) -> tuple[dict[str, ItemSets], dict[str, int]]:
    """Held-out positive sets per task, and how many positive pairs were skipped."""
    frame = log.frame
    user = torch.from_numpy(user_map.encode(frame[USER]))
    item = torch.from_numpy(item_map.encode(frame[ITEM]))
    rankable = (user >= 0) & (item >= 0)
    if exclude is not None:
        known = rankable.nonzero().view(-1)
        rankable[known] = ~exclude.contains(user[known], item[known])
    sets, skipped = {}, {}
    for task in log.tasks:
        positive = frame[task].to_numpy() == 1
        distinct = len(frame.loc[positive, [USER, ITEM]].drop_duplicates())
        keep = torch.from_numpy(positive) & rankable
        sets[task] = ItemSets.from_pairs(
            user[keep], item[keep], num_users=len(user_map), num_items=len(item_map)
        )
        skipped[task] = distinct - len(sets[task])
    return sets, skipped


def evaluate_retrieval(
    run, log: InteractionLog, ks: Sequence[int], *, device: torch.device | str = "cpu"
) -> dict[str, dict[str, dict[str, float]]]:
    """Recall@K / NDCG@K of a run's model and its popularity baseline on a test log.

    Returns:
        ``{"model": {task: {"recall@K", "ndcg@K", "retrieval_users",
        "retrieval_skipped"}}, "popularity": {…}}`` (see the module docstring for
        the protocol; ``retrieval_skipped`` counts distinct positive pairs that
        could not be ranked).
    """
    exclude = training_items(run.bundle())
    positives, skipped = _test_positives(log, run.user_map, run.item_map, exclude)
    scorers = {
        "model": ModelScorer.from_run(run, device=device),
        "popularity": PopularityRanker(run.popularity, run.item_map.to_list()),
    }
    out = {}
    for name, scorer in scorers.items():
        dev = device if name == "model" else "cpu"
        metrics = ranking_metrics(scorer, positives, ks, exclude=exclude, device=dev)
        for task, values in metrics.items():
            values["retrieval_users"] = values.pop("users")
            values["retrieval_skipped"] = skipped[task]
        out[name] = metrics
    return out


# ----------------------------------------------------------------- recommend
def _user_index(run, users: Iterable[str], run_dir) -> Tensor:
    raw = [str(u) for u in users]
    if not raw:
        raise InputError("no user given")
    index = run.user_map.encode(raw)
    unknown = [u for u, i in zip(raw, index, strict=True) if i < 0]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:3]) + (" …" if len(unknown) > 3 else "")
        raise InputError(
            f"unknown user{'s' if len(unknown) > 1 else ''} {shown}: not among the run's "
            f"{len(run.user_map)} users (training log and user features)",
            file=run_dir,
        )
    return torch.from_numpy(index)


def rank_by_embedding(
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
    k: int,
    exclude: Sequence[np.ndarray] | None = None,
    *,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact maximum-inner-product top-k: ``(scores, items)``, each ``[U, k]``.

    Args:
        user_vectors: ``[U, d]``.
        item_vectors: ``[I, d]``.
        k: list length (capped at ``I``).
        exclude: per user, item indices that must not be returned.
        backend: ``faiss`` (``IndexFlatIP``, exact), ``torch`` (a matrix product and
            :func:`torch.topk`) or ``auto`` (FAISS when importable).

    Rows with fewer than ``k`` rankable items end in ``-inf`` scores and index -1.
    """
    if user_vectors.shape[1] != item_vectors.shape[1]:
        raise InputError(
            f"user vectors have {user_vectors.shape[1]} dimensions and item vectors "
            f"{item_vectors.shape[1]}: no dot product; rank with --by model"
        )
    num_items = item_vectors.shape[0]
    exclude = exclude or [np.zeros(0, np.int64)] * len(user_vectors)
    wanted = min(k + max((len(e) for e in exclude), default=0), num_items)  # candidates
    u = np.ascontiguousarray(user_vectors, dtype=np.float32)
    v = np.ascontiguousarray(item_vectors, dtype=np.float32)
    if backend == "auto":
        try:
            import faiss  # noqa: F401

            backend = "faiss"
        except ImportError:
            backend = "torch"
    if backend == "faiss":
        import faiss

        index = faiss.IndexFlatIP(v.shape[1])
        index.add(v)
        scores, items = index.search(u, wanted)  # [U, wanted]
        scores, items = torch.from_numpy(scores), torch.from_numpy(items).long()
    elif backend == "torch":
        scores, items = torch.from_numpy(u @ v.T).topk(wanted, dim=1)
    else:
        raise ValueError(f"backend must be auto, faiss or torch, got {backend!r}")
    row = torch.repeat_interleave(
        torch.arange(len(exclude)), torch.tensor([len(e) for e in exclude], dtype=torch.long)
    )
    banned = torch.zeros(len(exclude), num_items, dtype=torch.bool)  # [U, I]
    banned[row, torch.from_numpy(np.concatenate(exclude)).long()] = True
    drop = banned.gather(1, items.clamp(min=0)) | (items < 0)  # FAISS pads with -1
    scores = scores.masked_fill(drop, -math.inf)
    best, pos = scores.topk(min(k, wanted), dim=1)
    items = items.gather(1, pos).masked_fill(best == -math.inf, -1)
    return best.numpy(), items.numpy()


def recommend(
    run,
    users: Iterable[str],
    *,
    k: int = 10,
    task: str | None = None,
    by: str = "model",
    include_train: bool = False,
    device: torch.device | str = "cpu",
    run_dir=None,
) -> pd.DataFrame:
    """Top-``k`` items for raw user ids.

    Args:
        run: a loaded :class:`~mogenet.run.Run`.
        users: raw user ids; an id not in the training data is an :class:`InputError`.
        k: items per user.
        task: rank by this task's probability (``by="model"``; default: the last
            task, the deepest step of the funnel).
        by: ``model`` ranks every item by the model's probability for ``task``
            (exact for any head); ``embedding`` ranks by the dot product of the
            user and item vectors ``mogenet export`` writes (the MGNN's bipartite
            representations h_u · h_i for graph models, else the node encodings),
            with FAISS when importable, else torch.
        include_train: also return the user's training interactions (excluded by
            default, see :func:`training_items`).
        device: where the model runs.
        run_dir: named in error messages.

    Returns:
        ``user_id, rank, item_id, score`` (raw ids; ``score`` = probability for
        ``by="model"``, dot product for ``by="embedding"``), best first.
    """
    if k < 1:
        raise InputError(f"--k must be >= 1, got {k}")
    task = run.tasks[-1] if task is None else task
    if task not in run.tasks:
        raise InputError(f"unknown task {task!r}; the run has {', '.join(run.tasks)}")
    raw = [str(u) for u in users]
    index = _user_index(run, raw, run_dir)
    exclude = None if include_train else training_items(run.bundle())
    if by == "model":
        scores = ModelScorer.from_run(run, device=device)(index)[task].float()
        skip = None if exclude is None else exclude.mask(index, scores.device)
        values, items = top_items(scores, k, skip)
        items = items.masked_fill(values == -math.inf, -1).cpu().numpy()
        values = values.sigmoid().cpu().numpy()
    elif by == "embedding":
        from mogenet.export import embeddings

        user_vecs, item_vecs = embeddings(run)
        name = "bipartite" if "bipartite" in user_vecs else "embedding"
        banned = None
        if exclude is not None:
            start, end = exclude.rowptr[index].tolist(), exclude.rowptr[index + 1].tolist()
            banned = [exclude.items[a:b].numpy() for a, b in zip(start, end, strict=True)]
        values, items = rank_by_embedding(
            user_vecs[name][index.numpy()], item_vecs[name], k, banned
        )
    else:
        raise InputError(f"--by must be model or embedding, got {by!r}")
    rows = []
    item_ids = run.item_map.decode(np.maximum(items, 0))
    for r, user in enumerate(raw):
        for j in range(items.shape[1]):
            if items[r, j] >= 0:
                rows.append((user, j + 1, item_ids[r, j], float(values[r, j])))
    return pd.DataFrame(rows, columns=[USER, "rank", ITEM, "score"])
