"""Every bad input of the walking-skeleton issue: one-line error naming file, line and
column, exit code 2, no traceback, and no output left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mogenet.cli import main

GOOD = "user_id,item_id,timestamp,click,buy\nu1,i1,1,1,0\nu1,i2,2,0,0\nu2,i1,3,1,1\nu2,i3,4,0,0\n"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


CASES = {
    "missing_column": ("user_id,click\nu1,1\n", ["log.csv", "line 1", "'item_id'", "missing"]),
    "semicolon_separated": (
        "user_id;item_id;click\nu1;i1;1\n",
        ["log.csv", "line 1", "'user_id'", "';'-separated", "comma-separated"],
    ),
    "label_not_binary": (
        "user_id,item_id,click\nu1,i1,1\nu1,i2,2\n",
        ["log.csv", "line 3", "'click'", "0 or 1", "'2'"],
    ),
    "empty_file": ("", ["log.csv", "empty"]),
    "header_only": ("user_id,item_id,click\n", ["log.csv", "line 2", "no data rows"]),
    "nan_id": ("user_id,item_id,click\nu1,i1,1\nNaN,i2,0\n", ["line 3", "'user_id'", "NaN"]),
    "empty_id": ("user_id,item_id,click\nu1,i1,1\nu2,,0\n", ["line 3", "'item_id'", "empty"]),
    "binary_file": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", ["log.csv", "binary"]),
    "duplicate_header": (
        "user_id,item_id,click,click\nu1,i1,1,1\n",
        ["line 1", "'click'", "duplicate"],
    ),
    "bad_timestamp": (
        "user_id,item_id,timestamp,click\nu1,i1,5,1\nu1,i2,yesterday-ish,0\n",
        ["line 3", "'timestamp'"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_split_rejects_bad_log(case, tmp_path, capsys):
    text, fragments = CASES[case]
    log = write(tmp_path / "log.csv", text)
    out = tmp_path / "out"
    code, err = run_cli(["split", log, "--out", out], capsys)
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_build_graphs_rejects_bad_log(case, tmp_path, capsys):
    text, fragments = CASES[case]
    log = write(tmp_path / "log.csv", text)
    out = tmp_path / "graphs"
    code, err = run_cli(["build-graphs", log, "--out", out], capsys)
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [log]  # no temporary leftovers either


def test_unknown_task(tmp_path, capsys):
    log = write(tmp_path / "log.csv", GOOD)
    code, err = run_cli(["split", log, "--out", tmp_path / "out", "--tasks", "click,like"], capsys)
    assert_one_line_error(code, err, "log.csv", "line 1", "'like'", "task not found")
    assert not (tmp_path / "out").exists()


def test_duplicate_user_in_users_csv(tmp_path, capsys):
    log = write(tmp_path / "train.csv", GOOD)
    users = write(tmp_path / "users.csv", "user_id,age\nu1,20\nu2,30\nu1,40\n")
    out = tmp_path / "graphs"
    code, err = run_cli(["build-graphs", log, "--out", out, "--users", users], capsys)
    assert_one_line_error(
        code, err, "users.csv", "line 4", "'user_id'", "duplicate id 'u1'", "line 2"
    )
    assert not out.exists()


def test_valid_columns_differ_from_train(tmp_path, capsys):
    train = write(tmp_path / "train.csv", GOOD)
    valid = write(tmp_path / "valid.csv", "user_id,item_id,timestamp,click\nu1,i3,5,1\nu2,i2,6,0\n")
    graphs = tmp_path / "graphs"
    assert main(["build-graphs", str(train), "--out", str(graphs)]) == 0
    capsys.readouterr()
    run_dir = tmp_path / "run"
    code, err = run_cli(
        ["train", "--graphs", graphs, "--train", train, "--valid", valid, "--out", run_dir], capsys
    )
    assert_one_line_error(code, err, "valid.csv", "line 1", "'buy'")
    assert not run_dir.exists()


def test_valid_with_extra_label_column(tmp_path, capsys):
    train = write(tmp_path / "train.csv", GOOD)
    valid = write(
        tmp_path / "valid.csv",
        "user_id,item_id,timestamp,click,buy,fav\nu1,i3,5,1,0,0\nu2,i2,6,0,0,1\n",
    )
    graphs = tmp_path / "graphs"
    assert main(["build-graphs", str(train), "--out", str(graphs)]) == 0
    capsys.readouterr()
    code, err = run_cli(
        [
            "train",
            "--graphs",
            graphs,
            "--train",
            train,
            "--valid",
            valid,
            "--out",
            tmp_path / "run",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "valid.csv", "line 1", "'fav'", "not in the training file")
    assert not (tmp_path / "run").exists()


def test_duplicate_rows_are_merged_with_max_and_warned(tmp_path, capsys):
    log = write(
        tmp_path / "log.csv",
        "user_id,item_id,timestamp,click,buy\nu1,i1,1,1,0\nu1,i1,1,0,1\nu2,i1,2,0,0\nu3,i2,3,1,0\n",
    )
    out = tmp_path / "out"
    code = main(["split", str(log), "--out", str(out), "--by", "random", "--ratios", "1,0,0"])
    err = capsys.readouterr().err
    assert code == 0
    assert "warning:" in err and "merged 1 duplicate" in err
    train = (out / "train.csv").read_text().splitlines()
    assert "u1,i1,1,1,1" in train  # max over the two rows
    assert len(train) == 1 + 3


def test_unknown_users_in_valid_are_cold_start(tmp_path, capsys):
    train = write(tmp_path / "train.csv", GOOD)
    valid = write(
        tmp_path / "valid.csv",
        "user_id,item_id,timestamp,click,buy\nu9,i1,5,1,0\nu9,i2,6,0,0\nu1,i9,7,1,0\nu1,i3,8,0,0\n",
    )
    graphs = tmp_path / "graphs"
    assert main(["build-graphs", str(train), "--out", str(graphs)]) == 0
    run_dir = tmp_path / "run"
    code = main(
        [
            "train",
            "--graphs",
            str(graphs),
            "--train",
            str(train),
            "--valid",
            str(valid),
            "--out",
            str(run_dir),
            "--epochs",
            "1",
        ]
    )
    assert code == 0
    assert (run_dir / "model.pt").exists()
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(run_dir), "--data", str(valid), "--out", str(pred)]) == 0
    lines = pred.read_text().splitlines()
    assert lines[0] == "user_id,item_id,p_click,p_buy"
    assert len(lines) == 5 and lines[1].startswith("u9,i1,")


def test_output_dir_that_is_not_ours_is_never_replaced(tmp_path, capsys):
    log = write(tmp_path / "log.csv", GOOD)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    code, err = run_cli(["build-graphs", log, "--out", precious], capsys)
    assert_one_line_error(code, err, "precious", "refusing to overwrite")
    assert (precious / "thesis.tex").read_text() == "do not delete"


def test_missing_file(tmp_path, capsys):
    code, err = run_cli(["split", tmp_path / "nope.csv", "--out", tmp_path / "o"], capsys)
    assert_one_line_error(code, err, "nope.csv", "not found")


def test_earlier_output_survives_a_failed_rebuild(tmp_path, capsys):
    good = write(tmp_path / "train.csv", GOOD)
    graphs = tmp_path / "graphs"
    assert main(["build-graphs", str(good), "--out", str(graphs)]) == 0
    before = {p.name: p.read_bytes() for p in graphs.iterdir()}
    bad = write(tmp_path / "bad.csv", "user_id,item_id,click\nu1,i1,7\n")
    code, err = run_cli(["build-graphs", bad, "--out", graphs], capsys)
    assert code == 2
    assert {p.name: p.read_bytes() for p in graphs.iterdir()} == before
    shutil.rmtree(graphs)


@pytest.mark.parametrize(
    "setting, fragments",
    [
        ("model.dropout=1.5", ["model.dropout", "[0, 1)", "1.5"]),
        ("model.id_dropout=-0.1", ["model.id_dropout", "[0, 1)"]),
        ("model.num_experts=0", ["model settings", "num_experts"]),
    ],
)
def test_out_of_range_model_settings(setting, fragments, tmp_path, capsys):
    train = write(tmp_path / "train.csv", GOOD)
    valid = write(tmp_path / "valid.csv", GOOD.splitlines()[0] + "\nu1,i3,5,1,0\nu2,i2,6,0,0\n")
    graphs = tmp_path / "graphs"
    assert main(["build-graphs", str(train), "--out", str(graphs)]) == 0
    argv = ["train", "--graphs", graphs, "--train", train, "--valid", valid]
    code, err = run_cli([*argv, "--out", tmp_path / "run", "--set", setting], capsys)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "run").exists()
