import torch

from mogenet.nn import SharedBottom


def test_shapes_and_repr():
    head = SharedBottom(
        in_channels=5, tasks=("a", "b", "c"), bottom_channels=(6,), tower_channels=()
    )
    out = head(torch.randn(4, 5))
    assert out.gates is None
    assert {t: v.shape for t, v in out.logits.items()} == {t: (4,) for t in "abc"}
    assert (
        repr(head)
        == "SharedBottom(5, tasks=['a', 'b', 'c'], bottom_channels=[6], tower_channels=[])"
    )


def test_towers_share_the_bottom():
    head = SharedBottom(in_channels=5, tasks=("a", "b"), bottom_channels=(6,), tower_channels=(3,))
    x = torch.randn(4, 5)
    shared = head.bottom(x)
    torch.testing.assert_close(head(x).logits["b"], head.towers["b"](shared).squeeze(-1))


def test_gradients(assert_grads):
    head = SharedBottom(in_channels=5, tasks=("a", "b"), bottom_channels=(6, 4), norm="layer_norm")
    out = head(torch.randn(12, 5))
    (out.logits["a"] - out.logits["b"].square()).sum().backward()
    assert_grads(head)
