r"""Diagnostic: how much collaborative signal does plain graph propagation recover?

Usage::

    python scripts/diagnose_lightgcn.py DATA_DIR --layers 2      # LightGCN
    python scripts/diagnose_lightgcn.py DATA_DIR --layers 0      # MF-BPR
    python scripts/diagnose_lightgcn.py DATA_DIR --layers 2 --out /tmp/lg.json

``DATA_DIR`` holds a split log, ``train.csv``, ``valid.csv`` and ``test.csv`` (as
``mogenet split`` or ``scripts/bench_collab.py`` write them, e.g.
``bench/collab_work/seed0``).  The README's "Where the graph signal is" figures
come from it.

It is deliberately *outside* mogenet: a full-graph LightGCN (He et al., SIGIR'20)
with no features, no sampler and no multi-task head, to tell whether a gap between
mogenet's models and the oracle is one that graph propagation alone could close.

- Graph: the user–item edges of the training pairs with any positive label,
  symmetrically normalised, :math:`\hat{A} = D^{-1/2} A D^{-1/2}`.
- Encoder: :math:`E^{(l+1)} = \hat{A} E^{(l)}`, representation = the mean of
  :math:`E^{(0)}, …, E^{(L)}`; ``--layers 0`` is matrix factorisation.
- Loss: BPR on the training clicks (``--edge-task``) against uniformly drawn items,
  8192 pairs per step, plus ``--weight-decay`` times the mean squared norm of the
  embeddings; Adam, ``--lr``.
- Score: the dot product :math:`\mathbf{e}_u^\top \mathbf{e}_i`, one score for every
  task (GAUC ranks within a user, so one ranking is scored against each task).
- Model selection: every 10 steps, the best validation mean GAUC is kept; training
  stops 60 steps after the last improvement, or after ``--steps``.

Runs on one CPU thread from ``--seed``, so the same data and seed give the same
digits on the same machine.  Prints one table row and, with ``--out``, writes JSON (and ``.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from mogenet.datasets.readers import read_log
from mogenet.errors import InputError
from mogenet.io import write_report
from mogenet.metrics import gauc

SPLITS = ("train", "valid", "test")
BATCH = 8192
EVAL_EVERY = 10
PATIENCE = 60


def normalised_adjacency(users: Tensor, items: Tensor, num_users: int, num_nodes: int) -> Tensor:
    r""":math:`D^{-1/2} A D^{-1/2}` of the undirected user–item graph, as a sparse
    ``[num_nodes, num_nodes]`` tensor (items numbered after the users)."""
    a = sp.coo_matrix(
        (np.ones(len(users)), (users.numpy(), items.numpy() + num_users)),
        shape=(num_nodes, num_nodes),
    ).tocsr()
    a = ((a + a.T) > 0).astype(np.float32)
    deg = np.asarray(a.sum(1)).ravel() + 1e-9
    norm = (sp.diags(deg**-0.5) @ a @ sp.diags(deg**-0.5)).tocoo()
    index = np.vstack([norm.row, norm.col])
    return torch.sparse_coo_tensor(
        index, norm.data.astype(np.float32), (num_nodes, num_nodes), check_invariants=False
    )


def diagnose(
    frames: dict[str, pd.DataFrame],
    tasks: list[str],
    *,
    layers: int,
    edge_task: str,
    channels: int = 64,
    lr: float = 0.005,
    weight_decay: float = 1e-4,
    steps: int = 400,
    seed: int = 0,
) -> dict:
    """Train the LightGCN of the module docstring on ``frames["train"]``; return the
    best validation mean GAUC, the test GAUC per task at that step, and the step."""
    ids = {
        col: pd.Index(sorted(set().union(*(frames[s][col] for s in SPLITS))))
        for col in ("user_id", "item_id")
    }
    num_users, num_items = len(ids["user_id"]), len(ids["item_id"])

    def index(frame: pd.DataFrame) -> tuple[Tensor, Tensor]:
        return (
            torch.tensor(ids["user_id"].get_indexer(frame.user_id)),
            torch.tensor(ids["item_id"].get_indexer(frame.item_id)),
        )

    train = frames["train"]
    adj = normalised_adjacency(
        *index(train[train[tasks].any(axis=1)]), num_users, num_users + num_items
    ).coalesce()
    pos_u, pos_i = index(train[train[edge_task] == 1])
    if len(pos_u) == 0:
        raise InputError(f"train.csv has no positive {edge_task!r} rows to train BPR on")

    torch.manual_seed(seed)
    emb = torch.nn.Parameter(torch.randn(num_users + num_items, channels) * 0.1)
    opt = torch.optim.Adam([emb], lr=lr)

    def propagate() -> Tensor:
        h, layers_out = emb, [emb]
        for _ in range(layers):
            h = torch.sparse.mm(adj, h)
            layers_out.append(h)
        return torch.stack(layers_out).mean(0)  # [U + I, d]

    def scores(h: Tensor, frame: pd.DataFrame) -> np.ndarray:
        u, i = index(frame)
        return (h[u] * h[num_users + i]).sum(1).numpy()

    def task_gauc(frame: pd.DataFrame, s: np.ndarray) -> dict[str, float]:
        groups = frame.user_id.to_numpy()
        return {t: gauc(frame[t].to_numpy(), s, groups) for t in tasks}

    best = {"valid_mean_gauc": -1.0, "test_gauc": {}, "step": -1}
    for step in range(steps):
        h = propagate()
        pick = torch.randint(len(pos_u), (BATCH,))
        neg = torch.randint(num_items, (BATCH,))
        u, i = pos_u[pick], pos_i[pick]
        margin = (h[u] * (h[num_users + i] - h[num_users + neg])).sum(1)
        loss = -F.logsigmoid(margin).mean() + weight_decay * emb.pow(2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % EVAL_EVERY != EVAL_EVERY - 1:
            continue
        with torch.no_grad():
            h = propagate()
            per_task = task_gauc(frames["valid"], scores(h, frames["valid"]))
            valid = float(np.mean(list(per_task.values())))
            if valid > best["valid_mean_gauc"]:
                best = {
                    "valid_mean_gauc": valid,
                    "test_gauc": task_gauc(frames["test"], scores(h, frames["test"])),
                    "step": step,
                }
            elif step - best["step"] > PATIENCE:
                break
    return best


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="folder with train.csv, valid.csv and test.csv")
    p.add_argument("--layers", type=int, default=2, help="propagation layers (0 = MF)")
    p.add_argument("--edge-task", default="click", help="the task whose positives BPR trains on")
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="JSON report (and .md beside it)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.layers < 0:
        raise InputError(f"--layers must be >= 0, got {args.layers}")
    logs = {s: read_log(args.data / f"{s}.csv") for s in SPLITS}
    tasks = list(logs["train"].tasks)
    if args.edge_task not in tasks:
        raise InputError(f"--edge-task {args.edge_task!r} is not a task of train.csv ({tasks})")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same sums, run after run
    try:
        best = diagnose(
            {s: log.frame for s, log in logs.items()},
            tasks,
            layers=args.layers,
            edge_task=args.edge_task,
            channels=args.channels,
            lr=args.lr,
            weight_decay=args.weight_decay,
            steps=args.steps,
            seed=args.seed,
        )
    finally:
        torch.set_num_threads(threads)
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "tasks": tasks, **best}
    row = " | ".join(f"{best['test_gauc'][t]:.4f}" for t in tasks)
    markdown = (
        f"# LightGCN diagnostic: {args.data}\n\n"
        f"{args.layers} layers, BPR on {args.edge_task}; best validation mean GAUC "
        f"{best['valid_mean_gauc']:.4f} at step {best['step']}.\n\n"
        f"| test GAUC | {' | '.join(tasks)} |\n|---|{'---:|' * len(tasks)}\n"
        f"| LightGCN, {args.layers} layers | {row} |\n"
    )
    write_report(args.out, report, markdown)
    return report


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        sys.exit(f"error: {e}")
