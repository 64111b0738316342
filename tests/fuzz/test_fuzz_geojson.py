"""Structured fuzzing of the geojson reader and writer.

Each example copies the fixture scene (a 64 x 48 GeoTIFF) and its GeoJSON
into a fresh folder and mutates the GeoJSON (hostile values at any path:
wrong types, NaN/inf, huge numbers, deep nesting, CRS names that are PROJ
strings or files, scene paths leaving the folder; keys deleted, bytes
flipped, text truncated) and sometimes the scene's bytes. The property
(``tests/fuzz/conftest.py``): a dataset or a one-line SegmillError, in every
``errors`` mode, and a dataset read is written back as geojson or refused
just as cleanly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("rasterio", reason="the geojson format needs the geo extra (rasterio)")
pytest.importorskip("pyproj", reason="the geojson format needs the geo extra (pyproj)")

_spec = importlib.util.spec_from_file_location("_json_mutations", Path(__file__).with_name("_json_mutations.py"))
jm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jm)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "geojson" / "basic"
EXAMPLES = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "120"))

HOSTILE = [
    None, True, 0, -1, 1.5, 2**64, 10**400, float("nan"), float("inf"), 1e308, 5e-324,
    "", "Polygon", "MultiPolygon", "Point", "LineString", "GeometryCollection", "Feature", "FeatureCollection",
    "EPSG:4326", "EPSG:32633", "OGC:CRS84", "EPSG:999999", "+proj=longlat +init=/etc/passwd", "/etc/passwd",
    "urn:ogc:def:crs:EPSG::3857", "../../scene.tif", "/abs/scene.tif", "a\x00b", "\ud800", "scene.tif",
    [], {}, [[]], [1], [[0, 0], [1, 0], [1, 1], [0, 0]], [[[0, 0], [1e308, 0], [1, -1e308], [0, 0]]],
    [[[500000, 5800096], [500100, 5800096], [500100, 5800000], [500000, 5800096]]],
    {"type": "name", "properties": {"name": "EPSG:4326"}}, {"type": "link", "properties": {"href": "x"}},
    jm.deep(3), jm.deep(80),
]

mutation = jm.value_mutations(HOSTILE)


def _scene_bytes(edit: int | None) -> bytes:
    data = (FIXTURE / "scene.tif").read_bytes()
    if edit is None:
        return data
    k = edit % len(data)
    return data[:k] + bytes([data[k] ^ 0xFF]) + data[k + 1 :] if edit % 3 else data[:k]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(mutation, min_size=1, max_size=4), edit=jm.value_byte_edit,
       scene_edit=st.one_of(st.none(), st.integers(0, 10**6)), mode=st.sampled_from(["raise", "skip", "keep"]),
       one_file=st.booleans())
def test_mutated_geojson_is_read_or_refused_and_written_back_or_refused(
        reads_or_refuses, writes_or_refuses, streams_or_refuses, ops, edit, scene_edit, mode, one_file):
    data = jm.mutate_values(json.loads((FIXTURE / "scene.geojson").read_text(encoding="utf-8")), ops, edit,
                            limit=400)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        (src / "scene.tif").write_bytes(_scene_bytes(scene_edit))
        (src / "scene.geojson").write_bytes(data)
        ds = reads_or_refuses(src / "scene.geojson" if one_file else src, "geojson", errors=mode)
        streams_or_refuses(src / "scene.geojson" if one_file else src, "geojson", ds, errors=mode)
        if ds is not None and mode != "keep":
            writes_or_refuses(ds, Path(tmp) / "out", "geojson")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(70, 3000))
def test_deep_nesting_is_refused_with_one_line(reads_or_refuses, depth):
    doc = {"type": "FeatureCollection", "features": ["__DEEP__"]}
    jm.deep_document_is_refused(reads_or_refuses, doc, "__DEEP__", depth, "geojson")


@pytest.mark.parametrize("content", [
    (b'<VRTDataset rasterXSize="10" rasterYSize="10"><VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
     b'<SourceFilename>/etc/passwd</SourceFilename></SimpleSource></VRTRasterBand></VRTDataset>'),
    b"II*\x00" + b"\x00" * 20, b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30],
    ids=["vrt", "truncated_tiff", "empty", "truncated_png"])
def test_a_scene_that_is_not_a_readable_image_is_refused(reads_or_refuses, tmp_path, content):
    src = tmp_path / "in"
    src.mkdir()
    (src / "scene.tif").write_bytes(content)
    shutil.copyfile(FIXTURE / "scene.geojson", src / "scene.geojson")
    assert reads_or_refuses(src, "geojson") is None
    assert reads_or_refuses(src, "geojson", errors="skip").items == []
