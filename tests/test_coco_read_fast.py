"""COCO reader: the packed fast path keeps every behaviour, and the reader fixes of issue 3's follow-ups."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import segmill
from segmill.errors import InputError
from segmill.formats.coco import CocoPolygons, detect, rasterize_items
from segmill.geometry import InvalidGeometry
from segmill.rle import MAX_COORD, from_polygons
from segmill.synth import coco_dict

SQUARE = [[0, 0, 4, 0, 4, 4, 0, 4]]


def _doc(n_anns=4, **overrides):
    """Two images of different sizes and ``n_anns`` polygon annotations alternating between them."""
    anns = []
    for k in range(n_anns):
        anns.append({"id": 10 + k, "image_id": 1 + k % 2, "category_id": 5,
                     "segmentation": [[0, 0, 4 + k, 0, 4 + k, 4, 0, 4]], "area": 16.0,
                     "bbox": [0, 0, 4, 4], "iscrowd": 0})
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 6},
                      {"id": 2, "file_name": "b.png", "width": 12, "height": 9}],
           "annotations": anns, "categories": [{"id": 5, "name": "thing"}]}
    for k, fields in overrides.items():
        doc["annotations"][int(k[1:])].update(fields)
    return doc


def _write(tmp_path, obj, name="in.json"):
    p = tmp_path / name
    p.write_text(json.dumps(obj))
    return p


def _error(path, **opts) -> str:
    with pytest.raises(InputError) as ei:
        segmill.read(path, format="coco", **opts)
    return str(ei.value)


def _roundtrip(src, tmp_path, **read_opts):
    out = tmp_path / "out.json"
    segmill.write(segmill.read(src, format="coco", **read_opts), out, "coco")
    return json.loads(out.read_text())


# ------------------------------------------------------------ packed fast path
def test_out_of_range_coordinate_names_its_annotation(tmp_path):
    doc = _doc()
    doc["annotations"][2]["segmentation"][0][3] = 3 * MAX_COORD
    msg = _error(_write(tmp_path, doc))
    assert "annotation id 12 (image id 1)" in msg and "beyond" in msg


def test_an_earlier_bad_coordinate_is_reported_before_a_later_bad_record(tmp_path):
    doc = _doc(a1={"iscrowd": 7})
    doc["annotations"][0]["segmentation"][0][0] = -3 * MAX_COORD
    msg = _error(_write(tmp_path, doc))
    assert "annotation id 10 " in msg and "beyond" in msg


def test_an_earlier_bad_record_is_reported_before_a_later_bad_coordinate(tmp_path):
    doc = _doc(a0={"iscrowd": 7})
    doc["annotations"][1]["segmentation"][0][0] = -3 * MAX_COORD
    msg = _error(_write(tmp_path, doc))
    assert "annotation id 10 " in msg and "iscrowd" in msg


def test_keep_mode_turns_an_out_of_range_polygon_into_invalid_geometry_and_rasterizes_the_rest(tmp_path):
    doc = _doc()
    doc["annotations"][1]["segmentation"][0][2] = 3 * MAX_COORD
    ds = segmill.read(_write(tmp_path, doc), format="coco", errors="keep")
    by_id = {a.id: (it, a) for it, a in ds.annotations()}
    bad = by_id[11][1].geometry
    assert isinstance(bad, InvalidGeometry) and "beyond" in bad.reason
    assert bad.raw == doc["annotations"][1]["segmentation"]
    good = [it for it in ds.items]
    for it in good:
        it.annotations = [a for a in it.annotations if a.id != 11]
    rles = rasterize_items(good)
    for it, row in zip(good, rles):
        for a, r in zip(it.annotations, row):
            assert r == from_polygons(a.geometry.source, it.height, it.width)


def test_huge_integer_coordinate_is_an_input_error_not_a_crash(tmp_path):
    text = json.dumps(_doc()).replace('"segmentation": [[0, ', '"segmentation": [[1' + "0" * 400 + ", ", 1)
    p = tmp_path / "huge.json"
    p.write_text(text)
    assert "beyond" in _error(p)
    ds = segmill.read(p, format="coco", errors="keep")
    assert isinstance(ds.items[0].annotations[0].geometry, InvalidGeometry)


def test_packed_rasterization_equals_the_list_path_on_synthetic_data(tmp_path):
    src = _write(tmp_path, coco_dict(25, seed=5))
    ds = segmill.read(src, format="coco")
    got = rasterize_items(ds.items)
    for it, row in zip(ds.items, got):
        for a, r in zip(it.annotations, row):
            if isinstance(a.geometry, CocoPolygons):
                assert r == from_polygons(a.geometry.source, it.height, it.width)
                assert (r.height, r.width) == (it.height, it.width)


def test_a_polygon_moved_to_an_image_of_another_size_is_rasterized_at_the_new_size(tmp_path):
    ds = segmill.read(_write(tmp_path, _doc()), format="coco")
    small, big = ds.items
    moved = small.annotations.pop(0)
    big.annotations.append(moved)
    rles = rasterize_items(ds.items)
    r = rles[1][-1]
    assert (r.height, r.width) == (9, 12)
    assert r == from_polygons(moved.geometry.source, 9, 12)


def test_an_image_resized_after_reading_is_rasterized_at_its_new_size(tmp_path):
    ds = segmill.read(_write(tmp_path, _doc()), format="coco")
    ds.items[0].height, ds.items[0].width = 3, 2
    rles = rasterize_items(ds.items)
    for a, r in zip(ds.items[0].annotations, rles[0]):
        assert r == from_polygons(a.geometry.source, 3, 2)


def test_rasterizing_a_few_items_of_a_big_read_gives_their_pixels(tmp_path):
    ds = segmill.read(_write(tmp_path, coco_dict(40, seed=6)), format="coco")
    few = [it for it in ds.items if it.annotations][:2]
    for it, row in zip(few, rasterize_items(few)):
        for a, r in zip(it.annotations, row):
            assert r == a.to_rle(it.height, it.width)


def test_integrity_errors_keep_their_wording_when_validation_is_skipped(tmp_path):
    dup = _doc(a3={"id": 10})
    assert "duplicate annotation id 10" in _error(_write(tmp_path, dup, "dup.json"))
    undeclared = _doc(a2={"category_id": 99})
    assert "category_id 99 is not a declared category" in _error(_write(tmp_path, undeclared, "cat.json"))


# ------------------------------------------------------------------ bbox fix
@pytest.mark.parametrize("bbox", [5, "abc", {"x": 1}, True])
def test_a_bbox_that_is_not_a_list_is_an_input_error_in_raise_mode(tmp_path, bbox):
    msg = _error(_write(tmp_path, _doc(a1={"bbox": bbox})))
    assert "annotation id 11 (image id 2)" in msg and "bbox must be four finite numbers" in msg


@pytest.mark.parametrize("bbox", [5, "abc", {"x": 1}, True])
def test_a_bbox_that_is_not_a_list_is_kept_as_found_and_reported_in_keep_mode(tmp_path, bbox):
    src = _write(tmp_path, _doc(a1={"bbox": bbox}))
    ds = segmill.read(src, format="coco", errors="keep")
    ann = next(a for _, a in ds.annotations() if a.id == 11)
    assert ann.bbox is None and ann.extra["bbox"] == bbox
    (entry,) = ds.meta["skipped"]
    assert entry["record"] == "annotation id 11 (image id 2)" and "bbox" in entry["reason"]
    assert "(kept" not in entry["reason"]  # no rule reads extra["bbox"]: S014 must report it
    assert _roundtrip(src, tmp_path, errors="keep") == json.loads(src.read_text())


# --------------------------------------------------------------- iscrowd fix
@pytest.mark.parametrize("crowd", [2, True, 1.0, "1", None])
def test_iscrowd_other_than_0_or_1_is_an_input_error_in_raise_mode(tmp_path, crowd):
    msg = _error(_write(tmp_path, _doc(a2={"iscrowd": crowd})))
    assert "annotation id 12 (image id 1)" in msg and f"iscrowd must be 0 or 1, got {crowd!r}" in msg


@pytest.mark.parametrize("crowd, truthy", [(2, True), (True, True), (1.0, True), ("0", True), (None, False),
                                           (0.0, False)])
def test_iscrowd_other_than_0_or_1_is_kept_as_found_and_reported_in_keep_mode(tmp_path, crowd, truthy):
    src = _write(tmp_path, _doc(a2={"iscrowd": crowd}))
    ds = segmill.read(src, format="coco", errors="keep")
    ann = next(a for _, a in ds.annotations() if a.id == 12)
    assert ann.iscrowd is truthy and ann.extra["iscrowd"] == crowd and type(ann.extra["iscrowd"]) is type(crowd)
    (entry,) = ds.meta["skipped"]
    assert entry["record"] == "annotation id 12 (image id 1)"
    assert f"iscrowd must be 0 or 1, got {crowd!r}" in entry["reason"]
    written = _roundtrip(src, tmp_path, errors="keep")["annotations"][2]["iscrowd"]
    assert written == crowd and type(written) is type(crowd)


# -------------------------------------------------------------- deepcopy fix
def test_deepcopy_of_a_read_dataset_is_equal_independent_and_still_rasterizes(tmp_path):
    ds = segmill.read(_write(tmp_path, coco_dict(12, seed=7)), format="coco")
    before = rasterize_items(ds.items)
    for _, a in ds.annotations():
        if isinstance(a.geometry, CocoPolygons):
            a.geometry.parts  # materialized numpy parts must not break copying either
    clone = copy.deepcopy(ds)
    assert clone == ds
    assert rasterize_items(clone.items) == before
    pairs = [(a.geometry, b.geometry) for (_, a), (_, b) in zip(ds.annotations(), clone.annotations())
             if isinstance(a.geometry, CocoPolygons)]
    orig, copied = pairs[0]
    x = orig.source[0][0]
    copied.source[0][0] = x + 1.0
    assert orig.source[0][0] == x  # the copy owns its coordinates


def test_copy_of_a_coco_polygon_keeps_its_coordinates(tmp_path):
    ds = segmill.read(_write(tmp_path, _doc()), format="coco")
    g = ds.items[0].annotations[0].geometry
    for c in (copy.copy(g), copy.deepcopy(g)):
        assert type(c) is CocoPolygons and c == g and c.source == g.source
        assert np.array_equal(c.parts[0], g.parts[0])


# --------------------------------------------------------------- SA-1B fix
SA1B = {"image": {"image_id": 1, "width": 10, "height": 5, "file_name": "a.jpg"},
        "annotations": [{"id": 1, "segmentation": {"size": [5, 10], "counts": "`04n0"}, "bbox": [3.0, 1.0, 1.0, 4.0],
                         "area": 4, "predicted_iou": 0.26, "stability_score": 0.47, "crop_box": [3.0, 1.0, 2.0, 5.0],
                         "point_coords": [[3, 4]]}]}


def test_detector_does_not_claim_an_sa1b_file(tmp_path):
    d = detect(_write(tmp_path, SA1B, "a.json"))
    assert d.confidence < 0.5 and "SA-1B" in d.reason


def test_an_sa1b_file_is_read_as_sa1b_not_as_coco(tmp_path):
    path = _write(tmp_path, SA1B, "a.json")
    assert segmill.io.detect_format(path)[0] == "sa1b"
    ds = segmill.read(path)
    assert [it.id for it in ds.items] == [1] and ds.items[0].annotations[0].extra["predicted_iou"] == 0.26


def test_detector_does_not_claim_the_corpus_sa1b_files(corpus):
    files = sorted((corpus / "datumaro" / "segment_anything_dataset").glob("*.json"))
    if not files:
        pytest.skip("no SA-1B files in the corpus")
    for f in files:
        assert detect(f).confidence < 0.5


def test_detector_still_claims_a_coco_file(fixtures_dir):
    assert detect(fixtures_dir / "coco" / "annotations.json").confidence >= 0.5


def test_a_dropped_dataset_is_freed_without_the_cycle_collector(tmp_path):
    import gc
    import weakref

    src = _write(tmp_path, _doc())
    gc.disable()
    try:
        ds = segmill.read(src, format="coco")
        rles = rasterize_items(ds.items)
        item = weakref.ref(ds.items[0])
        del ds, rles
        assert item() is None  # the polygon pack holds no reference back to the model
    finally:
        gc.enable()


# ------------------------------------------- compressed RLEs decoded a slice at a time
def _rle_doc(rng, n=40):
    """Images of two sizes, n compressed-RLE annotations (random masks), pycocotools' strings."""
    import pycocotools.mask as M

    sizes = {1: (6, 8), 2: (9, 12)}
    anns = []
    for k in range(n):
        iid = 1 + k % 2
        h, w = sizes[iid]
        m = np.asfortranarray((rng.random((h, w)) < rng.random()).astype(np.uint8))
        anns.append({"id": 100 + k, "image_id": iid, "category_id": 5, "iscrowd": 0, "area": float(m.sum()),
                     "bbox": [0, 0, 1, 1], "segmentation": {"size": [h, w], "counts": M.encode(m)["counts"].decode()}})
    return {"images": [{"id": i, "file_name": f"{i}.png", "width": w, "height": h} for i, (h, w) in sizes.items()],
            "annotations": anns, "categories": [{"id": 5, "name": "thing"}]}


