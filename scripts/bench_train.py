"""Training throughput of MoGENet, MMoE, PLE and ESMM, and a torch-rechub peer comparison
(issue 8).

Usage::

    python scripts/bench_train.py                                  # CPU throughput
    python scripts/bench_train.py --device cpu,cuda                # + the GPU
    python scripts/bench_train.py --peers --peer-python /tmp/rechub-venv/bin/python
    python scripts/bench_train.py --quick --out /tmp/t.json        # smoke test (seconds)

What is measured, and how:

- **data**: one seeded synthetic log (:func:`mogenet.datasets.synthetic.generate`,
  ``--preset`` with ``--users`` / ``--items`` / ``--interactions``; tasks click,
  cart, fav, buy), split by time 80/10/10 (:func:`mogenet.pipeline.split_file`) and
  its graphs built from the training part (ids only: no feature tables, so every
  model reads the user and item ids alone).  Generation, splitting and graph
  building are timed separately and counted nowhere.
- **throughput** (``--device``, ``--models``): each (device, model) trains in a fresh
  process of this script (``--child``), built as ``mogenet train`` builds it
  (:func:`~mogenet.build.build_model`, :func:`~mogenet.pipeline.make_batches`,
  :class:`~mogenet.trainer.Trainer`; the library's defaults: embedding 16, 4
  experts of [64, 32], towers [16], uncertainty weighting, Adam 1e-3, bf16 autocast
  on CUDA) with the same ``--batch-size`` and seed.  One untimed warm-up
  ``Trainer.fit`` over ``--warmup-batches`` batches, then ``--epochs`` timed
  ``Trainer.fit`` calls over the whole training set without validation: the
  trainer's own epoch clock (:attr:`EpochRecord.seconds`; on CUDA every step
  already synchronises when it reads the loss, and the clock is read after a
  ``torch.cuda.synchronize``).  ``pairs_per_s`` = training pairs / median epoch
  seconds.  Peak memory: on CPU the peak RSS of the process (``VmHWM``, reset just
  before the warm-up, with ``rss_before_mib`` already resident), as
  ``scripts/bench_graphs.py`` measures it; on CUDA ``torch.cuda.max_memory_allocated``
  (reset just before the warm-up).  ``--repeats`` runs every model that many times,
  interleaved (mmoe, mogenet, …, mmoe, mogenet, …), and reports the medians.
  **Graph overhead** = MoGENet's over MMoE's median seconds per epoch, same run and
  device; both have the same expert and tower sizes, so the ratio is the cost of
  the neighbour sampling, the MGNN and the graph experts.
- **peers** (``--peers``): torch-rechub's own ``MMOE`` / ``PLE`` and ``MTLTrainer``,
  run by ``--peer-python`` (a separate virtualenv; torch-rechub is never a mogenet
  dependency) in a subprocess that imports nothing from mogenet, beside mogenet's
  ``mmoe`` / ``ple`` trained by :class:`~mogenet.trainer.Trainer` with early
  stopping, on the same split, ids (unseen ids → one shared row in both), sizes,
  batch size, lr, weight decay, epochs and patience, for every seed of
  ``--peer-seeds``.  Test AUC and GAUC of both come from the same
  :func:`mogenet.metrics.evaluate` on their test probabilities; seconds per epoch
  are the training pass alone (``train_s``) and training plus validation
  (``epoch_s``).  Every known difference is listed in :data:`PEER_MISMATCHES`.

The CPU runs use ``--threads`` intra-op threads (1, mogenet's default
``train.cpu_threads``) for every model and for the peer.  The report records the
load average before and after, since other work on the machine slows everything;
the ratios (MoGENet / MMoE, torch-rechub / mogenet) are measured side by side and
are less sensitive to it.  Writes ``--out`` (JSON) and the same results as
Markdown next to it (``.md``), both atomically, and prints the Markdown.

Needs torch, torch_geometric, numpy, pandas, scipy, PyYAML and tqdm (nothing else:
no pyarrow, networkx or scikit-learn); a missing one stops the script at once with
the package to install.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))
from bench_graphs import current_rss_mib, peak_rss_mib, reset_peak_rss  # noqa: E402

#: Modules the benchmark imports → the pip package that provides each.
REQUIRED = {
    "torch": "torch",
    "torch_geometric": "torch-geometric",
    "numpy": "numpy",
    "pandas": "pandas",
    "scipy": "scipy",
    "yaml": "PyYAML",
    "tqdm": "tqdm",
}
#: ESMM's funnel on the synthetic tasks: ``fav`` is not nested in ``cart``, so it
#: gets its own tower (see :class:`mogenet.nn.heads.ESMM`).
ESMM_CHAIN = "[click,cart,buy]"
#: ``--set`` assignments per model; everything else is the library's default.
MODELS = {
    "mmoe": ["model.name=mmoe"],
    "mogenet": ["model.name=mogenet"],
    "ple": ["model.name=ple"],
    "esmm": ["model.name=esmm", f"model.head_options.chain={ESMM_CHAIN}"],
}
#: Models of the peer comparison (mogenet name → torch-rechub class).
PEER_MODELS = {"mmoe": "MMOE", "ple": "PLE"}
#: The peer's settings that mirror mogenet's defaults (ModelConfig / TrainConfig).
PEER_SIZES = {
    "embedding_dim": 16,
    "num_experts": 4,  # MMoE experts; PLE shared experts per level
    "num_task_experts": 1,  # PLE task-specific experts per task and level
    "num_levels": 2,  # PLE levels
    "expert_channels": [64, 32],
    "tower_channels": [16],
    "lr": 1e-3,
    "weight_decay": 3e-4,
}
#: Every known difference between the two sides of the peer comparison.
PEER_MISMATCHES = [
    "Normalisation: torch-rechub's MLP puts BatchNorm1d after every hidden linear layer "
    "(experts, towers and even the softmax gates: Linear → BatchNorm → Softmax) and has "
    "no switch to turn it off; mogenet's heads have no normalisation (norm=None).",
    "Output and loss: torch-rechub's models end in a sigmoid and train with BCELoss on "
    "probabilities; mogenet's return logits and train with BCE-with-logits.",
    "Task weighting: both learn uncertainty weights from 0, but torch-rechub's 'uwl' is "
    "Σ 2·exp(−w_k)·L_k + w_k with w_k clamped at ≥ 0 (so a task's weight never exceeds "
    "its start) and w_k under weight decay; mogenet's is Σ exp(−s_k)·L_k + s_k, "
    "unclamped, without weight decay on s_k.",
    "Early stopping: torch-rechub stops on the first task's (click) validation AUC and "
    "restores the best weights only when it stops early (a run that reaches the last "
    "epoch keeps the last weights); mogenet stops on the mean validation GAUC over the "
    "tasks and always restores the best epoch's weights.  Same epochs and patience.",
    "Data pipeline: torch-rechub reads examples one at a time through a torch "
    "DataLoader (default collate, num_workers=0) and evaluates validation and test with "
    "the training batch size; mogenet slices whole batches from tensors and evaluates "
    "with train.eval_batch_size (8192).",
    "Shuffling and initialisation draw from different random streams (same seeds); "
    "both initialise the id embeddings Xavier-uniform (torch-rechub's XavierUniform "
    "instead of its default N(0, 1e-4)) and the linear layers with PyTorch's default.",
    "Cold start: an id unseen in training maps to one extra row on both sides "
    "(mogenet's OOV row; index 0 of the torch-rechub vocabulary).",
]
#: Must-show of the issue: mogenet ≥ this many times faster per epoch than the peer (CPU).
PEER_SPEEDUP_TARGET = 2.0


# ------------------------------------------------------------------ requirements
def require_packages() -> None:
    """Exit with a clear message if a package the benchmark needs is missing, and make
    ``mogenet`` importable from this checkout when it is not installed."""
    missing = []
    for module, package in REQUIRED.items():
        try:
            importlib.import_module(module)
        except ImportError as e:
            missing.append(f"{package} ({module}: {e})")
    if missing:
        sys.exit(
            "bench_train.py: missing package(s): " + "; ".join(missing) + "\n"
            "install them with: pip install " + " ".join(p.split(" ")[0] for p in missing)
        )
    try:
        importlib.import_module("mogenet")
    except ImportError:
        sys.path.insert(0, str(ROOT))
    try:
        for module in ("mogenet.pipeline", "mogenet.datasets.synthetic", "mogenet.metrics"):
            importlib.import_module(module)
    except ImportError as e:
        sys.exit(
            f"bench_train.py: mogenet does not import ({type(e).__name__}: {e}); "
            f"install the missing package, or run from the repository root ({ROOT})"
        )


# ------------------------------------------------------------------ machine
def machine_info() -> dict:
    """CPU, memory, library versions and date (no psutil / networkx needed)."""
    import pandas
    import torch
    import torch_geometric

    cpu_model = platform.processor() or None
    memory_gib = None
    with contextlib.suppress(OSError, StopIteration):
        with open("/proc/cpuinfo") as f:
            cpu_model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    with contextlib.suppress(OSError, StopIteration, ValueError):
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
            memory_gib = round(kib / (1 << 20), 1)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, cwd=ROOT, timeout=10,
        ).stdout.strip() or None  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = None
    cuda = torch.cuda.is_available()
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "cuda_available": cuda,
        "cuda_device": torch.cuda.get_device_name() if cuda else None,
        "git_commit": commit,
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ data
def prepare_data(args: argparse.Namespace, work: Path) -> dict:
    """Generate, split and build the graphs of the benchmark's log; write the peer's
    arrays.  Returns a summary (sizes and seconds)."""
    import pandas as pd

    from mogenet import pipeline
    from mogenet.datasets.readers import CsvSchema, read_log
    from mogenet.datasets.synthetic import SyntheticConfig, generate
    from mogenet.graphs import GraphBundle
    from mogenet.sampling import Examples

    d = work / "data"
    start = time.perf_counter()
    cfg = SyntheticConfig.preset(
        args.preset,
        seed=args.data_seed,
        num_users=args.users,
        num_items=args.items,
        num_interactions=args.interactions,
    )
    generate(cfg).write(d / "raw")
    split = pipeline.split_file(d / "raw" / "interactions.csv", d, by="time", seed=args.data_seed)
    generate_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pipeline.build_graphs(d / "train.csv", d / "graphs")
    graph_seconds = time.perf_counter() - start

    # The peer's inputs: mogenet's id codes + 1 (0 = unseen in training), labels, groups.
    bundle = GraphBundle.load(d / "graphs")
    tasks = tuple(bundle.meta["tasks"])
    arrays: dict[str, np.ndarray] = {
        "num_users": np.int64(len(bundle.user_map) + 1),
        "num_items": np.int64(len(bundle.item_map) + 1),
        "tasks": np.array(tasks),
    }
    for part in ("train", "valid", "test"):
        log = read_log(d / f"{part}.csv", CsvSchema(tasks=tasks))
        ex = Examples.from_log(log, bundle.user_map, bundle.item_map)
        arrays[f"{part}_user"] = (ex.user + 1).numpy()
        arrays[f"{part}_item"] = (ex.item + 1).numpy()
        arrays[f"{part}_labels"] = ex.labels.numpy()
        arrays[f"{part}_group"] = ex.group
    np.savez(d / "peer_data.npz", **arrays)
    rows = {p: int(v["rows"]) for p, v in split["parts"].items()}
    return {
        "dir": os.fspath(d),
        "preset": args.preset,
        "users": cfg.num_users,
        "items": cfg.num_items,
        "interactions": cfg.num_interactions,
        "tasks": list(tasks),
        "rows": rows,
        "positives": {p: v["positives"] for p, v in split["parts"].items()},
        "cold_test_users": int((arrays["test_user"] == 0).sum()),
        "cold_test_items": int((arrays["test_item"] == 0).sum()),
        "generate_split_seconds": round(generate_seconds, 2),
        "graph_seconds": round(graph_seconds, 2),
        "test_groups": int(pd.unique(arrays["test_group"]).size),
    }


# ------------------------------------------------------------------ mogenet jobs
def _mogenet_setup(job: dict) -> dict:
    """Model, trainer and examples as :func:`mogenet.pipeline.train` builds them
    (:func:`mogenet.pipeline.make_trainer`; no run directory)."""
    import torch

    torch.set_num_threads(job["threads"])
    from dataclasses import replace

    from mogenet import pipeline
    from mogenet.config import RunConfig
    from mogenet.datasets.readers import CsvSchema, read_log
    from mogenet.graphs import GraphBundle
    from mogenet.sampling import Examples

    d = Path(job["data"])
    config = RunConfig().override(job["sets"])
    bundle = GraphBundle.load(d / "graphs")
    tasks = tuple(bundle.meta["tasks"])
    config = replace(config, tasks=tasks)
    train_log, valid_log = pipeline.read_train_valid(d / "train.csv", d / "valid.csv", tasks)
    test_log = read_log(d / "test.csv", CsvSchema(tasks=tasks))
    config, trainer, extra = pipeline.make_trainer(bundle, config, train_log)
    model = trainer.model
    examples = {
        name: extra.attach(Examples.from_log(log, bundle.user_map, bundle.item_map), log)
        for name, log in (("train", train_log), ("valid", valid_log), ("test", test_log))
    }
    return {"trainer": trainer, "model": model, "examples": examples, "config": config}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def job_throughput(job: dict) -> dict:
    """Warm-up, then ``job['epochs']`` timed training epochs (no validation)."""
    import torch

    s = _mogenet_setup(job)
    trainer, train = s["trainer"], s["examples"]["train"]
    device = trainer.device
    bs = s["config"].train.batch_size
    warm = train.subset(torch.arange(min(len(train), job["warmup_batches"] * bs)))
    out: dict = {
        "model": job["model"],
        "device": str(device),
        "device_name": _device_name(device),
        "threads": torch.get_num_threads(),
        "pairs": len(train),
        "batch_size": bs,
        "steps_per_epoch": -(-len(train) // bs),
        "num_parameters": sum(p.numel() for p in s["model"].parameters()),
        "sampler_workers": s["trainer"].batches.num_workers if s["model"].needs_graphs else 0,
    }
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        out["rss_before_mib"] = round(current_rss_mib(), 1)
        out["peak_reset"] = reset_peak_rss()
    start = time.perf_counter()
    trainer.fit(warm)
    _sync(device)
    out["warmup_seconds"] = round(time.perf_counter() - start, 4)
    epochs = []
    for _ in range(job["epochs"]):
        start, cpu = time.perf_counter(), time.process_time()
        trainer.fit(train)
        _sync(device)
        epochs.append(
            {
                "seconds": round(trainer.history[-1].seconds, 4),
                "fit_seconds": round(time.perf_counter() - start, 4),
                "cpu_seconds": round(time.process_time() - cpu, 4),
                "train_loss": round(trainer.history[-1].train_loss, 5),
            }
        )
    seconds = float(np.median([e["seconds"] for e in epochs]))
    cpu_seconds = float(np.median([e["cpu_seconds"] for e in epochs]))
    out.update(epochs=epochs, seconds_per_epoch=round(seconds, 4))
    out["cpu_seconds_per_epoch"] = round(cpu_seconds, 4)
    out["pairs_per_s"] = round(len(train) / seconds, 1)
    if device.type == "cuda":
        out["peak_cuda_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        out["peak_cuda_reserved_mib"] = round(torch.cuda.max_memory_reserved(device) / 2**20, 1)
    else:
        out["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return out


def _device_name(device) -> str | None:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return machine_cpu_model()


def machine_cpu_model() -> str | None:
    with contextlib.suppress(OSError, StopIteration):
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    return platform.processor() or None


def job_fit(job: dict) -> dict:
    """mogenet's side of the peer comparison: ``Trainer.fit`` with validation and early
    stopping, then test probabilities (saved to ``job['predictions']``)."""
    import torch

    s = _mogenet_setup(job)
    trainer, ex = s["trainer"], s["examples"]
    valid = _time_method(trainer, "validate")  # this instance only: times validation
    epoch_cpu = [time.process_time()]

    def on_epoch(record, improved):
        epoch_cpu.append(time.process_time())

    start = time.perf_counter()
    result = trainer.fit(ex["train"], ex["valid"], on_epoch=on_epoch)
    fit_seconds = time.perf_counter() - start
    probs = trainer.predict(ex["test"])
    np.savez(job["predictions"], **{t: probs[t] for t in ex["test"].tasks})
    epochs = []
    for k, (r, (v, v_cpu)) in enumerate(zip(result.history, valid, strict=True)):
        cpu = epoch_cpu[k + 1] - epoch_cpu[k]
        epochs.append(
            {
                "epoch_s": r.seconds,
                "valid_s": v,
                "train_s": r.seconds - v,
                "epoch_cpu_s": cpu,
                "train_cpu_s": cpu - v_cpu,
            }
        )
    return {
        "impl": "mogenet",
        "model": job["model"],
        "seed": job["seed"],
        "threads": torch.get_num_threads(),
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "fit_seconds": round(fit_seconds, 3),
        "epochs": _round_epochs(epochs),
        "num_parameters": sum(p.numel() for p in s["model"].parameters()),
    }


def _round_epochs(epochs: list[dict]) -> list[dict]:
    return [{k: round(v, 4) for k, v in e.items()} for e in epochs]


# ------------------------------------------------------------------ torch-rechub job
def job_peer(job: dict) -> dict:
    """torch-rechub's side, run by the peer's Python: its own model class, data
    generator and ``MTLTrainer``; imports nothing from mogenet."""
    import random

    import torch

    torch.set_num_threads(job["threads"])
    import torch_rechub
    from torch.utils.data import DataLoader
    from torch_rechub.basic.features import SparseFeature
    from torch_rechub.basic.initializers import XavierUniform
    from torch_rechub.models.multi_task import MMOE, PLE
    from torch_rechub.trainers import MTLTrainer
    from torch_rechub.utils.data import DataGenerator, PredictDataset

    data = np.load(job["data"])
    sizes, seed, bs = job["sizes"], job["seed"], job["batch_size"]
    tasks = [str(t) for t in data["tasks"]]
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    features = [
        SparseFeature(
            name,
            vocab_size=int(data[f"num_{name.split('_')[0]}s"]),
            embed_dim=sizes["embedding_dim"],
            initializer=XavierUniform(),
        )
        for name in ("user_id", "item_id")
    ]
    task_types = ["classification"] * len(tasks)
    expert = {"dims": list(sizes["expert_channels"]), "activation": "relu", "dropout": 0.0}
    towers = [
        {"dims": list(sizes["tower_channels"]), "activation": "relu", "dropout": 0.0} for _ in tasks
    ]
    if job["model"] == "mmoe":
        model = MMOE(features, task_types, sizes["num_experts"], expert, towers)
    elif job["model"] == "ple":
        model = PLE(
            features,
            task_types,
            n_level=sizes["num_levels"],
            n_expert_specific=sizes["num_task_experts"],
            n_expert_shared=sizes["num_experts"],
            expert_params=expert,
            tower_params_list=towers,
        )
    else:
        raise ValueError(f"no torch-rechub peer for {job['model']!r}")

    def x(part):
        return {"user_id": data[f"{part}_user"], "item_id": data[f"{part}_item"]}

    def y(part):
        return data[f"{part}_labels"].astype(np.float32)

    train_dl, valid_dl, _ = DataGenerator(x("train"), y("train")).generate_dataloader(
        x_val=x("valid"), y_val=y("valid"), x_test=x("test"), y_test=y("test"), batch_size=bs
    )
    with tempfile.TemporaryDirectory() as model_path:
        trainer = MTLTrainer(
            model,
            task_types=task_types,
            optimizer_params={"lr": sizes["lr"], "weight_decay": sizes["weight_decay"]},
            adaptive_params={"method": "uwl"},
            n_epoch=job["epochs"],
            earlystop_taskid=0,
            earlystop_patience=job["patience"],
            device=job["device"],
            model_path=model_path,
        )
        train_t = _time_method(trainer, "train_one_epoch")
        valid_t = _time_method(trainer, "evaluate")
        start = time.perf_counter()
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            log = trainer.fit(train_dl, valid_dl, seed=seed)
            fit_seconds = time.perf_counter() - start
            test_dl = DataLoader(PredictDataset(x("test")), batch_size=bs, shuffle=False)
            preds = np.asarray(trainer.predict(trainer.model, test_dl), dtype=np.float64)
    np.savez(job["predictions"], **{t: preds[:, k] for k, t in enumerate(tasks)})
    epochs = [
        {
            "epoch_s": t + v,
            "valid_s": v,
            "train_s": t,
            "epoch_cpu_s": t_cpu + v_cpu,
            "train_cpu_s": t_cpu,
        }
        for (t, t_cpu), (v, v_cpu) in zip(train_t, valid_t[: len(train_t)], strict=True)
    ]
    valid_auc = [float(row[len(tasks)]) for row in log]  # scores follow the task losses
    return {
        "impl": "torch-rechub",
        "version": getattr(torch_rechub, "__version__", None),
        "torch": torch.__version__,
        "model": job["model"],
        "seed": seed,
        "threads": torch.get_num_threads(),
        "epochs_run": len(log),
        "best_epoch": int(np.argmax(valid_auc)) + 1,
        "stopped_early": len(log) < job["epochs"],
        "fit_seconds": round(fit_seconds, 3),
        "epochs": _round_epochs(epochs),
        "num_parameters": sum(p.numel() for p in model.parameters()),
    }


def _time_method(obj, name: str) -> list[tuple[float, float]]:
    """Wrap ``obj.name`` (this instance only) to append each call's (wall, process CPU)
    seconds to the returned list."""
    seconds: list[tuple[float, float]] = []
    method = getattr(obj, name)

    def timed(*args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            seconds.append((time.perf_counter() - start, time.process_time() - cpu))

    setattr(obj, name, timed)
    return seconds


def peer_available(python: str | None, timeout: float = 120) -> tuple[bool, str]:
    """Whether ``python`` can import torch-rechub's multi-task models and trainer."""
    if not python:
        return False, "no --peer-python given"
    if not Path(python).exists():
        return False, f"peer python {python} not found (set up the venv, see scripts/README.md)"
    code = (
        "import torch, torch_rechub; from torch_rechub.models.multi_task import MMOE, PLE; "
        "from torch_rechub.trainers import MTLTrainer; "
        "print(getattr(torch_rechub, '__version__', '?'), torch.__version__)"
    )
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"peer python {python} failed: {type(e).__name__}: {e}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return False, f"torch-rechub does not import with {python}: {tail}"
    return True, proc.stdout.strip()


