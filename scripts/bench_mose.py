r"""MoSE vs MMoE on MoSE's synthetic sequential data (Qin et al., KDD'20, §5.1).

Data (Table 1): every sample belongs to one of ``M`` modes with parameters
:math:`w^{(m)}_{o}, v^{(m)}_{1}, v^{(m)}_{2}, b^{(m)}_{2} \sim \mathcal{N}(0, I_D)`,
and at times :math:`t = t_0 + 0.2\,i` (``i = 0 … T-1``)

.. math::
    \mathrm{in}(t)_d = \sum_{o=1}^{O} \sin(w^{(m)}_{o,d}\, t + \epsilon), \quad
    \mathrm{out}_1(t) = \sum_d \sin(\mathrm{in}(t)_d\, v^{(m)}_{1d} + \epsilon), \quad
    \mathrm{out}_2(t) = \sin\Big(\sum_d \frac{\mathrm{in}(t)_d\, v^{(m)}_{2d}}{D}
        + b^{(m)}_{2d} + \epsilon\Big)

with fresh phase noise :math:`\epsilon \sim \mathcal{N}(0, \sigma^2)` in every
sine.  The paper fixes :math:`t = 0.2\,i` for every sample; here each sample gets a
random start :math:`t_0 \sim U(0, 50)`, otherwise all samples of a mode are one
curve up to noise.  The paper uses ``T = 500``; the default here is ``T = 100`` so
that the run fits in a few minutes on a 2-core CPU (``--steps`` changes it).

Task: regression of both targets on the last 7 steps, MSE (loss and metric; equal
task weights); 80/10/10 split; Adam; early stopping on the mean validation MSE;
test MSE of the best epoch.

- **MoSE**: :class:`mogenet.nn.heads.mose.SequentialExperts` — the MoSE network
  (LSTM shared bottom 16 units, 10 LSTM experts of 8 units, per-task gates on the
  whole sequence, LSTM towers of 8 units: the structure the paper selected for
  this data), many-to-many and causal: the output at step ``t`` predicts
  :math:`\mathrm{out}(t)` from :math:`\mathrm{in}(\le t)`.
- **MMoE**: :class:`mogenet.nn.heads.MMoE` on the flattened input sequence
  ``[T · D]`` (as the paper feeds non-sequential models), its towers ending in 7
  outputs, one per target step (the paper: "non-sequential models output a
  7-dimension vector for each task").
- **mean**: the training mean of each target (the scale of the MSE).

    python scripts/bench_mose.py --seeds 0,1,2 --out bench/mose.json
    python scripts/bench_mose.py --seeds 0,1,2 --steps 500 --jobs 2 \
        --out bench/mose_t500.json                            # the paper's length
    python scripts/bench_mose.py --quick --out /tmp/mose.json   # smoke test

Writes JSON and a Markdown table (``.md`` beside the JSON).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import MLP

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_collab import map_jobs  # noqa: E402

from mogenet.io import write_report  # noqa: E402
from mogenet.nn.heads import MMoE  # noqa: E402
from mogenet.nn.heads.mose import SequentialExperts  # noqa: E402

TASKS = ("target1", "target2")


@dataclass
class Data:
    x: Tensor  # [N, T, D]
    y: Tensor  # [N, T, 2]


def generate(args: argparse.Namespace, seed: int) -> Data:
    """The sinusoid mixture of Table 1 (module docstring)."""
    rng = np.random.default_rng(seed)
    M, D, O, N, T, s = args.modes, args.dims, args.waves, args.samples, args.steps, args.noise
    w = rng.normal(size=(M, O, D))
    v1, v2, b2 = rng.normal(size=(M, D)), rng.normal(size=(M, D)), rng.normal(size=(M, D))
    mode = rng.integers(M, size=N)
    t = rng.uniform(0, 50, size=(N, 1)) + 0.2 * np.arange(T)  # [N, T]
    phase = w[mode][:, None] * t[..., None, None]  # [N, T, O, D]
    x = np.sin(phase + s * rng.normal(size=phase.shape)).sum(2)  # [N, T, D]
    y1 = np.sin(x * v1[mode][:, None] + s * rng.normal(size=x.shape)).sum(-1)  # [N, T]
    inner = x * v2[mode][:, None] / D + b2[mode][:, None] + s * rng.normal(size=x.shape)
    y2 = np.sin(inner.sum(-1))  # [N, T]
    return Data(
        torch.tensor(x, dtype=torch.float32),
        torch.tensor(np.stack([y1, y2], -1), dtype=torch.float32),
    )


class MoSERegressor(nn.Module):
    """The MoSE network read out on the last ``horizon`` steps."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.horizon = args.horizon
        self.net = SequentialExperts(
            in_channels=args.dims,
            max_length=args.steps,
            tasks=TASKS,
            num_experts=args.experts,
            bottom_channels=(16,),
            expert_channels=(8,),
            tower_channels=(8,),
        )

    def forward(self, x: Tensor) -> Tensor:
        lengths = torch.full((x.size(0),), x.size(1), dtype=torch.long)
        out, _ = self.net(x, lengths)
        return torch.stack([out[t][:, -self.horizon :] for t in TASKS], -1)  # [B, H, 2]


