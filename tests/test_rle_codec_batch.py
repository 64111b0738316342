"""The batched string codec (one kernel call per list) against the one-string path and pycocotools.

``from_strings_checked`` and ``areas_of_strings`` take a fast path for the
common case and fall back to the careful per-string decoder for anything
unusual; these properties pin both to the careful decoder's results and
statuses, on well-formed strings and on mutated or arbitrary ones.
"""

from __future__ import annotations

import numpy as np
import pycocotools.mask as M
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmill import rle
from segmill.errors import RLEError
from segmill.rle import _codec as C

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def masks(draw):
    h = draw(st.integers(0, 20))
    w = draw(st.integers(0, 20))
    if draw(st.booleans()):
        return draw(arrays(np.bool_, (h, w)))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    return rng.random((h, w)) < rng.random()


@st.composite
def strings(draw):
    """``(string, total)``: a real RLE string, one mutated in one place, or arbitrary codec text."""
    m = draw(masks())
    s = rle.encode(m).to_coco()["counts"]
    total = m.size
    kind = draw(st.sampled_from(["real", "real", "mutated", "text", "long"]))
    chars = [chr(c) for c in range(0x28, 0x78)]
    if kind == "mutated" and s:
        i = draw(st.integers(0, len(s) - 1))
        op = draw(st.sampled_from(["replace", "delete", "insert"]))
        c = draw(st.sampled_from(chars))
        s = s[:i] + (c if op != "delete" else "") + s[i + (op != "insert"):]
    elif kind == "text":
        s = draw(st.text(alphabet=[chr(c) for c in range(0x30, 0x70)], max_size=30))
    elif kind == "long":  # a count spelled with redundant continuation characters
        k = draw(st.integers(1, 14))
        s = draw(st.sampled_from(["", "1", "51"])) + "`" * k + draw(st.sampled_from(["0", "1", "?", "O"])) + s
    if draw(st.integers(0, 4)) == 0:
        total = max(0, total + draw(st.integers(-3, 3)))
    return s, total


def careful(s: str, total: int):
    """The per-string decoder the batch falls back to: ``(counts or None, status)``."""
    chars = np.frombuffer(s.encode("ascii"), np.uint8)
    out = np.empty(len(s) + 1, np.uint32)
    end, status = C._decode_into(chars, 0, len(s), out, 0, total)
    return (out[:end].copy() if status == 0 else None), int(status)


@SETTINGS
@given(st.lists(strings(), max_size=8))
def test_batch_decode_equals_the_careful_decoder(items):
    got = C.decode_strings([s for s, _ in items], [t for _, t in items])
    areas, ok = C.string_areas([s for s, _ in items], [t for _, t in items])
    counts, off, status = got
    for k, (s, total) in enumerate(items):
        want, want_status = careful(s, total)
        assert int(status[k]) == want_status
        if want_status == 0:
            np.testing.assert_array_equal(counts[off[k]:off[k + 1]], want)
            if ok[k]:
                assert int(areas[k]) == int(want[1::2].sum(dtype=np.uint64))
        else:
            assert off[k] == off[k + 1]
            assert not ok[k]


@SETTINGS
@given(st.lists(masks(), max_size=6))
def test_list_verbs_equal_per_item_and_pycocotools(ms):
    objs = [rle.encode(m).to_coco() for m in ms]
    one_by_one = [rle.from_coco(o) for o in objs]
    assert rle.from_coco(objs) == one_by_one
    areas = rle.area(objs)
    assert [int(a) for a in areas] == [r.area for r in one_by_one]
    if objs:
        ref = M.area([{"size": o["size"], "counts": o["counts"].encode()} for o in objs])
        assert [int(a) for a in areas] == [int(a) for a in ref]
    plain = [r.to_coco(compressed=False) for r in one_by_one]
    assert rle.from_coco(plain) == one_by_one
    assert [int(a) for a in rle.area(plain)] == [r.area for r in one_by_one]


@SETTINGS
@given(st.lists(strings(), min_size=1, max_size=5))
def test_area_of_a_list_fails_as_its_first_bad_item(items):
    objs = [{"size": [1, t], "counts": s} for s, t in items]
    try:
        want = [rle.from_coco(o).area for o in objs]
    except RLEError:
        with pytest.raises(RLEError) as got:
            rle.area(objs)
        with pytest.raises(RLEError) as ref:
            rle.from_coco(objs)
        assert str(got.value) == str(ref.value)
        assert str(got.value).startswith("RLE ")
    else:
        assert [int(a) for a in rle.area(objs)] == want


@pytest.mark.parametrize("counts, message", [
    ([1, -1, 2], "must not be negative"),
    ([2**32, 1], "larger than 2**32 - 1"),
    ([2**70], "integers, got dtype 'object'"),
    ([1.5, 1], "whole numbers"),
    (["1"], "integers"),
])
def test_uncompressed_list_errors_keep_their_words(counts, message):
    with pytest.raises(RLEError, match=message.replace("*", r"\*")):
        rle.RLE(counts, 1, 2)


@SETTINGS
@given(st.lists(st.integers(0, 10**6) | st.booleans(), max_size=12))
def test_uncompressed_list_equals_array_input(counts):
    h, w = 1, int(sum(int(c) for c in counts))  # within the default pixel limit
    assert rle.RLE(counts, h, w) == rle.RLE(np.array(counts, np.int64).astype(np.uint32), h, w)


DELTAS = [0, 1, -1, 15, -16, 16, -17, 511, -512, 512, -513, 16383, -16384, 16384, -16385, 2**20, -(2**20), 2**22 - 1]


@pytest.mark.parametrize("delta", DELTAS)
def test_string_encoder_at_every_character_count_boundary(delta):
    """Deltas at the edges of one, two, three characters and more encode as pycocotools does."""
    base = 2**22 + 100  # totals stay within the default pixel limit
    counts = [base, 7, base + delta, 9, base + delta + delta, 3, 5, base]
    total = sum(counts)
    r = rle.RLE(counts, 1, total)
    ref = M.frPyObjects({"size": [1, total], "counts": counts}, 1, total)["counts"].decode()
    assert r.to_coco()["counts"] == ref
    assert rle.from_coco({"size": [1, total], "counts": ref}) == r
    assert [int(a) for a in rle.area([r.to_coco()] * 2)] == [r.area] * 2
    packed = C.to_string_batch(np.concatenate([r.counts, r.counts]), np.array([0, 8, 16], np.int64))
    assert packed[0].tobytes().decode() == ref * 2
