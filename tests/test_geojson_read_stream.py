"""GeoJSON read as a stream (``geojson.stream``): a folder of scenes, one scene and its vector file at a time.

The oracle is the whole read: the same items, categories (stated by the
header before the first item: a first pass over the vector files, the scenes
left unopened) and meta, the same error (message, file, record) for a
malformed vector file or scene, raised after the items of the scenes before
it; the same ``segmill check`` findings and the same bytes for ``segmill
convert``. One vector file for all scenes, and the lenient modes, are read
whole (``stream`` returns ``None``).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rasterio", reason="the geojson format needs the geo extra (rasterio)")
pytest.importorskip("pyproj", reason="the geojson format needs the geo extra (pyproj)")

from rasterio.transform import from_origin  # noqa: E402

import segmill  # noqa: E402
from segmill.errors import InputError  # noqa: E402
from segmill.formats import geojson  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


G = _load("test_geo")  # its scene and GeoJSON builders
R = _load("_read_stream")  # the oracle

UTM = from_origin(500000.0, 5800000.0, 0.5, 0.5)


def same_as_read(path, **options):
    return R.same_as_read(path, "geojson", **options)


SCENES = ["a/s0", "a/s1", "b/s2", "s3", "s4"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Five scenes in subfolders, each with its GeoJSON: classes first seen in different files, a file
    declaring categories (segmill's ``categories`` member), a feature picking one by ``category_id``."""
    root = tmp_path_factory.mktemp("geo-built")
    rng = np.random.default_rng(2)
    for k, name in enumerate(SCENES):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        G.make_scene(root / f"{name}.tif", "EPSG:32633", UTM)
        vec = root / f"{name}.geojson"
        G.write_geojson(vec, G.random_polygons(rng, UTM, 3 + k), "EPSG:32633", {"kind": f"k{k % 3}"})
        doc = json.loads(vec.read_text())
        if k == 2:
            doc["categories"] = [{"id": 7, "name": "water"}, {"id": 1, "name": "field"}]
            doc["features"][0]["properties"]["category_id"] = 7
        if k == 3:
            doc["features"][1]["properties"]["class"] = f"road{k}"
        vec.write_text(json.dumps(doc))
    G.make_scene(root / "alone.tif", "EPSG:32633", UTM)  # no vector file: no item
    return root


@pytest.fixture
def copy(built, tmp_path):
    dst = tmp_path / "ds"
    shutil.copytree(built, dst)
    return dst


def _vector(root: Path, k: int) -> Path:
    return root / f"{SCENES[k]}.geojson"


def _edit(root: Path, k: int, fn) -> None:
    doc = json.loads(_vector(root, k).read_text())
    fn(doc)
    _vector(root, k).write_text(json.dumps(doc))


# ------------------------------------------------------------------ equal to read
def test_the_fixture_streams_as_it_reads():
    assert len(same_as_read(FIXTURES / "geojson" / "basic").items) == 1


def test_a_built_folder_streams_as_it_reads(built):
    ds = same_as_read(built)
    assert [i.file_name for i in ds.items] == [f"{s}.tif" for s in SCENES]
    assert [c.name for c in ds.categories] == ["field", "building", "water", "road3"]
    same_as_read(built, class_field="kind")


def test_one_vector_file_and_the_lenient_modes_read_whole(built):
    one = FIXTURES / "geojson" / "basic" / "scene.geojson"
    assert geojson.stream(one) is None
    st = segmill.stream(one, "geojson")
    assert not st.bounded and st.to_dataset() == segmill.read(one, "geojson")
    for errors in ("skip", "keep"):
        assert geojson.stream(built, errors=errors) is None
        st = segmill.stream(built, "geojson", errors=errors)
        assert not st.bounded and st.to_dataset() == segmill.read(built, "geojson", errors=errors)


# ------------------------------------------------------------------ lazily, one scene at a time
def test_items_come_one_scene_at_a_time(built, monkeypatch):
    loads, scenes = [], []
    real_load, real_scene = geojson._load_collection, geojson.scene_header
    monkeypatch.setattr(geojson, "_load_collection", lambda f: loads.append(f.name) or real_load(f))
    monkeypatch.setattr(geojson, "scene_header", lambda *a: scenes.append(a[1]) or real_scene(*a))
    st = segmill.stream(built, "geojson")
    assert st.bounded and len(loads) == 5 and scenes == []  # the first pass: vector files, no scene
    assert getattr(st._items, "ids_unique", False)
    it = iter(st)
    next(it)
    assert len(loads) == 6 and scenes == ["a/s0.tif"]
    next(it)
    assert len(loads) == 7 and scenes == ["a/s0.tif", "a/s1.tif"]
    assert len(list(it)) == 3 and len(loads) == 10


# ------------------------------------------------------------------ the same errors
def _broken_json(root, k):
    _vector(root, k).write_text("{")


def _no_class(root, k):
    _edit(root, k, lambda d: d["features"][-1]["properties"].pop("class"))


def _bad_geometry(root, k):
    _edit(root, k, lambda d: d["features"][-1]["geometry"]["coordinates"][0].pop())


def _two_names(root, k):
    _edit(root, k, lambda d: d.update(categories=[{"id": 1, "name": "lake"}, {"id": 1, "name": "pond"}]))


def _bad_crs(root, k):
    _edit(root, k, lambda d: d.update(crs={"type": "name", "properties": {"name": "+proj=longlat"}}))


def _bad_scene(root, k):
    (root / f"{SCENES[k]}.tif").write_bytes(b"II*\0garbage")


def _not_a_feature(root, k):
    _edit(root, k, lambda d: d["features"].append([1, 2]))


@pytest.mark.parametrize("breaker", [_broken_json, _no_class, _bad_geometry, _two_names, _bad_crs, _bad_scene,
                                     _not_a_feature])
@pytest.mark.parametrize("at", [0, 2, 4])
def test_a_bad_scene_raises_the_reads_error_after_the_scenes_before_it(copy, breaker, at):
    whole = segmill.read(copy, "geojson")
    breaker(copy, at)
    _, err = R.outcome(lambda: segmill.read(copy, "geojson"))
    assert err is not None
    items, serr = R.streamed_until_error(copy, "geojson")
    assert serr == err
    assert items == whole.items[:at]


def test_vector_files_changed_between_the_passes_are_refused(copy):
    st = segmill.stream(copy, "geojson")
    _edit(copy, 4, lambda d: d["features"][0]["properties"].update({"class": "new"}))
    with pytest.raises(InputError, match="the vector files changed while they were read"):
        st.to_dataset()


# ------------------------------------------------------------------ segmill check and convert
def test_a_streamed_check_finds_what_the_whole_check_finds(copy, monkeypatch):
    R.same_check(copy, "geojson", monkeypatch)


@pytest.mark.parametrize("to", ["geojson", "labelme"])
def test_convert_streams_the_bytes_of_the_whole_write(built, tmp_path, monkeypatch, to):
    R.same_convert(built, "geojson", to, tmp_path, monkeypatch)
