"""segmill.raster: one service for every rasterization (batched, cached, an error per geometry)."""

from __future__ import annotations

from array import array

import numpy as np
import pytest
from pycocotools import mask as mu

from segmill import raster, rle
from segmill.errors import GeometryError, PolygonError, RLEError, UsageError
from segmill.formats._coco_geom import CocoPolygons
from segmill.geometry import Box, InvalidGeometry, Mask, Polygons, Shape
from segmill.rle import RLE, RLEBatch


def _blob(rng, h, w, k=12):
    cx, cy = rng.uniform(-5, w + 5), rng.uniform(-5, h + 5)
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = rng.uniform(0.3, 9, k)
    return np.round(np.c_[cx + rad * np.cos(ang), cy + rad * np.sin(ang)].reshape(-1), 2).tolist()


def _reference(parts, h, w):
    return mu.merge(mu.frPyObjects(parts, h, w))["counts"].decode()


def test_polygons_of_every_holder_match_pycocotools_bit_for_bit():
    rng = np.random.default_rng(3)
    h, w = 37, 53
    parts = [[_blob(rng, h, w)] + ([_blob(rng, h, w)] if i % 3 == 0 else []) for i in range(300)]
    geoms = []
    for i, p in enumerate(parts):  # numpy parts, COCO lists, and COCO's compact array('d')
        geoms.append(Polygons(p) if i % 3 == 0 else CocoPolygons(p) if i % 3 == 1
                     else CocoPolygons([array("d", q) for q in p]))
    got = raster.rasterize(geoms, (h, w), cache=False)
    assert [r.to_coco()["counts"] for r in got] == [_reference(p, h, w) for p in parts]
    batch, errors = raster.rasterize_packed(geoms, (h, w))
    assert errors == {}
    assert batch.strings() == [_reference(p, h, w) for p in parts]


def test_one_size_per_geometry_and_boxes_masks_rles_in_one_call():
    rng = np.random.default_rng(4)
    poly = Polygons([_blob(rng, 20, 30)])
    mask = Mask(rng.random((4, 5)) > 0.5, left=3, top=2)
    given = rle.encode(rng.random((9, 7)) > 0.5)
    geoms = [poly, Box(1.5, 2, 6, 3.2), mask, given, poly]
    sizes = [(20, 30), (10, 12), (9, 11), (9, 7), (21, 30)]
    got = raster.rasterize(geoms, sizes, cache=False)
    assert got[0] == rle.from_polygons(list(poly.parts), 20, 30)
    assert got[1] == rle.from_bbox([1.5, 2, 6, 3.2], 10, 12)
    full = np.zeros((9, 11), bool)
    full[2:6, 3:8] = mask.array
    assert got[2] == rle.encode(full)
    assert got[3] is given
    assert got[4] == rle.from_polygons(list(poly.parts), 21, 30)
    batch, errors = raster.rasterize_packed(geoms, sizes)
    assert errors == {} and batch.rles() == got
    assert batch.heights.tolist() == [s[0] for s in sizes] and batch.widths.tolist() == [s[1] for s in sizes]


def test_a_bad_geometry_gets_its_error_and_the_others_their_pixels():
    good = Polygons([[0, 0, 6, 0, 6, 5, 0, 5]])
    far = Polygons([[0, 0, 1.5e8, 0, 0, 1.5e8]])  # tracing it would take more steps than the pixel limit
    geoms = [good, Shape("point", [1, 1]), far, InvalidGeometry({}, "no points"), None,
             rle.encode(np.ones((2, 2), bool)), good]
    got = raster.rasterize(geoms, (8, 8), cache=False)
    assert got[0] == got[6] == rle.from_polygons([[0, 0, 6, 0, 6, 5, 0, 5]], 8, 8)
    assert [type(r) for r in got[1:6]] == [GeometryError, PolygonError, GeometryError, GeometryError, GeometryError]
    with pytest.raises(PolygonError) as exc:  # the very error the geometry raises on its own
        far.to_rle(8, 8)
    assert str(got[2]) == str(exc.value)
    assert "no points" in str(got[3]) and "2x2" in str(got[5])
    batch, errors = raster.rasterize_packed(geoms, (8, 8))
    assert sorted(errors) == [1, 2, 3, 4, 5]
    assert np.diff(batch.offsets)[sorted(errors)].tolist() == [0] * 5  # no runs where there is an error
    assert batch[0] == batch[6] == got[0]


