"""Smoke tests of scripts/reproduce_paper.py: every study end to end on a tiny log
(2 seeds, 1 epoch), its tables, plots, cache and README section; and how the
configurations of the studies are put together (no training)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import reproduce_paper as rp  # noqa: E402

from mogenet.errors import InputError  # noqa: E402

README = Path(__file__).resolve().parents[2] / "README.md"
PNG = b"\x89PNG\r\n\x1a\n"


def _argv(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--quick",
        "--models",
        "mmoe",
        "--kappas",
        "add",
        "--losses",
        "i",
        "--graph-experts",
        "0",
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(tmp_path / "paper"),
        *extra,
    ]


def test_quick_reproduction(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README.read_text())
    report = rp.main(_argv(tmp_path, "--readme", str(readme)))

    assert set(report["studies"]) == set(rp.STUDIES)
    t2 = report["studies"]["table2"]
    assert list(t2["groups"]) == ["MMoE", "MoGENet"]
    for task in t2["tasks"]:
        vs = t2["mogenet"]["gauc"][task]
        assert vs["best_baseline"] == "MMoE" and vs["pairs"] == 2  # paired by seed
        assert vs["rela_impr_best"] == pytest.approx(vs["rela_impr_mmoe"], nan_ok=True)
        assert 0.0 <= t2["groups"]["MoGENet"]["tasks"][task]["gauc"]["mean"] <= 1.0
    assert "mean" in t2["tasks"]  # metric averaged over tasks per run
    assert list(report["studies"]["table3"]["pairs"]) == ["MMoE"]
    assert report["studies"]["table5"]["order"] == ["i"]
    # 6 configurations (mmoe, mogenet, mmoe+mgnn, κ add, loss i, 0 graph experts) × 2
    assert report["timing"]["runs_finished"] == report["timing"]["runs_expected"] == 12

    out = tmp_path / "paper"
    md = (out / "paper.md").read_text()
    for needle in ("### Table 2", "| MoGENet |", "| MMoE + MGNN |", "| ADD |", "| i |"):
        assert needle in md
    assert json.loads((out / "paper.json").read_text())["preset"] == "quick"
    import matplotlib.image

    for name in ("table2", "table3", "table4", "table5", "fig2"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == PNG and f"]({name}.png)" in md
        height, width, _ = matplotlib.image.imread(png).shape
        assert height > 100 and width > 300

    before, generated = README.read_text().split(rp.RESULTS_START)
    text = readme.read_text()
    assert text.startswith(before)
    assert text.endswith(generated.split(rp.RESULTS_END)[1])
    section = text.split(rp.RESULTS_START)[1].split(rp.RESULTS_END)[0]
    assert "### Table 2" in section and "](paper/table2.png)" in section
    assert "Not generated yet" not in section

    capsys.readouterr()
    again = rp.main(_argv(tmp_path, "--studies", "table2"))  # cached: nothing retrains
    assert "4 runs: 4 cached, 0 to train" in capsys.readouterr().out
    assert again["studies"]["table2"]["groups"] == report["studies"]["table2"]["groups"]


def test_update_readme_needs_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\nno markers\n")
    with pytest.raises(InputError, match="results:start"):
        rp.update_readme(readme, "table")
    readme.write_text(f"a\n{rp.RESULTS_START}\nold\n{rp.RESULTS_END}\nb\n")
    rp.update_readme(readme, "new\n")
    assert readme.read_text() == f"a\n{rp.RESULTS_START}\nnew\n{rp.RESULTS_END}\nb\n"
    readme.write_text("a\n<!-- results-collab:start -->\nold\n<!-- results-collab:end -->\n")
    with pytest.raises(InputError, match="results:start"):
        rp.update_readme(readme, "new")  # only the default section's markers count
    rp.update_readme(readme, "new", "results-collab")
    assert "\nnew\n<!-- results-collab:end -->" in readme.read_text()


def _configs(*argv: str) -> tuple[argparse.Namespace, dict[str, rp.RunConfig], dict]:
    args = rp.parse_args(["--quick", *argv])
    data = argparse.Namespace(fingerprint="data")
    configs, keys = {}, {}
    for spec in rp.build_specs(args):
        configs[(spec.study, spec.label)] = config = rp.resolve(spec, args)
        keys[(spec.study, spec.label)] = rp.run_key(config, data)
    return args, configs, keys


def test_study_configurations():
    _, configs, keys = _configs("--set", "loss.weighting=fixed", "--set", "train.lr=0.01")
    mogenet = configs[("table2", "MoGENet")]
    assert mogenet.model.name == "mogenet" and mogenet.loss.cooperative == 1e-6
    assert configs[("table2", "MMoE")].model.name == "mmoe"
    assert configs[("table3", "MMoE + MGNN")].model.name == "mmoe+mgnn"
    assert ("table3", "MLP + MGNN") not in configs  # single-task: not in Table 3
    assert configs[("table4", "CON")].model.interaction == "concat"
    assert configs[("table2", "MMoE")].train.lr == 0.01  # --set reaches every run
    # the study's own settings win over --set; (i) has no cooperative loss
    assert configs[("table5", "i")].loss.weighting == "fixed"
    assert configs[("table5", "i")].loss.cooperative == 0.0
    assert configs[("table5", "i+ii+iii")].loss.weighting == "uncertainty"
    assert configs[("fig2", "2")].model.head_options == {"graph_experts": 2}
    # --set weighting=fixed made MoGENet's (i+iii) and the loss study's (i+iii) one run
    assert keys[("table2", "MoGENet")] == keys[("table5", "i+iii")]
    assert keys[("table2", "MoGENet")] != keys[("table5", "i+ii+iii")]
    # the rows that are MoGENet itself share its runs (graph_experts=4: all experts)
    _, _, keys = _configs()
    mogenet = keys[("table2", "MoGENet")]
    assert mogenet == keys[("table4", "EP")] == keys[("table5", "i+ii+iii")] == keys[("fig2", "4")]
    assert len(set(keys.values())) == len(keys) - 3


def test_model_set_reaches_one_model():
    _, configs, keys = _configs("--model-set", "mogenet:model.graph_layers=1")
    assert configs[("table2", "MoGENet")].model.graph_layers == 1
    assert configs[("table4", "ADD")].model.graph_layers == 1
    assert configs[("table3", "MMoE + MGNN")].model.graph_layers == 2
    _, _, plain = _configs()
    assert keys[("table2", "MoGENet")] != plain[("table2", "MoGENet")]
    assert keys[("table2", "MMoE")] == plain[("table2", "MMoE")]
    with pytest.raises(InputError, match="--models"):
        rp.parse_args(["--models", "nope"])


def test_generator_knobs_key_and_describe_the_log(tmp_path):
    """--latent-noise / --affinity-weight / --rate give a different cached log (never a
    stale one under the preset's key) and are named in the report's data text."""
    base = ["--quick", "--work", str(tmp_path / "w")]
    plain = rp.prepare_data(rp.parse_args(base), tmp_path / "w")
    knobs = ["--latent-noise", "0.3", "--affinity-weight", "2.0", "--rate", "buy=0.01"]
    tuned = rp.prepare_data(rp.parse_args([*base, *knobs]), tmp_path / "w")
    assert plain.name != tuned.name and plain.fingerprint != tuned.fingerprint
    assert "latent noise τ 0.3, affinity weight α 2.0, buy rate 0.01" in tuned.description
    assert "latent noise" not in plain.description


def test_collab_preset_sets_the_generator_knobs_and_the_contrastive_loss():
    args = rp.parse_args(["--preset", "collab"])
    assert (args.users, args.items, args.interactions) == (4000, 1000, 240_000)
    assert (args.latent_noise, args.affinity_weight) == (0.3, 2.0)
    assert rp.parse_args(["--preset", "collab", "--latent-noise", "0.5"]).latent_noise == 0.5
    assert rp.parse_args(["--preset", "small"]).latent_noise is None
    config = rp.resolve(rp.Spec("table2", "MMoE", "mmoe", []), args)
    assert config.loss.contrastive == 1.0
