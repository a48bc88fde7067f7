"""Benchmark the multi-channel neighbour sampler (issue "Multi-channel neighbour sampler").

Samples 2-hop bipartite neighbourhoods of (user, item) pairs on synthetic
power-law graphs with mogenet's :class:`~mogenet.sampling.MultiChannelSampler`,
through the :class:`~mogenet.sampling.NeighborPairLoader` and by direct calls, and
(with ``--pyg``) with PyG's ``LinkNeighborLoader`` on the same graph in the same run.

Usage::

    python scripts/bench_sampler.py                               # 1e6,1e7 edges, CPU
    python scripts/bench_sampler.py --edges 1e5 --out bench/sampler_small.json
    python scripts/bench_sampler.py --device cpu,cuda --pyg       # + GPU and PyG

What is measured, and how:

- **graph**: :func:`power_law_log` of ``scripts/bench_graphs.py`` with ``n`` draws
  (``n/10`` users, lognormal(0, 1) activity; ``n/50`` items, Zipf popularity;
  de-duplicated, ≈ 0.9 n edges), turned into a :class:`~mogenet.graphs.GraphBundle`
  directly: ``('user', 'interacts', 'item')`` sorted by (user, item), its reverse,
  and empty user–user / item–item similarity graphs.  Generation and the sampler's
  construction (CSR) are timed separately and counted nowhere.
- **channel**: the bipartite one only, 2 hops alternating ``[f1, f2]``
  (``Fanouts(bipartite=(f1, f2), user_sim=(), item_sim=())``), target edges removed
  (the pairs are random existing edges, drawn with replacement, seeded).
- **modes**, per (edges, fanout, batch size), ``--batches`` timed batches each:

  - ``loader``: ``NeighborPairLoader(num_workers=W)`` with ``torch.set_num_threads(1)``
    (the recommended CPU setting); one untimed pass over a warm-up batch, then a
    full pass over the timed batches (thread-pool start included);
  - ``direct``: one thread calling ``sampler.sample`` with torch's default threads,
    one untimed warm-up call first;
  - ``cuda_loader`` / ``cuda_direct`` (``--device cuda``): the same on the GPU
    (loader with ``num_workers=0``), timed with ``torch.cuda.synchronize``;
  - ``pyg`` (``--pyg``): ``LinkNeighborLoader`` over a ``HeteroData`` with both edge
    directions, ``num_neighbors=[f1, f2]``, the same pairs and batch sizes, torch's
    default threads, ``num_workers=0`` (it needs pyg-lib or torch-sparse; without
    them the report says so).  PyG does not remove target edges.

  ``edges_per_s`` = sampled edges of both bipartite edge types over the timed
  batches / seconds; ``pairs_per_s`` = pairs / seconds.
- **isolation**: each graph size runs in a fresh process of this script
  (``--child``), killed after ``--timeout`` seconds.

Writes ``--out`` (JSON) and the same results as a Markdown table next to it
(``.md``), both atomically, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_graphs  # noqa: E402 — the same machine record as the graph benchmark
from bench_graphs import power_law_log  # noqa: E402 — the same generator as the graph benchmark

#: CPU target: sampled edges/s of 2-hop [10, 10], batch 4096, on 1e7 edges (loader mode).
CPU_TARGET = {"edges": 10_000_000, "fanout": (10, 10), "batch_size": 4096, "min_edges_per_s": 5e6}
#: The GPU must sample this many times the CPU figure (same config).
GPU_FACTOR = 20.0
INTERACTS = ("user", "interacts", "item")
REV_INTERACTS = ("item", "rev_interacts", "user")


# ------------------------------------------------------------------ the graph
def make_bundle(users: np.ndarray, items: np.ndarray, num_users: int, num_items: int):
    """A :class:`GraphBundle` with the bipartite edges and empty similarity graphs."""
    import torch
    from torch_geometric.data import HeteroData

    from mogenet.datasets import IdMap
    from mogenet.graphs.bundle import ITEM_SIMILAR, USER_SIMILAR, GraphBundle

    keys = np.sort(users.astype(np.int64) * num_items + items)
    edge_index = torch.from_numpy(np.stack([keys // num_items, keys % num_items]))
    data = HeteroData()
    data["user"].num_nodes = num_users
    data["item"].num_nodes = num_items
    data[INTERACTS].edge_index = edge_index
    data[REV_INTERACTS].edge_index = edge_index.flip(0)
    for edge_type in (USER_SIMILAR, ITEM_SIMILAR):
        data[edge_type].edge_index = torch.zeros((2, 0), dtype=torch.long)
        data[edge_type].edge_weight = torch.zeros(0, dtype=torch.float32)
    return GraphBundle(
        data=data,
        user_map=IdMap([str(k) for k in range(num_users)]),
        item_map=IdMap([str(k) for k in range(num_items)]),
        meta={"tasks": ["click"]},
    )


def random_pairs(edge_index, count: int, seed: int):
    """``count`` existing edges drawn uniformly with replacement: ``(user, item)``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    pick = torch.randint(edge_index.size(1), (count,), generator=gen)
    return edge_index[0, pick].contiguous(), edge_index[1, pick].contiguous()


