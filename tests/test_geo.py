"""GeoJSON over GeoTIFF scenes: pixel coordinates, reprojection, the COCO round trip, holes, layouts, refusals.

Oracles: rasterio's own ``~transform * (x, y)`` for pixel coordinates,
pyproj's Transformer directly for reprojection, pycocotools for the pixels of
polygons with holes.
"""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio", reason="the geojson format needs the geo extra (rasterio)")
pyproj = pytest.importorskip("pyproj", reason="the geojson format needs the geo extra (pyproj)")
mask_util = pytest.importorskip("pycocotools.mask", reason="pycocotools is the pixel oracle")

from click.testing import CliRunner
from rasterio.transform import from_origin

import segmill
from segmill.cli import main
from segmill.errors import InputError, UsageError
from segmill.geometry import Mask, Polygons, Shape
from segmill.model import Annotation, Category, Dataset, Item

# affine 2.4+ prefers `@`; the oracle is written as rasterio documents it (`~transform * (x, y)`)
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def make_scene(path, crs, transform, width=64, height=48, count=1):
    """A small GeoTIFF made with rasterio."""
    data = (np.arange(width * height * count) % 251).astype("uint8").reshape(count, height, width)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=count, dtype="uint8", crs=crs,
                       transform=transform, compress="deflate") as dst:
        dst.write(data)


def random_polygons(rng, transform, n, width=64, height=48):
    """``n`` random convex-ish polygons as map-coordinate rings (closed), inside the scene."""
    out = []
    for _ in range(n):
        cx, cy = rng.uniform(8, width - 8), rng.uniform(8, height - 8)
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 9))))
        r = rng.uniform(2, 7, len(angles))
        ring = [transform * (cx + ri * np.cos(a), cy + ri * np.sin(a)) for a, ri in zip(angles, r)]
        out.append([list(p) for p in ring] + [list(ring[0])])
    return out


