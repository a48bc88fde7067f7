import pytest
import torch

from mogenet.nn import HeadOutput, MultiTaskHead
from mogenet.nn.heads import check_tasks


def test_check_tasks():
    assert check_tasks(["click", "buy"]) == ("click", "buy")
    for bad in ([], "click", ["a", "a"], ["a.b"], [""], [1]):
        with pytest.raises(ValueError):
            check_tasks(bad)


def test_abstract():
    with pytest.raises(TypeError):
        MultiTaskHead(in_channels=3, tasks=("a",))


def test_minimal_subclass_repr_and_output():
    class Linear(MultiTaskHead):
        def __init__(self, *, in_channels, tasks):
            super().__init__(in_channels=in_channels, tasks=tasks)
            self.lin = torch.nn.Linear(in_channels, len(self.tasks))
            self.reset_parameters()

        def reset_parameters(self):
            self.lin.reset_parameters()

        def forward(self, x, z=None):
            out = self.lin(x)
            return HeadOutput(logits={t: out[:, k] for k, t in enumerate(self.tasks)})

    head = Linear(in_channels=3, tasks=("a", "b"))
    assert repr(head) == "Linear(3, tasks=['a', 'b'])"
    assert head.num_tasks == 2 and not head.uses_graph
    out = head(torch.randn(4, 3))
    assert out.tasks == ("a", "b") and out.gates is None and out.aux == {}
    probs = out.probabilities()
    assert ((probs["a"] > 0) & (probs["a"] < 1)).all()
