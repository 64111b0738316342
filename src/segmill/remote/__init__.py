"""Remote storage: datasets read from and written to ``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``memory://``.

Every reader and writer of segmill works on local files; this package moves
the bytes. Reading copies the remote file or folder into a local temporary
folder (names checked, size bounded), runs the local reader there and removes
the copy. Writing stages the output locally, as every write does, then
uploads it. ``file://`` URLs are plain local paths. See ``docs/remote.md``
for the guarantees, and :mod:`segmill.io` for the functions that call these.

fsspec and the store's package (s3fs, gcsfs, adlfs, aiohttp) come with the
``segmill[cloud]`` extra and are imported only when a URL is used.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import InputError, SegmillError, UsageError
from ._download import DEFAULT_MAX_BYTES, MARKER, check_name, local_copy, session
from ._store import filesystem
from ._upload import check_destination as _check_remote
from ._upload import check_sources, remove, upload
from ._urls import (
    READ_ONLY,
    SCHEMES,
    file_path,
    is_remote,
    known_scheme,
    redact,
    url_for,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MARKER",
    "SCHEMES",
    "check_destination",
    "check_name",
    "detect_format",
    "is_remote",
    "local_copy",
    "read",
    "redact",
    "session",
    "stream",
    "write",
]


def _renamed(exc: SegmillError, local: Path, url: str) -> SegmillError:
    """``exc`` with the local copy's paths replaced by the URL they came from."""
    pairs = [(str(local), url), (str(local.parent), url.rstrip("/").rpartition("/")[0] or url)]
    pairs += [(os.path.realpath(a), b) for a, b in pairs]

    def fix(text):
        if not isinstance(text, str):
            return text
        for a, b in pairs:
            text = text.replace(a, b)
        return text

    if isinstance(exc, InputError):
        exc.path, exc.message = fix(exc.path), fix(exc.message)
        exc.args = (str(exc),)
    else:
        exc.args = tuple(fix(a) for a in exc.args)
    return exc


@contextlib.contextmanager
def _named_as(url: str, local: Path):
    """Errors raised in the block name ``url``, not the local copy."""
    try:
        yield
    except SegmillError as exc:
        raise _renamed(exc, local, redact(url)) from None


def read(url: str, format: str | None = None, *, storage_options: dict | None = None, **options):
    """:func:`segmill.read` of a URL: copy, read the copy, remove it.

    ``storage_options`` go to the store (fsspec); the other options to the
    reader. ``meta["source_path"]`` is the URL.
    """
    from .. import io  # lazy: io imports this package

    if known_scheme(url) == "file":
        return io.read(file_path(url), format, **options)
    with local_copy(url, storage_options) as local, _named_as(url, local):
        ds = io.read(local, format, **options)
    ds.meta["source_path"] = redact(url)
    return ds


def stream(url: str, format: str | None = None, *, storage_options: dict | None = None, **options):
    """:func:`segmill.stream` of a URL: the copy is removed once the items are used up (or dropped)."""
    from .. import io  # lazy: io imports this package

    if known_scheme(url) == "file":
        return io.stream(file_path(url), format, **options)
    stack = contextlib.ExitStack()
    try:
        local = stack.enter_context(local_copy(url, storage_options))
        with _named_as(url, local):
            st = io.stream(local, format, **options)
    except BaseException:
        stack.close()
        raise
    st.header.meta["source_path"] = st.path = redact(url)
    st._items = _RemoteItems(st._items, stack, url, local)  # the Stream's own iterator, wrapped (same package)
    return st


class _RemoteItems:
    """A reader's items: errors name the URL, the local copy goes once they are used up, closed or dropped.

    Other attributes are the reader's iterator's (``finish_dataset`` of a streaming COCO reader).
    """

    def __init__(self, items, stack: contextlib.ExitStack, url: str, local: Path):
        self._source = items
        self._it = _closing(items, stack, url, local)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._source, name)


def _closing(items, stack: contextlib.ExitStack, url: str, local: Path):
    """Yield ``items`` (errors naming the URL), then remove the local copy, also when dropped early."""
    try:
        with _named_as(url, local):
            yield from items
    finally:
        stack.close()


def detect_format(url: str, storage_options: dict | None = None):
    """:func:`segmill.io.detect_format` of a URL (the copy is kept for the read inside :func:`session`)."""
    from .. import io  # lazy: io imports this package

    if known_scheme(url) == "file":
        return io.detect_format(file_path(url))
    with local_copy(url, storage_options) as local, _named_as(url, local):
        return io.detect_format(local)


def check_destination(url: str, format: str, *, force: bool = False, sources=(),
                      storage_options: dict | None = None) -> None:
    """:func:`segmill.io.check_destination` of a URL: refuse now what :func:`write` would refuse."""
    from .. import io  # lazy: io imports this package
    from ..formats import get_format

    if known_scheme(url) == "file":
        return io.check_destination(file_path(url), format, force=force, sources=sources)
    _writable(url)
    check_sources(url, sources)
    fs, path = filesystem(url, storage_options)
    if io.SPLIT_FIELD not in url:
        _check_remote(fs, path, url, get_format(format), force)
    return None


def _writable(url: str) -> None:
    scheme = known_scheme(url)
    if scheme in READ_ONLY:
        raise UsageError(f"{redact(url)}: segmill reads {scheme}:// but does not write it")


def write(dataset, url: str, format: str, *, strict: bool = False, force: bool = False, sources=(),
          storage_options: dict | None = None, **options):
    """:func:`segmill.write` to a URL: stage locally, check the destinations, upload.

    A ``{split}`` pattern gives one upload per split. When an upload fails,
    the objects this call uploaded are removed (best effort) and an
    :class:`~segmill.errors.OutputError` names the URL; see docs/remote.md
    for what a forced replacement leaves then.
    """
    from .. import io  # lazy: io imports this package
    from ..formats import get_format

    if known_scheme(url) == "file":
        return io.write(dataset, file_path(url), format, strict=strict, force=force, sources=sources, **options)
    _writable(url)
    spec = get_format(format)
    if spec.write is None:
        raise InputError(f"segmill cannot write the {spec.name} format", redact(url))
    fs, root = filesystem(url, storage_options)
    scheme = known_scheme(url)
    rel = root.split("://", 1)[-1].lstrip("/")
    check_name(rel, url)
    srcs = [*sources, dataset.meta.get("source_path")]
    with tempfile.TemporaryDirectory(prefix="segmill-upload-") as tmp:
        targets = [(local, "/" * root.startswith("/") + local.relative_to(tmp).as_posix())
                   for local, _ in io.split_targets(dataset, Path(tmp) / rel)]
        for _, path in targets:
            check_sources(url_for(scheme, path), srcs)
            _check_remote(fs, path, url_for(scheme, path), spec, force)
        with _named_as(url, Path(tmp) / rel):
            report = io.write(dataset, Path(tmp) / rel, spec.name, strict=strict, **options)
        done: list = []
        try:
            for local, path in targets:
                upload(fs, local, path, url_for(scheme, path), spec, done)
        except BaseException:
            remove(fs, done)
            raise
    _relabel(report, tmp, scheme, url)
    return report


def _relabel(report, tmp: str, scheme: str, url: str) -> None:
    """The report names the URLs written, not the staging folder."""
    report.path = redact(url)
    report.notes = [n.replace(tmp + "/", f"{scheme}://") for n in report.notes]
