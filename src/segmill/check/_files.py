"""Where each listed image file is, without resolving every path through the file system.

S007, S008 and S013 ask, for every image, what :func:`segmill.paths.resolve_inside`
answers and whether the file is there. Resolving symlinks costs a dozen system
calls per name; most names of a dataset are ``dir/file.jpg`` below a handful of
folders, so :func:`image_files` resolves each folder once and asks the file
system one ``lstat`` per name: a name with nothing at all at its place cannot
resolve outside the root (its folder, resolved, is inside) and is not a file.
Every other name (something is there, ``..`` in it, an unusual folder) takes
:func:`~segmill.paths.resolve_inside` itself, so the answers are the same.
"""

from __future__ import annotations

import os

from ..errors import InputError
from ..paths import is_inside, resolve_inside

__all__ = ["image_files"]

_NO_NAME = (None, None)
_ABSENT = (False, None)


def _absent_inside(root_r: str, name, folders: dict) -> bool:
    """Whether ``name`` certainly resolves inside ``root_r`` to nothing at all (no file, no link)."""
    if type(name) is not str or "\0" in name:
        return False
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        return False
    parts = cleaned.split("/")
    if ".." in parts or parts[-1] in ("", "."):
        return False
    folder = "/".join(parts[:-1])
    ok = folders.get(folder)
    if ok is None:
        path = os.path.join(root_r, folder) if folder else root_r
        try:
            os.fsencode(name)
            ok = os.path.isdir(path) and is_inside(root_r, path)
        except (UnicodeError, ValueError, OSError):
            ok = False
        folders[folder] = ok
    if not ok:
        return False
    try:
        os.fsencode(name)
        return not os.path.lexists(os.path.join(root_r, cleaned))
    except (UnicodeError, ValueError, OSError):
        return False


def image_files(root, items) -> tuple[list, int]:
    """Per item: ``(path, None)`` for a file found, ``(False, None)`` for none, ``(None, message)`` for a
    name :func:`~segmill.paths.resolve_inside` refuses, ``(None, None)`` without root or name; plus how
    many were found.
    """
    res = []  # the common answers are shared tuples: a pointer an image
    found = 0
    root_r = os.path.realpath(root) if root is not None else None
    folders: dict = {}
    for it in items:
        if root is None or not it.file_name:
            res.append(_NO_NAME)
            continue
        if _absent_inside(root_r, it.file_name, folders):
            res.append(_ABSENT)
            continue
        try:
            p = resolve_inside(root, it.file_name)
        except InputError as exc:
            res.append((None, exc.message))
            continue
        exists = p.is_file()
        found += exists
        res.append((p, None) if exists else _ABSENT)
    return res, found
