import pytest
import torch

from mogenet.datasets.features import FeatureTable
from mogenet.nn import NodeEncoder


def test_shapes_and_repr(feature_table):
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feature_table(6), feature_dim=4)
    assert enc.out_channels == 8 + 2 * 4 + 4
    out = enc(torch.tensor([0, 5, 3, -1]))
    assert out.shape == (4, enc.out_channels)
    assert repr(enc) == "NodeEncoder(6, 20, embedding_dim=8, categorical=2, numeric=2)"


def test_ids_only():
    enc = NodeEncoder(num_nodes=4, embedding_dim=5)
    assert enc.out_channels == 5
    assert torch.equal(enc(torch.tensor([2])), enc.id_embedding.weight[2:3])
    assert enc.numeric_lin is None and len(enc.categorical_embeddings) == 0


def test_feature_dim_defaults_to_embedding_dim(feature_table):
    enc = NodeEncoder(num_nodes=3, embedding_dim=6, features=feature_table(3))
    assert enc.out_channels == 6 * 4


def test_lookup_is_concatenation(feature_table):
    feats = feature_table(6)
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feats, feature_dim=4)
    v = 4
    expected = torch.cat(
        [
            enc.id_embedding.weight[v],
            enc.categorical_embeddings[0].weight[feats.categorical[v, 0]],
            enc.categorical_embeddings[1].weight[feats.categorical[v, 1]],
            enc.numeric_lin(feats.numeric[v]),
        ]
    )
    torch.testing.assert_close(enc(torch.tensor([v]))[0], expected)


def test_cold_start_maps_to_oov_row(feature_table):
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feature_table(6), feature_dim=4)
    out = enc(torch.tensor([-1, -1, 2]))
    expected = torch.cat(
        [
            enc.id_embedding.weight[enc.oov_index],
            enc.categorical_embeddings[0].weight[0],  # code 0 = missing
            enc.categorical_embeddings[1].weight[0],
            enc.numeric_lin.bias,  # numeric 0 = the mean
        ]
    )
    torch.testing.assert_close(out[0], expected)
    torch.testing.assert_close(out[1], expected)
    assert not torch.allclose(out[2], expected)


def test_feature_only_nodes_share_the_oov_id_row(feature_table):
    """Nodes ``>= num_embedded`` (in the table, not in the training log) get the OOV
    id row but keep their own features."""
    feats = feature_table(6)
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feats, feature_dim=4, num_embedded=4)
    assert enc.oov_index == 4 and enc.id_embedding.num_embeddings == 5
    assert "num_embedded=4" in repr(enc)
    out = enc(torch.tensor([3, 4, 5, -1]))
    oov = enc.id_embedding.weight[4]
    torch.testing.assert_close(out[0, :8], enc.id_embedding.weight[3])
    for row in out[1:]:
        torch.testing.assert_close(row[:8], oov)
    for v, row in zip((4, 5), out[1:3], strict=True):  # their own features
        torch.testing.assert_close(
            row[8:12], enc.categorical_embeddings[0].weight[feats.categorical[v, 0]]
        )
        torch.testing.assert_close(row[16:], enc.numeric_lin(feats.numeric[v]))
    assert not torch.allclose(out[1], out[2])  # features tell them apart
    torch.testing.assert_close(out[3, 16:], enc.numeric_lin.bias)  # unknown: mean features


def test_features_only_trains_the_shared_row(feature_table):
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feature_table(6), num_embedded=0)
    assert enc.id_embedding.num_embeddings == 1
    enc(torch.arange(6)).square().sum().backward()
    assert enc.id_embedding.weight.grad.abs().sum() > 0


