"""segmill.stream: the same dataset as segmill.read, one item at a time; segmill info counts a stream."""

from __future__ import annotations

import json
import shutil

import pytest

import segmill
from segmill._info import InfoCounts, summarize, summarize_stream
from segmill.errors import InputError, UsageError
from segmill.formats import formats

READERS = sorted(n for n, s in formats().items() if s.read is not None)


@pytest.fixture(autouse=True)
def stream_small_coco_files(monkeypatch):
    """COCO streams files over 32 MiB through its index; the fixtures are small: stream them all the same."""
    from segmill.formats import coco

    monkeypatch.setattr(coco, "STREAM_BYTES", 0)


@pytest.mark.parametrize("fmt", READERS)
def test_a_stream_holds_what_read_returns(fmt, fixtures_dir):
    path = fixtures_dir / formats()[fmt].example
    st = segmill.stream(path, fmt)
    assert st.bounded == (formats()[fmt].stream is not None)
    assert st.header.items == []
    whole = segmill.read(path, fmt)
    assert st.to_dataset() == whole
    assert summarize_stream(segmill.stream(path, fmt), batch=1) == summarize(whole)


def test_counts_of_parts_merged_equal_the_counts_of_the_whole(fixtures_dir):
    ds = segmill.read(fixtures_dir / "coco" / "annotations.json", "coco")
    whole = InfoCounts().add(ds.items).result(ds.categories)
    halves = InfoCounts().add(ds.items[:1]).merge(InfoCounts().add(ds.items[1:])).result(ds.categories)
    assert halves == whole and whole == summarize(ds)


def _sa1b_copy(fixtures_dir, tmp_path):
    root = tmp_path / "sa"
    shutil.copytree(fixtures_dir / "sa1b", root)
    return root, sorted(root.glob("*.json"))


def test_sa1b_items_come_as_they_are_read(fixtures_dir, tmp_path):
    root, docs = _sa1b_copy(fixtures_dir, tmp_path)
    docs[-1].write_text("{not json")  # the last file read is broken: earlier items are already out
    got = []
    with pytest.raises(InputError):
        for item in segmill.stream(root, "sa1b"):
            got.append(item.id)
    assert len(got) == len(docs) - 1
    with pytest.raises(InputError):
        segmill.read(root, "sa1b")  # the whole read refuses the same input


def test_a_stream_refuses_an_image_id_seen_before(fixtures_dir, tmp_path):
    root, docs = _sa1b_copy(fixtures_dir, tmp_path)
    first = json.loads(docs[0].read_text())
    second = json.loads(docs[1].read_text())
    second["image"]["image_id"] = first["image"]["image_id"]
    docs[1].write_text(json.dumps(second))
    with pytest.raises(InputError, match="used twice"):
        segmill.stream(root, "sa1b").to_dataset()
    with pytest.raises(InputError):
        segmill.read(root, "sa1b")


def test_a_stream_is_read_once(fixtures_dir):
    st = segmill.stream(fixtures_dir / "sa1b", "sa1b")
    assert len(list(st)) == 2
    with pytest.raises(UsageError, match="read once"):
        list(st)


def test_lenient_stream_lists_skipped_records_in_its_header(fixtures_dir, tmp_path):
    root, docs = _sa1b_copy(fixtures_dir, tmp_path)
    docs[0].write_text("[]")
    st = segmill.stream(root, "sa1b", errors="skip")
    items = list(st)
    assert len(items) == len(docs) - 1 and len(st.header.meta["skipped"]) == 1
    assert st.header.meta["skipped"] == segmill.read(root, "sa1b", errors="skip").meta["skipped"]
