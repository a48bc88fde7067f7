"""Ranking and calibration metrics for multi-task recommendation.

Every metric is vectorised (numpy; torch tensors are accepted and moved to the CPU):
no Python loop runs over users, so GAUC over ``10^6`` examples and ``10^5`` users
takes well under a second.

* :func:`auc` — ROC AUC through the Mann–Whitney rank statistic, ties get the
  average rank (identical to ``sklearn.metrics.roc_auc_score``).
* :func:`expected_auc` — the AUC expected when labels are drawn from known true
  probabilities (synthetic data's oracle columns): the label-noise-free AUC.
* :func:`gauc` — group (user) AUC: the per-user AUC averaged with the user's
  number of examples as weight, as in DIN (Zhou et al., KDD 2018,
  https://arxiv.org/abs/1706.06978).
* :func:`logloss` / :func:`logloss_with_logits` — mean binary cross-entropy.
* :func:`rela_impr` — relative improvement of an AUC (or GAUC) over a base model's.
* :func:`evaluate` — all of the above for every task of a model or scorer.
* :func:`format_table` — scorers side by side (model, popularity, oracle);
  :func:`format_tables` adds the ``auc_true`` table where there is one.
* :func:`to_jsonable` — NaN → ``None`` so metrics serialise as JSON ``null``.

Undefined values are NaN, never an exception: AUC with a single class present,
GAUC with no user having both classes, logloss of zero examples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "auc",
    "expected_auc",
    "gauc",
    "logloss",
    "logloss_with_logits",
    "rela_impr",
    "evaluate",
    "evaluate_log",
    "format_table",
    "format_tables",
    "to_jsonable",
]

#: Metric names :func:`evaluate` returns for each task.
METRICS = ("auc", "gauc", "logloss", "positives", "count")
#: The metric :func:`evaluate` adds for tasks whose true probabilities it is given.
TRUE_AUC = "auc_true"


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x).reshape(-1)


def _check(labels: Any, scores: Any, name: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    """Flat ``bool`` labels and ``float64`` scores of equal length; validates both."""
    y = _to_numpy(labels)
    s = _to_numpy(scores).astype(np.float64, copy=False)
    if y.shape != s.shape:
        raise ValueError(f"labels have {y.size} entries but {name} have {s.size}")
    if y.dtype != np.bool_:
        if not np.isin(y, (0, 1)).all():
            raise ValueError("labels must be 0/1")
        y = y.astype(bool)
    if np.isnan(s).any():
        raise ValueError(f"{name} contain NaN")
    return y, s


def _group_auc(
    y: np.ndarray, s: np.ndarray, codes: np.ndarray, num_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group Mann–Whitney AUC.

    Sorts by (group, score) once; a tie run is a maximal stretch with equal group
    and equal score, and each of its members gets the run's average position.

    Returns:
        ``(auc, count, positives)``, each ``[num_groups]``; ``auc`` is NaN where a
        group holds a single class.
    """
    n = y.size
    order = np.lexsort((s, codes))  # primary key: group, secondary: score
    g, ss, yy = codes[order], s[order], y[order]

    new_run = np.empty(n, dtype=bool)
    new_run[:1] = True
    np.not_equal(g[1:], g[:-1], out=new_run[1:])
    new_run[1:] |= ss[1:] != ss[:-1]
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], n) - 1
    mid = (starts + ends) * 0.5  # average 0-based global position of each tie run
    run_id = np.cumsum(new_run) - 1  # [n]

    count = np.bincount(codes, minlength=num_groups)
    group_start = np.cumsum(count) - count  # rows are grouped contiguously after the sort
    rank = mid[run_id] - group_start[g] + 1.0  # 1-based average rank inside the group

    pos = np.bincount(g, weights=yy, minlength=num_groups)
    rank_sum = np.bincount(g, weights=np.where(yy, rank, 0.0), minlength=num_groups)
    neg = count - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (rank_sum - pos * (pos + 1) * 0.5) / (pos * neg)
    value[(pos == 0) | (neg == 0)] = np.nan
    return value, count, pos.astype(np.int64)


