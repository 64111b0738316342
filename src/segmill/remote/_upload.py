"""Writing to a store: the destination rules, then the upload of a locally staged output.

What is atomic (see docs/remote.md): one object is replaced by one PUT, so a
file output (COCO JSON) appears whole or not at all on S3, GCS, Azure and
``memory://``. A folder is many objects and stores have no rename of a
prefix: its objects are uploaded first and the marker object
:data:`~segmill.remote._download.MARKER` (a manifest) last, so a folder with
the marker is complete; a failed upload removes what it uploaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from .. import __version__, _progress
from ..errors import InputError, OutputError, spelling
from ._download import _BATCH, MARKER, PROGRESS_FILES
from ._store import guarded
from ._urls import is_remote, key_text, redact, scheme_of


def check_sources(url: str, sources) -> None:
    """Refuse a destination that is, holds or lies inside a remote source of the same store."""
    dst = key_text(url)
    for src in sources:
        if src is None or not is_remote(str(src)) or scheme_of(str(src)) != scheme_of(url):
            continue
        s = key_text(str(src))
        if dst == s:
            raise InputError("the destination is the source; segmill never writes over its input", redact(url))
        if s.startswith(dst + "/") or not dst:
            raise InputError(f"the destination contains the source {redact(src)!r}; segmill never writes over "
                             "its input or anything holding it", redact(url))
        if dst.startswith(s + "/"):
            raise InputError(f"the destination lies inside the source {redact(src)!r}; choose a place outside it",
                             redact(url))


def check_destination(fs, path: str, url: str, spec, force: bool) -> None:
    """The ``--force`` rules of :func:`segmill._atomic.check_destination`, for a remote destination.

    An existing destination is replaced only with ``force``, only by an
    output of the same kind, and only when it is empty or is a previous
    output of the format: a file the format's detector recognizes, or a
    folder holding segmill's marker naming the format.
    """
    with guarded(url, "inspect the destination", OutputError):
        if not fs.exists(path):
            return
        is_dir = fs.isdir(path)
        if not force:
            raise InputError(f"output already exists; use {spelling('force')} to replace it", redact(url))
        if is_dir and spec.output == "file":
            raise InputError(f"the destination is a folder and the {spec.name} writer writes a file; "
                             "segmill never replaces a folder by a file", redact(url))
        if not is_dir and spec.output != "file":
            raise InputError(f"the destination is a file and the {spec.name} writer writes a folder; "
                             "segmill never replaces a file by a folder", redact(url))
        if _replaceable(fs, path, spec, is_dir):
            return
    what = "folder" if spec.output != "file" else "file"
    proof = f"holds no segmill marker ({MARKER}) naming" if what == "folder" else "is not"
    raise InputError(f"the destination {what} is not empty and {proof} a {spec.name} output; "
                     f"{spelling('force')} replaces only an empty {what} or a previous {spec.name} output "
                     "(remove it yourself if it should go)", redact(url))


def _replaceable(fs, path: str, spec, is_dir: bool) -> bool:
    """Whether an existing destination is empty or a previous output of ``spec``'s format."""
    if is_dir:
        names = fs.find(path)
        if not names:
            return True
        marker = path.rstrip("/") + "/" + MARKER
        if not fs.exists(marker):
            return False
        try:
            return json.loads(fs.cat_file(marker)).get("format") == spec.name
        except (ValueError, AttributeError):
            return False
    if (fs.info(path).get("size") or 0) == 0:
        return True
    from ..io import destination_rules  # lazy: io imports this package

    with tempfile.TemporaryDirectory(prefix="segmill-remote-") as tmp:
        local = Path(tmp) / (path.rstrip("/").rpartition("/")[2] or "data")
        fs.get_file(path, str(local))
        return bool(destination_rules(spec)["recognizes"](local))


def upload(fs, local: Path, path: str, url: str, spec, done: list) -> None:
    """Upload the staged output ``local`` to ``path``, replacing what is there (already allowed).

    Every object written is appended to ``done`` (for :func:`remove`).
    """
    with guarded(url, "write", OutputError):
        if local.is_file():
            fs.put_file(str(local), path)
            done.append(path)
            return
        root = path.rstrip("/")
        marker = root + "/" + MARKER
        if fs.exists(path):  # a forced replacement: mark it incomplete first, then clear it
            if fs.exists(marker):
                fs.rm_file(marker)
            fs.rm(path, recursive=True)
        files = sorted(p for p in local.rglob("*") if p.is_file())
        pairs = [(p, root + "/" + p.relative_to(local).as_posix()) for p in files]
        steps = _put(fs, pairs, done)
        if len(pairs) >= PROGRESS_FILES:
            steps = _progress.track(steps, total=len(pairs), desc=f"uploading {redact(url)[:60]}")
        for _ in steps:
            pass
        for d in sorted(p for p in local.rglob("*") if p.is_dir() and not any(p.iterdir())):
            fs.makedirs(root + "/" + d.relative_to(local).as_posix(), exist_ok=True)
        fs.pipe_file(marker, _manifest(spec, local, files))
        done.append(marker)


def _put(fs, pairs, done: list):
    for i in range(0, len(pairs), _BATCH):
        chunk = pairs[i:i + _BATCH]
        fs.put([str(p) for p, _ in chunk], [r for _, r in chunk])
        done.extend(r for _, r in chunk)
        yield from chunk


def _manifest(spec, local: Path, files) -> bytes:
    """The marker's content: who wrote the folder, in which format, and every object with its size."""
    objects = [{"path": p.relative_to(local).as_posix(), "size": os.path.getsize(p)} for p in files]
    return json.dumps({"writer": f"segmill {__version__}", "format": spec.name, "complete": True,
                       "objects": objects}, indent=1).encode("utf-8")


def remove(fs, paths: list) -> None:
    """Remove the objects of a failed upload, as far as the store lets us (best effort, never raises)."""
    for p in reversed(paths):
        with contextlib.suppress(Exception):  # cleanup after a failure must not hide the failure
            fs.rm_file(p)
