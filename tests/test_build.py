"""mogenet.build: model names (heads, NAME+mgnn, ngcf) → composed modules."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mogenet.build import (
    GRAPH_ENCODERS,
    MODELS,
    ModelSpec,
    build_loss,
    build_model,
    parse_model_name,
)
from mogenet.config import LossConfig, ModelConfig
from mogenet.datasets.features import FeatureTable
from mogenet.errors import InputError
from mogenet.losses import MultiTaskLoss
from mogenet.nn import MGNN, NGCF, MMoE, PairwiseInteraction, UnknownNameError
from mogenet.nn.heads import GraphEnhancedExperts, GraphInput, GraphRepresentationStack
from mogenet.sampling import Fanouts, MultiChannelSampler
from mogenet.sampling.batch import PairBatch

TASKS = ("click", "buy")
SMALL = dict(embedding_dim=4, expert_channels=(8,), tower_channels=(), graph_channels=5)


@pytest.fixture(scope="module")
def bundle(make_bundle):
    return make_bundle(num_users=12, num_items=9, num_rows=60, labels={"click": 1, "buy": 0})


def build(bundle, name, **fields):
    torch.manual_seed(0)
    return build_model(
        ModelConfig(name=name, **{**SMALL, **fields}),
        tasks=TASKS,
        user_features=FeatureTable.empty(bundle.num_users),
        item_features=FeatureTable.empty(bundle.num_items),
    )


def batch(bundle, model):
    user, item = torch.tensor([0, 1, -1, 4]), torch.tensor([2, -1, 3, 0])
    sampler = MultiChannelSampler(bundle, fanouts=Fanouts(bipartite=(3, 3), user_sim=(2,)))
    graphs = sampler.sample(user, item, torch.Generator().manual_seed(0))
    labels = {t: torch.zeros(4) for t in TASKS}
    return PairBatch(user=user, item=item, labels=labels, index=torch.arange(4), graphs=graphs)


def no_grad(model) -> list[str]:
    """Parameters that received no gradient (the modules' own tests check values)."""
    return [name for name, p in model.named_parameters() if p.grad is None]


# ------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    "name, spec",
    [
        ("mmoe", ModelSpec(head="mmoe")),
        ("Shared-Bottom", ModelSpec(head="shared_bottom")),
        ("MMoE+MGNN", ModelSpec(head="mmoe", graph_input=True)),
        ("shared-bottom+mgnn", ModelSpec(head="shared_bottom", graph_input=True)),
        ("NGCF", MODELS["ngcf"]),
    ],
)
def test_parse_model_name(name, spec):
    assert parse_model_name(name) == spec


@pytest.mark.parametrize(
    "name, message",
    [
        ("mogenet+mgnn", "'mogenet' already reads the graph"),
        ("ngcf+mgnn", "'ngcf' already reads the graph"),
        ("mmoe+gcn", "only suffix is '\\+mgnn'"),
        ("+mgnn", "only suffix"),
        ("nope", "unknown model 'nope'; models: .*ngcf.*NAME\\+mgnn.*graph$"),
        ("mmo", "unknown model 'mmo'; .*; did you mean 'mmoe'\\?$"),
        ("nope+mgnn", "unknown model 'nope'"),
    ],
)
def test_bad_model_names(name, message):
    with pytest.raises(InputError, match=message):
        parse_model_name(name)


def test_graph_encoder_registry():
    assert GRAPH_ENCODERS["mgnn"] is MGNN and GRAPH_ENCODERS["ngcf"] is NGCF


# ------------------------------------------------------------------------ models
def test_plain_head_has_no_graph(bundle):
    model = build(bundle, "mmoe")
    assert type(model.head) is MMoE and not model.needs_graphs


