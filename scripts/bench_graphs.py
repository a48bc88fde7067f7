"""Benchmark the graph builders at scale (issue "Graph builders at scale").

Builds the bipartite graph and the user–user / item–item cosine top-k similarity
graphs of synthetic power-law logs with the library (``build_bipartite``,
``build_similarity``), and compares item–item similarity with a pandas self-join
and a networkx projection measured in the same run.

Usage::

    python scripts/bench_graphs.py                          # sizes 1e6,1e7
    python scripts/bench_graphs.py --sizes 1e5 --out bench/graphs_small.json

What is measured, and how:

- **generator**: a seeded, vectorised power-law log (:func:`power_law_log`), timed
  separately (``generate_seconds``) and counted nowhere; so is turning it into an
  ``InteractionLog`` with string ids (``log_seconds``).
- **stages** ``bipartite`` (id maps + ``build_bipartite``), ``user_user`` and
  ``item_item`` (``build_similarity``, cosine, ``--topk``, ``--hub-cap``): each runs
  in a fresh Python process (this script with ``--stage``) that loads its inputs
  from disk, imports the library, resets its peak-RSS counter
  (``/proc/self/clear_refs``), runs the stage and reports its own wall time and
  peak RSS (``VmHWM``; ``ru_maxrss`` where ``/proc`` is unavailable, and then the
  peak also covers loading the inputs: ``peak_reset`` is false).  The peak includes
  what is resident when the stage starts (interpreter, torch, the log or the
  edges), reported as ``rss_before_mib``.
- **spectral**: 16 spectral coordinates per node from the bipartite edges
  (``mogenet.graphs.spectral``, ``build-graphs --spectral 16``); optional in a
  bundle, so not part of ``total``.
- **total**: the three graphs built one after the other in one process from the
  in-memory log (the whole build); its seconds and peak RSS are checked against
  the targets.
- **baselines** (item–item cosine top-k from the same deduplicated bipartite edges,
  with the same hub-cap semantics: at most ``hub_cap`` items per user, a seeded
  uniform sample, degrees of the capped graph): a ``pandas`` self-join and a
  ``networkx`` weighted projection, each in its own process and killed after
  ``--timeout`` seconds.  ``speedup`` is the baseline's seconds over mogenet's
  ``item_item`` seconds at the same size, in the same run.
- **check** (at ``--baseline-size``): mogenet's item–item graph against pandas and
  networkx (same edges, weights within 1e-6) without a cap; with the cap against
  pandas run on the very edges mogenet's sample keeps (the baselines draw their
  own sample, so their capped graphs differ from mogenet's by the sample only);
  and pandas against networkx with their common sample.

Writes ``--out`` (JSON) and the same results as a Markdown table next to it
(``.md``), both atomically, and prints the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: Targets of the issue: size → (seconds, peak RSS in GB = 10^9 bytes) for all three graphs.
TARGETS = {1_000_000: (15.0, 3.0), 10_000_000: (180.0, 12.0)}
#: mogenet's item–item graph must be this many times faster than pandas at this size.
SPEEDUP_TARGET = (1_000_000, 10.0)
#: Weights of two implementations are equal when they differ by at most this.
WEIGHT_TOL = 1e-6
#: The equality check also runs with this hub cap, small enough to sample many users.
CHECK_SMALL_CAP = 10
MIB = 1 << 20


# --------------------------------------------------------------------- options
@dataclass
class Options:
    """Similarity settings shared by mogenet and the baselines (passed to children)."""

    topk: int = 10
    hub_cap: int | None = 300
    seed: int = 0
    num_threads: int = 0

    def to_argv(self) -> list[str]:
        return [
            "--topk", str(self.topk),
            "--hub-cap", "none" if self.hub_cap is None else str(self.hub_cap),
            "--seed", str(self.seed),
            "--num-threads", str(self.num_threads),
        ]  # fmt: skip


# ------------------------------------------------------------------- generator
def power_law_log(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Deduplicated synthetic (user, item) interactions with power-law marginals.

    ``n // 10`` users with lognormal(0, 1) activity and ``n // 50`` items with Zipf
    popularity (:math:`p_i \\propto \\mathrm{rank}^{-1}`, ranks randomly permuted);
    ``n`` independent draws of (user, item), duplicates dropped (≈ 0.9 n remain),
    returned in random order.

    Returns:
        ``(users, items, num_users, num_items)``: int64 arrays of equal length.
    """
    rng = np.random.default_rng(seed)
    num_users, num_items = max(n // 10, 1), max(n // 50, 1)
    popularity = 1.0 / (rng.permutation(num_items) + 1.0)
    activity = rng.lognormal(0.0, 1.0, num_users)
    users = rng.choice(num_users, size=n, p=activity / activity.sum())
    items = rng.choice(num_items, size=n, p=popularity / popularity.sum())
    keys = rng.permutation(np.unique(users.astype(np.int64) * num_items + items))
    return keys // num_items, keys % num_items, num_users, num_items


def make_log(users: np.ndarray, items: np.ndarray):
    """An ``InteractionLog`` with one task ``click`` = 1 on every row (all rows are edges).

    Raw ids are zero-padded strings (``u000042``), so the sorted id maps give node
    ``j`` to generated index ``j``.
    """
    import pandas as pd

    from mogenet.datasets import ITEM, USER, InteractionLog

    def ids(prefix: str, codes: np.ndarray) -> np.ndarray:
        top = int(codes.max()) + 1 if len(codes) else 1
        width = len(str(top - 1))
        vocab = np.array([f"{prefix}{j:0{width}d}" for j in range(top)], dtype=object)
        return vocab[codes]

    frame = pd.DataFrame(
        {USER: ids("u", users), ITEM: ids("i", items), "click": np.ones(len(users), np.int8)}
    )
    return InteractionLog(frame, ("click",))


# ------------------------------------------------------------------ memory
def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ≥ 4.0); False if impossible."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """Peak resident set size of this process since start or the last reset, in MiB."""
    kib = _proc_status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024


def current_rss_mib() -> float:
    kib = _proc_status_kib("VmRSS")
    if kib is None:
        import psutil

        return psutil.Process().memory_info().rss / MIB
    return kib / 1024


def measure(fn: Callable[[], dict]) -> dict:
    """Run ``fn`` with a fresh peak-RSS counter; add seconds and memory to its dict."""
    before = current_rss_mib()
    was_reset = reset_peak_rss()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 4),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_before_mib": round(before, 1),
        "peak_reset": was_reset,  # False: the peak also covers loading the inputs
        **out,
    }


# ------------------------------------------------------- inputs on disk (per size)
def save_size_inputs(work: Path, n: int, seed: int) -> dict:
    """Generate the log of size ``n`` into ``work``; return its description."""
    start = time.perf_counter()
    users, items, num_users, num_items = power_law_log(n, seed)
    seconds = time.perf_counter() - start
    np.save(work / "users.npy", users)
    np.save(work / "items.npy", items)
    info = {
        "n": n,
        "rows": int(len(users)),
        "users": int(len(np.unique(users))),
        "items": int(len(np.unique(items))),
        "user_pool": num_users,
        "item_pool": num_items,
        "generate_seconds": round(seconds, 3),
    }
    (work / "size.json").write_text(json.dumps(info))
    return info


def load_log(work: Path):
    """The ``InteractionLog`` of the generated edges, and the seconds it took to make."""
    start = time.perf_counter()
    log = make_log(np.load(work / "users.npy"), np.load(work / "items.npy"))
    return log, round(time.perf_counter() - start, 3)


def load_bipartite(work: Path) -> tuple[np.ndarray, int, int]:
    """The bipartite ``edge_index`` written by the ``bipartite`` stage, and node counts."""
    meta = json.loads((work / "bipartite.json").read_text())
    return np.load(work / "bipartite.npy"), meta["num_users"], meta["num_items"]


# ---------------------------------------------------------------- mogenet stages
def _preload(*modules: str) -> None:
    """Import ``modules`` now, so that no stage's seconds include an import."""
    import importlib

    for name in modules:
        importlib.import_module(name)


