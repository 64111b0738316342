"""COCO panoptic read as a stream (``coco_panoptic.stream``): an index of each JSON, then one image at a time.

The oracle is the whole read (``tests/_read_stream.py``): the same
items, categories, meta and dataset fields (stated by the header before the
first item), the same error (message, file, record) for malformed input,
raised after the items the read would have read before it; the same
``segmill check`` findings and converted bytes. What the index cannot vouch
for is read whole (``Stream.bounded`` False), with the same outcome.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import segmill
from segmill.formats import _panoptic_stream as ps
from segmill.formats import coco_panoptic
from segmill.transforms import streamed

_spec = importlib.util.spec_from_file_location("_read_stream", Path(__file__).with_name("_read_stream.py"))
O = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(O)
JM = O.load("fuzz/_json_mutations")
FIXTURE = Path(__file__).parent.parent / "fixtures" / "panoptic"
FMT = "coco_panoptic"

same = partial(O.same_as_read, fmt=FMT)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    return build(tmp_path_factory.mktemp("pan-built"))


def build(root: Path, n: int = 7) -> dict:
    """Panoptic folders written from one synthetic dataset of ``n`` images: one JSON (``one``), two splits
    (``two``)."""
    ds = O.synthetic(root, n)
    segmill.write(ds, root / "one", FMT)
    for k, item in enumerate(ds.items):
        item.split = ("train", "val")[k % 3 == 1]
    segmill.write(ds, root / "two", FMT)
    return {"one": root / "one", "two": root / "two"}


@pytest.fixture
def copy(built, tmp_path):
    """``copy(which)``: a fresh copy of a built folder to change; ``(root, {split: (json path, doc)})``."""
    def make(which: str = "one", name: str = "ds"):
        dst = tmp_path / name
        shutil.copytree(built[which], dst)
        docs = {f.stem: (f, json.loads(f.read_text())) for f in sorted((dst / "annotations").glob("*.json"))}
        return dst, docs
    return make


def _dump(docs: dict) -> None:
    for f, doc in docs.values():
        f.write_text(json.dumps(doc))


# ------------------------------------------------------------------ datasets that read
def test_the_fixture_streams_as_it_reads():
    ds = same(FIXTURE)
    assert len(ds.items) == 2 and ds.num_annotations > 0
    same(FIXTURE / "annotations" / "panoptic_val.json")  # the JSON file itself


def test_the_datumaro_panoptic_set_streams_as_it_reads(corpus):
    root = corpus / "datumaro" / "coco_dataset" / "coco_panoptic"
    if root.is_dir():
        same(root)  # its train PNG does not match its image size: the read's error, after the val images


@pytest.mark.parametrize("which", ["one", "two"])
def test_built_sets_stream_as_they_read(built, which):
    ds = same(built[which])
    assert len(ds.items) == 7 and ds.num_annotations > 20
    assert ({i.split for i in ds.items} == {"train", "val"}) == (which == "two")


def test_splits_with_their_own_categories_info_and_keys(copy):
    """Later files add categories and replace ``info`` / other keys; an image sees the categories declared
    up to its file, whatever comes later."""
    root, docs = copy("two")
    train, val = docs["panoptic_train"][1], docs["panoptic_val"][1]
    train["info"], val["info"] = {"t": 1}, {"v": [1, 2]}
    train["extra_key"], val["other"] = "x", {"y": None}
    val["categories"].append({"id": 99, "name": "late", "color": [1, 2, 3], "isthing": 0, "odd": True})
    _dump(docs)
    ds = same(root)
    assert ds.info == {"v": [1, 2]} and ds.extra == {"extra_key": "x", "other": {"y": None}}
    assert ds.categories[-1].id == 99
    train["categories"] = train["categories"][:1]  # the train images use categories declared in val only
    _dump(docs)
    assert same(root) is None


def test_annotation_records_last_one_wins_and_unknown_images_are_ignored(copy):
    root, docs = copy()
    f, doc = docs["panoptic_default"]
    first = doc["annotations"][0]
    doc["annotations"].insert(0, dict(first, segments_info=[], stray=1))  # the later record wins
    doc["annotations"].append(dict(first, image_id=123456))  # no image: ignored
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != doc["images"][2]["id"]]
    doc["images"][3]["odd"] = 2**70  # only the standard parser reads it
    _dump(docs)
    ds = same(root)
    assert not ds.items[2].annotations and ds.items[3].extra["odd"] == 2**70


def test_records_without_file_name_and_sizes_come_from_the_png(copy):
    root, docs = copy()
    f, doc = docs["panoptic_default"]
    for a in doc["annotations"]:
        a.pop("file_name")
    for im in doc["images"]:
        im.pop("width"), im.pop("height")
    _dump(docs)
    ds = same(root)
    assert all(i.size is not None for i in ds.items)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=O.datasets(max_images=4, max_annotations=4))
def test_random_datasets_written_as_panoptic_stream_as_they_read(data):
    O.written_as_read(data[0], FMT)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(JM.mutation, min_size=1, max_size=3), edit=JM.byte_edits(4))
def test_mutated_json_streams_as_it_reads_or_fails_alike(built, ops, edit):
    """A value anywhere swapped for a hostile one, keys deleted, records duplicated, bytes flipped: the stream's
    items or error are the read's, whether it streams or reads whole."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        shutil.copytree(built["two"], root)
        f = root / "annotations" / "panoptic_val.json"
        f.write_bytes(JM.mutate(json.loads(f.read_text()), ops, edit, hostile=JM.BASE_HOSTILE + [2**64, "../x.png"],
                                sizes=[0, -1, 10**12], literals=JM.BASE_LITERALS))
        same(root, bounded=None)


