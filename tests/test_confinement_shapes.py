"""Confinement and the pixel limit in the YOLO, LabelMe and CVAT readers.

Files a dataset lists or names stay inside its root: a label file or an
image that is a symbolic link out of a YOLO dataset, a LabelMe ``imagePath``
leaving its folder (relative or absolute), a CVAT image name or image
symlink leaving ``images/``, all are refused with one InputError line (exit
2 on the command line). Images read only for their size, and images embedded
in LabelMe files, are refused from their header when over the pixel limit,
before any pixel is decoded.
"""

from __future__ import annotations

import base64
import json
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import InputError, LimitError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEG = "0 0.1 0.1 0.6 0.1 0.6 0.6\n"


def _png(width: int, height: int, body: bytes | None = None) -> bytes:
    """A grey PNG; ``body`` (one short row) makes a header that declares more than the data holds."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = body if body is not None else b"".join(b"\0" + b"\1" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image is decoded (only headers may be read)."""
    from PIL import ImageFile

    def load(self):
        raise AssertionError(f"an image was decoded: {self.size}")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def _info(path, fmt):
    r = CliRunner().invoke(main, ["info", str(path), "--format", fmt])
    return r.exit_code, r.stderr


def _yolo(tmp_path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURES / "yolo" / "seg", root)
    return root


# ------------------------------------------------------------------ YOLO
def test_yolo_label_file_symlinked_outside_is_refused(tmp_path):
    root = _yolo(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text(SEG)
    label = root / "labels" / "train" / "a.txt"
    label.unlink()
    label.symlink_to(outside)
    with pytest.raises(InputError, match="symbolic link points outside the dataset root") as exc:
        segmill.read(root, "yolo")
    assert exc.value.path == str(label)
    code, err = _info(root, "yolo")
    assert code == 2 and err.count("\n") == 1 and "outside the dataset root" in err


def test_yolo_image_symlinked_outside_is_refused(tmp_path):
    root = _yolo(tmp_path)
    outside = tmp_path / "outside.png"
    outside.write_bytes(_png(10, 8))
    image = root / "images" / "val" / "b.png"
    image.unlink()
    image.symlink_to(outside)
    with pytest.raises(InputError, match="symbolic link points outside the dataset root"):
        segmill.read(root, "yolo")
    code, err = _info(root, "yolo")
    assert code == 2 and err.count("\n") == 1 and "b.png" in err


def test_yolo_labels_folder_symlinked_outside_is_refused(tmp_path):
    root = _yolo(tmp_path)
    shutil.move(root / "labels", tmp_path / "elsewhere")
    (root / "labels").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(root, "yolo")


def test_yolo_symlink_inside_the_dataset_is_followed(tmp_path):
    root = _yolo(tmp_path)
    label = root / "labels" / "val" / "b.txt"
    label.unlink()
    label.symlink_to(root / "labels" / "train" / "a.txt")
    ds = segmill.read(root, "yolo")
    assert len(ds.items) == 2


def test_yolo_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path, no_decoding):
    root = _yolo(tmp_path)
    (root / "images" / "train" / "a.png").write_bytes(_png(100_000, 100_000, b"\0"))
    with pytest.raises(LimitError, match="over the pixel limit"):
        segmill.read(root, "yolo")


def test_yolo_image_size_uses_the_shared_limit(tmp_path, monkeypatch, no_decoding):
    root = _yolo(tmp_path)
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "79")  # the fixture images are 10 x 8
    with pytest.raises(LimitError, match="80 pixels"):
        segmill.read(root, "yolo")
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "80")
    assert len(segmill.read(root, "yolo").items) == 2


def test_yolo_skip_mode_lists_an_image_over_the_limit_and_reads_the_rest(tmp_path, monkeypatch):
    root = _yolo(tmp_path)
    (root / "images" / "val" / "b.png").write_bytes(_png(100, 100))
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "1000")
    ds = segmill.read(root, "yolo", errors="skip")
    assert [i.id for i in ds.items] == ["train/a"]
    assert "pixel limit" in ds.meta["skipped"][0]["reason"]


# ------------------------------------------------------------------ LabelMe
def _labelme(tmp_path, **top) -> Path:
    root = tmp_path / "lm"
    root.mkdir(parents=True)
    doc = {"version": "5.5.0", "flags": {}, "imageData": None,
           "shapes": [{"label": "a", "points": [[1, 1], [5, 1], [5, 5]], "shape_type": "polygon"}],
           "imagePath": "x.png", "imageHeight": 8, "imageWidth": 10}
    doc.update(top)
    (root / "x.json").write_text(json.dumps(doc))
    return root