LIBRARY = ("torch", "mogenet.graphs.bipartite", "mogenet.graphs.similarity")
BASELINE_LIBS = ("pandas", "networkx", "networkx.algorithms.bipartite")


def _similarity(edge_index, num_src: int, num_dst: int, opts: Options, hub_cap="default"):
    from mogenet.graphs.similarity import build_similarity

    return build_similarity(
        edge_index,
        num_src,
        num_dst,
        measure="cosine",
        topk=opts.topk,
        hub_cap=opts.hub_cap if hub_cap == "default" else hub_cap,
        seed=opts.seed,
        num_threads=opts.num_threads,
    )


def _bipartite(log):
    from mogenet.datasets import ITEM, USER, IdMap
    from mogenet.graphs.bipartite import build_bipartite

    user_map = IdMap.from_values(log.frame[USER])
    item_map = IdMap.from_values(log.frame[ITEM])
    return build_bipartite(log, user_map, item_map)


def stage_bipartite(work: Path, opts: Options) -> dict:
    """Id maps + ``build_bipartite``; saves the edges for the later stages."""
    _preload(*LIBRARY)
    log, log_seconds = load_log(work)
    box = {}

    def run() -> dict:
        box["bip"] = bip = _bipartite(log)
        return {"edges": bip.num_edges}

    out = {**measure(run), "log_seconds": log_seconds}  # making the log: not counted
    bip = box["bip"]
    np.save(work / "bipartite.npy", bip.edge_index.numpy())
    meta = {"num_users": bip.num_users, "num_items": bip.num_items}
    (work / "bipartite.json").write_text(json.dumps(meta))
    return out


