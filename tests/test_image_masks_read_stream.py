"""Image + mask folders read as a stream (``image_masks.stream``): a first pass over the masks, then one image at a
time.

The oracle is the whole read (``tests/_read_stream.py``): the same
items, categories and meta (the mask mode, the classes found and the notes
on unpaired files, stated by the header before the first item), the same
error for a malformed mask, raised after the items before it; the same
``segmill check`` findings and converted bytes. The first pass reads mask
headers only when there is a label table, and decodes the masks when the
classes are the values found in them.
"""

from __future__ import annotations

import importlib.util
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.formats import _png, _stream_passes, image_masks
from segmill.transforms import streamed

_spec = importlib.util.spec_from_file_location("_read_stream", Path(__file__).with_name("_read_stream.py"))
O = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(O)
FIXTURE = Path(__file__).parent.parent / "fixtures" / "image_masks"
FMT = "image_masks"

same = partial(O.same_as_read, fmt=FMT)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    return build(tmp_path_factory.mktemp("im-built"))


def build(root: Path, n: int = 7) -> dict:
    """Folders written from one synthetic dataset of ``n`` images: grey masks (``L``), RGB masks in two splits
    (``RGB``); an image for some masks, an image without a mask."""
    ds = O.synthetic(root, n)
    segmill.write(ds, root / "L", FMT)
    for k, item in enumerate(ds.items):
        item.split = ("train", "val")[k % 3 == 1]
    segmill.write(ds, root / "RGB", FMT, mask_mode="RGB")
    for folder in (root / "L", root / "RGB" / "train"):
        masks = sorted((folder / "masks").glob("*.png"))
        for m in masks[::2]:
            Image.new("RGB", (5, 4)).save(folder / "images" / f"{m.stem}.jpg")
        Image.new("RGB", (6, 3)).save(folder / "images" / "no_mask.png")
    return {"L": root / "L", "RGB": root / "RGB"}


@pytest.fixture
def copy(built, tmp_path):
    """``copy(which)``: a fresh copy of a built folder to change."""
    def make(which: str = "L", name: str = "ds") -> Path:
        dst = tmp_path / name
        shutil.copytree(built[which], dst)
        return dst
    return make


def _masks(root: Path) -> list[Path]:
    return sorted(root.rglob("masks/*.png"))


# ------------------------------------------------------------------ datasets that read
def test_the_fixture_streams_as_it_reads(tmp_path):
    ds = same(FIXTURE)
    assert len(ds.items) == 2 and ds.meta["image_masks_mode"] == "L"
    shutil.copytree(FIXTURE, tmp_path / "x")
    (tmp_path / "x" / "dataset_meta.json").unlink()  # the classes are the values found
    assert [c.name for c in same(tmp_path / "x").categories] == ["background", "class_1", "class_2"]


def test_the_datumaro_sets_stream_as_they_read(corpus):
    root = corpus / "datumaro" / "common_semantic_segmentation_dataset"
    if root.is_dir():
        assert same(root / "dataset").meta["image_masks_mode"] == "RGB"
        same(root / "non_standard_dataset", masks_prefix="gt_", images_prefix="image_")


@pytest.mark.parametrize("which", ["L", "RGB"])
def test_built_sets_stream_as_they_read(built, which):
    ds = same(built[which])
    assert len(ds.items) == 8 and ds.num_annotations > 10
    assert any("without an image" in n for n in ds.meta["read_notes"])
    assert any("without a mask" in n for n in ds.meta["read_notes"])


@pytest.mark.parametrize("background", [None, 0, 2])
def test_classes_found_in_the_masks(copy, background):
    root = copy("L")
    (root / "dataset_meta.json").unlink()
    options = {} if background is None else {"background": background}
    ds = same(root, **options)
    assert len(ds.categories) > 3 and ds.meta["voc_class_values"] is False


def test_mixed_modes_give_no_mask_mode_and_16_bit_and_paletted_masks(copy):
    root = copy("L")
    masks = _masks(root)
    a = np.array(Image.open(masks[1]))
    p = Image.fromarray(a, "P")
    p.putpalette([7] * 768)
    p.save(masks[1])
    Image.fromarray(a.astype(np.uint16)).save(masks[2])
    ds = same(root)
    assert "image_masks_mode" not in ds.meta
    (root / "dataset_meta.json").unlink()
    same(root)