def test_id_dropout_trains_the_oov_row(feature_table):
    feats = feature_table(6)
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feats, id_dropout=0.5)
    index = torch.arange(6).repeat(50)  # [300]
    torch.manual_seed(0)
    out = enc(index)
    oov = (out[:, :8] == enc.id_embedding.weight[enc.oov_index]).all(dim=1)
    assert 100 < int(oov.sum()) < 200  # about half, drawn per lookup
    own = enc.id_embedding.weight[index]
    torch.testing.assert_close(out[~oov, :8], own[~oov])
    torch.testing.assert_close(out[oov, 8:], enc(index)[oov, 8:])  # features kept
    out.square().sum().backward()
    assert enc.id_embedding.weight.grad[enc.oov_index].abs().sum() > 0
    enc.eval()  # evaluation: every node its own row
    torch.testing.assert_close(enc(index)[:, :8], own)


def test_no_id_dropout_draws_nothing(feature_table):
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feature_table(6))
    state = torch.get_rng_state()
    enc(torch.arange(6))
    assert torch.equal(torch.get_rng_state(), state)  # earlier runs stay reproducible


def test_gradients(feature_table, assert_grads):
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feature_table(6), feature_dim=4)
    enc(torch.tensor([0, 1, 2, 3, 4, 5, -1])).square().sum().backward()
    assert_grads(enc)
    assert enc.id_embedding.weight.grad[enc.oov_index].abs().sum() > 0


def test_features_are_non_persistent_buffers(feature_table):
    feats = feature_table(6)
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feats)
    buffers = dict(enc.named_buffers())
    assert buffers["categorical"].shape == (7, 2)  # + the OOV row
    assert buffers["numeric"].shape == (7, 2)
    state = enc.state_dict()
    assert "categorical" not in state and "numeric" not in state
    other = NodeEncoder(num_nodes=6, embedding_dim=8, features=feats)
    other.load_state_dict(state)
    idx = torch.tensor([0, 3, -1])
    torch.testing.assert_close(other(idx), enc(idx))
    enc = enc.to(torch.float64)  # buffers follow .to(); codes stay integer
    assert enc.numeric.dtype == torch.float64 and enc.categorical.dtype == torch.long


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_buffers_move_to_cuda(feature_table):
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feature_table(6)).to("cuda")
    assert enc.categorical.is_cuda and enc.numeric.is_cuda
    assert enc(torch.tensor([0, -1], device="cuda")).is_cuda


def test_bad_arguments(feature_table):
    with pytest.raises(ValueError, match="rows"):
        NodeEncoder(num_nodes=5, embedding_dim=8, features=feature_table(6))
    with pytest.raises(ValueError):
        NodeEncoder(num_nodes=0, embedding_dim=8)
    with pytest.raises(ValueError):
        NodeEncoder(num_nodes=3, embedding_dim=8, feature_dim=0)
    with pytest.raises(ValueError, match="num_embedded"):
        NodeEncoder(num_nodes=3, embedding_dim=8, num_embedded=4)
    with pytest.raises(ValueError, match="id_dropout"):
        NodeEncoder(num_nodes=3, embedding_dim=8, id_dropout=1.0)


def test_empty_table_equals_no_features():
    enc = NodeEncoder(num_nodes=3, embedding_dim=4, features=FeatureTable.empty(3))
    assert enc.out_channels == 4


def test_reset_parameters(feature_table):
    enc = NodeEncoder(num_nodes=6, embedding_dim=8, features=feature_table(6))
    before = enc.id_embedding.weight.clone()
    enc.reset_parameters()
    assert not torch.equal(before, enc.id_embedding.weight)


def test_appended_numeric_columns_reach_the_encoder(feature_table):
    table = feature_table(6)
    extra = torch.randn(6, 3)
    wider = table.with_numeric(extra, ("s1", "s2", "s3"))
    assert wider.numeric_names == (*table.numeric_names, "s1", "s2", "s3")
    assert wider.numeric[:, -3:].equal(extra) and wider.categorical is table.categorical
    enc = NodeEncoder(num_nodes=wider.num_nodes, embedding_dim=4, features=wider)
    assert enc.numeric_lin.in_features == len(wider.numeric_names)
    with pytest.raises(ValueError, match="expected"):
        table.with_numeric(extra[:-1], ("s1", "s2", "s3"))
