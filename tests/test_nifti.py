"""NIfTI label volumes: the fixture, slicing and the exact trip back, 3-D instances, tables, refusals, agreement.

Oracles: the volumes read with nibabel directly, pycocotools' decoding of
what segmill read, cc3d's labels for the 3-D split, medpy's ``hd95`` /
``assd`` and SimpleITK's Hausdorff and STAPLE filters for the volume
agreement run through the CLI.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import InputError, UsageError
from segmill.formats import detect

nib = pytest.importorskip("nibabel", reason="the medical extra (nibabel) is not installed")
cc3d = pytest.importorskip("cc3d", reason="the medical extra (connected-components-3d) is not installed")

from segmill.formats._volume_components import components

CONVERSIONS = {
    ("ade20k", "nifti"): {"L001", "L701", "L705", "L890"},
    ("camvid", "nifti"): {"L001", "L890", "L891"},
    ("cityscapes", "nifti"): {"L203", "L890", "L891"},
    ("coco", "nifti"): {"L001", "L203", "L701", "L705", "L890"},
    ("coco_panoptic", "nifti"): {"L001", "L203", "L890"},
    ("coco_results", "nifti"): {"L204", "L890"},
    ("cvat", "nifti"): {"L001", "L701", "L703", "L705", "L890"},
    ("geojson", "nifti"): {"L001", "L705", "L890"},
    ("image_masks", "nifti"): {"L001", "L890", "L891"},
    ("kitti", "nifti"): {"L203", "L890", "L891"},
    ("label_studio", "nifti"): {"L001", "L701", "L703", "L705", "L890"},
    ("labelme", "nifti"): {"L001", "L701", "L703", "L705", "L890"},
    ("mapillary", "nifti"): {"L001", "L890", "L891"},
    ("masks", "nifti"): {"L001", "L890", "L891"},
    ("nifti", "camvid"): {"L208"},
    ("nifti", "cityscapes"): set(),
    ("nifti", "coco"): set(),
    ("nifti", "coco_panoptic"): set(),
    ("nifti", "coco_results"): {"L110", "L111"},
    ("nifti", "cvat"): {"L001"},
    ("nifti", "geojson"): {"L901", "L902", "L904"},
    ("nifti", "image_masks"): {"L208"},
    ("nifti", "kitti"): {"L208"},
    ("nifti", "label_studio"): {"L001", "L801", "L803"},
    ("nifti", "labelme"): {"L001", "L402", "L405"},
    ("nifti", "masks"): {"L001", "L208"},
    ("nifti", "nifti"): set(),
    ("nifti", "sa1b"): {"L001", "L880", "L886"},
    ("nifti", "voc"): {"L001", "L208"},
    ("nifti", "yolo"): {"L303", "L307", "L308", "L309"},
    ("open_images", "nifti"): {"L001", "L701", "L890", "L891"},
    ("sa1b", "nifti"): {"L001", "L890"},
    ("voc", "nifti"): {"L001", "L705", "L890", "L891"},
    ("yolo", "nifti"): {"L705", "L890", "L891"},
}

ROT = np.array([[0.0, -0.9, 0.0, 12.25], [0.6, 0.0, 0.0, -3.5], [0.0, 0.0, 2.5, 40.0], [0, 0, 0, 1]])


def _pixels(ann, h, w) -> np.ndarray:
    rle = ann.to_rle(h, w).to_coco()
    return mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def _save(path, vol, affine=ROT, dtype=None, qform=False) -> Path:
    img = nib.Nifti1Image(vol if dtype is None else vol.astype(dtype), affine)
    if qform:
        img.set_qform(affine, code=1)
    img.header.set_xyzt_units("mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.to_filename(str(path))
    return path


def _random_instances(rng, shape, axis=2, n=12, labels=3) -> np.ndarray:
    """Random boxes of random labels (touching boxes of one label merge into one 3-D instance)."""
    vol = np.zeros(shape, np.uint8)
    for _ in range(n):
        lo = [int(rng.integers(0, s - 1)) for s in shape]
        hi = [min(s, a + int(rng.integers(1, max(2, s // 2)))) for a, s in zip(lo, shape)]
        vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = rng.integers(1, labels + 1)
    np.moveaxis(vol, axis, 0)[shape[axis] - 1] = 0  # an empty slice along the axis
    return vol


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ------------------------------------------------------------------ the fixture
def test_fixture_reads_one_item_per_slice_and_pixels_equal_the_volume(fixtures_dir):
    root = fixtures_dir / "nifti" / "basic"
    vol = np.asanyarray(nib.load(str(root / "case01.nii.gz")).dataobj)
    ds = segmill.read(root, "nifti")
    assert [(c.id, c.name) for c in ds.categories] == [(1, "liver"), (2, "kidney"), (3, "tumor")]
    assert [c.color for c in ds.categories] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    assert [it.id for it in ds.items] == [f"case01/k_{k:04d}" for k in range(5)]
    assert [it.file_name for it in ds.items] == [f"case01/k_{k:04d}.png" for k in range(5)]
    for k, item in enumerate(ds.items):
        plane = vol[:, :, k].T
        assert (item.height, item.width) == plane.shape == (12, 16)
        assert sorted(a.category_id for a in item.annotations) == sorted(set(np.unique(plane).tolist()) - {0})
        for a in item.annotations:
            assert np.array_equal(_pixels(a, 12, 16), plane == a.category_id)
        info = item.attributes["volume"]
        assert (info["index"], info["slices"], info["axis"], info["shape"]) == (k, 5, 2, [16, 12, 5])
        assert info["spacing"] == pytest.approx([0.8, 0.8, 2.5])


def test_detection_names_the_format_with_a_reason(fixtures_dir, tmp_path):
    spec, d = detect(fixtures_dir / "nifti" / "basic")
    assert spec.name == "nifti" and "NIfTI" in d.reason
    spec, d = detect(fixtures_dir / "nifti" / "basic" / "case01.nii.gz")
    assert spec.name == "nifti" and "magic" in d.reason
    res = _run("info", fixtures_dir / "nifti" / "basic")
    assert res.exit_code == 0 and "format: nifti" in res.output


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_axis_slices_follow_numpy_take(tmp_path, axis):
    rng = np.random.default_rng(axis)
    vol = rng.integers(0, 4, (7, 6, 5)).astype(np.uint8)
    ds = segmill.read(_save(tmp_path / "v.nii.gz", vol), "nifti", axis=axis)
    assert len(ds.items) == vol.shape[axis]
    for k, item in enumerate(ds.items):
        plane = np.take(vol, k, axis=axis).T
        assert (item.height, item.width) == plane.shape
        for a in item.annotations:
            assert np.array_equal(_pixels(a, *plane.shape), plane == a.category_id)


# ------------------------------------------------------------------ the trip back, exactly
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("axis", [0, 2])
def test_random_instance_volumes_through_coco_come_back_identical(tmp_path, seed, axis):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(4, 14, 3))
    vol = _random_instances(rng, shape, axis)
    dtype = [np.uint8, np.int16, np.uint16, np.float32][seed]
    aff = ROT.copy()
    aff[:3, :3] *= rng.uniform(0.3, 3.0, 3)  # anisotropic spacing
    src = _save(tmp_path / "in" / "case.nii.gz", vol, aff, dtype, qform=seed % 2 == 0)
    ds = segmill.read(src, "nifti", axis=axis, volume_instances="components", connectivity=6)
    assert len(ds.items) == shape[axis]
    assert any(not it.annotations for it in ds.items)  # empty slices are items too
    assert segmill.write(ds, tmp_path / "mid.json", "coco").summary() == {}
    mid = segmill.read(tmp_path / "mid.json", "coco")
    assert segmill.write(mid, tmp_path / "out", "nifti").summary() == {}
    a, b = nib.load(str(src)), nib.load(str(tmp_path / "out" / "case.nii.gz"))
    assert np.array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj))
    assert a.get_data_dtype() == b.get_data_dtype()
    assert np.array_equal(a.affine, b.affine)
    assert np.array_equal(a.header.get_qform(), b.header.get_qform())
    assert np.array_equal(a.header.get_sform(), b.header.get_sform())
    assert a.header.get_zooms() == b.header.get_zooms()
    assert (int(a.header["qform_code"]), int(a.header["sform_code"])) == (int(b.header["qform_code"]),
                                                                          int(b.header["sform_code"]))
    # the 3-D instance ids come back too
    assert segmill.write(mid, tmp_path / "inst", "nifti", values="instance").summary() == {}
    ids = np.asanyarray(nib.load(str(tmp_path / "inst" / "case.nii.gz")).dataobj)
    want = cc3d.connected_components(vol, connectivity=6)
    assert np.array_equal(ids, want)


def test_a_label_volume_through_the_cli_and_masks_keeps_its_pixels(fixtures_dir, tmp_path):
    res = _run("convert", fixtures_dir / "nifti" / "basic", tmp_path / "c.json", "--to", "coco", "-q")
    assert res.exit_code == 0, res.output
    res = _run("convert", tmp_path / "c.json", tmp_path / "back", "--to", "nifti", "-q")
    assert res.exit_code == 0, res.output
    a = nib.load(str(fixtures_dir / "nifti" / "basic" / "case01.nii.gz"))
    b = nib.load(str(tmp_path / "back" / "case01.nii.gz"))
    assert np.array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj)) and np.array_equal(a.affine, b.affine)
    assert segmill.read(tmp_path / "back", "nifti").categories[1].name == "kidney"


# ------------------------------------------------------------------ 3-D instances: cc3d is the oracle
@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_3d_split_equals_cc3d_labels_on_random_volumes(connectivity):
    rng = np.random.default_rng(connectivity)
    for _ in range(5):
        vol = rng.integers(0, 3, tuple(int(s) for s in rng.integers(3, 12, 3))).astype(np.uint8)
        got = components(vol, connectivity=connectivity)
        want, n = cc3d.connected_components(vol, connectivity=connectivity, return_N=True)
        assert np.array_equal(got.ids, want)
        assert len(got.classes) == n
        for i, v in got.classes.items():
            assert set(np.unique(vol[want == i]).tolist()) == {v}


def test_stuff_stays_whole_and_min_area_drops_small_components():
    rng = np.random.default_rng(5)
    vol = rng.integers(0, 3, (9, 8, 7)).astype(np.uint8)
    got = components(vol, connectivity=6, stuff=[2], min_area=3)
    things = np.where(vol == 2, 0, vol)
    want, n = cc3d.connected_components(things, connectivity=6, return_N=True)
    sizes = np.bincount(want.reshape(-1), minlength=n + 1)
    small = [i for i in range(1, n + 1) if sizes[i] < 3]
    assert got.dropped == ({1: len(small)} if small else {})
    kept = np.where(np.isin(want, small), 0, want)
    assert np.array_equal(np.where(vol == 2, 0, got.ids), kept)
    stuff_ids = set(np.unique(got.ids[vol == 2]).tolist())
    assert len(stuff_ids) == 1 and got.classes[stuff_ids.pop()] == 2


def test_reader_instances_one_annotation_per_component_and_slice(fixtures_dir):
    ds = segmill.read(fixtures_dir / "nifti" / "basic", "nifti", volume_instances="components", stuff="liver")
    kidney = {a.attributes["instance"] for it in ds.items for a in it.annotations if a.category_id == 2}
    liver = {a.attributes["instance"] for it in ds.items for a in it.annotations if a.category_id == 1}
    assert len(kidney) == 2 and len(liver) == 1
    ds = segmill.read(fixtures_dir / "nifti" / "basic", "nifti", volume_instances="components", min_area=5)
    assert not any(a.category_id == 3 for it in ds.items for a in it.annotations)  # the 4-voxel tumor
    assert "under 5 voxels dropped" in ds.meta["read_notes"][0]


# ------------------------------------------------------------------ label tables
@pytest.mark.parametrize("name,text", [
    ("labels.json", '{"1": "liver", "3": "tumor"}'),
    ("labels.yaml", "1: liver\n3: tumor\n"),
    ("labels.txt", '# c\n    1   255    0    0        1  1  1    "liver"\n    3 0 0 255 1 1 1 "tumor"\n'),
])
def test_label_tables_name_the_values(tmp_path, name, text):
    vol = np.zeros((4, 4, 2), np.uint8)
    vol[0, 0, 0], vol[1, 1, 1], vol[2, 2, 1] = 1, 2, 3
    _save(tmp_path / "v.nii.gz", vol)
    (tmp_path / name).write_text(text)
    ds = segmill.read(tmp_path, "nifti")
    assert [(c.id, c.name) for c in ds.categories] == [(1, "liver"), (2, "label_2"), (3, "tumor")]


@pytest.mark.parametrize("name,text,msg", [
    ("labels.json", '{"x": "liver"}', "not a non-negative integer"),
    ("labels.json", '{"70000": "liver"}', "in [0, 65535]"),
    ("labels.json", '[1, 2]', "must be a mapping"),
    ("labels.yaml", "1: [", "invalid YAML"),
    ("labels.txt", "1 2 3\n", "ITK-SNAP label line"),
    ("labels.json", '{"1": "a", "2": "a"}', "listed twice"),
])
def test_bad_label_tables_are_refused_with_exit_2(tmp_path, name, text, msg):
    _save(tmp_path / "v.nii.gz", np.ones((3, 3, 2), np.uint8))
    (tmp_path / name).write_text(text)
    res = _run("info", tmp_path, "--format", "nifti")
    assert res.exit_code == 2 and msg in res.output and len(res.output.strip().splitlines()) == 1, res.output


# ------------------------------------------------------------------ hostile headers: exit 2, one line
def _hostile(tmp_path, kind) -> Path:
    p = tmp_path / "h.nii"
    vol = np.ones((4, 3, 2), np.uint8)
    if kind == "nan_pixdim":
        img = nib.Nifti1Image(vol, np.eye(4))
        img.header["pixdim"][2] = np.nan
        img.to_filename(str(p))
    elif kind == "inf_srow":
        nib.Nifti1Image(vol, np.eye(4)).to_filename(str(p))
        raw = bytearray(p.read_bytes())
        raw[280:284] = np.array([np.inf], "<f4").tobytes()  # srow_x[0]
        p.write_bytes(bytes(raw))
    elif kind == "four_d":
        nib.Nifti1Image(np.ones((3, 3, 2, 2), np.uint8), np.eye(4)).to_filename(str(p))
    elif kind == "negative":
        nib.Nifti1Image(-np.ones((3, 3, 2), np.int16), np.eye(4)).to_filename(str(p))
    elif kind == "fraction":
        nib.Nifti1Image(np.full((3, 3, 2), 0.5, np.float32), np.eye(4)).to_filename(str(p))
    elif kind == "truncated":
        nib.Nifti1Image(np.ones((30, 30, 20), np.uint8), np.eye(4)).to_filename(str(p))
        p.write_bytes(p.read_bytes()[:2000])
    elif kind == "garbage":
        p.write_bytes(b"\x5c\x01\x00\x00" + b"\xff" * 400)
    elif kind == "bad_gzip":
        p = tmp_path / "h.nii.gz"
        p.write_bytes(gzip.compress(b"\x5c\x01\x00\x00" + b"\x00" * 340 + b"n+1\x00")[:40])
    elif kind == "huge":
        img = nib.Nifti1Image(vol, np.eye(4))
        img.to_filename(str(p))
        raw = bytearray(p.read_bytes())
        raw[42:48] = np.array([30000, 30000, 30000], "<i2").tobytes()  # dim[1..3]
        p.write_bytes(bytes(raw))
    return p


@pytest.mark.parametrize("kind", ["nan_pixdim", "inf_srow", "four_d", "negative", "fraction", "truncated",
                                  "garbage", "bad_gzip", "huge"])
def test_hostile_volumes_exit_2_with_one_line_and_write_nothing(tmp_path, kind):
    p = _hostile(tmp_path, kind)
    out = tmp_path / "out.json"
    res = _run("convert", p, out, "--from", "nifti", "--to", "coco", "-q")
    assert res.exit_code == 2, (res.output, res.exception)
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert p.name in res.output
    assert not out.exists()


def test_the_pixel_limit_applies_to_voxels(tmp_path, monkeypatch):
    p = _save(tmp_path / "v.nii.gz", np.ones((10, 10, 10), np.uint8))
    monkeypatch.setenv("SEGMILL_MAX_PIXELS", "999")
    res = _run("info", p)
    assert res.exit_code == 2 and "1,000 voxels" in res.output and "pixel limit" in res.output


def test_skip_invalid_drops_a_bad_volume_and_lists_it(tmp_path):
    _save(tmp_path / "good.nii.gz", np.ones((3, 3, 2), np.uint8))
    (tmp_path / "bad.nii").write_bytes(b"not a nifti")
    ds = segmill.read(tmp_path, "nifti", errors="skip")
    assert len(ds.items) == 2 and Path(ds.meta["skipped"][0]["path"]).name == "bad.nii"


def test_option_values_are_checked():
    with pytest.raises(UsageError, match="axis"):
        segmill.read(Path("fixtures/nifti/basic"), "nifti", axis=3)
    with pytest.raises(UsageError, match="connectivity"):
        segmill.read(Path("fixtures/nifti/basic"), "nifti", volume_instances="components", connectivity=8)


# ------------------------------------------------------------------ writing 2-D datasets
def test_same_size_images_become_one_volume_and_each_other_size_one_more(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "labelme" / "basic", "labelme")
    report = segmill.write(ds, tmp_path / "v", "nifti")
    assert "L890" in report.summary()
    img = nib.load(str(tmp_path / "v" / "volume.nii.gz"))
    assert img.shape == (ds.items[0].width, ds.items[0].height, len(ds.items))
    import copy

    odd = copy.deepcopy(ds.items[0])
    odd.id, odd.file_name, odd.width = "odd", "odd.png", odd.width + 1
    ds.items.append(odd)
    assert "L890" in segmill.write(ds, tmp_path / "w", "nifti").summary()
    w, h = ds.items[0].width, ds.items[0].height
    assert sorted(f.name for f in (tmp_path / "w").iterdir()) == sorted(["labels.txt", f"volume_{w + 1}x{h}.nii.gz",
                                                                         f"volume_{w}x{h}.nii.gz"])
    back = segmill.read(tmp_path / "w", "nifti")
    assert sorted((it.width, it.height) for it in back.items) == [(w, h), (w + 1, h)]
    ds.items[0].width = None
    with pytest.raises(InputError, match="size unknown"):
        segmill.write(ds, tmp_path / "x", "nifti")
    assert not (tmp_path / "x").exists()


def test_tampered_volume_attributes_are_refused(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "nifti" / "basic", "nifti")
    ds.items[1].attributes["volume"] = {**ds.items[1].attributes["volume"], "index": 99}
    with pytest.raises(InputError, match="slice index"):
        segmill.write(ds, tmp_path / "a", "nifti")
    ds = segmill.read(fixtures_dir / "nifti" / "basic", "nifti")
    ds.items[1].attributes["volume"]["shape"] = [16, 12, 5, 2]
    with pytest.raises(InputError, match="not a 3-D volume"):
        segmill.write(ds, tmp_path / "b", "nifti")
    ds = segmill.read(fixtures_dir / "nifti" / "basic", "nifti")
    ds.items[0].attributes["volume"]["name"] = "../x"
    with pytest.raises(InputError):
        segmill.write(ds, tmp_path / "c", "nifti")


def test_overlapping_annotations_are_reported(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "nifti" / "basic", "nifti")
    item = next(it for it in ds.items if len(it.annotations) >= 2)
    import copy

    extra = copy.deepcopy(item.annotations[0])
    extra.id, extra.category_id = 999, 3
    item.annotations.append(extra)
    assert "L701" in segmill.write(ds, tmp_path / "o", "nifti").summary()


# ------------------------------------------------------------------ agreement on volumes via the CLI
def _pair(tmp_path, seed):
    rng = np.random.default_rng(seed)
    a = np.zeros((28, 24, 14), np.uint8)
    a[4:20, 5:18, 2:10] = 1
    a[21:27, 2:11, 5:12] = 2
    b = a.copy()
    b[b == 1] = np.where(rng.random(int((b == 1).sum())) < 0.04, 0, 1)
    b[5:21, 6:19, 3:10][a[5:21, 6:19, 3:10] == 0] = 1
    b[20:26, 2:12, 4:12] = np.where(b[20:26, 2:12, 4:12] == 1, 1, 2)
    aff = np.diag([0.6, 0.95, 2.2, 1.0])
    return _save(tmp_path / "A.nii.gz", a, aff), _save(tmp_path / "B.nii.gz", b, aff), a, b


@pytest.mark.parametrize("seed", [0, 1])
def test_cli_agree_on_volumes_matches_medpy(tmp_path, seed):
    medpy = pytest.importorskip("medpy.metric.binary", reason="medpy is the oracle")
    pa, pb, a, b = _pair(tmp_path, seed)
    res = _run("agree", pa, pb, "--surface", "--surface-tolerance", "1.5", "--output-format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    spacing = tuple(float(s) for s in nib.load(str(pa)).header.get_zooms())
    assert doc["volumes"][0]["spacing"] == list(spacing)
    rows = {r["label"]: r for r in doc["volumes"][0]["pairs"][0]["labels"]}
    for label in (1, 2):
        ma, mb = a == label, b == label
        r = rows[label]
        assert r["hd95"] == pytest.approx(medpy.hd95(ma, mb, voxelspacing=spacing), rel=1e-6)
        assert r["assd"] == pytest.approx(medpy.assd(ma, mb, voxelspacing=spacing), rel=1e-6)
        assert r["dice"] == pytest.approx(medpy.dc(ma, mb), rel=1e-9)
        # medpy's hd: surface to surface (SimpleITK's HausdorffDistanceImageFilter measures every voxel instead,
        # see tests/test_agree_surface.py)
        assert r["hd"] == pytest.approx(medpy.hd(ma, mb, voxelspacing=spacing), rel=1e-6)


def test_cli_agree_consensus_staple_matches_simpleitk_on_binary_volumes(tmp_path):
    sitk = pytest.importorskip("SimpleITK", reason="SimpleITK is the oracle")
    rng = np.random.default_rng(3)
    base = np.zeros((16, 14, 8), np.uint8)
    base[3:12, 3:11, 1:7] = 1
    raters = []
    for j in range(3):
        m = base.copy()
        flip = rng.random(m.shape) < 0.08 * (j + 1)
        m[flip] = 1 - m[flip]
        raters.append(m)
    paths = [_save(tmp_path / f"r{j}" / "case.nii.gz", m, np.diag([0.5, 0.5, 2.0, 1.0])) for j, m in
             enumerate(raters)]
    out = tmp_path / "cons"
    res = _run("agree", *[p.parent for p in paths], "--consensus", "staple", "--consensus-out", out,
               "--output-format", "json", "-q")
    assert res.exit_code == 0, res.output
    got = np.asanyarray(nib.load(str(out / "case.nii.gz")).dataobj)
    prob = sitk.GetArrayFromImage(sitk.STAPLE([sitk.GetImageFromArray(m) for m in raters], 1.0))
    assert np.array_equal(got == 1, prob > 0.5)
    res = _run("agree", *[p.parent for p in paths], "--consensus", "majority", "--consensus-out", tmp_path / "maj",
               "-q")
    assert res.exit_code == 0, res.output
    maj = np.asanyarray(nib.load(str(tmp_path / "maj" / "case.nii.gz")).dataobj)
    assert np.array_equal(maj, (np.sum(raters, axis=0) >= 2).astype(np.uint8))


def test_cli_agree_refuses_volumes_of_different_spacing(tmp_path):
    pa, pb, _, b = _pair(tmp_path, 0)
    _save(pb, b, np.diag([0.6, 0.95, 2.0, 1.0]))
    res = _run("agree", pa, pb, "--surface")
    assert res.exit_code == 2 and "spacing" in res.output and len(res.output.strip().splitlines()) == 1


def test_fixture_copy_is_readable_after_moving(fixtures_dir, tmp_path):
    shutil.copytree(fixtures_dir / "nifti" / "basic", tmp_path / "x")
    assert len(segmill.read(tmp_path / "x", "nifti").items) == 5
