"""Surface distances (Dice, HD, HD95, ASSD, surface Dice) against medpy, SimpleITK and brute force.

Oracles: ``medpy.metric.binary`` (hd, hd95, assd: the surface definition
segmill follows), SimpleITK's ``HausdorffDistanceImageFilter`` (which
measures all foreground voxels, not surfaces: see the ring and hole cases),
``LabelOverlapMeasuresImageFilter`` (Dice), ``STAPLEImageFilter`` (STAPLE
on volumes) and a ``scipy.spatial.cKDTree`` over surface voxel coordinates
(surface Dice).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from segmill.agree import compare, report_html, report_json, report_text, staple_binary
from segmill.agree.compare import accumulate
from segmill.agree.context import RunContext
from segmill.agree.metrics import METRICS
from segmill.agree.pairing import pair_datasets
from segmill.agree.settings import AgreeSettings
from segmill.agree.surface import (binary_surface_metrics, surface_distances, surface_metrics,
                                   surface_of)
from segmill.cli import main
from segmill.errors import InputError
from segmill.geometry import Mask
from segmill.model import Annotation, Category, Dataset, Item

mb = pytest.importorskip("medpy.metric.binary")
sitk = pytest.importorskip("SimpleITK")

SPACING = (0.7, 1.3, 2.5)
REL = 1e-6


def blobs(seed, shape, sigma=1.5, level=0.5):
    """Two random smooth binary masks (both nonempty) of ``shape``."""
    rng = np.random.default_rng(seed)
    while True:
        a = ndi.gaussian_filter(rng.random(shape), sigma) > level
        b = ndi.gaussian_filter(rng.random(shape), sigma) > level
        if a.any() and b.any():
            return a, b


def close(value, want, rel=REL):
    return abs(value - want) <= rel * max(abs(want), 1e-12)


def sitk_image(mask, spacing):
    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    img.SetSpacing(tuple(float(s) for s in spacing[::-1]))  # SimpleITK's axes are x, y, z
    return img


def sitk_hausdorff(a, b, spacing):
    f = sitk.HausdorffDistanceImageFilter()
    f.Execute(sitk_image(a, spacing), sitk_image(b, spacing))
    return f.GetHausdorffDistance()


def foreground_hausdorff(a, b, spacing):
    """Hausdorff distance between the foreground voxel sets (not their surfaces)."""
    d_ab = ndi.distance_transform_edt(~b, sampling=spacing)[a]
    d_ba = ndi.distance_transform_edt(~a, sampling=spacing)[b]
    return max(d_ab.max(), d_ba.max())


# ---- HD, HD95, ASSD against medpy -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_3d_distances_equal_medpy_with_anisotropic_spacing(seed):
    shape = tuple(int(n) for n in np.random.default_rng(100 + seed).integers(8, 28, 3))
    a, b = blobs(seed, shape)
    s = binary_surface_metrics(a, b, spacing=SPACING)
    assert close(s.hd95, mb.hd95(a, b, SPACING))
    assert close(s.assd, mb.assd(a, b, SPACING))
    assert close(s.hd, mb.hd(a, b, SPACING))
    assert close(s.dice, mb.dc(a, b))


@pytest.mark.parametrize("seed", range(6))
def test_2d_distances_equal_medpy_in_pixels_and_with_spacing(seed):
    a, b = blobs(seed, (40, 57), sigma=2.0)
    for spacing in (None, (0.6, 1.7)):
        s = binary_surface_metrics(a, b, spacing=spacing)
        assert close(s.hd95, mb.hd95(a, b, spacing)), spacing
        assert close(s.assd, mb.assd(a, b, spacing)), spacing
        assert close(s.hd, mb.hd(a, b, spacing)), spacing


def test_objects_on_the_array_edge_have_their_edge_voxels_on_the_surface_as_in_medpy():
    a = np.zeros((12, 14, 9), bool)
    a[:7, 3:14, :] = True  # touches five faces of the array
    b = np.zeros_like(a)
    b[2:12, 0:9, 2:6] = True
    s = binary_surface_metrics(a, b, spacing=SPACING)
    assert close(s.hd95, mb.hd95(a, b, SPACING)) and close(s.assd, mb.assd(a, b, SPACING))
    assert close(s.hd, mb.hd(a, b, SPACING))
    # the surface is the mask minus its erosion with border_value=0
    want = a ^ ndi.binary_erosion(a, ndi.generate_binary_structure(3, 1))
    assert (surface_of(a) == want).all()


def test_cropping_to_the_objects_changes_nothing():
    a, b = blobs(3, (14, 16, 12))
    big_a = np.zeros((40, 50, 30), bool)
    big_b = np.zeros_like(big_a)
    big_a[10:24, 20:36, 9:21] = a
    big_b[10:24, 20:36, 9:21] = b
    padded = binary_surface_metrics(big_a, big_b, spacing=SPACING)
    assert close(padded.hd95, mb.hd95(big_a, big_b, SPACING)) and close(padded.hd, mb.hd(big_a, big_b, SPACING))
    assert close(padded.assd, mb.assd(big_a, big_b, SPACING))


def test_surface_distances_are_medpys_directed_lists():
    a, b = blobs(8, (10, 12, 9))
    d_ab, d_ba = surface_distances(a, b, spacing=SPACING)
    # one distance per surface voxel; the directed means are medpy's asd both ways
    assert d_ab.size == surface_of(a).sum() and d_ba.size == surface_of(b).sum()
    assert close(max(d_ab.max(), d_ba.max()), mb.hd(a, b, SPACING))
    assert close(d_ab.mean(), mb.asd(a, b, SPACING)) and close(d_ba.mean(), mb.asd(b, a, SPACING))


# ---- HD against SimpleITK: foreground voxels, not surfaces ------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_simpleitk_hausdorff_is_the_distance_between_foreground_voxel_sets(seed):
    a, b = blobs(20 + seed, (16, 18, 11))
    assert close(sitk_hausdorff(a, b, SPACING), foreground_hausdorff(a, b, SPACING))


def test_overlapping_convex_blobs_give_simpleitks_hausdorff_distance():
    zz, yy, xx = np.mgrid[:30, :34, :26]
    a = ((zz - 14) / 9.0) ** 2 + ((yy - 16) / 11.0) ** 2 + ((xx - 12) / 8.0) ** 2 <= 1
    b = ((zz - 16) / 8.0) ** 2 + ((yy - 18) / 10.0) ** 2 + ((xx - 13) / 9.0) ** 2 <= 1
    s = binary_surface_metrics(a, b, spacing=SPACING)
    assert close(s.hd, sitk_hausdorff(a, b, SPACING)) and close(s.hd, mb.hd(a, b, SPACING))


def test_a_disk_inside_a_ring_simpleitk_is_larger():
    # the disk's centre is 10 px from the ring; no surface pixel of either is that far from the other's surface
    yy, xx = np.mgrid[:41, :41]
    r = np.hypot(yy - 20, xx - 20)
    disk, ring = r <= 5, (r >= 10) & (r <= 12)
    s = binary_surface_metrics(disk, ring)
    assert sitk_hausdorff(disk, ring, (1.0, 1.0)) == pytest.approx(10.0, rel=REL)
    assert close(s.hd, mb.hd(disk, ring)) and s.hd < 9.0


def test_a_disk_against_the_same_disk_with_a_hole_simpleitk_is_smaller():
    # the hole's edge is a surface 9 px from the disk's rim, but every hole pixel is within 2 px of the other set
    yy, xx = np.mgrid[:41, :41]
    r = np.hypot(yy - 20, xx - 20)
    disk, holed = r <= 12, (r <= 12) & (r >= 2)
    s = binary_surface_metrics(disk, holed)
    assert sitk_hausdorff(disk, holed, (1.0, 1.0)) == pytest.approx(2.0, rel=REL)
    assert close(s.hd, mb.hd(disk, holed)) and s.hd > 8.0


@pytest.mark.parametrize("seed", range(4))
def test_dice_equals_simpleitk_label_overlap(seed):
    a, b = blobs(40 + seed, (15, 17, 13))
    f = sitk.LabelOverlapMeasuresImageFilter()
    f.Execute(sitk_image(a, SPACING), sitk_image(b, SPACING))
    assert close(binary_surface_metrics(a, b, spacing=SPACING).dice, f.GetDiceCoefficient())


# ---- surface Dice against brute force ----------------------------------------------------------------------

def brute_surface_dice(a, b, spacing, tolerance):
    """Every surface voxel's nearest partner found by a k-d tree over physical coordinates."""
    sp = np.asarray(spacing, float)
    pa = np.argwhere(surface_of(a)) * sp
    pb = np.argwhere(surface_of(b)) * sp
    d_ab, _ = cKDTree(pb).query(pa)
    d_ba, _ = cKDTree(pa).query(pb)
    both = np.concatenate([d_ab, d_ba])
    # a distance within rounding of the tolerance would make the count ambiguous: keep the test honest
    assert not np.any(np.abs(both - tolerance) < 1e-9), "pick another tolerance"
    return np.count_nonzero(both <= tolerance) / both.size


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("tolerance", [0.5, 1.0, 2.2, 3.7])
def test_surface_dice_equals_brute_force(seed, tolerance):
    a, b = blobs(60 + seed, (12, 14, 10))
    s = binary_surface_metrics(a, b, spacing=SPACING, tolerance=tolerance)
    want = brute_surface_dice(a, b, SPACING, tolerance)
    assert s.surface_dice == pytest.approx(want, abs=1e-12)
    assert 0.0 < s.surface_dice <= 1.0


