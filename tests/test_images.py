"""segmill.images: the pixel limit is checked from the header, before any decode."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from segmill.errors import InputError, LimitError
from segmill.images import image_size, open_image
from segmill.limits import PIL_DEFAULT_MAX_PIXELS, max_pixels


def _png(path, w=12, h=7):
    Image.fromarray(np.zeros((h, w), np.uint8)).save(path)
    return path


def test_the_default_limit_is_pillows(monkeypatch):
    monkeypatch.delenv("SEGMILL_MAX_PIXELS", raising=False)
    assert max_pixels() == Image.MAX_IMAGE_PIXELS == PIL_DEFAULT_MAX_PIXELS


def test_a_bomb_is_refused_before_decoding(tmp_path, bomb_png):
    p = bomb_png(tmp_path / "bomb.png")  # 400 Mpx declared, a few bytes of data
    with pytest.raises(LimitError, match="over the pixel limit of 89,478,485"):
        open_image(p)
    with pytest.raises(LimitError):
        image_size(p)


def test_segmill_max_pixels_lowers_and_raises_the_limit(tmp_path, monkeypatch, bomb_png):
    p = _png(tmp_path / "a.png")
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "50")
    with pytest.raises(LimitError, match="SEGMILL_MAX_PIXELS"):
        open_image(p)
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", str(200_000_000))  # above Pillow's own refusal (2x its limit)
    assert image_size(bomb_png(tmp_path / "big.png", 12_000, 15_000)) == (15_000, 12_000)


def test_a_bad_segmill_max_pixels_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "lots")
    with pytest.raises(LimitError, match="positive integer"):
        max_pixels()


@pytest.mark.parametrize("content, message", [(b"", "not an image"), (b"GIF89a\x00", "not an image"),
                                              (None, "is a directory")])
def test_unreadable_sources_are_input_errors(tmp_path, content, message):
    p = tmp_path / "x.png"
    if content is None:
        p.mkdir()
    else:
        p.write_bytes(content)
    with pytest.raises(InputError, match=message):
        open_image(p)


def test_open_image_returns_decoded_pixels_from_a_file_object():
    buf = io.BytesIO()
    Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(buf, "PNG")
    buf.seek(0)
    im = open_image(buf, "mem.png")
    assert np.asarray(im).tolist() == np.arange(12).reshape(3, 4).tolist()
