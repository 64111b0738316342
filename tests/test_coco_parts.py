"""A COCO part's text spilled to a file (``Part.spill``) is written back exactly, in the kernel or not."""

from __future__ import annotations

import io
import os

import pytest

from segmill.formats import coco
from segmill.formats._coco_write import Spilled

TEXT_IMAGES = b'{"id":1,"file_name":"a.jpg"},{"id":2,"file_name":"b.jpg"}'
TEXT_ANNS = b'{"id":7,"image_id":1}' * 5000  # past one sendfile call's usual chunk on some systems


def _part() -> coco.Part:
    return coco.Part(TEXT_IMAGES, TEXT_ANNS, [], [], 2, 5000)


def test_spill_keeps_the_counts_and_says_where_the_text_is(tmp_path):
    part = _part().spill(tmp_path / "p")
    assert part.images == Spilled(str(tmp_path / "p"), 0, len(TEXT_IMAGES))
    assert part.annotations == Spilled(str(tmp_path / "p"), len(TEXT_IMAGES), len(TEXT_ANNS))
    assert (part.items, part.annotation_count) == (2, 5000)
    assert (tmp_path / "p").read_bytes() == TEXT_IMAGES + TEXT_ANNS


@pytest.mark.skipif(not hasattr(os, "sendfile"), reason="no os.sendfile on this system (the next test's path)")
def test_copy_to_a_file_appends_after_what_the_buffer_held(tmp_path, monkeypatch):
    part = _part().spill(tmp_path / "p")
    calls = []
    real = os.sendfile
    monkeypatch.setattr(os, "sendfile", lambda *a: calls.append(a) or real(*a))
    with open(tmp_path / "out", "wb") as fh:
        fh.write(b"[")  # still in the buffer: must land before the copied text
        part.annotations.copy_to(fh)
        fh.write(b"|")
        part.images.copy_to(fh)
    assert (tmp_path / "out").read_bytes() == b"[" + TEXT_ANNS + b"|" + TEXT_IMAGES
    assert calls  # copied in the kernel


def test_copy_to_something_sendfile_cannot_write_goes_through_python(tmp_path, monkeypatch):
    part = _part().spill(tmp_path / "p")
    buf = io.BytesIO()  # no file descriptor
    part.annotations.copy_to(buf)
    assert buf.getvalue() == TEXT_ANNS
    monkeypatch.delattr(os, "sendfile")  # a system without it
    with open(tmp_path / "out", "wb") as fh:
        part.images.copy_to(fh)
    assert (tmp_path / "out").read_bytes() == TEXT_IMAGES


def test_a_part_file_cut_short_is_an_error_not_a_short_output(tmp_path):
    part = _part().spill(tmp_path / "p")
    with open(tmp_path / "p", "r+b") as fh:
        fh.truncate(len(TEXT_IMAGES) + 10)
    with open(tmp_path / "out", "wb") as fh, pytest.raises(OSError, match="ends before byte"):
        part.annotations.copy_to(fh)
