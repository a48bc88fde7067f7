import pytest
import torch

from mogenet.nn import Gate


def test_shape_rows_sum_to_one_and_repr():
    gate = Gate(in_channels=6, num_experts=3)
    w = gate(torch.randn(5, 6) * 10)
    assert w.shape == (5, 3)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(5))
    assert repr(gate) == "Gate(6, num_experts=3)"


def test_single_expert_weight_is_one():
    w = Gate(in_channels=4, num_experts=1)(torch.randn(7, 4))
    assert torch.equal(w, torch.ones(7, 1))


def test_is_linear_then_softmax():
    gate = Gate(in_channels=4, num_experts=3)
    x = torch.randn(2, 4)
    torch.testing.assert_close(gate(x), torch.softmax(x @ gate.lin.weight.T + gate.lin.bias, -1))
    assert len(list(gate.children())) == 1  # no hidden layer, norm or dropout


def test_gradients(assert_grads):
    gate = Gate(in_channels=4, num_experts=3)
    (gate(torch.randn(8, 4)) * torch.randn(8, 3)).sum().backward()
    assert_grads(gate)


def test_bad_arguments():
    with pytest.raises(ValueError):
        Gate(in_channels=4, num_experts=0)
