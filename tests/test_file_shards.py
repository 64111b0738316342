"""Formats cut into runs of input files (``FormatSpec.shards``, :mod:`segmill.formats._file_runs`).

The oracle is the whole stream: the parts a sharded run plans, each opened
as a worker opens it and renumbered as the driver renumbers them, give the
whole stream's items in order (annotation ids included); a part of a bad
dataset refuses it as the whole read does.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

import segmill
from segmill.distributed.shards import PositionRange, open_shard, plan, renumber
from segmill.errors import InputError
from segmill.formats import formats
from segmill.formats._file_runs import runs

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
RUN_FORMATS = ("yolo", "labelme", "voc", "cityscapes", "kitti", "sa1b")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _optional(name: str):
    """A test module whose extra may be missing: ``None`` then (the tests using it are skipped)."""
    try:
        return _load(name)
    except pytest.skip.Exception:
        return None


P = _load("test_perfile_stream")  # its built YOLO and LabelMe sets
S = _load("test_semantic_read_stream")  # its Cityscapes and KITTI breakers


def parts_read(path, fmt: str, workers: int, **options) -> tuple[list, list]:
    """The items of every part of a sharded run's plan, read as the workers read them, renumbered; the
    records the parts skipped, in order."""
    shards = plan(path, fmt, options, workers)
    assert not any(isinstance(s.selection, PositionRange) for s in shards), "the format's own parts"
    parts, skipped = [], []
    for s in shards:
        header, items, _ = open_shard(s)
        parts.append(list(items))
        skipped += header.meta.get("skipped", [])
    renumber(shards, parts)
    return [item for part in parts for item in part], skipped


def same_in_parts(path, fmt: str, **options) -> None:
    if formats()[fmt].stream(path, **options) is None:  # read whole: cut by positions, as the stream is
        assert all(isinstance(s.selection, PositionRange) for s in plan(path, fmt, options, 2))
        return
    try:
        st = segmill.stream(path, fmt, **options)
        whole = list(st), st.header.meta.get("skipped", [])
    except InputError:
        whole = None
    for workers in (1, 2, 3):
        try:
            got = parts_read(path, fmt, workers, **options)
        except InputError:
            got = None
        assert (got is None) == (whole is None), (path, workers)
        assert got == whole, (path, workers)


def test_every_run_format_declares_shards_and_a_selecting_stream():
    for fmt in RUN_FORMATS:
        spec = formats()[fmt]
        assert spec.shards is not None and spec.stream is not None, fmt


@pytest.mark.parametrize("fmt", RUN_FORMATS)
def test_the_fixture_in_parts_is_the_whole_stream(fmt):
    same_in_parts(FIXTURES / formats()[fmt].example, fmt)


def test_built_yolo_sets_in_parts_are_the_whole_stream(tmp_path):
    for path in P._yolo_cases(tmp_path).values():
        same_in_parts(path, "yolo")
        same_in_parts(path, "yolo", raster="pil")


def test_built_labelme_sets_in_parts_are_the_whole_stream(tmp_path):
    cases = P._labelme_cases(tmp_path)
    for path in cases.values():
        same_in_parts(path, "labelme")
    labels = tmp_path / "labels.txt"
    labels.write_text("__ignore__\n_background_\n" + "".join(f"c{k}\n" for k in range(8)))
    same_in_parts(cases["good"], "labelme", labels=labels)


def test_parts_hold_about_equal_bytes_and_cover_every_input_once(tmp_path):
    root = P.yolo_set(tmp_path / "y", {f"s{k:02d}": f"0 {P.TRI}\n" * (1 + k % 3) for k in range(12)})
    shards = plan(root, "yolo", {}, 2)
    sels = [s.selection for s in shards]
    assert sels[0]["start"] == 0 and sels[-1]["stop"] == 12 and len(sels) > 2
    assert all(a["stop"] == b["start"] for a, b in zip(sels, sels[1:]))
    assert all(s["first_annotation_id"] is None for s in sels)  # a part numbers from 1; the driver renumbers
    assert [(r["start"], r["stop"]) for r in runs([5, 1, 1, 1, 1, 1], 2)] == [(0, 1), (1, 6)]
    assert runs([], 3) == [{"start": 0, "stop": 0, "first_annotation_id": None}]


def test_a_part_numbers_its_annotations_from_the_selections_first_id(tmp_path):
    root = P.yolo_set(tmp_path / "y", {f"s{k}": f"0 {P.TRI}\n1 {P.TRI}\n" for k in range(4)})
    sel = {**plan(root, "yolo", {}, 2)[1].selection, "first_annotation_id": 100}
    _, items = formats()["yolo"].stream(root, selection=sel)
    ids = [a.id for it in items for a in it.annotations]
    assert ids[0] == 100 and ids == list(range(100, 100 + len(ids)))


@pytest.mark.parametrize("fmt", ["yolo", "labelme"])
def test_lenient_reads_are_cut_into_position_ranges(fmt):
    path = FIXTURES / formats()[fmt].example
    assert formats()[fmt].shards(path, 4, errors="keep") is None
    assert all(isinstance(s.selection, PositionRange) for s in plan(path, fmt, {"errors": "keep"}, 2))


@pytest.mark.parametrize("mode", ["P", "RGB"])
def test_built_voc_sets_in_parts_are_the_whole_stream(tmp_path, mode):
    from segmill import synth

    ds = segmill.read(synth.write_coco(tmp_path / "src.json", 9, seed=4, extra_fields=False), "coco")
    root = tmp_path / mode
    segmill.write(ds, root, "voc", mask_mode=mode)
    same_in_parts(root, "voc")
    assert len(plan(root, "voc", {}, 2)) == 8  # 9 images, up to 4 parts a worker
    # a mask refused in the second half: the part holding it refuses it, as the whole read does
    bad = sorted((root / "SegmentationClass").glob("*.png"))[-1]
    bad.write_bytes(b"not a png")
    same_in_parts(root, "voc")



@pytest.mark.parametrize("fmt", ["cityscapes", "kitti"])
@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
def test_built_cityscapes_and_kitti_sets_in_parts_are_the_whole_stream(tmp_path, fmt, errors):
    from segmill import synth

    ds = segmill.read(synth.write_coco(tmp_path / "src.json", 9, seed=5, extra_fields=False), "coco")
    for k, item in enumerate(ds.items):
        item.split = ("train", "val")[k % 2]
    clean = tmp_path / "clean"
    segmill.write(ds, clean, fmt)
    same_in_parts(clean, fmt, errors=errors)
    for breaker in (S._truncated, S._bad_value, S._a_folder):
        for at in (0, 4):
            root = tmp_path / f"{breaker.__name__}-{at}"
            shutil.copytree(clean, root)
            S._break(root, fmt, at, breaker)
            same_in_parts(root, fmt, errors=errors)


@pytest.mark.parametrize("fmt, module, name", [("labelme", "labelme", "_first_labels"),
                                               ("yolo", "yolo", "_label_classes")])
def test_the_driver_finds_the_header_once_and_the_parts_take_it_from_their_selection(tmp_path, monkeypatch, fmt,
                                                                                    module, name):
    import importlib

    mod = importlib.import_module(f"segmill.formats.{module}")
    root = (P._labelme_cases(tmp_path)["good"] if fmt == "labelme" else P._yolo_cases(tmp_path)["no_yaml"])
    calls = []
    real = getattr(mod, name)
    monkeypatch.setattr(mod, name, lambda *a: calls.append(1) or real(*a))
    shards = plan(root, fmt, {}, 2)
    assert len(shards) > 1 and calls == [1]  # the driver's one pass
    assert all(s.selection["header"] == shards[0].selection["header"] for s in shards)
    parts = [list(open_shard(s)[1]) for s in shards]
    assert calls == [1]  # no part made the pass again
    renumber(shards, parts)
    assert [it for part in parts for it in part] == list(segmill.stream(root, fmt))


def test_a_voc_part_takes_the_masks_facts_of_the_whole_from_its_selection(tmp_path, monkeypatch):
    from segmill import synth
    from segmill.formats import voc

    ds = segmill.read(synth.write_coco(tmp_path / "src.json", 6, seed=4, extra_fields=False), "coco")
    segmill.write(ds, tmp_path / "v", "voc")
    shards = plan(tmp_path / "v", "voc", {}, 2)
    passes = []
    real = voc._first_pass
    monkeypatch.setattr(voc, "_first_pass", lambda root, index, part: passes.append(len(part)) or
                        real(root, index, part))
    parts = [list(open_shard(s)[1]) for s in shards]
    assert passes == [s.selection["stop"] - s.selection["start"] for s in shards]  # each its own images only
    renumber(shards, parts)
    assert [it for part in parts for it in part] == list(segmill.stream(tmp_path / "v", "voc"))
