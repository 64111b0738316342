"""The pixel limit in every image-reading path of the mask formats (VOC, mask folders, Cityscapes).

A decompression bomb (a PNG whose header declares more pixels than
``segmill.limits.max_pixels()``) is refused from its header, before a byte is
decoded: decoding is made to fail the test here, so a reader that decodes
first cannot pass. ``SEGMILL_MAX_PIXELS`` moves the limit both ways.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

import segmill
from segmill.errors import InputError, LimitError
from segmill.formats._png import read_png, voc_colormap, write_png

#: Where each reader looks for its label PNGs, and the files that make the rest of a dataset.
LAYOUTS = {
    "voc SegmentationClass": ("voc", "SegmentationClass/a.png", {}),
    "voc SegmentationObject": ("voc", "SegmentationObject/a.png", {"Annotations/a.xml": (
        "<annotation><size><width>20</width><height>20</height></size><object><name>cat</name></object>"
        "</annotation>")}),
    "masks semantic": ("masks", "semantic/a.png", {"classes.txt": "background\nperson\n"}),
    "masks instances": ("masks", "instances/a.png", {"classes.txt": "background\nperson\n",
                                                     "instances.json": '{"a": {"1": "person"}}'}),
    "cityscapes labelIds": ("cityscapes", "gtFine/train/c/c_0_0_gtFine_labelIds.png", {}),
    "cityscapes instanceIds": ("cityscapes", "gtFine/train/c/c_0_0_gtFine_instanceIds.png", {}),
    "read_png": (None, "a.png", {}),
}


def bomb_png(path: Path, width: int = 20_000, height: int = 20_000) -> Path:
    """A grey PNG whose header declares ``width x height`` pixels, with one row of data (about 100 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1))) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    return path


def small_png(path: Path, fmt: str | None, size: int = 20) -> Path:
    """A valid label map of ``size x size`` pixels for ``fmt`` (class 1 / person / car in one corner)."""
    a = np.zeros((size, size), np.uint8)
    a[:2, :2] = 1
    if fmt == "voc":
        write_png(path, a, voc_colormap())
    elif fmt == "cityscapes":
        write_png(path, np.where(a == 1, 26 if "labelIds" in path.name else 26000, 0).astype(np.uint16))
    else:
        write_png(path, a)
    return path


def _dataset(tmp_path, layout, make_png):
    fmt, rel, files = LAYOUTS[layout]
    root = tmp_path / "ds"
    png = root / rel
    png.parent.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    make_png(png, fmt)
    return fmt, root, png


def _read(fmt, root, png, **options):
    if fmt is None:
        return read_png(png)
    return segmill.read(root, fmt, **options)


@pytest.fixture
def no_decoding(monkeypatch):
    """Any image decode fails the test: the limit must be checked from the header alone."""

    def refuse(self):
        raise AssertionError(f"{getattr(self, 'filename', 'an image')} was decoded before its size was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_bomb_is_refused_before_decoding(layout, tmp_path, monkeypatch, no_decoding):
    monkeypatch.delenv("SEGMILL_MAX_PIXELS", raising=False)
    fmt, root, png = _dataset(tmp_path, layout, lambda p, fmt: bomb_png(p))
    with pytest.raises(LimitError, match=r"20000x20000 \(400,000,000 pixels\) is over the .*limit of 89,478,485"):
        _read(fmt, root, png)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_segmill_max_pixels_set_low_refuses_an_ordinary_image(layout, tmp_path, monkeypatch, no_decoding):
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "399")
    fmt, root, png = _dataset(tmp_path, layout, small_png)  # 400 pixels
    with pytest.raises(LimitError, match="SEGMILL_MAX_PIXELS") as info:
        _read(fmt, root, png)
    assert "a.png" in str(info.value) or "gtFine" in str(info.value)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_segmill_max_pixels_above_pillows_limit_lets_a_large_image_through(layout, tmp_path, monkeypatch):
    # Pillow alone refuses this image (over twice its limit: DecompressionBombError); segmill's limit rules
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150)
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "400")
    fmt, root, png = _dataset(tmp_path, layout, small_png)
    with pytest.raises(Image.DecompressionBombError), Image.open(png) as im:
        im.load()
    got = _read(fmt, root, png)
    if fmt is None:
        assert got.size == (20, 20)
    else:
        (item,) = got.items
        assert (item.height, item.width) == (20, 20) and item.annotations


@pytest.mark.parametrize("layout", [k for k, v in LAYOUTS.items() if v[0] is not None])
def test_skip_mode_lists_the_bomb_and_reads_on(layout, tmp_path, monkeypatch, no_decoding):
    monkeypatch.delenv("SEGMILL_MAX_PIXELS", raising=False)
    fmt, root, png = _dataset(tmp_path, layout, lambda p, fmt: bomb_png(p))
    ds = _read(fmt, root, png, errors="skip")
    assert ds.items == []
    (entry,) = ds.meta["skipped"]
    assert entry["path"].endswith(png.name) and "limit" in entry["reason"]


def test_the_limit_is_pillows_by_default_and_is_an_input_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGMILL_MAX_PIXELS", raising=False)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 399)
    png = small_png(tmp_path / "a.png", None)
    with pytest.raises(InputError, match="limit of 399"):
        read_png(png)


def test_read_png_names_the_file_for_every_failure(tmp_path):
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    for name, message in (("missing.png", "not found"), ("dir.png", "is a directory"), ("junk.png", "")):
        with pytest.raises(InputError, match=f"{name}.*{message}"):
            read_png(tmp_path / name)