def write_geojson(path, rings, crs_name=None, props=None):
    feats = [{"type": "Feature", "properties": dict(props or {}, **{"class": "building" if k % 2 else "field"}),
              "geometry": {"type": "Polygon", "coordinates": [r]}} for k, r in enumerate(rings)]
    doc = {"type": "FeatureCollection", "features": feats}
    if crs_name:
        doc["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(doc))


CASES = {
    "utm33": ("EPSG:32633", from_origin(500000.0, 5800000.0, 0.5, 0.5), "EPSG:32633"),
    "wgs84": ("EPSG:4326", from_origin(13.0, 52.5, 1e-5, 1e-5), None),  # RFC 7946: no crs member = CRS84
}


@pytest.fixture(params=sorted(CASES))
def scene(request, tmp_path):
    crs, t, name = CASES[request.param]
    folder = tmp_path / "scenes"
    folder.mkdir()
    make_scene(folder / "s.tif", crs, t)
    rings = random_polygons(np.random.default_rng(5), t, 12)
    write_geojson(folder / "s.geojson", rings, name)
    return folder, t, rings


def test_pixel_coordinates_are_rasterios_inverse_transform_of_the_map_coordinates(scene):
    folder, t, rings = scene
    ds = segmill.read(folder)
    assert ds.meta["source_format"] == "geojson"
    (item,) = ds.items
    assert (item.width, item.height) == (64, 48)
    inv = ~t
    for ann, ring in zip(item.annotations, rings):
        want = np.array([inv * (x, y) for x, y in ring[:-1]])
        assert np.array_equal(ann.geometry.parts[0], want)  # bit for bit: the same operations


def test_coco_to_geojson_restores_map_coordinates_within_1e9_pixel(scene, tmp_path):
    folder, t, rings = scene
    ds = segmill.read(folder)
    segmill.write(ds, tmp_path / "c.json", "coco")
    coco = segmill.read(tmp_path / "c.json")
    assert coco.items[0].attributes["geo"]["transform"] == list(t)[:6]  # kept through COCO's image attributes
    report = segmill.write(coco, tmp_path / "g", "geojson", image_root=folder)
    assert not report.losses, report.summary()
    doc = json.loads((tmp_path / "g" / "s.geojson").read_text())
    assert doc.get("crs") == json.loads((folder / "s.geojson").read_text()).get("crs")
    inv = ~t
    for feat, ring in zip(doc["features"], rings):
        got = np.array([inv * tuple(p) for p in feat["geometry"]["coordinates"][0]])
        want = np.array([inv * tuple(p) for p in ring])
        # the writer may start the ring elsewhere or turn it: compare as sets of vertices
        assert len(got) == len(want)
        d = np.abs(got[:, None, :] - want[None, :, :]).max(axis=2).min(axis=1)
        assert d.max() < 1e-9, d.max()
    back = segmill.read(tmp_path / "g")
    for a, b in zip(ds.items[0].annotations, back.items[0].annotations):
        assert abs(a.geometry.area - b.geometry.area) < 1e-9 * max(1.0, a.geometry.area)


def test_vector_in_4326_over_a_utm_scene_is_reprojected_as_pyproj_does(tmp_path):
    t = from_origin(500000.0, 5800000.0, 0.5, 0.5)
    make_scene(tmp_path / "s.tif", "EPSG:32633", t)
    utm_rings = random_polygons(np.random.default_rng(9), t, 6)
    to_ll = pyproj.Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    ll_rings = [[list(to_ll.transform(x, y)) for x, y in r] for r in utm_rings]
    for name in ("EPSG:4326", None):  # GeoJSON 2008's crs member, and RFC 7946's implicit CRS84
        folder = tmp_path / f"v{name is None}"
        folder.mkdir()
        shutil.copyfile(tmp_path / "s.tif", folder / "s.tif")
        write_geojson(folder / "s.geojson", ll_rings, name)
        ds = segmill.read(folder)
        to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
        for ann, ring in zip(ds.items[0].annotations, ll_rings):
            xs, ys = to_utm.transform([p[0] for p in ring[:-1]], [p[1] for p in ring[:-1]])
            want = np.array([~t * (x, y) for x, y in zip(xs, ys)])
            assert np.abs(ann.geometry.parts[0] - want).max() < 1e-9
        segmill.write(ds, tmp_path / f"out{name is None}", "geojson")
        doc = json.loads((tmp_path / f"out{name is None}" / "s.geojson").read_text())
        for feat, ring in zip(doc["features"], ll_rings):
            got = np.array(feat["geometry"]["coordinates"][0])
            d = np.abs(got[:, None, :] - np.array(ring)[None, :, :]).max(axis=2).min(axis=1)
            assert d.max() < 1e-9  # degrees: written back in the vector file's CRS


def _oracle(parts, h, w):
    return mask_util.decode(mask_util.merge(mask_util.frPyObjects(parts, h, w))).astype(bool)


def test_holes_are_kept_exactly_under_the_pixel_rule(tmp_path):
    t = from_origin(0.0, 48.0, 1.0, 1.0)
    src = tmp_path / "in"
    src.mkdir()
    make_scene(src / "s.tif", None, t)  # no CRS: map coordinates are pixel corners flipped in y
    ext = [[4.3, 4.1], [40.7, 4.1], [40.7, 30.2], [4.3, 30.2], [4.3, 4.1]]
    hole = [[10.1, 10.2], [10.1, 20.4], [30.6, 20.4], [30.6, 10.2], [10.1, 10.2]]
    to_map = [[list(t * tuple(p)) for p in ring] for ring in (ext, hole)]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"class": "yard"}, "geometry": {"type": "Polygon", "coordinates": to_map}}]}
    (src / "s.geojson").write_text(json.dumps(doc))
    ds = segmill.read(src)
    ann = ds.items[0].annotations[0]
    want = _oracle([[v for p in ext[:-1] for v in p]], 48, 64) & ~_oracle([[v for p in hole[:-1] for v in p]], 48, 64)
    assert np.array_equal(ann.to_rle(48, 64).decode().astype(bool), want)
    assert ann.geometry.area == pytest.approx(36.4 * 26.1 - 20.5 * 10.2)
    segmill.write(ds, tmp_path / "out", "geojson")
    rings = json.loads((tmp_path / "out" / "s.geojson").read_text())["features"][0]["geometry"]["coordinates"]
    assert len(rings) == 2  # exterior and hole again, not the bridged ring
    back = segmill.read(tmp_path / "out")
    assert np.array_equal(back.items[0].annotations[0].to_rle(48, 64).decode().astype(bool), want)


