"""COCO streamed through its index: the same dataset as the whole read, in bounded memory, or read whole."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segmill
from segmill.errors import InputError
from segmill.formats import coco
from segmill.formats._coco_stream import build_index
from segmill.io import ConvertOptions

pytestmark = pytest.mark.usefixtures("stream_everything")


@pytest.fixture
def stream_everything(monkeypatch):
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)


def _dataset(n_images=40, seed=0, shuffle=True, **image_extra) -> dict:
    rng = random.Random(seed)
    images = [{"id": 1000 + 7 * k, "file_name": f"im{k}.jpg", "width": 64, "height": 48, **image_extra}
              for k in range(n_images)]
    anns = []
    for im in images:
        for _ in range(rng.randrange(0, 5)):
            x, y = rng.uniform(0, 40), rng.uniform(0, 30)
            poly = [x, y, x + rng.uniform(2, 20), y, x + rng.uniform(2, 20), y + rng.uniform(2, 15)]
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": rng.choice([1, 3]),
                         "segmentation": [poly], "area": 10.0, "bbox": [x, y, 5.0, 5.0], "iscrowd": 0})
    if shuffle:
        rng.shuffle(anns)
    return {"info": {"year": 2026}, "images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "a"}, {"id": 3, "name": "b", "supercategory": "x"}]}


def _write(tmp_path, doc, name="c.json", indent=None) -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc, indent=indent))
    return p


def _same(path):
    st = segmill.stream(path, "coco")
    streamed = st.to_dataset()
    assert streamed == segmill.read(path, "coco")
    return st.bounded


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("shuffle", [False, True])
def test_a_streamed_file_equals_the_whole_read_and_writes_the_same_bytes(tmp_path, indent, shuffle):
    path = _write(tmp_path, _dataset(shuffle=shuffle), indent=indent)
    assert _same(path)
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    segmill.write(segmill.stream(path, "coco").to_dataset(), a, "coco")
    segmill.write(segmill.read(path, "coco"), b, "coco")
    assert a.read_bytes() == b.read_bytes()


def test_items_come_in_file_order_with_their_annotations_in_file_order(tmp_path):
    doc = _dataset(shuffle=True)
    path = _write(tmp_path, doc)
    st = segmill.stream(path, "coco")
    assert st.bounded
    got = [(it.id, [a.id for a in it.annotations]) for it in st]
    want = [(im["id"], [a["id"] for a in doc["annotations"] if a["image_id"] == im["id"]]) for im in doc["images"]]
    assert got == want


def test_every_coco_fixture_and_corpus_file_streams_as_it_reads(fixtures_dir, corpus):
    files = [fixtures_dir / "coco" / "annotations.json", fixtures_dir / "gate" / "base.json",
             *sorted((corpus / "datumaro" / "coco_dataset").rglob("instances_*.json"))]
    assert len(files) > 4
    for path in files:
        assert _same(path), path


def test_more_records_than_one_block_and_one_batch(tmp_path, monkeypatch):
    from segmill.formats import _coco_stream

    monkeypatch.setattr(_coco_stream, "BLOCK", 4096)  # members and records cut by block ends
    monkeypatch.setattr(_coco_stream, "RUN", 7)
    monkeypatch.setattr(_coco_stream, "BATCH", 5)
    path = _write(tmp_path, _dataset(n_images=60, seed=3))
    assert _same(path)


@pytest.mark.parametrize("spill", [0, 96])
def test_spilled_spans_stream_as_the_whole_read(tmp_path, monkeypatch, spill):
    """Record spans in a temporary file (from the first record, or past a few): the same items, the same
    bytes written back; the spans read back equal the in-memory ones."""
    from segmill.formats import _coco_stream

    path = _write(tmp_path, _dataset(n_images=60, seed=5, shuffle=True))
    kept = build_index(path)
    monkeypatch.setattr(_coco_stream, "BLOCK", 4096)
    monkeypatch.setattr(_coco_stream, "RUN", 7)
    monkeypatch.setattr(_coco_stream, "BATCH", 5)
    monkeypatch.setattr(_coco_stream, "SPILL_BYTES", spill)
    ix = build_index(path)
    assert isinstance(ix.annotations, _coco_stream.SpanFile) and isinstance(ix.images, _coco_stream.SpanFile)
    spans = kept.annotations
    n = len(spans)
    assert len(ix.annotations) == n and ix.annotations.nbytes == 0
    np.testing.assert_array_equal(ix.annotations[0:n], spans)
    np.testing.assert_array_equal(ix.annotations[3:11], spans[3:11])
    assert ix.annotations[-1, 1] == spans[-1, 1] and ix.annotations[5, 0] == spans[5, 0]
    with pytest.raises(IndexError):
        ix.annotations[n, 0]
    owner = np.empty(n, np.int64)  # each annotation's image position, from the grouping
    for k in range(len(ix.bounds) - 1):
        owner[ix.by_image[ix.bounds[k]:ix.bounds[k + 1]]] = k
    np.testing.assert_array_equal(ix.by_image, np.argsort(owner, kind="stable"))  # the counting sort is stable
    np.testing.assert_array_equal(ix.by_image, kept.by_image)
    assert _same(path)


def test_the_index_is_a_few_packed_integers_per_record(tmp_path):
    doc = _dataset(n_images=200, seed=1)
    ix = build_index(_write(tmp_path, doc))
    n = len(doc["images"]) + len(doc["annotations"])
    assert ix.nbytes <= 48 * n


@pytest.mark.parametrize("change", [
    "string image ids", "an annotation without id", "a duplicate annotation id", "a dangling image_id",
    "an undeclared category", "a repeated top-level key", "NaN in a bbox", "an escaped key", "a float id",
    "an image that is a list",
])
def test_what_the_index_cannot_vouch_for_is_read_whole_with_the_same_result(tmp_path, change):
    doc = _dataset(n_images=6, seed=2, shuffle=False)
    anns = doc["annotations"]
    text = None
    if change == "string image ids":
        for im in doc["images"]:
            im["id"] = str(im["id"])
        for a in anns:
            a["image_id"] = str(a["image_id"])
    elif change == "an annotation without id":
        del anns[0]["id"]
    elif change == "a duplicate annotation id":
        anns[1]["id"] = anns[0]["id"]
    elif change == "a dangling image_id":
        anns[0]["image_id"] = 5
    elif change == "an undeclared category":
        anns[0]["category_id"] = 99
    elif change == "a repeated top-level key":
        text = json.dumps(doc)[:-1] + ', "info": {"year": 1}}'
    elif change == "NaN in a bbox":
        anns[0]["bbox"][0] = float("nan")
    elif change == "an escaped key":
        text = json.dumps(doc).replace('"image_id"', '"image_\\u0069d"', 1)
    elif change == "a float id":
        anns[0]["id"] = 1.0
    elif change == "an image that is a list":
        doc["images"].append([1, 2])
    path = tmp_path / "c.json"
    path.write_text(text if text is not None else json.dumps(doc))
    try:
        whole = segmill.read(path, "coco")
    except InputError as exc:
        with pytest.raises(InputError) as got:
            segmill.stream(path, "coco").to_dataset()
        assert str(got.value) == str(exc)
        return
    st = segmill.stream(path, "coco")
    assert not st.bounded
    assert st.to_dataset() == whole


def test_invalid_json_between_records_is_an_input_error_naming_them(tmp_path):
    path = _write(tmp_path, _dataset(n_images=6, seed=4, shuffle=False))
    text = path.read_text()
    cut = text.index('{"id": 3, "image_id"')
    path.write_text(text[:cut - 2] + text[cut:])  # the comma before annotation 3 removed
    with pytest.raises(InputError):
        segmill.read(path, "coco")
    st = segmill.stream(path, "coco")
    with pytest.raises(InputError, match=r"annotations\["):
        list(st)


def test_a_file_changed_after_indexing_is_an_input_error(tmp_path):
    doc = _dataset(n_images=6, seed=5, shuffle=False)
    path = _write(tmp_path, doc)
    st = segmill.stream(path, "coco")
    for im in doc["images"]:
        im["id"] += 1
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="changed"):
        list(st)


_ID = st.one_of(st.integers(-(10 ** 18) + 1, 10 ** 18 - 1), st.floats(allow_nan=False), st.text(max_size=3),
                st.none(), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={"id": _ID, "image_id": _ID, "category_id": _ID,
                                                      "xid": _ID, "nested": st.just({"id": 5, "image_id": [1]})}),
                min_size=1, max_size=5),
       st.sampled_from([(None, (",", ":")), (1, None), (None, (" ,", " : "))]), st.randoms())
def test_record_ids_finds_what_the_parser_finds(records, layout, rnd):
    from segmill._json_spans import ABSENT, INTEGER, OTHER, record_ids

    indent, seps = layout
    texts = [json.dumps(r, indent=indent, separators=seps) for r in records]
    data = ("\n ".join(texts)).encode()
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(t.encode()) + 2
    starts = np.array(starts, np.int64)
    ends = starts + np.array([len(t.encode()) for t in texts], np.int64)
    out = np.empty((len(records), 6), np.int64)
    record_ids(np.frombuffer(data, np.uint8), starts, ends, out)
    for r, row in zip(records, out.tolist()):
        for k, key in enumerate(("id", "image_id", "category_id")):
            v = r.get(key, ABSENT)
            if key not in r:
                assert row[2 * k] == ABSENT
            elif type(v) is int:
                assert row[2 * k:2 * k + 2] == [INTEGER, v]
            else:
                assert row[2 * k] == OTHER


@pytest.mark.parametrize("write_opts, buckets", [({}, None), ({"segmentation": "rle"}, None),
                                                 ({"recompute": True}, None), ({}, 1), ({}, 5), ({}, 400)])
def test_convert_to_coco_streams_and_writes_the_bytes_of_the_whole_write(tmp_path, write_opts, buckets,
                                                                         monkeypatch):
    """buckets: the annotations put back in file order from that many bucket files (None: the default, one
    bucket for a small file); the source's annotations are shuffled, so the buckets must reorder them."""
    from segmill.formats import _coco_write_stream
    from segmill.formats._coco_write_stream import write_stream

    if buckets is not None:
        monkeypatch.setattr(_coco_write_stream, "_BUCKETS", buckets)
        monkeypatch.setattr(_coco_write_stream, "_BUCKET_MIN", 1)
        monkeypatch.setattr(_coco_write_stream, "_RUN", 3)  # a bucket written out in several runs
    path = _write(tmp_path, _dataset(n_images=30, seed=6, shuffle=True))
    calls = []
    monkeypatch.setattr(coco, "_write_stream", lambda *a, **k: calls.append(1) or write_stream(*a, **k))
    streamed = segmill.convert(path, tmp_path / "s.json", options=ConvertOptions(write=write_opts))
    assert calls, "the conversion did not stream"
    whole = segmill.write(segmill.read(path, "coco"), tmp_path / "w.json", "coco", **write_opts)
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "w.json").read_bytes()
    assert streamed.summary() == whole.summary() and streamed.notes == whole.notes
    assert (streamed.items, streamed.annotations) == (whole.items, whole.annotations)