def stage_user_user(work: Path, opts: Options) -> dict:
    """User–user cosine top-k (users → items edges)."""
    _preload(*LIBRARY)
    import torch

    ei, n_u, n_i = load_bipartite(work)
    ei = torch.from_numpy(ei)
    return measure(lambda: {"edges": int(_similarity(ei, n_u, n_i, opts)[0].size(1))})


def stage_item_item(work: Path, opts: Options) -> dict:
    """Item–item cosine top-k (items → users edges)."""
    _preload(*LIBRARY)
    import torch

    ei, n_u, n_i = load_bipartite(work)
    ei = torch.from_numpy(ei).flip(0)
    return measure(lambda: {"edges": int(_similarity(ei, n_i, n_u, opts)[0].size(1))})


#: Spectral coordinates per node in the ``spectral`` stage (``build-graphs --spectral``).
SPECTRAL_DIM = 16


def stage_spectral(work: Path, opts: Options) -> dict:
    """:data:`SPECTRAL_DIM` spectral coordinates of every node (not part of ``total``,
    which builds the three graphs of the issue's targets)."""
    _preload(*LIBRARY, "mogenet.graphs.spectral", "scipy.sparse.linalg")
    from mogenet.graphs.spectral import spectral_embeddings

    ei, n_u, n_i = load_bipartite(work)

    def run() -> dict:
        users, _ = spectral_embeddings(
            ei[0], ei[1], num_users=n_u, num_items=n_i, dim=SPECTRAL_DIM, seed=opts.seed
        )
        return {"dim": int(users.size(1))}

    return measure(run)


def stage_total(work: Path, opts: Options) -> dict:
    """All three graphs in one process, from the in-memory log (the whole build)."""
    _preload(*LIBRARY)
    log, log_seconds = load_log(work)

    def run() -> dict:
        seconds, edges = {}, {}
        t = time.perf_counter()
        bip = _bipartite(log)
        seconds["bipartite"], edges["bipartite"] = time.perf_counter() - t, bip.num_edges
        n_u, n_i = bip.num_users, bip.num_items
        for name, ei, n_src, n_dst in (
            ("user_user", bip.edge_index, n_u, n_i),
            ("item_item", bip.edge_index.flip(0), n_i, n_u),
        ):
            t = time.perf_counter()
            edges[name] = int(_similarity(ei, n_src, n_dst, opts)[0].size(1))
            seconds[name] = time.perf_counter() - t
        return {"edges": edges, "stage_seconds": {k: round(v, 4) for k, v in seconds.items()}}

    return {**measure(run), "log_seconds": log_seconds}  # making the log: not counted


