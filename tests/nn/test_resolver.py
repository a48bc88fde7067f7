import pytest

from mogenet.errors import InputError
from mogenet.nn import HEADS, MMoE, Registry, SharedBottom, UnknownNameError, resolve_head


def test_builtin_heads_registered():
    assert HEADS["mmoe"] is MMoE
    assert HEADS["shared_bottom"] is SharedBottom


def test_names_are_normalised():
    head = resolve_head("Shared-Bottom", in_channels=4, tasks=("a",), bottom_channels=(3,))
    assert isinstance(head, SharedBottom)
    assert isinstance(resolve_head("MMOE", in_channels=4, tasks=("a",)), MMoE)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="unknown head 'nope'; available: .*mmoe.*shared_bottom"):
        resolve_head("nope", in_channels=4, tasks=("a",))
    with pytest.raises(InputError):  # printed as one line by the CLI
        resolve_head("nope")


def test_registry_register_and_duplicates():
    reg: Registry = Registry("thing")

    @reg.register("Foo-Bar")
    class Foo:
        def __init__(self, *, x: int) -> None:
            self.x = x

    assert reg.resolve("foo_bar", x=3).x == 3
    assert reg.get_class("FOO-BAR") is Foo
    reg.register("foo_bar")(Foo)  # re-registering the same class is harmless
    with pytest.raises(ValueError, match="already registered"):

        @reg.register("foo_bar")
        class Other:
            pass

    with pytest.raises(UnknownNameError, match="unknown thing 'baz'; available: foo_bar$"):
        reg.get_class("baz")
    with pytest.raises(UnknownNameError, match="available: foo_bar; did you mean 'foo_bar'\\?$"):
        reg.get_class("Foo-Baz")
    assert repr(reg) == "Registry(thing: ['foo_bar'])"
