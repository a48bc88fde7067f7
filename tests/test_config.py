import pytest

from mogenet.config import RunConfig
from mogenet.errors import InputError


def test_yaml_round_trip(tmp_path):
    cfg = RunConfig().override(
        ["train.lr=0.01", "model.expert_channels=[8, 4]", "tasks=[click,buy]"]
    )
    p = tmp_path / "c.yaml"
    p.write_text(cfg.to_yaml())
    back = RunConfig.from_yaml(p)
    assert back == cfg
    assert back.model.expert_channels == (8, 4) and back.tasks == ("click", "buy")


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("train.lrr=1", "unknown setting 'lrr' .*; did you mean 'lr'\\?$"),
        ("train.learning_rate=1", "unknown setting 'learning_rate' \\(known: .*weight_decay\\)$"),
        (
            "trainer.lr=1",
            "unknown section 'trainer' \\(known: graph, loss, .*\\); did you mean 'train'",
        ),
        ("train.epochs=abc", "expected int"),
        ("train.epochs=1.5", "expected an integer"),
        ("train.lr", "key=value"),
    ],
)
def test_bad_overrides(assignment, message):
    with pytest.raises(InputError, match=message):
        RunConfig().override([assignment])


def test_head_options_accept_new_keys():
    cfg = RunConfig().override(["model.head_options.num_levels=2"])
    assert cfg.model.head_options == {"num_levels": 2}


def test_bad_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("- just\n- a list\n")
    with pytest.raises(InputError, match="mapping"):
        RunConfig.from_yaml(p)


def test_paper_preset():
    cfg = RunConfig.preset("mogenet-paper")
    assert cfg.model.name == "mogenet" and cfg.model.graph_layers == 2
    assert cfg.model.graph_channels == 64 and cfg.model.expert_channels == (32, 32)
    assert cfg.loss.cooperative == 1e-6 and cfg.train.weight_decay == 1e-3
    assert cfg.train.lr == 1e-4 and cfg.train.batch_size == 256
    with pytest.raises(InputError, match="unknown preset"):
        RunConfig.preset("nope")


def test_fast_preset_is_the_benchmarked_mogenet():
    cfg = RunConfig.preset("mogenet-fast")
    assert cfg.model.name == "mogenet" and cfg.model.tower_channels == ()
    assert cfg.loss.contrastive == 1.0 and cfg.loss.weighting == "uncertainty"
    assert cfg.train.batch_size == 1024 and cfg.train.lr == 2e-3 and cfg.train.patience == 3
    assert cfg.sampler.bipartite == (5, 5) and cfg.sampler.item_sim == (5, 5)
