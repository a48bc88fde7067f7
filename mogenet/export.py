"""Export user and item embeddings keyed by raw id.

Writes, per node type, ``users.parquet`` / ``items.parquet`` (column ``user_id`` /
``item_id`` + one fixed-size list column per embedding) and the same vectors as
``users.npy`` / ``items.npy`` (and ``users.<name>.npy`` for the graph channels)
with ``users.ids.txt`` / ``items.ids.txt`` (one raw id per line, row ``r`` of every
``.npy`` belongs to line ``r``).  Exactly one row per user / item of the training
graph.  ``embedding`` is the model's node encoding (id + features); a model with
an MGNN also gets its final graph representations from layer-wise full-graph
inference: ``bipartite`` (h_u / h_i) and ``user_sim`` (h_u^U) / ``item_sim``
(h_i^I), MoGENet Eq. 1–2.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from mogenet.datasets.log import ITEM, USER
from mogenet.io import atomic_dir
from mogenet.run import Run


@torch.no_grad()
def _embed(fn, n: int, batch_size: int) -> np.ndarray:
    parts = [fn(torch.arange(s, min(s + batch_size, n))) for s in range(0, n, batch_size)]
    return torch.cat(parts).float().numpy() if parts else np.zeros((0, 0), np.float32)


def _write(directory: Path, stem: str, id_column: str, ids: list[str], vectors: dict) -> None:
    columns = {id_column: pa.array(ids, type=pa.string())}
    for name, v in vectors.items():
        flat = pa.array(v.reshape(-1), type=pa.float32())
        columns[name] = pa.FixedSizeListArray.from_arrays(flat, v.shape[1])
        np.save(directory / (f"{stem}.npy" if name == "embedding" else f"{stem}.{name}.npy"), v)
    pq.write_table(pa.table(columns), directory / f"{stem}.parquet")
    (directory / f"{stem}.ids.txt").write_text("".join(f"{i}\n" for i in ids))


@torch.no_grad()
def embeddings(run: Run, *, batch_size: int = 65536) -> tuple[dict, dict]:
    """``(users, items)``: name → ``[N, d]`` float32 array, the vectors export writes."""
    model = run.model()
    users = {"embedding": _embed(model.user_embedding, len(run.user_map), batch_size)}
    items = {"embedding": _embed(model.item_embedding, len(run.item_map), batch_size)}
    if model.needs_graphs:
        full = model.graph_encoder.inference(
            run.bundle().data,
            torch.from_numpy(users["embedding"]),
            torch.from_numpy(items["embedding"]),
            batch_size,
        )
        users |= {"bipartite": full["user"].numpy(), "user_sim": full["user_sim"].numpy()}
        items |= {"bipartite": full["item"].numpy(), "item_sim": full["item_sim"].numpy()}
    return users, items


def export_embeddings(
    run_dir: str | os.PathLike, out: str | os.PathLike, *, batch_size: int = 65536
) -> dict:
    """Export embeddings of a run into ``out`` (created atomically). Returns a summary."""
    run = Run.load(run_dir)
    users, items = embeddings(run, batch_size=batch_size)
    with atomic_dir(out, marker="users.parquet") as tmp:
        _write(tmp, "users", USER, run.user_map.to_list(), users)
        _write(tmp, "items", ITEM, run.item_map.to_list(), items)
    return {
        "users": int(users["embedding"].shape[0]),
        "items": int(items["embedding"].shape[0]),
        "user_dim": int(users["embedding"].shape[1]),
        "item_dim": int(items["embedding"].shape[1]),
        "columns": {"users": list(users), "items": list(items)},
        "out": os.fspath(out),
    }
