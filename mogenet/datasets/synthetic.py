r"""Seeded synthetic multi-behaviour interaction logs with a known ground truth.

The generator plants structure that any *generic* recommender can exploit (ids,
features, latent factors) and records, for every impression, the true probability
of every behaviour (``oracle_<task>`` columns) so that upper-bound ("oracle") metrics
can be computed.  Nothing is planted that only a graph model could exploit, and no
label is derived from another example's label.

Generative model
----------------

**Communities and latent vectors.**  :math:`K` latent communities have centroids
:math:`\boldsymbol{\mu}_k \sim \mathcal{N}(\mathbf{0}, \mathbf{I}_d / d)`.  Every user
:math:`u` and item :math:`i` belongs to one community :math:`g(u)`, :math:`g(i)`
(drawn from Dirichlet community shares) and has the latent vector

.. math::
    \mathbf{x}_u = \boldsymbol{\mu}_{g(u)} + \tau\,\boldsymbol{\epsilon}_u, \qquad
    \mathbf{y}_i = \boldsymbol{\mu}_{g(i)} + \tau\,\boldsymbol{\epsilon}_i, \qquad
    \boldsymbol{\epsilon} \sim \mathcal{N}(\mathbf{0}, \mathbf{I}_d / d),

so the affinity :math:`s_{ui} = \mathbf{x}_u^\top \mathbf{y}_i` is about 1 inside a
community and about 0 across (:math:`\tau` = ``latent_noise``).

**Exposure.**  Item popularity is a power law over a random rank,
:math:`w_i \propto r_i^{-a}` (``popularity_exponent``); user activity is lognormal,
:math:`a_u = \exp(\sigma_a z_u)` (``activity_sigma``).  An impression draws the user
with probability :math:`\propto a_u`, then with probability :math:`m`
(``exposure_affinity``) an item of the user's own community
(:math:`\propto w_i` within it), otherwise any item (:math:`\propto w_i`).  Repeated
(user, item) pairs are dropped and re-drawn, so every row is a distinct pair.

**Behaviour funnel.**  The first task (``click``) is the root; every other task is
conditional on it.  With :math:`\sigma` the logistic function,

.. math::
    \ell^{\text{click}}_{ui} &= \beta_{\text{click}} + \alpha\, s_{ui} + b_u + b_i
        + \theta_{\text{scenario}}, \\
    b_u &= -0.25\,\bar z(\log a_u) + \mathcal{N}(0, \sigma_u^2), \qquad
    b_i = 0.25\,\bar z(\log w_i) + \gamma_{c(i)} + \mathcal{N}(0, \sigma_i^2), \\
    P(t = 1 \mid \text{click} = 1) &= \sigma\big(\beta_t + \alpha_t\, s_{ui}
        - \lambda_t\,\rho_u\, \bar z(\log \text{price}_i) + b^t_u
        + \kappa_t\, \text{parent}\big),

where :math:`\bar z` standardises, :math:`\gamma_c` is a per-category appeal,
:math:`\rho_u = 1.3 - 0.1\,\text{age}_u` makes older users less price sensitive,
:math:`b^t_u` is a per-user propensity for the task, and ``parent`` is the sampled
``cart`` label for ``buy`` (:math:`\kappa_{\text{buy}} = 2`: buying is much likelier
after carting).  Labels are sampled top-down (``cart = click · Bernoulli(...)``), so
``cart``/``fav``/``buy`` imply ``click``.  The true marginals are recorded:

.. math::
    P(\text{click}) = p_c, \qquad P(\text{cart}) = p_c\, p_{\text{cart}|c}, \qquad
    P(\text{buy}) = p_c \big(p_{\text{cart}|c}\, \sigma(\ell_b + \kappa)
        + (1 - p_{\text{cart}|c})\, \sigma(\ell_b)\big).

The intercepts :math:`\beta_t` are calibrated by bisection so that the mean true
marginal rate of each task equals its target rate (``rates``; defaults click 12 %,
cart 3 %, fav 2.5 %, buy 1.2 %; an unknown root task 12 %, any other task 2 %).

Features: what is informative and what is noise
-----------------------------------------------

``users.csv``:

- ``age_bucket`` (categorical) — **informative**: equals the community's preferred
  bucket with probability ``1 - feature_noise`` (a community proxy), and sets the
  price sensitivity :math:`\rho_u` of cart/buy.
- ``gender`` (categorical) — **noise**: independent of everything.
- ``activity`` (numeric) — **informative**: the user's expected impression count
  times lognormal noise; heavy users click slightly less per impression.

``items.csv``:

- ``category`` (categorical) — **informative**: one of the two categories owned by
  the item's community with probability ``1 - feature_noise``; carries the
  per-category appeal :math:`\gamma_c` and sets the price level.
- ``price`` (numeric) — **informative** for ``cart`` and mostly ``buy`` (cheaper
  items convert better), not for ``click``.
- ``brand`` (categorical) — **noise**: uniform, independent of everything.

Optional columns: ``timestamp`` (int seconds over 30 days from 2024-01-01 UTC with a
diurnal cycle and mild growth; rows are sorted by it; uninformative) and
``scenario`` (``s0``, ``s1``, …; shifts the click and conversion logits).

**Item churn** (``item_churn`` :math:`c`, off by default).  Real catalogues change:
a share :math:`c` of the items is launched during the log, on a day :math:`L_i`
uniform over days 1 … 29, and is shown only from then on.  The impressions and
labels are the same as without churn; only the timestamps of a launched item's
impressions move, day :math:`t \mapsto L_i + \lfloor t\,(30 - L_i) / 30 \rfloor`
(time of day kept), so that its impressions crowd into its life.  A split by time
then meets, as in a real log, items that the training period saw only a few times
(or never); any model that reads an item's neighbourhood rather than only its own
id (item-CF, a graph encoder) can still place them.

Example::

    data = generate(SyntheticConfig.preset("demo", seed=1))
    data.write("data/demo")  # interactions.csv, users.csv, items.csv
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, ORACLE_PREFIX, SCENARIO, TIMESTAMP, USER, InteractionLog
from mogenet.errors import InputError
from mogenet.io import atomic_path

__all__ = [
    "PRESETS",
    "LatentTruth",
    "SyntheticConfig",
    "SyntheticData",
    "TaskSpec",
    "generate",
    "marginal",
    "task_specs",
    "true_probabilities",
]

#: Target marginal rate (fraction of impressions) per task when ``rates`` omits it.
DEFAULT_RATES: dict[str, float] = {"click": 0.12, "cart": 0.03, "fav": 0.025, "buy": 0.012}
_OTHER_RATE = 0.02

AGE_BUCKETS = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS = ("F", "M", "U")
#: 2024-01-01T00:00:00Z; timestamps span ``_DAYS`` days from here.
_T0 = 1_704_067_200
_DAYS = 30
_FLOAT_FORMAT = "%.6g"


@dataclass(frozen=True)
class TaskSpec:
    """Coefficients of one conditional (non-root) task, see the module docstring."""

    affinity: float = 0.5  # alpha_t, relative to affinity_weight
    price: float = 0.0  # lambda_t
    user_std: float = 0.3  # std of b^t_u
    parent: str | None = None  # task whose label boosts this one
    boost: float = 0.0  # kappa_t


_TASK_SPECS: dict[str, TaskSpec] = {
    "cart": TaskSpec(affinity=0.6, price=0.3, user_std=0.3),
    "fav": TaskSpec(affinity=0.8, price=0.0, user_std=0.6),
    "buy": TaskSpec(affinity=0.7, price=0.7, user_std=0.4, parent="cart", boost=2.0),
}


def task_specs(tasks: tuple[str, ...]) -> dict[str, TaskSpec]:
    """The coefficients of every conditional task of ``tasks`` (all but ``tasks[0]``),
    in the order :func:`generate` draws them: tasks without a parent first.  An
    unknown task gets the default :class:`TaskSpec`; a parent outside ``tasks`` is
    dropped."""
    specs = {t: _TASK_SPECS.get(t, TaskSpec()) for t in tasks[1:]}
    specs = {t: s if s.parent in specs else replace(s, parent=None) for t, s in specs.items()}
    return dict(sorted(specs.items(), key=lambda kv: kv[1].parent is not None))


@dataclass
class SyntheticConfig:
    """Sizes, seed and knobs of :func:`generate`.

    Args:
        num_users: users (all appear in ``users.csv``; most appear in the log).
        num_items: items.
        num_interactions: impression rows, each a distinct (user, item) pair.
        num_communities: latent communities :math:`K`.
        latent_dim: dimension :math:`d` of the latent vectors.
        tasks: behaviour names; ``tasks[0]`` is the funnel root, the rest are
            conditional on it.
        timestamps: add an int ``timestamp`` column (rows sorted by it).
        scenarios: ``0`` for no ``scenario`` column, else the number of scenarios.
        seed: seed of the single :class:`numpy.random.Generator`.
        rates: target marginal rate per task (overrides :data:`DEFAULT_RATES`).
        affinity_weight: :math:`\\alpha`, weight of the latent affinity in the click
            logit (0 removes the collaborative signal).
        latent_noise: :math:`\\tau`, individual deviation from the community centroid.
        feature_noise: probability that ``age_bucket`` / ``category`` is random
            instead of the community's (1 makes them pure noise).
        popularity_exponent: :math:`a` of the power-law item popularity.
        activity_sigma: :math:`\\sigma_a` of the lognormal user activity.
        exposure_affinity: :math:`m`, share of impressions drawn from the user's own
            community.
        user_bias_std: :math:`\\sigma_u` of the user click bias.
        item_bias_std: :math:`\\sigma_i` of the item click bias.
        item_churn: share of the items launched during the log (see the module
            docstring; needs ``timestamps``).
    """

    num_users: int = 2_000
    num_items: int = 1_000
    num_interactions: int = 30_000
    num_communities: int = 8
    latent_dim: int = 16
    tasks: tuple[str, ...] = ("click", "cart", "fav", "buy")
    timestamps: bool = True
    scenarios: int = 0
    seed: int = 0
    rates: dict[str, float] = field(default_factory=dict)
    affinity_weight: float = 1.5
    latent_noise: float = 0.7
    feature_noise: float = 0.3
    popularity_exponent: float = 0.8
    activity_sigma: float = 0.8
    exposure_affinity: float = 0.5
    user_bias_std: float = 0.5
    item_bias_std: float = 0.5
    item_churn: float = 0.0

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        self.rates = dict(self.rates)
        self.validate()

    @classmethod
    def preset(cls, name: str, **overrides) -> SyntheticConfig:
        """A named size (see :data:`PRESETS`) with optional field overrides."""
        if name not in PRESETS:
            raise InputError(f"unknown synthetic preset {name!r}; choose from {sorted(PRESETS)}")
        return replace(PRESETS[name], **overrides)

    def rate(self, task: str) -> float:
        """Target marginal rate of ``task`` (an unknown root task gets click's default)."""
        other = DEFAULT_RATES["click"] if self.tasks and task == self.tasks[0] else _OTHER_RATE
        return float(self.rates.get(task, DEFAULT_RATES.get(task, other)))

    def validate(self) -> None:
        """Raise :class:`~mogenet.errors.InputError` on an impossible configuration."""

        def bad(name: str, why: str) -> InputError:
            return InputError(f"synthetic config: {name}={getattr(self, name)!r} {why}")

        for name in ("num_users", "num_items", "num_interactions", "num_communities"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "must be >= 1")
        if self.latent_dim < 1:
            raise bad("latent_dim", "must be >= 1")
        if self.num_communities > min(self.num_users, self.num_items):
            raise bad("num_communities", "exceeds the number of users or items")
        if self.num_interactions > 0.5 * self.num_users * self.num_items:
            raise bad("num_interactions", "exceeds half of all (user, item) pairs")
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise bad("tasks", "must be non-empty and distinct")
        if self.scenarios < 0:
            raise bad("scenarios", "must be >= 0")
        if self.item_churn and not self.timestamps:
            raise bad("item_churn", "needs timestamps=True")
        for name in ("feature_noise", "exposure_affinity", "item_churn"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise bad(name, "must lie in [0, 1]")
        unknown = sorted(set(self.rates) - set(self.tasks))
        if unknown:
            raise bad("rates", f"names tasks {unknown} not in tasks")
        root = self.rate(self.tasks[0])
        if not 0.0 < root < 1.0:
            raise bad("rates", f"gives root task {self.tasks[0]!r} a rate outside (0, 1)")
        for t in self.tasks[1:]:
            if not 0.0 < self.rate(t) < root:
                raise bad("rates", f"gives {t!r} a rate outside (0, rate of {self.tasks[0]!r})")


#: Named sizes.  ``demo`` trains on a 2-core CPU in under a minute; it is dense
#: (about 100 impressions per user, 200 per item) so that an id-embedding model has
#: enough examples per user to learn preferences beyond item popularity.
PRESETS: dict[str, SyntheticConfig] = {
    "tiny": SyntheticConfig(
        num_users=200, num_items=100, num_interactions=2_000, num_communities=4, latent_dim=8
    ),
    "demo": SyntheticConfig(
        num_users=1_000, num_items=500, num_interactions=100_000, num_communities=8
    ),
    # ``demo`` with a 3x sparser last task (buy 0.4 % of impressions, 1/30 of clicks).
    "funnel": SyntheticConfig(
        num_users=1_000, num_items=500, num_interactions=100_000, rates={"buy": 0.004}
    ),
    "small": SyntheticConfig(
        num_users=20_000, num_items=10_000, num_interactions=500_000, num_communities=16
    ),
    "large": SyntheticConfig(
        num_users=1_000_000,
        num_items=200_000,
        num_interactions=10_000_000,
        num_communities=64,
        latent_dim=32,
    ),
}


@dataclass
class LatentTruth:
    """The generator's hidden parameters (never written to the CSVs).

    What a Bayes-optimal scorer would need to know besides the rows themselves
    (``scripts/diagnose_ceiling.py`` uses it); row ``k`` of a user array is the
    ``k``-th row of ``users.csv``, of an item array the ``k``-th row of
    ``items.csv``.

    Args:
        centroids: ``[K, d]`` community centroids :math:`\\boldsymbol{\\mu}_k`.
        user_shares: ``[K]`` Dirichlet community shares of the users.
        user_latent: ``[num_users, d]`` :math:`\\mathbf{x}_u`.
        item_latent: ``[num_items, d]`` :math:`\\mathbf{y}_i`.
        user_bias_mean: ``[num_users]`` the activity part of :math:`b_u`.
        user_bias: ``[num_users]`` :math:`b_u` (its mean plus the user's noise).
        item_bias: ``[num_items]`` :math:`b_i`.
        item_weight: ``[num_items]`` exposure popularity :math:`w_i` (unnormalised).
        price_sensitivity: ``[num_users]`` :math:`\\rho_u`.
        price_z: ``[num_items]`` :math:`\\bar z(\\log \\text{price}_i)`.
        task_user_bias: conditional task → ``[num_users]`` :math:`b^t_u`.
    """

    centroids: np.ndarray
    user_shares: np.ndarray
    user_latent: np.ndarray
    item_latent: np.ndarray
    user_bias_mean: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    item_weight: np.ndarray
    price_sensitivity: np.ndarray
    price_z: np.ndarray
    task_user_bias: dict[str, np.ndarray]


@dataclass
class SyntheticData:
    """The output of :func:`generate`.

    Args:
        log: the interactions (canonical columns, ``int8`` labels, ``float64``
            ``oracle_<task>`` true marginal probabilities).
        users: ``user_id, age_bucket, gender, activity``, one row per user.
        items: ``item_id, category, price, brand``, one row per item.
        user_community: ``[num_users]`` latent community of each ``users`` row
            (ground truth, never written to the CSVs).
        item_community: ``[num_items]`` latent community of each ``items`` row.
        intercepts: calibrated :math:`\\beta_t` per task.
        config: the configuration that produced the data.
        latent: the other hidden parameters (:class:`LatentTruth`).
    """

    log: InteractionLog
    users: pd.DataFrame
    items: pd.DataFrame
    user_community: np.ndarray
    item_community: np.ndarray
    intercepts: dict[str, float]
    config: SyntheticConfig
    latent: LatentTruth

    def __repr__(self) -> str:
        return f"SyntheticData({self.log!r}, users={len(self.users)}, items={len(self.items)})"

    def write(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """Write ``interactions.csv``, ``users.csv`` and ``items.csv`` atomically.

        Floats use a fixed format, so the same seed gives byte-identical files.
        Returns the written paths keyed ``interactions`` / ``users`` / ``items``.
        """
        out = Path(out_dir)
        paths = {name: out / f"{name}.csv" for name in ("interactions", "users", "items")}
        self.log.to_csv(paths["interactions"])
        for name, frame in (("users", self.users), ("items", self.items)):
            with atomic_path(paths[name]) as tmp:
                frame.to_csv(tmp, index=False, float_format=_FLOAT_FORMAT)
        return paths


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _zscore(x: np.ndarray) -> np.ndarray:
    std = x.std()
    return (x - x.mean()) / (std if std > 0 else 1.0)


def _ids(prefix: str, n: int, min_width: int = 6) -> pd.Series:
    width = max(min_width, len(str(n - 1)))
    return pd.Series([f"{prefix}{k:0{width}d}" for k in range(n)], dtype="str")


def _communities(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Community of each of ``n`` nodes and the Dirichlet shares they were drawn
    from; every community is non-empty."""
    shares = rng.dirichlet(np.full(k, 5.0))
    comm = rng.choice(k, size=n, p=shares)
    comm[rng.permutation(n)[:k]] = np.arange(k)
    return comm, shares


def _noisy_choice(
    rng: np.random.Generator, true: np.ndarray, num_values: int, noise: float
) -> np.ndarray:
    """``true`` with probability ``1 - noise``, else a uniform value in ``[0, num_values)``."""
    rand = rng.integers(num_values, size=true.shape[0])
    return np.where(rng.random(true.shape[0]) < noise, rand, true)


def _dot_rows(
    a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray, chunk: int = 1 << 20
) -> np.ndarray:
    """``(a[ia] * b[ib]).sum(1)`` in chunks (bounded memory at 1e7 rows)."""
    out = np.empty(ia.shape[0])
    for s in range(0, ia.shape[0], chunk):
        out[s : s + chunk] = np.einsum("nd,nd->n", a[ia[s : s + chunk]], b[ib[s : s + chunk]])
    return out


def _bisect(rate_of, target: float, *args, lo: float = -30.0, hi: float = 30.0) -> float:
    """Solve ``rate_of(beta, *args).mean() = target`` for ``rate_of`` increasing in beta."""
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if rate_of(mid, *args).mean() < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _click_logit(
    cfg: SyntheticConfig, affinity: np.ndarray, user_bias: np.ndarray, item_bias: np.ndarray
) -> np.ndarray:
    """:math:`\\ell^{\\text{click}} - \\beta_{\\text{click}}` of each row (no scenario)."""
    return cfg.affinity_weight * affinity + user_bias + item_bias


def _conditional_logit(
    cfg: SyntheticConfig,
    spec: TaskSpec,
    affinity: np.ndarray,
    price_sensitivity: np.ndarray,
    price_z: np.ndarray,
    task_bias: np.ndarray,
) -> np.ndarray:
    """The logit of ``P(task | root)`` of each row, less :math:`\\beta_t`, the
    scenario and the parent's boost."""
    return (
        spec.affinity * cfg.affinity_weight * affinity
        - spec.price * price_sensitivity * price_z
        + task_bias
    )


def true_probabilities(
    data: SyntheticData,
    users: np.ndarray,
    items: np.ndarray,
    *,
    user_latent: np.ndarray | None = None,
    user_bias: np.ndarray | None = None,
    task_user_bias: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The true marginal probability of every task for (user, item) pairs.

    ``users`` / ``items`` are row numbers of ``data.users`` / ``data.items``.  The
    per-user parameters default to the truth (``data.latent``), which gives the
    ``oracle_<task>`` columns; pass other ``[num_users, …]`` tables to score the
    same model with estimated :math:`\\mathbf{x}_u`, :math:`b_u` or :math:`b^t_u`
    (``scripts/diagnose_ceiling.py``).  Logs with scenarios are refused: their
    scenario shifts are not recorded.
    """
    cfg, lat = data.config, data.latent
    if cfg.scenarios:
        raise InputError("true_probabilities: the scenario shifts of the log are not recorded")
    x = lat.user_latent if user_latent is None else user_latent
    b_u = lat.user_bias if user_bias is None else user_bias
    b_t = lat.task_user_bias if task_user_bias is None else task_user_bias
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    affinity = _dot_rows(x, users, lat.item_latent, items)
    root = cfg.tasks[0]
    p_root = _sigmoid(
        data.intercepts[root] + _click_logit(cfg, affinity, b_u[users], lat.item_bias[items])
    )
    out, cond = {root: p_root}, {}
    for t, s in task_specs(cfg.tasks).items():
        z = _conditional_logit(
            cfg, s, affinity, lat.price_sensitivity[users], lat.price_z[items], b_t[t][users]
        )
        q = cond[s.parent] if s.parent is not None else None
        out[t] = marginal(data.intercepts[t], z, p_root, q, s.boost)
        cond[t] = _sigmoid(data.intercepts[t] + z)
    return {t: out[t] for t in cfg.tasks}


def _root_rate(beta: float, z: np.ndarray) -> np.ndarray:
    return _sigmoid(beta + z)


def marginal(
    beta: float, z: np.ndarray, p_root: np.ndarray, q: np.ndarray | None, boost: float
) -> np.ndarray:
    """True marginal of a conditional task: ``P(root) * P(task | root)``.

    With a parent task of conditional probability ``q`` whose label adds ``boost`` to
    the logit, ``P(task | root) = q * sigmoid(beta + z + boost) + (1 - q) * sigmoid(beta + z)``.
    """
    if q is None:
        return p_root * _sigmoid(beta + z)
    return p_root * (q * _sigmoid(beta + z + boost) + (1 - q) * _sigmoid(beta + z))


def _sample_pairs(
    rng: np.random.Generator,
    cfg: SyntheticConfig,
    user_p: np.ndarray,
    item_w: np.ndarray,
    user_comm: np.ndarray,
    item_comm: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``num_interactions`` distinct (user, item) impressions, in random order."""
    n, num_items = cfg.num_interactions, cfg.num_items
    user_cdf = np.cumsum(user_p)
    item_cdf = np.cumsum(item_w)
    # Items sorted by community: community k owns positions [start[k], end[k]).
    order = np.argsort(item_comm, kind="stable")
    sorted_cdf = np.cumsum(item_w[order])
    end = np.cumsum(np.bincount(item_comm, minlength=cfg.num_communities))
    start = end - np.bincount(item_comm, minlength=cfg.num_communities)
    lo_mass = np.where(start > 0, sorted_cdf[np.maximum(start - 1, 0)], 0.0)
    seg_mass = sorted_cdf[end - 1] - lo_mass

    def draw(m: int) -> np.ndarray:
        u = np.minimum(np.searchsorted(user_cdf, rng.random(m) * user_cdf[-1]), cfg.num_users - 1)
        i = np.minimum(np.searchsorted(item_cdf, rng.random(m) * item_cdf[-1]), num_items - 1)
        own = rng.random(m) < cfg.exposure_affinity
        k = user_comm[u[own]]
        pos = np.searchsorted(sorted_cdf, lo_mass[k] + rng.random(k.shape[0]) * seg_mass[k])
        i[own] = order[np.clip(pos, start[k], end[k] - 1)]
        return u.astype(np.int64) * num_items + i

    keys = np.empty(0, dtype=np.int64)
    want = int(n * 1.05) + 64
    for _ in range(64):
        keys = np.concatenate([keys, draw(want)])
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]  # distinct pairs, first occurrence, draw order kept
        if keys.shape[0] >= n:
            keys = keys[rng.permutation(n)]  # drop draw-order effects of the de-duplication
            return keys // num_items, keys % num_items
        want = 2 * (n - keys.shape[0]) + 64
    raise InputError(
        f"synthetic config: could not draw {n} distinct (user, item) pairs; "
        "lower num_interactions or popularity_exponent"
    )


def _timestamps(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds over ``_DAYS`` days: mild daily growth and an evening-peaked diurnal cycle."""
    day_w = np.linspace(1.0, 1.3, _DAYS)
    hour_w = 1.0 + 0.6 * np.cos(2 * np.pi * (np.arange(24) - 20) / 24)
    day = rng.choice(_DAYS, size=n, p=day_w / day_w.sum())
    hour = rng.choice(24, size=n, p=hour_w / hour_w.sum())
    sec = rng.integers(3600, size=n)
    return _T0 + day.astype(np.int64) * 86_400 + hour * 3600 + sec


def _after_launch(
    rng: np.random.Generator, ts: np.ndarray, item: np.ndarray, churn: float, num_items: int
) -> np.ndarray:
    """Timestamps with item churn: a share ``churn`` of the items gets a launch day
    uniform in ``[1, _DAYS)``, and its impressions' days are compressed into
    ``[launch, _DAYS)`` (time of day kept; see the module docstring)."""
    launch = np.where(rng.random(num_items) < churn, rng.integers(1, _DAYS, size=num_items), 0)
    since = ts - _T0
    day, time_of_day = since // 86_400, since % 86_400
    first = launch[item]
    day = first + day * (_DAYS - first) // _DAYS
    return _T0 + day * 86_400 + time_of_day


def generate(config: SyntheticConfig) -> SyntheticData:
    """Draw a synthetic multi-behaviour log (see the module docstring for the model).

    Fully vectorised; deterministic given ``config`` (one
    ``numpy.random.Generator(config.seed)``).
    """
    cfg = config
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    nu, ni, k, d = cfg.num_users, cfg.num_items, cfg.num_communities, cfg.latent_dim

    # Latent communities and vectors.
    centroids = rng.normal(size=(k, d)) / np.sqrt(d)
    user_comm, user_shares = _communities(rng, nu, k)
    item_comm, _ = _communities(rng, ni, k)
    x_user = centroids[user_comm] + cfg.latent_noise * rng.normal(size=(nu, d)) / np.sqrt(d)
    y_item = centroids[item_comm] + cfg.latent_noise * rng.normal(size=(ni, d)) / np.sqrt(d)

    # Users: activity, features, biases.
    log_act = cfg.activity_sigma * rng.normal(size=nu)
    user_p = np.exp(log_act - log_act.max())
    user_p /= user_p.sum()
    activity = user_p * cfg.num_interactions * np.exp(0.3 * rng.normal(size=nu))
    age = _noisy_choice(
        rng, rng.integers(len(AGE_BUCKETS), size=k)[user_comm], len(AGE_BUCKETS), cfg.feature_noise
    )
    gender = rng.integers(len(GENDERS), size=nu)
    user_bias_mean = -0.25 * _zscore(log_act)
    user_bias = user_bias_mean + cfg.user_bias_std * rng.normal(size=nu)
    price_sens = 1.3 - 0.1 * age

    # Items: popularity, features, biases.
    rank = rng.permutation(ni) + 1.0
    item_w = rank ** (-cfg.popularity_exponent)
    num_cat = 2 * k
    category = _noisy_choice(
        rng, 2 * item_comm + rng.integers(2, size=ni), num_cat, cfg.feature_noise
    )
    cat_price = rng.normal(3.0, 0.8, size=num_cat)  # log-price level per category
    price = np.round(np.exp(cat_price[category] + 0.5 * rng.normal(size=ni)), 2)
    num_brands = max(10, ni // 20)
    brand = rng.integers(num_brands, size=ni)
    cat_appeal = 0.3 * rng.normal(size=num_cat)
    item_bias = (
        0.25 * _zscore(np.log(item_w))
        + cat_appeal[category]
        + cfg.item_bias_std * rng.normal(size=ni)
    )
    z_price = _zscore(np.log(price))

    # Impressions.
    u, i = _sample_pairs(rng, cfg, user_p, item_w, user_comm, item_comm)
    n = u.shape[0]
    affinity = _dot_rows(x_user, u, y_item, i)  # [n]
    scen = (
        rng.choice(cfg.scenarios, size=n, p=rng.dirichlet(np.full(cfg.scenarios, 2.0)))
        if cfg.scenarios
        else None
    )
    scen_click = 0.4 * rng.normal(size=max(cfg.scenarios, 1))
    scen_conv = 0.3 * rng.normal(size=max(cfg.scenarios, 1))
    calib = slice(0, min(n, 1 << 18))  # rows are in random order: a fair sample

    # Root task.
    root = cfg.tasks[0]
    z_root = _click_logit(cfg, affinity, user_bias[u], item_bias[i])
    if scen is not None:
        z_root += scen_click[scen]
    beta = {root: _bisect(_root_rate, cfg.rate(root), z_root[calib])}
    p_root = _sigmoid(beta[root] + z_root)
    root_label = rng.random(n) < p_root
    labels: dict[str, np.ndarray] = {root: root_label}
    oracle: dict[str, np.ndarray] = {root: p_root}

    # Conditional tasks: independent ones first, then those boosted by a parent label.
    cond_p: dict[str, np.ndarray] = {}
    task_user_bias: dict[str, np.ndarray] = {}
    for t, s in task_specs(cfg.tasks).items():
        task_user_bias[t] = s.user_std * rng.normal(size=nu)
        z = _conditional_logit(cfg, s, affinity, price_sens[u], z_price[i], task_user_bias[t][u])
        if scen is not None:
            z += scen_conv[scen]
        q = cond_p[s.parent] if s.parent is not None else None
        qc = q[calib] if q is not None else None
        beta[t] = _bisect(marginal, cfg.rate(t), z[calib], p_root[calib], qc, s.boost)
        oracle[t] = marginal(beta[t], z, p_root, q, s.boost)
        cond_p[t] = _sigmoid(beta[t] + z)
        if s.parent is None:
            draw_p = cond_p[t]
        else:
            draw_p = _sigmoid(beta[t] + z + s.boost * labels[s.parent])
        labels[t] = root_label & (rng.random(n) < draw_p)

    # Assemble, chronologically when timestamps are on.
    order = None
    cols: dict[str, object] = {}
    if cfg.timestamps:
        ts = _timestamps(rng, n)
        if cfg.item_churn > 0:  # after every other draw: labels stay as without churn
            ts = _after_launch(rng, ts, i, cfg.item_churn, ni)
        order = np.argsort(ts, kind="stable")
    pick = (lambda a: a[order]) if order is not None else (lambda a: a)
    user_ids, item_ids = _ids("u", nu), _ids("i", ni)
    cols[USER] = user_ids.take(pick(u)).reset_index(drop=True)
    cols[ITEM] = item_ids.take(pick(i)).reset_index(drop=True)
    if cfg.timestamps:
        cols[TIMESTAMP] = pick(ts)
    if scen is not None:
        names = pd.Series([f"s{j}" for j in range(cfg.scenarios)], dtype="str")
        cols[SCENARIO] = names.take(pick(scen)).reset_index(drop=True)
    for t in cfg.tasks:
        cols[t] = pick(labels[t]).astype(np.int8)
    for t in cfg.tasks:
        cols[ORACLE_PREFIX + t] = pick(oracle[t])
    log = InteractionLog(pd.DataFrame(cols), cfg.tasks, source=f"synthetic(seed={cfg.seed})")

    users = pd.DataFrame(
        {
            USER: user_ids,
            "age_bucket": pd.Series(AGE_BUCKETS, dtype="str").take(age).reset_index(drop=True),
            "gender": pd.Series(GENDERS, dtype="str").take(gender).reset_index(drop=True),
            "activity": np.round(activity, 3),
        }
    )
    items = pd.DataFrame(
        {
            ITEM: item_ids,
            "category": _ids("c", num_cat, 2).take(category).reset_index(drop=True),
            "price": price,
            "brand": _ids("b", num_brands, 3).take(brand).reset_index(drop=True),
        }
    )
    return SyntheticData(
        log=log,
        users=users,
        items=items,
        user_community=user_comm,
        item_community=item_comm,
        intercepts={t: float(beta[t]) for t in cfg.tasks},
        config=cfg,
        latent=LatentTruth(
            centroids=centroids,
            user_shares=user_shares,
            user_latent=x_user,
            item_latent=y_item,
            user_bias_mean=user_bias_mean,
            user_bias=user_bias,
            item_bias=item_bias,
            item_weight=item_w,
            price_sensitivity=price_sens,
            price_z=z_price,
            task_user_bias=task_user_bias,
        ),
    )