def test_the_fixture_reads_with_its_classes_attributes_and_georeferencing(fixtures_dir):
    ds = segmill.read(fixtures_dir / "geojson" / "basic")
    assert [c.name for c in ds.categories] == ["building", "field"]
    (item,) = ds.items
    geo = item.attributes["geo"]
    assert (geo["epsg"], geo["transform"], geo["width"], geo["height"]) == (
        32633, [2.0, 0.0, 500000.0, 0.0, -2.0, 5800096.0], 64, 48)
    assert geo["vector_crs"] == "urn:ogc:def:crs:EPSG::32633"
    b1, f1, _b2 = item.annotations
    assert b1.attributes == {"height_m": 7.5, "feature_id": "b1"}
    assert len(f1.geometry.parts) == 2 and f1.geometry.area == 30 * 20 + 0.5 * 15 * 14
    assert b1.geometry.area == 16 * 12 - 6 * 4  # a hole


def test_info_names_the_format_with_a_reason(fixtures_dir):
    res = CliRunner().invoke(main, ["info", str(fixtures_dir / "geojson" / "basic")])
    assert res.exit_code == 0, res.output
    assert "geojson" in res.output


def test_one_vector_file_names_its_scenes_in_a_property(tmp_path):
    t = from_origin(500000.0, 5800000.0, 1.0, 1.0)
    (tmp_path / "img").mkdir()
    make_scene(tmp_path / "img" / "a.tif", "EPSG:32633", t)
    make_scene(tmp_path / "img" / "b.tif", "EPSG:32633", t, width=20, height=10)
    sq = [list(t * p) for p in [(1, 1), (5, 1), (5, 5), (1, 5), (1, 1)]]
    feats = [{"type": "Feature", "properties": {"kind": k, "scene": s}, "geometry": {"type": "Polygon",
                                                                                      "coordinates": [sq]}}
             for k, s in (("roof", "a.tif"), ("road", "b.tif"), ("roof", "b.tif"))]
    vec = tmp_path / "labels.geojson"
    vec.write_text(json.dumps({"type": "FeatureCollection", "features": feats,
                               "crs": {"type": "name", "properties": {"name": "EPSG:32633"}}}))
    ds = segmill.read(vec, "geojson", images=tmp_path / "img", image_field="scene", class_field="kind")
    assert [(i.file_name, i.width, len(i.annotations)) for i in ds.items] == [("a.tif", 64, 1), ("b.tif", 20, 2)]
    assert [c.name for c in ds.categories] == ["roof", "road"]
    assert np.array_equal(ds.items[1].annotations[0].geometry.parts[0], [[1, 1], [5, 1], [5, 5], [1, 5]])


def test_points_and_lines_are_shapes(tmp_path, fixtures_dir):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copyfile(fixtures_dir / "geojson" / "basic" / "scene.tif", src / "scene.tif")
    with rasterio.open(src / "scene.tif") as f:
        t = f.transform
    feats = [{"type": "Feature", "properties": {"class": "tree"}, "geometry": {"type": "Point",
                                                                               "coordinates": list(t * (3, 4))}},
             {"type": "Feature", "properties": {"class": "road"},
              "geometry": {"type": "LineString", "coordinates": [list(t * (0, 0)), list(t * (10, 20))]}}]
    doc = {"type": "FeatureCollection", "features": feats, "crs": {"type": "name", "properties": {"name": "EPSG:32633"}}}
    (src / "scene.geojson").write_text(json.dumps(doc))
    ds = segmill.read(src)
    pt, line = ds.items[0].annotations
    assert isinstance(pt.geometry, Shape) and pt.geometry.kind == "point"
    assert np.array_equal(pt.geometry.points, [[3, 4]]) and np.array_equal(line.geometry.points, [[0, 0], [10, 20]])
    segmill.write(ds, tmp_path / "out", "geojson")
    back = segmill.read(tmp_path / "out")
    assert [a.geometry for a in back.items[0].annotations] == [pt.geometry, line.geometry]