def _examples(user, item):
    import torch

    from mogenet.sampling import Examples

    return Examples(
        user=user,
        item=item,
        labels=torch.ones(user.numel(), 1),
        tasks=("click",),
        group=np.zeros(user.numel(), dtype=np.int64),
    )


def _count(graph) -> tuple[int, int]:
    """(bipartite edges, nodes) of one sampled bipartite subgraph."""
    edges = graph[INTERACTS].edge_index.size(1) + graph[REV_INTERACTS].edge_index.size(1)
    return int(edges), int(graph["user"].num_nodes + graph["item"].num_nodes)


def _rates(seconds: float, batches: int, batch_size: int, edges: int, nodes: int) -> dict:
    return {
        "seconds": round(seconds, 4),
        "batches": batches,
        "edges": edges,
        "edges_per_batch": round(edges / batches, 1),
        "nodes_per_batch": round(nodes / batches, 1),
        "edges_per_s": round(edges / seconds, 1),
        "pairs_per_s": round(batches * batch_size / seconds, 1),
    }


# ---------------------------------------------------------------- mogenet modes
def time_loader(sampler, user, item, batch_size: int, workers: int, sync=None) -> dict:
    """``NeighborPairLoader`` passes: one warm-up batch, then the timed batches."""
    from mogenet.sampling import NeighborPairLoader

    def run(u, i, seed: int) -> tuple[int, int, int]:
        loader = NeighborPairLoader(
            _examples(u, i), sampler, batch_size=batch_size, num_workers=workers, seed=seed
        )
        edges = nodes = count = 0
        for batch in loader:
            e, n = _count(batch.graphs["bipartite"])
            edges, nodes, count = edges + e, nodes + n, count + 1
        if sync is not None:
            sync()
        return edges, nodes, count

    run(user[:batch_size], item[:batch_size], seed=1)  # warm-up: not timed
    start = time.perf_counter()
    edges, nodes, count = run(user[batch_size:], item[batch_size:], seed=0)
    return _rates(time.perf_counter() - start, count, batch_size, edges, nodes)


def time_direct(sampler, user, item, batch_size: int, sync=None) -> dict:
    """``sampler.sample`` called batch after batch in this thread (first call untimed)."""
    import torch

    gen = torch.Generator(device=sampler.device)
    gen.manual_seed(0)
    sampler.sample(user[:batch_size], item[:batch_size], gen)  # warm-up: not timed
    if sync is not None:
        sync()
    edges = nodes = count = 0
    start = time.perf_counter()
    for b in range(batch_size, user.numel(), batch_size):
        graphs = sampler.sample(user[b : b + batch_size], item[b : b + batch_size], gen)
        e, n = _count(graphs["bipartite"])
        edges, nodes, count = edges + e, nodes + n, count + 1
    if sync is not None:
        sync()
    return _rates(time.perf_counter() - start, count, batch_size, edges, nodes)


