"""Public-dataset preparers: raw files as published → mogenet CSVs.

Each module registers one preparer under its CLI name (``mogenet prepare NAME``);
:data:`PREPARERS` maps the name to it.  A preparer is called as
``PREPARERS[name](raw_dir, out_dir, **options)`` and returns a summary dict (rows,
users, items, tasks, files written).  The dataset cards in ``datasets/<name>.md``
document the source, terms, raw schema and the mapping to mogenet columns and tasks.
"""

from mogenet.datasets.public import (  # noqa: F401  (importing registers the preparers)
    aliccp,
    aliexpress,
    census,
    gowalla,
    ijcai15,
    ml1m,
    taobao,
)
from mogenet.datasets.public._base import PREPARERS, Preparer, register


def prepare(name: str, raw_dir, out_dir, **options) -> dict:
    """Run the preparer registered as ``name`` (see :data:`PREPARERS`)."""
    if name not in PREPARERS:
        from mogenet.errors import InputError

        raise InputError(f"unknown public dataset '{name}'; known: {', '.join(sorted(PREPARERS))}")
    return PREPARERS[name](raw_dir, out_dir, **options)


__all__ = ["PREPARERS", "Preparer", "prepare", "register"]
