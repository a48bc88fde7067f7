import pytest
import torch

from mogenet.build import build_model
from mogenet.config import RunConfig
from mogenet.datasets.features import FeatureTable
from mogenet.errors import InputError
from mogenet.nn.heads.chain import (
    ChainError,
    calibration_penalty,
    chain_parents,
    chain_root,
    check_chain,
)

TASKS = ("click", "cart", "fav", "buy")
BRANCHES = (("click", "cart", "buy"), ("click", "fav"))  # fav follows click, not cart


def test_check_chain_default_order_subset_and_permutation():
    assert check_chain(None, TASKS) == TASKS
    assert check_chain(["click", "cart", "buy"], TASKS) == ("click", "cart", "buy")
    assert check_chain(("buy", "click"), TASKS) == ("buy", "click")  # any order is allowed
    assert check_chain(["fav"], TASKS) == ("fav",)


@pytest.mark.parametrize(
    ("chain", "words"),
    [
        ("click,buy", "not the string"),
        ([], "empty"),
        (["click", "pay"], "unknown task"),
        (["click", "buy", "click"], "repeats"),
    ],
)
def test_check_chain_errors(chain, words):
    with pytest.raises(ChainError, match=words) as info:
        check_chain(chain, TASKS)
    # a ValueError for library users, a one-line InputError for the CLI
    assert isinstance(info.value, ValueError) and isinstance(info.value, InputError)


def test_chain_parents():
    assert chain_parents(("click", "cart", "buy")) == {"cart": "click", "buy": "cart"}
    assert chain_parents(("click",)) == {}


def test_branching_funnel():
    assert check_chain([["click", "cart", "buy"], ["click", "fav"]], TASKS) == BRANCHES
    assert check_chain([["click", "cart"]], TASKS) == ("click", "cart")  # one branch: a chain
    assert check_chain([["click", "cart"], ["click", "cart", "buy"]], TASKS) == (
        ("click", "cart"),
        ("click", "cart", "buy"),
    )  # branches may share more than the root
    parents = chain_parents(BRANCHES)
    assert parents == {"cart": "click", "buy": "cart", "fav": "click"}
    assert list(parents) == ["cart", "buy", "fav"]  # a parent comes before its children
    assert chain_root(BRANCHES) == "click" and chain_root(("cart", "buy")) == "cart"


@pytest.mark.parametrize(
    ("chain", "words"),
    [
        ([["click", "cart"], ["cart", "buy"]], "start at the same task"),
        ([["click", "cart", "buy"], ["click", "buy"]], "'buy' follows 'cart' .* and 'click'"),
        ([["click", "cart"], "fav"], "not the string"),
        ([["click", "cart"], []], "empty"),
        (["click", ["cart"]], "list of task names or a list of such lists"),
        ([["click", "pay"], ["click", "fav"]], "unknown task"),
    ],
)
def test_branching_funnel_errors(chain, words):
    with pytest.raises(ChainError, match=words):
        check_chain(chain, TASKS)


def test_calibration_penalty_over_every_edge_of_a_branching_funnel():
    logits = {
        "click": torch.zeros(2),
        "cart": torch.full((2,), -1.0),
        "buy": torch.zeros(2),  # rises over its parent cart
        "fav": torch.ones(2),  # rises over its parent click
    }
    sig = torch.sigmoid
    expected = (0.5 - sig(torch.tensor(-1.0))) + (sig(torch.tensor(1.0)) - 0.5)
    torch.testing.assert_close(calibration_penalty(logits, BRANCHES), expected)
    logits["fav"] = torch.full((2,), -3.0)  # below click, though above cart: no term
    torch.testing.assert_close(calibration_penalty(logits, BRANCHES), 0.5 - sig(torch.tensor(-1.0)))


def test_calibration_penalty_zero_when_monotone():
    chain = ("click", "cart", "buy")
    base = torch.randn(64)
    logits = {"click": base, "cart": base - torch.rand(64), "buy": base - 2}
    logits["cart"][:3] = base[:3]  # ties count as monotone
    assert calibration_penalty(logits, chain).item() == 0.0


def test_calibration_penalty_value_and_gradient():
    chain = ("click", "buy")
    click = torch.tensor([0.0, 0.0, 1.0], requires_grad=True)
    buy = torch.tensor([1.0, -1.0, 1.0], requires_grad=True)
    out = calibration_penalty({"click": click, "buy": buy}, chain)
    expected = (torch.sigmoid(torch.tensor(1.0)) - 0.5) / 3  # only row 0 rises
    torch.testing.assert_close(out, expected)
    out.backward()
    assert buy.grad[0] > 0 and click.grad[0] < 0
    assert buy.grad[1] == 0 and click.grad[1] == 0  # monotone row: no gradient


def test_calibration_penalty_sums_adjacent_pairs_only():
    chain = ("a", "b", "c")
    logits = {"a": torch.zeros(2), "b": torch.full((2,), -1.0), "c": torch.zeros(2)}
    # a→b falls, b→c rises by sigmoid(0) - sigmoid(-1); a→c (not adjacent) is not counted
    expected = 0.5 - torch.sigmoid(torch.tensor(-1.0))
    torch.testing.assert_close(calibration_penalty(logits, chain), expected)


def test_calibration_penalty_single_step_is_zero():
    assert calibration_penalty({"click": torch.randn(4)}, ("click",)).item() == 0.0


@pytest.mark.parametrize("name", ["esmm", "aitm", "bpcm"])
def test_chain_from_the_command_line_setting(name):
    def build(value):
        config = RunConfig().override([f"model.name={name}", f"model.head_options.chain={value}"])
        return build_model(
            config.model,
            tasks=TASKS,
            user_features=FeatureTable.empty(5),
            item_features=FeatureTable.empty(4),
        )

    assert build("[click,cart,buy]").head.chain == ("click", "cart", "buy")
    assert build("[[click,cart,buy],[click,fav]]").head.chain == BRANCHES
    with pytest.raises(InputError, match="not the string"):  # the CLI prints it as one line
        build("click,buy")