# ------------------------------------------------------------------- PyG baseline
def pyg_available() -> tuple[bool, str]:
    """Whether PyG's neighbour samplers can run here, and which backend (or why not)."""
    errors = []
    for module in ("pyg_lib", "torch_sparse"):
        try:
            __import__(module)
            return True, module
        except Exception as e:  # noqa: BLE001 — an ImportError or a broken build
            errors.append(f"{module}: {type(e).__name__}: {e}")
    return False, (
        "PyG NeighborLoader/LinkNeighborLoader need pyg-lib or torch-sparse; not installed: "
        + "; ".join(errors)
    )


def time_pyg(edge_index, num_users: int, num_items: int, fanout, user, item, batch_size: int):
    """``LinkNeighborLoader`` on the same graph (both directions) and pairs."""
    import warnings

    import torch
    from torch_geometric.data import HeteroData
    from torch_geometric.loader import LinkNeighborLoader

    data = HeteroData()
    data["user"].num_nodes = num_users
    data["item"].num_nodes = num_items
    data[INTERACTS].edge_index = edge_index
    data[REV_INTERACTS].edge_index = edge_index.flip(0)

    def loader(u, i):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "without pyg-lib is deprecated"
            return LinkNeighborLoader(
                data,
                num_neighbors=list(fanout),
                edge_label_index=(INTERACTS, torch.stack([u, i])),
                batch_size=batch_size,
                shuffle=False,
            )

    for _ in loader(user[:batch_size], item[:batch_size]):  # warm-up: not timed
        pass
    timed = loader(user[batch_size:], item[batch_size:])  # built outside the clock (CSC)
    edges = nodes = count = 0
    start = time.perf_counter()
    for batch in timed:
        e, n = _count(batch)
        edges, nodes, count = edges + e, nodes + n, count + 1
    return _rates(time.perf_counter() - start, count, batch_size, edges, nodes)


# ------------------------------------------------------------------- one size
def _catch(fn, *args, **kwargs) -> dict:
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 — reported in the results, not raised
        return {"error": f"{type(e).__name__}: {e}"}