# ------------------------------------------------------------------ child processes
JOBS = {"throughput": job_throughput, "fit": job_fit, "peer": job_peer}


def run_job(job: dict, work: Path, *, python: str, timeout: float, in_process: bool) -> dict:
    """Run one job in a fresh process of this script (or here); never raises."""
    if in_process and job["kind"] != "peer":
        try:
            return JOBS[job["kind"]](job)
        except Exception as e:  # noqa: BLE001 — reported in the results
            return {"error": f"{type(e).__name__}: {e}"}
    fd, name = tempfile.mkstemp(prefix=f"{job['kind']}_", suffix=".json", dir=work)
    os.close(fd)
    job_file, result = Path(name), Path(name).with_suffix(".result.json")
    job_file.write_text(json.dumps(job))
    cmd = [python, os.fspath(Path(__file__).resolve()), "--child", os.fspath(job_file)]
    cmd += ["--result", os.fspath(result)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    finally:
        job_file.unlink(missing_ok=True)
    if proc.returncode != 0 or not result.exists():
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    out = json.loads(result.read_text())
    result.unlink()
    return out


def child_main(job_file: str, result: str) -> None:
    job = json.loads(Path(job_file).read_text())
    if job["kind"] != "peer":  # the peer's Python needs (and may have) no mogenet
        require_packages()
    out = JOBS[job["kind"]](job)
    Path(result).write_text(json.dumps(out))


# ------------------------------------------------------------------ throughput
def _sets(model: str, device: str, args: argparse.Namespace, seed: int, epochs: int) -> list:
    return [
        *MODELS[model],
        f"train.device={device}",
        f"train.batch_size={args.batch_size}",
        f"train.cpu_threads={args.threads}",
        f"train.seed={seed}",
        f"train.epochs={epochs}",
        *args.set,
    ]


def bench_throughput(args: argparse.Namespace, data: dict, work: Path) -> dict:
    """Per device: every model ``--repeats`` times (interleaved), medians and ratios."""
    import torch

    out: dict = {"devices": {}, "notes": []}
    for device in args.device:
        if device == "cuda" and not torch.cuda.is_available():
            out["notes"].append("cuda: not available on this machine")
            continue
        runs: dict[str, list[dict]] = {m: [] for m in args.models}
        load_start = _loadavg()
        for r in range(args.repeats):
            for model in args.models:
                job = {
                    "kind": "throughput",
                    "model": model,
                    "data": data["dir"],
                    "threads": args.threads,
                    "warmup_batches": args.warmup_batches,
                    "epochs": args.epochs,
                    "sets": _sets(model, device, args, seed=0, epochs=1),
                }
                res = run_job(
                    job,
                    work,
                    python=sys.executable,
                    timeout=args.timeout,
                    in_process=args.in_process,
                )
                runs[model].append(res)
                _log(f"  {device} {model} #{r + 1}: {_brief(res)}")
        out["devices"][device] = {
            "loadavg_start": load_start,
            "loadavg_end": _loadavg(),
            "models": {m: _median_run(rs) for m, rs in runs.items()},
        }
        dev = out["devices"][device]
        dev["device_name"] = next(
            (r["device_name"] for r in dev["models"].values() if r.get("device_name")), None
        )
        mmoe = dev["models"].get("mmoe", {})
        for r in dev["models"].values():
            for key, name in (("seconds_per_epoch", "time_vs_mmoe"), CPU_RATIO):
                if mmoe.get(key) and r.get(key):
                    r[name] = round(r[key] / mmoe[key], 3)
        mog = dev["models"].get("mogenet", {})
        if mmoe.get("seconds_per_epoch") and mog.get("seconds_per_epoch"):
            dev["graph_overhead"] = {
                "mogenet_over_mmoe": mog["time_vs_mmoe"],
                "cpu_mogenet_over_mmoe": mog.get("cpu_time_vs_mmoe"),
                "per_repeat": [
                    round(a["seconds_per_epoch"] / b["seconds_per_epoch"], 3)
                    for a, b in zip(runs["mogenet"], runs["mmoe"], strict=False)
                    if "seconds_per_epoch" in a and "seconds_per_epoch" in b
                ],
            }
    return out


#: Process CPU seconds per epoch and the ratio to MMoE's that they give.
CPU_RATIO = ("cpu_seconds_per_epoch", "cpu_time_vs_mmoe")


def _median_run(runs: list[dict]) -> dict:
    """The first successful run with the median seconds per epoch over all of them."""
    ok = [r for r in runs if "seconds_per_epoch" in r]
    if not ok:
        return runs[0] if runs else {"error": "not run"}
    seconds = [r["seconds_per_epoch"] for r in ok]
    median = float(np.median(seconds))
    best = dict(min(ok, key=lambda r: abs(r["seconds_per_epoch"] - median)))
    best.update(
        seconds_per_epoch=round(median, 4),
        cpu_seconds_per_epoch=round(float(np.median([r["cpu_seconds_per_epoch"] for r in ok])), 4),
        pairs_per_s=round(best["pairs"] / median, 1),
        repeats_seconds=seconds,
    )
    for key in ("peak_rss_mib", "peak_cuda_allocated_mib"):
        if key in best:
            best[key] = max(r[key] for r in ok)
    return best


def _brief(r: dict) -> str:
    if "error" in r:
        return r["error"]
    mem = r.get("peak_rss_mib", r.get("peak_cuda_allocated_mib"))
    return (
        f"{r['seconds_per_epoch']:.2f} s/epoch ({r['cpu_seconds_per_epoch']:.2f} CPU s), "
        f"{r['pairs_per_s']:.0f} pairs/s, peak {mem} MiB"
    )


# ------------------------------------------------------------------ peers
def bench_peers(args: argparse.Namespace, data: dict, work: Path) -> dict:
    """mogenet's and torch-rechub's MMoE / PLE, every seed, interleaved."""
    ok, text = peer_available(args.peer_python)
    out: dict = {
        "peer": {"python": args.peer_python, "available": ok, "versions": text},
        "device": args.peer_device,
        "seeds": args.peer_seeds,
        "epochs": args.peer_epochs,
        "patience": args.peer_patience,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "sizes": PEER_SIZES,
        "mismatches": PEER_MISMATCHES,
        "notes": [] if ok else [f"torch-rechub not run: {text}"],
        "runs": [],
        "loadavg_start": _loadavg(),
    }
    labels = np.load(Path(data["dir"]) / "peer_data.npz")
    tasks = [str(t) for t in labels["tasks"]]
    for seed in args.peer_seeds:
        for model in PEER_MODELS:
            impls = ["mogenet", "torch-rechub"] if ok else ["mogenet"]
            for impl in impls:
                preds = work / f"pred_{impl}_{model}_{seed}.npz"
                if impl == "mogenet":
                    sets = _sets(model, args.peer_device, args, seed, args.peer_epochs)
                    sets.append(f"train.patience={args.peer_patience}")
                    job = {"kind": "fit", "model": model, "seed": seed, "data": data["dir"]}
                    job.update(threads=args.threads, sets=sets, predictions=os.fspath(preds))
                    python = sys.executable
                else:
                    job = {
                        "kind": "peer",
                        "model": model,
                        "seed": seed,
                        "data": os.fspath(Path(data["dir"]) / "peer_data.npz"),
                        "threads": args.threads,
                        "sizes": PEER_SIZES,
                        "batch_size": args.batch_size,
                        "epochs": args.peer_epochs,
                        "patience": args.peer_patience,
                        "device": args.peer_device,
                        "predictions": os.fspath(preds),
                    }
                    python = args.peer_python
                res = run_job(
                    job, work, python=python, timeout=args.timeout, in_process=args.in_process
                )
                res.setdefault("impl", impl)
                res.setdefault("model", model)
                res.setdefault("seed", seed)
                if "error" not in res:
                    res["test"] = _test_metrics(labels, tasks, preds)
                    preds.unlink(missing_ok=True)
                out["runs"].append(res)
                _log(f"  peers seed {seed} {model} {impl}: {_peer_brief(res)}")
    out["loadavg_end"] = _loadavg()
    out["summary"] = summarise_peers(out["runs"], tasks)
    return out


def _test_metrics(labels, tasks: list[str], preds: Path) -> dict:
    """Test AUC / GAUC / logloss per task of saved probabilities (mogenet.metrics)."""
    from mogenet.metrics import evaluate, to_jsonable

    probs = np.load(preds)
    y = labels["test_labels"]
    metrics = evaluate(
        {t: y[:, k] for k, t in enumerate(tasks)},
        {t: probs[t] for t in tasks},
        labels["test_group"],
    )
    return to_jsonable(metrics)


def _peer_brief(r: dict) -> str:
    if "error" in r:
        return r["error"]
    train = np.mean([e["train_s"] for e in r["epochs"]])
    gauc = " ".join(f"{t} {m['gauc']:.4f}" for t, m in r["test"].items())
    return f"{r['epochs_run']} epochs, {train:.2f} s/epoch (train), test GAUC {gauc}"


def _mean_std(values: list[float]) -> dict:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "std": std, "n": len(values)}