def auc(labels: Any, scores: Any) -> float:
    """ROC AUC: the probability that a random positive outscores a random negative.

    Computed from ranks (Mann–Whitney U) with average ranks for ties, so it equals
    ``sklearn.metrics.roc_auc_score`` exactly.

    Args:
        labels: ``[N]`` 0/1 or bool.
        scores: ``[N]`` any monotone score (probabilities or logits).

    Returns:
        The AUC, or NaN when only one class is present.
    """
    y, s = _check(labels, scores)
    if y.size == 0:
        return math.nan
    value, _, _ = _group_auc(y, s, np.zeros(y.size, dtype=np.int64), 1)
    return float(value[0])


def expected_auc(probs: Any, scores: Any) -> float:
    r"""AUC against true probabilities instead of sampled labels.

    Where the true probability :math:`p_j` of every example is known (synthetic
    logs record it as ``oracle_<task>``), each example is a positive with weight
    :math:`p_j` and a negative with weight :math:`1 - p_j`:

    .. math::
        \mathrm{AUC}_p = \frac{\sum_{i \ne j} p_i (1 - p_j)
            \big([s_i > s_j] + \tfrac12 [s_i = s_j]\big)}
            {\sum_{i \ne j} p_i (1 - p_j)}.

    This is the expected number of correctly ordered (positive, negative) pairs over
    the expected number of pairs when labels are drawn independently from
    :math:`p` (a ratio of expectations, which the expected AUC approaches as
    :math:`N` grows; an example is never paired with itself). With 0/1
    probabilities it is :func:`auc`. On a sparse task it removes the noise of which
    few examples happened to be positive, so two scorers can be told apart on far
    fewer test rows; it does not remove the noise of training.

    Args:
        probs: ``[N]`` true probabilities in ``[0, 1]``.
        scores: ``[N]`` any monotone score.

    Returns:
        The AUC, or NaN when every weight lies on one side (all ``p`` 0 or all 1).
    """
    p = _to_numpy(probs).astype(np.float64, copy=False)
    s = _to_numpy(scores).astype(np.float64, copy=False)
    if p.shape != s.shape:
        raise ValueError(f"probs have {p.size} entries but scores have {s.size}")
    if np.isnan(s).any() or np.isnan(p).any():
        raise ValueError("probs or scores contain NaN")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("probs must lie in [0, 1]")
    order = np.argsort(s, kind="stable")
    ss, pp = s[order], p[order]
    q = 1.0 - pp
    new_run = np.empty(ss.size, dtype=bool)
    new_run[:1] = True
    np.not_equal(ss[1:], ss[:-1], out=new_run[1:])
    run_id = np.cumsum(new_run) - 1
    run_neg = np.bincount(run_id, weights=q)  # negative weight inside each tie run
    below = np.cumsum(run_neg) - run_neg  # negative weight in strictly lower runs
    wins = pp * (below[run_id] + 0.5 * (run_neg[run_id] - q))  # self-pair excluded
    pairs = pp.sum() * q.sum() - (pp * q).sum()
    return float(wins.sum() / pairs) if pairs > 0 else math.nan


def gauc(labels: Any, scores: Any, groups: Any) -> float:
    """Group AUC: per-group (per-user) AUC weighted by the group's example count.

    .. math::
        \\mathrm{GAUC} = \\frac{\\sum_{u \\in K} n_u \\, \\mathrm{AUC}_u}{\\sum_{u \\in K} n_u}

    where :math:`K` is the set of groups holding both a positive and a negative
    example; the other groups have no AUC and are left out, so the weights are the
    example counts of the groups kept.

    Args:
        labels: ``[N]`` 0/1 or bool.
        scores: ``[N]`` any monotone score.
        groups: ``[N]`` group key per example (user ids: strings or ints).

    Returns:
        The GAUC, or NaN when no group holds both classes.
    """
    y, s = _check(labels, scores)
    gr = _to_numpy(groups)
    if gr.shape != y.shape:
        raise ValueError(f"labels have {y.size} entries but groups have {gr.size}")
    if y.size == 0:
        return math.nan
    codes, uniques = pd.factorize(gr)
    value, count, _ = _group_auc(y, s, codes.astype(np.int64, copy=False), len(uniques))
    keep = ~np.isnan(value)
    if not keep.any():
        return math.nan
    return float(np.dot(value[keep], count[keep]) / count[keep].sum())


