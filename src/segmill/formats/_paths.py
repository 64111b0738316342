"""Path helpers shared by readers: resolve names found inside a dataset safely."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError


def resolve_inside(root, name: str, source=None, record: str | None = None) -> Path:
    """Resolve ``name`` (found in a dataset file) against ``root``; refuse escapes.

    Parameters
    ----------
    root : path
        The dataset root.
    name : str
        A relative path as written in the file (``/`` or ``\\`` separators).
    source, record :
        The file and record that named it, for the error message.

    Raises
    ------
    segmill.errors.InputError
        ``name`` is absolute or resolves outside ``root`` (``../../etc/passwd``).
    """
    cleaned = str(name).replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise InputError(f"path {name!r} is absolute; only paths inside the dataset are allowed", source, record)
    root_r = Path(os.path.realpath(root))
    target = Path(os.path.realpath(root_r / cleaned))
    if target != root_r and root_r not in target.parents:
        raise InputError(f"path {name!r} points outside the dataset root {str(root_r)!r}", source, record)
    return target