#: Per-epoch times of the peer comparison: wall seconds of the training pass, of
#: training + validation, and the same in process CPU seconds.
TIMES = ("train_s", "epoch_s", "train_cpu_s", "epoch_cpu_s")


def summarise_peers(runs: list[dict], tasks: list[str]) -> dict:
    """Mean ± std over seeds per (model, implementation), and the two checks.

    Accuracy holds for a model when, for every task and both AUC and GAUC, mogenet's
    mean is at least torch-rechub's minus the larger of the two seed standard
    deviations (sample std); speed holds when torch-rechub's mean training seconds
    per epoch are at least :data:`PEER_SPEEDUP_TARGET` times mogenet's (checked on the
    wall clock and on process CPU time, which other work on the machine disturbs less).
    """
    out: dict = {"models": {}, "checks": []}
    for model in PEER_MODELS:
        rows = {}
        for impl in ("mogenet", "torch-rechub"):
            ok = [r for r in runs if r["model"] == model and r["impl"] == impl and "test" in r]
            if not ok:
                continue
            rows[impl] = {
                "seeds": [r["seed"] for r in ok],
                **{
                    key: _mean_std([np.mean([e[key] for e in r["epochs"]]) for r in ok])
                    for key in TIMES
                },
                "epochs_run": _mean_std([r["epochs_run"] for r in ok]),
                "num_parameters": ok[0].get("num_parameters"),
                **{
                    metric: {t: _mean_std([r["test"][t][metric] for r in ok]) for t in tasks}
                    for metric in ("auc", "gauc")
                },
            }
        out["models"][model] = rows
        if set(rows) != {"mogenet", "torch-rechub"}:
            continue
        mog, peer = rows["mogenet"], rows["torch-rechub"]
        speedup = {k: peer[k]["mean"] / mog[k]["mean"] for k in TIMES}
        worst = None
        for metric in ("auc", "gauc"):
            for t in tasks:
                a, b = mog[metric][t], peer[metric][t]
                if a["mean"] is None or b["mean"] is None:
                    continue
                margin = (a["mean"] - b["mean"]) + max(a["std"], b["std"])
                if worst is None or margin < worst["margin"]:
                    worst = {
                        "metric": metric,
                        "task": t,
                        "diff": a["mean"] - b["mean"],
                        "spread": max(a["std"], b["std"]),
                        "margin": margin,
                    }
        rows["speedup"] = {k: round(v, 3) for k, v in speedup.items()}
        out["checks"].append(
            {
                "check": f"{model}: mogenet as accurate as torch-rechub (test AUC and GAUC, "
                "every task: mean diff ≥ −max seed std)",
                "value": worst,
                "result": "PASS" if worst is None or worst["margin"] >= 0 else "FAIL",
            }
        )
        for key, clock in (("train_s", "wall clock"), ("train_cpu_s", "process CPU time")):
            out["checks"].append(
                {
                    "check": f"{model}: mogenet ≥ {PEER_SPEEDUP_TARGET:g}× faster per training "
                    f"epoch ({clock})",
                    "value": round(speedup[key], 3),
                    "result": "PASS" if speedup[key] >= PEER_SPEEDUP_TARGET else "FAIL",
                }
            )
    return out


