"""Cityscapes, KITTI and CamVid read as streams (``FormatSpec.stream``): one image at a time, equal to ``read``.

The oracle is the whole read: the same items, categories and meta (the
header states them before the first item: label tables, layout notes,
CamVid's mask mode from a first pass over the annotations' headers), the
same error (message, file, record) for a malformed file, raised after the
items the read would have read before it; the same ``segmill check``
findings; the same bytes for ``segmill convert``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from PIL import Image

import segmill
from segmill import synth
from segmill.check import Config, check_path
from segmill.check import streamed as dcheck
from segmill.errors import InputError
from segmill.formats import _png, camvid, cityscapes, detect, kitti
from segmill.formats._cityscapes_labels import LABELS
from segmill.model import Category
from segmill.transforms import streamed

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
FORMATS = ("cityscapes", "kitti", "camvid")
MODULES = {"cityscapes": cityscapes, "kitti": kitti, "camvid": camvid}


_spec = importlib.util.spec_from_file_location("test_perfile_stream", HERE / "test_perfile_stream.py")
PF = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(PF)
S, R = PF.S, PF.R  # the stream writers' helpers, the random datasets
_rspec = importlib.util.spec_from_file_location("_read_stream", HERE / "_read_stream.py")
RS = importlib.util.module_from_spec(_rspec)
_rspec.loader.exec_module(RS)
_outcome, same_as_read, streamed_until_error = RS.outcome, RS.same_as_read, RS.streamed_until_error


# ------------------------------------------------------------------ fixtures
def _fixture_sets() -> list:
    """Every folder under fixtures/ detected as one of the three formats."""
    out = []
    for p in sorted(FIXTURES.rglob("*")):
        if not p.is_dir():
            continue
        try:
            spec, _ = detect(p)
        except Exception:  # noqa: BLE001 - not a dataset at all
            continue
        if spec.name in FORMATS:
            out.append(pytest.param(p, spec.name, id=str(p.relative_to(FIXTURES))))
    return out


OPTIONS = {
    "cityscapes": [{}, {"source": "polygons"}, {"source": "polygons", "raster": "pil"}, {"source": "labelIds"},
                   {"source": "instanceIds"}, {"label_table": "official"}],
    "kitti": [{}, {"source": "semantic"}, {"source": "instance"}, {"label_table": "official"}],
    "camvid": [{}],
}


@pytest.mark.parametrize("path, fmt", _fixture_sets())
def test_every_fixture_streams_as_it_reads(path, fmt):
    for options in OPTIONS[fmt]:
        for errors in ("raise", "skip", "keep") if fmt != "camvid" else ("raise",):
            same_as_read(path, fmt, errors=errors, **options)


def test_the_fixtures_are_found():
    assert sorted({p.values[1] for p in _fixture_sets()}) == sorted(FORMATS)


# ------------------------------------------------------------------ built datasets
def _official(ds):
    """``ds`` with official Cityscapes label names (so the official table is written)."""
    names = [lab.name for lab in LABELS if 0 < lab.id]
    ds.categories = [Category(c.id, names[k % len(names)]) for k, c in enumerate(ds.categories)]
    return ds


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """Folders of each format written from one synthetic dataset of 7 images (two splits)."""
    root = tmp_path_factory.mktemp("semantic-built")

    def source():
        ds = segmill.read(synth.write_coco(root / "src.json", 7, seed=3, extra_fields=False), "coco")
        for k, item in enumerate(ds.items):
            item.split = ("train", "val")[k % 2]
        return ds

    out = {}
    for name, fmt, prep, options in (("cityscapes", "cityscapes", None, {}),
                                     ("cityscapes_official", "cityscapes", _official, {}),
                                     ("kitti", "kitti", None, {}), ("kitti_official", "kitti", _official, {}),
                                     ("camvid", "camvid", None, {}), ("camvid_L", "camvid", None, {"mask_mode": "L"})):
        ds = source()
        segmill.write(prep(ds) if prep else ds, root / name, fmt, **options)
        out[name] = root / name
    return out


@pytest.fixture
def copy(built, tmp_path):
    """``copy(name)``: a fresh copy of a built folder to change."""
    def make(name: str, dst: str = "ds") -> Path:
        shutil.copytree(built[name], tmp_path / dst)
        return tmp_path / dst
    return make


def _fmt(name: str) -> str:
    return name.split("_")[0]


@pytest.mark.parametrize("name", ["cityscapes", "cityscapes_official", "kitti", "kitti_official", "camvid",
                                  "camvid_L"])
def test_built_sets_stream_as_they_read(built, name):
    ds = same_as_read(built[name], _fmt(name))
    assert len(ds.items) == 7 and sum(len(i.annotations) for i in ds.items) > 10
    if name == "camvid":
        assert ds.meta["camvid_mask_mode"] == "RGB"
    if name == "camvid_L":
        assert ds.meta["camvid_mask_mode"] == "L"


@pytest.mark.parametrize("name", ["cityscapes", "kitti", "camvid"])
@pytest.mark.parametrize("errors", ["skip", "keep"])
def test_lenient_modes(copy, name, errors):
    """Cityscapes and KITTI stream them (their header does not depend on what is dropped); CamVid's mask mode
    does: read whole."""
    root = copy(name)
    _break(root, name, 2, _truncated)
    whole = segmill.read(root, name, errors=errors)
    assert len(whole.items) == 6 and len(whole.meta["skipped"]) == 1
    if name == "camvid":
        assert camvid.stream(root, errors=errors) is None
        st = segmill.stream(root, name, errors=errors)
        assert not st.bounded and st.to_dataset() == whole
        return
    assert segmill.stream(root, name, errors=errors).header.meta["skipped"] == []
    same_as_read(root, name, errors=errors)


def test_cityscapes_layouts_and_a_custom_table_option(copy, tmp_path):
    root = copy("cityscapes")
    table = root / "label_colors.txt"
    labels = tmp_path / "labels.txt"
    shutil.copyfile(table, labels)
    table.unlink()
    same_as_read(root, "cityscapes", labels=labels)
    same_as_read(root / "gtFine", "cityscapes", labels=labels)
    same_as_read(root / "gtFine" / "val", "cityscapes", labels=labels)  # a split folder given directly
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in (root / "gtFine").rglob("*_gtFine_*.png"):
        shutil.copyfile(f, flat / f.name)
    ds = same_as_read(flat, "cityscapes", labels=labels)
    assert ds.meta["cityscapes_layout"] == "flat" and len(ds.meta["read_notes"]) == 2


def test_cityscapes_polygons_stream_as_they_read(copy):
    root = copy("cityscapes_official")
    cities = sorted((root / "gtFine").glob("*/*"))
    doc = {"imgHeight": 30, "imgWidth": 40, "objects": [
        {"label": "car", "polygon": [[1, 1], [20, 2], [10, 25]]},
        {"label": "persongroup", "polygon": [[5, 5], [30, 5], [30, 20]]},
        {"label": "road", "polygon": [[0, 0], [39, 0], [39, 29]], "deleted": 1}]}
    for k, city in enumerate(cities):
        (city / f"extra{k}_gtFine_polygons.json").write_text(json.dumps(doc))
    for options in ({}, {"raster": "pil"}, {"source": "polygons", "errors": "skip"}):
        ds = same_as_read(root, "cityscapes", **options)
        assert any(i.id.endswith("extra0") for i in ds.items)


def test_kitti_split_folder_and_image_only_items(copy):
    root = copy("kitti")
    maps = sorted((root / "train" / "instance").glob("*.png"))
    for kind in ("instance", "semantic"):  # an image without a map: sized from its header
        (root / "train" / kind / maps[1].name).unlink()
    Image.new("RGB", (9, 7)).save(root / "train" / "image_2" / maps[1].name)
    ds = same_as_read(root, "kitti")
    assert any(not i.annotations and i.width == 9 for i in ds.items)
    same_as_read(root / "train", "kitti")
    same_as_read(root, "kitti", source="semantic")  # no semantic/ maps: refused alike


def test_camvid_mixed_mask_modes_give_no_mode(copy, built):
    root = copy("camvid")
    masks = [line.split()[1].lstrip("/") for line in (root / "train.txt").read_text().splitlines()]
    shutil.copyfile(built["camvid_L"] / masks[1], root / masks[1])  # one L among RGB annotations
    assert "camvid_mask_mode" not in same_as_read(root, "camvid").meta
    for mask in masks:
        shutil.copyfile(built["camvid_L"] / mask, root / mask)
    (root / "val.txt").write_text("/val/unannotated.png\n")  # a line without annotation: no mode
    assert same_as_read(root, "camvid").meta["camvid_mask_mode"] == "L"


def test_camvid_masks_changed_between_the_passes_are_refused(copy, built):
    root = copy("camvid")
    st = segmill.stream(root, "camvid")
    assert st.header.meta["camvid_mask_mode"] == "RGB"
    mask = (root / "train.txt").read_text().split()[-1].lstrip("/")
    shutil.copyfile(built["camvid_L"] / mask, root / mask)
    with pytest.raises(InputError, match="the annotation files changed while they were read"):
        st.to_dataset()


def test_camvid_mask_modes_from_headers_are_what_the_decode_gives(tmp_path, monkeypatch):
    """Each mode a PNG opens in (from its header), and files decoded instead (a GIF, a JPEG named .png)."""
    decoded = []
    real = camvid.read_class_map
    monkeypatch.setattr(camvid, "read_class_map", lambda *a, **k: decoded.append(1) or real(*a, **k))
    colors = {(0, 0, 0): 0, (5, 5, 5): 1, (1, 2, 3): 2}
    f = tmp_path / "m.png"
    cases = []
    for mode, colour in (("RGB", (5, 5, 5)), ("RGBA", (1, 2, 3, 255)), ("RGBA", 0), ("L", 1), ("LA", (1, 255)),
                         ("P", 1), ("1", 1), ("I;16", 2)):
        Image.new(mode, (4, 3), colour).save(f)
        cases.append((f.read_bytes(), True))
    for fmt in ("GIF", "JPEG"):
        Image.new("L" if fmt == "GIF" else "RGB", (4, 3)).save(tmp_path / "x", fmt)
        cases.append(((tmp_path / "x").read_bytes(), False))
    refused = []
    for data, from_header in cases:
        f.write_bytes(data)
        decoded.clear()
        got, gerr = _outcome(lambda: camvid._mask_mode(f, colors))
        want, werr = _outcome(lambda: real(f, colors, what="annotation"))
        if werr is None:  # where the decode refuses a mask, the read refuses it: its header is unused
            assert gerr is None and got == want[1], Image.open(f).mode
            assert bool(decoded) != from_header
        else:
            refused.append(Image.open(f).mode)
    assert refused == ["RGBA"]  # transparent


# ------------------------------------------------------------------ lazily, one image at a time
@pytest.mark.parametrize("name, reader", [("cityscapes", "_read_item"), ("kitti", "_read_item"),
                                          ("camvid", "_read_pair")])
def test_items_come_one_image_at_a_time(copy, monkeypatch, name, reader):
    root = copy(name)
    mod = MODULES[name]
    calls, decodes = [], []
    real_item, real_open = getattr(mod, reader), _png.images.open_image
    monkeypatch.setattr(mod, reader, lambda *a: calls.append(1) or real_item(*a))
    monkeypatch.setattr(_png.images, "open_image", lambda *a, **k: decodes.append(a[0]) or real_open(*a, **k))
    st = segmill.stream(root, name)
    assert st.bounded and calls == [] and decodes == []  # the header: names and headers only, nothing decoded
    it = iter(st)
    next(it)
    assert calls == [1] and len(decodes) == 1
    next(it)
    assert len(calls) == 2 and len(decodes) == 2
    rest = list(it)
    assert len(calls) == 2 + len(rest) == 7


# ------------------------------------------------------------------ the same errors
def _maps(root: Path, name: str) -> list[Path]:
    """The files each item is read from, in reading order."""
    if name.startswith("cityscapes"):
        return sorted((root / "gtFine").rglob("*_gtFine_instanceIds.png"))
    if name.startswith("kitti"):
        return [f for split in sorted(root.iterdir()) for f in sorted(split.glob("instance/*.png"))]
    return [root / line.split()[1].lstrip("/") for lst in ("train.txt", "val.txt") if (root / lst).is_file()
            for line in (root / lst).read_text().splitlines()]


def _break(root: Path, name: str, at: int, breaker) -> None:
    breaker(_maps(root, name)[at])


def _truncated(f: Path) -> None:
    f.write_bytes(f.read_bytes()[:60])


def _bad_value(f: Path) -> None:
    a = np.array(Image.open(f))
    a[0, 0] = 60_000 if f.parent.name == "instance" else 250 if a.ndim == 2 else 0  # KITTI: class 234
    if a.ndim == 3:
        a[0, 0] = (3, 2, 1)  # a colour of no label
    Image.fromarray(a).save(f)


def _bomb(f: Path) -> None:
    """A PNG header over the pixel limit (the test writes it with the ``bomb_png`` fixture)."""


def _a_folder(f: Path) -> None:
    f.unlink()
    f.mkdir()


@pytest.mark.parametrize("name", ["cityscapes", "cityscapes_official", "kitti", "camvid"])
@pytest.mark.parametrize("breaker", [_truncated, _bad_value, _bomb, _a_folder])
@pytest.mark.parametrize("at", [0, 4])
def test_a_bad_image_raises_the_reads_error_after_the_images_before_it(copy, bomb_png, name, breaker, at):
    root = copy(name)
    whole = segmill.read(root, _fmt(name))
    _break(root, name, at, bomb_png if breaker is _bomb else breaker)
    _, err = _outcome(lambda: segmill.read(root, _fmt(name)))
    if err is None:  # a folder named as a map is left out; another map of the image is read then
        assert breaker is _a_folder and not name.startswith("camvid")
        same_as_read(root, _fmt(name))
        return
    items, serr = streamed_until_error(root, _fmt(name))
    assert serr == err
    assert items == whole.items[:at]


@pytest.mark.parametrize("text", ["/train/a.png /trainannot/missing.png\n", "a b c\n", "/x.png ../../../etc/passwd\n",
                                  '"/a b.png" x\n'])
def test_a_bad_camvid_list_line_is_refused_alike(copy, text):
    root = copy("camvid")
    (root / "val.txt").write_text((root / "val.txt").read_text() + text)
    same_as_read(root, "camvid")


def test_an_image_listed_twice_is_refused_alike(copy):
    root = copy("camvid")
    lines = (root / "train.txt").read_text().splitlines()
    (root / "val.txt").write_text("\n".join(lines[:2]) + "\n")
    (root / "zz.txt").write_text(lines[0].replace("train", "zz", 1) + "\n" + lines[0].replace("train", "zz", 1))
    items, err = streamed_until_error(root, "camvid")
    assert err == (f"image {'zz/' + lines[0].split()[0].split('/')[-1][:-4]!r} is listed twice", str(root / "zz.txt"),
                   "line 2", InputError)
    assert len(items) == len(lines) + 2 + 1  # train, val, the first line of zz
    same_as_read(root, "camvid")


def test_a_bad_table_or_empty_folder_is_refused_alike(copy, tmp_path):
    for name in ("cityscapes", "kitti", "camvid"):
        root = copy(name, name)
        (root / "label_colors.txt").write_text("1 2 3 a\n4 5 6 a\n")  # a name listed twice
        same_as_read(root, _fmt(name))
        empty = tmp_path / f"empty_{name}"
        empty.mkdir()
        (empty / "x.txt").write_text("")
        same_as_read(empty, name)


# ------------------------------------------------------------------ random datasets
#: How each random dataset is written: ``(format, writer options)``.
WRITES = [("cityscapes", {}), ("cityscapes", {"label_table": "official"}), ("kitti", {}), ("camvid", {}),
          ("camvid", {"mask_mode": "L"})]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=R.datasets(max_images=4))
def test_random_datasets_written_as_each_format_stream_as_they_read(case):
    ds, _ = case
    with tempfile.TemporaryDirectory(prefix="segmill-semantic-") as tmp:
        R._save_images(ds, Path(tmp))
        for k, (fmt, options) in enumerate(WRITES):
            out = Path(tmp) / f"{fmt}{k}"
            segmill.write(ds, out, fmt, **options)
            same_as_read(out, fmt)


# ------------------------------------------------------------------ segmill check and convert
@pytest.mark.parametrize("name", ["cityscapes", "kitti", "camvid"])
@pytest.mark.parametrize("select", [None, ["ALL"]])
def test_a_streamed_check_finds_what_the_whole_check_finds(copy, monkeypatch, name, select):
    monkeypatch.setattr(streamed, "BATCH", 2)
    root = copy(name)
    cfg = Config(select=select) if select else Config()
    whole = check_path(root, format=name, config=cfg)
    got = dcheck.check_streamed([root], format=name, config=cfg)
    assert got is not None
    PF._same_check(got, whole)


@pytest.mark.parametrize("name, target", [("cityscapes", "kitti"), ("kitti", "camvid"), ("camvid", "cityscapes"),
                                          ("cityscapes_official", "labelme")])
def test_convert_streams_the_bytes_of_the_whole_write(copy, tmp_path, monkeypatch, name, target):
    root = copy(name, "src")
    calls = S.count_writes(monkeypatch, target)
    a = segmill.convert(root, tmp_path / "s", _fmt(name), target)
    b = segmill.write(segmill.read(root, _fmt(name)), tmp_path / "w", target)
    assert calls, "the conversion did not stream"
    S.same_tree(tmp_path, a, b)
