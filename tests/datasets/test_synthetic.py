"""Tests of the synthetic log generator (small sizes; each test well under a second)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mogenet.datasets.log import ITEM, ORACLE_PREFIX, SCENARIO, TIMESTAMP, USER, InteractionLog
from mogenet.datasets.synthetic import (
    PRESETS,
    SyntheticConfig,
    SyntheticData,
    generate,
    true_probabilities,
)
from mogenet.errors import InputError

TASKS = ("click", "cart", "fav", "buy")


@pytest.fixture(scope="module")
def demo() -> SyntheticData:
    return generate(SyntheticConfig.preset("demo", seed=3, scenarios=3))


def _codes(ids: pd.Series) -> np.ndarray:
    return ids.str[1:].astype(np.int64).to_numpy()


def test_types_and_repr(demo: SyntheticData) -> None:
    log = demo.log
    assert isinstance(log, InteractionLog)
    assert log.tasks == TASKS and log.oracle_tasks == TASKS
    assert len(log) == PRESETS["demo"].num_interactions
    f = log.frame
    for t in TASKS:
        assert f[t].dtype == np.int8
        assert f[ORACLE_PREFIX + t].dtype == np.float64
    assert f[TIMESTAMP].dtype == np.int64
    assert f[USER].str.fullmatch(r"u\d{6}").all() and f[ITEM].str.fullmatch(r"i\d{6}").all()
    assert not f.duplicated([USER, ITEM]).any()  # every row is a distinct pair
    assert list(demo.users.columns) == [USER, "age_bucket", "gender", "activity"]
    assert list(demo.items.columns) == [ITEM, "category", "price", "brand"]
    assert len(demo.users) == demo.config.num_users and len(demo.items) == demo.config.num_items
    assert set(f[USER]) <= set(demo.users[USER]) and set(f[ITEM]) <= set(demo.items[ITEM])
    assert (demo.items["price"] > 0).all() and (demo.users["activity"] > 0).all()
    assert repr(demo).startswith("SyntheticData(InteractionLog(rows=100000")


def test_same_seed_byte_identical_files(tmp_path) -> None:
    cfg = SyntheticConfig.preset("tiny", seed=7, scenarios=2)
    paths_a = generate(cfg).write(tmp_path / "a")
    paths_b = generate(cfg).write(tmp_path / "b")
    paths_c = generate(SyntheticConfig.preset("tiny", seed=8, scenarios=2)).write(tmp_path / "c")
    assert set(paths_a) == {"interactions", "users", "items"}
    for name, path in paths_a.items():
        assert path.read_bytes() == paths_b[name].read_bytes(), name
        assert path.read_bytes() != paths_c[name].read_bytes(), name
    assert not list((tmp_path / "a").glob(".*"))  # no temporary files left behind
    back = pd.read_csv(paths_a["interactions"])
    assert list(back.columns[:4]) == [USER, ITEM, TIMESTAMP, SCENARIO]
    assert list(back.columns[4:]) == [*TASKS, *(ORACLE_PREFIX + t for t in TASKS)]
    assert len(back) == cfg.num_interactions


def test_funnel_holds(demo: SyntheticData) -> None:
    f = demo.log.frame
    click = f["click"].to_numpy()
    for t in ("cart", "fav", "buy"):
        assert (f[t].to_numpy() <= click).all(), t  # t implies click
        assert (f[ORACLE_PREFIX + t] <= f[ORACLE_PREFIX + "click"] + 1e-12).all(), t
    # buy is correlated with cart beyond their shared click
    clicked = f[click == 1]
    assert (
        clicked.loc[clicked["cart"] == 1, "buy"].mean()
        > clicked.loc[clicked["cart"] == 0, "buy"].mean()
    )


def test_rates_of_demo_preset(demo: SyntheticData) -> None:
    f = demo.log.frame
    assert 0.05 <= f["click"].mean() <= 0.30
    assert 0.005 <= f["buy"].mean() <= 0.03
    for t in ("cart", "fav"):
        assert 0.005 <= f[t].mean() < f["click"].mean()


def test_oracle_is_calibrated(demo: SyntheticData) -> None:
    f = demo.log.frame
    for t in TASKS:
        p = f[ORACLE_PREFIX + t].to_numpy()
        assert ((p >= 0) & (p <= 1)).all()
        # sum of labels is a sum of independent Bernoulli(p): compare within 4 std errors
        se = np.sqrt((p * (1 - p)).sum()) / len(p)
        assert abs(f[t].mean() - p.mean()) < 4 * se, t
        assert abs(p.mean() - demo.config.rate(t)) < 0.15 * demo.config.rate(t), t


def test_oracle_auc(demo: SyntheticData) -> None:
    f = demo.log.frame
    for t in TASKS:
        assert roc_auc_score(f[t], f[ORACLE_PREFIX + t]) > 0.6, t


def test_community_structure(demo: SyntheticData) -> None:
    f = demo.log.frame
    same = demo.user_community[_codes(f[USER])] == demo.item_community[_codes(f[ITEM])]
    assert 0.3 < same.mean() < 0.9  # exposure mixes own-community and popular items
    assert f["click"][same].mean() > 1.5 * f["click"][~same].mean()
    # informative features are community proxies: category 2k / 2k+1 belongs to community k
    cat = demo.items["category"].str[1:].astype(int).to_numpy()
    assert (cat // 2 == demo.item_community).mean() > 0.6
    # age bucket: each community has a modal bucket shared by most of its users
    users = pd.DataFrame({"c": demo.user_community, "age": demo.users["age_bucket"]})
    modal_share = users.groupby("c")["age"].agg(lambda s: s.value_counts().iloc[0] / len(s))
    assert modal_share.mean() > 0.5


def test_latent_truth_reproduces_the_oracle() -> None:
    """The exposed hidden parameters are the ones the labels were drawn from: the
    module docstring's formulas over them give every ``oracle_<task>`` column."""
    data = generate(SyntheticConfig.preset("demo", seed=5, num_interactions=20_000))
    lat, cfg, f = data.latent, data.config, data.log.frame
    u, i = _codes(f[USER]), _codes(f[ITEM])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    s = (lat.user_latent[u] * lat.item_latent[i]).sum(1)
    p_click = sig(
        data.intercepts["click"] + cfg.affinity_weight * s + lat.user_bias[u] + lat.item_bias[i]
    )
    np.testing.assert_allclose(f[ORACLE_PREFIX + "click"], p_click, rtol=1e-9)
    cond = {
        t: data.intercepts[t]
        + a * cfg.affinity_weight * s
        - lam * lat.price_sensitivity[u] * lat.price_z[i]
        + lat.task_user_bias[t][u]
        for t, a, lam in (("cart", 0.6, 0.3), ("fav", 0.8, 0.0), ("buy", 0.7, 0.7))
    }
    np.testing.assert_allclose(f[ORACLE_PREFIX + "cart"], p_click * sig(cond["cart"]), rtol=1e-9)
    np.testing.assert_allclose(f[ORACLE_PREFIX + "fav"], p_click * sig(cond["fav"]), rtol=1e-9)
    q = sig(cond["cart"])
    p_buy = p_click * (q * sig(cond["buy"] + 2.0) + (1 - q) * sig(cond["buy"]))
    np.testing.assert_allclose(f[ORACLE_PREFIX + "buy"], p_buy, rtol=1e-9)
    # communities and their shares: each vector sits near its community's centroid
    assert np.allclose(lat.user_shares.sum(), 1.0) and lat.user_shares.shape == (8,)
    dist = ((lat.user_latent[:, None] - lat.centroids[None]) ** 2).sum(-1)  # [U, K]
    assert (dist.argmin(1) == data.user_community).mean() > 0.7
    np.testing.assert_allclose(lat.user_bias.mean() - lat.user_bias_mean.mean(), 0, atol=0.05)
    # true_probabilities: the truth by default, other user parameters on request
    truth = true_probabilities(data, u, i)
    for t in TASKS:
        np.testing.assert_allclose(truth[t], f[ORACLE_PREFIX + t], rtol=1e-12)
    zero = {t: np.zeros_like(b) for t, b in lat.task_user_bias.items()}
    other = true_probabilities(data, u, i, user_latent=0 * lat.user_latent, task_user_bias=zero)
    np.testing.assert_allclose(
        other["click"], sig(data.intercepts["click"] + lat.user_bias[u] + lat.item_bias[i])
    )
    np.testing.assert_allclose(
        other["fav"], other["click"] * sig(np.full(len(u), data.intercepts["fav"]))
    )
    with pytest.raises(InputError, match="scenario"):
        true_probabilities(generate(SyntheticConfig.preset("tiny", scenarios=2)), u[:1], i[:1])


