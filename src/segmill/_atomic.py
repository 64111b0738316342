"""Atomic output and the rules of ``--force``.

Output is staged in a temporary sibling of the destination and moved into
place only when the writer succeeds. :func:`check_destination` holds the one
set of rules every writer obeys (``segmill.write``, ``convert``,
``split-instances``, ``agree --consensus-out``):

- the destination is never a source, a folder containing a source, or
  anything inside a source, with or without ``force``;
- an existing destination is replaced only with ``force``, and then only
  when it is of the same kind (never a folder by a file or a file by a
  folder, never a symbolic link) and is empty or is recognized by the target
  format's own detector (a previous output of that format).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from .errors import InputError, spelling

__all__ = ["staged", "check_destination", "write_bytes", "write_chunks"]


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _real(p) -> Path:
    return Path(os.path.realpath(p))


def _is_empty(p: Path) -> bool:
    if p.is_dir():
        return next(os.scandir(p), None) is None
    return p.stat().st_size == 0


def check_destination(dst, *, force: bool = False, sources: Iterable = (), kind: str = "file",
                      recognizes: Callable[[Path], bool] | None = None, format_name: str = "target") -> None:
    """Raise :class:`~segmill.errors.InputError` unless writing ``dst`` is allowed.

    Parameters
    ----------
    dst : path
        The destination.
    force : bool
        Whether an existing destination may be replaced.
    sources : iterable of paths
        What the output is made from; never touched.
    kind : {"file", "dir"}
        What the writer produces.
    recognizes : callable, optional
        ``recognizes(path) -> bool``: the target format's detector. Without
        it only an empty destination may be replaced.
    format_name : str
        For messages.
    """
    d = _real(dst)
    for src in sources:
        if src is None:
            continue
        s = _real(src)
        if d == s:
            raise InputError("the destination is the source; segmill never writes over its input", dst)
        if d in s.parents:
            raise InputError(f"the destination contains the source {str(src)!r}; segmill never writes over "
                             "its input or anything holding it", dst)
        if s in d.parents:
            raise InputError(f"the destination lies inside the source {str(src)!r}; choose a place outside it",
                             dst)
    p = Path(dst)
    if not os.path.lexists(p):
        return
    if not force:
        raise InputError(f"output already exists; use {spelling('force')} to replace it", dst)
    if p.is_symlink():
        raise InputError("the destination is a symbolic link; segmill does not replace links (remove it first)",
                         dst)
    if p.is_dir() and kind == "file":
        raise InputError(f"the destination is a folder and the {format_name} writer writes a file; "
                         "segmill never replaces a folder by a file", dst)
    if not p.is_dir() and kind == "dir":
        raise InputError(f"the destination is a file and the {format_name} writer writes a folder; "
                         "segmill never replaces a file by a folder", dst)
    if _is_empty(p):
        return
    if recognizes is not None and _recognized(recognizes, p):
        return
    what = "folder" if kind == "dir" else "file"
    raise InputError(f"the destination {what} is not empty and is not a {format_name} dataset; "
                     f"{spelling('force')} replaces "
                     f"only an empty {what} or a previous {format_name} output (remove it yourself if "
                     "it should go)", dst)


def _recognized(recognizes, p: Path) -> bool:
    try:
        return bool(recognizes(p))
    except Exception:  # a detector failing on whatever is there means "not recognized": refuse, never replace
        return False


@contextlib.contextmanager
def staged(dst, force: bool = False, **rules):
    """Yield a fresh temporary path next to ``dst``; move it to ``dst`` on success.

    Nothing is left behind when the body raises. The destination rules of
    :func:`check_destination` (``rules`` are its keyword arguments) are
    applied first; a replaced destination is moved aside and deleted only
    after the new output is in place.
    """
    dst = Path(dst)
    check_destination(dst, force=force, **rules)
    parent = dst.parent if str(dst.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{_stem(dst.name)}.", suffix=".segmill-tmp", dir=parent))
    tmp = tmpdir / dst.name
    try:
        yield tmp
        if not tmp.exists():
            raise InputError("the writer produced no output", dst)
        if os.path.lexists(dst):
            os.replace(dst, tmpdir / (".old" if dst.name != ".old" else ".old-output"))
        os.replace(tmp, dst)
    finally:
        _remove(tmpdir)


def write_bytes(path, data: bytes) -> None:
    """Write a file atomically (temp file in the same folder + rename), with the umask's permissions."""
    write_chunks(path, (data,))


def write_chunks(path, chunks: Iterable[bytes]) -> None:
    """Write the concatenation of ``chunks`` to a file atomically, each chunk as it comes.

    The chunks go to a temporary file in the same folder, renamed to
    ``path`` (with the umask's permissions) once the last is written;
    nothing is left when a chunk fails to come. A ``path`` that is a
    device or a pipe (``/dev/null``, ``/dev/stdout``) is written straight
    into, never replaced.
    """
    path = Path(path)
    if _is_stream(path):
        with open(path, "wb") as f:
            f.writelines(chunks)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{_stem(path.name)}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.writelines(chunks)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report should read like any new file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _is_stream(path: Path) -> bool:
    """Whether ``path`` is a character device or a pipe (written into, not replaced)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _stem(name: str) -> str:
    """A temporary name's readable part: at most 64 characters, so a 255-byte name still gets a temp file."""
    return name[:64]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
