"""COCO to GeoJSON as a stream (``FormatSpec.write_stream_any``): what is particular to it.

The generic cases are run for every stream writer by ``tests/test_stream_writers.py``; the oracle is the
whole write, and the stream writer is counted so a test cannot pass by reading whole. Here: scenes that
come out of the order a re-read lists them (the report's losses and notes follow the re-read's order, and
its image and annotation ids, L904 and L905, are checked against a re-read), georeferenced scenes,
``link_images``, and two images sharing a vector file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rasterio", reason="the geojson format needs the geo extra (rasterio)")
pytest.importorskip("pyproj", reason="the geojson format needs the geo extra (pyproj)")

import segmill
from segmill.geometry import Box, Polygons, Shape
from segmill.io import ConvertOptions
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import encode
from segmill.streaming import Stream

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("geojson")

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

CATS = [Category(1, "field"), Category(2, "building", supercategory="man-made")]
#: Stream order; a re-read lists them sorted by path (B/c, a/z, a, b/x, m, zeta).
NAMES = ["zeta.png", "b/x.png", "a.png", "B/c.png", "a/z.png", "m.png"]
#: UTM 33N, 0.5 m pixels; the vector file in WGS 84 (reprojected with pyproj).
GEO = {"crs": None, "epsg": 32633, "transform": [0.5, 0.0, 500000.0, 0.0, -0.5, 5800000.0], "width": 16,
       "height": 12, "vector_crs": "EPSG:4326"}


def _square(x: float, y: float, s: float) -> Polygons:
    return Polygons([np.array([[x, y], [x + s, y], [x + s, y + s], [x, y + s]])])


def _items() -> list:
    """Six scenes of 16 x 12 named out of reading order, their annotations numbered 1, 2, ... in stream order."""
    out, aid = [], 0
    for i, name in enumerate(NAMES):
        anns = []
        for k in range(1 + i % 3):
            aid += 1
            anns.append(Annotation(aid, 1 + (i + k) % 2, _square(1 + 3 * k, 1 + i % 2, 2.5)))
        m = np.zeros((12, 16), bool)
        m[6:10, 2 + i:8 + i] = True
        anns.append(Annotation(aid + 1, 2, encode(m), extra={"source": "mask"}))  # L902 before its L905, L001 after
        anns.append(Annotation(aid + 2, None, Box(0, 0, 2, 2)))  # no category (L003): not numbered on re-read
        anns.append(Annotation(aid + 3, 1, Shape("point", np.array([[3.0, 4.0]])), attributes={"note": "p"}))
        aid += 3
        item = Item(i + 1, name, 16, 12, anns, attributes={"geo": dict(GEO)} if i % 2 else {})
        out.append(item)
    out[0].id = 50  # each image keeps its number only where the orders agree (a.png: 3)
    return out


def _both(tmp_path, cats, items, **write):
    st = Stream(Dataset(cats), iter(items()), bounded=True)
    a = segmill.io.write_stream(st, tmp_path / "s", "geojson", **write)
    b = segmill.write(Dataset(cats, items()), tmp_path / "w", "geojson", **write)
    S.same_tree(tmp_path, a, b)
    return a


@pytest.fixture
def scenes(tmp_path) -> Path:
    from PIL import Image

    for name in NAMES:
        p = tmp_path / "scenes" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 12), (len(name), 0, 0)).save(p)
    return tmp_path / "scenes"


def test_scenes_out_of_reading_order_report_what_a_re_read_gives(tmp_path, scenes):
    a = _both(tmp_path, CATS, _items, image_root=str(scenes))
    items = {it.id: it for it in _items()}
    assert {l.code for l in a.losses} >= {"L001", "L003", "L902", "L904", "L905"}
    firsts = list(dict.fromkeys(l.item_id for l in a.losses))
    assert firsts != [it.id for it in _items()]  # the report is not in stream order
    back = segmill.read(tmp_path / "s")
    by_id = {it.id: it for it in back.items}
    assert firsts == [next(k for k, it in items.items() if it.file_name == b.file_name) for b in back.items]
    n904 = 0
    for l in a.losses:
        if l.code == "L904":
            n904 += 1
            got = re.search(r"read back as (\d+)$", l.message)
            assert by_id[int(got.group(1))].file_name == items[l.item_id].file_name
    assert n904 == 5
    for b in back.items:  # each annotation id a re-read changes, in its place among the item's losses
        k = next(k for k, it in items.items() if it.file_name == b.file_name)
        kept = [ann.id for ann in items[k].annotations if ann.category_id is not None]
        want = [(old, f"annotation id {old} read back as {new.id}") for old, new in zip(kept, b.annotations)
                if old != new.id]
        mine = [l for l in a.losses if l.item_id == k]
        assert [(l.annotation_id, l.message) for l in mine if l.code == "L905"] == want and want
        codes = [l.code for l in mine if l.annotation_id == kept[-2]]  # the mask: traced, renumbered, fields lost
        assert codes == ["L902", "L905", "L001"]
    assert [n for n in a.notes if "no georeferencing" in n] == [
        f"image {b.file_name!r}: no georeferencing, coordinates written in pixels" for b in back.items
        if "geo" not in next(it for it in items.values() if it.file_name == b.file_name).attributes]


def test_georeferenced_scenes_are_written_in_the_vector_crs(tmp_path):
    _both(tmp_path, CATS, _items)
    doc = json.loads((tmp_path / "s" / "b" / "x.geojson").read_text(encoding="utf-8"))
    assert doc["crs"]["properties"]["name"] == "EPSG:4326"
    lon, lat = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert 14.9 < lon < 15.1 and 52.3 < lat < 52.4  # UTM 33N, 500 km east, 5800 km north


def test_link_images_links_the_scenes_as_the_whole_write_does(tmp_path, streams):
    doc = S.D.coco_doc(8, seed=3)
    src = S.with_images(tmp_path / "src", doc)
    write = {"image_root": str(tmp_path / "src"), "link_images": True}
    a = segmill.convert(src, tmp_path / "s", to_format="geojson", options=ConvertOptions(write=write))
    b = segmill.write(segmill.read(src), tmp_path / "w", "geojson", **write)
    S.same_tree(tmp_path, a, b)
    assert streams and a.files == 16
    for im in doc["images"]:
        assert os.path.samefile(tmp_path / "s" / im["file_name"], tmp_path / "src" / im["file_name"])


def test_two_images_sharing_a_vector_file_are_refused_alike(tmp_path):
    items = [Item(1, "a.png", 4, 4), Item(2, "x/y.png", 4, 4), Item(3, "A.tif", 4, 4)]
    err = S.refused_alike(tmp_path, "geojson", CATS, items)
    assert "would share the vector file 'a.geojson'" in err.message and err.record == "image id 3"
