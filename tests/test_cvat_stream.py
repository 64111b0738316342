"""CVAT as a stream: what the generic cases (``tests/test_stream_writers.py``) do not cover.

The ``id`` of each ``<image>`` depends on every item (the items' own ids when all are integers, else the
CVAT id an image was read with, else its position): a stream writes the own ids while they are integers
and rewrites the heads before the first that is not one. The oracle is the whole write.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import segmill
from segmill.errors import InputError
from segmill.model import Category, Dataset
from segmill.streaming import Stream

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)

CATS = [Category(1, "cat"), Category(2, "dog")]


def _items(ids, cvat_ids=None):
    def make():
        out = S.boxes(len(ids))
        for k, (item, iid) in enumerate(zip(out, ids)):
            item.id = iid
            if cvat_ids and cvat_ids[k] is not None:
                item.origin = ("cvat", {"id": cvat_ids[k]})
        return out

    return make


def _ids(tmp_path) -> list[str]:
    """The ``id`` attribute of each ``<image>`` written (its quotes left on when they are not ``"``)."""
    text = (tmp_path / "s" / "annotations.xml").read_text(encoding="utf-8")
    heads = [line.split(" name=")[0].removeprefix("  <image id=") for line in text.splitlines()
             if line.startswith("  <image ")]
    return [h[1:-1] if h.count('"') == 2 else h for h in heads]


@pytest.mark.parametrize("ids, cvat_ids, want", [
    ([5, 9, 2, 7], None, ["5", "9", "2", "7"]),  # all integers: the items' own ids
    ([5, 9, "x", 7], None, ["0", "1", "2", "3"]),  # one is not: the positions, the heads before it rewritten
    ([5, 9, 2, "x"], [None, "c9", "c\"2", None], ["0", "c9", "'c\"2'", "3"]),  # the CVAT ids read
    (["x", 9, 2], ["a", None, "b"], ["a", "1", "b"]),  # not an integer from the first
])
def test_image_ids_are_the_whole_writes(tmp_path, ids, cvat_ids, want):
    S.written_alike(tmp_path, "cvat", CATS, _items(ids, cvat_ids))
    assert _ids(tmp_path) == want


def test_a_cvat_id_xml_cannot_hold_is_refused_as_the_whole_write_refuses_it(tmp_path):
    items = _items([1, 2, 3, "x"], [None, "bad\x01id", None, None])
    with pytest.raises(InputError) as whole:
        segmill.write(Dataset(CATS, items()), tmp_path / "w", "cvat")
    with pytest.raises(InputError) as streamed:
        segmill.io.write_stream(Stream(Dataset(CATS), iter(items()), bounded=True), tmp_path / "s", "cvat")
    assert (streamed.value.message, streamed.value.record) == (whole.value.message, whole.value.record)
    assert "image id 2" in str(streamed.value) and list(tmp_path.iterdir()) == []


def test_a_cvat_source_streams_back_to_the_whole_writes_bytes(tmp_path, monkeypatch, fixtures_dir):
    calls = S.count_writes(monkeypatch, "cvat")
    src = fixtures_dir / "cvat" / "basic"
    a = segmill.io.write_stream(segmill.stream(src, "cvat"), tmp_path / "s", "cvat")
    b = segmill.write(segmill.read(src, "cvat"), tmp_path / "w", "cvat")
    S.same_tree(tmp_path, a, b)
    assert calls and a.items > 0
