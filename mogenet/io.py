"""Atomic file and directory writes.

Nothing mogenet writes is ever left half-written: files go to a temporary sibling
and are renamed into place (``os.replace`` is atomic on POSIX), directories are
filled under a temporary name and renamed last.  If anything fails in between the
temporary path is removed and the previous output (if any) is untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mogenet.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path next to ``path``; rename it to ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes 0600 files; give the usual 0666 & ~umask
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, marker: str | None = None) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``path``.

    An existing ``path`` is removed only after the new content is complete, and
    only if it is empty or holds ``marker`` (a file every directory of this kind
    has, e.g. ``meta.json`` for graph bundles): an unrelated non-empty directory is
    never deleted — that is an :class:`~mogenet.errors.InputError` before any work.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InputError("exists and is not a directory", file=path)
        if any(path.iterdir()) and (marker is None or not (path / marker).exists()):
            raise InputError(
                "directory exists and is not empty"
                + (f" (and has no {marker}, so it is not an earlier output)" if marker else "")
                + "; refusing to overwrite it",
                file=path,
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_report(path: str | os.PathLike | None, report: Any, markdown: str) -> None:
    """A benchmark's report: ``report`` as JSON at ``path`` and ``markdown`` beside it
    (same name, ``.md``), both atomically, then the Markdown printed; with ``path``
    ``None``, only printed."""
    if path is not None:
        write_json(path, report)
        with atomic_path(Path(path).with_suffix(".md")) as tmp:
            tmp.write_text(markdown)
    print(markdown)
