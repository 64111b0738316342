"""Reading from a store: a local copy of a remote file or folder, made safe and bounded.

The copy is a plain local tree, so every reader runs unchanged on it and
confinement (``segmill.paths``) keeps working; the names the store lists are
checked first, since they become local file names.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import tempfile
from pathlib import Path

from .. import _progress
from ..errors import InputError, LimitError, UsageError
from ..paths import NAME_MAX
from ..validate import brief
from ._store import filesystem, guarded
from ._urls import redact

#: The object a folder written by segmill gets last; never copied when reading.
MARKER = ".segmill-complete"

#: Bytes one remote read may copy, unless ``SEGMILL_REMOTE_MAX_BYTES`` says otherwise.
DEFAULT_MAX_BYTES = 16 * 2**30

#: Files fetched per request batch (async stores fetch a batch concurrently).
_BATCH = 32

#: Copies and uploads of this many files or more show a progress bar (on a terminal, without ``--quiet``).
PROGRESS_FILES = 20

_SESSION: contextvars.ContextVar[dict | None] = contextvars.ContextVar("segmill_remote_session", default=None)


def check_name(rel: str, url: str) -> None:
    """Refuse a listed name that would not stay inside the local copy.

    Raises
    ------
    segmill.errors.InputError
        ``rel`` is absolute, holds ``..``, ``.``, an empty part, a backslash,
        a NUL byte, or a part longer than a file name may be.
    """
    bad = None
    if "\\" in rel or "\0" in rel:
        bad = "a backslash or NUL byte"
    elif rel.startswith("/"):
        bad = "an absolute path"
    elif any(part in ("", ".", "..") for part in rel.split("/")):
        bad = "an empty, '.' or '..' part"
    elif any(len(os.fsencode(part)) > NAME_MAX for part in rel.split("/")):
        bad = f"a part over {NAME_MAX} bytes"
    if bad:
        raise InputError(f"the store lists {brief(rel)}, a name with {bad}; segmill copies only names that "
                         "stay inside the folder", redact(url))


def listing(fs, root: str, url: str) -> tuple[str, list[tuple[str, int]]]:
    """``("file", [("", size)])`` or ``("dir", [(relative name, size), ...])`` for ``root``, names checked."""
    with guarded(url, "read"):
        info = fs.info(root)
        # a trailing slash names a folder: an HTTP server's listing page is typed a file
        if info.get("type") != "directory" and not root.endswith("/"):
            return "file", [("", int(info.get("size") or 0))]
        found = fs.find(root, detail=True)
    prefix = root.rstrip("/") + "/"
    out = []
    for full, meta in sorted(found.items()):
        if meta.get("type") == "directory" or full.endswith("/"):
            continue  # a folder placeholder object: the folders follow from the files
        if not full.startswith(prefix):
            raise InputError(f"the store lists {brief(full)}, outside the folder read", redact(url))
        rel = full[len(prefix):]
        if rel == MARKER:
            continue
        check_name(rel, url)
        out.append((rel, int(meta.get("size") or 0)))
    files = {rel for rel, _ in out}
    for rel in files:
        parent = rel.rpartition("/")[0]
        while parent:
            if parent in files:
                raise InputError(f"the store lists {brief(parent)} both as a file and as a folder", redact(url))
            parent = parent.rpartition("/")[0]
    return "dir", out


def max_bytes(where) -> int:
    """The copy budget: ``SEGMILL_REMOTE_MAX_BYTES`` (default 16 GiB), never more than the free space."""
    text = os.environ.get("SEGMILL_REMOTE_MAX_BYTES")
    limit = DEFAULT_MAX_BYTES
    if text:
        try:
            limit = int(text)
        except ValueError:
            raise UsageError(f"SEGMILL_REMOTE_MAX_BYTES={brief(text)} is not a number of bytes") from None
    return min(limit, shutil.disk_usage(where).free)


def _root_name(root: str) -> str:
    """The local name of the copied file or folder: the URL's last part, or ``data``."""
    name = root.rstrip("/").rpartition("/")[2].split("?")[0]
    try:
        check_name(name, "")
    except InputError:
        return "data"
    return name


def fetch(url: str, storage_options: dict | None, into: Path) -> Path:
    """Copy the file or folder at ``url`` into the folder ``into``; return the local copy's path.

    Raises
    ------
    segmill.errors.LimitError
        The copy would exceed :func:`max_bytes`.
    segmill.errors.InputError
        A name escapes, the URL does not exist, or the store fails.
    """
    fs, root = filesystem(url, storage_options)
    kind, entries = listing(fs, root, url)
    total, budget = sum(size for _, size in entries), max_bytes(into)
    if total > budget:
        raise LimitError(f"copying it needs {total} bytes, over the budget of {budget} bytes "
                         "(SEGMILL_REMOTE_MAX_BYTES, or the free space of the temporary folder)", redact(url))
    local = into / _root_name(root)
    if kind == "file":
        pairs = [(root, local)]
    else:
        local.mkdir()
        pairs = [(root.rstrip("/") + "/" + rel, local / rel) for rel, _ in entries]
        for parent in sorted({p.parent for _, p in pairs}):
            parent.mkdir(parents=True, exist_ok=True)
    steps = _batches(fs, pairs, url)
    if len(pairs) >= PROGRESS_FILES:
        steps = _progress.track(steps, total=len(pairs), desc=f"copying {redact(url)[:60]}")
    for _ in steps:
        pass
    return local


def _batches(fs, pairs, url):
    """Fetch ``pairs`` in batches; yield once per file fetched (for the progress bar)."""
    for i in range(0, len(pairs), _BATCH):
        chunk = pairs[i:i + _BATCH]
        with guarded(url, "read"):
            fs.get([r for r, _ in chunk], [str(p) for _, p in chunk])
        yield from chunk


@contextlib.contextmanager
def local_copy(url: str, storage_options: dict | None = None):
    """Yield a local copy of the file or folder at ``url``, removed when the block ends.

    Inside :func:`session`, a URL is copied once and the copy kept until the
    session ends.
    """
    cache = _SESSION.get()
    key = (url, repr(sorted((storage_options or {}).items())))
    if cache is not None and key in cache:
        yield cache[key][1]
        return
    tmp = Path(tempfile.mkdtemp(prefix="segmill-remote-"))
    try:
        local = fetch(url, storage_options, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if cache is not None:
        cache[key] = (tmp, local)
        yield local
        return
    try:
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def session():
    """Within the block, each remote URL read is copied once (a command detects, then reads).

    Every copy is removed when the block ends.
    """
    cache: dict = {}
    token = _SESSION.set(cache)
    try:
        yield
    finally:
        _SESSION.reset(token)
        for tmp, _ in cache.values():
            shutil.rmtree(tmp, ignore_errors=True)
