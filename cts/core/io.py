"""Atomic file writes: a reader never sees a half-written file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[str], object], *, mode: int | None = None
) -> Path:
    """Call ``write(temporary_path)`` beside ``path``, then rename it into place.

    The file appears only once complete (a crash leaves the old file or none), with the
    permissions of an ordinary new file (``0666`` less the umask; ``mkstemp`` alone gives 0600,
    and a panel or report is for colleagues too), or ``mode`` exactly (``0o600``: private).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))
