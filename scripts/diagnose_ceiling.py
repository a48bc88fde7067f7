r"""Diagnostic: the Bayes ceiling of a synthetic log (how much of the oracle's lift a
model could reach, and from which part of the log).

Usage::

    python scripts/diagnose_ceiling.py --seeds 1,2,3,4 --users 4000 --items 1000 \
        --interactions 240000 --latent-noise 0.3 --affinity-weight 2.0 \
        --compare bench/collab_tuned_240.json --out bench/ceiling_240.json

The data options are those of ``scripts/bench_collab.py``: the same options and
seeds give the same logs and the same split by time (written under ``--work``).

The oracle scores a test pair with its true probabilities, which rest on the user's
own latent vector and propensities; no model can know them.  This scorer is told
everything else, which is more than any model knows: every item's parameters, the
community centroids and shares, and the generator's equations and coefficients
(``mogenet.datasets.synthetic``).  It infers each user's parameters
:math:`\theta_u = (\mathbf{x}_u, b_u, b^t_u)` from that user's *training* rows alone,
by Bayes' rule over the user's community :math:`k`:

.. math::
    p(k, \theta_u \mid D_u) \propto \pi_k \prod_{r \in D_u} P(i_r \mid k)\,
        P(\mathbf{y}_r \mid \theta_u)\; \mathcal{N}(\theta_u; \mathbf{m}_{k,u},
        \Lambda^{-1})

- *exposure*: :math:`P(i \mid k) = m\, w_i [g(i) = k] / W_k + (1 - m)\, w_i / W`,
  the generator's draw of an impression (its redraw of repeated pairs is ignored);
- *labels*: the click of every row and, on clicked rows, every conditional task,
  each logistic-linear in :math:`\theta_u`;
- *prior*: :math:`\mathbf{x}_u \sim \mathcal{N}(\boldsymbol{\mu}_k, \tau^2 I / d)`,
  :math:`b_u \sim \mathcal{N}(\text{activity part}, \sigma_u^2)`,
  :math:`b^t_u \sim \mathcal{N}(0, s_t^2)`.

For every user and community: the MAP :math:`\theta` by Newton's method (the log
posterior is concave), and the evidence by Laplace's approximation.  The community
weights are :math:`\propto \pi_k \cdot \text{exposure} \cdot \text{evidence}`, and a
test pair scores :math:`\sum_k w_k\, P_t(\theta_k)`, the true probabilities at each
community's MAP (a plug-in within a community, not the full predictive).

``ceiling, labels only`` drops the exposure term: what the labels identify.  The
gap between the two rows is what a user's impressions (which items the user was
shown, whatever the labels) tell about the user.

Prints and writes (``--out``: JSON and ``.md``) test GAUC per task of the oracle,
both ceilings, popularity and, with ``--compare``, the models of a
``bench_collab.py`` / ``tune_collab.py`` JSON on the same seeds (their oracle rows
must match, which checks that the logs are the same); each scorer's share of the
oracle's lift over 0.5; and how often the MAP community is the user's own.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_collab import _gaucs, add_data_args, prepare, synthetic_config  # noqa: E402

from mogenet.datasets.log import ITEM, USER  # noqa: E402
from mogenet.datasets.readers import read_log  # noqa: E402
from mogenet.datasets.synthetic import (  # noqa: E402
    SyntheticData,
    generate,
    task_specs,
    true_probabilities,
)
from mogenet.errors import InputError  # noqa: E402
from mogenet.io import write_report  # noqa: E402
from mogenet.metrics import evaluate_log  # noqa: E402

CEILING = "ceiling"
LABELS_ONLY = "ceiling, labels only"
#: Generator options whose values must agree with a ``--compare`` file's.
DATA_OPTIONS = (
    "preset",
    "users",
    "items",
    "interactions",
    "latent_noise",
    "affinity_weight",
    "communities",
    "item_churn",
)


@dataclass
class Rows:
    """One logistic term per row: ``label ~ Bernoulli(sigmoid(x · θ_user + offset))``."""

    x: Tensor  # [N, D]
    offset: Tensor  # [N]
    label: Tensor  # [N]
    user: Tensor  # [N] row of data.users


def label_rows(data: SyntheticData, users: np.ndarray, items: np.ndarray, frame) -> Rows:
    r"""The logistic terms of a log's labels in :math:`\theta = (\mathbf{x}, b, b^{t_1},
    …)`: the root task on every row, each conditional task on the root's positives."""
    cfg, lat = data.config, data.latent
    specs = task_specs(cfg.tasks)
    d, root = lat.centroids.shape[1], cfg.tasks[0]
    dim = d + 1 + len(specs)
    y = torch.from_numpy(lat.item_latent[items])  # [n, d]
    x = torch.zeros(len(users), dim, dtype=torch.float64)
    x[:, :d] = cfg.affinity_weight * y
    x[:, d] = 1.0
    parts = [(x, data.intercepts[root] + lat.item_bias[items], frame[root], users)]
    hit = frame[root].to_numpy() == 1
    for j, (t, s) in enumerate(specs.items()):
        xt = torch.zeros(int(hit.sum()), dim, dtype=torch.float64)
        xt[:, :d] = s.affinity * cfg.affinity_weight * y[hit]
        xt[:, d + 1 + j] = 1.0
        off = (
            data.intercepts[t]
            - s.price * lat.price_sensitivity[users[hit]] * lat.price_z[items[hit]]
        )
        if s.parent is not None:
            off = off + s.boost * frame[s.parent].to_numpy()[hit]
        parts.append((xt, off, frame[t][hit], users[hit]))
    return Rows(
        x=torch.cat([p[0] for p in parts]),
        offset=torch.cat([torch.as_tensor(np.asarray(p[1], dtype=np.float64)) for p in parts]),
        label=torch.cat([torch.as_tensor(np.asarray(p[2], dtype=np.float64)) for p in parts]),
        user=torch.cat([torch.as_tensor(np.asarray(p[3], dtype=np.int64)) for p in parts]),
    )


def fit_map(
    rows: Rows,
    prior_mean: Tensor,
    precision: Tensor,
    *,
    max_rows: int = 1 << 17,
    iterations: int = 100,
    tol: float = 1e-10,
) -> tuple[Tensor, Tensor]:
    r"""MAP :math:`\theta` and Laplace log evidence of every (hypothesis, user).

    ``prior_mean`` is ``[K, U, D]`` (one Gaussian prior per hypothesis ``k``, e.g. a
    community, and user), ``precision`` the ``[D]`` diagonal of :math:`\Lambda`.
    Damped Newton on the concave log posterior; users are processed in chunks of
    similar row counts, padded to at most ``max_rows`` rows per chunk.  Returns
    ``theta [K, U, D]`` and

    .. math::
        \log Z \approx \log P(\mathbf{y} \mid \theta^*)
            - \tfrac12 (\theta^* - \mathbf{m})^\top \Lambda (\theta^* - \mathbf{m})
            + \tfrac12 \log\det\Lambda - \tfrac12 \log\det A,

    ``[K, U]``, with :math:`A = \Lambda + \sum_r \sigma'(\eta_r)\, x_r x_r^\top`.
    A user without rows keeps the prior mean and a log evidence of 0.
    """
    k, num_users, dim = prior_mean.shape
    theta = prior_mean.clone()
    log_z = torch.zeros(k, num_users, dtype=torch.float64)
    order = torch.argsort(rows.user, stable=True)
    x, off, y, user = rows.x[order], rows.offset[order], rows.label[order], rows.user[order]
    counts = torch.bincount(user, minlength=num_users)
    start = torch.cumsum(counts, 0) - counts
    by_count = torch.argsort(counts, stable=True)
    lo = 0
    while lo < num_users:  # users by ascending count: a chunk's last is its widest
        hi = lo + 1
        while hi < num_users and (hi - lo + 1) * max(int(counts[by_count[hi]]), 1) <= max_rows:
            hi += 1
        users = by_count[lo:hi]
        width = int(counts[by_count[hi - 1]])
        if width > 0:
            idx = start[users, None] + torch.arange(width)  # [B, R]
            mask = torch.arange(width) < counts[users, None]
            idx = torch.where(mask, idx, 0)
            m = prior_mean[:, users]
            th, lz = _newton(x[idx], off[idx], y[idx], mask.double(), m, precision, iterations, tol)
            theta[:, users], log_z[:, users] = th, lz
        lo = hi
    return theta, log_z


def _newton(
    x: Tensor,  # [B, R, D]
    off: Tensor,  # [B, R]
    y: Tensor,  # [B, R]
    mask: Tensor,  # [B, R]
    mean: Tensor,  # [K, B, D]
    precision: Tensor,  # [D]
    iterations: int,
    tol: float,
) -> tuple[Tensor, Tensor]:
    def loglik(th: Tensor) -> tuple[Tensor, Tensor]:
        eta = torch.einsum("brd,kbd->kbr", x, th) + off  # [K, B, R]
        ll = y * F.logsigmoid(eta) + (1 - y) * F.logsigmoid(-eta)
        return (mask * ll).sum(-1), eta

    def objective(th: Tensor) -> tuple[Tensor, Tensor]:
        ll, eta = loglik(th)
        return ll - 0.5 * ((th - mean) ** 2 * precision).sum(-1), eta

    def hessian(eta: Tensor) -> Tensor:
        w = mask * torch.sigmoid(eta) * torch.sigmoid(-eta)  # [K, B, R]
        return torch.einsum("kbr,brd,bre->kbde", w, x, x) + torch.diag(precision)

    th = mean.clone()
    obj, eta = objective(th)
    for _ in range(iterations):
        grad = torch.einsum("kbr,brd->kbd", mask * (y - torch.sigmoid(eta)), x)
        grad = grad - precision * (th - mean)
        step = torch.linalg.solve(hessian(eta), grad.unsqueeze(-1)).squeeze(-1)
        scale = torch.ones_like(obj)
        for _ in range(30):  # halve the step where it would lower the objective
            new = th + scale.unsqueeze(-1) * step
            new_obj, new_eta = objective(new)
            worse = new_obj < obj - 1e-12 * obj.abs()
            if not worse.any():
                break
            scale = torch.where(worse, scale / 2, scale)
        th, obj, eta = new, new_obj, new_eta
        if (scale.unsqueeze(-1) * step).abs().max() < tol:
            break
    ll, eta = loglik(th)
    penalty = 0.5 * ((th - mean) ** 2 * precision).sum(-1)
    log_det = torch.linalg.slogdet(hessian(eta))[1]
    return th, ll - penalty + 0.5 * torch.log(precision).sum() - 0.5 * log_det


def exposure_loglik(data: SyntheticData, users: np.ndarray, items: np.ndarray) -> Tensor:
    """``[K, num_users]``: the log probability of each user's impressions (``items``)
    under the generator's exposure model if the user were in community ``k``."""
    cfg, lat = data.config, data.latent
    k = lat.centroids.shape[0]
    w, g, m = lat.item_weight, data.item_community, cfg.exposure_affinity
    per_comm = np.bincount(g, weights=w, minlength=k)  # W_k
    own = g[None, :] == np.arange(k)[:, None]  # [K, I]
    p = m * own * w / per_comm[:, None] + (1 - m) * w / w.sum()  # [K, I]
    out = torch.zeros(k, cfg.num_users, dtype=torch.float64)
    return out.index_add_(1, torch.from_numpy(users), torch.from_numpy(np.log(p[:, items])))