def test_compressed_rles_read_in_one_call_equal_the_one_by_one_decode(tmp_path):
    from segmill.rle import from_coco

    doc = _rle_doc(np.random.default_rng(11))
    ds = segmill.read(_write(tmp_path, doc), "coco")
    anns = [a for it in ds.items for a in it.annotations]
    assert len(anns) == 40
    by_id = {a["id"]: a["segmentation"] for a in doc["annotations"]}
    for a in anns:
        want = from_coco(by_id[a.id])
        assert a.geometry == want
        assert a.geometry.raw == by_id[a.id]
        assert not a.geometry.counts.flags.writeable
    assert segmill.write(ds, tmp_path / "o.json", "coco").lossless
    assert json.loads((tmp_path / "o.json").read_text())["annotations"] == doc["annotations"]


@pytest.mark.parametrize("bad, message", [
    ({"counts": "0"}, "sum"),                          # decodes, wrong pixel count
    ({"counts": "\u00e9ab"}, "outside the codec alphabet"),  # not ASCII: the whole slice falls back
    ("image 2's RLE", "does not match"),                # a valid RLE of the other image's size
    ({"counts": "PP"}, "ends in the middle"),
])
def test_a_bad_compressed_rle_among_good_ones_is_named_as_before(tmp_path, bad, message):
    doc = _rle_doc(np.random.default_rng(12))
    seg = doc["annotations"][20]["segmentation"]  # image 1, 6 x 8
    seg.update(dict(doc["annotations"][21]["segmentation"]) if bad == "image 2's RLE" else bad)
    path = _write(tmp_path, doc)
    with pytest.raises(InputError, match=message) as info:
        segmill.read(path, "coco")
    assert "annotation id 120" in str(info.value)
    kept = segmill.read(path, "coco", errors="keep")
    geoms = {a.id: a.geometry for it in kept.items for a in it.annotations}
    assert isinstance(geoms[120], InvalidGeometry)
    assert sum(isinstance(g, InvalidGeometry) for g in geoms.values()) == 1
