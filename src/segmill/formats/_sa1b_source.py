"""Where SA-1B JSON comes from: a folder of files, or ``.tar`` shards read in place.

:func:`sources` lists the inputs of a path (one ``.json`` file, one ``.tar``
shard, or a folder searched recursively for both); :func:`documents` yields
the per-image JSON of one input, one document at a time, so that memory holds
one image's JSON. Tar shards are read with :mod:`tarfile` without extracting
anything: member names are untrusted and must be relative paths that stay
inside the shard (no absolute name, no ``..``, no backslash or NUL); a
member that is a link (symbolic or hard), a device or a FIFO is never
followed. Such members are refused (``errors="raise"``) or listed and passed
over (``skip`` / ``keep``); a file that is not a tar at all, or is cut short,
is refused in every mode, like broken JSON.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import jsonio
from ..errors import InputError, LimitError
from ..paths import confine, confined_glob
from ..validate import ErrorPolicy, brief

__all__ = ["MAX_MEMBER_BYTES", "Document", "clean_member", "documents", "member_problem", "open_tar", "read_member", "sources"]

#: Largest JSON member of a tar shard read (bytes); SA-1B's are a few MiB.
MAX_MEMBER_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    """One per-image JSON document, parsed.

    ``path`` is the file (or the tar shard) for messages, ``name`` the JSON's
    path relative to the dataset root (folder) or its member name (tar),
    ``tar`` the shard it was read from (``None`` for a plain file), ``where``
    the record prefix of messages (``""`` or ``member 'x.json'``).
    """

    path: Path
    name: str
    tar: Path | None
    where: str
    data: object


def _is_tar(p: Path) -> bool:
    return p.suffix.lower() == ".tar"


def sources(path: Path) -> tuple[Path, list[Path]]:
    """``(root, inputs)``: the dataset root and its ``.json`` / ``.tar`` files, sorted.

    A folder is searched recursively; a symbolic link out of it is refused
    (:func:`segmill.paths.confined_glob`).
    """
    if path.is_file():
        return path.parent, [path]
    try:
        found = confined_glob(path, "*.json", recursive=True) + confined_glob(path, "*.tar", recursive=True)
    except RecursionError:  # pathlib walks "**" recursively: a folder tree thousands deep
        raise LimitError("folders nested too deeply", path) from None
    return path, sorted(found, key=lambda p: p.relative_to(path).as_posix())


def documents(root: Path, src: Path, policy: ErrorPolicy) -> Iterator[Document]:
    """The JSON documents of one input (a ``.json`` file or a ``.tar`` shard), in file / member order."""
    if not _is_tar(src):
        confine(root, src)
        data, _ = jsonio.load(src)  # not JSON at all: refused in every mode
        yield Document(src, src.relative_to(root).as_posix(), None, "", data)
        return
    yield from _tar_documents(src, policy)


def member_problem(m: tarfile.TarInfo) -> str | None:
    """Why a tar member may not be read, or ``None`` when it is a safe regular file or folder."""
    name = m.name
    if not name or "\0" in name or "\\" in name:
        return "has an empty name, a NUL byte or a backslash in its name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "has an absolute name"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return "has a name that leaves the shard ('..')"
    try:
        os.fsencode(name)
    except UnicodeError:
        return "has a name that cannot be encoded"
    if m.issym() or m.islnk():
        return f"is a link (to {brief(m.linkname)}); links are never followed"
    if not (m.isreg() or m.isdir()):
        return "is not a regular file or a folder (device, FIFO...)"
    return None


def clean_member(name: str) -> str:
    """A safe member name without ``./`` parts (``./sa_1.json`` -> ``sa_1.json``)."""
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def open_tar(src: Path) -> tarfile.TarFile:
    """Open a plain (uncompressed) tar shard for reading; not a tar: InputError."""
    try:
        return tarfile.open(src, mode="r:")
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise InputError(f"not a readable tar shard: {brief(str(exc))}", src) from None
    except OSError as exc:
        raise InputError(f"cannot read the tar shard: {exc.strerror or exc}", src) from None


def read_member(tf: tarfile.TarFile, m: tarfile.TarInfo, src: Path, record: str) -> bytes:
    """The bytes of a regular member (at most :data:`MAX_MEMBER_BYTES`); a cut-short shard is an InputError."""
    if m.size > MAX_MEMBER_BYTES:
        raise LimitError(f"member of {m.size} bytes is over the limit of {MAX_MEMBER_BYTES}", src, record)
    try:
        fh = tf.extractfile(m)
        data = fh.read() if fh is not None else b""
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise InputError(f"the tar shard is damaged: {brief(str(exc))}", src, record) from None
    except OSError as exc:
        raise InputError(f"cannot read the tar shard: {exc.strerror or exc}", src, record) from None
    if len(data) != m.size:
        raise InputError("the tar shard is cut short", src, record)
    return data


def _members(tf: tarfile.TarFile, src: Path) -> Iterator[tarfile.TarInfo]:
    it = iter(tf)
    while True:
        try:
            m = next(it)
        except StopIteration:
            return
        except (tarfile.TarError, EOFError, ValueError) as exc:
            raise InputError(f"the tar shard is damaged: {brief(str(exc))}", src) from None
        except OSError as exc:
            raise InputError(f"cannot read the tar shard: {exc.strerror or exc}", src) from None
        yield m


def _tar_documents(src: Path, policy: ErrorPolicy) -> Iterator[Document]:
    with open_tar(src) as tf:
        for m in _members(tf, src):
            record = f"member {brief(m.name)}"
            why = member_problem(m)
            if why is not None:
                policy.drop(InputError(f"unsafe tar member: it {why}", src, record))
                continue
            if not m.isreg() or posixpath.splitext(m.name)[1].lower() != ".json":
                continue  # images and folders: the JSON names its image
            data, _ = jsonio.parse(read_member(tf, m, src, record), f"{src}:{clean_member(m.name)}")
            yield Document(src, clean_member(m.name), src, record, data)
            tf.members = []  # keep memory bounded: tarfile remembers every header it has read
