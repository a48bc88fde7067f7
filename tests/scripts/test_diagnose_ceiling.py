"""Tests of ``scripts/diagnose_ceiling.py`` (the Bayes ceiling of a synthetic log)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from mogenet.datasets.synthetic import SyntheticConfig, generate
from mogenet.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import diagnose_ceiling  # noqa: E402

DATA = ["--users", "150", "--items", "120", "--interactions", "7000", "--communities", "3"]
DATA += ["--latent-noise", "0.3", "--affinity-weight", "2.0"]


def _problem(seed: int, counts: list[int], dim: int, hypotheses: int):
    g = torch.Generator().manual_seed(seed)
    user = torch.cat([torch.full((c,), u) for u, c in enumerate(counts)]).long()
    n = len(user)
    rows = diagnose_ceiling.Rows(
        x=torch.randn(n, dim, generator=g, dtype=torch.float64),
        offset=torch.randn(n, generator=g, dtype=torch.float64) - 1.0,
        label=(torch.rand(n, generator=g) < 0.3).double(),
        user=user[torch.randperm(n, generator=g)],  # rows in any order
    )
    mean = torch.randn(hypotheses, len(counts), dim, generator=g, dtype=torch.float64)
    precision = torch.rand(dim, generator=g, dtype=torch.float64) * 3 + 0.5
    return rows, mean, precision


def _neg_log_posterior(theta, rows, u, mean, precision):
    sel = (rows.user == u).numpy()
    eta = rows.x.numpy()[sel] @ theta + rows.offset.numpy()[sel]
    y = rows.label.numpy()[sel]
    ll = (y * -np.logaddexp(0, -eta) + (1 - y) * -np.logaddexp(0, eta)).sum()
    return -ll + 0.5 * ((theta - mean) ** 2 * precision).sum()


def test_fit_map_is_the_map_of_every_user_and_hypothesis():
    counts = [0, 1, 7, 40, 3, 90]  # a user without rows keeps the prior mean
    rows, mean, precision = _problem(0, counts, dim=3, hypotheses=2)
    # max_rows small: several chunks, each padded to its own longest user
    theta, log_z = diagnose_ceiling.fit_map(rows, mean, precision, max_rows=64)
    assert theta.shape == (2, 6, 3) and log_z.shape == (2, 6)
    torch.testing.assert_close(theta[:, 0], mean[:, 0])
    assert (log_z[:, 0] == 0).all()
    for k in range(2):
        for u in range(1, 6):
            args = (rows, u, mean[k, u].numpy(), precision.numpy())
            best = minimize(_neg_log_posterior, mean[k, u].numpy(), args=args, method="BFGS")
            np.testing.assert_allclose(theta[k, u].numpy(), best.x, atol=1e-4)


def test_laplace_evidence_matches_numerical_integration_in_one_dimension():
    rows, mean, precision = _problem(1, [300, 5], dim=1, hypotheses=1)
    _, log_z = diagnose_ceiling.fit_map(rows, mean, precision)
    grid = np.linspace(-12, 12, 200_001)
    for u, tol in ((0, 0.01), (1, 0.1)):  # Laplace is exact in the limit of many rows
        log_post = np.array(
            [
                -_neg_log_posterior(np.array([t]), rows, u, mean[0, u].numpy(), precision.numpy())
                for t in grid[::50]
            ]
        )
        norm = 0.5 * np.log(precision[0].item() / (2 * np.pi))
        peak = log_post.max()
        exact = peak + np.log(np.trapezoid(np.exp(log_post - peak), grid[::50])) + norm
        assert abs(log_z[0, u].item() - exact) < tol, (u, log_z[0, u].item(), exact)


def test_exposure_loglik_is_the_generator_draw():
    data = generate(SyntheticConfig.preset("tiny", seed=2))
    cfg, lat = data.config, data.latent
    users, items = np.array([0, 0, 3]), np.array([5, 9, 5])
    got = diagnose_ceiling.exposure_loglik(data, users, items)
    w, g, m = lat.item_weight, data.item_community, cfg.exposure_affinity
    for k in range(cfg.num_communities):

        def p(i, k=k):
            own = m * w[i] / w[g == k].sum() if g[i] == k else 0.0
            return own + (1 - m) * w[i] / w.sum()

        assert got[k, 0].item() == pytest.approx(np.log(p(5)) + np.log(p(9)))
        assert got[k, 3].item() == pytest.approx(np.log(p(5)))
        assert got[k, 1].item() == 0.0  # no impressions


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    work = tmp_path_factory.mktemp("ceiling")
    out = work / "ceiling.json"
    doc = diagnose_ceiling.main(["--seeds", "0", *DATA, "--work", str(work), "--out", str(out)])
    return doc, out, work


def test_report_has_every_scorer_per_task(report):
    doc, out, _ = report
    summary = doc["summary"]
    assert set(summary["mean_gauc"]) == {"oracle", "ceiling", "ceiling, labels only"}
    for name, row in summary["mean_gauc"].items():
        assert list(row) == ["click", "cart", "fav", "buy"], name
        assert all(0 < g < 1 for g in row.values()), name
    assert summary["oracle_share"]["oracle"] == {t: 1.0 for t in row}
    assert set(summary["community_accuracy"]) == {"ceiling", "ceiling, labels only"}
    assert json.loads(out.read_text())["summary"] == json.loads(json.dumps(summary))
    assert "| ceiling, labels only |" in out.with_suffix(".md").read_text()


def test_ceiling_scores_near_the_truth_and_exposure_finds_the_community():
    users, error, accuracy = 150, {}, {}
    for per_user in (8, 60):
        cfg = SyntheticConfig.preset(
            "tiny",
            seed=4,
            num_users=users,
            num_items=200,
            num_interactions=users * per_user,
            num_communities=3,
            latent_noise=0.3,
            affinity_weight=2.0,
        )
        data = generate(cfg)
        frame = data.log.frame
        train, test = frame.iloc[: len(frame) * 4 // 5], frame.iloc[len(frame) * 4 // 5 :]
        test_users, test_items = diagnose_ceiling.row_numbers(data, test)
        seen = np.unique(diagnose_ceiling.row_numbers(data, train)[0])
        posteriors = diagnose_ceiling.fit_users(data, train)
        for exposure in (True, False):
            post = posteriors[exposure]
            torch.testing.assert_close(post.weight.sum(0), torch.ones(users, dtype=torch.float64))
            click = post.score(data, test_users, test_items)["click"]
            truth = test["oracle_click"].to_numpy()
            error[per_user, exposure] = np.abs(click - truth).mean() / truth.mean()
            accuracy[per_user, exposure] = post.community_accuracy(data, seen)
    for per_user in (8, 60):  # impressions say more about the community than few labels
        assert accuracy[per_user, True] > accuracy[per_user, False], accuracy
        assert error[per_user, True] < error[per_user, False], error
    assert error[60, True] < error[8, True], error  # more rows, nearer the truth
    assert accuracy[60, True] > 0.95, accuracy


def _compare_file(path: Path, doc: dict, **args) -> Path:
    """A bench JSON (the ``tune_collab`` layout) on the report's log whose one model
    scores 0.01 below the oracle; ``args`` overrides its data options."""
    oracle = doc["per_seed"][0]["scorers"]["oracle"]
    model = {t: {**m, "gauc": m["gauc"] - 0.01} for t, m in oracle.items()}
    bench = {
        "args": {"users": 150, "items": 120, "interactions": 7000, "seeds": [0], **args},
        "per_seed": [{"seed": 0, "models": {"mmoe": model}, "baselines": {"oracle": oracle}}],
    }
    path.write_text(json.dumps(bench))
    return path


def test_compare_adds_models_of_the_same_logs_only(report, tmp_path):
    doc, _, work = report
    base = ["--seeds", "0", *DATA, "--work", str(work)]
    good = _compare_file(tmp_path / "good.json", doc)
    both = diagnose_ceiling.main([*base, "--compare", str(good)])
    assert "mmoe" in both["summary"]["mean_gauc"]
    gap = {
        t: both["summary"]["mean_gauc"]["oracle"][t] - g
        for t, g in both["summary"]["mean_gauc"]["mmoe"].items()
    }
    assert all(v == pytest.approx(0.01) for v in gap.values())

    other = _compare_file(tmp_path / "users.json", doc, users=4000)
    with pytest.raises(InputError, match="its users is 4000"):
        diagnose_ceiling.main([*base, "--compare", str(other)])
    bad = json.loads(good.read_text())
    bad["per_seed"][0]["baselines"]["oracle"]["click"]["gauc"] += 0.001
    (tmp_path / "oracle.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="oracle click GAUC differs"):
        diagnose_ceiling.main([*base, "--compare", str(tmp_path / "oracle.json")])
    bad["per_seed"][0]["seed"] = 5
    (tmp_path / "seed.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="no run for seed 0"):
        diagnose_ceiling.main([*base, "--compare", str(tmp_path / "seed.json")])
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a bench JSON"):
        diagnose_ceiling.main([*base, "--compare", str(tmp_path / "junk.json")])