def test_a_strict_streamed_convert_with_losses_writes_nothing(tmp_path):
    from segmill.errors import LossError

    path = _write(tmp_path, _dataset(n_images=5, seed=7))
    with pytest.raises(LossError):
        segmill.convert(path, tmp_path / "s.json", strict=True,
                        options=ConvertOptions(write={"segmentation": "rle"}))  # L101: polygons become RLE
    assert not (tmp_path / "s.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no spill left behind


def test_another_target_reads_whole(tmp_path, monkeypatch):
    path = _write(tmp_path, _dataset(n_images=5, seed=8))
    monkeypatch.setattr(coco, "_write_stream", lambda *a, **k: pytest.fail("streamed"))
    segmill.convert(path, tmp_path / "y", to_format="yolo")
    assert (tmp_path / "y" / "data.yaml").is_file()


def test_a_file_cut_short_while_its_items_are_read_is_an_input_error(tmp_path, monkeypatch):
    from segmill.formats import _coco_stream

    monkeypatch.setattr(_coco_stream, "BATCH", 4)  # the later batches are read after the cut
    path = _write(tmp_path, _dataset(400, seed=6))
    st = segmill.stream(path, "coco")
    items = iter(st)
    next(items)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(InputError, match="the file changed while it was read"):
        list(items)
