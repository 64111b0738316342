"""Fuzzing of every public verb of :mod:`segmill.rle` with arbitrary Python values.

The property: whatever the arguments (ints of any size, floats including NaN,
infinities and 1e308, strings with non-ASCII and every codec character,
bytes, nested lists, dicts with wrong keys, numpy arrays of odd dtypes,
shapes and memory orders, and plausible RLEs and polygons mutated in one
place), a verb returns a well-formed value or raises a
:class:`~segmill.errors.SegmillError` with a one-line message. Never a
``TypeError``, ``ValueError``, ``OverflowError``, ``KeyError`` or
``MemoryError``.

The explicit cases at the end are the crashes found before this file
existed (the regression corpus of :mod:`segmill.rle`, which has no file
format to replay through the command line).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pycocotools.mask as M
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from segmill import rle
from segmill.errors import PolygonError, RLEError, SegmillError, UsageError

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DEEP: object = 0
for _ in range(3000):
    DEEP = [DEEP]

HUGE = [2**31, 2**32, 2**32 - 1, 2**63, 2**64, 2**70, -(2**70), 10**400, 89_478_486, 9_460]
# Built, not listed: hypothesis reprs its strategies, and neither a 5000-digit int nor DEEP has a repr.
TOO_BIG = st.builds(lambda: 10**5000)
NESTED = st.builds(lambda: DEEP)
INTS = st.integers(-3, 40) | st.sampled_from(HUGE) | TOO_BIG
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 2e8, -2e8, 2.0000001e8, 0.5, -0.0, 3.0])
CODEC = st.text(alphabet=[chr(c) for c in range(0x30, 0x70)], max_size=12)
STRINGS = CODEC | st.text(max_size=6) | st.sampled_from(
    ["coco", "pil", "opencv", "é", "\ud800", "\x00", "\n", "0" * 60, "size", "counts", "1~", "6@"])
SCALARS = (INTS | FLOATS | STRINGS | st.binary(max_size=12) | st.none() | st.booleans()
           | NESTED | st.sampled_from([np.int64(3), np.uint32(7), np.float32(2.5), np.bool_(True), np.float64("nan"),
                              bytearray(b"0P"), memoryview(b"12"), object(), range(4), {1, 2}, frozenset()]))

DTYPES = [bool, np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float16,
          np.float32, np.float64, np.complex64, ">u4", ">i8", "<U3", "S2", object, "M8[s]", "m8[s]",
          [("a", "<i4")]]


@st.composite
def ndarrays(draw):
    """Numpy arrays of odd dtypes, shapes (0-d to 3-d, empty sides) and memory layouts."""
    shape = draw(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    if draw(st.booleans()):
        arr = draw(arrays(np.float64, shape, elements=FLOATS))
    else:
        base = draw(arrays(np.int64, shape, elements=st.integers(-3, 40)))
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        arr = np.zeros(shape, dtype) if dtype.names else base.astype(dtype)
    layout = draw(st.sampled_from(["C", "F", "strided", "readonly", "T", "broadcast"]))
    if layout == "F":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        arr = arr[::2]
    elif layout == "readonly":
        arr.flags.writeable = False
    elif layout == "T":
        arr = arr.T
    elif layout == "broadcast" and arr.ndim:
        arr = np.broadcast_to(arr, (2,) + arr.shape)
    return arr


VALUES = st.recursive(
    SCALARS | ndarrays(),
    lambda kids: (st.lists(kids, max_size=5) | st.tuples(kids, kids)
                  | st.dictionaries(st.sampled_from(["size", "counts", "x", 1, None]), kids, max_size=3)),
    max_leaves=10,
)


@st.composite
def masks(draw):
    h = draw(st.integers(0, 9))
    w = draw(st.integers(0, 9))
    return draw(arrays(np.bool_, (h, w)))


@st.composite
def good_rles(draw):
    """A valid RLE, as the value type or as a COCO dict (compressed or not)."""
    r = rle.encode(draw(masks()))
    form = draw(st.sampled_from(["rle", "str", "list", "bytes"]))
    if form == "rle":
        return r
    obj = r.to_coco(compressed=form != "list")
    if form == "bytes":
        obj["counts"] = obj["counts"].encode()
    return obj


@st.composite
def bad_rles(draw):
    """A COCO RLE dict with one key replaced by an arbitrary value, or removed."""
    obj = draw(good_rles())
    obj = obj.to_coco() if isinstance(obj, rle.RLE) else dict(obj)
    key = draw(st.sampled_from(["size", "counts", "extra"]))
    if draw(st.booleans()) and key in obj:
        del obj[key]
    else:
        obj[key] = draw(VALUES)
    return obj


RLES = good_rles() | bad_rles() | VALUES
RLE_LISTS = st.lists(good_rles(), max_size=4) | st.lists(RLES, max_size=3) | VALUES
COORD = st.integers(-20, 40) | FLOATS | st.sampled_from([10**400, 2**70, True, None, "1", 1e6, -1e7])
POLYGON = st.lists(st.lists(st.integers(-5, 30) | st.floats(-5, 30), min_size=6, max_size=12), min_size=1, max_size=3)
POLYGONS = POLYGON | st.lists(st.lists(COORD, max_size=10), max_size=3) | st.lists(COORD, max_size=8) | VALUES
SIZES = st.integers(0, 12) | INTS | FLOATS | VALUES


def returns_or_refuses(fn, *args, **kwargs):
    """``fn(*args)``, or None when it raised a SegmillError; anything else fails the test."""
    try:
        return fn(*args, **kwargs)
    except SegmillError as exc:
        assert "\n" not in str(exc), f"multi-line message: {exc!r}"
        return None


def well_formed(r) -> None:
    assert isinstance(r, rle.RLE)
    assert type(r.height) is int and type(r.width) is int
    assert r.counts.dtype == np.uint32 and r.counts.ndim == 1
    assert int(r.counts.sum(dtype=np.uint64)) == r.height * r.width


# ----------------------------------------------------------------- the verbs
@SETTINGS
@given(mask=masks() | ndarrays() | VALUES)
def test_encode(mask):
    r = returns_or_refuses(rle.encode, mask)
    if r is not None:
        well_formed(r)
    out = returns_or_refuses(rle.encode_batch, mask)
    if out is not None:
        for r in out:
            well_formed(r)


@SETTINGS
@given(x=RLES | RLE_LISTS)
def test_decode_area_bbox(x):
    m = returns_or_refuses(rle.decode, x)
    if m is not None:
        assert m.dtype == np.bool_ and m.ndim == 2
    returns_or_refuses(rle.decode_batch, x)
    returns_or_refuses(rle.area, x)
    returns_or_refuses(rle.bbox, x)


@SETTINGS
@given(dt=RLE_LISTS | RLES, gt=RLE_LISTS | RLES, extra=st.none() | st.booleans() | VALUES)
def test_merge_and_iou(dt, gt, extra):
    r = returns_or_refuses(rle.merge, dt, extra)
    if r is not None:
        well_formed(r)
    out = returns_or_refuses(rle.iou, dt, gt, extra)
    if out is not None:
        assert out.ndim == 2 and np.all((out >= 0) & (out <= 1))


@SETTINGS
@given(obj=RLES, h=st.none() | SIZES, w=st.none() | SIZES)
def test_from_coco(obj, h, w):
    r = returns_or_refuses(rle.from_coco, obj, h, w)
    if r is not None and isinstance(obj, (list, tuple)):
        assert isinstance(r, list) and len(r) == len(obj)
        for one, o in zip(r, obj):  # the batch decodes as one call per RLE would
            well_formed(one)
            assert one == rle.from_coco(o, h, w)
    elif r is not None:
        well_formed(r)


@SETTINGS
@given(counts=VALUES | st.lists(INTS, max_size=5) | CODEC, h=SIZES, w=SIZES, compressed=VALUES)
def test_rle_value_and_strings(counts, h, w, compressed):
    r = returns_or_refuses(rle.RLE, counts, h, w)
    if r is not None:
        well_formed(r)
        obj = returns_or_refuses(r.to_coco, compressed)
        if obj is not None:
            assert rle.from_coco(obj) == r
    returns_or_refuses(rle.string_to_counts, counts)


@SETTINGS
@given(polygons=POLYGONS, h=SIZES, w=SIZES, rule=st.sampled_from(["coco", "pil"]) | VALUES)
def test_from_polygons_and_bbox(polygons, h, w, rule):
    r = returns_or_refuses(rle.from_polygons, polygons, h, w, rule)
    if r is not None:
        well_formed(r)
    out = returns_or_refuses(rle.from_polygons_batch, polygons, h, w, rule)
    if out is not None:
        for r in out:
            well_formed(r)
    r = returns_or_refuses(rle.from_bbox, polygons if not isinstance(polygons, list) else polygons[:4], h, w)
    if r is not None:
        well_formed(r)


INT_ARRAYS = arrays(np.int64, st.integers(0, 4), elements=st.integers(-2, 12)) | ndarrays() | VALUES


@SETTINGS
@given(coords=arrays(np.float64, st.integers(0, 14), elements=st.floats(-5, 20)) | ndarrays() | VALUES,
       part_len=INT_ARRAYS, nparts=INT_ARRAYS, hs=INT_ARRAYS, ws=INT_ARRAYS,
       share=st.floats(0, 1) | VALUES, sizes=VALUES | st.lists(st.tuples(INTS, INTS), max_size=3))
def test_flat_batch(coords, part_len, nparts, hs, ws, share, sizes):
    job = returns_or_refuses(rle.FlatBatch, coords, part_len, nparts, hs, ws, share)
    if job is None:
        return
    out = job.finish()
    assert out is None or (out[0].dtype == np.uint32 and out[1].shape == (nparts.shape[0] + 1,))
    rles = returns_or_refuses(job.rles, sizes)
    for r in rles or []:
        well_formed(r)


# ------------------------------------------------- the crashes found before
@pytest.mark.parametrize("call", [
    lambda: rle.merge(5),
    lambda: rle.iou(5, 5),
    lambda: rle.area(5),
    lambda: rle.bbox(3.5),
    lambda: rle.decode_batch(None),
    lambda: rle.encode_batch(7),
    lambda: rle.from_coco({"size": [math.inf, 5], "counts": [1]}),
    lambda: rle.from_coco({"size": [math.nan, 5], "counts": [1]}),
    lambda: rle.from_coco({"size": [10**5000, 0], "counts": [0]}),
    lambda: rle.from_coco({"size": [2, 3], "counts": [6]}, height=math.inf, width=3),
    lambda: rle.RLE([1, 2, 3], 10**5000, 1),
    lambda: rle.from_polygons([[0, 0, 10**400, 0, 1, 1]], 5, 5),
    lambda: rle.from_polygons([[0, 0, 1, 0, 1, 1]], 3, 3, rule=np.array(["coco", "pil"])),
    lambda: rle.from_polygons_batch([[[0, 0, 1, 0, 1, 1]]], [[3]], [3]),
    lambda: rle.from_polygons_batch(5, 3, 3),
    lambda: rle.from_bbox([0, 0, 10**400, 1], 5, 5),
    lambda: rle.iou([rle.RLE([1], 1, 1)], [rle.RLE([1], 1, 1)], [np.zeros(2), 1]),
    lambda: rle.merge([rle.RLE([1], 1, 1)], intersect=np.zeros(3)),
    lambda: rle.RLE([1], 1, 1).to_coco(compressed=np.zeros(3)),
    lambda: rle.encode(DEEP),
    lambda: rle.encode(np.array([[None, [1]]], dtype=object)),
    lambda: rle.FlatBatch([0.0] * 6, [6], [1], [5], [5]),
    lambda: rle.FlatBatch(np.zeros(6), np.array([2**62] * 4 + [6]), np.array([5]), np.array([5]), np.array([5])),
    lambda: rle.FlatBatch(np.zeros(6), np.array([6]), np.array([1]), np.array([5, 5]), np.array([5])),
    lambda: rle.FlatBatch(np.zeros(6), np.array([6]), np.array([1]), np.array([2**40]), np.array([5])),
    lambda: rle.FlatBatch(np.zeros(6), np.array([6]), np.array([1]), np.array([5]), np.array([5])).rles([(5, 6)]),
    lambda: rle.FlatBatch(np.zeros(6), np.zeros(0, np.int64), np.array([-2, 4, 3, 11]), np.array([5, 1, 10, 5]),
                          np.array([11])),  # read out of bounds in the kernel: a segmentation fault
    lambda: rle.FlatBatch(range(4), np.array([0, -1, 4, 1]), np.array([5, 4, 0, 9]), np.array([7]), np.array([8])),
    lambda: rle.from_coco({"size": np.array([[13], [40], [6]], np.uint8), "counts": "0"}),  # a multi-line repr
    lambda: rle.from_coco({"size": DEEP, "counts": "0"}),  # repr of a 3000-deep list: RecursionError
    lambda: rle.from_coco({"size": [DEEP, 1], "counts": "0"}),
    lambda: rle.encode(np.zeros((2, 3), [("a", "<i4")])),
    lambda: rle.encode_batch(np.array(3)),
    lambda: rle.from_bbox(DEEP, 3, 3),
    lambda: rle.from_bbox([28.7, 20, -2e8, 13.8], 2, 9),  # MemoryError before the tracing-work limit
])
def test_known_crashes_now_raise_segmill_errors(call):
    with pytest.raises(SegmillError) as info:
        call()
    assert "\n" not in str(info.value)
    assert isinstance(info.value, (RLEError, PolygonError, UsageError))


def test_polygon_at_the_coordinate_limit_is_refused_before_allocating():
    t0 = time.perf_counter()
    with pytest.raises(PolygonError, match="too long to rasterize"):
        rle.from_polygons([[0, 0, 2e8, 0, 2e8, 2e8]], 5, 5)
    with pytest.raises(PolygonError, match="annotation 1: polygon too long"):
        rle.from_polygons_batch([[[0, 0, 4, 0, 4, 4]], [[0, 0, -2e8, 0, 0, 2e8]]], 5, 5)
    assert time.perf_counter() - t0 < 1.0


def test_tracing_work_follows_the_pixel_limit(monkeypatch):
    far = [[0, 0, 2e4, 0, 2e4, 2e4]]  # 2e4 px edges: 1e5 steps each on the 5x grid
    ref = M.merge(M.frPyObjects(far, 6, 7))
    assert rle.from_polygons(far, 6, 7).to_coco()["counts"] == ref["counts"].decode()
    pil = rle.from_polygons(far, 6, 7, rule="pil")
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "200000")
    with pytest.raises(PolygonError, match="200,000"):
        rle.from_polygons(far, 6, 7)
    assert rle.from_polygons(far, 6, 7, rule="pil") == pil  # Pillow's cost does not grow with the edges


def test_far_vertices_still_equal_pycocotools():
    rng = np.random.default_rng(11)
    for _ in range(60):  # pycocotools traces every one of these edges point by point: keep them few
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        parts = [rng.uniform(-1e4, 1e4, 2 * int(rng.integers(3, 7))).tolist() for _ in range(int(rng.integers(1, 3)))]
        ref = M.merge(M.frPyObjects(parts, h, w))
        assert rle.from_polygons(parts, h, w).to_coco()["counts"] == ref["counts"].decode()


def test_sizes_go_through_the_pixel_limit(monkeypatch):
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "100")
    assert rle.RLE([100], 10, 10).area == 0
    for call in (lambda: rle.RLE([101], 1, 101), lambda: rle.from_coco({"size": [11, 10], "counts": [110]}),
                 lambda: rle.encode(np.zeros((20, 6), bool)), lambda: rle.from_polygons([[0, 0, 1, 0, 1, 1]], 11, 10),
                 lambda: rle.RLE([0], 101, 0)):
        with pytest.raises(RLEError, match="pixel limit of 100"):
            call()
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "200")
    assert rle.RLE([110], 11, 10).area == 0
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "many")
    with pytest.raises(SegmillError, match="SEGMILL_MAX_PIXELS"):
        rle.RLE([110], 11, 10)


def test_public_flat_batch_split_over_threads_with_one_width_for_all(monkeypatch):
    from segmill.rle import _polygons

    rng = np.random.default_rng(12)
    anns = [[rng.uniform(-3, 40, 2 * int(rng.integers(3, 20))).tolist()] for _ in range(12_000)]
    coords = np.array([v for a in anns for v in a[0]])
    part_len = np.array([len(a[0]) for a in anns])
    nparts = np.ones(len(anns), np.int64)
    hs = rng.integers(5, 40, len(anns))
    assert coords.size >= _polygons._PARALLEL_MIN_COORDS
    sizes = [(int(h), 37) for h in hs]
    monkeypatch.setattr(_polygons, "_threads", lambda: 2)
    threaded = rle.FlatBatch(coords, part_len, nparts, hs, np.array([37])).rles(sizes)
    assert threaded == rle.from_polygons_batch(anns, hs.tolist(), 37)
