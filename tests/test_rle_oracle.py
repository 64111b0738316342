"""segmill.rle against pycocotools.mask, bit for bit (property tests)."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as M
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmill import rle

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def masks(draw, max_side=24):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    kind = draw(st.sampled_from(["random", "sparse", "blocks"]))
    if kind == "random":
        return draw(arrays(np.bool_, (h, w)))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    if kind == "sparse":
        return rng.random((h, w)) < 0.05
    m = np.zeros((h, w), bool)
    for _ in range(rng.integers(0, 4)):
        r0, c0 = rng.integers(0, h), rng.integers(0, w)
        m[r0 : r0 + rng.integers(1, h + 1), c0 : c0 + rng.integers(1, w + 1)] = True
    return m


def coco_encode(m: np.ndarray) -> dict:
    return M.encode(np.asfortranarray(m.astype(np.uint8)))


def coco_counts(obj: dict) -> np.ndarray:
    return rle.string_to_counts(obj["counts"])


@SETTINGS
@given(masks())
def test_encode_equals_pycocotools(m):
    ref = coco_encode(m)
    got = rle.encode(m)
    assert got.to_coco()["counts"] == ref["counts"].decode()
    assert list(got.to_coco()["size"]) == list(ref["size"])


def test_encode_word_paths_equal_pycocotools():
    """Masks wide and tall enough for the word-at-a-time kernels (blocks of 32 bytes), both memory orders."""
    rng = np.random.default_rng(20261204)
    for i in range(300):
        h, w = int(rng.integers(1, 160)), int(rng.integers(1, 160))
        kind = i % 3
        if kind == 0:
            m = rng.random((h, w)) < rng.random()
        elif kind == 1:
            m = np.zeros((h, w), bool)
            for _ in range(int(rng.integers(0, 6))):
                r0, c0 = rng.integers(0, h), rng.integers(0, w)
                m[r0:r0 + int(rng.integers(1, 90)), c0:c0 + int(rng.integers(1, 90))] = True
        else:
            m = np.ones((h, w), bool)
            m[rng.random((h, w)) < 0.01] = False
        values = np.where(m, rng.integers(1, 256, (h, w)), 0).astype(np.uint8)
        ref = coco_encode(m)["counts"].decode()
        for arr in (np.ascontiguousarray(values), np.asfortranarray(values), m):
            assert rle.encode(arr).to_coco()["counts"] == ref, (i, h, w, arr.flags.c_contiguous)


@SETTINGS
@given(masks())
def test_encode_ignores_memory_order(m):
    base = rle.encode(m)
    assert rle.encode(np.asfortranarray(m)) == base
    assert rle.encode(np.ascontiguousarray(m).astype(np.uint8) * 3) == base
    # foreground bytes of every value (the word kernels test nonzero-ness per byte, 1 next to 255, ...)
    varied = np.where(m, np.arange(m.size).reshape(m.shape) % 255 + 1, 0).astype(np.uint8)
    assert rle.encode(np.ascontiguousarray(varied)) == base
    assert rle.encode(np.asfortranarray(varied)) == base
    padded = np.zeros((m.shape[0], m.shape[1] * 2), bool)
    padded[:, ::2] = m
    assert rle.encode(padded[:, ::2]) == base  # non-contiguous view


@SETTINGS
@given(masks())
def test_decode_equals_pycocotools(m):
    ref = M.decode(coco_encode(m)).astype(bool)
    got = rle.decode(rle.from_coco(coco_encode(m)))
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got, m)


@SETTINGS
@given(masks())
def test_string_codec_round_trip_with_pycocotools(m):
    ref = coco_encode(m)
    r = rle.from_coco(ref)  # bytes in
    s = r.to_coco()["counts"]
    assert isinstance(s, str) and s == ref["counts"].decode()
    assert rle.from_coco({"size": ref["size"], "counts": s}) == r  # str in
    plain = r.to_coco(compressed=False)
    assert rle.from_coco(plain) == r
    # pycocotools' own reading of our uncompressed counts
    assert M.frPyObjects(plain, *plain["size"])["counts"] == ref["counts"]


@SETTINGS
@given(masks())
def test_area_and_bbox_equal_pycocotools(m):
    ref = coco_encode(m)
    r = rle.encode(m)
    assert r.area == int(M.area(ref))
    assert r.bbox == tuple(float(v) for v in M.toBbox(ref))


@SETTINGS
@given(st.lists(masks(max_side=12), min_size=1, max_size=5), st.data())
def test_batched_area_and_bbox(ms, data):
    h, w = ms[0].shape
    ms = [np.resize(m, (h, w)) for m in ms]
    refs = [coco_encode(m) for m in ms]
    rles = [rle.encode(m) for m in ms]
    np.testing.assert_array_equal(rle.area(rles), M.area(refs))
    np.testing.assert_array_equal(rle.bbox(rles), M.toBbox(refs))


@st.composite
def mask_sets(draw):
    h = draw(st.integers(1, 16))
    w = draw(st.integers(1, 16))
    n_dt = draw(st.integers(1, 4))
    n_gt = draw(st.integers(1, 4))
    dt = [draw(arrays(np.bool_, (h, w))) for _ in range(n_dt)]
    gt = [draw(arrays(np.bool_, (h, w))) for _ in range(n_gt)]
    crowd = draw(st.lists(st.booleans(), min_size=n_gt, max_size=n_gt))
    return dt, gt, crowd


@SETTINGS
@given(mask_sets())
def test_iou_equals_pycocotools(sets):
    dt, gt, crowd = sets
    ref = M.iou([coco_encode(m) for m in dt], [coco_encode(m) for m in gt], [int(c) for c in crowd])
    got = rle.iou([rle.encode(m) for m in dt], [rle.encode(m) for m in gt], crowd)
    assert got.shape == (len(dt), len(gt))
    np.testing.assert_array_equal(got, np.asarray(ref).reshape(len(dt), len(gt)))


@SETTINGS
@given(mask_sets(), st.booleans())
def test_merge_equals_pycocotools(sets, intersect):
    dt, _, _ = sets
    ref = M.merge([coco_encode(m) for m in dt], intersect=int(intersect))
    got = rle.merge([rle.encode(m) for m in dt], intersect=intersect)
    assert got.to_coco()["counts"] == ref["counts"].decode()
    expected = np.logical_and.reduce(dt) if intersect else np.logical_or.reduce(dt)
    np.testing.assert_array_equal(got.decode(), expected)


# ------------------------------------------------------------ rasterization
coords = st.one_of(
    st.floats(-20, 60, allow_nan=False, width=64),
    st.integers(-5, 50).map(float),
    st.integers(-300, 300).map(lambda v: v / 10),  # one decimal, like many tools write
    st.floats(-1e5, 1e5, allow_nan=False),
)


@st.composite
def polygon_annotations(draw):
    h = draw(st.integers(1, 48))
    w = draw(st.integers(1, 48))
    n_parts = draw(st.integers(1, 3))
    parts = []
    for _ in range(n_parts):
        k = draw(st.integers(3, 10))
        pts = draw(st.lists(coords, min_size=2 * k, max_size=2 * k))
        if draw(st.booleans()):  # duplicate and collinear vertices
            pts = pts[:2] + pts[:2] + pts[2:] + [(pts[0] + pts[2]) / 2, (pts[1] + pts[3]) / 2]
        parts.append(pts)
    return parts, h, w


def coco_poly(parts, h, w) -> np.ndarray:
    return coco_counts(M.merge(M.frPyObjects(parts, h, w)))


@SETTINGS
@given(polygon_annotations())
def test_polygons_equal_pycocotools(case):
    """Multi-part, duplicate and collinear vertices, shrunk to a minimal case on failure.

    Volume is the fixed-seed sweep's job (test_sweep_100k_random_polygons_equal_pycocotools).
    """
    parts, h, w = case
    got = rle.from_polygons(parts, h, w)
    np.testing.assert_array_equal(got.counts, coco_poly(parts, h, w))


def test_polygon_batch_equals_single_calls():
    rng = np.random.default_rng(1)
    anns = [[rng.uniform(-5, 45, 2 * int(rng.integers(3, 9))).tolist() for _ in range(int(rng.integers(1, 3)))]
            for _ in range(200)]
    batch = rle.from_polygons_batch(anns, 40, 30)
    assert batch == [rle.from_polygons(a, 40, 30) for a in anns]


def test_single_part_calls_equal_pycocotools():
    """from_polygons on one flat list takes its own one-call path (polygon_one): 3,000 of every flavour."""
    rng = np.random.default_rng(20261204)
    for i in range(3_000):
        h, w = int(rng.integers(1, 90)), int(rng.integers(1, 90))
        k = int(rng.integers(3, 20))
        if i % 3 == 0:
            pts = rng.uniform(-10, max(h, w) + 10, 2 * k)
        elif i % 3 == 1:
            pts = rng.integers(-3, max(h, w) + 3, 2 * k).astype(float)
        else:
            pts = np.round(rng.normal(max(h, w) / 2, max(h, w) / 3, 2 * k), 1)
        part = pts.tolist()
        got = rle.from_polygons([part], h, w).to_coco()["counts"]
        assert got == M.frPyObjects([part], h, w)[0]["counts"].decode(), (h, w, part)


@pytest.mark.slow
def test_sweep_100k_random_polygons_equal_pycocotools():
    """Fixed-seed sweep: 100,000 random polygons of every flavour, batched."""
    rng = np.random.default_rng(20261125)
    n = 100_000
    mismatches = []
    step = 5_000
    for start in range(0, n, step):
        h = int(rng.integers(8, 120))
        w = int(rng.integers(8, 120))
        anns = []
        for i in range(step):
            k = int(rng.integers(3, 16))
            flavour = (start + i) % 4
            if flavour == 0:
                pts = rng.uniform(-10, max(h, w) + 10, 2 * k)
            elif flavour == 1:
                pts = rng.integers(-3, max(h, w) + 3, 2 * k).astype(float)
            elif flavour == 2:
                pts = np.round(rng.uniform(0, max(h, w), 2 * k), 2)
            else:
                pts = rng.normal(max(h, w) / 2, max(h, w) / 4, 2 * k)
            anns.append([pts.tolist()])
        got = rle.from_polygons_batch(anns, h, w)
        refs = M.frPyObjects([a[0] for a in anns], h, w)
        for i, (g, r) in enumerate(zip(got, refs)):
            if g.to_coco()["counts"] != r["counts"].decode():
                mismatches.append((h, w, anns[i]))
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[0]}"


@pytest.mark.parametrize(
    "bbox",
    [[0, 0, 5, 5], [1.3, 2.7, 4.2, 0.9], [-3, -3, 10, 10], [2.5, 2.5, 0, 0], [7.4, 1.1, 30, 30]],
)
def test_from_bbox_equals_pycocotools(bbox):
    ref = M.frPyObjects(np.array([bbox], dtype=np.float64), 12, 14)[0]
    assert rle.from_bbox(bbox, 12, 14).to_coco()["counts"] == ref["counts"].decode()


# ------------------------------------------------------ big counts (>= 2**24)
@pytest.mark.parametrize("first", [2**24, 2**24 + 1, 2**25 + 12345, 2 * 2**24 - 7])
def test_codec_for_counts_of_2_24_and_above(first):
    """pycocotools' decoder reads our strings right for counts >= 2**24."""
    h, w = 8192, 8192
    total = h * w
    counts = np.array([first, 5, 2**24 + 3, 11, total - first - 5 - 2**24 - 3 - 11], np.uint32)
    r = rle.RLE(counts, h, w)
    obj = r.to_coco()
    assert rle.from_coco(obj) == r
    assert int(M.area(obj)) == 5 + 11
    assert [float(v) for v in M.toBbox(obj)] == list(r.bbox)
    dense = M.decode(obj)
    flat = dense[:, :, 0].reshape(-1, order="F") if dense.ndim == 3 else dense.reshape(-1, order="F")
    ones = np.flatnonzero(flat)
    expected = np.r_[np.arange(first, first + 5), np.arange(first + 5 + 2**24 + 3, first + 5 + 2**24 + 3 + 11)]
    np.testing.assert_array_equal(ones, expected)


