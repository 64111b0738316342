"""More formats cut into parts for sharded runs (``FormatSpec.shards``): volumes, GeoJSON scenes, CVAT images,
Label Studio tasks, Mapillary images.

The oracle is ``same_in_parts`` of ``tests/test_file_shards.py``: the parts a
sharded run plans, each opened as a worker opens it and renumbered as the
driver renumbers them, give the whole stream's items in order (annotation
ids included) and its skipped records; a part of a bad dataset refuses it
as the whole stream does. The datasets (and their breakers) are those of the
formats' stream tests.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from segmill.distributed.shards import PositionRange, plan
from segmill.errors import InputError
from segmill.formats import formats

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")  # rasterio's
HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"


_spec = importlib.util.spec_from_file_location("test_file_shards", HERE / "test_file_shards.py")
F = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(F)
_load, _optional = F._load, F._optional


V = _optional("test_volume_stream")  # its built volume folders and breakers (the medical extra)
D = _optional("test_dicom_seg_stream")  # its SEG folder and breakers (the medical extra)
GJ = _optional("test_geojson_read_stream")  # its built folder of five scenes and breakers (the geo extra)
EXTRA = {"nifti": V, "nrrd": V, "dicom_seg": D, "geojson": GJ}
needs = {name: pytest.mark.skipif(mod is None, reason="its extra is not installed")
         for name, mod in (("volumes", V), ("dicom_seg", D), ("geojson", GJ))}
same_in_parts = F.same_in_parts


def same_or_whole(path, fmt: str, **options) -> bool:
    """``same_in_parts``, unless the format reads ``path`` whole (its ``shards`` gives ``None``: cut by positions,
    as every format is); whether it was cut."""
    spec = formats()[fmt]
    try:
        own = spec.stream(path, **options) is None or spec.shards(path, 4, **options) is not None
    except InputError:  # refused before any item (same_in_parts opens the stream unguarded): so are the parts
        for workers in (1, 2, 3):
            with pytest.raises(InputError):
                F.parts_read(path, fmt, workers, **options)
        return True
    if not own:
        assert all(isinstance(s.selection, PositionRange) for s in plan(path, fmt, options, 2))
        return False
    same_in_parts(path, fmt, **options)
    return True
CUT = [pytest.param(f, marks=pytest.mark.skipif(f in EXTRA and EXTRA[f] is None, reason="its extra is not installed"))
       for f in ("nifti", "nrrd", "dicom_seg", "geojson", "cvat", "label_studio", "mapillary")]


@pytest.mark.parametrize("fmt", CUT)
def test_every_format_here_declares_shards(fmt):
    spec = formats()[fmt]
    assert spec.shards is not None and spec.stream is not None


@pytest.mark.parametrize("fmt", CUT)
def test_the_fixture_in_parts_is_the_whole_stream(fmt):
    same_in_parts(FIXTURES / formats()[fmt].example, fmt)


# ------------------------------------------------------------------ volumes
EXT = V.SAVE if V else {}


@pytest.fixture(scope="module")
def volumes(tmp_path_factory) -> dict:
    """The stream tests' folders of four volumes per format (some sharing label values), with a label table."""
    return V.built.__wrapped__(tmp_path_factory)


@needs["volumes"]
@pytest.mark.parametrize("fmt", sorted(EXT) or ["nifti"])
@pytest.mark.parametrize("options", V.OPTIONS if V else [{}])
def test_built_volume_folders_in_parts_are_the_whole_stream(volumes, fmt, options):
    assert len(plan(volumes[fmt], fmt, options, 2)) == 4  # a volume a part
    for errors in ("raise", "skip", "keep"):
        same_in_parts(volumes[fmt], fmt, errors=errors, **options)


@needs["volumes"]
@pytest.mark.parametrize("fmt", sorted(EXT) or ["nifti"])
@pytest.mark.parametrize("breaker", [V._garbage, V._truncated, V._negative, V._twice, V._huge] if V else [None])
@pytest.mark.parametrize("at", [0, 2, 3])
def test_a_bad_volume_in_parts_is_the_whole_stream(volumes, tmp_path, monkeypatch, fmt, breaker, at):
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "1000000")
    root = tmp_path / fmt
    shutil.copytree(volumes[fmt], root)
    breaker(root, f"case{at}", EXT[fmt])
    for errors in ("raise", "skip", "keep"):
        same_in_parts(root, fmt, errors=errors)
        same_in_parts(root, fmt, errors=errors, volume_instances="components", min_area=2)


