"""Export user and item embeddings keyed by raw id.

Writes, per node type, ``users.parquet`` / ``items.parquet`` (column ``user_id`` /
``item_id`` + a fixed-size list column ``embedding``) and the same vectors as
``users.npy`` / ``items.npy`` with ``users.ids.txt`` / ``items.ids.txt`` (one raw id
per line, row ``r`` of the ``.npy`` belongs to line ``r``).  Exactly one row per
user / item of the training graph.  The vectors are the model's node encodings
(``MultiTaskModel.user_embedding`` / ``item_embedding``).
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


def _write(directory: Path, stem: str, id_column: str, ids: list[str], vectors: np.ndarray) -> None:
    dim = vectors.shape[1]
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    table = pa.table(
        {
            id_column: pa.array(ids, type=pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
        }
    )
    pq.write_table(table, directory / f"{stem}.parquet")
    np.save(directory / f"{stem}.npy", vectors)
    (directory / f"{stem}.ids.txt").write_text("".join(f"{i}\n" for i in ids))


def export_embeddings(
    run_dir: str | os.PathLike, out: str | os.PathLike, *, batch_size: int = 65536
) -> dict:
    """Export embeddings of a run into ``out`` (created atomically). Returns a summary."""
    run = Run.load(run_dir)
    model = run.model()
    users = _embed(model.user_embedding, len(run.user_map), batch_size)
    items = _embed(model.item_embedding, len(run.item_map), batch_size)
    with atomic_dir(out, marker="users.parquet") as tmp:
        _write(tmp, "users", USER, run.user_map.to_list(), users)
        _write(tmp, "items", ITEM, run.item_map.to_list(), items)
    return {
        "users": int(users.shape[0]),
        "items": int(items.shape[0]),
        "user_dim": int(users.shape[1]),
        "item_dim": int(items.shape[1]),
        "out": os.fspath(out),
    }
