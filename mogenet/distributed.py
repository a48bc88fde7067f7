"""Distributed data-parallel glue for ``torchrun`` (one process per GPU or CPU worker).

``torchrun --nproc_per_node N -m mogenet train …`` starts N copies of the command,
each with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR`` /
``MASTER_PORT``) in its environment.  :func:`setup` reads them and joins the process
group (``gloo`` on CPU, ``nccl`` on CUDA); without them everything here is a no-op,
so a single process runs exactly the code it always ran.

How the :class:`~mogenet.trainer.Trainer` uses it:

- **Model.** Model and loss are wrapped together in one
  :class:`~torch.nn.parallel.DistributedDataParallel` module, so the loss's own
  parameters (uncertainty log-variances) are all-reduced with the model's.
- **Training data.** Every rank draws the same global permutation (seeded with
  ``seed + epoch``) and cuts the same global batches of ``train.batch_size``; rank
  ``r`` keeps the ``r``-th of ``WORLD_SIZE`` near-equal contiguous slices of each
  (``torch.tensor_split``), so the per-rank batch is ``batch_size / WORLD_SIZE``.
  Each rank's loss is scaled by ``n_r · WORLD_SIZE / n`` (its share of the global
  batch), so DDP's gradient average equals the gradient of the global batch mean
  even when the last batch splits unevenly.  A last global batch with fewer
  examples than ranks is dropped (every rank needs at least one example).
- **Validation.** Each rank predicts a contiguous shard of the validation examples;
  predictions and gate sums are gathered on every rank, which then computes the
  exact global metrics — so every rank takes the same early-stopping decision.
- **Output.** Rank 0 alone writes (checkpoints, history, the run directory) and
  draws the progress bar.

Batches are sampled for each rank's slice (with the generator of the global batch),
so graph models see the same pairs as a single process but other neighbour draws.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from mogenet.errors import InputError

#: Process-group backend for each device type.
BACKENDS: dict[str, str] = {"cpu": "gloo", "cuda": "nccl"}

#: The variables ``torchrun`` sets for every worker.
ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in a ``torchrun`` job (rank 0 of 1 without one).

    Args:
        rank: global rank of the process.
        world_size: number of processes.
        local_rank: rank on this node (the CUDA device index it uses).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the process that writes and prints)."""
        return self.rank == 0


def detect() -> DistEnv:
    """The ``torchrun`` environment of this process (``DistEnv()`` when there is none)."""
    if "WORLD_SIZE" not in os.environ:
        return DistEnv()
    try:
        env = DistEnv(
            rank=int(os.environ.get("RANK", 0)),
            world_size=int(os.environ["WORLD_SIZE"]),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )
    except ValueError:
        values = ", ".join(f"{k}={os.environ.get(k)!r}" for k in ENV_VARS)
        raise InputError(f"malformed distributed environment ({values})") from None
    if not 0 <= env.rank < env.world_size:
        raise InputError(f"RANK={env.rank} is outside WORLD_SIZE={env.world_size}")
    return env


def setup(device: str = "cpu") -> DistEnv:
    """Join the process group ``torchrun`` describes (idempotent) and return the env.

    Uses :data:`BACKENDS` for the device type; on CUDA each process is pinned to
    ``cuda:LOCAL_RANK``.  A single process (no ``WORLD_SIZE``, or 1) does nothing.
    """
    env = detect()
    if not env.enabled or dist.is_initialized():
        return env
    kind = torch.device(device).type
    if kind not in BACKENDS:
        raise InputError(f"distributed training supports {sorted(BACKENDS)}, not {device!r}")
    if kind == "cuda":
        torch.cuda.set_device(env.local_rank)
    dist.init_process_group(backend=BACKENDS[kind], rank=env.rank, world_size=env.world_size)
    return env


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: torch.device, env: DistEnv) -> torch.device:
    """``cuda`` → ``cuda:LOCAL_RANK`` under DDP; any other device unchanged."""
    if env.enabled and device.type == "cuda" and device.index is None:
        return torch.device("cuda", env.local_rank)
    return device


def shard(index: Tensor, env: DistEnv) -> Tensor:
    """This rank's contiguous share of ``index`` (near-equal slices, rank order)."""
    if not env.enabled:
        return index
    return torch.tensor_split(index, env.world_size)[env.rank]


def shard_batches(batches: list[Tensor], env: DistEnv) -> list[Tensor]:
    """This rank's slice of each global batch; batches smaller than the world are dropped."""
    if not env.enabled:
        return batches
    return [shard(b, env) for b in batches if b.numel() >= env.world_size]


def wrap(
    module: nn.Module, device: torch.device, env: DistEnv, *, find_unused_parameters: bool = True
) -> nn.Module:
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` under DDP.

    ``find_unused_parameters`` (on by default) lets DDP handle heads that leave a
    parameter out of a step; without it DDP fails on such a step.
    """
    if not env.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        module,
        device_ids=ids,
        output_device=ids[0] if ids else None,
        find_unused_parameters=find_unused_parameters,
    )


def all_reduce_sum(tensor: Tensor, env: DistEnv) -> Tensor:
    """Sum of ``tensor`` over ranks (in place; unchanged for one process)."""
    if env.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather(obj: Any, env: DistEnv) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` for one process."""
    if not env.enabled:
        return [obj]
    out: list[Any] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def concat_gathered(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-rank ``{key: array}`` → ``{key: concatenation in rank order}``."""
    keys = [k for p in parts for k in p]
    return {k: np.concatenate([p[k] for p in parts if k in p]) for k in dict.fromkeys(keys)}


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op for one process)."""
    if env.enabled:
        dist.barrier()


__all__ = [
    "BACKENDS",
    "DistEnv",
    "all_gather",
    "all_reduce_sum",
    "barrier",
    "concat_gathered",
    "detect",
    "local_device",
    "setup",
    "shard",
    "shard_batches",
    "wrap",
]