@needs["volumes"]
def test_a_part_numbers_volumes_from_the_selections_first_id(volumes):
    from segmill.formats import nifti

    sel = {**nifti.shards(volumes["nifti"], 4)[2], "first_annotation_id": 100}
    header, items = nifti.stream(volumes["nifti"], selection=sel)
    ids = [a.id for it in items for a in it.annotations]
    assert ids[0] == 100 and ids == list(range(100, 100 + len(ids)))
    assert {c.id for c in header.categories} >= {1, 2, 3, 5, 7, 9}  # every volume's values


@needs["volumes"]
def test_a_volume_changed_in_a_part_is_refused(volumes, tmp_path):
    import numpy as np

    from segmill.errors import InputError
    from segmill.formats import nifti

    root = tmp_path / "v"
    shutil.copytree(volumes["nifti"], root)
    sel = nifti.shards(root, 4)[3]
    _, items = nifti.stream(root, selection=sel)
    V._save(root / "case3.nii.gz", np.full((9, 8, 5), 11, np.uint8))
    with pytest.raises(InputError, match="the volume files changed while they were read"):
        list(items)



def _seg_folder(root: Path) -> Path:
    """The SEG folder of the DICOM SEG stream tests, with a fourth SEG of a segment of its own."""
    m = D.D.binary_masks()
    root.mkdir()
    D.D.make_seg(root / "a.dcm", m, ["liver", "tumor", "noise"])
    D.D.make_seg(root / "b.dcm", m[:2, ..., :2], ["liver", "tumor"])
    D.D.make_seg(root / "c.dcm", m[:3, ..., :1].astype("float32") * 0.75, ["liver"], fractional=True)
    D.D.make_seg(root / "d.dcm", m[:2, ..., :1], ["liver"])
    D.D.ct_series(1)[0].save_as(str(root / "ct.dcm"), enforce_file_format=True)
    return root


def _late_conflict(root: Path) -> None:
    """The last SEG names segment 1 otherwise than the first one (in another part)."""
    D.D.make_seg(root / "d.dcm", D.D.binary_masks()[:2, ..., :1], ["kidney"])


@needs["dicom_seg"]
@pytest.mark.parametrize("breaker", [None, _late_conflict, *(
    (D._conflict, D._truncated_header, D._truncated_pixels, D._twice) if D else ())])
def test_dicom_seg_folders_in_parts_are_the_whole_stream(tmp_path, breaker):
    root = _seg_folder(tmp_path / "seg")
    if breaker is not None:
        breaker(root)
    for options in ({}, {"axis": 0}):
        same_in_parts(root, "dicom_seg", **options)
    for errors in ("skip", "keep"):  # read whole: cut by positions
        assert formats()["dicom_seg"].shards(root, 4, errors=errors) is None
        same_in_parts(root, "dicom_seg", errors=errors)


# ------------------------------------------------------------------ GeoJSON scenes
@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    return GJ.built.__wrapped__(tmp_path_factory)


@needs["geojson"]
def test_a_geojson_folder_in_parts_is_the_whole_stream(scenes):
    assert len(plan(scenes, "geojson", {}, 2)) == 5  # a scene a part
    same_in_parts(scenes, "geojson")
    same_in_parts(scenes, "geojson", class_field="kind")
    for errors in ("skip", "keep"):  # read whole: cut by positions
        assert formats()["geojson"].shards(scenes, 4, errors=errors) is None
        same_in_parts(scenes, "geojson", errors=errors)
    one = FIXTURES / "geojson" / "basic" / "scene.geojson"
    assert formats()["geojson"].shards(one, 4) is None
    same_in_parts(one, "geojson")


@needs["geojson"]
@pytest.mark.parametrize("breaker", [None] if GJ is None else [
                                     GJ._broken_json, GJ._no_class, GJ._bad_geometry, GJ._two_names, GJ._bad_crs,
                                     GJ._bad_scene, GJ._not_a_feature])
@pytest.mark.parametrize("at", [0, 2, 4])
def test_a_bad_scene_in_parts_is_the_whole_stream(scenes, tmp_path, breaker, at):
    root = tmp_path / "ds"
    shutil.copytree(scenes, root)
    breaker(root, at)
    same_in_parts(root, "geojson")


