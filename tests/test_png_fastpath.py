"""segmill's own paletted PNG bytes are Pillow's, and decode to the same pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from segmill.formats._png import _paletted_png, read_png, voc_colormap, write_png


def pillow_bytes(a: np.ndarray, palette: np.ndarray, level: int = 1) -> bytes:
    im = Image.frombytes("P", (a.shape[1], a.shape[0]), np.ascontiguousarray(a, np.uint8).tobytes())
    im.putpalette(np.asarray(palette, np.uint8).reshape(-1).tolist())
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=level)
    return buf.getvalue()


def label_map(rng, h, w, k):
    """Blocky label maps like VOC's (runs along rows, repeated rows), with a little noise."""
    a = np.zeros((h, w), np.uint8)
    for _ in range(k):
        y, x = rng.integers(0, h), rng.integers(0, w)
        a[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] = rng.integers(0, 256)
    return a


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (480, 640), (375, 500), (1000, 1500)])
@pytest.mark.parametrize("kind", ["blocks", "noise"])
def test_same_bytes_as_pillow(tmp_path, shape, kind):
    rng = np.random.default_rng(sum(shape))
    a = label_map(rng, *shape, 12) if kind == "blocks" else rng.integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "m.png"
    write_png(path, a, voc_colormap())
    data = path.read_bytes()
    assert data == pillow_bytes(a, voc_colormap())  # noise makes IDAT span several 64 KiB chunks
    back = read_png(path)
    assert back.mode == "P"
    assert np.array_equal(back.array, a)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**32 - 1), st.sampled_from([1, 6, 9]))
def test_same_bytes_as_pillow_any_size_and_level(h, w, seed, level):
    rng = np.random.default_rng(seed)
    a = label_map(rng, h, w, 5)
    pal = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    assert _paletted_png(a, pal.reshape(-1), level) == pillow_bytes(a, pal, level)


def test_a_short_palette_still_goes_through_pillow(tmp_path):
    a = np.array([[0, 1], [1, 0]], np.uint8)
    path = tmp_path / "s.png"
    write_png(path, a, np.array([[0, 0, 0], [255, 0, 0]], np.uint8))
    assert np.array_equal(read_png(path).array, a)
