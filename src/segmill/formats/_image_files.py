"""Image files beside annotations: finding an item's image and copying or linking it into an output.

Shared by the writers that carry images along (YOLO, LabelMe). Each writer
knows its own candidate folders (``image_roots`` of its module); finding a file
under them and placing it are the same everywhere, and confined: a file name
that leaves its root (``../../etc/passwd``, a symbolic link out) is never
followed.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from pathlib import Path

from ..errors import InputError
from ..paths import resolve_inside

__all__ = ["find_image", "place_image"]


def find_image(item, roots) -> Path | None:
    """The image file of ``item``: its file name under each root, then its base name under each root."""
    name = item.file_name if isinstance(item.file_name, str) else ""
    names = [name] if name else []
    base = posixpath.basename(name.replace("\\", "/"))
    if base and base != name:
        names.append(base)
    for cand in names:  # the full name under every root before the base name under any
        for root in roots:
            try:
                p = resolve_inside(root, cand)
                if p.is_file():
                    return p
            except (InputError, OSError, ValueError):  # escaping, or a name the file system refuses
                continue
    return None


def place_image(src: Path, dst: Path, link: bool, report) -> None:
    """Copy ``src`` to ``dst`` or hard-link it (a copy, noted, when the file system refuses the link)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(src, dst)
            report.files += 1
            return
        except OSError as exc:
            report.notes.append(f"image {src.name!r} copied: cannot hard-link ({exc.strerror or exc})")
    shutil.copyfile(src, dst)
    report.files += 1