def test_surface_dice_at_tolerance_zero_is_the_shared_surface_fraction():
    a, b = blobs(70, (11, 13, 9))
    sa, sb = surface_of(a), surface_of(b)
    want = 2 * np.count_nonzero(sa & sb) / (sa.sum() + sb.sum())
    assert binary_surface_metrics(a, b, spacing=SPACING, tolerance=0).surface_dice == pytest.approx(want)


def test_identical_masks_agree_perfectly():
    a, _ = blobs(71, (9, 10, 11))
    s = binary_surface_metrics(a, a, spacing=SPACING, tolerance=0)
    assert (s.dice, s.hd, s.hd95, s.assd, s.surface_dice) == (1.0, 0.0, 0.0, 0.0, 1.0)


# ---- empty masks, label maps, arguments --------------------------------------------------------------------

def test_both_empty_gives_none_everywhere_and_valid_json():
    z = np.zeros((4, 5, 6), bool)
    s = binary_surface_metrics(z, z, spacing=SPACING)
    assert (s.dice, s.hd, s.hd95, s.assd, s.surface_dice) == (None, None, None, None, None)
    json.dumps(s.to_dict(), allow_nan=False)


def test_one_empty_gives_zero_overlap_and_no_distance():
    a = np.zeros((6, 7), bool)
    a[1:4, 2:5] = True
    for x, y in ((a, ~np.ones_like(a)), (~np.ones_like(a), a)):
        s = binary_surface_metrics(x, y)
        assert (s.dice, s.surface_dice, s.hd, s.hd95, s.assd) == (0.0, 0.0, None, None, None)
        assert {s.voxels_a, s.voxels_b} == {0, 9} and {s.surface_a, s.surface_b} == {0, 8}
        json.dumps(s.to_dict(), allow_nan=False)
    with pytest.raises(InputError, match="nonempty"):
        surface_distances(a, np.zeros_like(a))