def test_id_embeddings_cover_the_log_nodes_only(bundle):
    log = {"user": bundle.num_users - 2, "item": bundle.num_items}
    model = build_model(
        ModelConfig(name="mmoe", **SMALL),
        tasks=TASKS,
        user_features=FeatureTable.empty(bundle.num_users),
        item_features=FeatureTable.empty(bundle.num_items),
        log_nodes=log,
    )
    assert model.user_encoder.num_embedded == log["user"]
    assert model.item_encoder.num_embedded == log["item"]
    assert model.user_encoder.id_embedding.num_embeddings == log["user"] + 1  # + the OOV row


def test_features_only(bundle):
    users = FeatureTable(
        categorical=torch.ones(bundle.num_users, 1, dtype=torch.long),
        cardinalities=(2,),
        categorical_names=("city",),
        numeric=torch.zeros(bundle.num_users, 0),
        numeric_names=(),
    )
    config = ModelConfig(name="mmoe", ids=(), **SMALL)
    args = dict(tasks=TASKS, item_features=FeatureTable.empty(bundle.num_items))
    model = build_model(config, user_features=users, **args)
    assert model.user_encoder.num_embedded == model.item_encoder.num_embedded == 0
    with pytest.raises(InputError, match="nothing to read"):
        build_model(config, user_features=FeatureTable.empty(bundle.num_users), **args)
    items_only = build_model(replace(config, ids=("item",)), user_features=users, **args)
    assert items_only.user_encoder.num_embedded == 0
    assert items_only.item_encoder.num_embedded == bundle.num_items
    with pytest.raises(InputError, match="unknown node type"):
        build_model(replace(config, ids=("page",)), user_features=users, **args)


def test_plus_mgnn_wraps_the_head_on_the_four_mgnn_representations(bundle):
    model = build(bundle, "mmoe+mgnn", head_options={"act": "leaky_relu"})
    x_channels = model.user_encoder.out_channels + model.item_encoder.out_channels
    assert isinstance(model.graph_encoder, MGNN) and model.needs_graphs
    assert isinstance(model.interaction, GraphRepresentationStack)
    assert model.interaction.fields == ("user", "item", "user_sim", "item_sim")
    head = model.head
    assert isinstance(head, GraphInput) and type(head.head) is MMoE and head.with_x
    assert head.in_channels == x_channels and head.head.in_channels == x_channels + 4 * 5
    assert head.head.num_experts == 4  # the shared ModelConfig fields reach the inner head
    out = model(batch(bundle, model))
    assert out.logits["click"].shape == (4,) and out.gates["buy"].shape == (4, 4)
    sum(v.sum() for v in out.logits.values()).backward()
    assert not no_grad(model)


def test_plus_mgnn_with_channels_off(bundle):
    """model.graph_channels_used still applies: a channel off gives the initial encodings."""
    model = build(bundle, "mmoe+mgnn", graph_channels_used=("bipartite",)).eval()
    assert set(model.graph_encoder.convs) == {"bipartite"}
    b = batch(bundle, model)
    with torch.no_grad():
        reps = model.graph_encoder(b.graphs, model.user_encoder, model.item_encoder)
        z = model.interaction(reps)
        p = model.graph_encoder.user_lin(model.user_encoder(b.user))
    assert z.shape == (4, 4, 5)
    torch.testing.assert_close(z[:, 2], p)  # h_u^U = p_u
    assert torch.isfinite(model(b).logits["click"]).all()


def test_ngcf_model_is_per_task_mlps_on_the_ngcf_representations(bundle):
    model = build(bundle, "ngcf", graph_layers=2)
    assert isinstance(model.graph_encoder, NGCF) and model.graph_encoder.out_channels == 15
    assert model.interaction.fields == ("user", "item")
    head = model.head
    assert isinstance(head, GraphInput) and not head.with_x
    assert type(head.head).__name__ == "SingleTaskMLP" and head.head.in_channels == 2 * 15
    out = model(batch(bundle, model))
    assert out.logits["buy"].shape == (4,)
    sum(v.sum() for v in out.logits.values()).backward()
    assert not no_grad(model)  # x is not read by the head, but reaches NGCF


