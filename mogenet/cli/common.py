"""Helpers shared by the CLI verbs: task lists, warnings as one-line notes."""

from __future__ import annotations

import argparse
import sys
import warnings


def tasks_arg(value: str | None) -> tuple[str, ...] | None:
    """``--tasks a,b`` → ``("a", "b")``."""
    if value is None:
        return None
    tasks = tuple(t.strip() for t in value.split(",") if t.strip())
    if not tasks:
        raise argparse.ArgumentTypeError("--tasks needs at least one name")
    return tasks


def show_warnings_briefly() -> None:
    """Print library warnings as ``warning: …`` lines on stderr (no source line)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = show


def cold_start_note(unseen: dict[str, float]) -> str | None:
    """One line giving the shares of rows whose user / item training never saw
    (:meth:`mogenet.run.Run.unseen_share`), or ``None`` when there are none."""
    if not any(unseen.values()):
        return None
    return (
        f"cold start: {unseen['user']:.1%} of the rows have a user and "
        f"{unseen['item']:.1%} an item that training never saw"
    )