def test_label_maps_give_one_row_per_label_equal_to_the_binary_metrics():
    rng = np.random.default_rng(9)
    la = rng.integers(0, 4, (10, 12, 8)).astype(np.uint8)
    lb = ndi.median_filter(la, size=3)
    lb[lb == 3] = 0  # label 3 only in a
    rows = surface_metrics(la, lb, spacing=SPACING, tolerance=1.5)
    assert [r["label"] for r in rows] == [1, 2, 3]
    for r in rows:
        want = binary_surface_metrics(la == r["label"], lb == r["label"], spacing=SPACING, tolerance=1.5)
        assert r == {"label": r["label"], **want.to_dict()}
        if r["label"] < 3:
            m1, m2 = la == r["label"], lb == r["label"]
            assert close(r["hd95"], mb.hd95(m1, m2, SPACING)) and close(r["assd"], mb.assd(m1, m2, SPACING))
    assert rows[2]["hd"] is None and rows[2]["dice"] == 0.0
    # asked-for labels come in the order given; a label in neither map is a row of None
    asked = surface_metrics(la.astype(np.float32), lb.astype(np.int64) - 1, labels=[7, 2], spacing=SPACING)
    assert [r["label"] for r in asked] == [7, 2] and asked[0]["dice"] is None


def test_label_values_beyond_the_fast_path_and_negative_labels_work():
    a = np.zeros((8, 9), np.int64)
    b = np.zeros_like(a)
    a[1:4, 1:5] = 10**9
    b[2:5, 1:5] = 10**9
    a[5:7, 5:8] = -2
    b[5:8, 6:8] = -2
    rows = {r["label"]: r for r in surface_metrics(a, b)}
    assert set(rows) == {-2, 10**9}
    assert close(rows[10**9]["hd"], mb.hd(a == 10**9, b == 10**9))
    assert close(rows[-2]["assd"], mb.assd(a == -2, b == -2))


