"""COCO to COCO panoptic as a stream (``FormatSpec.write_stream_any``): what is particular to it.

The generic cases are run for every stream writer by ``tests/test_stream_writers.py``; the oracle is the
whole write, and the stream writer is counted so a test cannot pass by reading whole. Here: the options,
splits whose images come interleaved (a JSON, a PNG folder and a run of losses each, in the order the
splits first appear), the JSON put together from its spills (values JSON cannot hold, keys of the
dataset's extra fields), and an undeclared category (the generic case's geometry is a box, dropped first).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import segmill
from segmill.geometry import Box, Polygons
from segmill.model import Annotation, Category, Dataset, Item
from segmill.streaming import Stream
from segmill.transforms import Split

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("coco_panoptic")

CATS = [Category(1, "cat", isthing=True), Category(2, "dog", supercategory="animal", color=(1, 2, 3))]


@pytest.mark.parametrize("chain, write", [
    ([], {"overlap": "last", "raster": "pil"}),
    ([], {"overlap": "zorder", "raster": "coco"}),
    ([Split((("train", 0.5), ("val", 0.3), ("test", 0.2)), seed=3)], {}),  # the splits' images interleaved
    (S.EDITS + [Split((("a", 0.5), ("b", 0.5)), seed=1)], {"overlap": "last"}),
])
def test_coco_to_panoptic_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    a, _ = S.same(tmp_path, "coco_panoptic", S.plain(tmp_path, 25, seed=4), chain, write, streams, at_least=26)
    assert a.losses and a.items == 25
    jsons = sorted(p.name for p in (tmp_path / "s" / "annotations").glob("*.json"))
    if chain and isinstance(chain[-1], Split):
        assert jsons == sorted(f"panoptic_{n}.json" for n, _ in chain[-1].splits)
    else:
        assert jsons == ["panoptic_default.json"]


def _polygon(x: float) -> Polygons:
    return Polygons([np.array([[x, 0.5], [x + 2.5, 0.5], [x + 2.5, 3.5], [x, 3.5]])])


def _interleaved() -> list:
    """Items of splits b, a, b, None, a, ...: polygons (a loss each), a PNG name taken twice in a split."""
    out = []
    for i in range(9):
        anns = [Annotation(10 * i + 1, 1 + i % 2, _polygon(0.5)), Annotation(10 * i + 2, 2, _polygon(1.5 + i % 2))]
        if i % 4 == 1:
            anns.append(Annotation(10 * i + 3, 1, Box(0, 0, 1, 1)))  # no pixels: L251
        item = Item(i, f"i{i}.png", 6, 4, anns, split=[None, "b", "a"][i % 3] if i else "b")
        if i in (2, 8):  # split a, one PNG name twice: the second is renamed
            item.extra["panoptic_file_name"] = "same.png"
        out.append(item)
    return out


def test_interleaved_splits_write_what_the_whole_write_writes_split_by_split(tmp_path):
    a = S.written_alike(tmp_path, "coco_panoptic", CATS, _interleaved)
    root = tmp_path / "s" / "annotations"
    assert sorted(p.name for p in root.iterdir()) == ["panoptic_a", "panoptic_a.json", "panoptic_b",
                                                      "panoptic_b.json", "panoptic_default",
                                                      "panoptic_default.json"]
    assert sorted(p.name for p in (root / "panoptic_a").iterdir()) == ["i5.png", "same.png", "same_8.png"]
    rank = {it.id: ("b", "a", None).index(it.split) for it in _interleaved()}
    order = [l.item_id for l in a.losses]
    # the losses of split b (its first image came first), then a, then default; each split's in item order
    assert order == sorted(order, key=lambda i: (rank[i], i)) and len(set(order)) == 9 and order != sorted(order)


def test_the_json_is_json_dumps_of_the_whole_document(tmp_path):
    def items():
        out = _interleaved()
        out[2].extra["note"] = {"x": [1.5, None, "é"]}  # an image's extra fields go to its record
        return out

    header_extra = {"images_note": "kept", 7: "an int key", "segment_info": [1, 2]}
    st, ds = Stream(Dataset(CATS), iter(items()), bounded=True), Dataset(CATS, items())
    for d in (st.header, ds):
        d.info, d.licenses, d.extra = {"year": 2024}, [{"id": 1, "name": "cc"}], dict(header_extra)
    a = segmill.io.write_stream(st, tmp_path / "s", "coco_panoptic")
    S.same_tree(tmp_path, a, segmill.write(ds, tmp_path / "w", "coco_panoptic"))
    text = (tmp_path / "s" / "annotations" / "panoptic_b.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert text == json.dumps(doc) and list(doc) == ["info", "licenses", "images", "annotations", "categories",
                                                     "images_note", "7", "segment_info"]
    assert [im["id"] for im in doc["images"]] == [r["image_id"] for r in doc["annotations"]] == [0, 1, 4, 7]


def test_extra_fields_named_like_the_lists_replace_them_as_in_the_whole_write(tmp_path):
    st, ds = Stream(Dataset(CATS), iter(_interleaved()), bounded=True), Dataset(CATS, _interleaved())
    for d in (st.header, ds):
        d.extra = {"annotations": "replaced", "z": 1}
    S.same_tree(tmp_path, segmill.io.write_stream(st, tmp_path / "s", "coco_panoptic"),
                segmill.write(ds, tmp_path / "w", "coco_panoptic"))
    doc = json.loads((tmp_path / "s" / "annotations" / "panoptic_a.json").read_text(encoding="utf-8"))
    assert doc["annotations"] == "replaced" and len(doc["images"]) == 3


@pytest.mark.parametrize("where", ["image", "segment", "header", "image and header"])
def test_a_value_json_cannot_hold_is_refused_as_the_whole_write_refuses_it(tmp_path, where):
    def items():
        out = _interleaved()
        if "image" in where:
            out[5].extra["bad"] = {1, 2}  # a set, in split a's image records
        if where == "segment":
            out[7].annotations[0].extra["bad"] = object()
        return out

    cats = [Category(1, "cat", extra={"bad": {3}} if "header" in where else {}), CATS[1]]
    err = S.refused_alike(tmp_path, "coco_panoptic", cats, items())
    assert "cannot be written as JSON" in err.message
    assert ("set" if where != "segment" else "object") in err.message


def test_an_undeclared_category_is_lost_as_in_the_whole_write(tmp_path):
    def items():
        out = _interleaved()
        out[3].annotations.append(Annotation(99, 5, _polygon(3.5)))  # category 5 is not declared
        return out

    a = S.written_alike(tmp_path, "coco_panoptic", CATS, items)
    assert [(l.code, l.annotation_id) for l in a.losses if l.code == "L003"] == [("L003", 99)]


def test_a_split_that_is_no_file_name_is_refused_and_leaves_nothing(tmp_path):
    def items():
        out = _interleaved()
        out[6].split = "../up"
        return out

    assert "split" in S.refused_alike(tmp_path, "coco_panoptic", CATS, items()).message


def test_sa1b_with_options_streams_what_reads_back_as_panoptic(tmp_path, streams, fixtures_dir):
    S.from_sa1b(tmp_path, "coco_panoptic", fixtures_dir / "sa1b_tar", streams, overlap="last")
    back = segmill.read(tmp_path / "s")
    assert back.items and all(a.extra.get("panoptic_id") for it in back.items for a in it.annotations)