@needs["geojson"]
def test_a_geojson_part_keeps_the_whole_reads_image_numbers_and_categories(scenes):
    from segmill.formats import geojson

    sel = {**geojson.shards(scenes, 5)[3], "first_annotation_id": 50}
    header, items = geojson.stream(scenes, selection=sel)
    items = list(items)
    assert [i.id for i in items] == [4] and items[0].annotations[0].id == 50
    assert [c.name for c in header.categories] == ["field", "building", "water", "road3"]


# ------------------------------------------------------------------ CVAT images
CL = _load("test_cvat_label_studio_read_stream")  # its built CVAT and Label Studio sets (the malformed ones too)


@pytest.mark.parametrize("options", [{}, {"errors": "skip"}, {"split_groups": True}, {"raster": "pil"}])
def test_every_cvat_fixture_and_built_set_in_parts_is_the_whole_stream(tmp_path, options):
    cases = CL._cvat_cases(tmp_path)
    cut = {path.name for path in sorted((FIXTURES / "cvat").iterdir()) if same_or_whole(path, "cvat", **options)}
    cut |= {name for name, path in cases.items() if same_or_whole(path, "cvat", **options)}
    assert len(plan(cases["good"], "cvat", options, 2)) == 8
    assert {"good", "subsets", "bad_shape", "undeclared", "escape", "track", "no_meta", "empty"} <= cut


def test_cvat_sets_whose_item_ids_may_repeat_are_read_whole(tmp_path):
    cases = CL._cvat_cases(tmp_path)
    for name in ("dup_ids", "dup_then_bad"):  # "01" is id 1 again: in two parts, neither would see it
        assert formats()["cvat"].shards(cases[name], 4) is None
    assert formats()["cvat"].shards(cases["good"], 4, errors="keep") is None


def test_a_cvat_part_keeps_positions_and_numbers_from_the_selections_first_id(tmp_path):
    from segmill.formats import cvat

    f = CL._cvat_cases(tmp_path)["good"]
    sel = {**cvat.shards(f, 4)[2], "first_annotation_id": 1000}
    _, items = cvat.stream(f, selection=sel)
    items = list(items)
    assert [i.id for i in items] == list(range(sel["start"], sel["stop"]))
    ids = [a.id for it in items for a in it.annotations]
    assert ids[0] == 1000 and ids == list(range(1000, 1000 + len(ids)))


# ------------------------------------------------------------------ Label Studio tasks
@pytest.mark.parametrize("options", CL.LS_OPTIONS)
def test_every_label_studio_export_in_parts_is_the_whole_stream(tmp_path, options):
    cases = CL._ls_cases(tmp_path)
    for name, path in [*cases.items(), ("tasks", FIXTURES / "label_studio" / "tasks.json")]:
        same_in_parts(path, "label_studio", **options)
        if name in CL.WHOLE:  # read whole: cut by positions
            assert formats()["label_studio"].shards(path, 4, **options) is None
    assert len(plan(cases["good"], "label_studio", options, 2)) == 8
    for errors in ("skip", "keep"):
        assert formats()["label_studio"].shards(cases["good"], 4, errors=errors, **options) is None


def test_a_duplicate_task_id_in_a_later_part_is_refused_there(tmp_path):
    from segmill.formats import label_studio

    path = CL._ls_cases(tmp_path)["dup_ids"]  # the 10th task has the id of the 3rd
    sels = label_studio.shards(path, 8)
    late = next(s for s in sels if s["start"] <= 9 < s["stop"])
    assert late["start"] > 2
    with pytest.raises(InputError, match="duplicate task id 3"):
        list(label_studio.stream(path, selection=late)[1])


def test_a_label_studio_part_keeps_positions_and_numbers_from_the_selections_first_id(tmp_path):
    from segmill.formats import label_studio

    path = CL._ls_cases(tmp_path)["no_ids"]  # no id: a task's item id is its position from 1
    sel = {**label_studio.shards(path, 4)[2], "first_annotation_id": 1000}
    header, items = label_studio.stream(path, selection=sel)
    items = list(items)
    assert [i.id for i in items] == list(range(sel["start"] + 1, sel["stop"] + 1))
    ids = [a.id for it in items for a in it.annotations]
    assert ids[0] == 1000 and ids == list(range(1000, 1000 + len(ids)))
    assert [c.name for c in header.categories] == ["cat", "dog", "bird", "owl", "fox"]


