"""Every stream writer of any reader's stream (``FormatSpec.write_stream_any``) writes what the whole write writes.

The formats come from the registry, so a new stream writer is tested here with no edit. The oracle is
the in-memory path, ``segmill.write(segmill.read(src), dst, fmt)``; COCO sources stream through their
index and the format's ``write_stream`` is counted (``tests/_stream_writers.py``). What is particular to
a format (its options, layouts, special cases) is in its own ``tests/test_<format>_stream.py``; the
tables below hold what those files asked of the generic cases beyond the generic checks.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import segmill
from segmill.geometry import Box, Polygons
from segmill.io import ConvertOptions
from segmill.model import Annotation, Category, Dataset
from segmill.streaming import Stream

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)

FORMATS = [name for name, spec in segmill.formats.formats().items() if spec.write_stream_any]
IMAGE_ROOT = [f for f in FORMATS if segmill.formats.get_format(f).option("image_root", "writer")]

#: A floor of the files written for 25 COCO images (25, a file an image, for a format not named).
FILES = {"voc": 26, "masks": 26, "image_masks": 26, "kitti": 26, "camvid": 26, "cityscapes": 75, "coco_panoptic": 26,
         "cvat": 1, "label_studio": 1}
#: Formats whose plain conversion makes notes too.
NOTED = {"cityscapes"}
NUL, LONG = "bad\x00name.png", "a" * 300 + ".png"
#: Names a format writes rather than refuses (Cityscapes makes its file names of the image's stem, cleaned).
WRITES_NAME = {("cityscapes", NUL), ("cvat", LONG), ("label_studio", NUL), ("label_studio", LONG)}
#: How a format's refusal names a NUL byte, where not as "NUL".
NUL_SAID = {"cvat": "'\\x00'"}
#: Formats that write an annotation of an undeclared category as a loss (the code) rather than refuse it.
KEEPS_UNDECLARED = {"voc": "L206", "masks": "L702", "coco_panoptic": "L003"}
#: Formats that drop a box (the undeclared-category item's geometry) before looking at its category; their
#: undeclared-category item case is in their own test file.
DROPS_BOXES = {"coco_panoptic"}
#: A path the CLI's output of 12 COCO images has.
CLI_WRITES = {"voc": "ImageSets/Segmentation/default.txt", "image_masks": "masks/img000.png",
              "masks": "semantic/img000.png", "kitti": "training/semantic/img000.png",
              "camvid": "trainannot/img000.png", "coco_panoptic": "annotations/panoptic_default/img000.png"}
#: A path the write of an empty stream has (a folder where it ends with ``/``).
EMPTY_WRITES = {"kitti": "training/semantic/", "camvid": "train.txt", "coco_panoptic": "annotations/panoptic_default/"}
#: Where the images found under ``image_root`` are copied to (a test of the file's name).
COPIES_IN = {"image_masks": lambda name: name.startswith("images/"), "kitti": lambda name: "/image_2/" in name,
             "camvid": lambda name: "/" in name and not name.split("/")[0].endswith("annot")}


@pytest.fixture(params=FORMATS)
def fmt(request) -> str:
    return request.param


@pytest.fixture
def streams(monkeypatch, fmt):
    return S.count_writes(monkeypatch, fmt)


@pytest.mark.parametrize("chain", [[], S.EDITS], ids=["plain", "edited"])
def test_coco_streams_the_files_and_report_of_the_whole_write(tmp_path, fmt, streams, chain):
    a, b = S.same(tmp_path, fmt, S.plain(tmp_path, 25, seed=4), chain, {}, streams, FILES.get(fmt, 25))
    assert a.losses and b.items == 25
    assert a.notes or fmt not in NOTED


@pytest.mark.parametrize("fmt, bad", [(f, bad) for f in FORMATS for bad in (NUL, LONG) if (f, bad) not in WRITES_NAME],
                         indirect=["fmt"], ids=lambda v: {NUL: "nul", LONG: "long"}.get(v, v))
def test_an_image_the_stream_writer_refuses_leaves_nothing(tmp_path, fmt, streams, bad):
    err = S.refuses_image(tmp_path, fmt, bad)
    assert streams and (NUL_SAID.get(fmt, "NUL") in str(err)) == (bad == NUL)


def test_an_undeclared_category_in_a_coco_header_is_treated_as_the_whole_write_treats_it(tmp_path, fmt, streams):
    src = S.plain(tmp_path, 10, seed=2)
    st, ds = segmill.stream(src), segmill.read(src)
    for header in (st.header, ds):
        header.categories = [c for c in header.categories if c.name != "dog"]
    if fmt in KEEPS_UNDECLARED:
        S.same_tree(tmp_path, segmill.io.write_stream(st, tmp_path / "s", fmt), segmill.write(ds, tmp_path / "w", fmt))
    else:
        with pytest.raises(segmill.errors.InputError, match="category_id 7 is not a declared category"):
            segmill.io.write_stream(st, tmp_path / "s", fmt)
        with pytest.raises(segmill.errors.InputError, match="category_id 7 is not a declared category"):
            segmill.write(ds, tmp_path / "w", fmt)
        assert [p.name for p in tmp_path.iterdir()] == ["src.json"]
    assert streams


def test_an_item_of_an_undeclared_category_is_treated_as_the_whole_write_treats_it(tmp_path, fmt):
    cats = [Category(1, "cat"), Category(2, "dog")]
    # a writer that drops boxes before it looks at the category is given a polygon
    geometry = Polygons([[0, 0, 3, 0, 3, 3]]) if fmt in DROPS_BOXES else Box(0, 0, 1, 1)

    def items():
        out = S.boxes(5)
        out[3].annotations.append(Annotation(99, 5, geometry))  # category 5 is not declared
        return out

    if fmt in KEEPS_UNDECLARED:
        a = S.written_alike(tmp_path, fmt, cats, items)
        assert [(l.code, l.annotation_id) for l in a.losses if l.code == KEEPS_UNDECLARED[fmt]] == [
            (KEEPS_UNDECLARED[fmt], 99)]
    else:
        assert "category_id 5" in S.refused_alike(tmp_path, fmt, cats, items()).message


def test_the_cli_converts_coco_as_a_stream(tmp_path, fmt, streams):
    suffix = ".json" if segmill.formats.get_format(fmt).output == "file" else ""  # a file is detected by it
    src = S.plain(tmp_path, 12, seed=8)
    out = S.cli(tmp_path, fmt, src, streams, name="s" + suffix)
    assert fmt not in CLI_WRITES or (out / CLI_WRITES[fmt]).is_file()
    b = segmill.write(segmill.read(src), tmp_path / ("w" + suffix), fmt)
    assert S.tree(out) == S.tree(tmp_path / ("w" + suffix)) and b.items == 12


def test_sa1b_streams_the_files_of_the_whole_write(tmp_path, fmt, streams, fixtures_dir):
    S.from_sa1b(tmp_path, fmt, fixtures_dir / "sa1b_tar", streams)


def test_an_empty_stream_writes_what_an_empty_dataset_writes(tmp_path, fmt):
    cats = [Category(1, "cat"), Category(2, "dog")]
    a = segmill.io.write_stream(Stream(Dataset(cats), iter([]), bounded=True), tmp_path / "s", fmt)
    b = segmill.write(Dataset(cats), tmp_path / "w", fmt)
    S.same_tree(tmp_path, a, b)  # folders too
    at = EMPTY_WRITES.get(fmt)
    assert at is None or ((tmp_path / "s" / at).is_dir() if at.endswith("/") else (tmp_path / "s" / at).is_file())


@pytest.mark.parametrize("fmt", IMAGE_ROOT, indirect=True)
def test_images_are_copied_from_image_root_as_the_whole_write_copies_them(tmp_path, fmt, streams):
    doc = S.D.coco_doc(12, seed=5)
    src = S.D.write_doc(tmp_path / "src.json", doc)
    S.D.write_images(tmp_path / "imgs", doc)
    for k in (3, 7):  # two images not found: noted, or a loss
        (tmp_path / "imgs" / doc["images"][k]["file_name"]).unlink()
    images = {p.read_bytes() for p in (tmp_path / "imgs").iterdir()}
    write = {"image_root": str(tmp_path / "imgs")}
    a = segmill.convert(src, tmp_path / "s", to_format=fmt, options=ConvertOptions(write=write))
    want = S.same_tree(tmp_path, a, segmill.write(segmill.read(src), tmp_path / "w", fmt, **write))
    copies = [name for name in S.files(want) if want[name] in images]
    assert streams and len(copies) == 10
    if fmt in COPIES_IN:
        assert sum(map(COPIES_IN[fmt], S.files(want))) == 10
        assert any("not found" in n for n in a.notes)
    else:
        assert any("not found" in m for m in a.notes + [l.message for l in a.losses])
