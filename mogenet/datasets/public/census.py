"""Census-Income (KDD), UCI — the MMoE paper's synthetic-free multi-task benchmark.

``census-income.data`` (train) and ``census-income.test`` (test) have no header; each
line is one person, 42 comma-separated values (a space after every comma), the last
the income class ``- 50000.`` or ``50000+.``.  As in the MMoE paper (group 1):

* ``income`` = 1 iff the income class is ``50000+.``;
* ``never_married`` = 1 iff ``marital_stat`` is ``Never married``.

It is a feature-only benchmark (no user–item structure): each person becomes a user
``train-<n>`` / ``test-<n>`` (``n`` = the 1-based line in the raw file) with one row
against the single dummy item ``census``; the person's 39 features (all columns but
the two labels' sources and ``instance_weight``, a sampling weight) go to
``users.csv``.  Graph channels are degenerate here (every user shares the one item):
use the plain-feature heads (``--model mmoe`` …).  The official training file becomes
``train.csv``; the official test file is split at random into ``valid.csv`` and
``test.csv`` (half each by default, as in the MMoE paper).  ``interactions.csv`` is
all three.  See ``datasets/census.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from mogenet.datasets.log import ITEM, USER
from mogenet.datasets.public._base import (
    CHUNKSIZE,
    concat_csv,
    csv_sink,
    find_raw,
    log_columns,
    read_chunks,
    register,
    require_values,
    summary,
)
from mogenet.errors import InputError

FILES = {"train": "census-income.data", "test": "census-income.test"}
#: The 42 columns of census-income.names, in file order (names as in keras-mmoe).
COLUMNS = (
    "age", "class_worker", "det_ind_code", "det_occ_code", "education", "wage_per_hour",
    "hs_college", "marital_stat", "major_ind_code", "major_occ_code", "race", "hisp_origin",
    "sex", "union_member", "unemp_reason", "full_or_part_emp", "capital_gains",
    "capital_losses", "stock_dividends", "tax_filer_stat", "region_prev_res",
    "state_prev_res", "det_hh_fam_stat", "det_hh_summ", "instance_weight", "mig_chg_msa",
    "mig_chg_reg", "mig_move_reg", "mig_same", "mig_prev_sunbelt", "num_emp",
    "fam_under_18", "country_father", "country_mother", "country_self", "citizenship",
    "own_or_self", "vet_question", "vet_benefits", "weeks_worked", "year", "income_50k",
)  # fmt: skip
LABEL_SOURCES = ("income_50k", "marital_stat")
FEATURES = tuple(c for c in COLUMNS if c not in (*LABEL_SOURCES, "instance_weight"))
NUMERIC = (
    "age", "wage_per_hour", "capital_gains", "capital_losses", "stock_dividends",
    "num_emp", "weeks_worked",
)  # fmt: skip
#: Every other feature is categorical (text, or integer codes: industry/occupation
#: recodes, own_or_self, vet_benefits, year).
CATEGORICAL = tuple(c for c in FEATURES if c not in NUMERIC)
INCOME = {"- 50000.": 0, "50000+.": 1}
TASKS = ("income", "never_married")
ITEM_ID = "census"
#: Output parts: the official train file; the official test file split in two.
PARTS = ("train", "valid", "test")


def _read_people(
    path: Path, prefix: str, *, chunksize: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Yield ``(rows, features)`` per chunk: wide-form rows (``user_id`` =
    ``<prefix>-<line>``, the dummy item, the two labels) and the matching
    ``users.csv`` rows."""
    for line, chunk in read_chunks(
        path, chunksize=chunksize, header=False, names=COLUMNS, skipinitialspace=True
    ):
        require_values(chunk, LABEL_SOURCES, path=path, line=line)
        income = chunk["income_50k"].str.strip().map(INCOME)
        bad = income.isna().to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"income class must be '- 50000.' or '50000+.', got "
                f"{chunk['income_50k'].iloc[pos]!r} (is this a census-income file?)",
                file=path,
                row=line + pos,
                column="income_50k",
            )
        ids = pd.Series([f"{prefix}-{n}" for n in range(line, line + len(chunk))], dtype=str)
        never_married = chunk["marital_stat"].str.strip() == "Never married"
        rows = pd.DataFrame(
            {
                USER: ids,
                ITEM: ITEM_ID,
                "income": income.to_numpy(dtype=np.int8),
                "never_married": never_married.to_numpy().astype(np.int8),
            }
        )
        yield rows, pd.concat([ids.rename(USER), chunk[list(FEATURES)]], axis=1)


@register(
    "census",
    title="Census-Income (KDD), UCI",
    files=tuple(FILES.values()),
)
def prepare(
    raw_dir: Path,
    out_dir: Path,
    *,
    chunksize: int = CHUNKSIZE,
    valid_fraction: float = 0.5,
    seed: int = 0,
) -> dict:
    """Prepare Census-Income KDD (see the module docstring).

    Args:
        raw_dir: folder holding ``census-income.data`` and ``census-income.test``
            (or the ``.gz`` files UCI distributes).
        out_dir: where ``train.csv``, ``valid.csv``, ``test.csv``,
            ``interactions.csv`` and ``users.csv`` go.
        chunksize: raw lines read at a time.
        valid_fraction: share of the official test rows drawn at random into
            ``valid.csv`` (the MMoE paper halves the test set: 0.5).
        seed: seeds that draw (the same seed gives the same halves whatever the
            chunksize).
    """
    if not 0.0 <= valid_fraction <= 1.0:
        raise InputError(f"valid_fraction must be in [0, 1], got {valid_fraction}")
    paths = find_raw(raw_dir, tuple(FILES.values()), dataset="census")
    rng = np.random.default_rng(seed)
    positives = dict.fromkeys(TASKS, 0)
    columns = log_columns(TASKS)
    with contextlib.ExitStack() as stack:
        users = stack.enter_context(csv_sink(out_dir / "users.csv", (USER, *FEATURES)))
        sinks = {s: stack.enter_context(csv_sink(out_dir / f"{s}.csv", columns)) for s in PARTS}
        for split, name in FILES.items():
            for rows, features in _read_people(paths[name], split, chunksize=chunksize):
                if split == "train":
                    sinks["train"].write(rows)
                else:
                    to_valid = rng.random(len(rows)) < valid_fraction
                    sinks["valid"].write(rows[to_valid])
                    sinks["test"].write(rows[~to_valid])
                users.write(features)
                for t in TASKS:
                    positives[t] += int(rows[t].sum())
    counts = {f"{s}_rows": sinks[s].rows for s in PARTS}
    concat_csv(out_dir / "interactions.csv", [out_dir / f"{s}.csv" for s in PARTS])
    rows = sum(counts.values())
    return summary(
        rows=rows,
        users=rows,
        items=1,
        tasks=TASKS,
        files=["interactions.csv", "train.csv", "valid.csv", "test.csv", "users.csv"],
        **counts,
        positives=positives,
        categorical={"users.csv": list(CATEGORICAL)},
    )
