import os

import pytest

from mogenet.errors import InputError
from mogenet.io import atomic_dir, atomic_path, write_report


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_replaces_only_its_own_kind(tmp_path):
    d = tmp_path / "graphs"
    with atomic_dir(d, marker="meta.json") as tmp:
        (tmp / "meta.json").write_text("{}")
    with atomic_dir(d, marker="meta.json") as tmp:  # an earlier output: replaced
        (tmp / "meta.json").write_text('{"v": 2}')
    assert (d / "meta.json").read_text() == '{"v": 2}'
    other = tmp_path / "home"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="refusing to overwrite"):
        with atomic_dir(other, marker="meta.json"):
            pass
    assert (other / "notes.txt").read_text() == "keep"


def test_atomic_dir_keeps_old_content_on_failure(tmp_path):
    d = tmp_path / "run"
    with atomic_dir(d, marker="run.json") as tmp:
        (tmp / "run.json").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(d, marker="run.json") as tmp:
            (tmp / "run.json").write_text("2")
            raise RuntimeError
    assert (d / "run.json").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_atomic_files_get_normal_permissions(tmp_path):
    target = tmp_path / "meta.json"
    with atomic_path(target) as tmp:
        tmp.write_text("{}")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_write_report_writes_json_and_markdown_or_only_prints(tmp_path, capsys):
    import json

    write_report(tmp_path / "r.json", {"a": 1}, "# table\n")
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    assert (tmp_path / "r.md").read_text() == "# table\n"
    assert "# table" in capsys.readouterr().out
    write_report(None, {"a": 2}, "# printed only\n")
    assert "# printed only" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md"]
