import struct
import sys

import numpy as np
import pandas as pd
import pytest

from mogenet.config import GraphConfig
from mogenet.datasets import InteractionLog
from mogenet.errors import InputError
from mogenet.graphs import GraphBundle
from mogenet.graphs.plot import degree_ccdf, plot_degrees

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def bundle():
    rng = np.random.default_rng(0)
    n = 80
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 15, n).astype(str),
            "item_id": rng.zipf(1.6, n).clip(max=20).astype(str),
            "click": (rng.random(n) < 0.6).astype(np.int8),
            "buy": (rng.random(n) < 0.2).astype(np.int8),
        }
    )
    log = InteractionLog(frame, ("click", "buy"))
    return GraphBundle.build(log, config=GraphConfig(topk=3, per_behavior_edges=True))


def test_degree_ccdf():
    x, y = degree_ccdf(np.array([0, 1, 1, 2, 4]))
    assert x.tolist() == [1, 2, 4]  # isolated nodes left out
    assert y.tolist() == [1.0, 0.5, 0.25]
    x, y = degree_ccdf(np.zeros(3, dtype=np.int64))
    assert x.size == y.size == 0


def test_plot_degrees_writes_a_png(bundle, tmp_path):
    out = plot_degrees(bundle, tmp_path / "sub" / "degrees.png")
    assert out == tmp_path / "sub" / "degrees.png"
    blob = out.read_bytes()
    assert blob[:8] == PNG_SIGNATURE and blob[12:16] == b"IHDR"
    width, height = struct.unpack(">II", blob[16:24])
    assert width >= 500 and height >= 300
    assert len(blob) > 10_000  # lines and text, not an empty canvas
    assert [p.name for p in out.parent.iterdir()] == ["degrees.png"]  # no temp file left


def test_plot_without_matplotlib(bundle, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    with pytest.raises(InputError, match="pip install matplotlib"):
        plot_degrees(bundle, tmp_path / "degrees.png")
    assert not (tmp_path / "degrees.png").exists()


def test_pipeline_checks_matplotlib_before_building(tmp_path, monkeypatch):
    from mogenet.pipeline import build_graphs

    csv = tmp_path / "train.csv"
    csv.write_text("user_id,item_id,click\nu1,i1,1\nu2,i1,1\n")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InputError, match="pip install matplotlib"):
        build_graphs(csv, tmp_path / "g", plot=True)
    assert not (tmp_path / "g").exists()
    with pytest.raises(InputError, match=r"\.png"):
        build_graphs(csv, tmp_path / "g", plot=tmp_path / "plot.jpg")