@dataclass
class UserPosterior:
    """Per community ``k``: each user's MAP parameters and posterior weight."""

    theta: Tensor  # [K, U, D]
    weight: Tensor  # [K, U]

    def community_accuracy(self, data: SyntheticData, users: np.ndarray) -> float:
        """Share of ``users`` whose most probable community is their own."""
        guess = self.weight.argmax(0).numpy()[users]
        return float((guess == data.user_community[users]).mean())

    def score(self, data: SyntheticData, users: np.ndarray, items: np.ndarray) -> dict:
        """``{task: [rows]}`` the posterior-weighted true probabilities."""
        d = data.latent.centroids.shape[1]
        specs = list(task_specs(data.config.tasks))
        out = {t: np.zeros(len(users)) for t in data.config.tasks}
        for k in range(self.theta.shape[0]):
            th = self.theta[k].numpy()
            p = true_probabilities(
                data,
                users,
                items,
                user_latent=th[:, :d],
                user_bias=th[:, d],
                task_user_bias={t: th[:, d + 1 + j] for j, t in enumerate(specs)},
            )
            w = self.weight[k].numpy()[users]
            for t in out:
                out[t] += w * p[t]
        return out


def fit_users(data: SyntheticData, train: pd.DataFrame) -> dict[bool, UserPosterior]:
    """The posterior of every user of ``data`` given its rows of ``train``, keyed by
    whether it reads the exposure term; both share one MAP fit (the exposure term
    weighs the communities only)."""
    cfg, lat = data.config, data.latent
    users, items = row_numbers(data, train)
    specs = task_specs(cfg.tasks)
    k, d = lat.centroids.shape
    mean = torch.zeros(k, cfg.num_users, d + 1 + len(specs), dtype=torch.float64)
    mean[:, :, :d] = torch.from_numpy(lat.centroids)[:, None]
    mean[:, :, d] = torch.from_numpy(lat.user_bias_mean)[None]
    precision = torch.tensor(
        [d / cfg.latent_noise**2] * d
        + [1 / cfg.user_bias_std**2]
        + [1 / s.user_std**2 for s in specs.values()],
        dtype=torch.float64,
    )
    theta, log_z = fit_map(label_rows(data, users, items, train), mean, precision)
    labels_only = torch.log(torch.from_numpy(lat.user_shares))[:, None] + log_z
    with_exposure = labels_only + exposure_loglik(data, users, items)
    return {
        exposure: UserPosterior(theta=theta, weight=torch.softmax(log_post, 0))
        for exposure, log_post in ((True, with_exposure), (False, labels_only))
    }