# ------------------------------------------------------------------ profile
def profile_fit(args: argparse.Namespace, data: dict) -> dict:
    """``torch.profiler`` of mogenet's MMoE and PLE training (``--profile-batches``
    batches after the warm-up, on ``--peer-device``): the ops with the most self CPU
    time, and the share of the optimiser step."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    out = {}
    for model in PEER_MODELS:
        job = {"data": data["dir"], "threads": args.threads}
        job["sets"] = _sets(model, args.peer_device, args, seed=0, epochs=1)
        s = _mogenet_setup(job)
        trainer, train = s["trainer"], s["examples"]["train"]
        bs = s["config"].train.batch_size
        trainer.fit(train.subset(torch.arange(min(len(train), args.warmup_batches * bs))))
        part = train.subset(torch.arange(min(len(train), args.profile_batches * bs)))
        activities = [ProfilerActivity.CPU]
        if trainer.device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            trainer.fit(part)
        steps = -(-len(part) // bs)
        events = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in events)
        rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[: args.profile_top]
        out[model] = {
            "steps": steps,
            "self_cpu_ms_per_step": round(total / 1e3 / steps, 3),
            "top": [
                {
                    "name": e.key,
                    "calls_per_step": round(e.count / steps, 1),
                    "self_cpu_ms_per_step": round(e.self_cpu_time_total / 1e3 / steps, 3),
                    "share": round(e.self_cpu_time_total / total, 4),
                }
                for e in rows
            ],
        }
    return out


# ------------------------------------------------------------------ report
def _fmt(x, spec: str = ".4f") -> str:
    return "—" if x is None else format(x, spec)


def _ms(d: dict, spec: str = ".4f") -> str:
    if not d or d.get("mean") is None:
        return "—"
    return f"{format(d['mean'], spec)} ± {format(d['std'], spec)}"


def to_markdown(report: dict) -> str:
    a, data = report["args"], report["data"]
    m = report["machine"]
    lines = [
        "# Training throughput and torch-rechub comparison",
        "",
        f"`{report['command']}`",
        "",
        f"{m['date']}; CPU {m['cpu_model']} ({m['cpus_usable']} usable cores); "
        f"torch {m['torch']}, PyG {m['torch_geometric']}; CUDA: {m['cuda_device'] or 'none'}; "
        f"git {m['git_commit']}.",
        "",
        f"Data: synthetic `{data['preset']}` ({data['users']} users, {data['items']} items, "
        f"{data['interactions']} impressions; tasks {', '.join(data['tasks'])}), split by "
        f"time: {data['rows']['train']} train / {data['rows']['valid']} valid / "
        f"{data['rows']['test']} test rows; ids only.  Batch {a['batch_size']}, "
        f"{a['threads']} CPU thread(s) per model.",
        "",
    ]
    tp = report.get("throughput")
    if tp:
        lines += _throughput_markdown(tp, a)
    peers = report.get("peers")
    if peers:
        lines += _peer_markdown(peers, data["tasks"])
    if report.get("profile"):
        lines += _profile_markdown(report["profile"], a)
    return "\n".join(lines).rstrip() + "\n"


def _throughput_markdown(tp: dict, a: dict) -> list[str]:
    lines = [
        "## Training throughput",
        "",
        f"Median of {a['repeats']} fresh process(es) per model, each: warm-up "
        f"{a['warmup_batches']} batches, then {a['epochs']} timed epoch(s) without "
        "validation.  `CPU s` = process CPU seconds (all threads, MoGENet's sampler "
        "workers included).  Memory: CPU peak RSS of the process (reset before the "
        "warm-up); CUDA `max_memory_allocated`.",
        "",
        "| device | model | s / epoch | pairs / s | × MMoE time | CPU s / epoch "
        "| × MMoE CPU | peak memory MiB | parameters |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for device, dev in tp["devices"].items():
        for model, r in dev["models"].items():
            if "error" in r:
                lines.append(f"| {device} | {model} | error: {r['error']} |" + " |" * 6)
                continue
            mem = r.get("peak_rss_mib", r.get("peak_cuda_allocated_mib"))
            lines.append(
                f"| {device} | {model} | {r['seconds_per_epoch']:.3f} | "
                f"{r['pairs_per_s']:,.0f} | {_fmt(r.get('time_vs_mmoe'), '.2f')} | "
                f"{r['cpu_seconds_per_epoch']:.3f} | {_fmt(r.get('cpu_time_vs_mmoe'), '.2f')} "
                f"| {_fmt(mem, '.0f')} | {r['num_parameters']:,} |"
            )
    lines.append("")
    for device, dev in tp["devices"].items():
        g = dev.get("graph_overhead")
        if g:
            lines.append(
                f"- **Graph overhead ({device}: {dev['device_name']})**: MoGENet takes "
                f"**{g['mogenet_over_mmoe']:.2f}×** MMoE's time per epoch (per repeat: "
                f"{', '.join(f'{x:.2f}' for x in g['per_repeat'])}; process CPU time: "
                f"{_fmt(g['cpu_mogenet_over_mmoe'], '.2f')}×); load average "
                f"{dev['loadavg_start']} → {dev['loadavg_end']}."
            )
    lines += [f"- {n}" for n in tp["notes"]]
    lines.append("")
    return lines


def _peer_markdown(peers: dict, tasks: list[str]) -> list[str]:
    s = peers["summary"]
    version = peers["peer"]["versions"] if peers["peer"]["available"] else "not run"
    lines = [
        "## Peer comparison: torch-rechub",
        "",
        f"torch-rechub (version, torch: {version}) vs mogenet on {peers['device']}, seeds "
        f"{peers['seeds']} (same data, training seed varies), ≤ {peers['epochs']} epochs, "
        f"patience {peers['patience']}, batch {peers['batch_size']}, {peers['threads']} "
        "thread(s); test metrics by `mogenet.metrics.evaluate` on both; mean ± sample std "
        "over seeds.  Times per epoch: `train` = the training pass, `epoch` = training + "
        "validation; wall seconds and process CPU seconds.",
        "",
        "| model | implementation | "
        + " | ".join(f"{t} AUC" for t in tasks)
        + " | "
        + " | ".join(f"{t} GAUC" for t in tasks)
        + " | train s | epoch s | train CPU s | epoch CPU s | epochs |",
        "|---|---|" + "---:|" * (2 * len(tasks) + 5),
    ]
    for model, rows in s["models"].items():
        for impl in ("mogenet", "torch-rechub"):
            r = rows.get(impl)
            if not r:
                continue
            cells = [_ms(r["auc"][t]) for t in tasks] + [_ms(r["gauc"][t]) for t in tasks]
            cells += [_ms(r[k], ".2f") for k in TIMES] + [_ms(r["epochs_run"], ".1f")]
            lines.append(f"| {model} | {impl} | " + " | ".join(cells) + " |")
        if "speedup" in rows:
            sp = rows["speedup"]
            lines.append(
                f"| {model} | **torch-rechub / mogenet time** | "
                + " |" * (2 * len(tasks))
                + " ".join(f" **{sp[k]:.2f}×** |" for k in TIMES)
                + " |"
            )
    lines.append("")
    for c in s["checks"]:
        v = c["value"]
        if isinstance(v, dict):
            v = (
                f"worst: {v['task']} {v['metric'].upper()} diff {v['diff']:+.4f}, "
                f"spread {v['spread']:.4f}"
            )
        lines.append(f"- **{c['result']}** — {c['check']}: {v}")
    lines += [f"- {n}" for n in peers["notes"]]
    lines += [
        f"- Load average {peers['loadavg_start']} → {peers['loadavg_end']}.",
        "",
        "Differences between the two sides (everything else — ids, embedding 16, experts "
        "[64, 32], towers [16], 4 (shared) experts, PLE 2 levels with 1 task expert, Adam "
        "lr 1e-3, weight decay 3e-4, batch, epochs, patience, split, threads — is the same):",
        "",
    ]
    lines += [f"{k}. {text}" for k, text in enumerate(peers["mismatches"], 1)]
    lines.append("")
    return lines


def _profile_markdown(profile: dict, a: dict) -> list[str]:
    lines = [
        "## Where mogenet's training time goes (torch.profiler)",
        "",
        f"{a['profile_batches']} training batches after the warm-up; ops by self CPU "
        "time per step.",
        "",
    ]
    for model, p in profile.items():
        lines += [
            f"**{model}**: {p['self_cpu_ms_per_step']:.2f} ms of self CPU time per step "
            f"({p['steps']} steps).",
            "",
            "| op | calls / step | ms / step | share |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| `{e['name']}` | {e['calls_per_step']:g} | {e['self_cpu_ms_per_step']:.3f} | "
            f"{100 * e['share']:.1f} % |"
            for e in p["top"]
        ]
        lines.append("")
    return lines


# ------------------------------------------------------------------ main
def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", type=_csv, default=["cpu"], help="cpu, cuda or cpu,cuda")
    p.add_argument(
        "--models", type=_csv, default=list(MODELS), help="subset of " + ",".join(MODELS)
    )
    p.add_argument("--preset", default="demo", help="synthetic preset (sizes below override it)")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--items", type=int, default=500)
    p.add_argument("--interactions", type=int, default=60_000)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--threads", type=int, default=1, help="CPU intra-op threads, every model")
    p.add_argument("--warmup-batches", type=int, default=20)
    p.add_argument("--epochs", type=int, default=1, help="timed epochs per throughput run")
    p.add_argument("--repeats", type=int, default=1, help="throughput runs per model")
    p.add_argument("--peers", action="store_true", help="also run the torch-rechub comparison")
    p.add_argument("--peer-python", default="/tmp/rechub-venv/bin/python")
    p.add_argument("--peer-seeds", type=lambda s: [int(x) for x in _csv(s)], default=[0, 1, 2])
    p.add_argument("--peer-epochs", type=int, default=8)
    p.add_argument("--peer-patience", type=int, default=3)
    p.add_argument("--peer-device", default="cpu")
    p.add_argument("--no-throughput", action="store_true", help="peers only")
    p.add_argument("--profile", action="store_true", help="torch.profiler of mogenet MMoE/PLE")
    p.add_argument("--profile-batches", type=int, default=40)
    p.add_argument("--profile-top", type=int, default=15)
    p.add_argument("--set", action="append", default=[], help="extra RunConfig overrides")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per child process")
    p.add_argument("--work", default="bench/train_work")
    p.add_argument("--out", default="bench/train.json")
    p.add_argument("--in-process", action="store_true", help="mogenet jobs in this process")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test in seconds")
    args = p.parse_args(argv)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    bad = [d for d in args.device if d not in ("cpu", "cuda")]
    if bad:
        p.error(f"--device takes cpu and/or cuda, got {bad}")
    if args.quick:
        args.preset, args.users, args.items, args.interactions = "tiny", 200, 100, 3000
        args.batch_size, args.warmup_batches, args.profile_batches = 256, 2, 3
        args.peer_seeds, args.peer_epochs, args.peer_patience = args.peer_seeds[:2], 2, 1
    return args


def main(argv: list[str] | None = None) -> dict:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["--child"]:
        child_main(raw[1], raw[3])
        return {}
    args = parse_args(argv)
    require_packages()
    import warnings

    warnings.filterwarnings("ignore")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "command": "python scripts/bench_train.py " + " ".join(raw),
        "args": vars(args),
        "machine": machine_info(),
    }
    _log("preparing data …")
    report["data"] = prepare_data(args, work)
    if not args.no_throughput:
        _log("throughput …")
        report["throughput"] = bench_throughput(args, report["data"], work)
    if args.peers:
        _log("peers …")
        report["peers"] = bench_peers(args, report["data"], work)
    if args.profile:
        _log("profile …")
        report["profile"] = profile_fit(args, report["data"])
    from mogenet.io import write_report
    from mogenet.metrics import to_jsonable

    report = to_jsonable(report)
    write_report(args.out, report, to_markdown(report))
    return report


if __name__ == "__main__":
    main()