# --------------------------------------------------------------------- baselines
def cap_per_user(frame, hub_cap: int | None, seed: int):
    """At most ``hub_cap`` rows per user: a seeded uniform sample (shuffle, keep the first)."""
    if hub_cap is None:
        return frame
    shuffled = frame.sample(frac=1.0, random_state=seed)
    return shuffled.groupby("user", sort=False).head(hub_cap)


def pandas_item_item(edges: np.ndarray, *, topk: int, hub_cap: int | None, seed: int):
    """Item–item cosine top-k with a pandas self-join on ``user``.

    ``edges`` is the ``[2, E]`` (user, item) bipartite edge index.  As in mogenet:
    degrees are those of the capped graph, weights are computed in float32
    (count / sqrt(deg_a * deg_b)), neighbours are ranked by weight, then smaller
    item index, and the selection is symmetrised as a union.

    Returns:
        ``(edge_index [2, E'], weight [E'] float32)`` sorted by (row 0, row 1).
    """
    import pandas as pd

    frame = cap_per_user(pd.DataFrame({"user": edges[0], "item": edges[1]}), hub_cap, seed)
    degree = frame.groupby("item").size()
    pairs = frame.merge(frame, on="user", suffixes=("_a", "_b"))
    pairs = pairs[pairs["item_a"] != pairs["item_b"]]
    counts = pairs.groupby(["item_a", "item_b"]).size().rename("count").reset_index()
    deg_a = degree.loc[counts["item_a"]].to_numpy(np.float32)
    deg_b = degree.loc[counts["item_b"]].to_numpy(np.float32)
    counts["weight"] = counts["count"].to_numpy(np.float32) / np.sqrt(deg_a * deg_b)
    ranked = counts.sort_values(["item_a", "weight", "item_b"], ascending=[True, False, True])
    top = ranked.groupby("item_a", sort=False).head(topk)[["item_a", "item_b", "weight"]]
    both = pd.concat(
        [top, top.rename(columns={"item_a": "item_b", "item_b": "item_a"})], ignore_index=True
    )
    sym = both.drop_duplicates(["item_a", "item_b"]).sort_values(["item_a", "item_b"])
    index = np.stack([sym["item_a"].to_numpy(np.int64), sym["item_b"].to_numpy(np.int64)])
    return index, sym["weight"].to_numpy(np.float32)


def networkx_item_item(edges: np.ndarray, *, topk: int, hub_cap: int | None, seed: int):
    """Item–item cosine top-k from ``nx.bipartite.weighted_projected_graph``.

    Same cap (:func:`cap_per_user`), ranking and symmetrisation as
    :func:`pandas_item_item`; items are nodes ``0..I-1``, users ``I + u``.
    """
    import networkx as nx
    import pandas as pd

    frame = cap_per_user(pd.DataFrame({"user": edges[0], "item": edges[1]}), hub_cap, seed)
    offset = int(edges[1].max()) + 1 if edges.shape[1] else 0
    graph = nx.Graph()
    items = frame["item"].unique().tolist()
    graph.add_nodes_from(items, bipartite=1)
    users = (frame["user"] + offset).tolist()
    graph.add_edges_from(zip(frame["item"].tolist(), users, strict=True))
    projected = nx.bipartite.weighted_projected_graph(graph, items)  # weight = common users
    selected: dict[tuple[int, int], np.float32] = {}
    for a in projected.nodes:
        cands = []
        for b, data in projected[a].items():
            norms = np.float32(graph.degree[a]) * np.float32(graph.degree[b])
            w = np.float32(data["weight"]) / np.sqrt(norms)
            cands.append((-w, b))
        for neg_w, b in sorted(cands)[:topk]:
            selected[(a, b)] = selected[(b, a)] = -neg_w
    keys = sorted(selected)
    index = np.array(keys, dtype=np.int64).reshape(-1, 2).T
    return index, np.array([selected[k] for k in keys], dtype=np.float32)


