"""``segmill tile`` / ``untile``: the grid, clipping, area accounting, bounded memory, and the way back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio", reason="segmill tile on GeoTIFFs needs the geo extra (rasterio)")
pytest.importorskip("pyproj", reason="the geojson format needs the geo extra (pyproj)")
shapely = pytest.importorskip("shapely")

from click.testing import CliRunner
from PIL import Image

import segmill
from segmill.cli import main
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import encode
from segmill.tiling import chip_grid
from segmill.tiling.clip import region

ROOT = Path(__file__).resolve().parent.parent
# rasterio's window_transform multiplies with `*`, which affine 2.4+ flags as pending deprecation
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
BENCH = ROOT / "benchmarks" / "bench_tile.py"


def _cli(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


# ------------------------------------------------------------------ the grid
@pytest.mark.parametrize(("w", "h", "size", "overlap"), [(10_000, 10_000, 512, 64), (64, 48, 16, 4), (30, 7, 16, 0),
                                                         (513, 512, 512, 64), (5, 5, 16, 8)])
def test_chips_cover_the_image_and_their_cores_tile_it_once(w, h, size, overlap):
    chips = chip_grid(w, h, size, overlap)
    cover = np.zeros((h, w), np.int32) if w * h < 2e6 else None
    core_area = 0
    for c in chips:
        assert c.w == min(size, w) and c.h == min(size, h) and c.x + c.w <= w and c.y + c.h <= h
        x0, y0, x1, y1 = c.core
        assert c.x <= x0 < x1 <= c.x + c.w and c.y <= y0 < y1 <= c.y + c.h
        core_area += (x1 - x0) * (y1 - y0)
        if cover is not None:
            cover[y0:y1, x0:x1] += 1
    assert core_area == w * h
    if cover is not None:
        assert (cover == 1).all()


def test_the_10000_grid_has_23_chips_a_side():
    chips = chip_grid(10_000, 10_000, 512, 64)
    xs = sorted({c.x for c in chips})
    assert len(chips) == 23 * 23 and xs[:3] == [0, 448, 896] and xs[-1] == 10_000 - 512


# ------------------------------------------------------------------ tile and untile the fixture
@pytest.fixture
def tiled(tmp_path, fixtures_dir):
    out = tmp_path / "chips"
    res = _cli("tile", fixtures_dir / "geojson" / "basic", out, "--size", 24, "--overlap", 6, "--json", "-q")
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_tile_writes_georeferenced_chips_and_clipped_polygons(tiled, fixtures_dir):
    out, doc = tiled
    assert doc["chips"] == len(chip_grid(64, 48, 24, 6)) == 4 * 3
    with rasterio.open(fixtures_dir / "geojson" / "basic" / "scene.tif") as scene:
        full = scene.read()
        t = scene.transform
    chips = segmill.read(out / "annotations")
    assert len(chips.items) == 12
    for item in chips.items:
        tile = item.attributes["tile"]
        x, y = tile["x"], tile["y"]
        with rasterio.open(out / "images" / item.file_name) as chip:
            assert np.array_equal(chip.read(), full[:, y : y + 24, x : x + 24])  # the window's pixels
            assert chip.transform == t @ rasterio.Affine.translation(x, y)  # and its georeferencing
            assert chip.crs.to_epsg() == 32633
    assert set(doc["summary"]) == {"T101"}


def test_every_polygons_area_is_accounted_for(tiled, fixtures_dir):
    _, doc = tiled
    src = segmill.read(fixtures_dir / "geojson" / "basic")
    total = sum(region(a.geometry).area for a in src.items[0].annotations)
    acc = doc["accounting"]
    assert acc["objects"] == 3 and acc["area"] == pytest.approx(total, rel=1e-12)
    assert acc["kept"] == pytest.approx(total, rel=1e-9) and acc["dropped"] == 0 and acc["max_error"] < 1e-9
    assert acc["chips_area"] > total  # overlaps cut twice: why the accounting uses the cores


def _matched_iou(src_anns, back_anns):
    """IoU of each source polygon with the restored polygon of the same class overlapping it most."""
    out = []
    for a in src_anns:
        ra = region(a.geometry)
        best = max((ra.intersection(region(b.geometry)).area / ra.union(region(b.geometry)).area
                    for b in back_anns if b.category_id == a.category_id), default=0.0)
        out.append(best)
    return out


@pytest.mark.parametrize("to", ["geojson", "coco"])
def test_tile_then_untile_restores_the_polygons(tmp_path, fixtures_dir, to):
    src = fixtures_dir / "geojson" / "basic"
    assert _cli("tile", src, tmp_path / "c", "--size", 20, "--overlap", 4, "--to", to, "-q").exit_code == 0
    res = _cli("untile", tmp_path / "c", tmp_path / "back", "--to", "geojson", "--images", src, "--json", "-q")
    assert res.exit_code == 0, res.output
    assert "T201" in json.loads(res.stdout)["summary"]
    a, b = segmill.read(src), segmill.read(tmp_path / "back")
    assert len(b.items[0].annotations) == len(a.items[0].annotations) == 3
    assert min(_matched_iou(a.items[0].annotations, b.items[0].annotations)) > 1 - 1e-9
    assert sorted(region(x.geometry).area for x in b.items[0].annotations) == pytest.approx(
        sorted(region(x.geometry).area for x in a.items[0].annotations), rel=1e-9)
    # map coordinates come back too: the scene's georeferencing travelled in the chips' tile attribute
    assert b.items[0].attributes["geo"]["transform"] == a.items[0].attributes["geo"]["transform"]


def test_min_visible_drops_small_parts_and_reports_them(tmp_path, fixtures_dir):
    res = _cli("tile", fixtures_dir / "geojson" / "basic", tmp_path / "c", "--size", 16, "--min-visible", 0.3,
               "--json", "-q")
    doc = json.loads(res.stdout)
    assert doc["summary"]["T102"]["count"] > 0
    acc = doc["accounting"]
    assert acc["dropped"] > 0 and acc["kept"] + acc["dropped"] == pytest.approx(acc["area"], rel=1e-9)
    for r in doc["records"]:
        if r["code"] == "T102":
            assert r["visible"] < 0.3
        if r["code"] == "T101":
            assert 0.3 <= r["visible"] < 1


def test_masks_on_ordinary_images_are_cropped_like_numpy(tmp_path):
    rng = np.random.default_rng(3)
    src = tmp_path / "src"
    src.mkdir()
    img = rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)
    Image.fromarray(img).save(src / "a.png")
    masks = [rng.random((37, 53)) < 0.3, np.zeros((37, 53), bool)]
    masks[1][5:30, 10:40] = True
    anns = [Annotation(k + 1, 1, encode(m)) for k, m in enumerate(masks)]
    ds = Dataset([Category(1, "x")], [Item(1, "a.png", 53, 37, anns)], meta={"image_root": str(src)})
    segmill.write(ds, tmp_path / "in.json", "coco")
    res = _cli("tile", tmp_path / "in.json", tmp_path / "c", "--size", 16, "--overlap", 3, "--images", src,
               "--json", "-q")
    assert res.exit_code == 0, res.output
    chips = segmill.read(tmp_path / "c" / "annotations.json")
    for item in chips.items:
        t = item.attributes["tile"]
        x, y = t["x"], t["y"]
        chip_img = np.asarray(Image.open(tmp_path / "c" / "images" / item.file_name))
        assert np.array_equal(chip_img, img[y : y + 16, x : x + 16])
        got = {a.attributes["source_annotation_id"]: a.to_rle(item.height, item.width).decode().astype(bool)
               for a in item.annotations}
        for k, m in enumerate(masks, 1):
            crop = m[y : y + 16, x : x + 16]
            assert np.array_equal(got.get(k, np.zeros_like(crop)), crop)
    assert json.loads(res.stdout)["accounting"]["max_error"] == 0


def test_bad_settings_and_missing_images_exit_2(tmp_path, fixtures_dir):
    src = fixtures_dir / "geojson" / "basic"
    res = _cli("tile", src, tmp_path / "a", "--size", 16, "--overlap", 16)
    assert res.exit_code == 2 and "--overlap" in res.output and not (tmp_path / "a").exists()
    ds = Dataset([Category(1, "x")], [Item(1, "gone.png", 8, 8, [Annotation(1, 1, Polygons([[1, 1, 5, 1, 5, 5]]))])])
    segmill.write(ds, tmp_path / "in.json", "coco")
    res = _cli("tile", tmp_path / "in.json", tmp_path / "b", "--size", 4)
    assert res.exit_code == 2 and "not found" in res.output and not (tmp_path / "b").exists()
    res = _cli("untile", tmp_path / "in.json", tmp_path / "c")
    assert res.exit_code == 2 and "tile" in res.output


# ------------------------------------------------------------------ a 10,000 x 10,000 scene in bounded memory
_TILE_RSS = """
import json, resource, sys
import numba  # loaded in both runs alike (the JSON depth kernel loads it for big files)
from click.testing import CliRunner
from segmill.cli import main
res = CliRunner().invoke(main, ["tile", sys.argv[1], sys.argv[2], "--size", "512", "--overlap", "64", "--to", "coco",
                                "--json", "-q"])
