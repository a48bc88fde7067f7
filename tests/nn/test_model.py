import pytest
import torch

from mogenet.losses import MultiTaskLoss
from mogenet.nn import HeadOutput, MMoE, MultiTaskHead, MultiTaskModel, NodeEncoder, resolve_head
from mogenet.sampling.batch import PairBatch

TASKS = ("click", "buy")


def build(feature_table, head="mmoe", **head_kwargs):
    user = NodeEncoder(num_nodes=5, embedding_dim=4, features=feature_table(5, seed=1))
    item = NodeEncoder(
        num_nodes=7, embedding_dim=4, features=feature_table(7, (4,), 1, seed=2), feature_dim=2
    )
    head = resolve_head(
        head, in_channels=user.out_channels + item.out_channels, tasks=TASKS, **head_kwargs
    )
    return MultiTaskModel(user_encoder=user, item_encoder=item, head=head)


def make_batch():
    user = torch.tensor([0, 1, 2, 3, 4, -1, 2, 0])
    item = torch.tensor([0, 1, 2, 3, 4, 5, 6, -1])
    labels = {"click": torch.tensor([1.0, 0, 1, 1, 0, 0, 1, 0]), "buy": torch.zeros(8)}
    labels["buy"][0] = 1.0
    return PairBatch(user=user, item=item, labels=labels, index=torch.arange(8))


def test_forward_shapes_and_tasks(feature_table):
    model = build(feature_table, num_experts=2, expert_channels=(8,))
    assert model.tasks == TASKS
    out = model(make_batch())
    assert isinstance(out, HeadOutput)
    assert {t: v.shape for t, v in out.logits.items()} == {t: (8,) for t in TASKS}
    assert out.gates["click"].shape == (8, 2)


def test_pair_features_and_embeddings(feature_table):
    model = build(feature_table)
    batch = make_batch()
    x = model.pair_features(batch.user, batch.item)
    assert x.shape == (8, model.head.in_channels)
    u = model.user_embedding(batch.user)
    torch.testing.assert_close(x[:, : u.size(1)], u)
    torch.testing.assert_close(x[:, u.size(1) :], model.item_embedding(batch.item))
    assert model.item_embedding(torch.arange(7)).shape == (7, model.item_encoder.out_channels)


def test_gradients(feature_table, assert_grads):
    model = build(feature_table, head="shared_bottom", bottom_channels=(8,))
    out = model(make_batch())
    sum(v.sum() for v in out.logits.values()).backward()
    assert_grads(model)


def test_repr(feature_table):
    r = repr(build(feature_table, num_experts=2))
    assert r.startswith("MultiTaskModel(user=NodeEncoder(5, 16, ")
    assert "head=MMoE(" in r and "\n" not in r


def test_channel_mismatch_is_reported():
    enc = NodeEncoder(num_nodes=3, embedding_dim=4)
    with pytest.raises(ValueError, match="in_channels=9 but the encoders produce 4 \\+ 4 = 8"):
        MultiTaskModel(user_encoder=enc, item_encoder=enc, head=MMoE(in_channels=9, tasks=TASKS))


def test_graph_head_needs_graph_encoder():
    class GraphHead(MultiTaskHead):
        uses_graph = True

        def reset_parameters(self):
            pass

        def forward(self, x, z=None):
            raise AssertionError

    enc = NodeEncoder(num_nodes=3, embedding_dim=4)
    with pytest.raises(ValueError, match="reads graph interactions"):
        MultiTaskModel(
            user_encoder=enc, item_encoder=enc, head=GraphHead(in_channels=8, tasks=TASKS)
        )


def test_learns_a_tiny_batch(feature_table):
    torch.manual_seed(0)
    model = build(feature_table, num_experts=2, expert_channels=(8,), tower_channels=())
    loss_fn = MultiTaskLoss(tasks=TASKS)
    opt = torch.optim.Adam([*model.parameters(), *loss_fn.parameters()], lr=0.05)
    batch = make_batch()
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn(model(batch), batch.labels)
        loss.total.backward()
        opt.step()
        first = first if first is not None else {t: v.item() for t, v in loss.per_task.items()}
    for t in TASKS:
        assert loss.per_task[t].item() < 0.5 * first[t]


