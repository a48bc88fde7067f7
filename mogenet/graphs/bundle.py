"""The :class:`GraphBundle`: the three MoGENet graphs, their id maps and features.

A bundle is built once from the **training** log (``mogenet build-graphs``), saved
to a directory and loaded by training, evaluation and export.  The on-disk format
is documented in ``graphs/README.md`` of the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
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
from mogenet.graphs.bipartite import build_bipartite
from mogenet.graphs.similarity import build_similarity, resolve_similarity
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

#: Quantiles reported in ``meta["degree"]``.
_QUANTILES = {"min": 0.0, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9, "p99": 0.99, "max": 1.0}


def _edge_key(edge_type: tuple[str, str, str]) -> str:
    return "__".join(edge_type)


def _degree_stats(index: Tensor, num_nodes: int) -> dict:
    deg = np.bincount(index.numpy(), minlength=num_nodes).astype(np.float64)
    if num_nodes == 0:
        return {"mean": 0.0, **{k: 0.0 for k in _QUANTILES}, "isolated": 0}
    q = np.quantile(deg, list(_QUANTILES.values()))
    return {
        "mean": float(deg.mean()),
        **{k: float(v) for k, v in zip(_QUANTILES, q, strict=True)},
        "isolated": int((deg == 0).sum()),
    }


def _features(frame: pd.DataFrame | None, idmap: IdMap, id_column: str, kind: str) -> FeatureTable:
    if frame is None:
        return FeatureTable.empty(len(idmap))
    if id_column not in frame.columns:
        raise InputError(f"{kind} feature table has no '{id_column}' column", column=id_column)
    return FeatureTable.encode(frame, idmap, id_column=id_column)


@dataclass
class GraphBundle:
    """The bipartite and collaborative-similarity graphs of a training log.

    ``data`` has node types ``'user'`` and ``'item'`` (``num_nodes``, and ``x_cat``
    ``[N, C]`` int64 / ``x_num`` ``[N, F]`` float32 feature tensors, possibly with
    zero columns) and edge types

    - ``('user', 'interacts', 'item')``: ``edge_index`` ``[2, E]`` sorted by
      (user, item), ``edge_attr`` ``[E, K]`` per-task positive counts (columns =
      ``meta['tasks']``) and, when the log has timestamps, ``last_timestamp`` ``[E]``;
    - ``('item', 'rev_interacts', 'user')``: the same edges reversed, in the same
      order and with the same attributes (edge ``e`` reverses interacts edge ``e``);
    - ``('user', 'similar', 'user')`` and ``('item', 'similar', 'item')``:
      symmetric ``edge_index`` and ``edge_weight`` ``[E']`` float32.

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
    ) -> GraphBundle:
        """Build every graph from the training log.

        The id maps hold exactly the users and items of ``train_log`` (sorted raw
        ids); users or items that only occur in ``users`` / ``items`` are ignored and
        valid/test ids outside the maps are cold-start.  Train users or items with
        negative rows only are nodes without bipartite edges (``meta['degree']``
        counts them as isolated).

        Args:
            train_log: the training interactions (never valid or test rows).
            config: similarity measure, ``topk`` and ``min_support``.
            users: optional user features (``user_id`` + feature columns).
            items: optional item features (``item_id`` + feature columns).
            source: the file the log was read from, hashed into ``meta['source']``;
                defaults to ``train_log.source`` when that is an existing file.
        """
        config = config or GraphConfig()
        resolve_similarity(config.similarity)  # fail before any work
        user_map = IdMap.from_values(train_log.frame[USER])
        item_map = IdMap.from_values(train_log.frame[ITEM])
        bip = build_bipartite(train_log, user_map, item_map)
        n_u, n_i = len(user_map), len(item_map)
        sim = dict(measure=config.similarity, topk=config.topk, min_support=config.min_support)
        uu_index, uu_weight = build_similarity(bip.edge_index, n_u, n_i, **sim)
        ii_index, ii_weight = build_similarity(bip.edge_index.flip(0), n_i, n_u, **sim)
        user_feats = _features(users, user_map, USER, "user")
        item_feats = _features(items, item_map, ITEM, "item")

        tensors = {
            "interacts.edge_index": bip.edge_index,
            "interacts.edge_attr": bip.edge_attr,
            "user_similar.edge_index": uu_index,
            "user_similar.edge_weight": uu_weight,
            "item_similar.edge_index": ii_index,
            "item_similar.edge_weight": ii_weight,
            "user.x_cat": user_feats.categorical,
            "user.x_num": user_feats.numeric,
            "item.x_cat": item_feats.categorical,
            "item.x_num": item_feats.numeric,
        }
        if bip.last_timestamp is not None:
            tensors["interacts.last_timestamp"] = bip.last_timestamp

        if source is None and train_log.source and Path(train_log.source).is_file():
            source = train_log.source
        from mogenet import __version__

        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "mogenet_version": __version__,
            "config": asdict(config),
            "tasks": list(train_log.tasks),
            "num_users": n_u,
            "num_items": n_i,
            "num_rows": len(train_log),
            "num_positive_rows": int(train_log.positive_mask().sum()),
            "has_timestamp": bip.last_timestamp is not None,
            "edge_attr_names": list(train_log.tasks),
            "features": {
                "user": _feature_meta(user_feats),
                "item": _feature_meta(item_feats),
            },
            "source": None
            if source is None
            else {"path": os.fspath(source), "sha256": file_sha256(source)},
        }
        data = _hetero_data(tensors, n_u, n_i)
        meta.update(_statistics(data, n_u, n_i))
        return cls(data=data, user_map=user_map, item_map=item_map, meta=meta)

    # ----------------------------------------------------------------- access
    @property
    def num_users(self) -> int:
        return len(self.user_map)

    @property
    def num_items(self) -> int:
        return len(self.item_map)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.meta["tasks"])

    def __repr__(self) -> str:
        return (
            f"GraphBundle(users={self.num_users}, items={self.num_items}, "
            f"tasks={list(self.tasks)}, interacts={self.data[INTERACTS].num_edges}, "
            f"user_similar={self.data[USER_SIMILAR].num_edges}, "
            f"item_similar={self.data[ITEM_SIMILAR].num_edges})"
        )

    def user_features(self) -> FeatureTable:
        """User features as a :class:`FeatureTable` (no columns when none were given)."""
        return self._feature_table("user")

    def item_features(self) -> FeatureTable:
        """Item features as a :class:`FeatureTable` (no columns when none were given)."""
        return self._feature_table("item")

    def _feature_table(self, node_type: str) -> FeatureTable:
        names = self.meta["features"][node_type]
        return FeatureTable.from_state_dict(
            {
                "categorical": self.data[node_type].x_cat,
                "numeric": self.data[node_type].x_num,
                **names,
            }
        )

    def summary(self) -> dict:
        """Sizes and statistics, as printed by ``mogenet build-graphs`` (JSON-serialisable)."""
        keys = ("format_version", "tasks", "num_users", "num_items", "num_rows")
        keys += ("num_positive_rows", "config", "edges", "degree", "features")
        return {**{k: self.meta[k] for k in keys}, "hash": self.meta.get("hash")}

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
        for node_type in ("user", "item"):
            out[f"{node_type}.x_cat"] = self.data[node_type].x_cat
            out[f"{node_type}.x_num"] = self.data[node_type].x_num
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
        _check_tensors(tensors, n_u, n_i, len(meta.get("tasks", [])), path)
        bundle = cls(
            data=_hetero_data(tensors, n_u, n_i), user_map=user_map, item_map=item_map, meta=meta
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


def _hetero_data(tensors: dict[str, Tensor], num_users: int, num_items: int) -> HeteroData:
    data = HeteroData()
    data["user"].num_nodes = num_users
    data["item"].num_nodes = num_items
    for node_type in ("user", "item"):
        data[node_type].x_cat = tensors[f"{node_type}.x_cat"]
        data[node_type].x_num = tensors[f"{node_type}.x_num"]
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
    return data


def _statistics(data: HeteroData, num_users: int, num_items: int) -> dict:
    """Per-channel edge counts and degree statistics (incl. isolated nodes)."""
    inter = data[INTERACTS].edge_index
    return {
        "edges": {_edge_key(t): int(data[t].num_edges) for t in EDGE_TYPES},
        "degree": {
            "user": {
                "interacts": _degree_stats(inter[0], num_users),
                "similar": _degree_stats(data[USER_SIMILAR].edge_index[0], num_users),
            },
            "item": {
                "interacts": _degree_stats(inter[1], num_items),
                "similar": _degree_stats(data[ITEM_SIMILAR].edge_index[0], num_items),
            },
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


def _check_tensors(tensors: object, n_u: int, n_i: int, n_tasks: int, path: Path) -> None:
    """Shapes, dtypes and index ranges of a loaded ``graph.pt``."""

    def bad(msg: str) -> InputError:
        return InputError(f"corrupt graph tensors: {msg}", file=path / TENSOR_FILE)

    if not isinstance(tensors, dict):
        raise bad("not a dict of tensors")
    for name, (dtype, ndim) in _REQUIRED.items():
        t = tensors.get(name)
        if not isinstance(t, Tensor) or t.dtype != dtype or t.dim() != ndim:
            raise bad(f"'{name}' is missing or has the wrong dtype/shape")
    sizes = {"user": n_u, "item": n_i}
    for key, (src, dst) in {
        "interacts": ("user", "item"),
        "user_similar": ("user", "user"),
        "item_similar": ("item", "item"),
    }.items():
        ei = tensors[f"{key}.edge_index"]
        if ei.size(0) != 2:
            raise bad(f"'{key}.edge_index' must have 2 rows")
        if ei.numel() and (ei.min() < 0 or ei[0].max() >= sizes[src] or ei[1].max() >= sizes[dst]):
            raise bad(f"'{key}.edge_index' points outside the node range")
    num_edges = tensors["interacts.edge_index"].size(1)
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
