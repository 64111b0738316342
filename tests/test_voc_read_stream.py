"""Pascal VOC read as a stream (``voc.stream``): one image at a time, equal to ``read``.

The oracle is the whole read: the same items, categories and meta (the
palette and mask mode the header states before the first item), the same
error (message, file, record) for a malformed file, raised after the items
the read would have read before it; the same ``segmill check`` findings.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segmill
from segmill import synth
from segmill.check import Config, check_path
from segmill.check import streamed as dcheck
from segmill.errors import InputError
from segmill.formats import _png, _voc_palette, voc
from segmill.formats._voc_index import read_index
from segmill.transforms import streamed

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _outcome(fn):
    try:
        return fn(), None
    except InputError as exc:
        return None, (exc.message, exc.path, exc.record, type(exc))


def same_as_read(path, **options) -> segmill.Dataset | None:
    """The stream of ``path`` gives what :func:`segmill.read` gives (or its error); the dataset read."""
    whole, err = _outcome(lambda: segmill.read(path, "voc", **options))
    st, serr = _outcome(lambda: segmill.stream(path, "voc", **options))
    if serr is None:
        assert st.bounded
        if err is None:  # what the header says before the first item
            assert st.header.meta == {k: v for k, v in whole.meta.items()}
            assert st.header.categories == whole.categories
        got, serr = _outcome(st.to_dataset)
    assert serr == err
    if err is None:
        assert got == whole and got.meta == whole.meta and got.items == whole.items
    return whole


def streamed_until_error(path, **options) -> tuple[list, tuple | None]:
    """The items a stream of ``path`` yields, and the error it raises after them (or None)."""
    items = []
    try:
        for item in segmill.stream(path, "voc", **options):
            items.append(item)
    except InputError as exc:
        return items, (exc.message, exc.path, exc.record, type(exc))
    return items, None


# ------------------------------------------------------------------ built datasets
@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """VOC folders written from one synthetic dataset: paletted (``P``) and RGB (``RGB``) masks."""
    root = tmp_path_factory.mktemp("voc-built")
    ds = segmill.read(synth.write_coco(root / "src.json", 7, seed=3, extra_fields=False), "coco")
    return {mode: _written(ds, root / mode, mode) for mode in ("P", "RGB")}


def _written(ds, dst: Path, mode: str) -> Path:
    segmill.write(ds, dst, "voc", mask_mode=mode)
    return dst


@pytest.fixture
def copy(built, tmp_path):
    """``copy(mode)``: a fresh copy of a built folder to change."""
    def make(mode: str = "P", name: str = "ds") -> Path:
        dst = tmp_path / name
        shutil.copytree(built[mode], dst)
        return dst
    return make


def _ids(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "Annotations").glob("*.xml"))


def test_the_fixture_streams_as_it_reads():
    ds = same_as_read(FIXTURES / "voc")
    assert len(ds.items) == 3 and "palette" in ds.meta


def test_the_datumaro_voc_sets_stream_as_they_read(corpus):
    for n in ("voc_dataset1", "voc_dataset2", "voc_dataset3"):
        root = corpus / "datumaro" / "voc_dataset" / n
        if root.is_dir():
            same_as_read(root)


@pytest.mark.parametrize("mode", ["P", "RGB"])
def test_built_sets_stream_as_they_read(built, mode):
    ds = same_as_read(built[mode])
    assert len(ds.items) == 7 and sum(len(i.annotations) for i in ds.items) > 20
    if mode == "P":  # one palette across every class mask, stated before the first item
        assert len(ds.meta["palette"]) == 768 and "voc_mask_mode" not in ds.meta
    else:
        assert ds.meta["voc_mask_mode"] == "RGB" and "palette" not in ds.meta


def test_mixed_palettes_give_no_palette(copy):
    root = copy("P")
    f = root / "SegmentationClass" / f"{_ids(root)[2]}.png"
    im = Image.open(f)
    im.load()
    pal = im.getpalette()
    pal[3:6] = [1, 2, 3]
    im.putpalette(pal)
    im.save(f)
    ds = same_as_read(root)
    assert "palette" not in ds.meta and "voc_mask_mode" not in ds.meta


def test_short_palettes_alike_give_that_palette(copy):
    root = copy("P")
    for f in (root / "SegmentationClass").glob("*.png"):
        im = Image.open(f)
        im.load()
        im.putpalette(im.getpalette()[: 3 * 100])  # a PLTE of 100 colours
        im.save(f)
    assert len(same_as_read(root).meta["palette"]) == 300


def test_rgb_and_paletted_masks_mixed_give_no_mask_mode(copy, built):
    root = copy("P")
    iid = _ids(root)[4]
    for sub in ("SegmentationClass", "SegmentationObject"):
        shutil.copyfile(built["RGB"] / sub / f"{iid}.png", root / sub / f"{iid}.png")
    ds = same_as_read(root)
    assert "voc_mask_mode" not in ds.meta and len(ds.meta["palette"]) == 768


@pytest.mark.parametrize("mode", ["P", "RGB"])
def test_images_with_only_xml_only_masks_only_objects(copy, mode):
    root = copy(mode)
    ids = _ids(root)
    for iid in ids[:2]:  # XML only: box annotations
        (root / "SegmentationClass" / f"{iid}.png").unlink()
        (root / "SegmentationObject" / f"{iid}.png").unlink()
    (root / "Annotations" / f"{ids[2]}.xml").unlink()  # masks only
    (root / "SegmentationClass" / f"{ids[3]}.png").unlink()  # instance mask and XML only
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("listed_without_files\n")
    ds = same_as_read(root)
    assert not any(i.annotations for i in ds.items if i.id == "listed_without_files")
    assert (ds.meta.get("voc_mask_mode") == "RGB") == (mode == "RGB")


@pytest.mark.parametrize("mode", ["P", "RGB"])
def test_only_object_masks(copy, mode):
    root = copy(mode)
    shutil.rmtree(root / "SegmentationClass")
    ds = same_as_read(root)
    assert "palette" not in ds.meta  # the palette is the class masks'
    assert (ds.meta.get("voc_mask_mode") == "RGB") == (mode == "RGB")


def test_no_image_sets_ids_from_the_folders(copy):
    root = copy("P")
    shutil.rmtree(root / "ImageSets")
    (root / "Annotations" / "only_here.xml").write_text(
        "<annotation><filename>x.jpg</filename><size><width>4</width><height>3</height><depth>3</depth></size>"
        "</annotation>")
    ds = same_as_read(root)
    assert ds.items[-1].id == "only_here"


def test_image_level_labels_and_class_list_option(copy, tmp_path):
    root = copy("P")
    ids = _ids(root)
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    (main / "person_train.txt").write_text(f"{ids[0]} 1\n{ids[1]} -1\n{ids[0]} 0\n")  # a later line wins
    (main / "bus_val.txt").write_text(f"{ids[1]}  0\n# a comment\n\n")
    ds = same_as_read(root)
    assert ds.items[[i.id for i in ds.items].index(ids[0])].extra["voc_labels"] == {"person_train": 0}
    names = [ln.split(":")[0] for ln in (root / "labelmap.txt").read_text().splitlines()[1:]]
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(names) + "\n")
    same_as_read(root, labels=labels)


def test_the_index_shares_equal_lists():
    index = read_index(FIXTURES / "voc")
    assert index.ids == ["2007_000032", "2007_000039", "2007_000033"]
    k32, k33 = index.ids.index("2007_000032"), index.ids.index("2007_000033")
    assert index.sets(k32) == {"Main": ["train"], "Segmentation": ["train"]}
    assert index.sets(k33) == {"Main": ["val"], "Segmentation": ["val"]}
    assert index._sets[k32] is not index._sets[k33]
    assert index.where(k32) == (FIXTURES / "voc" / "ImageSets" / "Main" / "train.txt", "line 1")


# ------------------------------------------------------------------ lazily, one image at a time
def test_items_come_one_image_at_a_time(copy, monkeypatch):
    root = copy("P")
    calls, decodes = [], []
    real_item, real_open = voc._read_item, _png.images.open_image
    monkeypatch.setattr(voc, "_read_item", lambda *a: calls.append(a[1]) or real_item(*a))
    monkeypatch.setattr(_png.images, "open_image", lambda *a, **k: decodes.append(a[0]) or real_open(*a, **k))
    st = segmill.stream(root, "voc")
    assert st.bounded and calls == [] and decodes == []  # the header: mask headers only, nothing decoded
    assert "palette" in st.header.meta
    it = iter(st)
    first = next(it)
    assert calls == [first.id] and len(decodes) == 2  # its class and object masks
    next(it)
    assert len(calls) == 2
    rest = list(it)
    assert len(calls) == 2 + len(rest) == 7


def test_a_stream_is_read_once_ids_unique(copy):
    st = segmill.stream(copy("P"), "voc")
    assert getattr(st._items, "ids_unique", False)


def test_lenient_modes_read_whole(copy):
    root = copy("P")
    for errors in ("skip", "keep"):
        assert voc.stream(root, errors=errors) is None
        st = segmill.stream(root, "voc", errors=errors)
        assert not st.bounded and st.to_dataset() == segmill.read(root, "voc", errors=errors)


def test_masks_changed_between_the_passes_are_refused(copy):
    root = copy("P")
    st = segmill.stream(root, "voc")
    f = root / "SegmentationClass" / f"{_ids(root)[-1]}.png"
    im = Image.open(f)
    im.load()
    im.putpalette(im.getpalette()[:30])
    im.save(f)
    with pytest.raises(InputError, match="the mask files changed while they were read"):
        st.to_dataset()


# ------------------------------------------------------------------ the same errors
def _break_png(root, iid):
    f = root / "SegmentationClass" / f"{iid}.png"
    f.write_bytes(f.read_bytes()[:60])


def _bad_value(root, iid):
    f = root / "SegmentationClass" / f"{iid}.png"
    im = Image.open(f)
    a = np.array(im)
    a[0, 0] = 200
    out = Image.fromarray(a, "P")
    out.putpalette(im.getpalette())
    out.save(f)


def _unknown_colour(root, iid):
    f = root / "SegmentationClass" / f"{iid}.png"
    a = np.array(Image.open(f).convert("RGB"))
    a[1, 2] = (3, 2, 1)
    Image.fromarray(a, "RGB").save(f)


def _bad_class(root, iid):
    f = root / "Annotations" / f"{iid}.xml"
    text = f.read_text()
    start = text.index("<name>") + len("<name>")
    f.write_text(text[:start] + "no such class" + text[text.index("</name>", start):])


def _other_size(root, iid):
    f = root / "SegmentationObject" / f"{iid}.png"
    im = Image.open(f)
    im.crop((0, 0, 10, 10)).save(f)


def _grey(root, iid):
    f = root / "SegmentationClass" / f"{iid}.png"
    Image.open(f).convert("L").save(f)


def _bomb(root, iid):
    """A grey PNG declaring 20,000 x 20,000 pixels: refused from its header (the pixel limit)."""
    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)
    (root / "SegmentationObject" / f"{iid}.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 20_001))
        + _chunk(b"IEND", b""))


def _link_out(root, iid):
    f = root / "SegmentationClass" / f"{iid}.png"
    f.unlink()
    f.symlink_to(root.parent / "elsewhere.png")


@pytest.mark.parametrize("mode, breaker", [
    ("P", _break_png), ("P", _bad_value), ("RGB", _unknown_colour), ("P", _bad_class), ("RGB", _bad_class),
    ("P", _other_size), ("P", _grey), ("P", _bomb), ("P", _link_out),
])
@pytest.mark.parametrize("at", [0, 3, 6])
def test_a_bad_image_raises_the_reads_error_after_the_images_before_it(copy, mode, breaker, at):
    root = copy(mode)
    (root.parent / "elsewhere.png").write_bytes(b"")
    whole = segmill.read(root, "voc")
    position = [i.id for i in whole.items]
    iid = position[at]
    breaker(root, iid)
    _, err = _outcome(lambda: segmill.read(root, "voc"))
    assert err is not None
    items, serr = streamed_until_error(root)
    assert serr == err
    before = 0 if breaker is _link_out else at  # a link out of the folder: refused as the folders are listed
    assert [i.id for i in items] == position[:before]
    assert items == whole.items[:before]


@pytest.mark.parametrize("text", ["a b c\n", "x 1 2\n", "../../etc/passwd\n"])
def test_a_bad_image_list_is_refused_alike(copy, text):
    root = copy("P")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text(text)
    same_as_read(root)


def test_a_bad_label_line_is_refused_alike(copy):
    root = copy("P")
    (root / "ImageSets" / "Main" / "cat_train.txt").write_text("a 1\nb x\n")
    same_as_read(root)


# ------------------------------------------------------------------ the header facts are exact
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _paletted_png(plte: bytes | None, bits: int = 8) -> bytes:
    rows = b"".join(b"\0" + bytes([1] * ((5 * bits + 7) // 8)) for _ in range(3))
    parts = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 3, bits, 3, 0, 0, 0))]
    if plte is not None:
        parts.append(_chunk(b"PLTE", plte))
    return b"".join(parts + [_chunk(b"IDAT", zlib.compress(rows)), _chunk(b"IEND", b"")])


def test_mask_facts_are_what_the_decode_gives(tmp_path, monkeypatch):
    """Every PLTE length (whole colours from the header, the others decoded), no PLTE, RGB, RGBA, grey."""
    decoded = []
    real = _voc_palette.read_label_png
    monkeypatch.setattr(_voc_palette, "read_label_png", lambda *a, **k: decoded.append(1) or real(*a, **k))
    f = tmp_path / "m.png"
    # (file bytes, whether the header alone says it)
    cases = [(_paletted_png(bytes(i * 7 % 256 for i in range(n))), n % 3 == 0 and n <= 768) for n in range(800)]
    cases += [(_paletted_png(None), False), (_paletted_png(bytes(range(12)), 4), True),
              (_paletted_png(bytes(range(6)), 1), True)]
    for mode, colour in (("RGB", 5), ("RGBA", (1, 2, 3, 255)), ("RGBA", 0), ("L", 0), ("LA", 0), ("I;16", 0)):
        Image.new(mode, (4, 3), colour).save(f)
        cases.append((f.read_bytes(), mode in ("RGB", "RGBA")))
    Image.new("P", (4, 3)).save(tmp_path / "m.gif")
    cases.append(((tmp_path / "m.gif").read_bytes(), False))  # a GIF named .png: decoded
    for data, from_header in cases:
        f.write_bytes(data)
        decoded.clear()
        got, gerr = _outcome(lambda: _voc_palette.mask_facts(f))
        assert bool(decoded) != from_header
        img, err = _outcome(lambda: _png.read_label_png(f, modes=("P", "RGB")))
        if err is None:  # (where the decode refuses a mask, the read refuses it: what its header says is unused)
            assert gerr is None and got == (img.mode, img.palette.tobytes() if img.palette is not None else None)


# ------------------------------------------------------------------ segmill check and convert
def test_a_streamed_check_finds_what_the_whole_check_finds(copy, monkeypatch):
    monkeypatch.setattr(streamed, "BATCH", 2)
    root = copy("P")
    for select in (None, ["ALL"]):
        cfg = Config(select=select) if select else Config()
        whole = check_path(root, format="voc", config=cfg)
        got = dcheck.check_streamed([root], format="voc", config=cfg)
        assert got is not None
        assert [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in got.findings] == \
               [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in whole.findings]
        assert (got.images, got.annotations) == (whole.images, whole.annotations)


def test_convert_to_labelme_streams_the_bytes_of_the_whole_write(copy, tmp_path):
    root = copy("P", "src")
    segmill.convert(root, tmp_path / "s", "voc", "labelme")
    segmill.write(segmill.read(root, "voc"), tmp_path / "w", "labelme")
    a = {p.relative_to(tmp_path / "s"): p.read_bytes() for p in (tmp_path / "s").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "w"): p.read_bytes() for p in (tmp_path / "w").rglob("*") if p.is_file()}
    assert a == b and a