def test_a_few_refused_polygons_among_many_cost_few_kernel_calls(monkeypatch):
    from segmill.rle import _polygons

    rng = np.random.default_rng(5)
    parts = [[_blob(rng, 30, 30)] for _ in range(2000)]
    geoms = [CocoPolygons(p) for p in parts]
    for k in (17, 1500):
        geoms[k] = CocoPolygons([[0, 0, 1.9e8, 0, 0, 1.9e8]])
    calls = []
    real = _polygons._run_flat
    monkeypatch.setattr(_polygons, "_run_flat", lambda *a: calls.append(1) or real(*a))
    got = raster.rasterize(geoms, (30, 30), cache=False)
    assert [k for k, r in enumerate(got) if not isinstance(r, RLE)] == [17, 1500]
    assert all(got[k].to_coco()["counts"] == _reference(parts[k], 30, 30) for k in (0, 16, 18, 1499, 1999))
    assert len(calls) < 100  # halving, not one call per annotation


def test_cache_is_filled_used_and_forgotten():
    p = Polygons([[0.5, 0.5, 6.2, 1, 3, 5.5]])
    b = Box(1, 1, 3, 3)
    assert raster.uncached([p, b, Shape("point", [0, 0])]) == [p, b]
    first = raster.rasterize([p, b], (8, 8))
    assert p.to_rle(8, 8) is first[0] and b.to_rle(8, 8) is first[1]
    assert raster.rasterize([p], (8, 8))[0] is first[0]
    assert raster.rasterize([p], (8, 8), "pil")[0] is not first[0]
    assert raster.uncached([p, b]) == []
    raster.forget([p, b])
    assert raster.uncached([p, b]) == [p, b]
    fresh = Polygons([[0, 0, 4, 0, 4, 4]])
    raster.rasterize([fresh], (5, 5), cache=False)
    raster.rasterize_packed([fresh], (5, 5))
    assert raster.uncached([fresh]) == [fresh]  # neither filled the cache
    batch, _ = raster.rasterize_packed([fresh], (5, 5), cache=True)
    assert fresh.to_rle(5, 5) == batch[0] and raster.uncached([fresh]) == []


def test_pil_rule_goes_through_the_service_too():
    parts = [[1, 1, 7, 2, 4, 6.5]]
    got = raster.rasterize([Polygons(parts), Box(1, 1, 3, 3)], (8, 8), "pil", cache=False)
    assert got[0] == rle.from_polygons(parts, 8, 8, "pil")
    assert got[1] == rle.from_polygons([[1, 1, 1, 4, 4, 4, 4, 1]], 8, 8, "pil")


def test_misuse_raises_usage_error_and_a_bad_size_is_each_geometrys_error():
    p = Polygons([[0, 0, 4, 0, 4, 4]])
    with pytest.raises(UsageError):
        raster.rasterize([p], (5, 5), "nearest")
    with pytest.raises(UsageError):
        raster.rasterize([p, p], [(5, 5)])
    with pytest.raises(UsageError):
        raster.rasterize(p, (5, 5))
    got = raster.rasterize([p, p], [(5, 5), (-1, 5)], cache=False)
    assert isinstance(got[0], RLE) and isinstance(got[1], RLEError)
    assert all(isinstance(r, RLEError) for r in raster.rasterize([p, Box(0, 0, 1, 1)], (5, 2**40)))
    assert raster.rasterize([], (5, 5)) == []
    batch, errors = raster.rasterize_packed([], (5, 5))
    assert len(batch) == 0 and errors == {}


