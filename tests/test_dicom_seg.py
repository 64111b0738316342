"""DICOM SEG (read-only): segments per slice, geometry, fractional thresholding, conversions, refusals.

The SEG files are built here with highdicom from synthetic CT series made
with pydicom (16 x 12 frames, anisotropic spacing). Oracles: the boolean
arrays the SEG was built from (decoded from segmill's RLEs with pycocotools),
highdicom's own ``segread(...).get_volume()``, and a label volume built
directly for ``dicom_seg -> nifti``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_util
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import InputError
from segmill.formats import detect, get_format

pydicom = pytest.importorskip("pydicom", reason="the medical extra (pydicom) is not installed")
hd = pytest.importorskip("highdicom", reason="the medical extra (highdicom) is not installed")
nib = pytest.importorskip("nibabel", reason="the medical extra (nibabel) is not installed")

from pydicom.dataset import Dataset as DicomDataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: dicom_seg (read-only: it is only ever a source).
CONVERSIONS = {
    ("dicom_seg", "camvid"): {"L208", "L701", "L834"},
    ("dicom_seg", "cityscapes"): {"L602", "L607"},
    ("dicom_seg", "coco"): set(),
    ("dicom_seg", "coco_panoptic"): {"L701"},
    ("dicom_seg", "coco_results"): {"L110", "L111"},
    ("dicom_seg", "cvat"): {"L001", "L505"},
    ("dicom_seg", "geojson"): {"L901", "L902", "L904"},
    ("dicom_seg", "image_masks"): {"L208", "L701", "L844"},
    ("dicom_seg", "kitti"): {"L208", "L701", "L820"},
    ("dicom_seg", "label_studio"): {"L001", "L801", "L803"},
    ("dicom_seg", "labelme"): {"L001", "L402", "L405"},
    ("dicom_seg", "masks"): {"L001", "L208", "L701"},
    ("dicom_seg", "nifti"): {"L701"},
    ("dicom_seg", "nrrd"): {"L701"},
    ("dicom_seg", "sa1b"): {"L001", "L880", "L886"},
    ("dicom_seg", "voc"): {"L001", "L208", "L701"},
    ("dicom_seg", "yolo"): {"L307", "L309"},
}

ROWS, COLS = 12, 16
PIXEL = (0.7, 0.9)  # row spacing, column spacing (DICOM PixelSpacing order)
THICK = 2.5
ORIGIN = (-10.0, 20.0, 5.0)


def ct_series(n=4, orientation=(1, 0, 0, 0, 1, 0), seed=0):
    """``n`` CT slices of ROWS x COLS, stacked along the normal of ``orientation`` every THICK mm."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rng = np.random.default_rng(seed)
    normal = np.cross(orientation[:3], orientation[3:])
    out = []
    for k in range(n):
        ds = DicomDataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "CT", "P1", "T^P", "", "O"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.ReferringPhysicianName = "20260101", "120000", "", ""
        ds.StudyID, ds.SeriesNumber, ds.InstanceNumber, ds.Manufacturer = "1", 1, k + 1, "segmill-test"
        ds.ImageOrientationPatient = list(orientation)
        ds.ImagePositionPatient = [float(o + k * THICK * c) for o, c in zip(ORIGIN, normal)]
        ds.PixelSpacing, ds.SliceThickness = list(PIXEL), THICK
        ds.Rows, ds.Columns = ROWS, COLS
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = rng.integers(-100, 100, (ROWS, COLS), dtype=np.int16).tobytes()
        out.append(ds)
    return out


def make_seg(path, masks, labels, *, fractional=False, sources=None):
    """Save a SEG of ``masks`` (slices, rows, cols, segments) over a CT series; return the series."""
    sources = sources or ct_series(masks.shape[0])
    descs = [hd.seg.SegmentDescription(
        segment_number=i, segment_label=lab,
        segmented_property_category=hd.sr.CodedConcept("91723000", "SCT", "Anatomical Structure"),
        segmented_property_type=hd.sr.CodedConcept("10200004", "SCT", "Liver"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL) for i, lab in enumerate(labels, 1)]
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=masks, segmentation_type="FRACTIONAL" if fractional else "BINARY",
        segment_descriptions=descs, series_instance_uid=generate_uid(), series_number=2,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="segmill-test",
        manufacturer_model_name="t", software_versions="0", device_serial_number="1")
    seg.save_as(str(path))
    return sources


