"""Benchmark the cost of subnormal weights on CPU, and what ``train.flush_denormal`` saves.

Usage::

    python scripts/bench_denormal.py                    # batch 4096, 20 steps, 5 repeats
    python scripts/bench_denormal.py --quick --out /tmp/d.json   # smoke test

What is measured, and how: one MGNN-sized step, a ``Linear(64, 64)`` message
followed by a ``GRUCell(64, 64)`` node update (the shapes of
:class:`mogenet.nn.mgnn.MGNNLayer` at ``graph_channels=64``), forward and backward
on ``--batch`` random node states, ``--steps`` times, on one thread.  Three cases
side by side in one process, interleaved over ``--repeats`` rounds (best round
reported):

- ``normal``: the weights as initialised;
- ``subnormal``: the same weights scaled by 1e-39, into the subnormal range, which
  is where weight decay leaves weights that get almost no gradient (80k of
  MoGENet's parameters after 13 epochs with the paper's losses on the 480k
  collaborative log);
- ``subnormal, flushed``: the same, with :func:`torch.set_flush_denormal` on, as the
  trainer sets it on CPU (``TrainConfig.flush_denormal``).

Writes ``--out`` (JSON) and the same results as Markdown next to it (``.md``), and
prints the Markdown.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from mogenet.io import write_report

CASES = ("normal", "subnormal", "subnormal, flushed")


def make_step(scale: float, batch: int, channels: int = 64, seed: int = 0):
    """A closure running one forward + backward of ``Linear`` → ``GRUCell``."""
    torch.manual_seed(seed)
    lin, cell = nn.Linear(channels, channels), nn.GRUCell(channels, channels)
    with torch.no_grad():
        for p in (*lin.parameters(), *cell.parameters()):
            p.mul_(scale)
    h = torch.randn(batch, channels)

    def step() -> None:
        out = cell(lin(h), h)
        out.square().sum().backward()

    return step


def time_case(case: str, args) -> float:
    """Seconds for ``args.steps`` steps of ``case``."""
    supported = torch.set_flush_denormal(case.endswith("flushed"))
    if case.endswith("flushed") and not supported:
        raise SystemExit("this CPU cannot flush denormals (needs x86 with SSE3)")
    step = make_step(1.0 if case == "normal" else 1e-39, args.batch)
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    elapsed = time.perf_counter() - start
    torch.set_flush_denormal(False)
    return elapsed


def markdown(result: dict) -> str:
    a = result["args"]
    lines = [
        "# Subnormal weights on CPU",
        "",
        f"`Linear(64, 64)` → `GRUCell(64, 64)`, forward + backward, batch {a['batch']}, "
        f"{a['steps']} steps, one thread; best of {a['repeats']} interleaved rounds.",
        "",
        "| case | seconds | × normal |",
        "|---|---:|---:|",
    ]
    for case in CASES:
        s = result["seconds"][case]
        lines.append(f"| {case} | {s:.3f} | {s / result['seconds']['normal']:.1f} |")
    lines += ["", f"Flushing makes the subnormal case {result['speedup']:.0f}x faster."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="batch 256, 2 steps, 2 repeats")
    p.add_argument("--out", default="bench/denormal.json")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.steps, args.repeats = 256, 2, 2
    torch.set_num_threads(1)
    rounds = {case: [] for case in CASES}
    for _ in range(args.repeats):
        for case in CASES:
            rounds[case].append(time_case(case, args))
    seconds = {case: min(times) for case, times in rounds.items()}
    result = {
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "seconds": seconds,
        "rounds": rounds,
        "slowdown": seconds["subnormal"] / seconds["normal"],
        "speedup": seconds["subnormal"] / seconds["subnormal, flushed"],
    }
    write_report(args.out, result, markdown(result))
    return result


if __name__ == "__main__":
    main()