def stage_pandas(work: Path, opts: Options) -> dict:
    _preload(*BASELINE_LIBS)
    ei, _, _ = load_bipartite(work)
    kw = dict(topk=opts.topk, hub_cap=opts.hub_cap, seed=opts.seed)
    return measure(lambda: {"edges": int(pandas_item_item(ei, **kw)[0].shape[1])})


def stage_networkx(work: Path, opts: Options) -> dict:
    _preload(*BASELINE_LIBS)
    ei, _, _ = load_bipartite(work)
    kw = dict(topk=opts.topk, hub_cap=opts.hub_cap, seed=opts.seed)
    return measure(lambda: {"edges": int(networkx_item_item(ei, **kw)[0].shape[1])})


def compare(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> dict:
    """Whether two sorted ``(edge_index, weight)`` graphs have the same edges and weights."""
    (ei_a, w_a), (ei_b, w_b) = a, b
    same_edges = ei_a.shape == ei_b.shape and bool(np.array_equal(ei_a, ei_b))
    diff = float(np.max(np.abs(w_a - w_b), initial=0.0)) if same_edges else None
    return {
        "equal": same_edges and diff <= WEIGHT_TOL,
        "edges": [int(ei_a.shape[1]), int(ei_b.shape[1])],
        "max_abs_weight_diff": diff,
    }


def mogenet_capped_edges(edges: np.ndarray, num_users: int, hub_cap: int, seed: int):
    """The (user, item) edges that mogenet's item–item similarity keeps under ``hub_cap``.

    Replays ``build_similarity``'s own sample: ``cap_hubs`` over the destinations
    (users) of the deduplicated item → user edges in (item, user) order.
    """
    from mogenet.graphs.similarity import cap_hubs

    key = np.unique(edges[1] * np.int64(max(num_users, 1)) + edges[0])
    item, user = key // max(num_users, 1), key % max(num_users, 1)
    keep = cap_hubs(user, hub_cap, seed)
    return np.stack([user[keep], item[keep]])


def stage_check(work: Path, opts: Options) -> dict:
    """Item–item graphs of mogenet, pandas and networkx compared edge for edge.

    - uncapped: all three on the same edges;
    - capped, mogenet's sample: the baselines (uncapped) on the edges mogenet keeps
      under the hub cap (:func:`mogenet_capped_edges`) against mogenet with the cap;
    - capped, the baselines' own sample: pandas against networkx (same
      :func:`cap_per_user`), with :data:`CHECK_SMALL_CAP`.
    """
    import torch

    ei, n_u, n_i = load_bipartite(work)
    plain = dict(topk=opts.topk, hub_cap=None, seed=opts.seed)
    flipped = torch.from_numpy(ei).flip(0)
    index, weight = _similarity(flipped, n_i, n_u, opts, hub_cap=None)
    ours = (index.numpy(), weight.numpy())
    out = {
        "mogenet_vs_pandas_uncapped": compare(ours, pandas_item_item(ei, **plain)),
        "mogenet_vs_networkx_uncapped": compare(ours, networkx_item_item(ei, **plain)),
    }
    # the configured cap, and a small one that surely samples some users
    for cap in sorted({c for c in (opts.hub_cap, CHECK_SMALL_CAP) if c is not None}):
        index, weight = _similarity(flipped, n_i, n_u, opts, hub_cap=cap)
        kept = mogenet_capped_edges(ei, n_u, cap, opts.seed)
        out[f"mogenet_vs_pandas_cap{cap}"] = compare(
            (index.numpy(), weight.numpy()), pandas_item_item(kept, **plain)
        )
        out[f"mogenet_vs_pandas_cap{cap}"]["users_over_cap"] = int((np.bincount(ei[0]) > cap).sum())
    # the baselines' own sample (as timed): networkx is slow, so the small cap only
    own = dict(plain, hub_cap=CHECK_SMALL_CAP)
    out[f"pandas_vs_networkx_cap{CHECK_SMALL_CAP}"] = compare(
        pandas_item_item(ei, **own), networkx_item_item(ei, **own)
    )
    return out


STAGES: dict[str, Callable[[Path, Options], dict]] = {
    "bipartite": stage_bipartite,
    "user_user": stage_user_user,
    "item_item": stage_item_item,
    "spectral": stage_spectral,
    "total": stage_total,
    "pandas": stage_pandas,
    "networkx": stage_networkx,
    "check": stage_check,
}


# ---------------------------------------------------------------- orchestration
def run_stage(name: str, work: Path, opts: Options, *, timeout: float, in_process: bool) -> dict:
    """Run a stage in a fresh process of this script (or in this one); never raises.

    A stage that runs past ``timeout`` seconds is killed and reported as
    ``{"timed_out_after_s": timeout}``; one that fails as ``{"error": "..."}``.
    """
    if in_process:
        try:
            return STAGES[name](work, opts)
        except Exception as e:  # noqa: BLE001 — reported in the results, not raised
            return {"error": f"{type(e).__name__}: {e}"}
    result = work / f"{name}.result.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", name]
    cmd += ["--workdir", str(work), "--result", str(result), *opts.to_argv()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timed_out_after_s": timeout}
    if proc.returncode != 0 or not result.exists():
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(result.read_text())


def machine_info() -> dict:
    """CPU, memory, library versions and date of this run."""
    import networkx
    import pandas
    import psutil
    import scipy
    import torch

    cpu_model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, cwd=Path(__file__).parent, timeout=10,
        ).stdout.strip() or None  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "memory_gib": round(psutil.virtual_memory().total / (1 << 30), 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "scipy": scipy.__version__,
        "networkx": networkx.__version__,
        "git_commit": commit,
    }