def test_rle_batch_matches_the_one_rle_verbs():
    rng = np.random.default_rng(6)
    rles = [rle.encode(rng.random((h, w)) > 0.6) for h, w in [(5, 7), (9, 3), (0, 4), (6, 6)]]
    b = RLEBatch.from_rles(rles)
    assert len(b) == 4 and b.rles() == rles and list(b) == rles and b[-1] == rles[3]
    assert b.strings() == [r.to_coco()["counts"] for r in rles]
    assert b.areas().tolist() == [r.area for r in rles]
    assert [tuple(x) for x in b.bboxes().tolist()] == [r.bbox for r in rles]
    again = RLEBatch(b.counts, b.offsets, b.heights, b.widths)
    assert again.rles() == rles
    assert not b.counts.flags.writeable and not b.offsets.flags.writeable


@pytest.mark.parametrize("args, words", [
    (([1, 2, 3], [0, 3], 2, 2), "sum"),
    (([1, 0, 3, 2], [0, 4], 2, 3), "canonical"),
    (([1, 2, 3], [0, 2], 2, 3), "offsets"),
    (([1, 2, 3], [1, 3], 2, 3), "offsets"),
    (([1, 2, 3], [[0, 3]], 2, 3), "offsets"),
    (([1, 2, 3], [0, 3], -2, 3), "negative"),
    (([1, 2, 3], [0, 3], [2, 2], 3), "heights"),
    (([1, 2, 3], [0, 3], "2", 3), "heights"),
    ((["a"], [0, 1], 1, 1), "counts"),
])
def test_rle_batch_refuses_what_does_not_fit_with_rle_error(args, words):
    with pytest.raises(RLEError, match=words):
        RLEBatch(*args)


def test_rle_batch_index_and_from_rles_are_checked():
    b = RLEBatch([6], [0, 1], 2, 3)
    for bad in (1, -2, 0.5, True, "0"):
        with pytest.raises(RLEError):
            b[bad]
    with pytest.raises(RLEError):
        RLEBatch.from_rles([b[0], "x"])
    with pytest.raises(RLEError):
        RLEBatch.from_rles(b[0])


def test_polygons_read_from_coco_use_the_readers_pack_in_any_order(tmp_path):
    import json

    import segmill

    rng = np.random.default_rng(8)
    sizes = {1: (30, 20), 2: (17, 40)}
    anns = [{"id": k + 1, "image_id": 1 + k % 2, "category_id": 1, "iscrowd": 0,
             "segmentation": [_blob(rng, *sizes[1 + k % 2])] * (1 + k % 2)} for k in range(40)]
    src = tmp_path / "in.json"
    src.write_text(json.dumps({"images": [{"id": i, "file_name": f"{i}.png", "height": h, "width": w}
                                          for i, (h, w) in sizes.items()],
                               "annotations": anns, "categories": [{"id": 1, "name": "a"}]}))
    ds = segmill.read(src)
    pairs = [(a.geometry, (it.height, it.width)) for it in ds.items for a in it.annotations]
    assert all(g._pack is not None and g._pack.usable for g, _ in pairs)  # the reader packed them
    want = {id(g): _reference(g.source, *s) for g, s in pairs}
    in_pack_order = sorted(pairs, key=lambda p: p[0]._k)
    for order in (in_pack_order, pairs, pairs[::-1], pairs[::3]):  # the whole pack as it is, gathered ones
        got = raster.rasterize([g for g, _ in order], [s for _, s in order], cache=False)
        assert [r.to_coco()["counts"] for r in got] == [want[id(g)] for g, _ in order]
    # Two packs (two reads) and loose polygons in one request: one kernel job each, put back in place.
    other = [(a.geometry, (it.height, it.width)) for it in segmill.read(src).items for a in it.annotations]
    loose = [(Polygons(g.parts), s) for g, s in pairs[:5]]
    mixed = [p for trio in zip(pairs, other[::-1], loose * 8) for p in trio]
    want.update({id(g): _reference(g.source, *s) for g, s in other})
    want.update({id(g): _reference([p.reshape(-1).tolist() for p in g.parts], *s) for g, s in loose})
    batch, errors = raster.rasterize_packed([g for g, _ in mixed], [s for _, s in mixed])
    assert errors == {} and batch.strings() == [want[id(g)] for g, _ in mixed]