def row_numbers(data: SyntheticData, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The ``data.users`` / ``data.items`` row of every row of ``frame``."""
    out = []
    for col, table in ((USER, data.users), (ITEM, data.items)):
        pos = pd.Index(table[col]).get_indexer(frame[col])
        if (pos < 0).any():
            raise InputError(f"{col} {frame[col][pos < 0].iloc[0]!r} is not in the generated log")
        out.append(pos.astype(np.int64))
    return out[0], out[1]


def diagnose_seed(seed: int, args: argparse.Namespace) -> dict:
    """Test metrics of every scorer on one seed's log, and the community accuracies."""
    data = generate(synthetic_config(seed, args))
    d = prepare(seed, args, args.work, data)
    train, test = read_log(d / "train.csv"), read_log(d / "test.csv")
    rows = evaluate_log(test, {t: test.frame[f"oracle_{t}"].to_numpy() for t in test.tasks})
    scorers = {"oracle": rows}
    trained = np.unique(row_numbers(data, train.frame)[0])
    accuracy = {}
    test_users, test_items = row_numbers(data, test.frame)
    posteriors = fit_users(data, train.frame)
    for name, exposure in ((CEILING, True), (LABELS_ONLY, False)):
        post = posteriors[exposure]
        scorers[name] = evaluate_log(test, post.score(data, test_users, test_items))
        accuracy[name] = post.community_accuracy(data, trained)
    print(f"seed {seed}: " + "; ".join(f"{n} {_gaucs(m)}" for n, m in scorers.items()), flush=True)
    return {"seed": seed, "scorers": scorers, "community_accuracy": accuracy}


def add_compared(per_seed: list[dict], path: Path, args: argparse.Namespace) -> None:
    """Add the models of a bench_collab / tune_collab JSON to ``per_seed``; its data
    options and its oracle rows must match."""
    try:
        doc = json.loads(path.read_text())
        theirs = doc["args"]
        runs = doc["per_seed"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(
            f"--compare: not a bench JSON with args and per_seed ({e})", file=path
        ) from None
    for key in DATA_OPTIONS:
        if key in theirs and theirs[key] != getattr(args, key):
            raise InputError(
                f"--compare: its {key} is {theirs[key]!r}, here {getattr(args, key)!r}", file=path
            )
    seeds = [*theirs.get("seeds", []), *[None] * len(runs)]  # bench_collab: by position
    by_seed = {r.get("seed", s): r for r, s in zip(runs, seeds, strict=False)}
    for row in per_seed:
        run = by_seed.get(row["seed"])
        if run is None:
            raise InputError(f"--compare: no run for seed {row['seed']}", file=path)
        oracle = run.get("baselines", {}).get("oracle", {})
        for t, m in row["scorers"]["oracle"].items():
            if t in oracle and abs(oracle[t]["gauc"] - m["gauc"]) > 1e-9:
                raise InputError(
                    f"--compare: seed {row['seed']}'s oracle {t} GAUC differs "
                    f"({oracle[t]['gauc']:.6f} there, {m['gauc']:.6f} here): another log",
                    file=path,
                )
        for name, metrics in run["models"].items():
            row["scorers"].setdefault(name, metrics)


def summarise(per_seed: list[dict]) -> dict:
    """Mean test GAUC per scorer and task, and each scorer's share of the oracle's lift."""
    tasks = list(per_seed[0]["scorers"]["oracle"])
    names = [n for n in per_seed[0]["scorers"] if all(n in r["scorers"] for r in per_seed)]
    mean = {
        n: {t: float(np.mean([r["scorers"][n][t]["gauc"] for r in per_seed])) for t in tasks}
        for n in names
    }
    share = {n: {t: (mean[n][t] - 0.5) / (mean["oracle"][t] - 0.5) for t in tasks} for n in names}
    accuracy = {
        n: float(np.mean([r["community_accuracy"][n] for r in per_seed]))
        for n in (CEILING, LABELS_ONLY)
    }
    return {
        "tasks": tasks,
        "mean_gauc": mean,
        "oracle_share": share,
        "community_accuracy": accuracy,
    }


def markdown(summary: dict, args: argparse.Namespace) -> str:
    tasks = summary["tasks"]
    lines = [
        "# Bayes ceiling of the collaborative synthetic log",
        "",
        f"Seeds {', '.join(map(str, args.seeds))}; {args.users} users, {args.items} items, "
        f"{args.interactions} impressions; test GAUC, mean over seeds, and the share of "
        "the oracle's lift over 0.5.",
        "",
        "Command: `python scripts/diagnose_ceiling.py " + " ".join(args.argv) + "`",
        "",
        "| scorer | " + " | ".join(tasks) + " | share of the oracle's lift |",
        "|---|" + "---:|" * len(tasks) + "---|",
    ]
    for name, row in summary["mean_gauc"].items():
        share = summary["oracle_share"][name]
        lo, hi = min(share.values()), max(share.values())
        cells = " | ".join(f"{row[t]:.4f}" for t in tasks)
        lines.append(f"| {name} | {cells} | {100 * lo:.0f}–{100 * hi:.0f} % |")
    acc = summary["community_accuracy"]
    lines += [
        "",
        "Users whose most probable community is their own: "
        + ", ".join(f"{n} {100 * a:.1f} %" for n, a in acc.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",") if x], default=[0])
    add_data_args(p)
    p.add_argument("--work", type=Path, default=Path("bench/ceiling_work"))
    p.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        help="a bench_collab.py / tune_collab.py JSON on the same logs (repeatable)",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON report (and .md beside it)")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    per_seed = [diagnose_seed(s, args) for s in args.seeds]
    for path in args.compare:
        add_compared(per_seed, path, args)
    summary = summarise(per_seed)
    report = {
        "args": {k: v for k, v in vars(args).items() if k not in ("work", "compare", "out")},
        "per_seed": per_seed,
        "summary": summary,
    }
    write_report(args.out, report, markdown(summary, args))
    return report


if __name__ == "__main__":
    try:
        main()
    except InputError as e:
        sys.exit(f"error: {e}")