def speedup(baseline: dict, ours: dict) -> dict:
    """Baseline seconds / mogenet seconds; a lower bound (``>=``) when the baseline timed out."""
    if "seconds" not in ours or ours["seconds"] <= 0:
        return {}
    if "seconds" in baseline:
        return {"speedup": round(baseline["seconds"] / ours["seconds"], 2)}
    if "timed_out_after_s" in baseline:
        return {"speedup_at_least": round(baseline["timed_out_after_s"] / ours["seconds"], 2)}
    return {}


def bench_size(n: int, args: argparse.Namespace, opts: Options, root: Path) -> dict:
    """Every stage and baseline that applies to size ``n``."""
    work = root / f"n{n}"
    work.mkdir()
    info = save_size_inputs(work, n, opts.seed)
    _log(f"n={n:.0e}: {info['rows']} edges generated in {info['generate_seconds']} s")
    kw = dict(timeout=args.timeout, in_process=args.in_process)
    stages = {}
    for name in ("bipartite", "user_user", "item_item", "spectral", "total"):
        stages[name] = run_stage(name, work, opts, **kw)
        _log(f"  {name}: {_brief(stages[name])}")
    bipartite_ok = "seconds" in stages["bipartite"]  # the later stages read its edges
    baselines = {}
    runs = [("pandas", n == args.baseline_size or n <= args.pandas_max_size)]
    runs += [("networkx", n == args.baseline_size or n <= args.nx_max_size)]
    for name, wanted in runs:
        if wanted and bipartite_ok:
            baselines[name] = run_stage(name, work, opts, **kw)
            baselines[name].update(speedup(baselines[name], stages["item_item"]))
            _log(f"  {name}: {_brief(baselines[name])}")
    out = {**info, "stages": stages, "baselines": baselines}
    if n == args.baseline_size and bipartite_ok:
        out["check"] = run_stage("check", work, opts, **kw)
        _log(f"  check: {json.dumps(out['check'])}")
    return out


