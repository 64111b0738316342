"""Fuzzing harness shared by the structured fuzz tests (``tests/fuzz/test_fuzz_*.py``).

The property every reader must have: on any input it returns a
:class:`~segmill.model.Dataset` or raises a :class:`~segmill.errors.SegmillError`,
never anything else, and it writes nothing. Writers: given any dataset a reader
returned, they write a complete output or raise a ``SegmillError``, and never
write outside their destination.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

import segmill
from segmill.errors import SegmillError
from segmill.model import Dataset

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"


def _snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            try:
                st = p.lstat()
            except OSError:
                continue
            out[p.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def read_or_refuse(path, fmt: str, **options):
    """Read ``path`` as ``fmt``; return the dataset, or ``None`` when refused with a SegmillError.

    Any other exception fails the test (it propagates). The folder holding
    ``path`` must be unchanged afterwards: readers write nothing.
    """
    path = Path(path)
    root = path.parent
    before = _snapshot(root)
    try:
        ds = segmill.read(path, fmt, **options)
    except SegmillError as exc:
        assert "\n" not in str(exc), f"multi-line message: {exc!r}"
        ds = None
    else:
        assert isinstance(ds, Dataset)
    assert _snapshot(root) == before, "a reader changed files beside its input"
    return ds


def stream_or_refuse(path, fmt: str, whole, **options) -> None:
    """Stream ``path`` as ``fmt``: the dataset :func:`read_or_refuse` gave (``whole``), or a refusal where it refused.

    A format's stream is a second reader of the same bytes: it must take what
    the read takes and refuse (with a one-line :class:`SegmillError`) what
    the read refuses.
    """
    try:
        streamed = segmill.stream(path, fmt, **options).to_dataset()
    except SegmillError as exc:
        assert "\n" not in str(exc), f"multi-line message: {exc!r}"
        assert whole is None, f"the stream refused what the read took: {exc}"
        return
    assert whole is not None, "the stream took what the read refused"
    assert streamed == whole or repr(streamed) == repr(whole)  # NaN != NaN: then compare what they show


def write_or_refuse(ds, dst, fmt: str, **options):
    """Write ``ds`` as ``fmt`` to ``dst``; a SegmillError leaves nothing; nothing lands beside ``dst``."""
    dst = Path(dst)
    before = _snapshot(dst.parent)
    try:
        report = segmill.write(ds, dst, fmt, **options)
    except SegmillError as exc:
        assert "\n" not in str(exc) or "strict mode" in str(exc), f"multi-line message: {exc!r}"
        assert _snapshot(dst.parent) == before, "a failed write left files behind"
        return None
    after = _snapshot(dst.parent)
    new = {k for k in after if k not in before and not k.startswith(dst.name)}
    assert not new, f"the writer wrote outside its destination: {sorted(new)}"
    return report


@pytest.fixture
def reads_or_refuses():
    return read_or_refuse


@pytest.fixture
def streams_or_refuses():
    return stream_or_refuse


@pytest.fixture
def writes_or_refuses():
    return write_or_refuse


@pytest.fixture(scope="module")
def small_pixel_limit():
    """SEGMILL_MAX_PIXELS at 2 Mpx for a module's tests: a mutated size is refused instead of allocated.

    A module asks for it with ``pytestmark = pytest.mark.usefixtures("small_pixel_limit")``.
    """
    with mock.patch.dict(os.environ, {"SEGMILL_MAX_PIXELS": "2000000"}):
        yield
