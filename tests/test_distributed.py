"""Data-parallel training: the torchrun glue, and 2 gloo processes on CPU training
the same model as 1 process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from mogenet import distributed
from mogenet.cli import main
from mogenet.distributed import DistEnv
from mogenet.errors import InputError

#: DDP averages the ranks' gradients instead of summing one batch's, so the float
#: rounding differs (observed: metrics within 1e-9, losses within 1e-7 relative).
TOLERANCE = 1e-6


def test_detect_reads_the_torchrun_environment(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert distributed.detect() == DistEnv() and not DistEnv().enabled and DistEnv().is_main
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    env = distributed.detect()
    assert env == DistEnv(rank=3, world_size=4, local_rank=1)
    assert env.enabled and not env.is_main
    assert distributed.local_device(torch.device("cuda"), env) == torch.device("cuda", 1)
    assert distributed.local_device(torch.device("cuda:0"), env) == torch.device("cuda", 0)
    assert distributed.local_device(torch.device("cpu"), env) == torch.device("cpu")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(InputError, match="malformed distributed environment"):
        distributed.detect()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(InputError, match="outside WORLD_SIZE"):
        distributed.detect()


def test_shard_batches_cut_each_global_batch_in_rank_order():
    batches = list(torch.randperm(23).split(10))  # 10, 10, 3
    shards = [distributed.shard_batches(batches, DistEnv(rank=r, world_size=4)) for r in range(4)]
    assert [len(s) for s in shards] == [2, 2, 2, 2]  # the 3-example batch is dropped
    for b in range(2):  # the ranks' slices, in rank order, are the global batch
        assert torch.equal(torch.cat([s[b] for s in shards]), batches[b])
        assert [len(s[b]) for s in shards] == [3, 3, 2, 2]
    assert distributed.shard_batches(batches, DistEnv()) is batches


def test_single_process_helpers_are_no_ops():
    env = DistEnv()
    module = torch.nn.Linear(2, 2)
    assert distributed.wrap(module, torch.device("cpu"), env) is module
    t = torch.ones(3)
    assert distributed.all_reduce_sum(t, env) is t and t.tolist() == [1, 1, 1]
    assert distributed.all_gather({"a": 1}, env) == [{"a": 1}]
    assert distributed.setup("cpu") == env
    parts = [{"p": torch.arange(2).numpy()}, {"p": torch.arange(2, 5).numpy()}]
    assert distributed.concat_gathered(parts)["p"].tolist() == [0, 1, 2, 3, 4]


def read_run(run):
    metrics = json.loads((run / "metrics.json").read_text())
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    return metrics, history


def test_two_gloo_processes_match_one_process(tiny_split, tiny_graphs, tmp_path):
    """``torchrun --nproc_per_node 2 -m mogenet train`` (gloo, CPU) ends with the metrics
    of one process with the same global batch.  Batch 245 on 1600 examples splits
    123/122 per rank and ends with a 130-example batch: the loss weighting by each
    rank's share makes even those steps equal to the single-process step."""
    args = [
        "train",
        "--graphs",
        str(tiny_graphs),
        "--train",
        str(tiny_split / "train.csv"),
        "--valid",
        str(tiny_split / "valid.csv"),
        "--epochs",
        "3",
        "--seed",
        "5",
        "--set",
        "train.batch_size=245",
        "--set",
        "train.lr_schedule=cosine",
        "--set",
        "train.grad_clip=5.0",
    ]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*args, "--out", str(one)]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    proc = subprocess.run(
        [*launch, "-m", "mogenet", *args, "--out", str(two)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("run written to") == 1  # rank 0 alone prints

    # rank 0 alone writes: the same files as the single-process run
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    (m1, h1), (m2, h2) = read_run(one), read_run(two)
    assert m2["run"]["world_size"] == 2 and "world_size" not in m1["run"]
    assert m1["run"]["best_epoch"] == m2["run"]["best_epoch"]
    tasks = m1["run"]["tasks"]
    for task in tasks:
        for key, value in m1[task].items():
            if value is None:  # undefined metric (e.g. GAUC without a mixed user)
                assert m2[task][key] is None
            else:
                assert m2[task][key] == pytest.approx(value, abs=TOLERANCE), (task, key)
    assert len(h1) == len(h2) == 3
    for a, b in zip(h1, h2, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=TOLERANCE)
        assert b["lr"] == pytest.approx(a["lr"], rel=1e-12)
        for task in tasks:  # the loss's own parameters (log sigma^2) stay in sync
            assert b["task_weights"][task] == pytest.approx(a["task_weights"][task], rel=TOLERANCE)
            usage = zip(a["gate_usage"][task], b["gate_usage"][task], strict=True)
            assert all(y == pytest.approx(x, abs=TOLERANCE) for x, y in usage)
