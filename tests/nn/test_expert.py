import pytest
import torch

from mogenet.nn import expert_mlp, tower_mlp


def test_expert_shapes_and_last_activation():
    expert = expert_mlp(in_channels=6, channels=(8, 4))
    out = expert(torch.randn(10, 6))
    assert out.shape == (10, 4)
    assert (out >= 0).all()  # activated after the last layer (ReLU)
    assert repr(expert) == "MLP(6, 8, 4)"


def test_tower_last_layer_is_plain():
    tower = tower_mlp(in_channels=4, channels=(3,), dropout=0.3).eval()
    x = torch.randn(20, 4)
    out = tower(x)
    assert out.shape == (20, 1)
    torch.testing.assert_close(out, tower.lins[1](torch.relu(tower.lins[0](x))))  # a logit
    assert repr(tower) == "MLP(4, 3, 1)"
    assert tower.dropout[-1] == 0.0


def test_tower_without_hidden_layers_is_linear():
    tower = tower_mlp(in_channels=4)
    assert len(tower.lins) == 1
    x = torch.randn(3, 4)
    torch.testing.assert_close(tower(x), tower.lins[0](x))


def test_norm_and_dropout_options():
    expert = expert_mlp(in_channels=4, channels=(8,), norm="batch_norm", dropout=0.5)
    assert len(expert.norms) == 1 and expert.dropout == [0.5]
    assert expert(torch.randn(6, 4)).shape == (6, 8)


def test_layer_norm_is_per_example():
    expert = expert_mlp(in_channels=4, channels=(8,), norm="layer_norm")
    x = torch.randn(5, 4)
    torch.testing.assert_close(expert(x)[:2], expert(x[:2]))  # other rows do not leak in


def test_gradients(assert_grads):
    expert = expert_mlp(in_channels=4, channels=(8, 4), act="leaky_relu")
    tower = tower_mlp(in_channels=4, channels=(3,), act="leaky_relu")
    tower(expert(torch.randn(16, 4))).sum().backward()
    assert_grads(expert)
    assert_grads(tower)


def test_bad_channels():
    with pytest.raises(ValueError):
        expert_mlp(in_channels=4, channels=())
    with pytest.raises(ValueError):
        tower_mlp(in_channels=4, channels=(0,))
