"""Structured fuzzing of the COCO panoptic reader and writer.

Seeds: ``fixtures/panoptic`` and, when present, the shared corpus's
``../shared/corpus/datumaro/coco_dataset/coco_panoptic`` (two splits). Each
example copies a seed into a fresh folder and mutates it: in the JSON, a
value anywhere swapped for a hostile one (wrong types, NaN, infinity, huge
and negative numbers, deep nesting, ``1e999``, a lone surrogate, PNG names
leaving the folder), sizes made huge or zero, keys deleted, records
duplicated, bytes flipped, the text truncated; in the PNGs, one truncated,
flipped, deleted, made a directory, grey, a header declaring a huge image,
recoloured, or a symbolic link to a file outside the dataset. The property
(``tests/fuzz/conftest.py``): the reader returns a dataset or refuses with a
one-line SegmillError in every ``errors`` mode, its stream takes what it
takes and refuses what it refuses, and what it returns is written back as
panoptic or refused just as cleanly.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import segmill
from segmill.errors import InputError, LimitError, UsageError
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item

_spec = importlib.util.spec_from_file_location("_json_mutations", Path(__file__).with_name("_json_mutations.py"))
jm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jm)
_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
pm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pm)

pytestmark = pytest.mark.usefixtures("small_pixel_limit")  # what the writer paints: over 2 Mpx is refused

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "panoptic"
CORPUS = ROOT.parent / "shared" / "corpus" / "datumaro" / "coco_dataset" / "coco_panoptic"
CASES = Path(__file__).resolve().parent / "corpus" / "coco_panoptic"
MODES = ["raise", "skip", "keep"]

HOSTILE = jm.BASE_HOSTILE + [
    "a\x00b.png", "../../outside.png", "/etc/passwd", "..", "x/../../outside.png", 16777216, 7, 5931152,
]
SIZES = [0, -1, 1, 6, 10**5, 2**31, 2**32, 10**12, 2**64, 89_478_486]
LITERALS = jm.BASE_LITERALS
PNG_EDITS = ["none", "none", "none", "truncate", "flip", "delete", "directory", "grey", "bomb", "recolour", "link_out"]


def _seeds() -> list[Path]:
    return [FIXTURE] + ([CORPUS] if CORPUS.is_dir() else [])


SEEDS = _seeds()


def mutate_json(path: Path, ops, edit) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    path.write_bytes(jm.mutate(doc, ops, edit, hostile=HOSTILE, sizes=SIZES, literals=LITERALS))


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """An RGB PNG whose header declares ``width x height`` but whose data is one row."""
    return pm.raw_png(width, height, b"\0" * (3 * width + 1), 8, 2)


def mutate_png(png: Path, kind: str, pos: int, byte: int, outside: Path) -> None:
    """One of :data:`PNG_EDITS` applied to ``png``; ``outside`` is a valid PNG outside the dataset."""
    data = png.read_bytes()
    if kind == "truncate":
        png.write_bytes(data[: pos % len(data)])
    elif kind == "flip":
        i = pos % len(data)
        png.write_bytes(data[:i] + bytes([byte]) + data[i + 1:])
    elif kind == "delete":
        png.unlink()
    elif kind == "directory":
        png.unlink()
        png.mkdir()
    elif kind == "grey":
        png.write_bytes(_png_bytes(np.full((6, 8), byte, np.uint8)))
    elif kind == "bomb":
        png.write_bytes(_bomb())
    elif kind == "recolour":  # a pixel of another segment id (maybe one that is declared elsewhere)
        with Image.open(png) as im:
            rgb = np.array(im.convert("RGB"))
        rgb.reshape(-1, 3)[pos % (rgb.size // 3)] = (byte, pos % 256, 0)
        png.write_bytes(_png_bytes(rgb))
    elif kind == "link_out":
        shutil.copyfile(png, outside)
        png.unlink()
        png.symlink_to(outside)


def _copy_seed(seed: Path, tmp: Path) -> tuple[Path, Path]:
    """``(dataset root, folder holding it)``: the seed copied to ``tmp/in/ds``."""
    holder = tmp / "in"
    holder.mkdir()
    shutil.copytree(seed, holder / "ds", ignore=shutil.ignore_patterns("images"))
    return holder / "ds", holder


def round_trip_folder(root: Path, mode: str, reads_or_refuses, writes_or_refuses, streams_or_refuses=None):
    """Read ``root`` in ``errors`` mode ``mode`` (and stream it, with ``streams_or_refuses``), write what was read."""
    ds = reads_or_refuses(root, "coco_panoptic", errors=mode)
    if streams_or_refuses is not None:
        streams_or_refuses(root, "coco_panoptic", ds, errors=mode)
    if ds is not None:
        out = root.parent.parent / "out"
        out.mkdir(exist_ok=True)
        writes_or_refuses(ds, out / "written", "coco_panoptic")
    return ds


mutation = jm.mutation
byte_edit = jm.byte_edits(4)
png_edit = st.tuples(st.sampled_from(PNG_EDITS), st.integers(0, 10**6), st.integers(0, 255))


# ------------------------------------------------------------------ properties
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), which=st.integers(0, 10), ops=st.lists(mutation, max_size=3),
       edit=byte_edit, png=png_edit, mode=st.sampled_from(MODES))
def test_mutated_panoptic_is_read_or_refused_and_written_back_or_refused(reads_or_refuses, writes_or_refuses,
                                                                           streams_or_refuses, seed, which, ops, edit,
                                                                           png, mode):
    with tempfile.TemporaryDirectory() as tmp:
        root, holder = _copy_seed(seed, Path(tmp))
        jsons = sorted(root.glob("annotations/*.json"))
        mutate_json(jsons[which % len(jsons)], ops, edit)
        pngs = sorted(root.glob("annotations/*/*.png"))
        mutate_png(pngs[which % len(pngs)], png[0], png[1], png[2], holder / "outside.png")
        round_trip_folder(root, mode, reads_or_refuses, writes_or_refuses, streams_or_refuses)


# ------------------------------------------------------------- known crashers
@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_the_unmutated_seeds_read_and_write_back(reads_or_refuses, writes_or_refuses, seed, tmp_path):
    root, _ = _copy_seed(seed, tmp_path)
    # skip: the corpus's train PNG does not match its image size (tests/test_conformance_voc.py)
    ds = round_trip_folder(root, "skip", reads_or_refuses, writes_or_refuses)
    assert ds is not None and ds.num_annotations > 0 and len(ds.meta["skipped"]) == (seed == CORPUS)


@pytest.mark.parametrize("case", jm.regression_cases(CASES), ids=lambda p: p.name)
@pytest.mark.parametrize("mode", MODES)
def test_regression_cases_in_every_errors_mode(reads_or_refuses, writes_or_refuses, streams_or_refuses, case, mode,
                                               tmp_path):
    holder = tmp_path / "in"
    shutil.copytree(case, holder / "ds")
    jm.expect_case_outcome(case, mode, round_trip_folder(holder / "ds", mode, reads_or_refuses, writes_or_refuses,
                                                         streams_or_refuses))


def test_an_unknown_errors_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="bogus"):
        segmill.read(FIXTURE, "coco_panoptic", errors="bogus")


def _pan_copy(tmp_path) -> tuple[Path, Path, dict]:
    root, _ = _copy_seed(FIXTURE, tmp_path)
    jf = root / "annotations" / "panoptic_val.json"
    return root, jf, json.loads(jf.read_text())


def test_a_png_linked_from_outside_the_dataset_is_refused_or_skipped(tmp_path):
    root, _, _ = _pan_copy(tmp_path)
    png = root / "annotations" / "panoptic_val" / "000000000285.png"
    outside = tmp_path / "in" / "outside.png"
    shutil.copyfile(png, outside)
    png.unlink()
    png.symlink_to(outside)
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(root, "coco_panoptic")
    ds = segmill.read(root, "coco_panoptic", errors="skip")
    assert [it.id for it in ds.items] == [139] and "outside" in ds.meta["skipped"][0]["reason"]


@pytest.mark.parametrize("name", ["../../outside.png", "/etc/passwd", "a\x00b.png", "\ud800.png"])
def test_png_names_in_the_json_stay_inside_the_png_folder(tmp_path, name):
    root, jf, doc = _pan_copy(tmp_path)
    doc["annotations"][1]["file_name"] = name
    jf.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="image id 285"):
        segmill.read(root, "coco_panoptic")


def _one_item_dataset(**item) -> Dataset:
    ann = Annotation(1, 1, Polygons([[0, 0, 4, 0, 4, 4, 0, 4]]))
    fields = {"id": 1, "file_name": "x.jpg", "width": 6, "height": 6, "annotations": [ann]}
    fields.update(item)
    return Dataset(categories=[Category(1, "a", isthing=True)], items=[Item(**fields)])


@pytest.mark.parametrize("name", ["a\x00b.png", "../x.png", "a/../../x.png", "/abs.png", "C:\\x.png", "..", "x/..",
                                  "\ud800.png", 7, "a" * 300 + ".png"])
def test_the_writer_refuses_png_names_that_are_no_plain_file_name(tmp_path, name):
    ds = _one_item_dataset(extra={"panoptic_file_name": name})
    with pytest.raises(InputError, match="PNG name"):
        segmill.write(ds, tmp_path / "out", "coco_panoptic")
    assert list(tmp_path.iterdir()) == []


def test_the_writer_writes_pngs_flat_and_unique_whatever_the_image_ids(tmp_path):
    ds = _one_item_dataset(id="../a", extra={"panoptic_file_name": "sub/x.png"})
    ds.items.append(Item("../../b\x00", "y.jpg", 6, 6, extra={"panoptic_file_name": "x.png"}))
    segmill.write(ds, tmp_path / "out", "coco_panoptic")
    names = sorted(p.name for p in (tmp_path / "out" / "annotations" / "panoptic_default").iterdir())
    assert names == ["x.png", "x_.._.._b_.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("size, error", [((0, 6), InputError), ((6, 0), InputError), ((10_000, 10_000), LimitError)])
def test_the_writer_refuses_images_no_png_can_hold_before_painting(tmp_path, size, error):
    ds = _one_item_dataset(height=size[0], width=size[1])
    with pytest.raises(error, match="image id 1"):
        segmill.write(ds, tmp_path / "out", "coco_panoptic")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("split", ["../x", "a/b", "a\x00b", "\ud800", "s" * 300])
def test_the_writer_refuses_split_names_that_cannot_name_a_file(tmp_path, split):
    ds = _one_item_dataset(split=split)
    with pytest.raises(InputError, match="split"):
        segmill.write(ds, tmp_path / "out", "coco_panoptic")
    assert list(tmp_path.iterdir()) == []
