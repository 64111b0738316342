"""NRRD label volumes: the fixture, the exact trip back through COCO, headers kept, refusals.

Oracle: the volumes and headers read with pynrrd directly.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.formats import detect
from segmill.rle import decode

nrrd = pytest.importorskip("nrrd", reason="the medical extra (pynrrd) is not installed")
pytest.importorskip("cc3d", reason="the medical extra (connected-components-3d) is not installed")

CONVERSIONS = {
    ("ade20k", "nrrd"): {"L001", "L701", "L705", "L890"},
    ("camvid", "nrrd"): {"L001", "L890", "L891"},
    ("cityscapes", "nrrd"): {"L203", "L890", "L891"},
    ("coco", "nrrd"): {"L001", "L203", "L701", "L705", "L890"},
    ("coco_panoptic", "nrrd"): {"L001", "L203", "L890"},
    ("coco_results", "nrrd"): {"L204", "L890"},
    ("cvat", "nrrd"): {"L001", "L701", "L703", "L705", "L890"},
    ("geojson", "nrrd"): {"L001", "L705", "L890"},
    ("image_masks", "nrrd"): {"L001", "L890", "L891"},
    ("kitti", "nrrd"): {"L203", "L890", "L891"},
    ("label_studio", "nrrd"): {"L001", "L701", "L703", "L705", "L890"},
    ("labelme", "nrrd"): {"L001", "L701", "L703", "L705", "L890"},
    ("mapillary", "nrrd"): {"L001", "L890", "L891"},
    ("masks", "nrrd"): {"L001", "L890", "L891"},
    ("nifti", "nrrd"): set(),
    ("nrrd", "camvid"): {"L208"},
    ("nrrd", "cityscapes"): set(),
    ("nrrd", "coco"): set(),
    ("nrrd", "coco_panoptic"): set(),
    ("nrrd", "coco_results"): {"L110", "L111"},
    ("nrrd", "cvat"): {"L001"},
    ("nrrd", "geojson"): {"L901", "L902", "L904"},
    ("nrrd", "image_masks"): {"L208"},
    ("nrrd", "kitti"): {"L208"},
    ("nrrd", "label_studio"): {"L001", "L801", "L803"},
    ("nrrd", "labelme"): {"L001", "L402", "L405"},
    ("nrrd", "masks"): {"L001", "L208"},
    ("nrrd", "nifti"): set(),
    ("nrrd", "nrrd"): set(),
    ("nrrd", "sa1b"): {"L001", "L880", "L886"},
    ("nrrd", "voc"): {"L001", "L208"},
    ("nrrd", "yolo"): {"L303", "L307", "L308"},
    ("open_images", "nrrd"): {"L001", "L701", "L890", "L891"},
    ("sa1b", "nrrd"): {"L001", "L890"},
    ("voc", "nrrd"): {"L001", "L705", "L890", "L891"},
    ("yolo", "nrrd"): {"L705", "L890", "L891"},
}

LPS = {"space": "left-posterior-superior", "kinds": ["domain"] * 3, "encoding": "gzip"}


def _save(path, vol, header=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nrrd.write(str(path), vol, header if header is not None else LPS, index_order="F")
    return path


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_fixture_reads_names_from_the_json_table_and_pixels_equal_the_volume(fixtures_dir):
    root = fixtures_dir / "nrrd" / "basic"
    vol, _ = nrrd.read(str(root / "case01.nrrd"), index_order="F")
    ds = segmill.read(root, "nrrd", axis=1)
    assert [(c.id, c.name) for c in ds.categories] == [(1, "liver"), (2, "kidney"), (3, "tumor")]
    assert len(ds.items) == vol.shape[1]
    for k, item in enumerate(ds.items):
        plane = vol[:, k, :].T
        assert (item.height, item.width) == plane.shape
        for a in item.annotations:
            assert np.array_equal(decode(a.to_rle(*plane.shape)).astype(bool), plane == a.category_id)
    assert ds.items[0].attributes["volume"]["spacing"] == [0.8, 0.8, 2.5]
    spec, d = detect(root / "case01.nrrd")
    assert spec.name == "nrrd" and "magic" in d.reason
    assert detect(root)[0].name == "nrrd"


@pytest.mark.parametrize("seed", range(3))
def test_random_volumes_through_coco_come_back_with_the_same_header(tmp_path, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(3, 11, 3))
    vol = rng.integers(0, 4, shape).astype([np.uint8, np.int16, np.uint16][seed])
    vol[:, :, -1] = 0
    dirs = np.diag(rng.uniform(0.2, 3.0, 3))[[1, 0, 2]]  # anisotropic, axes swapped
    header = {**LPS, "space directions": dirs, "space origin": rng.uniform(-50, 50, 3)}
    src = _save(tmp_path / "in" / "v.nrrd", vol, header)
    ds = segmill.read(src, "nrrd", volume_instances="components", connectivity=18)
    assert not ds.items[-1].annotations
    assert segmill.write(ds, tmp_path / "mid.json", "coco").summary() == {}
    mid = segmill.read(tmp_path / "mid.json", "coco")
    assert segmill.write(mid, tmp_path / "out", "nrrd").summary() == {}
    a, ha = nrrd.read(str(src), index_order="F")
    b, hb = nrrd.read(str(tmp_path / "out" / "v.nrrd"), index_order="F")
    assert np.array_equal(a, b) and a.dtype == b.dtype
    assert np.array_equal(ha["space directions"], hb["space directions"])
    assert np.array_equal(ha["space origin"], hb["space origin"])
    assert ha["space"] == hb["space"]


def test_volumes_with_spacings_only_keep_them(tmp_path):
    vol = np.zeros((5, 4, 3), np.uint8)
    vol[1:3, 1:3, 1] = 2
    src = _save(tmp_path / "v.nrrd", vol, {"spacings": np.array([0.5, 0.75, 3.0]), "encoding": "raw"})
    ds = segmill.read(src, "nrrd")
    assert ds.items[0].attributes["volume"]["spacing"] == [0.5, 0.75, 3.0]
    segmill.write(ds, tmp_path / "out", "nrrd")
    _, h = nrrd.read(str(tmp_path / "out" / "v.nrrd"))
    assert list(h["spacings"]) == [0.5, 0.75, 3.0]


@pytest.mark.parametrize("space,signs", [("left-posterior-superior", (-1, -1, 1)), ("RAS", (1, 1, 1)),
                                         ("left-anterior-superior", (-1, 1, 1))])
def test_nrrd_to_nifti_and_back_converts_the_orientation(tmp_path, space, signs):
    nib = pytest.importorskip("nibabel", reason="the medical extra (nibabel) is not installed")
    rng = np.random.default_rng(len(space))
    vol = rng.integers(0, 3, (6, 5, 4)).astype(np.uint8)
    dirs = np.array([[0.0, 0.75, 0.0], [-1.25, 0.0, 0.0], [0.0, 0.0, 2.5]])
    origin = np.array([-12.5, 4.25, 30.0])
    src = _save(tmp_path / "in" / "v.nrrd", vol, {"space": space, "space directions": dirs, "space origin": origin,
                                                 "kinds": ["domain"] * 3, "encoding": "gzip"})
    ds = segmill.read(src, "nrrd")
    assert segmill.write(ds, tmp_path / "n", "nifti").summary() == {}
    img = nib.load(str(tmp_path / "n" / "v.nii.gz"))
    assert np.array_equal(np.asanyarray(img.dataobj), vol)
    # the oracle: NRRD's world (index i along row i of space directions, from the origin), turned into RAS+
    want = np.eye(4)
    want[:3, :3], want[:3, 3] = dirs.T, origin
    want = np.diag([*signs, 1.0]) @ want
    assert np.allclose(img.affine, want, atol=1e-6)
    assert img.header.get_zooms() == pytest.approx((0.75, 1.25, 2.5))  # row lengths
    # and back: the same world, written in LPS
    back = segmill.read(tmp_path / "n", "nifti")
    assert segmill.write(back, tmp_path / "r", "nrrd").summary() == {}
    arr, h = nrrd.read(str(tmp_path / "r" / "v.nrrd"), index_order="F")
    assert np.array_equal(arr, vol) and h["space"] == "left-posterior-superior"
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ want
    assert np.allclose(h["space directions"], lps[:3, :3].T, atol=1e-6)
    assert np.allclose(h["space origin"], lps[:3, 3], atol=1e-6)


def test_an_orientation_nifti_cannot_hold_is_reported(tmp_path):
    nib = pytest.importorskip("nibabel", reason="the medical extra (nibabel) is not installed")
    vol = np.ones((3, 3, 2), np.uint8)
    src = _save(tmp_path / "v.nrrd", vol, {"space": "scanner-xyz", "space directions": np.eye(3) * 0.5,
                                          "encoding": "raw"})
    report = segmill.write(segmill.read(src, "nrrd"), tmp_path / "n", "nifti")
    assert set(report.summary()) == {"L892"}
    assert nib.load(str(tmp_path / "n" / "v.nii.gz")).header.get_zooms() == (0.5, 0.5, 0.5)


def _hostile(tmp_path, kind) -> Path:
    p = tmp_path / "h.nrrd"
    base = b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n"
    if kind == "detached":
        (tmp_path / "data.raw").write_bytes(bytes(8))
        p.write_bytes(b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: data.raw\n\n")
    elif kind == "four_d":
        p.write_bytes(b"NRRD0004\ntype: uint8\ndimension: 4\nsizes: 2 2 2 2\nencoding: raw\n\n" + bytes(16))
    elif kind == "huge":
        p.write_bytes(b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 100000 100000 100000\nencoding: raw\n\n")
    elif kind == "short":
        p.write_bytes(base + b"\n" + bytes(3))
    elif kind == "bad_gzip":
        p.write_bytes(base.replace(b"raw", b"gzip") + b"\n" + gzip.compress(bytes(8))[:12])
    elif kind == "nan_directions":
        p.write_bytes(base + b"space: RAS\nspace directions: (nan,0,0) (0,1,0) (0,0,1)\n\n" + bytes(8))
    elif kind == "bad_type":
        p.write_bytes(base.replace(b"uint8", b"blob") + b"\n" + bytes(8))
    elif kind == "negative":
        p.write_bytes(base.replace(b"uint8", b"int8") + b"\n" + b"\xff" * 8)
    elif kind == "garbage":
        p.write_bytes(b"NRRD0004\n\xff\xfe:::\n\n")
    return p


@pytest.mark.parametrize("kind", ["detached", "four_d", "huge", "short", "bad_gzip", "nan_directions", "bad_type",
                                  "negative", "garbage"])
def test_hostile_nrrd_files_exit_2_with_one_line_and_write_nothing(tmp_path, kind):
    p = _hostile(tmp_path, kind)
    out = tmp_path / "out.json"
    res = _run("convert", p, out, "--from", "nrrd", "--to", "coco", "-q")
    assert res.exit_code == 2, (res.output, res.exception)
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not out.exists()


def test_the_same_volume_writes_the_same_bytes_at_any_time(fixtures_dir, tmp_path, monkeypatch):
    """pynrrd puts the clock time in a comment; the writer leaves it out (a flaky byte comparison found it)."""
    import datetime as dt

    import nrrd.writer

    ds = segmill.read(fixtures_dir / "labelme" / "basic", "labelme")
    outs = []
    for k, when in enumerate((dt.datetime(2026, 1, 1, 0, 0, 0), dt.datetime(2027, 6, 5, 4, 3, 2))):
        class Clock(dt.datetime):
            @classmethod
            def utcnow(cls, _when=when):
                return _when

        monkeypatch.setattr(nrrd.writer, "datetime", Clock)
        segmill.write(ds, tmp_path / str(k), "nrrd")
        files = sorted((tmp_path / str(k)).rglob("*.nrrd"))
        assert files
        outs.append([f.read_bytes() for f in files])
    assert outs[0] == outs[1]
    assert b"(GMT)" not in outs[0][0] and outs[0][0].startswith(b"NRRD0005\n")
    back = nrrd.read(str(sorted((tmp_path / "0").rglob("*.nrrd"))[0]))
    assert back[0].size > 0
