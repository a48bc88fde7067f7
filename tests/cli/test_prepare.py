"""``mogenet prepare NAME --raw RAW_DIR --out DIR``."""

from __future__ import annotations

import pandas as pd
import pytest

from mogenet.cli import main as run
from mogenet.datasets.public import PREPARERS

TAOBAO = "1,10,7,pv,1511544070\n1,11,7,fav,1511544080\n2,10,7,buy,1511544090\n"


@pytest.fixture
def raw(tmp_path):
    d = tmp_path / "raw"
    d.mkdir()
    (d / "UserBehavior.csv").write_text(TAOBAO)
    return d


def test_prepare_prints_summary_and_writes(raw, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(["prepare", "taobao", "--raw", str(raw), "--out", str(out), "--chunksize", "2"]) == 0
    text = capsys.readouterr().out
    assert "prepared taobao" in text and "rows 3" in text and "tasks click,cart,fav,buy" in text
    assert "interactions.csv" in text
    frame = pd.read_csv(out / "interactions.csv", dtype=str)
    assert frame.loc[frame.user_id == "2", "click"].tolist() == ["1"]  # funnel by default


def test_prepare_typed_options(raw, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["prepare", "taobao", "--raw", str(raw), "--out", str(out)]
    assert run([*argv, "-o", "funnel=false", "--option", "partitions=2"]) == 0
    frame = pd.read_csv(out / "interactions.csv", dtype=str)
    assert frame.loc[frame.user_id == "2", "click"].tolist() == ["0"]
    capsys.readouterr()
    for bad, needle in [
        ("funnel=maybe", "true or false"),
        ("partitions=x", "integer"),
        ("nope=1", "has no option 'nope'"),
        ("funnel", "KEY=VALUE"),
    ]:
        assert run([*argv, "-o", bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and needle in err and err.count("\n") == 1


def test_unknown_name_lists_choices(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["prepare", "netflix", "--raw", str(tmp_path), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'netflix'" in err
    for name in PREPARERS:
        assert name in err


def test_help_lists_datasets(capsys):
    with pytest.raises(SystemExit):
        run(["prepare", "--help"])
    text = capsys.readouterr().out
    for name, preparer in PREPARERS.items():
        assert name in text and preparer.title in text


def test_missing_raw_file_is_one_line(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    code = run(["prepare", "ml1m", "--raw", str(raw), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert str(raw / "ratings.dat") in err
    assert "ratings.dat, users.dat, movies.dat" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
