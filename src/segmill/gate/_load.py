"""Reading the two versions a diff or gate compares (paths or a git revision)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .. import io
from ..spilled import spill_or_read
from ..errors import InputError
from ..model import Dataset
from .gitrev import checkout_path, repo_relative


@dataclass
class Versions:
    """Both versions, read, with where they came from."""

    base: Dataset
    head: Dataset
    base_path: str
    head_path: str
    base_label: str
    head_label: str
    format: str


def _read(path: Path, fmt: str | None) -> Dataset:
    # errors="keep": a broken record must become a check finding, not a read error. A file that
    # streams is spilled to disk (one image in memory at a time: segmill.spilled).
    return spill_or_read(path, fmt)


@contextlib.contextmanager
def open_versions(base, head, *, base_rev: str | None = None, format: str | None = None) -> Iterator[Versions]:
    """Read ``base`` and ``head`` (or ``head`` at ``base_rev`` as the base).

    The base is read in the head's format (detected on the head unless
    ``format`` is given). A base taken from git lives in a temporary folder
    for the duration of the ``with`` block.

    Raises
    ------
    segmill.errors.InputError
        Unreadable input, both ``base`` and ``base_rev`` or neither, or a git
        problem (see :func:`segmill.gate.gitrev.checkout_path`).
    """
    if (base is None) == (base_rev is None):
        raise InputError("give either a BASE path or --base-rev REV (not both, not neither)")
    head_p = Path(head)
    if not head_p.exists():
        raise InputError("no such file or directory", head_p)
    fmt = format or io.detect_format(head_p)[0]
    head_ds = _read(head_p, fmt)
    if base_rev is None:
        base_p = Path(base)
        if not base_p.exists():
            raise InputError("no such file or directory", base_p)
        yield Versions(_read(base_p, fmt), head_ds, str(base_p), str(head_p), str(base_p), str(head_p), fmt)
        return
    _, rel = repo_relative(head_p)
    with checkout_path(head_p, base_rev) as tmp:
        base_ds = _read(tmp, fmt)
        yield Versions(base_ds, head_ds, str(tmp), str(head_p), f"{rel}@{base_rev}", str(head_p), fmt)
