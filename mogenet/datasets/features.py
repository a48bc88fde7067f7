"""Node feature tables (``users.csv`` / ``items.csv``) encoded for models.

Categorical columns become integer codes (0 is reserved for missing / unseen
values), numeric columns are standardised with the table's own mean and standard
deviation (missing → 0, i.e. the mean).  Rows are aligned with an
:class:`~mogenet.datasets.IdMap`; a node without a feature row gets code 0 and
numeric 0 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mogenet.datasets.idmap import IdMap


@dataclass
class FeatureTable:
    """Encoded features of one node type.

    Args:
        categorical: ``[N, C]`` int64 codes, ``0`` = missing or unseen.
        cardinalities: number of codes per categorical column (including 0).
        categorical_names: the categorical column names.
        numeric: ``[N, F]`` float32 standardised values.
        numeric_names: the numeric column names.
    """

    categorical: Tensor
    cardinalities: tuple[int, ...]
    categorical_names: tuple[str, ...]
    numeric: Tensor
    numeric_names: tuple[str, ...]

    @property
    def num_nodes(self) -> int:
        return int(self.categorical.size(0))

    @property
    def num_columns(self) -> int:
        """Feature columns, categorical and numeric."""
        return len(self.categorical_names) + len(self.numeric_names)

    def __repr__(self) -> str:
        return (
            f"FeatureTable(nodes={self.num_nodes}, categorical={list(self.categorical_names)}, "
            f"numeric={list(self.numeric_names)})"
        )

    @classmethod
    def empty(cls, num_nodes: int) -> FeatureTable:
        """A table with no feature columns (ids only)."""
        return cls(
            categorical=torch.zeros(num_nodes, 0, dtype=torch.long),
            cardinalities=(),
            categorical_names=(),
            numeric=torch.zeros(num_nodes, 0),
            numeric_names=(),
        )

    @classmethod
    def encode(
        cls,
        table: pd.DataFrame,
        idmap: IdMap,
        *,
        id_column: str,
        categorical: list[str] | None = None,
        max_categories: int = 10_000,
    ) -> FeatureTable:
        """Encode a feature table for the nodes of ``idmap``.

        Args:
            table: one row per node, ``id_column`` plus feature columns.
            idmap: the node ids (rows of the output follow its order).
            id_column: the id column of ``table``.
            categorical: columns to treat as categorical; by default every
                non-numeric column is categorical and every numeric column numeric.
            max_categories: rarest categories beyond this many share code 0.
        """
        feats = [c for c in table.columns if c != id_column]
        if categorical is None:
            categorical = [c for c in feats if not pd.api.types.is_numeric_dtype(table[c])]
        numeric = [c for c in feats if c not in categorical]
        rows = idmap.encode(table[id_column].astype(str))
        keep = rows >= 0  # feature rows of nodes absent from the graph are ignored
        rows, table = rows[keep], table.loc[keep]
        n = len(idmap)

        cat = torch.zeros(n, len(categorical), dtype=torch.long)
        cards = []
        for j, c in enumerate(categorical):
            values = table[c].astype("string")
            counts = values.value_counts(dropna=True)
            vocab = sorted(counts.index[:max_categories].tolist())
            codes = pd.Index(vocab).get_indexer(values.fillna("\0")) + 1  # unseen → 0
            cat[torch.as_tensor(rows), j] = torch.as_tensor(codes, dtype=torch.long)
            cards.append(len(vocab) + 1)

        num = torch.zeros(n, len(numeric))
        for j, c in enumerate(numeric):
            v = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=np.float64)
            mu, sd = np.nanmean(v) if len(v) else 0.0, np.nanstd(v) if len(v) else 1.0
            z = (v - mu) / (sd if sd > 0 else 1.0)
            num[torch.as_tensor(rows), j] = torch.as_tensor(np.nan_to_num(z), dtype=torch.float32)

        return cls(cat, tuple(cards), tuple(categorical), num, tuple(numeric))

    def with_numeric(self, values: Tensor, names: tuple[str, ...]) -> FeatureTable:
        """This table with more numeric columns ``values`` ``[N, len(names)]``
        (taken as they are: not standardised)."""
        if values.shape != (self.num_nodes, len(names)):
            raise ValueError(
                f"expected [{self.num_nodes}, {len(names)}] values, got {list(values.shape)}"
            )
        return FeatureTable(
            categorical=self.categorical,
            cardinalities=self.cardinalities,
            categorical_names=self.categorical_names,
            numeric=torch.cat([self.numeric, values.to(self.numeric.dtype)], dim=1),
            numeric_names=(*self.numeric_names, *names),
        )

    def state_dict(self) -> dict:
        return {
            "categorical": self.categorical,
            "cardinalities": list(self.cardinalities),
            "categorical_names": list(self.categorical_names),
            "numeric": self.numeric,
            "numeric_names": list(self.numeric_names),
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> FeatureTable:
        return cls(
            categorical=state["categorical"],
            cardinalities=tuple(state["cardinalities"]),
            categorical_names=tuple(state["categorical_names"]),
            numeric=state["numeric"],
            numeric_names=tuple(state["numeric_names"]),
        )