assert res.exit_code == 0, res.output
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, **json.loads(res.stdout)}))
"""


def _tile_in_subprocess(scene_dir: Path, dst: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _TILE_RSS, str(scene_dir), str(dst)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_a_10000_pixel_scene_is_tiled_in_bounded_memory_with_every_area_accounted(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_tile", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.make_scene(tmp_path / "big", 300)
    big = _tile_in_subprocess(tmp_path / "big", tmp_path / "big_chips")
    monkeypatch.setattr(bench, "SIDE", 1024)
    bench.make_scene(tmp_path / "small", 300)
    small = _tile_in_subprocess(tmp_path / "small", tmp_path / "small_chips")
    assert big["chips"] == 529
    decoded_mib = 10_000 * 10_000 * 3 / 2**20  # 286 MiB: what reading the scene whole would take
    grown_mib = (big["rss_kib"] - small["rss_kib"]) / 1024
    assert grown_mib < decoded_mib / 3, (big["rss_kib"], small["rss_kib"])
    acc = big["accounting"]
    assert acc["objects"] == 300 and acc["max_error"] < 1e-9
    assert acc["kept"] == pytest.approx(acc["area"], rel=1e-9) and acc["dropped"] == 0
    with rasterio.open(tmp_path / "big_chips" / "images" / "scene_x9488_y9488.tif") as chip, \
            rasterio.open(tmp_path / "big" / "scene.tif") as scene:
        window = rasterio.windows.Window(9488, 9488, 512, 512)
        assert np.array_equal(chip.read(), scene.read(window=window))
        assert chip.transform == scene.window_transform(window)


def test_predictions_on_the_chips_as_coco_results_go_back_to_the_scene(tmp_path, fixtures_dir):
    src = fixtures_dir / "geojson" / "basic"
    assert _cli("tile", src, tmp_path / "c", "--size", 20, "--overlap", 4, "--to", "coco", "-q").exit_code == 0
    chips = json.loads((tmp_path / "c" / "annotations.json").read_text())
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": a["segmentation"],
                "score": 0.5 + 0.01 * k} for k, a in enumerate(chips["annotations"])]
    (tmp_path / "results.json").write_text(json.dumps(results))
    res = _cli("untile", tmp_path / "results.json", tmp_path / "back.json", "--chips-index",
               tmp_path / "c" / "annotations.json", "-q")
    assert res.exit_code == 0, res.output
    a, b = segmill.read(src), segmill.read(tmp_path / "back.json")
    assert [i.file_name for i in b.items] == ["scene.tif"] and len(b.items[0].annotations) == 3
    assert min(_matched_iou(a.items[0].annotations, b.items[0].annotations)) > 1 - 1e-9
    assert all(x.score is not None for x in b.items[0].annotations)  # the best score of the joined parts


def test_masks_go_back_to_the_image_cut_to_the_cores(tmp_path):
    rng = np.random.default_rng(4)
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(rng.integers(0, 255, (30, 41), dtype=np.uint8)).save(src / "m.png")
    mask = rng.random((30, 41)) < 0.4
    ds = Dataset([Category(1, "x")], [Item(1, "m.png", 41, 30, [Annotation(1, 1, encode(mask))])],
                 meta={"image_root": str(src)})
    segmill.write(ds, tmp_path / "in.json", "coco")
    assert _cli("tile", tmp_path / "in.json", tmp_path / "c", "--size", 16, "--overlap", 5, "--images", src,
                "-q").exit_code == 0
    res = _cli("untile", tmp_path / "c", tmp_path / "back.json", "--json", "-q")
    assert res.exit_code == 0, res.output
    assert "T202" in json.loads(res.stdout)["summary"]
    back = segmill.read(tmp_path / "back.json")
    parts = [a.to_rle(30, 41).decode().astype(bool) for a in back.items[0].annotations]
    assert np.array_equal(np.logical_or.reduce(parts), mask)
    assert sum(int(p.sum()) for p in parts) == int(mask.sum())  # the cores do not overlap: no pixel twice
