"""Breadth-first folder scans with a budget, for the detectors that look below a folder for a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator


def scan_levels(root: Path, depth: int, budget: int,
                descend: Callable[[os.DirEntry], bool] | None = None) -> Iterator[tuple[int, list[os.DirEntry]]]:
    """The entries of the folders below ``root``, breadth first: ``(level, entries sorted by name)`` per folder.

    Level 0 is ``root`` itself. A folder that cannot be listed is passed over;
    sub-folders (never through a symbolic link, and only those ``descend``
    accepts) are listed on the next level. The scan stops after ``depth``
    levels, or after the folder whose entries take the count past ``budget``.
    A caller that has found what it looks for simply stops iterating.
    """
    level, seen = [root], 0
    for n in range(depth):
        below = []
        for d in level:
            try:
                entries = sorted(os.scandir(d), key=lambda e: e.name)
            except OSError:
                continue
            seen += len(entries)
            yield n, entries
            below += [Path(e.path) for e in entries
                      if (descend is None or descend(e)) and e.is_dir(follow_symlinks=False)]
            if seen > budget:
                return
        level = below