def binary_masks(seed=3):
    """4 slices, 3 segments; segments 1 and 2 overlap on slice 1, segment 3 is random."""
    m = np.zeros((4, ROWS, COLS, 3), bool)
    m[0, 2:6, 3:9, 0] = True
    m[1, 2:7, 3:10, 0] = True
    m[1, 4:10, 5:12, 1] = True
    m[3, 5:9, 6:11, 1] = True
    m[..., 2] = np.random.default_rng(seed).random((4, ROWS, COLS)) < 0.2
    return m


def decoded(ann, item):
    """The annotation's mask, decoded by pycocotools from the COCO RLE segmill gives."""
    rle = ann.to_rle(item.height, item.width).to_coco()
    return mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def per_slice(ds):
    """``{(slice index, segment number): mask}`` of what segmill read."""
    out = {}
    for it in ds.items:
        for a in it.annotations:
            key = (it.attributes["volume"]["index"], a.category_id)
            assert key not in out
            out[key] = decoded(a, it)
    return out


@pytest.fixture
def binary(tmp_path):
    m = binary_masks()
    make_seg(tmp_path / "case.dcm", m, ["liver", "tumor", "noise"])
    return tmp_path / "case.dcm", m


def test_binary_segments_equal_the_masks_it_was_built_from(binary):
    path, m = binary
    ds = segmill.read(path, "dicom_seg")
    assert [it.id for it in ds.items] == [f"case/k_{k:04d}" for k in range(4)]
    assert all((it.width, it.height) == (COLS, ROWS) for it in ds.items)
    got = per_slice(ds)
    want = {(k, j + 1): m[k, :, :, j] for k in range(4) for j in range(3) if m[k, :, :, j].any()}
    assert set(got) == set(want)
    for key, mask in want.items():
        assert np.array_equal(got[key], mask), key
    # the overlap is kept: both segments hold the shared pixels
    assert (got[(1, 1)] & got[(1, 2)]).sum() == 3 * 5


def test_matches_highdicom_get_volume(binary):
    path, _ = binary
    vol = hd.seg.segread(str(path)).get_volume(combine_segments=False)
    arr = np.asarray(vol.array).astype(bool)  # (slice, row, column, segment), highdicom's slice order
    ds = segmill.read(path, "dicom_seg")
    info = ds.items[0].attributes["volume"]
    lps = np.array(info["header"]["space directions"]).T
    hd_slice = np.asarray(vol.affine)[:3, 0]
    flipped = np.allclose(hd_slice, -lps[:, 2])
    assert flipped or np.allclose(hd_slice, lps[:, 2])
    if flipped:
        arr = arr[::-1]
    got = per_slice(ds)
    for k in range(arr.shape[0]):
        for j in range(arr.shape[3]):
            assert np.array_equal(got.get((k, j + 1), np.zeros((ROWS, COLS), bool)), arr[k, :, :, j])


def test_geometry_names_and_codes(binary):
    path, _ = binary
    ds = segmill.read(path, "dicom_seg")
    info = ds.items[0].attributes["volume"]
    assert info["spacing"] == pytest.approx([PIXEL[1], PIXEL[0], THICK])
    assert info["shape"] == [COLS, ROWS, 4] and info["slices"] == 4 and info["axis"] == 2
    assert info["header"]["space origin"] == pytest.approx(list(ORIGIN))
    assert info["header"]["space"] == "left-posterior-superior"
    assert [(c.id, c.name) for c in ds.categories] == [(1, "liver"), (2, "tumor"), (3, "noise")]
    extra = ds.categories[0].extra
    assert extra["property_type"] == {"code": "10200004", "scheme": "SCT", "meaning": "Liver"}
    assert extra["property_category"]["meaning"] == "Anatomical Structure"
    assert extra["algorithm_type"] == "MANUAL"


@pytest.mark.parametrize("axis", [0, 1])
def test_other_axes_slice_the_same_volume(binary, axis):
    path, m = binary
    ds = segmill.read(path, "dicom_seg", axis=axis)
    vol = np.transpose(m, (2, 1, 0, 3))  # [column, row, slice, segment]
    assert len(ds.items) == vol.shape[axis]
    got = per_slice(ds)
    for k in range(vol.shape[axis]):
        for j in range(3):
            want = np.take(vol[..., j], k, axis=axis).T
            assert np.array_equal(got.get((k, j + 1), np.zeros_like(want)), want)