@pytest.mark.parametrize("kwargs, message", [
    ({"spacing": (1.0, 1.0)}, "one voxel size per axis"),
    ({"spacing": (1.0, 0.0, 1.0)}, "positive"),
    ({"spacing": (1.0, float("nan"), 1.0)}, "finite"),
    ({"spacing": "1,1,1"}, "one voxel size"),
    ({"tolerance": -1}, "must not be negative"),
    ({"tolerance": float("inf")}, "finite"),
    ({"tolerance": "2"}, "number"),
])
def test_bad_arguments_are_input_errors(kwargs, message):
    a = np.ones((3, 3, 3), bool)
    with pytest.raises(InputError, match=message):
        binary_surface_metrics(a, a, **kwargs)


def test_bad_arrays_are_input_errors():
    with pytest.raises(InputError, match="differ in shape"):
        binary_surface_metrics(np.ones((3, 3)), np.ones((3, 4)))
    with pytest.raises(InputError, match="1 to 3 axes"):
        binary_surface_metrics(np.ones((2, 2, 2, 2)), np.ones((2, 2, 2, 2)))
    with pytest.raises(InputError, match="numeric"):
        surface_metrics(np.array(["a"]), np.array(["b"]))
    with pytest.raises(InputError, match="list of label values"):
        surface_metrics(np.ones((2, 2)), np.ones((2, 2)), labels="1")


