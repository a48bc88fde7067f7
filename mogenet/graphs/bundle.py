"""The :class:`GraphBundle`: the three MoGENet graphs, their id maps and features.

A bundle is built once from the **training** log (``mogenet build-graphs``), saved
to a directory and loaded by training, evaluation and export.  The on-disk format
is documented in ``graphs/README.md`` of the repository.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from mogenet.config import GraphConfig
from mogenet.datasets.features import FeatureTable
from mogenet.datasets.idmap import IdMap
from mogenet.datasets.log import ITEM, USER, InteractionLog
from mogenet.errors import InputError
from mogenet.graphs.bipartite import build_bipartite, resolve_behavior_weights
from mogenet.graphs.similarity import build_similarity, resolve_similarity
from mogenet.graphs.spectral import spectral_embeddings
from mogenet.io import atomic_dir, file_sha256, write_json

#: ``meta.json["format"]`` of every mogenet graph directory.
FORMAT = "mogenet-graph"
#: Version written by this code; :meth:`GraphBundle.load` reads these versions.
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)

META_FILE = "meta.json"
TENSOR_FILE = "graph.pt"
USERS_FILE = "users.json"
ITEMS_FILE = "items.json"

#: Edge types of the bundle's :class:`~torch_geometric.data.HeteroData`.
INTERACTS = ("user", "interacts", "item")
REV_INTERACTS = ("item", "rev_interacts", "user")
USER_SIMILAR = ("user", "similar", "user")
ITEM_SIMILAR = ("item", "similar", "item")
EDGE_TYPES = (INTERACTS, REV_INTERACTS, USER_SIMILAR, ITEM_SIMILAR)
#: Relation names of :data:`EDGE_TYPES`; no per-behaviour relation may reuse one.
RESERVED_RELATIONS = frozenset(rel for _, rel, _ in EDGE_TYPES)
#: ``graph.pt`` key prefix of the per-behaviour edges (``behavior.<task>.edge_index``).
BEHAVIOR_PREFIX = "behavior."
#: Stages of :meth:`GraphBundle.build`, timed in ``meta['build_seconds']``.
BUILD_STAGES = ("bipartite", "user_similar", "item_similar", "features", "spectral")

#: Quantiles reported in ``meta["degree"]``.
_QUANTILES = {"min": 0.0, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9, "p99": 0.99, "max": 1.0}


def _edge_key(edge_type: tuple[str, str, str]) -> str:
    return "__".join(edge_type)


def behavior_edge_types(task: str) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """The edge types of behaviour ``task``: ``('user', task, 'item')`` and its reverse
    ``('item', 'rev_' + task, 'user')``."""
    return ("user", task, "item"), ("item", f"rev_{task}", "user")


def check_behavior_tasks(tasks: Sequence[str]) -> None:
    """Raise :class:`InputError` when per-behaviour relation names would clash.

    Relation names stay unique in the bundle: a task may not be named like an
    existing relation (``interacts``, ``rev_interacts``, ``similar``), and no task
    may be ``rev_`` + another task (its relation would be that task's reverse).
    """
    taken = set(RESERVED_RELATIONS)
    clash = []
    for task in tasks:
        rels = {task, f"rev_{task}"}
        if rels & taken:
            clash.append(task)
        taken |= rels
    if clash:
        raise InputError(
            f"cannot build per-behaviour edges: task name(s) {', '.join(map(repr, clash))} "
            f"clash with relation names ({', '.join(sorted(RESERVED_RELATIONS))}, or "
            "'rev_' + another task); rename the label column(s) or leave per-behaviour "
            "edges off"
        )


class StageClock:
    """Times named stages and shows them on one tqdm progress bar.

    The bar is drawn only with ``progress=True`` and when stderr is a terminal
    (tqdm's ``disable=None``); the timings are always recorded.

    Example::

        clock = StageClock(progress=True)
        clock.start(["read", "save"])
        with clock("read"):
            ...
        clock.close()
        clock.seconds  # {"read": 0.12, "save": ...}

    Args:
        progress: draw a progress bar (on a terminal).
        desc: the bar's label.
    """

    def __init__(self, *, progress: bool = False, desc: str = "build-graphs") -> None:
        self.progress = progress
        self.desc = desc
        self.seconds: dict[str, float] = {}
        self._bar = None

    def start(self, stages: Sequence[str]) -> None:
        """Open the bar over ``stages`` (a no-op if it is already open)."""
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=len(stages),
                desc=self.desc,
                bar_format="{desc}: {n_fmt}/{total_fmt} stages |{bar}| {elapsed}{postfix}",
                disable=None if self.progress else True,
                leave=False,
            )

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self._bar is not None:
            self._bar.set_postfix_str(stage, refresh=True)
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - begin
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """Remove the bar (timings stay in :attr:`seconds`)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __repr__(self) -> str:
        return f"StageClock(progress={self.progress}, stages={list(self.seconds)})"


def _degrees(index: Tensor, num_nodes: int) -> np.ndarray:
    return np.bincount(index.numpy(), minlength=num_nodes)


def _degree_stats(deg: np.ndarray) -> dict:
    num_nodes = len(deg)
    deg = deg.astype(np.float64)
    if num_nodes == 0:
        return {"mean": 0.0, **{k: 0.0 for k in _QUANTILES}, "isolated": 0}
    q = np.quantile(deg, list(_QUANTILES.values()))
    return {
        "mean": float(deg.mean()),
        **{k: float(v) for k, v in zip(_QUANTILES, q, strict=True)},
        "isolated": int((deg == 0).sum()),
    }


def _with_feature_nodes(
    idmap: IdMap, frame: pd.DataFrame | None, id_column: str, kind: str
) -> IdMap:
    """``idmap`` (the log's nodes) followed by the feature table's other ids (the
    first use of the table: its id column is checked here)."""
    if frame is None:
        return idmap
    if id_column not in frame.columns:
        raise InputError(f"{kind} feature table has no '{id_column}' column", column=id_column)
    return idmap.extended(frame[id_column])


def _features(frame: pd.DataFrame | None, idmap: IdMap, id_column: str) -> FeatureTable:
    if frame is None:
        return FeatureTable.empty(len(idmap))
    return FeatureTable.encode(frame, idmap, id_column=id_column)


@dataclass
class GraphBundle:
    """The bipartite and collaborative-similarity graphs of a training log.

    ``data`` has node types ``'user'`` and ``'item'`` (``num_nodes``, and ``x_cat``
    ``[N, C]`` int64 / ``x_num`` ``[N, F]`` float32 feature tensors, possibly with
    zero columns; when built with ``config.spectral = k``, also ``spectral``
    ``[N, k]`` float32, :mod:`mogenet.graphs.spectral`) and edge types

    - ``('user', 'interacts', 'item')``: ``edge_index`` ``[2, E]`` sorted by
      (user, item), ``edge_attr`` ``[E, K]`` per-task positive counts (columns =
      ``meta['tasks']``) and, when the log has timestamps, ``last_timestamp`` ``[E]``;
    - ``('item', 'rev_interacts', 'user')``: the same edges reversed, in the same
      order and with the same attributes (edge ``e`` reverses interacts edge ``e``);
    - ``('user', 'similar', 'user')`` and ``('item', 'similar', 'item')``:
      symmetric ``edge_index`` and ``edge_weight`` ``[E']`` float32;
    - only when built with ``per_behavior_edges`` (:attr:`behavior_tasks`), per task
      ``t``: ``('user', t, 'item')`` with the interacts edges that have a positive
      ``t`` (same order) and ``('item', 'rev_' + t, 'user')`` reversing them
      (``edge_index`` only).

    Args:
        data: the graphs.
        user_map: user ids (node ``j`` of type ``'user'`` is ``user_map.decode(j)``).
        item_map: item ids.
        meta: build configuration, tasks, counts and statistics (JSON-serialisable).
    """

    data: HeteroData
    user_map: IdMap
    item_map: IdMap
    meta: dict

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        train_log: InteractionLog,
        *,
        config: GraphConfig | None = None,
        users: pd.DataFrame | None = None,
        items: pd.DataFrame | None = None,
        source: str | os.PathLike | None = None,
        progress: bool = False,
        clock: StageClock | None = None,
    ) -> GraphBundle:
        """Build every graph from the training log.

        The id maps hold exactly the users and items of ``train_log`` (sorted raw
        ids); users or items that only occur in ``users`` / ``items`` are ignored and
        valid/test ids outside the maps are cold-start.  Train users or items with
        negative rows only are nodes without bipartite edges (``meta['degree']``
        counts them as isolated).

        The similarity graphs use every field of ``config`` (measure, ``topk``,
        ``min_support``, ``hub_cap``, ``seed``, device, threads, block size).  With
        ``config.behavior_weights`` the similarity runs on the behaviour-weighted
        interaction matrix, edge ``(u, i)`` weighing
        :math:`\\sum_k w_k [\\mathrm{count}_k(u, i) > 0]` (tasks left out weigh 1;
        see :func:`~mogenet.graphs.bipartite.behavior_edge_weight`).  With
        ``config.per_behavior_edges`` the bundle also has the edge types
        ``('user', task, 'item')`` / ``('item', 'rev_' + task, 'user')`` per task.

        Args:
            train_log: the training interactions (never valid or test rows).
            config: how to build the graphs (:class:`~mogenet.config.GraphConfig`).
            users: optional user features (``user_id`` + feature columns).
            items: optional item features (``item_id`` + feature columns).
            source: the file the log was read from, hashed into ``meta['source']``;
                defaults to ``train_log.source`` when that is an existing file.
            progress: show progress bars (stages, similarity blocks) on a terminal.
            clock: times the stages (:data:`BUILD_STAGES`) and draws the stage bar;
                a caller timing more stages passes its own (``progress`` is then
                taken from it).  ``meta['build_seconds']`` records the timings.

        Raises:
            InputError: unknown similarity measure, behaviour weights naming an
                unknown task or not > 0, or task names that clash with relation
                names when ``per_behavior_edges`` is on.
        """
        config = config or GraphConfig()
        resolve_similarity(config.similarity)  # fail before any work
        tasks = tuple(train_log.tasks)
        weights = None
        if config.behavior_weights is not None:
            weights = resolve_behavior_weights(config.behavior_weights, tasks)
            config = replace(config, behavior_weights=weights)
        if config.per_behavior_edges:
            check_behavior_tasks(tasks)
        own_clock = clock is None
        clock = clock or StageClock(progress=progress)
        clock.start(BUILD_STAGES)
        try:
            with clock("bipartite"):
                user_map = IdMap.from_values(train_log.frame[USER])
                item_map = IdMap.from_values(train_log.frame[ITEM])
                bip = build_bipartite(train_log, user_map, item_map)
                edge_weight = None if weights is None else bip.edge_weight(weights)
                log_nodes = {"user": len(user_map), "item": len(item_map)}
                # Nodes of the feature tables absent from the log: features only.
                user_map = _with_feature_nodes(user_map, users, USER, "user")
                item_map = _with_feature_nodes(item_map, items, ITEM, "item")
            n_u, n_i = len(user_map), len(item_map)
            sim = dict(
                measure=config.similarity,
                topk=config.topk,
                min_support=config.min_support,
                edge_weight=edge_weight,
                hub_cap=config.hub_cap,
                seed=config.seed,
                chunk_nnz=config.chunk_nnz,
                num_threads=config.num_threads,
                device=config.device,
                progress=clock.progress,
            )
            with clock("user_similar"):
                uu_index, uu_weight = build_similarity(bip.edge_index, n_u, n_i, **sim)
            with clock("item_similar"):
                ii_index, ii_weight = build_similarity(bip.edge_index.flip(0), n_i, n_u, **sim)
            with clock("features"):
                user_feats = _features(users, user_map, USER)
                item_feats = _features(items, item_map, ITEM)
            with clock("spectral"):
                spectral = None
                if config.spectral != 0:  # a negative one is refused there
                    spectral = spectral_embeddings(
                        user_map.encode(train_log.frame[USER]),
                        item_map.encode(train_log.frame[ITEM]),
                        num_users=n_u,
                        num_items=n_i,
                        dim=config.spectral,
                        seed=config.seed,
                    )
        finally:
            if own_clock:
                clock.close()

        tensors = {
            "interacts.edge_index": bip.edge_index,
            "interacts.edge_attr": bip.edge_attr,
            "user_similar.edge_index": uu_index.cpu(),
            "user_similar.edge_weight": uu_weight.cpu(),
            "item_similar.edge_index": ii_index.cpu(),
            "item_similar.edge_weight": ii_weight.cpu(),
            "user.x_cat": user_feats.categorical,
            "user.x_num": user_feats.numeric,
            "item.x_cat": item_feats.categorical,
            "item.x_num": item_feats.numeric,
        }
        if bip.last_timestamp is not None:
            tensors["interacts.last_timestamp"] = bip.last_timestamp
        if spectral is not None:
            tensors["user.spectral"], tensors["item.spectral"] = spectral
        if config.per_behavior_edges:
            for task in tasks:
                tensors[f"{BEHAVIOR_PREFIX}{task}.edge_index"] = bip.behavior_edge_index(task)

        if source is None and train_log.source and Path(train_log.source).is_file():
            source = train_log.source
        from mogenet import __version__

        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "mogenet_version": __version__,
            "config": asdict(config),
            "tasks": list(tasks),
            "num_users": n_u,
            "num_items": n_i,
            "log_nodes": log_nodes,
            "num_rows": len(train_log),
            "num_positive_rows": int(train_log.positive_mask().sum()),
            "has_timestamp": bip.last_timestamp is not None,
            "edge_attr_names": list(tasks),
            "behavior_edges": list(tasks) if config.per_behavior_edges else [],
            "features": {
                "user": _feature_meta(user_feats),
                "item": _feature_meta(item_feats),
            },
            "source": None
            if source is None
            else {"path": os.fspath(source), "sha256": file_sha256(source)},
            "build_seconds": {k: round(clock.seconds[k], 6) for k in BUILD_STAGES},
        }
        data = _hetero_data(tensors, n_u, n_i, meta["behavior_edges"])
        bundle = cls(data=data, user_map=user_map, item_map=item_map, meta=meta)
        meta.update(_statistics(bundle))
        return bundle

    # ----------------------------------------------------------------- access
    @property
    def num_users(self) -> int:
        return len(self.user_map)

    @property
    def num_items(self) -> int:
        return len(self.item_map)

    @property
    def log_nodes(self) -> dict[str, int]:
        """Nodes per type that appear in the training log: users ``[0, K_u)`` and
        items ``[0, K_i)``. The rest come from the feature tables only (no edges;
        models give them features but no id embedding of their own)."""
        default = {"user": self.num_users, "item": self.num_items}
        return {**default, **self.meta.get("log_nodes", {})}

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.meta["tasks"])

    @property
    def behavior_tasks(self) -> tuple[str, ...]:
        """Tasks with their own edge types (empty unless built with ``per_behavior_edges``)."""
        return tuple(self.meta.get("behavior_edges", ()))

    @property
    def edge_types(self) -> list[tuple[str, str, str]]:
        """Every edge type: :data:`EDGE_TYPES`, then each behaviour's pair."""
        out = list(EDGE_TYPES)
        for task in self.behavior_tasks:
            out.extend(behavior_edge_types(task))
        return out

    def channels(self) -> dict[str, dict[str, tuple[str, str, str]]]:
        """Per node type, channel name → the edge type whose source row gives the degree.

        Channels are ``interacts``, ``similar`` and one per behaviour task (named
        like the task).
        """
        out: dict[str, dict[str, tuple[str, str, str]]] = {
            "user": {"interacts": INTERACTS, "similar": USER_SIMILAR},
            "item": {"interacts": REV_INTERACTS, "similar": ITEM_SIMILAR},
        }
        for task in self.behavior_tasks:
            forward, reverse = behavior_edge_types(task)
            out["user"][task] = forward
            out["item"][task] = reverse
        return out

    def degrees(self) -> dict[str, dict[str, np.ndarray]]:
        """Per node type and channel (see :meth:`channels`), the ``[N]`` int64 node degrees."""
        sizes = {"user": self.num_users, "item": self.num_items}
        return {
            node_type: {
                channel: _degrees(self.data[edge_type].edge_index[0], sizes[node_type])
                for channel, edge_type in channels.items()
            }
            for node_type, channels in self.channels().items()
        }

    def __repr__(self) -> str:
        return (
            f"GraphBundle(users={self.num_users}, items={self.num_items}, "
            f"tasks={list(self.tasks)}, interacts={self.data[INTERACTS].num_edges}, "
            f"user_similar={self.data[USER_SIMILAR].num_edges}, "
            f"item_similar={self.data[ITEM_SIMILAR].num_edges})"
        )

    @property
    def spectral_dim(self) -> int:
        """Dimension of the stored spectral node embeddings (0 = none)."""
        store = self.data["user"]
        return int(store.spectral.size(1)) if "spectral" in store else 0

    def user_features(self, *, spectral: bool = True) -> FeatureTable:
        """User features as a :class:`FeatureTable` (no columns when none were given);
        with ``spectral``, the spectral embeddings follow as numeric columns
        ``spectral_1``, ``spectral_2``, …"""
        return self._feature_table("user", spectral)

    def item_features(self, *, spectral: bool = True) -> FeatureTable:
        """Item features as a :class:`FeatureTable`, as :meth:`user_features`."""
        return self._feature_table("item", spectral)

    def _feature_table(self, node_type: str, spectral: bool) -> FeatureTable:
        names = self.meta["features"][node_type]
        table = FeatureTable.from_state_dict(
            {
                "categorical": self.data[node_type].x_cat,
                "numeric": self.data[node_type].x_num,
                **names,
            }
        )
        if not spectral or self.spectral_dim == 0:
            return table
        columns = tuple(f"spectral_{j + 1}" for j in range(self.spectral_dim))
        return table.with_numeric(self.data[node_type].spectral, columns)

    def summary(self) -> dict:
        """Sizes and statistics, as printed by ``mogenet build-graphs`` (JSON-serialisable)."""
        keys = ("format_version", "tasks", "num_users", "num_items", "num_rows")
        keys += ("num_positive_rows", "config", "edges", "degree", "features")
        return {
            **{k: self.meta[k] for k in keys},
            "log_nodes": self.log_nodes,
            "behavior_edges": list(self.behavior_tasks),
            "build_seconds": self.meta.get("build_seconds", {}),
            "hash": self.meta.get("hash"),
        }

    def to_networkx(self, *, max_nodes: int = 100_000):
        """An undirected :class:`networkx.Graph` of the bundle, for small graphs.

        Nodes are ``('user', raw_id)`` / ``('item', raw_id)`` with attribute ``type``;
        edges carry ``channel`` (``'interacts'`` or ``'similar'``), ``counts`` (task →
        positive count) on interaction edges and ``weight`` on similarity edges.
        """
        import networkx as nx

        if self.num_users + self.num_items > max_nodes:
            raise ValueError(
                f"graph has {self.num_users + self.num_items} nodes (> max_nodes={max_nodes})"
            )
        users = [("user", u) for u in self.user_map.to_list()]
        items = [("item", i) for i in self.item_map.to_list()]
        nodes = {"user": users, "item": items}
        g = nx.Graph()
        g.add_nodes_from(users, type="user")
        g.add_nodes_from(items, type="item")
        store = self.data[INTERACTS]
        counts = store.edge_attr.tolist()
        for (u, i), c in zip(store.edge_index.t().tolist(), counts, strict=True):
            g.add_edge(
                users[u],
                items[i],
                channel="interacts",
                counts=dict(zip(self.tasks, c, strict=True)),
            )
        for src, _, dst in (USER_SIMILAR, ITEM_SIMILAR):
            store = self.data[src, "similar", dst]
            pairs = store.edge_index.t().tolist()
            for (a, b), w in zip(pairs, store.edge_weight.tolist(), strict=True):
                g.add_edge(nodes[src][a], nodes[dst][b], channel="similar", weight=w)
        return g

    # -------------------------------------------------------------------- I/O
    def tensors(self) -> dict[str, Tensor]:
        """The plain ``name → tensor`` dict stored in ``graph.pt``."""
        out = {
            "interacts.edge_index": self.data[INTERACTS].edge_index,
            "interacts.edge_attr": self.data[INTERACTS].edge_attr,
            "user_similar.edge_index": self.data[USER_SIMILAR].edge_index,
            "user_similar.edge_weight": self.data[USER_SIMILAR].edge_weight,
            "item_similar.edge_index": self.data[ITEM_SIMILAR].edge_index,
            "item_similar.edge_weight": self.data[ITEM_SIMILAR].edge_weight,
        }
        if "last_timestamp" in self.data[INTERACTS]:
            out["interacts.last_timestamp"] = self.data[INTERACTS].last_timestamp
        for task in self.behavior_tasks:
            forward, _ = behavior_edge_types(task)
            out[f"{BEHAVIOR_PREFIX}{task}.edge_index"] = self.data[forward].edge_index
        for node_type in ("user", "item"):
            out[f"{node_type}.x_cat"] = self.data[node_type].x_cat
            out[f"{node_type}.x_num"] = self.data[node_type].x_num
            if "spectral" in self.data[node_type]:
                out[f"{node_type}.spectral"] = self.data[node_type].spectral
        return {k: v.contiguous().cpu() for k, v in out.items()}

    def content_hash(self) -> str:
        """SHA-256 over every tensor (name, dtype, shape, bytes) and both id maps.

        Equal for equal graphs, whatever the file bytes (``torch.save`` files differ
        from one save to the next); runs record it to name the graph they used.
        """
        h = hashlib.sha256()
        for name, tensor in sorted(self.tensors().items()):
            h.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            h.update(tensor.numpy().tobytes())
        for ids in (self.user_map.to_list(), self.item_map.to_list()):
            h.update(json.dumps(ids).encode())
        return h.hexdigest()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle to directory ``path`` atomically.

        An existing ``path`` is replaced only if it is empty or an earlier graph
        directory (has ``meta.json``).  Sets ``meta['hash']`` (:meth:`content_hash`)
        and ``meta['files']`` (SHA-256 and size of every data file, checked by
        :meth:`load`).
        """
        path = Path(path)
        content_hash = self.content_hash()
        with atomic_dir(path, marker=META_FILE) as tmp:
            torch.save(self.tensors(), tmp / TENSOR_FILE)
            (tmp / USERS_FILE).write_text(json.dumps(self.user_map.to_list()) + "\n")
            (tmp / ITEMS_FILE).write_text(json.dumps(self.item_map.to_list()) + "\n")
            files = {
                name: {"sha256": file_sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
                for name in (TENSOR_FILE, USERS_FILE, ITEMS_FILE)
            }
            meta = {**self.meta, "hash": content_hash, "files": files}
            write_json(tmp / META_FILE, meta)
        self.meta = meta
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> GraphBundle:
        """Read a bundle written by :meth:`save`.

        Raises:
            InputError: ``path`` is missing or not a mogenet graph directory, its
                ``format_version`` is not supported, or a file is missing, truncated
                or altered (size / SHA-256 / content hash differs from ``meta.json``,
                or the tensors are inconsistent).
        """
        path = Path(path)
        if not path.exists():
            raise InputError("graph directory does not exist", file=path)
        if not path.is_dir():
            raise InputError("not a directory (expected a mogenet graph directory)", file=path)
        meta_path = path / META_FILE
        if not meta_path.is_file():
            raise InputError(
                f"not a mogenet graph directory (no {META_FILE}); "
                "create one with `mogenet build-graphs`",
                file=path,
            )
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(
                f"unreadable graph manifest ({_one_line(e)})", file=meta_path
            ) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError(
                f'not a mogenet graph manifest (no "format": "{FORMAT}")', file=meta_path
            )
        version = meta.get("format_version")
        if version not in SUPPORTED_VERSIONS:
            raise InputError(
                f"unsupported graph format_version {version!r} (this mogenet reads "
                f"{', '.join(map(str, SUPPORTED_VERSIONS))}); rebuild with `mogenet build-graphs`",
                file=meta_path,
            )
        files = meta.get("files", {})
        for name in (TENSOR_FILE, USERS_FILE, ITEMS_FILE):
            _verify(path / name, files.get(name))

        try:
            tensors = torch.load(path / TENSOR_FILE, map_location="cpu", weights_only=True)
            user_map = IdMap(json.loads((path / USERS_FILE).read_text()))
            item_map = IdMap(json.loads((path / ITEMS_FILE).read_text()))
        except Exception as e:  # any decoding failure means a corrupt file
            raise InputError(f"corrupt graph directory ({_one_line(e)})", file=path) from None
        n_u, n_i = int(meta.get("num_users", -1)), int(meta.get("num_items", -1))
        if (n_u, n_i) != (len(user_map), len(item_map)):
            raise InputError(
                f"id maps ({len(user_map)} users, {len(item_map)} items) do not match "
                f"meta.json ({n_u} users, {n_i} items)",
                file=path,
            )
        log_nodes = meta.get("log_nodes", {"user": n_u, "item": n_i})
        if not (
            isinstance(log_nodes, dict)
            and 0 <= log_nodes.get("user", -1) <= n_u
            and 0 <= log_nodes.get("item", -1) <= n_i
        ):
            raise InputError(
                f'"log_nodes" must be {{"user": 0..{n_u}, "item": 0..{n_i}}}, got {log_nodes!r}',
                file=meta_path,
            )
        tasks = meta.get("tasks", [])
        behaviors = meta.get("behavior_edges", [])
        if not isinstance(behaviors, list) or not set(behaviors) <= set(tasks):
            raise InputError(
                '"behavior_edges" must list tasks of "tasks"; rebuild with `mogenet build-graphs`',
                file=meta_path,
            )
        _check_tensors(tensors, n_u, n_i, len(tasks), behaviors, path)
        bundle = cls(
            data=_hetero_data(tensors, n_u, n_i, behaviors),
            user_map=user_map,
            item_map=item_map,
            meta=meta,
        )
        if "hash" in meta and bundle.content_hash() != meta["hash"]:
            raise InputError(
                "graph content hash differs from meta.json (altered tensors or id maps); "
                "rebuild with `mogenet build-graphs`",
                file=path,
            )
        return bundle


# ---------------------------------------------------------------------- helpers
def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def _feature_meta(table: FeatureTable) -> dict:
    state = table.state_dict()
    return {k: v for k, v in state.items() if not isinstance(v, Tensor)}


def _hetero_data(
    tensors: dict[str, Tensor], num_users: int, num_items: int, behaviors: Sequence[str] = ()
) -> HeteroData:
    data = HeteroData()
    data["user"].num_nodes = num_users
    data["item"].num_nodes = num_items
    for node_type in ("user", "item"):
        data[node_type].x_cat = tensors[f"{node_type}.x_cat"]
        data[node_type].x_num = tensors[f"{node_type}.x_num"]
        if f"{node_type}.spectral" in tensors:
            data[node_type].spectral = tensors[f"{node_type}.spectral"]
    edge_index = tensors["interacts.edge_index"]
    attrs = {"edge_attr": tensors["interacts.edge_attr"]}
    if "interacts.last_timestamp" in tensors:
        attrs["last_timestamp"] = tensors["interacts.last_timestamp"]
    data[INTERACTS].edge_index = edge_index
    data[REV_INTERACTS].edge_index = edge_index.flip(0)
    for name, value in attrs.items():
        data[INTERACTS][name] = value
        data[REV_INTERACTS][name] = value
    for key, edge_type in (("user_similar", USER_SIMILAR), ("item_similar", ITEM_SIMILAR)):
        data[edge_type].edge_index = tensors[f"{key}.edge_index"]
        data[edge_type].edge_weight = tensors[f"{key}.edge_weight"]
    for task in behaviors:
        forward, reverse = behavior_edge_types(task)
        data[forward].edge_index = tensors[f"{BEHAVIOR_PREFIX}{task}.edge_index"]
        data[reverse].edge_index = data[forward].edge_index.flip(0)
    return data


def _statistics(bundle: GraphBundle) -> dict:
    """Per-edge-type counts and per-channel degree statistics (incl. isolated nodes)."""
    return {
        "edges": {_edge_key(t): int(bundle.data[t].num_edges) for t in bundle.edge_types},
        "degree": {
            node_type: {channel: _degree_stats(deg) for channel, deg in channels.items()}
            for node_type, channels in bundle.degrees().items()
        },
    }


def _verify(file: Path, expected: dict | None) -> None:
    if not file.is_file():
        raise InputError("graph file is missing", file=file)
    if not isinstance(expected, dict) or "sha256" not in expected:
        raise InputError("graph file has no checksum in meta.json", file=file)
    size = file.stat().st_size
    if size != expected.get("bytes", size):
        raise InputError(
            f"graph file is truncated or altered ({size} bytes, expected {expected['bytes']}); "
            "rebuild with `mogenet build-graphs`",
            file=file,
        )
    if file_sha256(file) != expected["sha256"]:
        raise InputError(
            "graph file is corrupted (SHA-256 differs from meta.json); "
            "rebuild with `mogenet build-graphs`",
            file=file,
        )


_REQUIRED = {
    # name: (dtype, ndim)
    "interacts.edge_index": (torch.long, 2),
    "interacts.edge_attr": (torch.float32, 2),
    "user_similar.edge_index": (torch.long, 2),
    "user_similar.edge_weight": (torch.float32, 1),
    "item_similar.edge_index": (torch.long, 2),
    "item_similar.edge_weight": (torch.float32, 1),
    "user.x_cat": (torch.long, 2),
    "user.x_num": (torch.float32, 2),
    "item.x_cat": (torch.long, 2),
    "item.x_num": (torch.float32, 2),
}


def _check_tensors(
    tensors: object, n_u: int, n_i: int, n_tasks: int, behaviors: Sequence[str], path: Path
) -> None:
    """Names, shapes, dtypes and index ranges of a loaded ``graph.pt``."""

    def bad(msg: str) -> InputError:
        return InputError(f"corrupt graph tensors: {msg}", file=path / TENSOR_FILE)

    if not isinstance(tensors, dict):
        raise bad("not a dict of tensors")
    behavior_keys = {f"{BEHAVIOR_PREFIX}{task}": ("user", "item") for task in behaviors}
    expected = {**_REQUIRED, **{f"{k}.edge_index": (torch.long, 2) for k in behavior_keys}}
    for name, (dtype, ndim) in expected.items():
        t = tensors.get(name)
        if not isinstance(t, Tensor) or t.dtype != dtype or t.dim() != ndim:
            raise bad(f"'{name}' is missing or has the wrong dtype/shape")
    optional = {"interacts.last_timestamp", "user.spectral", "item.spectral"}
    unexpected = sorted(set(tensors) - set(expected) - optional)
    if unexpected:
        raise bad(f"unexpected tensor(s) {', '.join(map(repr, unexpected))}")
    sizes = {"user": n_u, "item": n_i}
    num_edges = tensors["interacts.edge_index"].size(-1)
    for key, (src, dst) in {
        "interacts": ("user", "item"),
        "user_similar": ("user", "user"),
        "item_similar": ("item", "item"),
        **behavior_keys,
    }.items():
        ei = tensors[f"{key}.edge_index"]
        if ei.size(0) != 2:
            raise bad(f"'{key}.edge_index' must have 2 rows")
        if ei.numel() and (ei.min() < 0 or ei[0].max() >= sizes[src] or ei[1].max() >= sizes[dst]):
            raise bad(f"'{key}.edge_index' points outside the node range")
        if key in behavior_keys and ei.size(1) > num_edges:
            raise bad(f"'{key}.edge_index' has more edges than 'interacts.edge_index'")
    if tuple(tensors["interacts.edge_attr"].shape) != (num_edges, n_tasks):
        raise bad("'interacts.edge_attr' shape does not match edges × tasks")
    ts = tensors.get("interacts.last_timestamp")
    if ts is not None and tuple(ts.shape) != (num_edges,):
        raise bad("'interacts.last_timestamp' shape does not match edges")
    for key in ("user_similar", "item_similar"):
        if tensors[f"{key}.edge_weight"].numel() != tensors[f"{key}.edge_index"].size(1):
            raise bad(f"'{key}.edge_weight' length does not match edges")
    for node_type, n in sizes.items():
        for attr in ("x_cat", "x_num"):
            if tensors[f"{node_type}.{attr}"].size(0) != n:
                raise bad(f"'{node_type}.{attr}' rows do not match the number of nodes")
    spectral = [tensors.get(f"{t}.spectral") for t in sizes]
    if any(t is not None for t in spectral):
        if not all(isinstance(t, Tensor) and t.dtype == torch.float32 for t in spectral):
            raise bad("'user.spectral' and 'item.spectral' must both be float32 tensors")
        dim = spectral[0].size(-1)
        if [tuple(t.shape) for t in spectral] != [(n, dim) for n in sizes.values()]:
            raise bad("'user.spectral' / 'item.spectral' must be [nodes, dim] of one dim")
