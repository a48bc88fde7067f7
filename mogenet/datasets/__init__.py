"""Data ingestion: readers, validation, id maps, splits, negatives, synthetic data."""

from mogenet.datasets.idmap import UNKNOWN, IdMap
from mogenet.datasets.log import (
    ITEM,
    ORACLE_PREFIX,
    SCENARIO,
    TIMESTAMP,
    USER,
    InteractionLog,
)

__all__ = [
    "ITEM",
    "ORACLE_PREFIX",
    "SCENARIO",
    "TIMESTAMP",
    "UNKNOWN",
    "USER",
    "IdMap",
    "InteractionLog",
]