def test_fractional_is_thresholded_and_noted(tmp_path):
    rng = np.random.default_rng(5)
    frac = np.round(rng.random((3, ROWS, COLS, 2)) * 255) / 255
    make_seg(tmp_path / "f.dcm", frac.astype(np.float32), ["a", "b"], fractional=True)
    stored = np.asarray(hd.seg.segread(str(tmp_path / "f.dcm")).get_volume(combine_segments=False).array)
    for thr in (0.5, 0.3):
        ds = segmill.read(tmp_path / "f.dcm", "dicom_seg", threshold=thr)
        got = per_slice(ds)
        for k in range(3):
            for j in range(2):
                want = frac[k, :, :, j] >= thr
                assert np.array_equal(got.get((k, j + 1), np.zeros_like(want)), want), (thr, k, j)
        assert any("FRACTIONAL" in n and f"{thr:g}" in n for n in ds.meta["read_notes"])
    assert stored.dtype.kind == "f"


def test_to_nifti_equals_the_label_volume_built_directly(tmp_path):
    m = np.zeros((4, ROWS, COLS, 2), bool)  # no overlap: the label volume is exact
    m[0:3, 2:6, 3:9, 0] = True
    m[1:4, 7:11, 5:14, 1] = True
    make_seg(tmp_path / "in.dcm", m, ["liver", "spleen"])
    labels = np.transpose(m[..., 0] * 1 + m[..., 1] * 2, (2, 1, 0))  # [column, row, slice]
    normal = np.array([0.0, 0.0, 1.0])
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2] = [PIXEL[1], 0, 0], [0, PIXEL[0], 0], normal * THICK
    lps[:3, 3] = ORIGIN
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    direct = tmp_path / "direct"
    res = CliRunner().invoke(main, ["convert", str(tmp_path / "in.dcm"), str(direct), "--to", "nifti", "--json",
                                    "-q"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["lossless"]
    via = tmp_path / "via"
    for args in (["convert", str(tmp_path / "in.dcm"), str(tmp_path / "c.json"), "--to", "coco"],
                 ["convert", str(tmp_path / "c.json"), str(via), "--to", "nifti"]):
        assert CliRunner().invoke(main, args).exit_code == 0
    for out in (direct, via):
        img = nib.load(str(out / "in.nii.gz"))
        assert np.array_equal(np.asarray(img.dataobj), labels)
        assert np.allclose(img.affine, ras, atol=1e-5)
        assert nib.aff2axcodes(img.affine) == ("L", "P", "S")
    assert '"liver"' in (direct / "labels.txt").read_text()


def test_oblique_orientation_gives_highdicoms_affine(tmp_path):
    c, s = np.cos(0.3), np.sin(0.3)
    orient = (c, s, 0.0, 0.0, 0.0, -1.0)  # a tilted coronal-like plane
    m = binary_masks()[..., :2]
    make_seg(tmp_path / "o.dcm", m, ["a", "b"], sources=ct_series(4, orient))
    vol = hd.seg.segread(str(tmp_path / "o.dcm")).get_volume(combine_segments=False)
    ds = segmill.read(tmp_path / "o.dcm", "dicom_seg")
    info = ds.items[0].attributes["volume"]
    dirs = np.array(info["header"]["space directions"])
    aff = np.asarray(vol.affine)
    assert np.allclose(dirs[0], aff[:3, 2]) and np.allclose(dirs[1], aff[:3, 1])
    assert np.allclose(np.abs(dirs[2]), np.abs(aff[:3, 0]))
    assert np.linalg.det(dirs.T) > 0
    assert info["spacing"] == pytest.approx([PIXEL[1], PIXEL[0], THICK])


def test_detection_gives_reasons(binary, tmp_path):
    path, _ = binary
    spec, d = detect(path)
    assert spec.name == "dicom_seg" and "Segmentation Storage" in d.reason
    ct = tmp_path / "ct.dcm"
    ct_series(1)[0].save_as(str(ct), enforce_file_format=True)
    assert get_format("dicom_seg").detect(ct).confidence < 0.5
    assert "not Segmentation Storage" in get_format("dicom_seg").detect(ct).reason
    for src in ct_series(3):  # a SEG beside a series: the series is ignored, and counted
        src.save_as(str(tmp_path / f"ct_{src.InstanceNumber}.dcm"), enforce_file_format=True)
    res = CliRunner().invoke(main, ["info", str(tmp_path)])
    assert res.exit_code == 0 and "dicom_seg" in res.output, res.output
    assert segmill.read(tmp_path, "dicom_seg").meta["read_notes"] == [
        "4 .dcm file(s) that are not DICOM SEG ignored"]


def test_read_only():
    assert get_format("dicom_seg").write is None


def test_folder_and_conflicting_labels(tmp_path):
    m = binary_masks()
    make_seg(tmp_path / "a.dcm", m, ["liver", "tumor", "noise"])
    make_seg(tmp_path / "b.dcm", m[:2], ["liver", "tumor", "noise"])
    ds = segmill.read(tmp_path, "dicom_seg")
    assert len(ds.items) == 6 and len(ds.categories) == 3
    make_seg(tmp_path / "c.dcm", m[:2, ..., :1], ["kidney"])
    with pytest.raises(InputError, match="segment 1 is 'kidney'"):
        segmill.read(tmp_path, "dicom_seg")
    ds = segmill.read(tmp_path, "dicom_seg", errors="skip")
    assert len(ds.items) == 6 and len(ds.meta["skipped"]) == 1


def _refused(path, *extra, env=None):
    res = CliRunner(env=env).invoke(main, ["info", str(path), "--format", "dicom_seg", *extra])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    return res.output


def test_hostile_files_exit_2_with_one_line(binary, tmp_path):
    path, _ = binary
    data = path.read_bytes()
    for n in (140, len(data) // 2, len(data) - 7):
        cut = tmp_path / f"cut{n}.dcm"
        cut.write_bytes(data[:n])
        assert str(cut) in _refused(cut)
    ct = tmp_path / "ct.dcm"
    ct_series(1)[0].save_as(str(ct), enforce_file_format=True)
    assert "not a DICOM SEG" in _refused(ct)
    (tmp_path / "junk.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 64)
    _refused(tmp_path / "junk.dcm")
    # in a real process too: pydicom's warnings and log lines are silenced, stderr is the one error line
    proc = subprocess.run([sys.executable, "-m", "segmill", "info", str(tmp_path / "junk.dcm"), "--format",
                           "dicom_seg"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "", proc
    assert len(proc.stderr.strip().splitlines()) == 1 and "junk.dcm" in proc.stderr, proc.stderr


def test_frame_count_over_the_pixel_limit_is_refused_before_decoding(binary, tmp_path):
    path, _ = binary
    ds = pydicom.dcmread(str(path))
    ds.NumberOfFrames = 10**8
    huge = tmp_path / "huge.dcm"
    ds.save_as(str(huge))
    assert "pixel limit" in _refused(huge)
    assert "pixel limit" in _refused(path, env={"SEGMILL_MAX_PIXELS": "500"})


def test_threshold_and_axis_are_checked(binary):
    path, _ = binary
    for kw in ({"threshold": 0}, {"threshold": 1.5}, {"axis": 3}):
        with pytest.raises(segmill.errors.UsageError):
            segmill.read(path, "dicom_seg", **kw)


def test_a_missing_frame_position_is_an_empty_slice_and_an_irregular_one_is_refused(tmp_path):
    m = np.zeros((3, ROWS, COLS, 1), bool)
    m[:, 2:5, 2:5, 0] = True
    for last, want in ((7.5, [1, 1, 0, 1]), (7.0, None)):
        src = ct_series(3)
        src[2].ImagePositionPatient = [ORIGIN[0], ORIGIN[1], ORIGIN[2] + last]
        path = tmp_path / f"gap{last}.dcm"
        make_seg(path, m, ["a"], sources=src)
        if want is None:
            assert "regular 3-D grid" in _refused(path)
            continue
        ds = segmill.read(path, "dicom_seg")
        assert [len(it.annotations) for it in ds.items] == want
        assert ds.items[0].attributes["volume"]["spacing"] == pytest.approx([PIXEL[1], PIXEL[0], THICK])
        assert np.array_equal(per_slice(ds)[(3, 1)], m[2, :, :, 0])