# ------------------------------------------------------------------ one image at a time
def test_items_come_one_image_at_a_time(built, monkeypatch):
    calls, decodes = [], []
    real_item, real_png = coco_panoptic._item, coco_panoptic.read_png
    monkeypatch.setattr(coco_panoptic, "_item", lambda im, *a: calls.append(im["id"]) or real_item(im, *a))
    monkeypatch.setattr(coco_panoptic, "read_png", lambda p: decodes.append(p) or real_png(p))
    st = segmill.stream(built["two"], FMT)
    assert st.bounded and calls == [] and decodes == [] and len(st.header.categories) > 3
    assert getattr(st._items, "ids_unique", False)  # the index checked them
    it = iter(st)
    first = next(it)
    assert calls == [first.id] and len(decodes) == 1
    next(it)
    assert len(calls) == len(decodes) == 2
    rest = list(it)
    assert len(calls) == 2 + len(rest) == 7


def test_the_index_keeps_spans_and_ids_not_records(built):
    jf = built["one"] / "annotations" / "panoptic_default.json"
    ix = ps.index_split(jf, coco_panoptic._record_key)
    assert ix.top["images"] == [] and ix.top["annotations"] == [] and len(ix.top["categories"]) > 3
    assert ix.images.shape == (7, 2) and ix.spans.shape == (7, 2) and len(ix.image_ids) == 7
    assert list(ix.keys) == sorted(ix.image_ids)
    doc = json.loads(jf.read_text())
    assert [r for _, r in ix.image_records()] == doc["images"]
    lookup = ix.lookup()
    assert [lookup.get(a["image_id"]) for a in doc["annotations"]] == doc["annotations"]
    assert lookup.get(str(doc["images"][0]["id"])) is None and lookup.get(2**80) is None and lookup.get(-5) is None


def test_lenient_modes_read_whole(built):
    for errors in ("skip", "keep"):
        assert coco_panoptic.stream(built["two"], errors=errors) is None
        st = segmill.stream(built["two"], FMT, errors=errors)
        assert not st.bounded and st.to_dataset() == segmill.read(built["two"], FMT, errors=errors)


# ------------------------------------------------------------------ what the index cannot vouch for: read whole
def _string_ids(doc):
    for im in doc["images"]:
        im["id"] = str(im["id"])
    for a in doc["annotations"]:
        a["image_id"] = str(a["image_id"])


def _repeated_id(doc):
    doc["images"][1]["id"] = doc["images"][0]["id"]


def _huge_annotation_id(doc):
    doc["annotations"][0]["image_id"] = 2**64


def _bad_category(doc):
    doc["categories"][2]["name"] = 5


def _bad_annotation_record(doc):
    doc["annotations"][1] = {"segments_info": []}


def _no_categories(doc):
    del doc["categories"]


def _categories_not_a_list(doc):
    doc["categories"] = {"a": 1}


@pytest.mark.parametrize("which", ["one", "two"])
@pytest.mark.parametrize("change", [_string_ids, _repeated_id, _huge_annotation_id, _bad_category,
                                    _bad_annotation_record, _no_categories, _categories_not_a_list])