def evaluate_targets(sizes: dict[str, dict]) -> list[dict]:
    """PASS/FAIL rows of the issue's targets for the sizes that were run."""
    rows = []
    for n, (max_s, max_gb) in TARGETS.items():
        total = sizes.get(str(n), {}).get("stages", {}).get("total")
        if total is None:
            continue
        seconds, peak = total.get("seconds"), total.get("peak_rss_mib")
        gb = None if peak is None else peak * MIB / 1e9
        rows.append(_target(n, "all three graphs, seconds", seconds, f"<= {max_s:g}", max_s, -1))
        rows.append(_target(n, "all three graphs, peak RSS GB", gb, f"<= {max_gb:g}", max_gb, -1))
    n, factor = SPEEDUP_TARGET
    pandas_run = sizes.get(str(n), {}).get("baselines", {}).get("pandas")
    if pandas_run is not None:
        value = pandas_run.get("speedup", pandas_run.get("speedup_at_least"))
        rows.append(_target(n, "item-item speedup vs pandas", value, f">= {factor:g}", factor, 1))
    return rows


def _target(n: int, what: str, value, text: str, bound: float, sign: int) -> dict:
    ok = value is not None and (value - bound) * sign >= 0
    shown = None if value is None else round(value, 3)
    return {"size": n, "check": what, "value": shown, "target": text, "pass": ok}


# ------------------------------------------------------------------- reporting
def _brief(r: dict) -> str:
    if "timed_out_after_s" in r:
        return f"timed out after {r['timed_out_after_s']:g} s"
    if "error" in r:
        return f"error: {r['error']}"
    return f"{r['seconds']:.2f} s, peak {r['peak_rss_mib']:.0f} MiB, edges {r.get('edges')}"


def _seconds(r: dict) -> str:
    if "timed_out_after_s" in r:
        return f"timed out after {r['timed_out_after_s']:g} s"
    if "error" in r:
        return f"error: {r['error']}"
    return f"{r['seconds']:.3f}"


def _cell(r: dict, key: str, fmt: str = "{}") -> str:
    return fmt.format(r[key]) if r.get(key) is not None else "–"


def _edges(r: dict) -> str:
    e = r.get("edges")
    if isinstance(e, dict):
        return " / ".join(f"{v:,}" for v in e.values())
    return "–" if e is None else f"{e:,}"


