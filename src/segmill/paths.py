"""Confinement: paths found inside a dataset stay inside its root.

A dataset names other files (``file_name``, ``imagePath``, mask PNGs, image
folders) and may contain symbolic links. Every such path is resolved here,
symlinks included, and refused when it lands outside the dataset root or the
root the user gave (``--images``, ``--image-root``). One helper serves every
reader, writer, ``segmill check`` (as a finding) and the HTML report.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import InputError
from .validate import brief

__all__ = ["resolve_inside", "confine", "confined_glob", "is_inside", "output_name", "split_folder", "NAME_MAX"]

#: Bytes in one file-name component (NAME_MAX of Linux, macOS and Windows file systems).
NAME_MAX = 255


def _encodable(name: str, source, record) -> None:
    """Refuse a name the file system cannot encode (a lone surrogate) before ``os`` functions see it."""
    try:
        os.fsencode(name)
    except UnicodeError:
        raise InputError(f"path {brief(name)} cannot be encoded as a file name", source, record) from None


def is_inside(root, path) -> bool:
    """Whether ``path``, with every symlink resolved, is ``root`` or lies below it.

    A path the file system cannot resolve (too long, a loop of links) is not inside.
    """
    try:
        root_r = Path(os.path.realpath(root))
        target = Path(os.path.realpath(path))
    except (OSError, ValueError):
        return False
    return target == root_r or root_r in target.parents


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

    Returns
    -------
    pathlib.Path
        The resolved path (symlinks followed), inside ``root``.

    Raises
    ------
    segmill.errors.InputError
        ``name`` is not a string, holds a NUL byte, is absolute, or resolves
        outside ``root`` (``../../etc/passwd``, or a symlink pointing out).
    """
    if not isinstance(name, str):
        raise InputError(f"a path must be a string, got {brief(name)}", source, record)
    if "\0" in name:
        raise InputError(f"path {brief(name)} holds a NUL byte", source, record)
    _encodable(name, source, record)
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise InputError(f"path {brief(name)} is absolute; only paths inside the dataset are allowed",
                         source, record)
    try:
        root_r = Path(os.path.realpath(root))
        target = Path(os.path.realpath(root_r / cleaned))
    except (OSError, ValueError) as exc:  # a name too long for the file system, a loop of links
        raise InputError(f"path {brief(name)} cannot be resolved: {exc}", source, record) from None
    if target != root_r and root_r not in target.parents:
        raise InputError(f"path {brief(name)} points outside the dataset root {str(root_r)!r}", source, record)
    return target


def confine(root, path, record: str | None = None) -> Path:
    """``path`` (found by listing ``root``) if it resolves inside ``root``; a symlink out is refused.

    Raises
    ------
    segmill.errors.InputError
        ``path`` is a symlink (or under one) pointing outside ``root``.
    """
    if not is_inside(root, path):
        raise InputError(f"a symbolic link points outside the dataset root {str(Path(root))!r}", path, record)
    return Path(path)


def confined_glob(root, pattern: str, *, recursive: bool = False, files: bool = True) -> list[Path]:
    """``sorted(root.glob(pattern))`` (or ``rglob``), each entry confined to ``root``.

    With ``files`` only regular files (after following links) are listed; a
    directory named ``x.png`` is left out. Any entry that resolves outside
    ``root`` raises :class:`~segmill.errors.InputError`.
    """
    root = Path(root)
    found = root.rglob(pattern) if recursive else root.glob(pattern)
    out = []
    for p in sorted(found):
        confine(root, p)
        if files and not p.is_file():
            continue
        out.append(p)
    return out


def split_folder(name) -> str:
    """A split name usable as one folder name (never ``..`` or a path, at most 100 characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).strip("._")[:100]
    return cleaned or "default"


def output_name(name, what: str, path=None, record: str | None = None, *, suffix: str = "") -> str:
    """``name`` when it can be one file name (with ``suffix``) inside an output folder; else InputError.

    Writers derive file names from item ids and file names; this refuses,
    before anything is written: a non-string or empty name, ``.`` and ``..``,
    a NUL byte or a ``/`` (the file would leave its folder), text the file
    system cannot encode (a lone surrogate), and names longer than
    :data:`NAME_MAX` bytes once ``suffix`` is added.
    """
    if not isinstance(name, str) or name in ("", ".", ".."):
        raise InputError(f"{what} {brief(name)} cannot be a file name", path, record)
    if "\0" in name or "/" in name:
        raise InputError(f"{what} {brief(name)} holds a NUL byte or a '/'", path, record)
    try:
        size = len(os.fsencode(name + suffix))
    except UnicodeError:
        raise InputError(f"{what} {brief(name)} cannot be encoded as a file name", path, record) from None
    if size > NAME_MAX:
        raise InputError(f"{what} {brief(name)} is {size} bytes long with its suffix; file names are at most "
                         f"{NAME_MAX}", path, record)
    return name
