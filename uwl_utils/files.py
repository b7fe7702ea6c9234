"""Writing files so that a reader never sees half of one: the one temporary-file-then-rename helper."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_write"]


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on success it replaces ``path`` in one rename.

    A reader (or a resumed run) sees the old file or the whole new one, never a partial write; on an error
    the temporary file is removed and ``path`` is untouched. The temporary name is hidden (leading dot) and
    unique per call, so concurrent writers do not collide and ``part-*`` globs do not see it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