def logloss(labels: Any, probs: Any, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of probabilities, clipped to ``[eps, 1 - eps]``.

    Args:
        labels: ``[N]`` 0/1 or bool.
        probs: ``[N]`` predicted probabilities of the positive class.
        eps: clipping bound that keeps the loss finite for 0/1 predictions.

    Returns:
        The mean loss, or NaN for zero examples.
    """
    y, p = _check(labels, probs, "probs")
    if y.size == 0:
        return math.nan
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def logloss_with_logits(labels: Any, logits: Any) -> float:
    """Mean binary cross-entropy of logits (numerically stable, no clipping).

    Uses :math:`\\ell(x, y) = \\max(x, 0) - x y + \\log(1 + e^{-|x|})`, the formula of
    ``torch.nn.functional.binary_cross_entropy_with_logits``.
    """
    y, x = _check(labels, logits, "logits")
    if y.size == 0:
        return math.nan
    return float(np.mean(np.maximum(x, 0.0) - x * y + np.log1p(np.exp(-np.abs(x)))))


def rela_impr(value: float, base: float) -> float:
    """Relative improvement of an AUC over a base model's AUC, measured from random.

    .. math::
        \\mathrm{RelaImpr} = \\frac{\\mathrm{AUC}(\\text{measured}) - 0.5}
        {\\mathrm{AUC}(\\text{base}) - 0.5} - 1

    as defined in DIN (Zhou et al., KDD 2018, https://arxiv.org/abs/1706.06978) and
    used by BPCM (Eq. 14) and MoGENet (Table 2, on GAUC): a random ranking scores
    0.5, so this is the gain in the part of the AUC above chance.  It applies to
    GAUC in the same way.

    Args:
        value: the measured model's AUC (or GAUC).
        base: the base model's AUC (or GAUC).

    Returns:
        A fraction (``0.0189`` = +1.89 %), or NaN when either value is NaN or
        ``base`` is 0.5 (no lift above chance to compare with).
    """
    value, base = float(value), float(base)
    if math.isnan(value) or math.isnan(base) or base == 0.5:
        return math.nan
    return (value - 0.5) / (base - 0.5) - 1.0


def evaluate(
    labels: Mapping[str, Any],
    scores: Mapping[str, Any],
    groups: Any,
    *,
    truth: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Per-task AUC, GAUC and logloss (and, given the true probabilities, ``auc_true``).

    Args:
        labels: ``{task: [N] 0/1}``.
        scores: ``{task: [N] probability}``: probabilities, not logits, because
            logloss needs them (apply a sigmoid to model logits first).  Tasks
            without scores (an oracle knows only some tasks) are left out.
        groups: ``[N]`` user id per example, for GAUC.
        truth: ``{task: [N] true probability}`` where they are known (synthetic
            logs' ``oracle_<task>`` columns).  Each scored task in it also gets
            ``auc_true`` = :func:`expected_auc`: the AUC without the noise of which
            rows happened to be positives, which dominates on sparse tasks.

    Returns:
        ``{task: {"auc", "gauc", "logloss", "positives", "count"}}`` (plus
        ``"auc_true"``, see ``truth``) in the order of ``labels``; undefined metrics
        are NaN (see :func:`to_jsonable`).
    """
    unknown = [t for t in scores if t not in labels]
    if unknown:
        raise KeyError(f"scores for tasks without labels: {unknown}")
    out: dict[str, dict[str, float]] = {}
    for task, y in labels.items():
        if task not in scores:
            continue
        yt, st = _check(y, scores[task], f"scores['{task}']")
        out[task] = {
            "auc": auc(yt, st),
            "gauc": gauc(yt, st, groups),
            "logloss": logloss(yt, st),
            "positives": int(yt.sum()),
            "count": int(yt.size),
        }
        if truth is not None and task in truth:
            out[task][TRUE_AUC] = expected_auc(truth[task], st)
    return out


def evaluate_log(log: Any, scores: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """:func:`evaluate` on an :class:`~mogenet.datasets.log.InteractionLog`.

    Labels are the log's task columns, groups its ``user_id`` column.
    """
    from mogenet.datasets.log import USER

    frame = log.frame
    labels = {t: frame[t].to_numpy() for t in log.tasks}
    return evaluate(labels, scores, frame[USER].to_numpy())


def to_jsonable(metrics: Any) -> Any:
    """A copy with NaN/inf floats as ``None`` (JSON ``null``) and numpy scalars as
    Python numbers; dicts, lists and tuples are converted recursively."""
    if isinstance(metrics, Mapping):
        return {str(k): to_jsonable(v) for k, v in metrics.items()}
    if isinstance(metrics, (list, tuple)):
        return [to_jsonable(v) for v in metrics]
    if isinstance(metrics, (bool, np.bool_)):
        return bool(metrics)
    if isinstance(metrics, (int, np.integer)):
        return int(metrics)
    if isinstance(metrics, (float, np.floating)):
        value = float(metrics)
        return value if math.isfinite(value) else None
    return metrics


def _cell(value: Any, width: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(width)
    if isinstance(value, (int, np.integer)):
        return str(int(value)).rjust(width)
    return f"{float(value):.4f}".rjust(width)


def format_table(
    rows: Mapping[str, Mapping[str, Mapping[str, float]]],
    metric: str | Sequence[str] = ("auc", "gauc"),
) -> str:
    """Scorers side by side: one row per scorer, one column block per task.

    Example (``format_table({"model": m, "popularity": p, "oracle": o})``)::

        scorer      click          cart           fav            buy
                    auc    gauc    auc    gauc    auc    gauc    auc    gauc
        model       0.7312 0.6904  0.7010 0.6655  0.6823 0.6502  0.7404 0.7011
        popularity  0.6120 0.5533  ...

    Args:
        rows: ``{scorer: evaluate(...) result}``, e.g. ``{"model": …,
            "popularity": …, "oracle": …}``, printed in this order.
        metric: one metric name or several (sub-columns under each task); the
            default AUC + GAUC fits 4 tasks in 80 columns.  Missing values
            (a task an oracle does not know, NaN) print as ``-``.

    Returns:
        The table, lines joined by ``\\n`` (no trailing newline).
    """
    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    if not metrics:
        raise ValueError("format_table needs at least one metric")
    tasks: list[str] = []
    for result in rows.values():
        tasks += [t for t in result if t not in tasks]

    width = 6  # "0.1234"
    name_w = max([len("scorer"), *(len(str(r)) for r in rows)])
    sub_w = [max(width, len(m)) for m in metrics]
    block = {t: max(sum(sub_w) + len(sub_w) - 1, len(t)) for t in tasks}
    gap = "  "

    head = ["scorer".ljust(name_w)]
    sub = [" " * name_w]
    for t in tasks:
        head.append(t.ljust(block[t]))
        cells = " ".join(m.ljust(w) for m, w in zip(metrics, sub_w, strict=True))
        sub.append(cells.ljust(block[t]))
    lines = [gap.join(head).rstrip(), gap.join(sub).rstrip()]
    for scorer, result in rows.items():
        line = [str(scorer).ljust(name_w)]
        for t in tasks:
            values = result.get(t, {})
            cells = " ".join(_cell(values.get(m), w) for m, w in zip(metrics, sub_w, strict=True))
            line.append(cells.ljust(block[t]))
        lines.append(gap.join(line).rstrip())
    return "\n".join(lines)


def format_tables(rows: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """:func:`format_table` of AUC and GAUC, then, where the rows have ``auc_true``
    (synthetic data, whose true probabilities are known), a table of it."""
    text = format_table(rows)
    if any(TRUE_AUC in m for result in rows.values() for m in result.values()):
        text += "\n\nAUC against the true probabilities (no test-label noise):\n"
        text += format_table(rows, metric=TRUE_AUC)
    return text
