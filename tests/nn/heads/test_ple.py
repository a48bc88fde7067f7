import pytest
import torch

from mogenet.config import ModelConfig
from mogenet.nn.heads import CGC, PLE, MMoE

TASKS = ("click", "cart", "buy")


def make(cls=PLE, **kwargs):
    defaults = dict(
        in_channels=6, tasks=TASKS, num_experts=2, num_task_experts=2, expert_channels=(8, 4)
    )
    return cls(**{**defaults, **kwargs})


def test_shapes_gates_and_repr(assert_gated_output):
    head = make(num_levels=3, tower_channels=(5,))
    out = head(torch.randn(7, 6))
    assert_gated_output(out, tasks=TASKS, batch=7, num_experts=2 + 2)  # own + shared experts
    assert repr(head) == (
        "PLE(6, tasks=['click', 'cart', 'buy'], num_levels=3, num_experts=2, "
        "num_task_experts=2, expert_channels=[8, 4], tower_channels=[5])"
    )
    assert repr(make(CGC)) == (
        "CGC(6, tasks=['click', 'cart', 'buy'], num_experts=2, num_task_experts=2, "
        "expert_channels=[8, 4], tower_channels=[16])"
    )


def test_levels_and_gate_widths():
    head = make(num_levels=3)
    assert len(head.levels) == 3
    x = torch.randn(5, 6)
    task_inputs, shared_input = dict.fromkeys(TASKS, x), x
    for i, level in enumerate(head.levels):
        task_inputs, gates, shared_input = level(task_inputs, shared_input)
        for task in TASKS:
            assert len(level.task_experts[task]) == 2
            assert level.task_gates[task].num_experts == 2 + 2  # own ‖ shared
            assert task_inputs[task].shape == (5, 4)
            torch.testing.assert_close(gates[task].sum(-1), torch.ones(5))
        if i < 2:  # a shared gate over every expert feeds the next level
            assert level.shared_gate.num_experts == 3 * 2 + 2
            assert shared_input.shape == (5, 4)
        else:
            assert level.shared_gate is None and shared_input is None
    assert head.levels[1].shared_experts[0].lins[0].in_channels == 4


def test_cgc_is_one_level_ple():
    cgc = make(CGC)
    assert isinstance(cgc, PLE) and cgc.num_levels == 1 and len(cgc.levels) == 1
    ple = make(num_levels=1)
    ple.load_state_dict(cgc.state_dict())
    x = torch.randn(5, 6)
    for task in TASKS:
        torch.testing.assert_close(cgc(x).logits[task], ple(x).logits[task], rtol=0, atol=0)


def test_task_gate_mixes_own_then_shared_experts():
    head = make(CGC)
    level = head.levels[0]
    x = torch.randn(5, 6)
    experts = [e(x) for e in level.task_experts["cart"]] + [e(x) for e in level.shared_experts]
    g = level.task_gates["cart"](x)  # [B, 4]
    mixed = sum(g[:, e : e + 1] * experts[e] for e in range(4))
    torch.testing.assert_close(head(x).logits["cart"], head.towers["cart"](mixed).squeeze(-1))


def test_shared_gate_mixes_every_expert():
    level = make(num_levels=2).levels[0]
    x = torch.randn(5, 6)
    _, _, shared = level(dict.fromkeys(TASKS, x), x)
    experts = [e(x) for t in TASKS for e in level.task_experts[t]]
    experts += [e(x) for e in level.shared_experts]
    g = level.shared_gate(x)  # [B, 3 * 2 + 2]
    torch.testing.assert_close(g.sum(-1), torch.ones(5))
    torch.testing.assert_close(shared, sum(g[:, e : e + 1] * experts[e] for e in range(8)))


@pytest.mark.parametrize("cls", [PLE, CGC])
def test_one_level_without_task_experts_equals_mmoe(cls):
    kwargs = dict(num_levels=1) if cls is PLE else {}
    ple = make(cls, num_experts=3, num_task_experts=0, tower_channels=(3,), **kwargs).eval()
    mmoe = MMoE(
        in_channels=6, tasks=TASKS, num_experts=3, expert_channels=(8, 4), tower_channels=(3,)
    ).eval()
    rename = {"experts.": "levels.0.shared_experts.", "gates.": "levels.0.task_gates."}
    state = {}
    for key, value in mmoe.state_dict().items():
        for old, new in rename.items():
            key = new + key[len(old) :] if key.startswith(old) else key
        state[key] = value
    ple.load_state_dict(state)  # strict: PLE has no other parameters
    x = torch.randn(9, 6)
    a, b = ple(x), mmoe(x)
    for task in TASKS:
        assert torch.equal(a.logits[task], b.logits[task])
        assert torch.equal(a.gates[task], b.gates[task])


def test_gradients(assert_grads):
    head = make(num_levels=2, dropout=0.1, act="leaky_relu")  # leaky: no dead units
    out = head(torch.randn(16, 6))
    sum(out.logits.values()).sum().backward()
    assert_grads(head)


def test_bad_arguments():
    with pytest.raises(ValueError):
        make(num_levels=0)
    with pytest.raises(ValueError):
        make(num_experts=0)
    with pytest.raises(ValueError):
        make(num_task_experts=-1)


@pytest.mark.parametrize("name, cls", [("ple", PLE), ("cgc", CGC)])
def test_builds_from_default_config(default_head, name, cls):
    head = default_head(name, TASKS)
    assert type(head) is cls
    assert head.num_experts == ModelConfig().num_experts  # shared experts