def test_what_the_index_cannot_vouch_for_is_read_whole(copy, which, change):
    root, docs = copy(which)
    change(docs[max(docs)][1])  # the last file: the read raises after the items of the first
    _dump(docs)
    same(root, bounded=False)


@pytest.mark.parametrize("text", [
    b"[]", b'{"images": [], "annotations": []', b'{"images": [1,, 2], "annotations": [], "categories": []}',
    b'{"images": [{"id": 1}], "annotations": [{"image_id": 1 x}], "categories": []}',
    b'\xef\xbb\xbf{"images": [], "annotations": [], "categories": []}',
    b'{"images": [], "images": [], "annotations": [], "categories": []}',
    b'{"images": [], "annotations": [], "categories": [], "info": NaN}',
])
def test_json_the_index_does_not_take_is_read_whole(tmp_path, text):
    f = tmp_path / "panoptic_x.json"
    f.write_bytes(text)
    (tmp_path / "panoptic_x").mkdir()
    same(f, bounded=False)


def test_records_only_the_standard_parser_reads_stream(tmp_path):
    f = tmp_path / "panoptic_x.json"
    f.write_bytes(b'{"images": [{"id": NaN}], "annotations": [], "categories": []}')
    (tmp_path / "panoptic_x").mkdir()
    same(f)  # the image record's id is refused as its item is built


# ------------------------------------------------------------------ the same errors, after the items before
def _png_of(root: Path, doc: dict, k: int, split: str = "default") -> Path:
    return root / "annotations" / f"panoptic_{split}" / doc["annotations"][k]["file_name"]


def _truncated_png(root, docs, k):
    p = _png_of(root, docs["panoptic_default"][1], k)
    p.write_bytes(p.read_bytes()[:50])


def _recoloured_png(root, docs, k):
    p = _png_of(root, docs["panoptic_default"][1], k)
    a = np.array(Image.open(p))
    a[0, 0] = (250, 1, 0)
    Image.fromarray(a).save(p)


def _missing_png(root, docs, k):
    _png_of(root, docs["panoptic_default"][1], k).unlink()


def _grey_png(root, docs, k):
    p = _png_of(root, docs["panoptic_default"][1], k)
    Image.open(p).convert("L").save(p)


def _bad_width(root, docs, k):
    docs["panoptic_default"][1]["images"][k]["width"] = -3


def _wrong_size(root, docs, k):
    docs["panoptic_default"][1]["images"][k]["width"] += 1


def _unknown_category(root, docs, k):
    docs["panoptic_default"][1]["annotations"][k]["segments_info"][0]["category_id"] = 777


def _png_out_of_folder(root, docs, k):
    docs["panoptic_default"][1]["annotations"][k]["file_name"] = "../../x.png"


def _float_image_id(root, docs, k):
    doc = docs["panoptic_default"][1]
    doc["images"][k]["id"] = float(doc["images"][k]["id"])


@pytest.mark.parametrize("breaker", [_truncated_png, _recoloured_png, _missing_png, _grey_png, _bad_width,
                                     _wrong_size, _unknown_category, _png_out_of_folder, _float_image_id])
@pytest.mark.parametrize("at", [0, 3, 6])
def test_a_bad_image_raises_the_reads_error_after_the_images_before_it(copy, breaker, at):
    root, docs = copy()
    whole = segmill.read(root, FMT)
    breaker(root, docs, at)
    _dump(docs)
    O.fails_alike(root, FMT, at, whole)


def test_an_error_in_a_later_file_comes_after_the_images_of_the_first(copy):
    root, docs = copy("two")
    whole = segmill.read(root, FMT)
    _, val = docs["panoptic_val"]
    _png_of(root, val, 1, "val").write_bytes(b"no png")
    n_train = sum(1 for i in whole.items if i.split == "train")
    O.fails_alike(root, FMT, n_train + 1, whole)


# ------------------------------------------------------------------ segmill check and convert
def test_a_streamed_check_finds_what_the_whole_check_finds(copy, monkeypatch):
    monkeypatch.setattr(streamed, "BATCH", 2)
    root, docs = copy("two")
    O.same_check(root, FMT)


@pytest.mark.parametrize("to", ["coco_panoptic", "masks"])
def test_convert_streams_the_bytes_of_the_whole_write(built, tmp_path, to):
    O.same_convert(built["two"], FMT, to, tmp_path)