def test_informativeness_knobs() -> None:
    base = dict(num_users=400, num_items=200, num_interactions=6_000, seed=1)
    flat = generate(SyntheticConfig(**base, affinity_weight=0.0, feature_noise=1.0)).log.frame
    rich = generate(SyntheticConfig(**base)).log.frame
    flat_auc = roc_auc_score(flat["click"], flat["oracle_click"])
    rich_auc = roc_auc_score(rich["click"], rich["oracle_click"])
    assert flat_auc < rich_auc


def test_timestamp_and_scenario_toggles() -> None:
    off = generate(SyntheticConfig.preset("tiny", timestamps=False, scenarios=0)).log
    assert not off.has_timestamp and not off.has_scenario
    on = generate(SyntheticConfig.preset("tiny", timestamps=True, scenarios=4)).log
    assert on.has_timestamp and on.has_scenario
    ts = on.frame[TIMESTAMP].to_numpy()
    assert (np.diff(ts) >= 0).all()  # chronological
    assert ts.max() - ts.min() > 20 * 86_400 and ts.max() - ts.min() <= 30 * 86_400
    assert set(on.frame[SCENARIO]) <= {"s0", "s1", "s2", "s3"}
    assert pd.api.types.is_string_dtype(on.frame[SCENARIO])


def test_item_churn_moves_only_timestamps() -> None:
    """With ``item_churn`` the pairs, labels and oracle are those of the same seed
    without churn; a churned item's impressions all fall on or after its launch day,
    so early days show fewer distinct items and the late days' items are new to them."""
    cfg = SyntheticConfig.preset("demo", seed=2)
    base = generate(cfg).log.frame
    churn = generate(SyntheticConfig.preset("demo", seed=2, item_churn=0.5)).log.frame
    key = [USER, ITEM]
    a = base.sort_values(key).reset_index(drop=True)
    b = churn.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns=TIMESTAMP), b.drop(columns=TIMESTAMP))
    moved = a[TIMESTAMP] != b[TIMESTAMP]
    assert 0.2 < moved.mean() < 0.5  # about half the items, weighted by their impressions
    assert (b[TIMESTAMP][moved] > a[TIMESTAMP][moved]).all()  # only ever later
    assert ((b[TIMESTAMP] - a[TIMESTAMP]) % 86_400 == 0).all()  # time of day kept

    def early_items(f: pd.DataFrame) -> int:  # distinct items of the first 3 days
        return f.loc[f[TIMESTAMP] - f[TIMESTAMP].min() < 3 * 86_400, ITEM].nunique()

    first_day = churn.groupby(ITEM)[TIMESTAMP].min()
    base_first = base.groupby(ITEM)[TIMESTAMP].min()
    assert (first_day - first_day.min() > 10 * 86_400).mean() > 0.1  # launched late
    assert (base_first - base_first.min() > 10 * 86_400).mean() < 0.01
    assert early_items(churn) < 0.8 * early_items(base)
    with pytest.raises(InputError, match="item_churn"):
        SyntheticConfig(item_churn=1.5)
    with pytest.raises(InputError, match="needs timestamps"):
        SyntheticConfig(item_churn=0.2, timestamps=False)