@pytest.mark.parametrize("mode", ["P", "I;16"])
def test_one_mode_across_the_masks(copy, mode):
    root = copy("L")
    for m in _masks(root):
        a = np.array(Image.open(m))
        if mode == "P":
            p = Image.fromarray(a, "P")
            p.putpalette(list(range(256)) * 3)
            p.save(m)
        else:
            Image.fromarray(a.astype(np.uint16)).save(m)
    assert same(root).meta["image_masks_mode"] == "L"


def test_prefixes_and_a_label_list(copy, tmp_path):
    root = copy("L")
    for m in _masks(root):
        m.rename(m.with_name(f"gt_{m.stem}_m.png"))
    for im in (root / "images").iterdir():
        im.rename(im.with_name(f"img_{im.name}"))
    names = [f"c{v}" for v in range(100)]
    (tmp_path / "labels.txt").write_text("\n".join(names) + "\n")
    ds = same(root, masks_prefix="gt_", masks_suffix="_m", images_prefix="img_", labels=tmp_path / "labels.txt")
    assert len(ds.items) == 8


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=O.datasets(max_images=4, max_annotations=4))
def test_random_datasets_written_as_image_masks_stream_as_they_read(data):
    # then without dataset_meta.json: the classes are the values found in the masks
    O.written_as_read(data[0], FMT, change=lambda root: (root / "dataset_meta.json").unlink())


# ------------------------------------------------------------------ one image at a time
@pytest.mark.parametrize("table", [True, False])
def test_items_come_one_image_at_a_time(copy, monkeypatch, table):
    root = copy("L")
    if not table:
        (root / "dataset_meta.json").unlink()
    calls, decodes = [], []
    real_item, real_open = image_masks._read_item, _png.images.open_image
    monkeypatch.setattr(image_masks, "_read_item", lambda r, part, iid, *a: calls.append(iid) or
                        real_item(r, part, iid, *a))
    monkeypatch.setattr(_png.images, "open_image", lambda *a, **k: decodes.append(a[0]) or real_open(*a, **k))
    st = segmill.stream(root, FMT)
    assert st.bounded and calls == [] and getattr(st._items, "ids_unique", False)
    # the header: mask headers only with a table; every mask decoded once without one
    assert len(decodes) == (0 if table else 7)
    decodes.clear()
    it = iter(st)
    first = next(it)
    assert calls == [first.id] and len(decodes) == (1 if _masks(root)[0].stem == first.id else 0)
    rest = list(it)
    assert len(calls) == 1 + len(rest) == 8 and len(decodes) == 7


def test_lenient_modes_read_whole(built):
    for errors in ("skip", "keep"):
        assert image_masks.stream(built["RGB"], errors=errors) is None
        st = segmill.stream(built["RGB"], FMT, errors=errors)
        assert not st.bounded and st.to_dataset() == segmill.read(built["RGB"], FMT, errors=errors)


def test_a_folder_that_cannot_be_listed_is_read_whole(copy, tmp_path):
    root = copy("RGB")
    (tmp_path / "elsewhere.png").write_bytes(b"")
    (root / "val" / "masks" / "zz.png").symlink_to(tmp_path / "elsewhere.png")  # refused as val/ is listed
    assert image_masks.stream(root) is None
    same(root, bounded=False)


def test_masks_changed_between_the_passes_are_refused(copy):
    root = copy("L")
    st = segmill.stream(root, FMT)
    m = _masks(root)[-1]
    p = Image.fromarray(np.array(Image.open(m)), "P")
    p.putpalette([0] * 768)
    p.save(m)
    with pytest.raises(InputError, match="the mask files changed while they were read"):
        st.to_dataset()


# ------------------------------------------------------------------ the same errors, after the items before
def _truncated(m: Path):
    m.write_bytes(m.read_bytes()[:60])


def _unknown_value(m: Path):
    a = np.array(Image.open(m))
    a[0, 0] = 200
    Image.fromarray(a).save(m)


def _unknown_colour(m: Path):
    a = np.array(Image.open(m).convert("RGB"))
    a[1, 2] = (3, 2, 1)
    Image.fromarray(a).save(m)


