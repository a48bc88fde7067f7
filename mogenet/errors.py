"""User-facing errors.

Every problem caused by the user's input (a bad CSV, an unknown task name, a
corrupted graph directory) is raised as :class:`InputError`.  The CLI prints it as
one line, ``error: <file> row <r>, column '<c>': <message>``, and exits with code 2;
library users get a normal exception carrying the same fields.
"""

from __future__ import annotations

import os


class MogenetError(Exception):
    """Base class of every error mogenet raises on purpose."""


class InputError(MogenetError):
    """Bad user input, located as precisely as possible.

    Args:
        message: what is wrong, in words a user understands.
        file: the offending file (or directory).
        row: 1-based line number in the file as a text editor shows it
            (the header is line 1, the first data row line 2).
        column: the offending column name.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | os.PathLike | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else os.fspath(file)
        self.row = row
        self.column = column
        super().__init__(self.format())

    def format(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"line {self.row}")
        loc = " ".join(where)
        if self.column is not None:
            loc = f"{loc}, column '{self.column}'" if loc else f"column '{self.column}'"
        return f"{loc}: {self.message}" if loc else self.message


def did_you_mean(name: str, choices) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to a mistyped
    ``name`` (difflib's ratio ≥ 0.6), or ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(name, [str(c) for c in choices], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class TrainingError(MogenetError):
    """Training cannot go on (e.g. a non-finite loss); the message names step and task."""