@pytest.mark.parametrize("image_path", ["../../x.png", "../x.png", "sub/../../x.png"])
def test_labelme_image_path_leaving_the_folder_is_refused(tmp_path, image_path):
    root = _labelme(tmp_path, imagePath=image_path)
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(root, "labelme")
    code, err = _info(root, "labelme")
    assert code == 2 and err.count("\n") == 1


def test_labelme_absolute_image_path_is_refused_even_when_the_file_exists(tmp_path):
    real = tmp_path / "real.png"
    real.write_bytes(_png(10, 8))
    for n, image_path in enumerate((str(real), "/etc/hostname", "C:\\images\\x.png", "C:/x.png")):
        root = _labelme(tmp_path / str(n), imagePath=image_path)
        with pytest.raises(InputError, match="is absolute"):
            segmill.read(root, "labelme")


def test_labelme_image_path_symlinked_outside_is_refused(tmp_path):
    root = _labelme(tmp_path, imageHeight=None, imageWidth=None)
    outside = tmp_path / "outside.png"
    outside.write_bytes(_png(10, 8))
    (root / "x.png").symlink_to(outside)
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(root, "labelme")


def test_labelme_json_file_symlinked_outside_is_refused(tmp_path):
    root = _labelme(tmp_path)
    (tmp_path / "other.json").write_text((root / "x.json").read_text())
    (root / "y.json").symlink_to(tmp_path / "other.json")
    with pytest.raises(InputError, match="symbolic link points outside"):
        segmill.read(root, "labelme")


def test_labelme_image_data_bomb_is_refused_before_decoding(tmp_path, no_decoding):
    bomb = base64.b64encode(_png(100_000, 100_000, b"\0")).decode()
    root = _labelme(tmp_path, imageData=bomb, imageHeight=None, imageWidth=None)
    with pytest.raises(LimitError, match="over the pixel limit") as exc:
        segmill.read(root, "labelme")
    assert exc.value.record == "imageData"
    code, err = _info(root, "labelme")
    assert code == 2 and err.count("\n") == 1 and "pixel limit" in err


def test_labelme_image_data_over_a_low_limit_is_refused_even_with_sizes_given(tmp_path, monkeypatch, no_decoding):
    data = base64.b64encode(_png(20, 20)).decode()
    root = _labelme(tmp_path, imageData=data)
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "100")
    with pytest.raises(LimitError, match="400 pixels"):
        segmill.read(root, "labelme")


def test_labelme_image_size_fields_use_the_shared_limit(tmp_path, monkeypatch):
    root = _labelme(tmp_path, imageHeight=20, imageWidth=20)
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "399")
    with pytest.raises(LimitError, match="pixel limit of 399"):
        segmill.read(root, "labelme")


def test_labelme_mask_patch_bomb_is_refused_before_decoding(tmp_path, no_decoding):
    mask = base64.b64encode(_png(100_000, 100_000, b"\0")).decode()
    root = _labelme(tmp_path, shapes=[{"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "mask",
                                       "mask": mask}])
    with pytest.raises(LimitError, match="over the pixel limit") as exc:
        segmill.read(root, "labelme")
    assert exc.value.record == "shape 0 mask"


# ------------------------------------------------------------------ CVAT
def _cvat(tmp_path, name="a.png") -> Path:
    root = tmp_path / "cv"
    (root / "images").mkdir(parents=True)
    (root / "annotations.xml").write_text(
        '<annotations><version>1.1</version><meta><task><labels><label><name>a</name></label></labels></task>'
        f'</meta><image id="0" name="{name}" width="10" height="8"/></annotations>')
    return root


def test_cvat_image_symlinked_outside_images_is_refused(tmp_path):
    root = _cvat(tmp_path)
    (tmp_path / "outside.png").write_bytes(_png(10, 8))
    (root / "images" / "a.png").symlink_to(tmp_path / "outside.png")
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(root, "cvat")
    code, err = _info(root, "cvat")
    assert code == 2 and err.count("\n") == 1


@pytest.mark.parametrize("name", ["../a.png", "/etc/hostname", "x/../../a.png"])
def test_cvat_image_name_leaving_images_is_refused(tmp_path, name):
    with pytest.raises(InputError, match="outside the dataset root|is absolute"):
        segmill.read(_cvat(tmp_path, name), "cvat")


def test_cvat_image_size_uses_the_shared_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "79")
    with pytest.raises(LimitError, match="80 pixels"):
        segmill.read(_cvat(tmp_path), "cvat")
