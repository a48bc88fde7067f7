"""Raw-id ↔ contiguous-index maps.

Raw ids are arbitrary strings; models need ``0..n-1``.  An :class:`IdMap` is built
from the training log, saved with every graph bundle and run, and used to map
every output back to the user's own ids.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

#: Index returned by :meth:`IdMap.encode` for ids the map has never seen (cold start).
UNKNOWN = -1


class IdMap:
    """An ordered set of raw ids; position = contiguous index.

    Args:
        raw_ids: the ids, unique; their order defines the index.
    """

    def __init__(self, raw_ids: Iterable[str]) -> None:
        ids = pd.Index(_as_str(raw_ids))
        if not ids.is_unique:
            dup = ids[ids.duplicated()][0]
            raise ValueError(f"IdMap ids must be unique; '{dup}' appears twice")
        self._index = ids

    @classmethod
    def from_values(cls, values: Iterable[str]) -> IdMap:
        """Map over the sorted unique values (deterministic whatever the row order)."""
        return cls(_as_str(values).drop_duplicates().sort_values(ignore_index=True))

    def extended(self, values: Iterable[str]) -> IdMap:
        """This map followed by the values it lacks, sorted and unique (existing
        indices are unchanged)."""
        new = _as_str(values).drop_duplicates()
        new = new[~new.isin(self._index)].sort_values(ignore_index=True)
        return IdMap(pd.concat([self._index.to_series(), new], ignore_index=True))

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"IdMap(size={len(self)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._index.equals(other._index)

    def __contains__(self, raw_id: object) -> bool:
        return str(raw_id) in self._index

    def encode(self, values: Iterable[str]) -> np.ndarray:
        """Raw ids → ``int64`` indices; unknown ids become :data:`UNKNOWN` (-1)."""
        return self._index.get_indexer(pd.Index(_as_str(values))).astype(np.int64)

    def decode(self, index: np.ndarray | Iterable[int]) -> np.ndarray:
        """Indices → raw ids (object array of str)."""
        return self._index.to_numpy(dtype=object)[np.asarray(index, dtype=np.int64)]

    def to_list(self) -> list[str]:
        return [str(x) for x in self._index]


def _as_str(values: Iterable[str]) -> pd.Series:
    """Values as a pandas string Series (no per-element Python objects when they
    already are strings)."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    return series.astype(str).reset_index(drop=True)