def bench_size(n: int, params: dict) -> dict:
    """Every mode, fanout and batch size on the graph of ``n`` draws."""
    import torch

    from mogenet.sampling import Fanouts, MultiChannelSampler

    default_threads = torch.get_num_threads()
    start = time.perf_counter()
    users, items, num_users, num_items = power_law_log(n, params["seed"])
    generate_seconds = time.perf_counter() - start
    start = time.perf_counter()
    bundle = make_bundle(users, items, num_users, num_items)
    bundle_seconds = time.perf_counter() - start
    edge_index = bundle.data[INTERACTS].edge_index
    out = {
        "n": n,
        "edges": int(edge_index.size(1)),
        "users": num_users,
        "items": num_items,
        "generate_seconds": round(generate_seconds, 3),
        "bundle_seconds": round(bundle_seconds, 3),
        "torch_default_threads": default_threads,
        "loadavg_start": _loadavg(),
        "runs": [],
        "notes": [],
    }
    devices = ["cpu"] if "cpu" in params["devices"] else []
    if "cuda" in params["devices"]:
        if torch.cuda.is_available():
            devices.append("cuda")
            out["cuda_device"] = torch.cuda.get_device_name()
        else:
            out["notes"].append("cuda: not available on this machine")
    pyg_ok = False
    if params["pyg"]:
        pyg_ok, text = pyg_available()
        if pyg_ok:
            out["pyg_backend"] = text
        else:
            out["notes"].append(text)
    for f_index, fanout in enumerate(params["fanouts"]):
        samplers = {}
        for device in devices:
            start = time.perf_counter()
            samplers[device] = MultiChannelSampler(
                bundle,
                fanouts=Fanouts(bipartite=tuple(fanout), user_sim=(), item_sim=()),
                remove_target_edges=True,
                device=device,
            )
            out.setdefault("sampler_init_seconds", {})[f"{device}:{fanout}"] = round(
                time.perf_counter() - start, 3
            )
        for b_index, batch_size in enumerate(params["batch_sizes"]):
            count = batch_size * (params["batches"] + 1)  # + the warm-up batch
            user, item = random_pairs(edge_index, count, params["seed"] + 1000 * f_index + b_index)
            config = {"fanout": list(fanout), "batch_size": batch_size}
            modes = {}
            if "cpu" in samplers:
                torch.set_num_threads(default_threads)
                modes["direct"] = _catch(time_direct, samplers["cpu"], user, item, batch_size)
                modes["direct"]["threads"] = default_threads
                torch.set_num_threads(1)
                modes["loader"] = _catch(
                    time_loader, samplers["cpu"], user, item, batch_size, params["workers"]
                )
                modes["loader"].update(threads=1, workers=params["workers"])
                torch.set_num_threads(default_threads)
            if "cuda" in samplers:
                sync = torch.cuda.synchronize
                u, i = user.cuda(), item.cuda()
                modes["cuda_direct"] = _catch(
                    time_direct, samplers["cuda"], u, i, batch_size, sync=sync
                )
                modes["cuda_loader"] = _catch(
                    time_loader, samplers["cuda"], u, i, batch_size, 0, sync=sync
                )
            if pyg_ok:
                modes["pyg"] = _catch(
                    time_pyg, edge_index, num_users, num_items, fanout, user, item, batch_size
                )
                modes["pyg"]["threads"] = default_threads
            out["runs"].append({**config, "modes": modes})
            _log(f"  {n:.0e} {config}: " + ", ".join(f"{k} {_brief(v)}" for k, v in modes.items()))
    out["loadavg_end"] = _loadavg()
    return out


def _loadavg() -> list[float] | None:
    """1/5/15-minute load averages (other work on the machine skews the timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ---------------------------------------------------------------- orchestration
def run_child(n: int, params: dict, work: Path, *, timeout: float, in_process: bool) -> dict:
    """Benchmark size ``n`` in a fresh process of this script (or here); never raises."""
    if in_process:
        return _catch(bench_size, n, params)
    result = work / f"n{n}.result.json"
    params_file = work / "params.json"
    params_file.write_text(json.dumps(params))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n)]
    cmd += ["--params", str(params_file), "--result", str(result)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"n": n, "timed_out_after_s": timeout}
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0 or not result.exists():
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"n": n, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(result.read_text())


def machine_info() -> dict:
    """The graph benchmark's machine record, plus PyG's version and CUDA availability."""
    import torch
    import torch_geometric

    return {
        **bench_graphs.machine_info(),
        "torch_geometric": torch_geometric.__version__,
        "cuda_available": torch.cuda.is_available(),
    }


def _find(sizes: dict, edges: int, fanout, batch_size: int) -> dict:
    for run in sizes.get(str(edges), {}).get("runs", []):
        if tuple(run["fanout"]) == tuple(fanout) and run["batch_size"] == batch_size:
            return run["modes"]
    return {}


def evaluate_targets(sizes: dict, params: dict) -> list[dict]:
    """PASS/FAIL (or N/A) rows of the issue's targets."""
    t = CPU_TARGET
    what = (
        f"{t['edges']:.0e}-draw graph, [{t['fanout'][0]},{t['fanout'][1]}], batch {t['batch_size']}"
    )
    modes = _find(sizes, t["edges"], t["fanout"], t["batch_size"])
    gpu_row = {"check": f"GPU sampled edges/s ({what})", "target": f">= {GPU_FACTOR:g}x CPU"}
    if not modes:
        cpu_row = {
            "check": f"CPU sampled edges/s ({what})",
            "target": f">= {t['min_edges_per_s']:.0e}",
        }
        return [
            {**row, "value": None, "result": "N/A (config not run)"} for row in (cpu_row, gpu_row)
        ]
    cpu, cpu_mode = max(
        ((modes[m].get("edges_per_s", 0), m) for m in ("loader", "direct") if m in modes),
        default=(0, None),
    )
    rows = [
        {
            "check": f"CPU sampled edges/s, best mode = {cpu_mode} ({what})",
            "value": cpu or None,
            "target": f">= {t['min_edges_per_s']:.0e}",
            "result": "PASS" if cpu >= t["min_edges_per_s"] else "FAIL",
        }
    ]
    gpu_modes = ("cuda_direct", "cuda_loader")
    gpu = max((modes[m].get("edges_per_s", 0) for m in gpu_modes if m in modes), default=0)
    if not gpu:
        reason = "cuda not requested" if "cuda" not in params["devices"] else "no CUDA"
        rows.append({**gpu_row, "value": None, "result": f"N/A ({reason})"})
    else:
        ratio = gpu / cpu if cpu else None
        ok = ratio is not None and ratio >= GPU_FACTOR
        rows.append(
            {
                **gpu_row,
                "value": gpu,
                "ratio": ratio and round(ratio, 2),
                "result": "PASS" if ok else "FAIL",
            }
        )
    return rows