# ------------------------------------------------------------------ losses
def _one(geometry, file_name="scene.tif", **kw):
    return Dataset([Category(1, "a")], [Item(kw.pop("item_id", 1), file_name, 64, 48,
                                             [Annotation(kw.pop("ann_id", 1), kw.pop("cid", 1), geometry, **kw)])])


def test_each_loss_code(tmp_path, fixtures_dir):
    src = fixtures_dir / "geojson" / "basic"
    sq = Polygons([[1, 1, 9, 1, 9, 9]])
    cases = {
        "L901": (_one(sq), {}),
        "L902": (_one(Mask(np.ones((3, 3), bool), 2, 2)), {"image_root": src}),
        "L903": (Dataset([Category(1, "a")], []), {}),
        "L904": (_one(sq, item_id=7), {"image_root": src}),
        "L905": (_one(sq, ann_id=9), {"image_root": src}),
        "L906": (_one(sq, area=5.0), {"image_root": src}),
        "L907": (_one(sq, file_name="scene.bmp"), {}),
        "L908": (_one(Shape("circle", [[1, 1], [3, 3]])), {"image_root": src}),
        "L003": (_one(sq, cid=None), {"image_root": src}),
    }
    for code, (ds, opts) in cases.items():
        report = segmill.write(ds, tmp_path / code, "geojson", **opts)
        assert code in report.summary(), (code, report.summary())
    back = segmill.read(tmp_path / "L902")
    assert back.items[0].annotations[0].to_rle(48, 64).area == 9  # the traced mask is exact


def test_the_writer_uses_the_scenes_own_georeferencing_when_the_item_has_none(tmp_path, fixtures_dir):
    ds = _one(Polygons([[1, 1, 9, 1, 9, 9]]))
    segmill.write(ds, tmp_path / "out", "geojson", image_root=fixtures_dir / "geojson" / "basic")
    back = segmill.read(tmp_path / "out")
    assert np.allclose(back.items[0].annotations[0].geometry.parts[0], [[1, 1], [9, 1], [9, 9]], atol=1e-9)


# ------------------------------------------------------------------ refusals
def _copy_fixture(tmp_path, fixtures_dir):
    dst = tmp_path / "in"
    shutil.copytree(fixtures_dir / "geojson" / "basic", dst)
    return dst


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(crs={"type": "name", "properties": {"name": "+proj=longlat +init=/etc/x"}}), "CRS name"),
    (lambda d: d["features"][0]["properties"].pop("class"), "no 'class' property"),
    (lambda d: d["features"][0].update(geometry={"type": "GeometryCollection", "geometries": []}), "not supported"),
    (lambda d: d["features"][0]["geometry"]["coordinates"][0].pop(), "end where it starts"),
    (lambda d: d["features"][0]["geometry"]["coordinates"][0][1].__setitem__(0, "x"), "2 or 3 numbers"),
    (lambda d: d["features"][1]["properties"].update(iscrowd="yes"), "iscrowd"),
])
def test_malformed_features_are_refused_or_skipped(tmp_path, fixtures_dir, edit, message):
    folder = _copy_fixture(tmp_path, fixtures_dir)
    doc = json.loads((folder / "scene.geojson").read_text())
    edit(doc)
    (folder / "scene.geojson").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=message):
        segmill.read(folder)
    ds = segmill.read(folder, errors="skip")
    assert ds.meta["skipped"] and message.split()[0].strip("'") in ds.meta["skipped"][0]["reason"] + "CRS name"


def test_a_scene_path_leaving_the_images_folder_is_refused(tmp_path, fixtures_dir):
    folder = _copy_fixture(tmp_path, fixtures_dir)
    doc = json.loads((folder / "scene.geojson").read_text())
    for f in doc["features"]:
        f["properties"]["image"] = "../in/scene.tif"
    (tmp_path / "labels.geojson").write_text(json.dumps(doc))
    sub = tmp_path / "imgs"
    sub.mkdir()
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(tmp_path / "labels.geojson", "geojson", images=sub)