def test_custom_tasks_and_rates() -> None:
    cfg = SyntheticConfig.preset("tiny", tasks=("click", "buy"), rates={"buy": 0.02})
    f = generate(cfg).log.frame
    assert [c for c in f.columns if not c.startswith(ORACLE_PREFIX)][-2:] == ["click", "buy"]
    assert (f["buy"] <= f["click"]).all()
    assert abs(f["oracle_buy"].mean() - 0.02) < 0.005
    g = generate(SyntheticConfig.preset("tiny", tasks=("ctr", "cvr"))).log.frame
    assert (g["cvr"] <= g["ctr"]).all() and g["cvr"].sum() > 0


def test_presets_and_validation() -> None:
    assert set(PRESETS) >= {"tiny", "demo", "small", "large"}
    demo = PRESETS["demo"]
    assert demo.num_interactions == 100_000
    assert demo.num_users == 1_000 and demo.num_items == 500
    assert SyntheticConfig.preset("demo", seed=5).seed == 5
    assert PRESETS["demo"].seed == 0  # presets are not mutated by overrides
    with pytest.raises(InputError, match="unknown synthetic preset"):
        SyntheticConfig.preset("huge")
    with pytest.raises(InputError, match="rates"):
        SyntheticConfig(rates={"buy": 0.5})
    with pytest.raises(InputError, match="num_interactions"):
        SyntheticConfig(num_users=10, num_items=10, num_interactions=80, num_communities=2)
    with pytest.raises(InputError, match="num_communities"):
        SyntheticConfig(num_users=10, num_items=5, num_interactions=20, num_communities=6)


def test_scales_to_1e5_rows() -> None:
    cfg = SyntheticConfig(
        num_users=10_000, num_items=2_000, num_interactions=100_000, num_communities=16
    )
    f = generate(cfg).log.frame
    assert len(f) == 100_000
    assert not f.duplicated([USER, ITEM]).any()
    assert 0.05 <= f["click"].mean() <= 0.30
