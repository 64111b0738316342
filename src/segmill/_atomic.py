"""Atomic output: stage into a temporary sibling, move into place on success."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import InputError


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


@contextlib.contextmanager
def staged(dst, force: bool = False):
    """Yield a fresh temporary path next to ``dst``; move it to ``dst`` on success.

    Nothing is left behind when the body raises. With ``force`` an existing
    ``dst`` is replaced (it is moved aside first and deleted only after the new
    output is in place); without it an existing ``dst`` is an error.
    """
    dst = Path(dst)
    if dst.exists() and not force:
        raise InputError("output already exists; pass --force to replace it", dst)
    parent = dst.parent if str(dst.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".segmill-tmp", dir=parent))
    tmp = tmpdir / dst.name
    try:
        yield tmp
        if not tmp.exists():
            raise InputError("the writer produced no output", dst)
        old = None
        if dst.exists():
            old = tmpdir / (dst.name + ".old")
            os.replace(dst, old)
        os.replace(tmp, dst)
    finally:
        _remove(tmpdir)


def write_bytes(path, data: bytes) -> None:
    """Write a file atomically (temp file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
