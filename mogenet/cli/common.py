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