# ------------------------------------------------------------------ Mapillary images
M = _load("test_mapillary_ade20k_stream")  # its grown Mapillary set and its breakers


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> Path:
    return M.mv_grown(tmp_path_factory.mktemp("mv") / "mv")


@pytest.mark.parametrize("errors", ["raise", "skip"])
@pytest.mark.parametrize("version, source", M.MV_CHOICES + [(None, "auto")])
def test_mapillary_sets_in_parts_are_the_whole_stream(grown, version, source, errors):
    for path in (M.MV, grown, grown / "training"):
        assert same_or_whole(path, "mapillary", version=version, source=source, errors=errors)
    if version != "v1.2":  # (grown in v2.0 only)
        assert len(plan(grown, "mapillary", {"version": version, "source": source}, 2)) == 8
    assert formats()["mapillary"].shards(grown, 4, errors="keep") is None


@pytest.mark.parametrize("errors", ["raise", "skip"])
@pytest.mark.parametrize("breaker", sorted(M.PANOPTIC_BREAKERS))
def test_a_bad_panoptic_json_in_parts_is_the_whole_stream(grown, tmp_path, breaker, errors):
    root = tmp_path / "mv"
    shutil.copytree(grown, root)
    M.PANOPTIC_BREAKERS[breaker](root)
    for path in (root, root / "training"):
        same_or_whole(path, "mapillary", source="panoptic", errors=errors)
    if breaker in ("repeated_image", "repeated_then_bad"):  # one image named twice: read whole
        assert formats()["mapillary"].shards(root, 4, source="panoptic") is None


@pytest.mark.parametrize("errors", ["raise", "skip"])
@pytest.mark.parametrize("source, ext", [("instances", "png"), ("labels", "png"), ("panoptic", "png"),
                                         ("polygons", "json")])
def test_a_bad_mapillary_file_in_parts_is_the_whole_stream(grown, tmp_path, source, ext, errors):
    root = tmp_path / "mv"
    shutil.copytree(grown, root)
    M._bad_png(root / "training" / "v2.0" / source / f"a05.{ext}")
    assert same_or_whole(root, "mapillary", source=source, errors=errors)


def test_a_mapillary_part_reads_only_its_panoptic_records(grown, monkeypatch):
    from segmill.formats import mapillary

    seen = []
    real = mapillary._panoptic_item
    monkeypatch.setattr(mapillary, "_panoptic_item", lambda *a: seen.append(a[3][0]) or real(*a))
    sel = {**mapillary.shards(grown, 4, source="panoptic")[1], "first_annotation_id": 500}
    _, items = mapillary.stream(grown, source="panoptic", selection=sel)
    items = list(items)
    assert seen == list(range(sel["start"], sel["stop"])) and len(items) == len(seen)  # training comes first
    assert items[0].annotations[0].id == 500


# ------------------------------------------------------------------ a sharded convert (the CLI, a dask cluster)
@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed", reason="sharded runs need dask[distributed] (the segmill[dask] extra)")
    from segmill.distributed import connect

    with connect(2) as c:
        yield c


def _converted(src, fmt: str, dst: Path, *extra) -> tuple[dict, dict]:
    import json

    from click.testing import CliRunner

    from segmill.cli import main

    r = CliRunner().invoke(main, ["convert", str(src), str(dst), "--from", fmt, "--to", "coco", "--json", "-q",
                                  *extra])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout), json.loads(dst.read_bytes())


def test_a_sharded_convert_of_parts_equals_the_single_process(client, tmp_path, grown):
    cases = [(grown, "mapillary"), (CL._cvat_cases(tmp_path / "c")["good"], "cvat"),
             (CL._ls_cases(tmp_path / "l")["good"], "label_studio")]
    if V is not None:
        cases.append((FIXTURES / "nifti" / "basic", "nifti"))
    for k, (src, fmt) in enumerate(cases):
        assert not any(isinstance(s.selection, PositionRange) for s in plan(src, fmt, {}, 2)), fmt
        one = _converted(src, fmt, tmp_path / f"one{k}.json")
        two = _converted(src, fmt, tmp_path / f"two{k}.json", "--scheduler", client.scheduler.address)
        one[0]["path"] = two[0]["path"] = None
        assert one == two, fmt