class Spy(MultiTaskHead):
    """Records the keyword inputs it receives."""

    inputs = frozenset({"sequence", "scenario"})

    def __init__(self, *, in_channels, tasks):
        super().__init__(in_channels=in_channels, tasks=tasks)
        self.lin = torch.nn.Linear(in_channels, len(self.tasks))
        self.seen = {}

    def reset_parameters(self):
        self.lin.reset_parameters()

    def forward(self, x, z=None, **inputs):
        self.seen = inputs
        out = self.lin(x)
        return HeadOutput(logits={t: out[:, k] for k, t in enumerate(self.tasks)})


def with_inputs(batch):
    batch.sequence = torch.tensor([[-1, 0, 3]] * 8)  # [B, L] left-padded
    batch.sequence_labels = torch.ones(8, 3, len(TASKS))
    batch.scenario = torch.arange(8) % 2
    return batch


def test_declared_inputs_are_embedded_and_passed(feature_table):
    model = build(feature_table)
    spy = Spy(in_channels=model.head.in_channels, tasks=TASKS)
    model = MultiTaskModel(
        user_encoder=model.user_encoder, item_encoder=model.item_encoder, head=spy
    )
    batch = with_inputs(make_batch())
    model(batch)
    seen = spy.seen
    assert set(seen) == {"sequence", "sequence_labels", "sequence_mask", "scenario"}
    assert seen["sequence"].shape == (8, 3, spy.in_channels)
    # step l of row b is the pair (user b, history item l), as x is for the candidate
    expected = model.pair_features(batch.user.repeat_interleave(3), batch.sequence.reshape(-1))
    torch.testing.assert_close(seen["sequence"].reshape(24, -1), expected)
    assert seen["sequence_mask"].tolist() == [[False, True, True]] * 8
    assert seen["sequence_labels"].dtype == torch.float32
    assert torch.equal(seen["scenario"], batch.scenario)


def test_missing_or_unknown_inputs_are_reported(feature_table):
    model = build(feature_table)
    spy = Spy(in_channels=model.head.in_channels, tasks=TASKS)
    model = MultiTaskModel(
        user_encoder=model.user_encoder, item_encoder=model.item_encoder, head=spy
    )
    with pytest.raises(ValueError, match="Spy reads batch.scenario, but the batch has none"):
        model(make_batch())

    class Weather(Spy):
        inputs = frozenset({"weather"})

    enc = NodeEncoder(num_nodes=3, embedding_dim=4)
    with pytest.raises(ValueError, match=r"input\(s\) \['weather'\] that the model cannot provide"):
        MultiTaskModel(user_encoder=enc, item_encoder=enc, head=Weather(in_channels=8, tasks=TASKS))


@pytest.mark.parametrize(
    "head,kwargs",
    [
        ("mose", dict(max_length=3, num_experts=2, bottom_channels=(4,), expert_channels=(4,))),
        ("aesm2", dict(num_scenarios=2, num_experts=2, top_k_specific=1, top_k_shared=1)),
    ],
)
def test_context_heads_train_through_the_model(feature_table, assert_grads, head, kwargs):
    torch.manual_seed(0)
    model = build(feature_table, head=head, **kwargs)
    batch = with_inputs(make_batch())
    batch.item[3] = 0  # item 3 now appears only in the histories
    out = model(batch)
    assert {t: v.shape for t, v in out.logits.items()} == {t: (8,) for t in TASKS}
    loss = MultiTaskLoss(tasks=TASKS)(out, batch.labels)
    loss.total.backward()
    assert_grads(model.head)
    if head == "mose":  # the histories reach the item embeddings
        assert model.item_encoder.id_embedding.weight.grad[3].abs().sum() > 0
