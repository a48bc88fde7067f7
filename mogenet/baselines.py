"""Reference scorers printed beside every model: a popularity floor and an oracle ceiling.

* :class:`PopularityScorer` — each item's smoothed positive rate in the training log,
  per task.  A model that does not beat it has learnt nothing personal.
* :class:`ItemCFScorer` — item-based collaborative filtering (no training): how
  similar the item is to the user's training positives.  A graph model that does
  not beat it has not learnt the collaborative signal its graph carries.
* :func:`oracle_scores` — the true probabilities of synthetic data
  (``oracle_<task>`` columns): the best AUC/GAUC any model can reach on that data.

Both return ``{task: [N] probability}``, ready for :func:`mogenet.metrics.evaluate`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mogenet.datasets.log import ITEM, ORACLE_PREFIX, USER, InteractionLog

__all__ = ["ItemCFScorer", "PopularityScorer", "oracle_scores"]


class PopularityScorer:
    """Per-task item popularity with Bayesian smoothing toward the global rate.

    .. math::
        \\hat p_{i,t} = \\frac{\\mathrm{pos}_{i,t} + a \\, \\bar p_t}{n_i + a}

    where :math:`n_i` is the number of training examples of item :math:`i`,
    :math:`\\mathrm{pos}_{i,t}` how many are positive for task :math:`t`, and
    :math:`\\bar p_t` the global positive rate of :math:`t` in training.  This is
    the posterior mean under a Beta prior with mean :math:`\\bar p_t` and strength
    :math:`a` (worth :math:`a` pseudo-examples): rarely seen items stay near the
    global rate, often seen ones approach their own rate.  Items absent from
    training get :math:`\\bar p_t`.

    Args:
        prior_strength: :math:`a \\ge 0`, in pseudo-examples (default 10).
            ``0`` gives raw per-item rates.
    """

    def __init__(self, prior_strength: float = 10.0) -> None:
        if not prior_strength >= 0:
            raise ValueError(f"prior_strength must be >= 0, got {prior_strength}")
        self.prior_strength = float(prior_strength)
        self.tasks: tuple[str, ...] = ()
        self.global_rate: dict[str, float] = {}
        self.item_rate: pd.DataFrame | None = None  # index: item_id, one column per task

    def __repr__(self) -> str:
        items = 0 if self.item_rate is None else len(self.item_rate)
        return (
            f"PopularityScorer(prior_strength={self.prior_strength:g}, "
            f"tasks={list(self.tasks)}, items={items})"
        )

    def fit(self, train_log: InteractionLog) -> PopularityScorer:
        """Count positives per (item, task) in ``train_log``; returns ``self``."""
        if len(train_log) == 0:
            raise ValueError("PopularityScorer.fit needs a non-empty training log")
        frame = train_log.frame
        tasks = list(train_log.tasks)
        labels = frame[tasks].astype(np.int64)
        grouped = labels.groupby(frame[ITEM].to_numpy(), sort=False)
        pos = grouped.sum()  # [items, tasks]
        n = grouped.size().to_numpy(dtype=np.float64)[:, None]  # [items, 1]
        prior = labels.mean().to_numpy(dtype=np.float64)  # [tasks]
        a = self.prior_strength
        rate = (pos.to_numpy(dtype=np.float64) + a * prior) / (n + a)
        self.tasks = tuple(tasks)
        self.global_rate = {t: float(p) for t, p in zip(tasks, prior, strict=True)}
        self.item_rate = pd.DataFrame(rate, index=pos.index, columns=tasks)
        return self

    def predict(self, log: InteractionLog | pd.DataFrame) -> dict[str, np.ndarray]:
        """``{task: [rows] float64}``: the item's smoothed rate for every row of ``log``.

        ``log`` needs only an ``item_id`` column (labels are not read); items not
        seen in training get the global rate.
        """
        if self.item_rate is None:
            raise RuntimeError("PopularityScorer.predict called before fit")
        frame = log.frame if isinstance(log, InteractionLog) else log
        pos = self.item_rate.index.get_indexer(frame[ITEM].to_numpy())  # -1 = unseen
        seen = pos >= 0
        out = {}
        for t in self.tasks:
            score = np.full(len(frame), self.global_rate[t], dtype=np.float64)
            score[seen] = self.item_rate[t].to_numpy()[pos[seen]]
            out[t] = score
        return out


class ItemCFScorer:
    r"""Item-based collaborative filtering over the training positives (Sarwar et
    al., `"Item-based collaborative filtering recommendation algorithms"
    <https://doi.org/10.1145/371920.372071>`_, WWW'01), the same score for every task:

    .. math::
        s_{u,i} = \frac{1}{|\mathcal{N}(u)| + 1} \sum_{j \in \mathcal{N}(u)}
        \cos(i, j), \qquad
        \cos(i, j) = \frac{|\mathcal{N}(i) \cap \mathcal{N}(j)|}
        {\sqrt{|\mathcal{N}(i)|\,|\mathcal{N}(j)|}}

    where :math:`\mathcal{N}(u)` are the items of the user's training rows with any
    positive label (the bipartite edges of :mod:`mogenet.graphs`) and
    :math:`\mathcal{N}(i)` the users of the item's.  :math:`j = i` is left out, and
    users or items unseen in training score 0.  Exact and sparse (one
    :math:`A^\top A` product): meant for benchmark-sized logs, not 10^7 items.
    """

    def __init__(self) -> None:
        self.tasks: tuple[str, ...] = ()
        self.users: pd.Index | None = None
        self.items: pd.Index | None = None

    def __repr__(self) -> str:
        n = 0 if self.items is None else len(self.items)
        return f"ItemCFScorer(tasks={list(self.tasks)}, items={n})"

    def fit(self, train_log: InteractionLog) -> ItemCFScorer:
        """Build the user–item positives and the item–item cosine; returns ``self``."""
        frame = train_log.frame[train_log.positive_mask()]
        self.tasks = tuple(train_log.tasks)
        self.users = pd.Index(pd.unique(frame[USER]))
        self.items = pd.Index(pd.unique(frame[ITEM]))
        a = sp.csr_matrix(
            (
                np.ones(len(frame)),
                (self.users.get_indexer(frame[USER]), self.items.get_indexer(frame[ITEM])),
            ),
            shape=(len(self.users), len(self.items)),
        )
        a.data[:] = 1.0  # repeated (user, item) rows count once
        norm = 1.0 / np.sqrt(np.maximum(np.asarray(a.sum(0)).ravel(), 1.0))
        cos = (a.T @ a).tocsr()
        cos = sp.diags(norm) @ cos @ sp.diags(norm)
        cos.setdiag(0.0)
        self._a, self._cos = a, cos.tocsr()
        return self

    def predict(
        self, log: InteractionLog | pd.DataFrame, chunk: int = 65536
    ) -> dict[str, np.ndarray]:
        """``{task: [rows] float64}`` (the same array for every task)."""
        if self.items is None:
            raise RuntimeError("ItemCFScorer.predict called before fit")
        frame = log.frame if isinstance(log, InteractionLog) else log
        u = self.users.get_indexer(frame[USER].to_numpy())
        i = self.items.get_indexer(frame[ITEM].to_numpy())
        score = np.zeros(len(frame))
        known = np.flatnonzero((u >= 0) & (i >= 0))
        for start in range(0, len(known), chunk):
            rows = known[start : start + chunk]
            profile = self._a[u[rows]]  # [n, I]
            hits = np.asarray(profile.multiply(self._cos[i[rows]]).sum(1)).ravel()
            score[rows] = hits / (np.asarray(profile.sum(1)).ravel() + 1.0)
        return {t: score for t in self.tasks}


def oracle_scores(log: InteractionLog) -> dict[str, np.ndarray]:
    """``{task: [rows] float64}``: the true probabilities in the ``oracle_<task>``
    columns, for the tasks that have one (empty for real data)."""
    return {t: log.frame[ORACLE_PREFIX + t].to_numpy(dtype=np.float64) for t in log.oracle_tasks}
