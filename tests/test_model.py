"""The canonical model and geometry kinds: invariants, lazy cached conversion."""

from __future__ import annotations

import numpy as np
import pytest

from segmill import rle
from segmill.errors import GeometryError, InputError, PolygonError
from segmill.geometry import Box, InvalidGeometry, Mask, Polygons, Shape, to_rle
from segmill.model import Annotation, Category, Dataset, Item
from segmill.raster import rasterize


def test_polygons_keep_their_source_for_lossless_write_back():
    raw = [[1, 2, 8, 2, 8, 9]]
    p = Polygons(raw, source=raw)
    assert p.to_coco() is raw
    assert Polygons(raw).to_coco() == [[1.0, 2.0, 8.0, 2.0, 8.0, 9.0]]


def test_polygons_reject_bad_parts():
    with pytest.raises(PolygonError, match="at least 3"):
        Polygons([[0, 0, 1, 1]])


def test_polygons_parts_are_read_only():
    p = Polygons([[0, 0, 4, 0, 4, 4]])
    with pytest.raises(ValueError):
        p.parts[0][0, 0] = 3


def test_polygon_area_is_the_shoelace_sum_and_bounds_the_vertex_extent():
    p = Polygons([[0, 0, 4, 0, 4, 3, 0, 3], [10, 10, 12, 10, 12, 11]])
    assert p.area == pytest.approx(12 + 1)
    assert p.bounds == (0.0, 0.0, 12.0, 11.0)


def test_polygon_rasterization_is_cached_per_size_and_rule():
    p = Polygons([[0.5, 0.5, 6.2, 1, 3, 5.5]])
    a = p.to_rle(8, 8)
    assert p.to_rle(8, 8) is a
    assert p.to_rle(8, 8, "pil") is not a
    assert a == rle.from_polygons([[0.5, 0.5, 6.2, 1, 3, 5.5]], 8, 8)


def test_raster_service_equals_one_by_one_and_fills_the_cache():
    rng = np.random.default_rng(0)
    geoms = [Polygons([rng.uniform(0, 20, 8).tolist()]) for _ in range(10)] + [Box(1, 1, 3, 3)]
    out = rasterize(geoms, (20, 20))
    assert out == [rle.from_polygons(list(g.parts), 20, 20) for g in geoms[:10]] + [rle.from_bbox([1, 1, 3, 3], 20, 20)]
    assert all(g.to_rle(20, 20) is r for g, r in zip(geoms, out))


def test_box_rasterizes_like_pycocotools_frbbox():
    assert Box(1.5, 2, 3, 4).to_rle(10, 10) == rle.from_bbox([1.5, 2, 3, 4], 10, 10)


def test_box_rejects_negative_size_and_nan():
    with pytest.raises(GeometryError):
        Box(0, 0, -1, 2)
    with pytest.raises(GeometryError):
        Box(float("nan"), 0, 1, 2)


def test_mask_patch_is_placed_and_clipped():
    m = Mask(np.ones((2, 3), bool), left=4, top=1)
    dense = m.to_rle(3, 6).decode()
    expected = np.zeros((3, 6), bool)
    expected[1:3, 4:6] = True
    np.testing.assert_array_equal(dense, expected)


def test_shapes_and_invalid_geometry_never_rasterize():
    with pytest.raises(GeometryError, match="no area"):
        Shape("line", [[0, 0], [3, 3]]).to_rle(5, 5)
    with pytest.raises(GeometryError, match="invalid geometry"):
        InvalidGeometry([[0, 0]], "1 point").to_rle(5, 5)


def test_to_rle_checks_an_rle_against_the_image_size():
    with pytest.raises(GeometryError, match="2x3"):
        to_rle(rle.RLE([6], 2, 3), 3, 2)


def test_model_types_are_enforced():
    with pytest.raises(TypeError):
        Item(1.5, "a.png")
    with pytest.raises(TypeError):
        Item(1, "a.png", width=-3)
    with pytest.raises(TypeError):
        Annotation(1, 1, geometry=[[0, 0, 1, 1, 2, 2]])
    with pytest.raises(TypeError):
        Category(True, "x")


def small_dataset():
    return Dataset(
        categories=[Category(1, "cat"), Category(7, "dog")],
        items=[
            Item(1, "a.png", 10, 10, [Annotation(1, 1, Polygons([[0, 0, 5, 0, 5, 5]]))]),
            Item(2, "b.png", 10, 10, [Annotation(2, 7, rle.RLE([100], 10, 10))]),
        ],
    )


def test_validate_accepts_a_consistent_dataset():
    small_dataset().validate()


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: d.categories.append(Category(7, "again")), "duplicate category id 7"),
        (lambda d: d.items.append(Item(2, "c.png")), "duplicate image id 2"),
        (lambda d: d.items[1].annotations.append(Annotation(1, 1)), "duplicate annotation id 1"),
        (lambda d: d.items[0].annotations.append(Annotation(9, 3)), "category_id 3 is not a declared"),
        (lambda d: d.items[0].annotations.append(Annotation(9, 1, InvalidGeometry([1], "broken"))), "broken"),
        (lambda d: setattr(d.items[1], "height", 11), "does not match the image size"),
    ],
)
def test_validate_names_what_is_wrong_and_where(breakage, message):
    d = small_dataset()
    breakage(d)
    with pytest.raises(InputError, match=message) as exc:
        d.validate("data.json")
    assert "data.json" in str(exc.value)


def test_import_segmill_does_not_import_numba():
    import subprocess
    import sys

    code = "import sys, segmill; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
