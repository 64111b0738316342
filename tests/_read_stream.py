"""Shared oracle of the reader-stream tests (NIfTI, NRRD, DICOM SEG, GeoJSON, Open Images, COCO results): the whole
read, check and write.

A stream (``segmill.stream``) must give what ``segmill.read`` gives: the
header (categories and meta) before the first item, then the same items; or
the read's error (message, file, record), after the items before it. A
streamed ``segmill check`` finds what the whole check finds, and ``segmill
convert`` of a stream writes the files of the whole write (the target's
``write_stream`` counted, so a test cannot pass by reading whole). Loaded by
the tests the way they load ``_stream_writers.py`` (loaded here as :data:`S`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import segmill
from segmill.check import Config, check_path
from segmill.check import streamed as dcheck
from segmill.errors import InputError
from segmill.transforms import streamed

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)


def outcome(fn):
    """``(value, None)``, or ``(None, (message, path, record, type))`` of the InputError ``fn`` raised."""
    try:
        return fn(), None
    except InputError as exc:
        return None, (exc.message, str(exc.path), exc.record, type(exc))


def same_as_read(path, fmt: str, **options) -> segmill.Dataset | None:
    """The stream of ``path`` gives what :func:`segmill.read` gives (or its error); the dataset read."""
    whole, err = outcome(lambda: segmill.read(path, fmt, **options))
    st, serr = outcome(lambda: segmill.stream(path, fmt, **options))
    if serr is None:
        assert st.bounded
        if err is None:  # what the header says before the first item (records skipped may be listed later)
            assert {k: v for k, v in st.header.meta.items() if k != "skipped"} == \
                   {k: v for k, v in whole.meta.items() if k != "skipped"}
            early = st.header.meta.get("skipped", [])
            assert whole.meta.get("skipped", [])[:len(early)] == early
            assert st.header.categories == whole.categories
        got, serr = outcome(st.to_dataset)
    assert serr == err
    if err is None:
        assert got == whole and got.meta == whole.meta and got.items == whole.items
        assert [[a.attributes for a in i.annotations] for i in got.items] == \
               [[a.attributes for a in i.annotations] for i in whole.items]
    return whole


def streamed_until_error(path, fmt: str, **options) -> tuple[list, tuple | None]:
    """The items a stream of ``path`` yields, and the error it raises after them (or None)."""
    items = []
    try:
        for item in segmill.stream(path, fmt, **options):
            items.append(item)
    except InputError as exc:
        return items, (exc.message, str(exc.path), exc.record, type(exc))
    return items, None


def same_check(root, fmt: str, monkeypatch, batch: int = 2, found: bool = False) -> None:
    """A streamed check of ``root`` (``batch`` images at a time) finds what the whole check finds (something,
    with ``found``)."""
    monkeypatch.setattr(streamed, "BATCH", batch)
    for select in (None, ["ALL"]):
        cfg = Config(select=select) if select else Config()
        whole = check_path(root, format=fmt, config=cfg)
        got = dcheck.check_streamed([root], format=fmt, config=cfg)
        assert got is not None and (whole.findings or not found)
        assert [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in got.findings] == \
               [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in whole.findings]
        assert (got.images, got.annotations) == (whole.images, whole.annotations)


def same_convert(src, fmt: str, to: str, tmp_path, monkeypatch) -> None:
    """``segmill convert`` of ``src`` to ``to`` streams and writes the files and report of the whole write."""
    calls = S.count_writes(monkeypatch, to)
    a = segmill.convert(src, tmp_path / "s", fmt, to)
    assert calls == [1]
    b = segmill.write(segmill.read(src, fmt), tmp_path / "w", to)
    assert S.files(S.same_tree(tmp_path, a, b))