# ---- STAPLE on volumes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_staple_on_3d_volumes_equals_simpleitk(seed):
    rng = np.random.default_rng(200 + seed)
    truth, _ = blobs(200 + seed, (9, 12, 10), sigma=1.2)
    raters = np.array([np.where(truth, rng.random(truth.shape) < sens, rng.random(truth.shape) > spec)
                       for sens, spec in ((0.95, 0.98), (0.85, 0.99), (0.7, 0.9))])
    f = sitk.STAPLEImageFilter()
    f.SetForegroundValue(1.0)
    want = sitk.GetArrayFromImage(f.Execute([sitk_image(r, SPACING) for r in raters]))
    prob, res = staple_binary(raters)
    assert prob.shape == truth.shape
    np.testing.assert_allclose(prob, want, atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.sensitivity, f.GetSensitivity(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(res.specificity, f.GetSpecificity(), atol=1e-6, rtol=0)


# ---- the agreement metric ---------------------------------------------------------------------------------

def annotator(seed, n_images=3, h=30, w=40):
    """Random cat (left part) and dog (right part) masks per image; some images lack a category."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_images):
        anns = []
        for cid, cols in ((1, slice(0, 22)), (2, slice(18, 40))):
            if rng.random() < 0.2:
                continue
            m = np.zeros((h, w), bool)
            m[:, cols] = ndi.gaussian_filter(rng.random((h, w)), 2.0)[:, cols] > 0.5
            if cid == 2:
                m[:, :22] = False  # keep the categories apart within one annotator
            if m.any():
                anns.append(Annotation(len(anns) + 1, cid, Mask(m)))
        items.append(Item(i + 1, f"im{i}.png", w, h, anns))
    return Dataset([Category(1, "cat"), Category(2, "dog")], items)


def masks_of(ds, image_index, cid, h=30, w=40):
    m = np.zeros((h, w), bool)
    for a in ds.items[image_index].annotations:
        if a.category_id == cid:
            m |= a.geometry.array
    return m


def test_the_metric_is_off_by_default_and_leaves_the_report_unchanged():
    dss = [annotator(1), annotator(2)]
    d = compare(dss).to_dict()
    assert "surface" not in d["pairs"][0] and "hd95" not in d and "surface_tolerance" not in d["settings"]
    assert "surface" in [m.name for m in METRICS]
    assert "surface" not in report_text.render(compare(dss))


def test_the_metric_aggregates_per_image_numbers_as_documented():
    dss = [annotator(11), annotator(12)]
    rep = compare(dss, names=["x", "y"], surface_tolerance=1.5)
    d = rep.to_dict()
    pair = d["pairs"][0]["surface"]
    assert d["settings"]["surface_tolerance"] == 1.5 and pair["tolerance"] == 1.5
    for cid, name in ((1, "cat"), (2, "dog")):
        dice, sdice, hd95, assd, hd, one_sided = [], [], [], [], [], 0
        for i in range(3):
            a, b = masks_of(dss[0], i, cid), masks_of(dss[1], i, cid)
            if not a.any() and not b.any():
                continue
            if not (a.any() and b.any()):
                dice.append(0.0), sdice.append(0.0)
                one_sided += 1
                continue
            dice.append(mb.dc(a, b))
            sdice.append(brute_surface_dice(a, b, (1.0, 1.0), 1.5))
            hd95.append(mb.hd95(a, b)), assd.append(mb.assd(a, b)), hd.append(mb.hd(a, b))
        row = pair["per_class"][name]
        assert row["images"] == len(dice) and row["one_sided"] == one_sided
        assert close(row["dice"], np.mean(dice)) and close(row["surface_dice"], np.mean(sdice))
        if hd:
            assert close(row["hd95"], np.mean(hd95)) and close(row["assd"], np.mean(assd))
            assert close(row["hd"], max(hd))
    rows = pair["per_class"].values()
    assert close(pair["hd95"], np.mean([r["hd95"] for r in rows if r["hd95"] is not None]))
    assert d["hd95"] == pair["hd95"] and d["surface_dice"] == pair["surface_dice"]
    first = d["per_image"][0]["pairs"]["x vs y"]
    assert "surface_dice" in first and "hd95" in first
    json.loads(report_json.render(rep))  # no NaN anywhere


def test_splitting_the_images_and_merging_gives_the_same_numbers():
    dss = [annotator(s, n_images=4) for s in (21, 22, 23)]
    pairing = pair_datasets(dss, None)
    run = RunContext.of(pairing, AgreeSettings(surface_tolerance=2.0))
    metric = next(m for m in METRICS if m.name == "surface")
    whole = accumulate(run, pairing.groups, (metric,))
    parts = accumulate(run, pairing.groups[:1], (metric,)).merge(accumulate(run, pairing.groups[1:], (metric,)),
                                                                 (metric,))
    fa, fb = metric.finalize(whole.states[0], run), metric.finalize(parts.states[0], run)
    assert json.dumps(fa.__dict__, sort_keys=True) == json.dumps(fb.__dict__, sort_keys=True)


def test_text_and_html_reports_show_the_rows():
    rep = compare([annotator(31), annotator(32)], names=["x", "y"], surface_tolerance=1.0)
    text = report_text.render(rep)
    assert "surface distances per category, in pixels" in text and "HD95" in text
    assert any(line.startswith("x vs y") and " cat " in line for line in text.splitlines())
    page = report_html.render(rep)
    assert "<h2>Surface distances per category (pixels)</h2>" in page and "<th>HD95 (px)</th>" in page


def test_settings_refuse_a_bad_surface_tolerance():
    for bad, message in ((-1, "must not be negative"), (float("nan"), "finite"), ("x", "finite"), (True, "finite")):
        with pytest.raises(InputError, match=message):
            AgreeSettings(surface_tolerance=bad)
    assert AgreeSettings(surface_tolerance=2).to_dict()["surface_tolerance"] == 2.0


@pytest.fixture()
def agree_paths(fixtures_dir):
    d = fixtures_dir / "agree"
    return [str(d / "ann_a.json"), str(d / "ann_b.json")]


def test_cli_surface_flag_alone_means_one_pixel(agree_paths, tmp_path):
    out = tmp_path / "r.json"
    r = CliRunner().invoke(main, ["agree", *agree_paths, "--output-format", "json", "-o", str(out),
                                  "--surface", "--quiet"])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["settings"]["surface_tolerance"] == 1.0 and 0.0 <= d["surface_dice"] <= 1.0
    assert set(d["pairs"][0]["surface"]["per_class"]) <= set(d["categories"])


def test_cli_tolerance_implies_the_metric_and_is_validated(agree_paths):
    r = CliRunner().invoke(main, ["agree", *agree_paths, "--surface-tolerance", "2.5", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "within 2.5 px" in r.output and "surface distances per category" in r.output
    r = CliRunner().invoke(main, ["agree", *agree_paths, "--surface-tolerance=-1", "--surface", "--quiet"])
    assert r.exit_code == 2 and "must not be negative" in r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(main, ["agree", *agree_paths, "--quiet"])
    assert r.exit_code == 0 and "surface" not in r.output
