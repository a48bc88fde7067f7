"""``mogenet build-graphs``: flags reach the GraphConfig, readable summary, plot, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mogenet.cli import build_parser, main
from mogenet.cli.build_graphs import graph_config, parse_behavior_weights, parse_hub_cap
from mogenet.config import GraphConfig
from mogenet.errors import InputError
from mogenet.graphs import GraphBundle

LOG = (
    "user_id,item_id,click,buy\n"
    "u1,i1,1,0\nu1,i2,1,1\nu1,i3,0,0\nu2,i1,1,0\nu2,i2,1,0\n"
    "u3,i2,0,1\nu3,i3,1,0\nu4,i4,0,0\n"
)


@pytest.fixture
def train(tmp_path) -> Path:
    path = tmp_path / "train.csv"
    path.write_text(LOG)
    return path


def cli(*argv) -> int:
    return main(["build-graphs", *map(str, argv)])


def parse(*argv) -> GraphConfig:
    return graph_config(build_parser().parse_args(["build-graphs", "t.csv", "--out", "g", *argv]))


def test_defaults_are_the_graph_config_defaults():
    assert parse() == GraphConfig()


def test_flags_reach_the_config(train, tmp_path, capsys):
    out = tmp_path / "g"
    argv = ["--similarity", "jaccard", "--topk", "2", "--min-support", "1", "--hub-cap", "none"]
    argv += ["--behavior-weights", "click=1, buy=4", "--per-behavior-edges", "--device", "cpu"]
    argv += ["--seed", "5", "--num-threads", "1"]
    assert cli(train, "--out", out, *argv) == 0
    expected = GraphConfig(
        similarity="jaccard",
        topk=2,
        min_support=1,
        hub_cap=None,
        behavior_weights={"click": 1.0, "buy": 4.0},
        per_behavior_edges=True,
        seed=5,
        device="cpu",
        num_threads=1,
    )
    assert parse(*argv) == expected
    bundle = GraphBundle.load(out)
    assert GraphConfig(**bundle.meta["config"]) == expected
    assert bundle.behavior_tasks == ("click", "buy")
    assert parse("--hub-cap", "50", "--min-support", "3").hub_cap == 50
    assert parse("--spectral", "2").spectral == 2 and parse().spectral == 0
    assert parse("--min-support", "3").min_support == 3


def test_summary_is_readable(train, tmp_path, capsys):
    assert cli(train, "--out", tmp_path / "g", "--per-behavior-edges") == 0
    text = capsys.readouterr().out
    bundle = GraphBundle.load(tmp_path / "g")
    assert f"graphs written to {tmp_path / 'g'}" in text
    assert "user 4 · item 4" in text
    for word in ("user -interacts-> item", "user -similar-> user", "user -buy-> item"):
        assert word in text
    for word in ("min", "median", "p90", "p99", "max", "isolated", "user similar", "item buy"):
        assert word in text
    for stage in ("read", "bipartite", "user_similar", "item_similar", "features", "save"):
        assert f"{stage} " in text
    assert "total" in text and bundle.meta["hash"] in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)  # not a raw JSON dump
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("user interacts"))
    assert line.split()[-1] == "1"  # u4 has a negative row only


def test_plot_flag(train, tmp_path, capsys):
    out = tmp_path / "g"
    assert cli(train, "--out", out, "--plot") == 0
    png = (out / "degrees.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    assert "plot" in capsys.readouterr().out
    GraphBundle.load(out)  # an extra file does not upset the loader
    elsewhere = tmp_path / "plots" / "deg.png"
    assert cli(train, "--out", out, "--plot", elsewhere) == 0
    assert elsewhere.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "degrees.png").exists()  # the rebuilt directory replaced the old one


def one_line_error(capsys, *fragments) -> None:
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("click", "'click' is not TASK=WEIGHT"),
        ("click=", "'click=' is not TASK=WEIGHT"),
        ("=2", "is not TASK=WEIGHT"),
        ("click=much", "not a number: 'much'"),
        ("click=0", "must be > 0"),
        ("buy=-1", "must be > 0"),
        ("buy=inf", "must be > 0"),
        ("click=1,click=2", "given twice"),
        (",", "empty"),
        ("click=1,view=2", "unknown task(s) 'view'"),
    ],
)
def test_bad_behavior_weights(value, fragment, train, tmp_path, capsys):
    out = tmp_path / "g"
    assert cli(train, "--out", out, f"--behavior-weights={value}") == 2
    one_line_error(capsys, fragment)
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--hub-cap", "0"], "--hub-cap must be a positive integer or 'none'"),
        (["--hub-cap", "many"], "--hub-cap"),
        (["--topk", "0"], "--topk"),
        (["--min-support", "0"], "--min-support"),
        (["--similarity", "euclid"], "unknown similarity measure 'euclid'"),
        (["--plot", "deg.jpg"], ".png"),
        (["--spectral", "-1"], "--spectral must be ≥ 0"),
        (["--spectral", "4"], "--spectral must be between 1 and 3"),  # 4 users, 4 items
    ],
)
def test_bad_flags(argv, fragment, train, tmp_path, capsys):
    assert cli(train, "--out", tmp_path / "g", *argv) == 2
    one_line_error(capsys, fragment)
    assert not (tmp_path / "g").exists()


def test_clashing_task_name_with_per_behavior_edges(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text("user_id,item_id,similar,buy\nu1,i1,1,0\nu2,i1,0,1\n")
    assert cli(train, "--out", tmp_path / "g", "--per-behavior-edges") == 2
    one_line_error(capsys, "'similar'", "clash")
    assert cli(train, "--out", tmp_path / "g") == 0


def test_parsers():
    assert parse_hub_cap("None") is None and parse_hub_cap("12") == 12
    assert parse_behavior_weights(" click = 1 ,buy=2.5") == {"click": 1.0, "buy": 2.5}
    with pytest.raises(InputError):
        parse_hub_cap("-3")