@pytest.mark.parametrize("order", ["C", "F"])
def test_encode_with_more_runs_than_the_first_buffer(order):
    """A noisy 400x400 mask has ~80,000 runs: the run buffer must grow."""
    m = np.random.default_rng(3).random((400, 400)) < 0.5
    arr = np.asfortranarray(m) if order == "F" else np.ascontiguousarray(m)
    got = rle.encode(arr)
    assert got.counts.shape[0] > 1 << 16
    assert got.to_coco()["counts"] == coco_encode(m)["counts"].decode()


def test_iou_on_noisy_masks_uses_bitsets_and_still_equals_pycocotools():
    rng = np.random.default_rng(4)
    ms = [rng.random((60, 50)) < p for p in (0.1, 0.3, 0.5, 0.7)]
    crowd = [0, 1, 0, 1]
    ref = M.iou([coco_encode(m) for m in ms], [coco_encode(m) for m in ms], crowd)
    np.testing.assert_array_equal(rle.iou([rle.encode(m) for m in ms], [rle.encode(m) for m in ms], crowd), ref)


def test_large_batches_split_over_threads_give_the_same_rles(monkeypatch):
    from segmill.rle import _polygons as _api

    rng = np.random.default_rng(5)
    anns = [[rng.uniform(-5, 70, 2 * int(rng.integers(3, 30))).tolist()] for _ in range(12_000)]
    hs = [int(v) for v in rng.integers(20, 64, len(anns))]
    assert sum(len(a[0]) for a in anns) >= _api._PARALLEL_MIN_COORDS
    monkeypatch.setattr(_api, "_threads", lambda: 2)
    threaded = rle.from_polygons_batch(anns, hs, 60)
    monkeypatch.setattr(_api, "_threads", lambda: 1)
    assert rle.from_polygons_batch(anns, hs, 60) == threaded
    refs = [M.frPyObjects(a, h, 60)[0] for a, h in zip(anns[:2000], hs)]
    assert [r.to_coco()["counts"] for r in threaded[:2000]] == [r["counts"].decode() for r in refs]


def test_trusted_parts_path_equals_the_checked_path():
    from segmill.rle._polygons import from_parts_batch

    rng = np.random.default_rng(6)
    anns = [[rng.uniform(-4, 40, (int(rng.integers(3, 12)), 2)) for _ in range(int(rng.integers(1, 4)))]
            for _ in range(300)]
    hs = [int(v) for v in rng.integers(5, 40, len(anns))]
    assert from_parts_batch(anns, hs, 33) == rle.from_polygons_batch([[p.tolist() for p in a] for a in anns], hs, 33)
