import pytest
import torch

from mogenet.build import build_model
from mogenet.config import RunConfig
from mogenet.datasets.features import FeatureTable
from mogenet.errors import InputError
from mogenet.nn.heads.chain import ChainError, calibration_penalty, chain_parents, check_chain

TASKS = ("click", "cart", "fav", "buy")


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
    with pytest.raises(InputError, match="not the string"):  # the CLI prints it as one line
        build("click,buy")