# ------------------------------------------------------------------- reporting
def _brief(r: dict) -> str:
    if "error" in r:
        return f"error: {r['error']}"
    return f"{r['edges_per_s']:.3g} edges/s"


def _rate(r: dict | None, key: str) -> str:
    if r is None:
        return "–"
    if "error" in r:
        return "error"
    return f"{r[key]:.3g}"


MODE_LABELS = {
    "loader": "loader ({workers} workers, 1 thread)",
    "direct": "direct (1 caller, default threads)",
    "cuda_loader": "CUDA loader",
    "cuda_direct": "CUDA direct",
    "pyg": "PyG LinkNeighborLoader",
}


def to_markdown(report: dict) -> str:
    """The results as Markdown tables."""
    m, p = report["machine"], report["params"]
    lines = [
        "# Neighbour sampler benchmark",
        "",
        f"{m['date']} · {m['cpu_model']} · {m['cpus_usable']} usable CPUs · "
        f"torch {m['torch']} ({m['torch_threads']} threads) · PyG {m['torch_geometric']} · "
        f"commit {m['git_commit']}",
        "",
        f"bipartite channel only, 2 hops, target edges removed; {p['batches']} timed batches "
        f"after a warm-up; loader: {p['workers']} worker threads with "
        "`torch.set_num_threads(1)`; direct: one thread calling `sampler.sample` with "
        "torch's default threads. Edges = both bipartite edge types.",
        "",
    ]
    modes = [
        k
        for k in MODE_LABELS
        if any(k in r["modes"] for s in report["sizes"].values() for r in s.get("runs", []))
    ]
    header = "| edges | fanout | batch | edges/batch |"
    labels = {k: v.format(workers=p["workers"]) for k, v in MODE_LABELS.items()}
    header += "".join(f" {labels[k]} edges/s | pairs/s |" for k in modes)
    lines += [header, "|" + "---:|" * (4 + 2 * len(modes))]
    for n, s in report["sizes"].items():
        if "runs" not in s:
            reason = s.get("error") or f"timed out after {s.get('timed_out_after_s')} s"
            lines.append(f"| {int(n):.0e} draws | {reason} |")
            continue
        for r in s["runs"]:
            per_batch = next(
                (v["edges_per_batch"] for v in r["modes"].values() if "edges_per_batch" in v), None
            )
            row = f"| {s['edges']:,} | {r['fanout']} | {r['batch_size']} | "
            row += "–" if per_batch is None else f"{per_batch:,.0f}"
            row += " |"
            for k in modes:
                mode = r["modes"].get(k)
                row += f" {_rate(mode, 'edges_per_s')} | {_rate(mode, 'pairs_per_s')} |"
            lines.append(row)
    notes = sorted({note for s in report["sizes"].values() for note in s.get("notes", [])})
    extra = [
        f"{int(n):.0e} draws: load average (1/5/15 min) {s['loadavg_start']} at start, "
        f"{s['loadavg_end']} at end"
        for n, s in report["sizes"].items()
        if s.get("loadavg_start") is not None
    ]
    extra += [
        f"{int(n):.0e} draws: {s['cuda_device']}"
        for n, s in report["sizes"].items()
        if "cuda_device" in s
    ]
    if notes or extra:
        lines += ["", "Notes:", ""] + [f"- {x}" for x in notes + extra]
    lines += ["", "## Targets", "", "| check | value | target | result |", "|---|---:|---|---|"]
    for t in report["targets"]:
        value = "–" if t["value"] is None else f"{t['value']:.3g}"
        if t.get("ratio") is not None:
            value += f" ({t['ratio']:g}x CPU)"
        lines.append(f"| {t['check']} | {value} | {t['target']} | {t['result']} |")
    return "\n".join(lines) + "\n"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ CLI