class MMoERegressor(nn.Module):
    """MMoE on the flattened sequence; each tower ends in ``horizon`` outputs."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.horizon = args.horizon
        self.head = MMoE(
            in_channels=args.steps * args.dims,
            tasks=TASKS,
            num_experts=args.experts,
            expert_channels=(64, 32),
            tower_channels=(16,),
        )
        # the same experts and gates; a tower per task with `horizon` outputs, not 1
        self.head.towers = nn.ModuleDict(
            {t: MLP([32, 16, args.horizon], plain_last=True) for t in TASKS}
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.head(x.flatten(1))
        return torch.stack([out.logits[t] for t in TASKS], -1)  # [B, H, 2]


MODELS = {"mose": MoSERegressor, "mmoe": MMoERegressor}


def mse(model: nn.Module, x: Tensor, y: Tensor, batch: int = 256) -> np.ndarray:
    """Per-task MSE on the last steps, ``[2]``."""
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])
    return ((pred - y) ** 2).mean(dim=(0, 1)).numpy()


def fit(name: str, data: Data, split: dict, args: argparse.Namespace, seed: int) -> dict:
    torch.manual_seed(seed)
    model = MODELS[name](args)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    H = args.horizon
    x = {k: data.x[idx] for k, idx in split.items()}
    y = {k: data.y[idx][:, -H:] for k, idx in split.items()}  # [n, H, 2]
    gen = torch.Generator().manual_seed(seed)
    best, best_state, stale, epochs = np.inf, None, 0, 0
    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(x["train"]), generator=gen).split(args.batch_size):
            loss = ((model(x["train"][idx]) - y["train"][idx]) ** 2).mean(dim=(0, 1)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        epochs += 1
        valid = float(mse(model, x["valid"], y["valid"]).mean())
        if valid < best:
            best, best_state, stale = valid, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if stale >= args.patience:
                break
    model.load_state_dict(best_state)
    test = mse(model, x["test"], y["test"])
    return {
        "test_mse": dict(zip(TASKS, map(float, test), strict=True)),
        "valid_mse": best,
        "epochs": epochs,
        "seconds": time.perf_counter() - start,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def run_seed(seed: int, args: argparse.Namespace) -> dict:
    data = generate(args, seed)
    order = torch.randperm(args.samples, generator=torch.Generator().manual_seed(seed))
    n_train, n_valid = int(0.8 * args.samples), int(0.1 * args.samples)
    split = {
        "train": order[:n_train],
        "valid": order[n_train : n_train + n_valid],
        "test": order[n_train + n_valid :],
    }
    out = {}
    for name in MODELS:
        out[name] = fit(name, data, split, args, seed)
        print(
            f"seed {seed} {name}: {out[name]['test_mse']} ({out[name]['seconds']:.0f} s, "
            f"{out[name]['epochs']} epochs)"
        )
    mean = data.y[split["train"]][:, -args.horizon :].mean(dim=(0, 1))  # [2]
    test = data.y[split["test"]][:, -args.horizon :]
    out["mean"] = {
        "test_mse": dict(zip(TASKS, map(float, ((test - mean) ** 2).mean(dim=(0, 1))), strict=True))
    }
    return out


def summarise(per_seed: list[dict]) -> dict:
    scorers = list(per_seed[0])
    values = {s: {t: [r[s]["test_mse"][t] for r in per_seed] for t in TASKS} for s in scorers}
    return {
        "mean_mse": {s: {t: float(np.mean(v[t])) for t in TASKS} for s, v in values.items()},
        "std_mse": {s: {t: float(np.std(v[t])) for t in TASKS} for s, v in values.items()},
        "relative_to_mmoe": {
            t: float(np.mean(values["mose"][t]) / np.mean(values["mmoe"][t]) - 1) for t in TASKS
        },
        "seconds": {m: float(np.mean([r[m]["seconds"] for r in per_seed])) for m in MODELS},
    }


def markdown(summary: dict, args: argparse.Namespace) -> str:
    lines = [
        "# MoSE vs MMoE on MoSE's synthetic sequential data (§5.1)",
        "",
        f"{len(args.seeds)} seeds ({', '.join(map(str, args.seeds))}); {args.samples} samples, "
        f"T = {args.steps} steps, D = {args.dims}, M = {args.modes} modes, O = {args.waves}, "
        f"phase noise σ = {args.noise}; MSE on the last {args.horizon} steps, test set "
        f"(10 %), mean ± std over seeds; ≤ {args.epochs} epochs, patience {args.patience}.",
        "",
        "| model | MSE target 1 | MSE target 2 | train s |",
        "|---|---:|---:|---:|",
    ]
    for s, row in summary["mean_mse"].items():
        cells = [f"{row[t]:.4f} ± {summary['std_mse'][s][t]:.4f}" for t in TASKS]
        secs = f"{summary['seconds'][s]:.0f}" if s in summary["seconds"] else "–"
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {secs} |")
    rel = summary["relative_to_mmoe"]
    lines.append("| MoSE vs MMoE | " + " | ".join(f"{100 * rel[t]:+.1f} %" for t in TASKS) + " | |")
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1, 2])
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--dims", type=int, default=10)
    p.add_argument("--modes", type=int, default=10)
    p.add_argument("--waves", type=int, default=2)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--horizon", type=int, default=7)
    p.add_argument("--experts", type=int, default=10)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--patience", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="seeds run in parallel (processes of one thread each; --threads is then unused)",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes, one seed (smoke test)")
    p.add_argument("--out", default="bench/mose.json")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.samples, args.steps, args.epochs = [0], 100, 12, 2
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    per_seed = map_jobs(args.jobs, run_seed, [(seed, args) for seed in args.seeds])
    summary = summarise(per_seed)
    report = {"config": vars(args), "per_seed": per_seed, "summary": summary}
    write_report(args.out, report, markdown(summary, args))
    return summary


if __name__ == "__main__":
    main()
