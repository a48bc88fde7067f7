"""Names → classes, in one place (as PyG's ``torch_geometric.nn.resolver``).

A :class:`Registry` is a ``dict`` from a normalised name to a class, filled by a
decorator next to each class definition, so adding a head is one decorated class and
no factory to edit::

    @register_head("mmoe")
    class MMoE(MultiTaskHead): ...

    head = resolve_head("mmoe", in_channels=64, tasks=("click", "buy"))

Names are case-insensitive and ``-`` equals ``_`` (``"Shared-Bottom"`` →
``"shared_bottom"``). An unknown name raises :class:`UnknownNameError`, which is
both a :class:`ValueError` and an :class:`~mogenet.errors.InputError` (the CLI prints
it as one line), listing the available names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mogenet.errors import InputError, did_you_mean

if TYPE_CHECKING:
    from mogenet.nn.heads.base import MultiTaskHead

T = TypeVar("T")


class UnknownNameError(InputError, ValueError):
    """A name that no registry entry matches."""


def normalize_name(name: str) -> str:
    """``"Shared-Bottom"`` → ``"shared_bottom"``."""
    return name.strip().lower().replace("-", "_")


class Registry(dict[str, type[T]], Generic[T]):
    """A name → class mapping filled by the :meth:`register` decorator.

    Args:
        kind: what the registry holds, for error messages (``"head"``).
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator adding the class under ``name``."""
        key = normalize_name(name)

        def decorator(cls: type[T]) -> type[T]:
            if key in self and self[key] is not cls:
                raise ValueError(
                    f"{self.kind} name '{key}' is already registered to {self[key].__name__}"
                )
            self[key] = cls
            return cls

        return decorator

    def get_class(self, name: str) -> type[T]:
        """The class registered under ``name``."""
        try:
            return self[normalize_name(name)]
        except KeyError:
            available = ", ".join(sorted(self)) or "(none)"
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'; available: {available}"
                + did_you_mean(normalize_name(name), self)
            ) from None

    def resolve(self, name: str, **kwargs: Any) -> T:
        """Build the class registered under ``name`` from keyword arguments."""
        return self.get_class(name)(**kwargs)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.kind}: {sorted(self)})"


#: Every multi-task head, by name (filled when :mod:`mogenet.nn.heads` is imported).
HEADS: Registry[MultiTaskHead] = Registry("head")

register_head = HEADS.register


def resolve_head(name: str, **kwargs: Any) -> MultiTaskHead:
    """Build the head registered under ``name``, e.g.
    ``resolve_head("mmoe", in_channels=64, tasks=("click", "buy"), num_experts=4)``.

    Raises:
        UnknownNameError: (a :class:`ValueError`) listing the available names.
    """
    import mogenet.nn.heads  # noqa: F401  (registers the built-in heads)

    return HEADS.resolve(name, **kwargs)