def _transparent(m: Path):
    im = Image.open(m).convert("RGBA")
    im.putpixel((0, 0), (0, 0, 0, 3))
    im.save(m)


def _cmyk(m: Path):
    Image.open(m).convert("CMYK").save(m.with_suffix(".tif"))
    m.unlink()


def _not_an_image(m: Path):
    m.write_bytes(b"hello")


@pytest.mark.parametrize("which, breaker", [
    ("L", _truncated), ("L", _unknown_value), ("RGB", _unknown_colour), ("L", _transparent), ("RGB", _transparent),
    ("L", _cmyk), ("L", _not_an_image), ("RGB", _truncated),
])
@pytest.mark.parametrize("at", [0, 3, 6])
@pytest.mark.parametrize("table", [True, False])
def test_a_bad_mask_raises_the_reads_error_after_the_images_before_it(copy, which, breaker, at, table):
    root = copy(which)
    if not table:
        for f in root.rglob("dataset_meta.json"):
            f.unlink()
        if which == "RGB" or breaker is _unknown_value:
            return  # RGB masks are refused without a table; any value is a class
    whole = segmill.read(root, FMT)
    m = _masks(root)[at]
    position = next(k for k, i in enumerate(whole.items) if i.id.rsplit("/", 1)[-1] == m.stem)
    breaker(m)
    O.fails_alike(root, FMT, position, whole)


def test_a_bad_image_without_a_mask_raises_alike(copy):
    root = copy("L")
    whole = segmill.read(root, FMT)
    (root / "images" / "no_mask.png").write_bytes(b"not an image")
    O.fails_alike(root, FMT, [i.id for i in whole.items].index("no_mask"), whole)


# ------------------------------------------------------------------ the header facts are exact
def test_the_header_mode_is_what_the_decode_gives(tmp_path, monkeypatch):
    """Every Pillow mode a PNG opens in (from the header), and other image types (decoded)."""
    decoded = []
    real = _stream_passes.read_png
    monkeypatch.setattr(_stream_passes, "read_png", lambda p: decoded.append(1) or real(p))
    cases = []
    for mode, colour in (("RGB", 5), ("RGBA", (1, 2, 3, 255)), ("RGBA", 0), ("L", 0), ("LA", (1, 255)),
                         ("LA", 0), ("P", 1), ("I;16", 300), ("1", 1)):
        f = tmp_path / f"m{len(cases)}.png"
        Image.new(mode, (4, 3), colour).save(f)
        cases.append((f, True))
    for mode, colour, transparency in (("P", 1, 1), ("RGB", 5, (5, 5, 5)), ("L", 2, 2), ("I;16", 5, 5)):
        f = tmp_path / f"m{len(cases)}.png"
        Image.new(mode, (4, 3), colour).save(f, transparency=transparency)  # a tRNS chunk
        cases.append((f, True))
    for ext in (".gif", ".bmp", ".tif", ".jpg"):
        f = tmp_path / f"m{len(cases)}{ext}"
        Image.new("L", (4, 3), 3).save(f)
        cases.append((f, False))
    f = tmp_path / "anim.png"
    Image.new("L", (4, 3)).save(f, save_all=True, append_images=[Image.new("L", (4, 3), 9)])
    cases.append((f, False))
    for f, from_header in cases:
        decoded.clear()
        got, gerr = O.outcome(lambda: _stream_passes.decoded_mode(f))
        assert bool(decoded) != from_header, f
        img, err = O.outcome(lambda: _png.read_png(f))
        if err is None:  # (where the decode refuses an image, the read refuses it: what its header says is unused)
            assert gerr is None and got == img.mode, f


# ------------------------------------------------------------------ segmill check and convert
def test_a_streamed_check_finds_what_the_whole_check_finds(copy, monkeypatch):
    monkeypatch.setattr(streamed, "BATCH", 2)
    O.same_check(copy("RGB"), FMT)


@pytest.mark.parametrize("to", ["image_masks", "labelme"])
def test_convert_streams_the_bytes_of_the_whole_write(built, tmp_path, to):
    O.same_convert(built["L"], FMT, to, tmp_path)
