"""Pascal VOC reader/writer: fixtures/voc (a tiny VOC2012-like dataset)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.formats._png import voc_colormap, write_png
from segmill.geometry import Box, Polygons
from segmill.io import ConvertOptions
from segmill.model import Annotation, Category, Dataset, Item


@pytest.fixture()
def voc(fixtures_dir):
    return fixtures_dir / "voc"


@pytest.fixture()
def voc_copy(voc, tmp_path):
    dst = tmp_path / "voc"
    shutil.copytree(voc, dst)
    return dst


def _reference_colormap(i):
    # the devkit's bitget formulation, written independently of _png.voc_colormap
    r = g = b = 0
    for j in range(8):
        r |= ((i >> (3 * j)) & 1) << (7 - j)
        g |= ((i >> (3 * j + 1)) & 1) << (7 - j)
        b |= ((i >> (3 * j + 2)) & 1) << (7 - j)
    return (r, g, b)


def test_voc_colormap_matches_the_devkit_formula_for_all_256_indices():
    cmap = voc_colormap()
    assert [tuple(c) for c in cmap.tolist()] == [_reference_colormap(i) for i in range(256)]
    assert tuple(cmap[1]) == (128, 0, 0) and tuple(cmap[2]) == (0, 128, 0) and tuple(cmap[255]) == (224, 224, 192)


def test_voc_folder_is_detected(voc):
    assert segmill.detect_format(voc)[0] == "voc"


def test_instances_are_joined_from_object_and_class_maps(voc):
    ds = segmill.read(voc)
    item = {i.id: i for i in ds.items}["2007_000032"]
    cat, person = item.annotations[0], item.annotations[1]
    assert (cat.category_id, cat.geometry.area) == (8, 25)
    # the person's 6x9 block minus a 2x2 hole
    assert (person.category_id, person.geometry.area) == (15, 50)
    assert person.extra["voc_instance"] == 2


def test_void_pixels_stay_void_not_a_class(voc):
    ds = segmill.read(voc)
    item = {i.id: i for i in ds.items}["2007_000032"]
    void = [a for a in item.annotations if a.attributes.get("void")]
    assert len(void) == 1 and void[0].category_id is None and void[0].geometry.area == 9
    assert all(c.id != 255 for c in ds.categories)


def test_object_attributes_and_one_based_boxes_are_kept(voc):
    ds = segmill.read(voc)
    cat = {i.id: i for i in ds.items}["2007_000032"].annotations[0]
    assert cat.attributes == {"pose": "Left", "truncated": False, "occluded": True, "difficult": False}
    # xmin 2 .. xmax 6 (1-based, inclusive) is x = 1, width 5
    assert cat.bbox == (1.0, 2.0, 5.0, 5.0)


def test_object_without_pixels_is_a_box(voc):
    ds = segmill.read(voc)
    dog = {i.id: i for i in ds.items}["2007_000032"].annotations[2]
    assert isinstance(dog.geometry, Box) and dog.attributes["difficult"] is True
    assert (dog.geometry.x, dog.geometry.y, dog.geometry.w, dog.geometry.h) == (0.0, 8.0, 5.0, 4.0)


def test_splits_come_from_imagesets(voc):
    ds = segmill.read(voc)
    assert {i.id: i.split for i in ds.items} == {"2007_000032": "train", "2007_000033": "val", "2007_000039": "train"}


def test_voc_to_voc_gives_pixel_identical_pngs_with_the_same_palette(voc, tmp_path):
    report = segmill.write(segmill.read(voc), tmp_path / "out", "voc")
    assert report.lossless
    for sub in ("SegmentationClass", "SegmentationObject"):
        for f in sorted((voc / sub).glob("*.png")):
            a, b = Image.open(f), Image.open(tmp_path / "out" / sub / f.name)
            assert b.mode == "P"
            assert np.array_equal(np.asarray(a), np.asarray(b))
            assert a.getpalette() == b.getpalette()


def test_voc_to_voc_reads_back_the_same_items(voc, tmp_path):
    ds = segmill.read(voc)
    segmill.write(ds, tmp_path / "out", "voc")
    again = segmill.read(tmp_path / "out")
    assert again.items == ds.items and again.categories == ds.categories


def _coco_like(overlap: bool) -> Dataset:
    cats = [Category(1, "person"), Category(3, "car")]
    anns = [
        Annotation(10, 1, Polygons([[1, 1, 6, 1, 6, 6, 1, 6]])),
        Annotation(11, 3, Polygons([[4 if overlap else 7, 2, 9, 2, 9, 7, 4 if overlap else 7, 7]])),
    ]
    return Dataset(categories=cats, items=[Item(5, "img5.jpg", width=10, height=8, annotations=anns)])


def test_coco_like_to_voc_to_model_keeps_rles_of_disjoint_instances(tmp_path):
    ds = _coco_like(overlap=False)
    report = segmill.write(ds, tmp_path / "v", "voc")
    # the polygons' vertices are lost, not pixels; category ids become label values (L208)
    assert report.summary() == {"L208": 1, "L705": 2}
    back = segmill.read(tmp_path / "v")
    got = [a.geometry for a in back.items[0].annotations]
    want = [a.to_rle(8, 10) for a in ds.items[0].annotations]
    assert got == want
    assert [c.name for c in back.categories] == ["background", "person", "car"]


def test_overlapping_instances_report_every_overwritten_pixel(tmp_path):
    report = segmill.write(_coco_like(overlap=True), tmp_path / "v", "voc")
    (loss,) = [l for l in report.losses if l.code == "L701"]
    # person covers columns 1-5, car columns 4-8: columns 4-5 x rows 2-5 overlap
    # (8 pixels); equal areas (25), so the later annotation (the car) wins
    assert loss.annotation_id == 10 and loss.message.startswith("8 of 25")


def test_overlap_policy_last_lets_the_later_annotation_win(tmp_path):
    ds = _coco_like(overlap=True)
    ds.items[0].annotations[0].attributes["z_order"] = 1
    r1 = segmill.write(ds, tmp_path / "z", "voc")
    r2 = segmill.write(ds, tmp_path / "l", "voc", overlap="last")
    assert [l.annotation_id for l in r1.losses if l.code == "L701"] == [11]
    assert [l.annotation_id for l in r2.losses if l.code == "L701"] == [10]


def test_coco_file_to_voc_to_coco_gives_equal_rles(tmp_path):
    ds = _coco_like(overlap=False)
    segmill.write(ds, tmp_path / "a.json", "coco")
    segmill.convert(tmp_path / "a.json", tmp_path / "v", "coco", "voc")
    segmill.convert(tmp_path / "v", tmp_path / "b.json", "voc", "coco",
                    options=ConvertOptions(write={"segmentation": "rle"}))
    a = segmill.read(tmp_path / "a.json")
    b = segmill.read(tmp_path / "b.json")
    ra = [x.to_rle(8, 10) for x in a.items[0].annotations]
    rb = [x.to_rle(8, 10) for x in b.items[0].annotations]
    assert ra == rb


def test_custom_labelmap_gives_categories_and_colours(voc_copy):
    from segmill.formats._voc_masks import VOC_CLASSES

    (voc_copy / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\n" + "".join(f"{n}:{i},{i},{i}::\n" for i, n in enumerate(VOC_CLASSES))
        + "ignored:224,224,192::\n"
    )
    ds = segmill.read(voc_copy)
    assert len(ds.categories) == 21
    assert ds.categories[8].name == "cat" and ds.categories[8].color == (8, 8, 8)


def test_labels_option_maps_ignore_to_void_and_background_to_zero(voc_copy, tmp_path):
    from segmill.formats._voc_masks import VOC_CLASSES

    names = ["__ignore__", "_background_"] + list(VOC_CLASSES[1:])
    (tmp_path / "labels.txt").write_text("\n".join(names) + "\n")
    ds = segmill.read(voc_copy, labels=tmp_path / "labels.txt")
    assert ds.categories[0].name == "_background_" and ds.categories[15].name == "person"


# ------------------------------------------------------------------ bad input
def test_png_size_not_matching_the_xml_is_an_input_error_naming_the_file(voc_copy):
    f = voc_copy / "SegmentationClass" / "2007_000033.png"
    write_png(f, np.zeros((5, 5), np.uint8), voc_colormap())
    with pytest.raises(InputError, match="2007_000033.png.*5x5"):
        segmill.read(voc_copy)


def test_grey_png_where_a_palette_is_required_is_an_input_error(voc_copy):
    f = voc_copy / "SegmentationClass" / "2007_000033.png"
    write_png(f, np.zeros((8, 10), np.uint8))
    with pytest.raises(InputError, match="mode is L"):
        segmill.read(voc_copy)


def test_16bit_png_is_an_input_error(voc_copy):
    f = voc_copy / "SegmentationObject" / "2007_000033.png"
    write_png(f, np.full((8, 10), 300, np.uint16))
    with pytest.raises(InputError, match="16-bit"):
        segmill.read(voc_copy)


def test_pixel_value_without_a_class_is_an_input_error(voc_copy):
    f = voc_copy / "SegmentationClass" / "2007_000033.png"
    a = np.zeros((8, 10), np.uint8)
    a[3, 4] = 40
    write_png(f, a, voc_colormap())
    with pytest.raises(InputError, match="pixel value 40 has no class.*row 3, col 4"):
        segmill.read(voc_copy)


def test_decompression_bomb_is_reported_as_an_input_error(voc_copy, monkeypatch):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 50)
    with pytest.raises(InputError, match="pixel limit of 50"):
        segmill.read(voc_copy)


def test_malformed_xml_is_an_input_error(voc_copy):
    (voc_copy / "Annotations" / "2007_000039.xml").write_text("<annotation><object>")
    with pytest.raises(InputError, match="2007_000039.xml: malformed XML"):
        segmill.read(voc_copy)


def test_xml_entity_expansion_is_refused(voc_copy):
    (voc_copy / "Annotations" / "2007_000039.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]>'
        "<annotation><filename>&y;</filename></annotation>"
    )
    with pytest.raises(InputError, match="unsafe XML"):
        segmill.read(voc_copy)


def test_bad_input_writes_nothing(voc_copy, tmp_path):
    write_png(voc_copy / "SegmentationClass" / "2007_000033.png", np.zeros((5, 5), np.uint8), voc_colormap())
    with pytest.raises(InputError):
        segmill.convert(voc_copy, tmp_path / "out", "voc", "voc")
    assert not (tmp_path / "out").exists()


def test_unknown_object_class_is_an_input_error(voc_copy):
    f = voc_copy / "Annotations" / "2007_000039.xml"
    f.write_text(f.read_text().replace("tvmonitor", "spaceship"))
    with pytest.raises(InputError, match="2007_000039.xml: object 1 .*spaceship"):
        segmill.read(voc_copy)


def test_rgb_mask_colour_outside_the_colour_map_is_an_input_error(voc_copy):
    rgb = np.zeros((8, 10, 3), np.uint8)
    rgb[2, 3] = (1, 2, 3)
    write_png(voc_copy / "SegmentationClass" / "2007_000033.png", rgb)
    with pytest.raises(InputError, match=r"2007_000033.png: colour \(1, 2, 3\) at pixel \(row 2, col 3\)"):
        segmill.read(voc_copy)


def test_labelme_convention_ignore_is_void_and_keeps_its_object_number_unused(tmp_path):
    cats = [Category(1, "person"), Category(2, "__ignore__"), Category(3, "car")]
    anns = [
        Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3, 0, 3]])),
        Annotation(2, 2, Polygons([[4, 0, 6, 0, 6, 2, 4, 2]])),
        Annotation(3, 3, Polygons([[0, 4, 3, 4, 3, 6, 0, 6]])),
    ]
    ds = Dataset(categories=cats, items=[Item("x", "x.jpg", width=8, height=6, annotations=anns)])
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\nperson\ncar\n")
    report = segmill.write(ds, tmp_path / "v", "voc", labels=tmp_path / "labels.txt")
    assert report.summary() == {"L208": 1, "L705": 3}  # polygons rasterized; ids become label values
    cls = np.asarray(Image.open(tmp_path / "v" / "SegmentationClass" / "x.png"))
    obj = np.asarray(Image.open(tmp_path / "v" / "SegmentationObject" / "x.png"))
    assert (cls[0, 0], cls[0, 4], cls[4, 0]) == (1, 255, 2)
    assert (obj[0, 0], obj[0, 4], obj[4, 0]) == (1, 0, 3)


def test_datasets_read_from_voc_compare_equal():
    # meta holds no arrays, so Dataset equality works on VOC data
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "fixtures" / "voc"
    assert segmill.read(root) == segmill.read(root)


def test_skip_mode_lists_the_bad_image_and_keeps_the_rest(voc_copy):
    write_png(voc_copy / "SegmentationClass" / "2007_000033.png", np.zeros((5, 5), np.uint8), voc_colormap())
    ds = segmill.read(voc_copy, errors="skip")
    assert sorted(i.id for i in ds.items) == ["2007_000032", "2007_000039"]
    (skip,) = ds.meta["skipped"]
    assert skip["path"].endswith("2007_000033.png") and "5x5" in skip["reason"]


# ------------------------------------------------- <polygon> elements (Roboflow / supervision extension)
def _xml_polygons(xml_path):
    import xml.etree.ElementTree as ET

    out = []
    for obj in ET.parse(xml_path).getroot().iter("object"):
        polys = []
        for pe in obj.findall("polygon"):
            vals = [int(c.text) for c in pe]
            polys.append(list(zip(vals[0::2], vals[1::2])))
        out.append(polys)
    return out


def test_xml_polygons_are_1_based_pixel_centre_outlines_with_seamed_holes(tmp_path):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    square = Annotation(1, 1, Polygons([[1, 1, 4, 1, 4, 3, 1, 3]]))  # pixels x 1..3, y 1..2
    # pixels x 4..11, y 0..7 around a hole x 6..9, y 2..5 (a seam along y = 2)
    ring = Annotation(2, 2, Polygons([[4, 0, 12, 0, 12, 8, 4, 8, 4, 2, 6, 2, 6, 6, 10, 6, 10, 2, 6, 2, 4, 2]]))
    ds = Dataset([Category(1, "a"), Category(2, "b")], [Item("x", "x.jpg", 13, 9, [square, ring])])
    segmill.write(ds, tmp_path / "o", "voc", xml_polygons=True)
    polys = _xml_polygons(tmp_path / "o" / "Annotations" / "x.xml")
    # pixel (r, c) is the point (c + 1, r + 1): the square's corner pixels
    assert polys[0] == [[(2, 2), (4, 2), (4, 3), (2, 3)]]
    # one outline: the outer pixels' centres, a seam from (7, 1) down to (7, 2), the hole's neighbours' centres
    assert len(polys[1]) == 1
    assert {(5, 1), (12, 1), (12, 8), (5, 8), (7, 1), (7, 2), (6, 2), (11, 2), (11, 7), (6, 7)} <= set(polys[1][0])
    plain = segmill.write(ds, tmp_path / "p", "voc")
    assert plain.summary() == {"L208": 1, "L705": 2} and _xml_polygons(tmp_path / "p" / "Annotations" / "x.xml") == [[], []]


def test_xml_polygons_kept_from_a_source_are_replaced_not_doubled(tmp_path):
    from segmill.rle import encode

    m = np.zeros((4, 5), bool)
    m[1:3, 1:4] = True
    ann = Annotation(1, 1, encode(m), extra={"voc_xml": ["<polygon><x1>9</x1><y1>9</y1></polygon>", "<note>k</note>"]})
    ds = Dataset([Category(0, "background"), Category(1, "a")], [Item("x", "x.jpg", 5, 4, [ann])])
    segmill.write(ds, tmp_path / "o", "voc", xml_polygons=True)
    assert _xml_polygons(tmp_path / "o" / "Annotations" / "x.xml") == [[[(2, 2), (4, 2), (4, 3), (2, 3)]]]
    assert "<note>k</note>" in (tmp_path / "o" / "Annotations" / "x.xml").read_text()
    segmill.write(ds, tmp_path / "p", "voc")  # without the option the source's element is written back as read
    assert _xml_polygons(tmp_path / "p" / "Annotations" / "x.xml") == [[[(9, 9)]]]


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: voc: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("coco", "voc"): {"L001", "L203", "L208", "L705"},
    ("coco_panoptic", "voc"): {"L001", "L203", "L208"},
    ("coco_results", "voc"): {"L204", "L208"},
    ("voc", "coco"): {"L003", "L105"},
    ("voc", "coco_panoptic"): {"L001", "L251", "L254"},
    ("voc", "coco_results"): {"L110", "L111", "L112"},
    ("voc", "voc"): set(),
}