def test_an_images_folder_for_a_folder_of_scenes_is_a_usage_error(tmp_path, fixtures_dir):
    folder = _copy_fixture(tmp_path, fixtures_dir)
    other = tmp_path / "elsewhere"
    other.mkdir()
    for read in (segmill.read, segmill.stream):
        with pytest.raises(UsageError, match="folder of scenes"):
            read(folder, "geojson", images=other)
    run = CliRunner().invoke(main, ["info", str(folder), "--images", str(other)])
    assert run.exit_code == 2 and "internal error" not in run.output, run.output
    assert segmill.read(folder, "geojson", images=folder) == segmill.read(folder, "geojson")  # the folder itself


def test_a_missing_extra_is_a_usage_error_naming_it(monkeypatch, fixtures_dir):
    monkeypatch.setitem(sys.modules, "rasterio", None)
    with pytest.raises(UsageError, match=r"segmill\[geo\]"):
        segmill.read(fixtures_dir / "geojson" / "basic", "geojson")
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "geojson" / "basic"), "/tmp/never-written",
                                    "--from", "geojson", "--to", "coco"])
    assert res.exit_code == 2 and "segmill[geo]" in res.output


def test_reading_never_reads_the_scenes_pixels(monkeypatch, fixtures_dir):
    from rasterio.io import DatasetReader

    def refuse(*a, **k):
        raise AssertionError("pixels read")

    monkeypatch.setattr(DatasetReader, "read", refuse)
    assert len(segmill.read(fixtures_dir / "geojson" / "basic").items[0].annotations) == 3


@pytest.mark.parametrize(("suffix", "driver"), [(".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
def test_geopackages_and_shapefiles_beside_their_scenes_are_read_through_pyogrio(tmp_path, suffix, driver):
    raw = pytest.importorskip("pyogrio.raw", reason="OGR vector files need pyogrio (the geo extra)")
    import shapely

    t = from_origin(500000.0, 5800000.0, 0.5, 0.5)
    src = tmp_path / "in"
    src.mkdir()
    make_scene(src / "s.tif", "EPSG:32633", t)
    rings = random_polygons(np.random.default_rng(2), t, 4)
    geoms = np.array(shapely.to_wkb([shapely.Polygon(r) for r in rings]), dtype=object)
    raw.write(src / f"s{suffix}", geoms, field_data=[np.array(["roof", "road", "roof", "road"], dtype=object),
                                                      np.array([1.0, 2.0, 3.0, 4.0])],
              fields=["class", "height"], crs="EPSG:32633", geometry_type="Polygon", driver=driver)
    ds = segmill.read(src)
    assert ds.meta["source_format"] == "geojson"
    anns = ds.items[0].annotations
    assert [c.name for c in ds.categories] == ["roof", "road"] and [a.attributes["height"] for a in anns] == [1, 2, 3, 4]
    inv = ~t
    for ann, ring in zip(anns, rings):
        want = np.array([inv * tuple(p) for p in ring[:-1]])
        # OGR may turn a ring around (shapefiles are clockwise): compare as sets of vertices
        d = np.abs(ann.geometry.parts[0][:, None, :] - want[None, :, :]).max(axis=2).min(axis=1)
        assert len(ann.geometry.parts[0]) == len(want) and d.max() < 1e-9
    segmill.write(ds, tmp_path / "out", "geojson")
    assert (tmp_path / "out" / "s.geojson").is_file()


def test_a_gpkg_that_is_not_a_geopackage_never_reaches_gdal(tmp_path, fixtures_dir):
    src = _copy_fixture(tmp_path, fixtures_dir)
    (src / "scene.geojson").unlink()
    (src / "scene.gpkg").write_text('<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd'
                                    '</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>')
    with pytest.raises(InputError, match="not a .gpkg file"):
        segmill.read(src, "geojson")
