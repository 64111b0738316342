"""Structured fuzzing of the LabelMe reader and writer.

Each example copies a seed (a bundled fixture or a file of the shared
corpus) into a fresh folder and mutates it: JSON values swapped for hostile
ones at any path (wrong types, NaN/inf, huge numbers, deep nesting, paths
leaving the folder, base64 that is no image or declares a huge one), keys
deleted, bytes flipped, the text truncated, the file given an odd name.
The property (``tests/fuzz/conftest.py``): the reader returns a dataset or
refuses with a one-line SegmillError, in every ``errors`` mode, and a
dataset it returns is written back as LabelMe or refused just as cleanly.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("_json_mutations", Path(__file__).with_name("_json_mutations.py"))
jm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jm)
_spec = importlib.util.spec_from_file_location("_pixel_mutations", Path(__file__).with_name("_pixel_mutations.py"))
pm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pm)

pytestmark = pytest.mark.usefixtures("small_pixel_limit")  # drawn masks stay small: over 2 Mpx is refused
ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "labelme" / "instance_segmentation" / "data_annotated"
#: Examples per run; SEGMILL_FUZZ_EXAMPLES=5000 makes a longer campaign.
EXAMPLES = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "150"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


HOSTILE = [
    None, True, False, 0, -1, 1.5, -0.0, 2**31, 2**64, -(2**63) - 1, 10**30, 10**400,
    float("nan"), float("inf"), float("-inf"), 1e308, 5e-324,
    "", "x", "polygon", "circle", "mask", "rectangle", "point", "points", "line", "linestrip",
    "../../x.png", "/etc/passwd", "C:\\x.png", "a\x00b", "\ud800", "we\nird", "é" * 300, "img1.png",
    [], {}, [[]], [1], [1, 2], [[1, 2]], [[0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]],
    [[1e308, 1e308], [-1e308, -1e308]], [[10**30, 0], [0, 0], [1, 1]], [["1", "2"], ["3", "4"]],
    [[0, 0], [5, 0], [5, 5]], [[0, 0, 0]], {"a": 1}, [None, None], [[True, False], [1, 1]],
    _b64(pm.raw_png(2, 2)), _b64(pm.raw_png(100_000, 100_000, b"\0")), _b64(pm.raw_png(3, 3)[:40]),
    _b64(b"\x89PNG\r\n\x1a\n" + b"junk" * 10), _b64(b"GIF89a...."), "not base64 at all !!", "QUJD",
    jm.deep(3), jm.deep(80), {"shapes": []},
]

NAMES = ["x.json", "we\nird.json", "ü.json", "a" * 240 + ".json", os.fsdecode(b"\xff\xfe.json"), ".json",
         "sub/inner.json"]


def _seeds() -> list[tuple[Path, list[Path]]]:
    """``(json file, files beside it to copy)`` for every seed."""
    fx = ROOT / "fixtures" / "labelme"
    seeds = [(fx / "basic" / "img1.json", [fx / "basic" / "img1.png"]), (fx / "embedded" / "emb.json", []),
             (fx / "bad_base64" / "gif.json", []), (fx / "escape" / "evil.json", [])]
    if CORPUS.is_dir():
        for j in sorted(CORPUS.glob("*.json")):
            seeds.append((j, [j.with_suffix(".jpg")]))
    return seeds


SEEDS = _seeds()


mutation = jm.value_mutations(HOSTILE)


def _mutated(seed: Path, ops, edit) -> bytes:
    # seeds with thousands of points: a container's children are followed while it has fewer than 400 paths
    return jm.mutate_values(json.loads(seed.read_text(encoding="utf-8")), ops, edit, limit=400)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), ops=st.lists(mutation, min_size=1, max_size=4), edit=jm.value_byte_edit,
       name=st.sampled_from(NAMES), mode=st.sampled_from(["raise", "skip", "keep"]),
       raster=st.sampled_from(["coco", "pil"]), whole_folder=st.booleans())
def test_mutated_labelme_is_read_or_refused_and_written_back_or_refused(
        reads_or_refuses, streams_or_refuses, writes_or_refuses, seed, ops, edit, name, mode, raster,
        whole_folder):
    json_file, beside = seed
    data = _mutated(json_file, ops, edit)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for f in beside:
            shutil.copyfile(f, src / f.name)
        target = src / name
        target.parent.mkdir(exist_ok=True)
        try:
            target.write_bytes(data)
        except OSError:  # a name this file system refuses: the plain name still fuzzes the content
            target = src / "x.json"
            target.write_bytes(data)
        ds = reads_or_refuses(src if whole_folder else target, "labelme", errors=mode, raster=raster)
        streams_or_refuses(src if whole_folder else target, "labelme", ds, errors=mode, raster=raster)
        if ds is not None and mode != "keep":
            writes_or_refuses(ds, Path(tmp) / "out", "labelme")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(70, 5000), where=st.sampled_from(["top", "shapes", "points", "flags"]))
def test_deep_nesting_is_refused_with_one_line(reads_or_refuses, depth, where):
    doc = {"shapes": [{"label": "a", "points": [[0, 0], [1, 0], [1, 1]], "flags": {}}], "imagePath": None,
           "imageHeight": 4, "imageWidth": 4}
    marker = "__DEEP__"
    if where == "top":
        doc["extra"] = marker
    elif where == "shapes":
        doc["shapes"].append(marker)
    elif where == "points":
        doc["shapes"][0]["points"].append(marker)
    else:
        doc["shapes"][0]["flags"] = {"x": marker}
    jm.deep_document_is_refused(reads_or_refuses, doc, marker, depth, "labelme")


def _one_item_dataset(item_id, height=8, width=10, geometry=None, attributes=None, file_name="a.png"):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    g = geometry if geometry is not None else Polygons([[[1, 1], [5, 1], [5, 5]]])
    ann = Annotation(1, 1, g, attributes=attributes or {})
    return Dataset([Category(1, "cat")], [Item(item_id, file_name, width, height, [ann])])


@pytest.mark.parametrize("name", ["x" * 300, "a\x00b", "\ud800", "d/" + "y" * 260 + "/a.png"],
                         ids=["too_long", "nul", "surrogate", "long_folder"])
def test_writer_refuses_image_names_no_file_can_have(writes_or_refuses, tmp_path, name):
    # the JSON is named by the image: a name no file system can hold is refused before anything is written
    assert writes_or_refuses(_one_item_dataset("i", file_name=name), tmp_path / "out", "labelme", copy_images=False) \
        is None
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["", "..", "a/../..", "/", "../../etc/x.png", "/abs/x.png", "C:\\w\\x.png"],
                         ids=["empty", "dotdot", "escape", "slash", "up", "absolute", "windows"])
def test_writer_keeps_escaping_image_names_inside_its_folder_and_reports_them(writes_or_refuses, tmp_path, name):
    report = writes_or_refuses(_one_item_dataset("i", file_name=name), tmp_path / "out", "labelme",
                               copy_images=False)
    assert report is not None and "L409" in report.summary()
    files = [p for p in (tmp_path / "out").rglob("*.json")]
    assert len(files) == 1 and all(tmp_path / "out" in p.parents for p in files)


@pytest.mark.parametrize("item_id", ["", "..", "a/../..", "/", "x" * 300, "a\x00b", "\ud800"],
                         ids=["empty", "dotdot", "escape", "slash", "too_long", "nul", "surrogate"])
def test_hostile_item_ids_do_not_name_files(writes_or_refuses, tmp_path, item_id):
    report = writes_or_refuses(_one_item_dataset(item_id), tmp_path / "out", "labelme", copy_images=False)
    assert report is not None and "L406" in report.summary()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.json"]


def test_two_items_sharing_one_image_name_get_two_files(tmp_path):
    import segmill

    ds = _one_item_dataset(1)
    ds.items.append(_one_item_dataset("1").items[0])
    ds.items[1].annotations[0].id = 2
    report = segmill.write(ds, tmp_path / "out", "labelme", copy_images=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.json", "a_1.json"]
    assert [(loss.code, loss.item_id) for loss in report.losses if loss.code == "L409"] == [("L409", "1")]


def test_writer_handles_zero_size_images_and_odd_attributes(reads_or_refuses, writes_or_refuses, tmp_path):
    import numpy as np

    from segmill.geometry import Mask

    ds = _one_item_dataset("a", 0, 0, Mask(np.ones((2, 2), bool), 0, 0))
    assert writes_or_refuses(ds, tmp_path / "zero", "labelme") is not None
    odd = _one_item_dataset("b", attributes={"group_id": [1], "flags": {"\ud800": True}})
    report = writes_or_refuses(odd, tmp_path / "odd", "labelme")
    assert report is not None and "L410" in report.summary()
    back = reads_or_refuses(tmp_path / "odd" / "a.json", "labelme")
    assert back is not None and back.items[0].annotations[0].attributes["flags"] == {"\ud800": True}
    # labelme reads flags as names -> booleans: anything else is dropped and reported, never written
    for k, flags in enumerate(({1, 2}, {"x": "y"}, [True])):
        report = writes_or_refuses(_one_item_dataset("c", attributes={"flags": flags}), tmp_path / f"f{k}", "labelme")
        assert report is not None and "L001" in report.summary()
        assert "flags" not in reads_or_refuses(tmp_path / f"f{k}" / "a.json", "labelme").items[0].annotations[0].attributes


def test_label_list_that_is_not_utf8_is_an_input_error(reads_or_refuses, tmp_path):
    import segmill
    from segmill.errors import InputError, UsageError

    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"__ignore__\ncaf\xe9\n")
    src = ROOT / "fixtures" / "labelme" / "basic"
    with pytest.raises(InputError, match="not UTF-8"):
        segmill.read(src, "labelme", labels=labels)
    with pytest.raises(UsageError):
        segmill.read(src, "labelme", errors="bogus")
    with pytest.raises(UsageError):
        segmill.read(src, "labelme", raster="bogus")