def test_graph_encoder_is_chosen_by_config(bundle):
    model = build(bundle, "mmoe+mgnn", graph_encoder="ngcf", graph_layers=1)
    assert isinstance(model.graph_encoder, NGCF)
    assert model.head.head.in_channels == model.head.in_channels + 2 * 10  # [x ‖ e_u* ‖ e_i*]
    mogenet = build(bundle, "mogenet", graph_encoder="ngcf", graph_layers=1)
    assert isinstance(mogenet.graph_encoder, NGCF)
    assert isinstance(mogenet.interaction, PairwiseInteraction)
    assert mogenet.interaction.channels == 10 and mogenet.head.z_channels == 10
    assert torch.isfinite(mogenet(batch(bundle, mogenet)).logits["click"]).all()
    assert isinstance(build(bundle, "ngcf", graph_encoder="mgnn").graph_encoder, MGNN)


def test_mogenet_keeps_its_interaction_and_degrades_to_mmoe(bundle):
    model = build(bundle, "mogenet", interaction="concat")
    assert type(model.head) is GraphEnhancedExperts and isinstance(model.graph_encoder, MGNN)
    assert model.interaction.kind == "concat" and model.head.z_channels == 10
    plain = build(bundle, "mogenet", head_options={"use_graph": False})
    assert plain.graph_encoder is None and plain.interaction is None


def test_bad_configurations(bundle):
    with pytest.raises(UnknownNameError, match="graph encoder 'gcn'"):
        build(bundle, "mmoe+mgnn", graph_encoder="gcn")
    with pytest.raises(InputError, match="model.graph_update does not apply to the 'ngcf'"):
        build(bundle, "ngcf", graph_update="lstm")
    with pytest.raises(InputError, match="has no option"):
        build(bundle, "mmoe+mgnn", head_options={"z_channels": 3})
    with pytest.raises(InputError, match=r"no option\(s\) num_level .*did you mean 'num_levels'"):
        build(bundle, "ple", head_options={"num_level": 2})


# ------------------------------------------------------- contrastive pair embeddings
@pytest.mark.parametrize(
    "name, pairs",
    [
        ("mmoe", ["id"]),
        ("ngcf", ["id", "user-item"]),
        ("mogenet", ["id", "user-item", "user-item_sim", "user_sim-item", "user_sim-item_sim"]),
    ],
)
def test_models_attach_their_pair_embeddings(bundle, name, pairs):
    model = build(bundle, name)
    b = (
        batch(bundle, model)
        if model.needs_graphs
        else PairBatch(
            user=torch.tensor([0, 1, -1, 4]),
            item=torch.tensor([2, -1, 3, 0]),
            labels={t: torch.zeros(4) for t in TASKS},
            index=torch.arange(4),
        )
    )
    out = model(b)
    emb = out.embeddings
    assert list(emb.pairs) == pairs
    assert torch.equal(emb.item, b.item)
    user, item = emb.pairs["id"]  # the id embeddings, OOV row for cold start
    users, items = model.user_encoder, model.item_encoder
    torch.testing.assert_close(user, users.id_embedding(torch.tensor([0, 1, users.oov_index, 4])))
    torch.testing.assert_close(item, items.id_embedding(torch.tensor([2, items.oov_index, 3, 0])))
    for u, i in emb.pairs.values():
        assert u.shape[0] == i.shape[0] == 4 and u.shape[1] == i.shape[1]
    # the contrastive term trains the encoders: gradients reach the id embeddings
    loss = MultiTaskLoss(tasks=TASKS, contrastive=1.0)
    b.labels["click"] = torch.tensor([1.0, 1.0, 0.0, 1.0])
    loss(model(b), b.labels).terms["contrastive"].backward()
    assert model.user_encoder.id_embedding.weight.grad.abs().sum() > 0
    if model.needs_graphs:
        assert any(p.grad is not None for p in model.graph_encoder.parameters())


def test_unknown_contrastive_task_is_an_input_error():
    with pytest.raises(InputError, match="loss.contrastive_task 'cart' is not a task"):
        build_loss(LossConfig(contrastive=1.0, contrastive_task="cart"), tasks=TASKS)