def to_markdown(report: dict) -> str:
    """The results as Markdown tables."""
    m, p = report["machine"], report["params"]
    lines = [
        "# Graph builders benchmark",
        "",
        f"{m['date']} · {m['cpu_model']} · {m['cpus_usable']} usable CPUs · "
        f"{m['memory_gib']} GiB · torch {m['torch']} · numpy {m['numpy']} · "
        f"pandas {m['pandas']} · networkx {m['networkx']} · commit {m['git_commit']}",
        "",
        f"cosine, topk={p['topk']}, hub_cap={p['hub_cap']}, seed={p['seed']}, "
        f"isolation={p['isolation']}; peak RSS per stage process (MiB); "
        "`total` = the three graphs in one process.",
        "",
        "## mogenet",
        "",
        "| size | edges (log) | users | items | gen s | stage | edges | seconds "
        "| peak RSS MiB | RSS before MiB |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for n, s in report["sizes"].items():
        head = f"| {int(n):.0e} | {s['rows']:,} | {s['users']:,} | {s['items']:,} | "
        head += f"{s['generate_seconds']:.2f} |"
        for name, r in s["stages"].items():
            lines.append(
                f"{head} {name} | {_edges(r)} | {_seconds(r)} | {_cell(r, 'peak_rss_mib')} "
                f"| {_cell(r, 'rss_before_mib')} |"
            )
            head = "| | | | | |"
    lines += [
        "",
        "## Baselines: item–item cosine top-k (same edges and hub cap)",
        "",
        "| size | implementation | seconds | peak RSS MiB | edges | mogenet item–item s "
        "| speedup (baseline / mogenet) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for n, s in report["sizes"].items():
        ours = s["stages"]["item_item"]
        for name, r in s["baselines"].items():
            ratio = _cell(r, "speedup", "{:g}×")
            if "speedup_at_least" in r:
                ratio = f"≥ {r['speedup_at_least']:g}×"
            lines.append(
                f"| {int(n):.0e} | {name} | {_seconds(r)} | {_cell(r, 'peak_rss_mib')} "
                f"| {_edges(r)} | {_seconds(ours)} | {ratio} |"
            )
    for n, s in report["sizes"].items():
        if "check" in s:
            lines += ["", f"## Equality check at {int(n):.0e} (weights within {WEIGHT_TOL:g})", ""]
            lines += [
                "| comparison | equal | edges | max abs weight diff | users over cap |",
                "|---|---|---|---:|---:|",
            ]
            for name, c in s["check"].items():
                if not isinstance(c, dict):  # the check process failed or timed out
                    lines.append(f"| {name} | {c} | | | |")
                    continue
                diff = c["max_abs_weight_diff"]
                lines.append(
                    f"| {name} | {c['equal']} | {c['edges'][0]:,} vs {c['edges'][1]:,} "
                    f"| {'–' if diff is None else f'{diff:.2e}'} | {_cell(c, 'users_over_cap')} |"
                )
    lines += ["", "## Targets", ""]
    if report["targets"]:
        lines += ["| size | check | value | target | result |", "|---:|---|---:|---|---|"]
        for t in report["targets"]:
            value = "–" if t["value"] is None else f"{t['value']:g}"
            result = "PASS" if t["pass"] else "FAIL"
            lines.append(f"| {t['size']:.0e} | {t['check']} | {value} | {t['target']} | {result} |")
    else:
        lines.append("No target size (1e6, 1e7) was run.")
    return "\n".join(lines) + "\n"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ CLI
def _size(text: str) -> int:
    return int(float(text))


def _cap(text: str) -> int | None:
    return None if text.lower() in ("none", "0", "") else int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e6,1e7", help="comma-separated numbers of draws")
    ap.add_argument("--out", type=Path, default=Path("bench/graphs.json"))
    ap.add_argument(
        "--baseline-size",
        type=_size,
        default=100_000,
        help="size of the pandas + networkx baselines and the equality check",
    )
    ap.add_argument(
        "--pandas-max-size",
        type=_size,
        default=1_000_000,
        help="also run the pandas baseline at benchmark sizes up to this",
    )
    ap.add_argument(
        "--nx-max-size",
        type=_size,
        default=100_000,
        help="also run the networkx baseline at benchmark sizes up to this",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds before a stage or baseline process is killed",
    )
    ap.add_argument("--hub-cap", type=_cap, default=300, help="'none' for no cap")
    ap.add_argument("--topk", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-threads", type=int, default=0, help="build_similarity threads")
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="run stages in this process (fast; peak RSS less isolated)",
    )
    # internal: run one stage in a child process
    ap.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark (or, with ``--stage``, one stage as a child); return the report."""
    args = parse_args(argv)
    opts = Options(args.topk, args.hub_cap, args.seed, args.num_threads)
    if args.stage:  # child: run one stage, write its result, exit
        out = STAGES[args.stage](args.workdir, opts)
        args.result.write_text(json.dumps(out))
        return out

    sizes = sorted({_size(s) for s in args.sizes.split(",") if s.strip()} | {args.baseline_size})
    report = {
        "machine": machine_info(),
        "params": {
            **asdict(opts),
            "measure": "cosine",
            "baseline_size": args.baseline_size,
            "timeout_s": args.timeout,
            "isolation": "in-process" if args.in_process else "subprocess per stage",
        },
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench_graphs_") as tmp:
        for n in sizes:
            report["sizes"][str(n)] = bench_size(n, args, opts, Path(tmp))
    report["targets"] = evaluate_targets(report["sizes"])

    from mogenet.io import write_report

    write_report(args.out, report, to_markdown(report))
    return report


if __name__ == "__main__":
    main()
