"""VOC's ``ImageSets`` lists spill to scratch files past a buffer, and its ids are kept as digests.

The oracle is the same write with the buffer never reached: the files must be
the same bytes whether the lines were held in memory or appended to scratch
files as images came, including a label list named like an image list of
``Main``, which replaces it. The memory tests (tracemalloc) check that what a
write keeps per image stays a few bytes: 8-byte digests, lines as characters.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segmill
from segmill._nameset import NameSet
from segmill.formats import _voc_write
from segmill.geometry import Box, Polygons
from segmill.losses import WriteReport
from segmill.model import Annotation, Category, Dataset, Item
from segmill.streaming import Stream

SPLITS = ("train", "val", "test")
CLASSES = ("cat", "dog")


def _dataset(rows) -> Dataset:
    """Items from ``(name, split, sets, labels, polygon?)`` rows."""
    items = []
    for k, (name, split, sets, labels, painted) in enumerate(rows):
        anns = [Annotation(id=k + 1, category_id=1,
                           geometry=Polygons([[1.0, 1.0, 6.0, 1.0, 6.0, 5.0]]))] if painted else []
        extra = {}
        if sets:
            extra["voc_sets"] = sets
        if labels:
            extra["voc_labels"] = labels
        items.append(Item(id=k + 1, file_name=f"{name}.jpg", width=8, height=8, annotations=anns, split=split,
                          extra=extra))
    return Dataset(categories=[Category(1, "cat"), Category(2, "dog")], items=items)


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _both(tmp_path, ds, monkeypatch):
    """The files and report of the write held in memory, then spilled at every image."""
    held = segmill.write(ds, tmp_path / "held", "voc")
    monkeypatch.setattr(_voc_write, "_LIST_BUFFER", 0)
    spilled = segmill.write(ds, tmp_path / "spilled", "voc")
    return (_files(tmp_path / "held"), held), (_files(tmp_path / "spilled"), spilled)


def test_spilled_lists_are_the_bytes_of_held_lists_and_a_label_list_replaces_an_image_list(tmp_path, monkeypatch):
    rows = [
        ("a", "train", None, {"cat_train": 1, "dog_train": -1, "val": 0}, True),  # before any image list "val"
        ("b", "val", {"Main": ["val"], "Layout": ["val"]}, {"cat_val": 0}, False),
        ("a", "train", None, {"train": 1}, True),  # same name: suffixed id; label list "train" = Main/train.txt
        ("c", "test", {"Main": ["test", "train"]}, {"dog_test": 1}, True),
    ]
    (held, rh), (spilled, rs) = _both(tmp_path, _dataset(rows), monkeypatch)
    assert spilled == held
    assert rs.files == rh.files and rs.items == rh.items == 4
    assert held["ImageSets/Main/train.txt"] == b"a_3  1\n"  # the label list replaced the image list
    assert held["ImageSets/Layout/val.txt"] == b"b\n"
    assert held["ImageSets/Main/val.txt"] == b"a  0\n"  # also when the label list came first
    assert not any(".lists-" in name for name in spilled)


rows = st.lists(st.tuples(st.sampled_from(["a", "b", "c d", "e"]), st.sampled_from(SPLITS),
                          st.one_of(st.none(), st.dictionaries(st.sampled_from(["Main", "Segmentation", "Action"]),
                                                               st.lists(st.sampled_from(SPLITS), min_size=1,
                                                                        max_size=2, unique=True), min_size=1)),
                          st.one_of(st.none(), st.dictionaries(
                              st.sampled_from([f"{c}_{s}" for c in CLASSES for s in SPLITS] + ["val"]),
                              st.sampled_from([-1, 0, 1]), min_size=1)),
                          st.booleans()), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None)
@given(rows=rows)
def test_lists_spilled_at_any_point_hold_the_same_bytes(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("voc")
    ds = _dataset(rows)
    held = segmill.write(ds, tmp / "held", "voc")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_voc_write, "_LIST_BUFFER", 0)
        spilled = segmill.write(ds, tmp / "spilled", "voc")
    assert _files(tmp / "spilled") == _files(tmp / "held")
    assert spilled.files == held.files


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=6)), st.lists(st.text(max_size=6)))
def test_nameset_answers_as_a_set(added, asked):
    ours, oracle = NameSet(), set()
    for name in added:
        ours.add(name)
        oracle.add(name)
        assert len(ours) == len(oracle)
    for name in asked + added:
        assert (name in ours) == (name in oracle)


def test_nameset_grows_past_its_first_table():
    s = NameSet(f"img{i}" for i in range(5000))
    assert len(s) == 5000 and all(f"img{i}" in s for i in range(0, 5000, 7)) and "img5000" not in s
    assert 1 not in s  # not a string: never in it


def _traced(fn) -> tuple[int, int]:
    """``(bytes held after, peak bytes during)`` ``fn()``, as tracemalloc sees them."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = fn()
        gc.collect()
        now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    return now - base, peak - base


def test_nameset_holds_about_8_bytes_a_name_and_never_doubles_a_table():
    # N and 4N multiples of RECENT: no recent digests held at either end
    n = 20 * 1024
    names = [f"{i:012d}" for i in range(4 * n)]
    small = _traced(lambda: NameSet(names[:n]))
    big = _traced(lambda: NameSet(names))
    held, peak = ((b - s) / (3 * n) for b, s in zip(big, small))
    assert held < 12, f"{held:.1f} bytes held a name"  # a table half full: 16-32
    assert peak < 24, f"{peak:.1f} bytes at the peak a name"  # a doubling table rehashed: about 65


def test_buffered_list_lines_cost_about_their_characters(tmp_path):
    vids = [f"{i:012d}" for i in range(20_000)]
    items = [Item(id=i, file_name=f"{v}.jpg", split="train") for i, v in enumerate(vids)]
    report = WriteReport()

    def fill():
        lists = _voc_write._Lists(tmp_path)
        lists.limit = 1 << 30  # held, never spilled
        for item, vid in zip(items, vids):
            lists.add(item, vid, report)
        return lists

    held, _ = _traced(fill)
    chars = 13 * len(vids)
    assert held < 1.5 * chars, f"{held / chars:.1f} bytes a character"  # a list of line strings: about 5.5


def test_streamed_write_holds_no_object_per_image(tmp_path):
    """What a streamed VOC write holds at the end of its images grows by a few bytes an image, not by objects."""
    cats = [Category(1, "cat")]

    def items(n):
        for k in range(n):
            yield Item(id=k + 1, file_name=f"{k:08d}.jpg", width=4, height=4, split="train",
                       annotations=[Annotation(id=k + 1, category_id=1, geometry=Box(0, 0, 2, 2))])

    def held(n) -> int:
        at_end = []
        write_lists = _voc_write._Lists.write

        def measured(self, out, report):
            gc.collect()
            at_end.append(tracemalloc.get_traced_memory()[0])
            return write_lists(self, out, report)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_voc_write._Lists, "write", measured)
            gc.collect()
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                report = _voc_write.write_stream(Stream(Dataset(categories=cats), items(n), True), tmp_path / f"o{n}")
            finally:
                tracemalloc.stop()
        assert report.items == n
        return at_end[0] - base

    held(8)  # what a first write loads and caches once
    n = 512
    small = held(n)
    grown = (held(4 * n) - small) / (3 * n)
    assert grown < 40, f"{grown:.0f} bytes an image"  # a doubling digest table and line strings: about 85