def _size(text: str) -> int:
    return int(float(text))


def _fanout(text: str) -> tuple[int, int]:
    parts = tuple(int(x) for x in text.split(","))
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"a fanout is two hops 'f1,f2', got {text!r}")
    return parts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edges", default="1e6,1e7", help="comma-separated numbers of draws")
    ap.add_argument("--batch-sizes", default="1024,4096,8192", help="comma-separated")
    ap.add_argument(
        "--fanouts",
        type=_fanout,
        nargs="+",
        default=[(10, 10), (25, 10)],
        help="2-hop fanouts, e.g. 10,10 25,10",
    )
    ap.add_argument("--workers", type=int, default=2, help="NeighborPairLoader worker threads")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cpu,cuda")
    ap.add_argument("--batches", type=int, default=10, help="timed batches per config")
    ap.add_argument("--out", type=Path, default=Path("bench/sampler.json"))
    ap.add_argument("--pyg", action="store_true", help="also time PyG's LinkNeighborLoader")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per graph size")
    ap.add_argument(
        "--in-process", action="store_true", help="run every size in this process (for tests)"
    )
    # internal: one size in a child process
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--params", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark (or, with ``--child``, one size); return the report."""
    args = parse_args(argv)
    if args.child is not None:
        out = bench_size(args.child, json.loads(args.params.read_text()))
        args.result.write_text(json.dumps(out))
        return out

    devices = [d.strip() for d in args.device.split(",") if d.strip()]
    if not set(devices) <= {"cpu", "cuda"}:
        raise SystemExit(f"--device: cpu, cuda or cpu,cuda, got {args.device!r}")
    params = {
        "edges": sorted({_size(s) for s in args.edges.split(",") if s.strip()}),
        "batch_sizes": [int(b) for b in args.batch_sizes.split(",") if b.strip()],
        "fanouts": [list(f) for f in args.fanouts],
        "workers": args.workers,
        "devices": devices,
        "batches": args.batches,
        "pyg": args.pyg,
        "seed": args.seed,
        "timeout_s": args.timeout,
        "isolation": "in-process" if args.in_process else "subprocess per size",
    }
    report = {"machine": machine_info(), "params": params, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="bench_sampler_") as tmp:
        for n in params["edges"]:
            _log(f"n={n:.0e} draws")
            report["sizes"][str(n)] = run_child(
                n, params, Path(tmp), timeout=args.timeout, in_process=args.in_process
            )
    report["targets"] = evaluate_targets(report["sizes"], params)

    from mogenet.io import write_report

    write_report(args.out, report, to_markdown(report))
    return report


if __name__ == "__main__":
    main()
