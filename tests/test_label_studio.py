"""The Label Studio format: brush codec against label-studio-converter, conformance on its export files, options.

Oracles: ``label_studio_converter.brush`` (``encode_rle``, ``decode_rle``,
``mask2rle``, ``image2annotation``) for the brush codec, bit for bit;
``label_studio_converter.Converter`` for the JSON-MIN export and the rotated
rectangle; ``pycocotools.mask`` for every pixel (polygons in pixels are
``percent * size / 100``). The corpus files are label-studio-converter's own
test data (``../shared/corpus/label-studio-converter``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import InputError, UsageError
from segmill.formats import detect
from segmill.formats import _label_studio_rle as codec
from segmill.formats._label_studio_geometry import read_geometry
from segmill.formats._label_studio_tasks import local_name
from segmill.formats.label_studio import by_annotator
from segmill.geometry import Box, InvalidGeometry, Mask, Polygons, Shape
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import RLE, from_coco

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "label_studio" / "tasks.json"
CORPUS = ROOT.parent / "shared" / "corpus" / "label-studio-converter"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus (../shared/corpus) is absent")


def _oracle():
    return pytest.importorskip("label_studio_converter.brush",
                               reason="label-studio-converter (the test extra) is the brush codec's oracle")


def _coco_rle(mask: np.ndarray) -> RLE:
    return from_coco(mask_util.encode(np.asfortranarray(mask.astype(np.uint8))))


def _polygon_rle(points_px, h, w) -> RLE:
    """pycocotools' rasterization of one ring given in pixels."""
    return from_coco(mask_util.merge(mask_util.frPyObjects([list(np.ravel(points_px))], h, w)))


def _write_json(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


# ------------------------------------------------------------------ the brush codec, bit for bit
@pytest.mark.parametrize("seed", range(6))
def test_encode_and_decode_values_are_label_studio_converters_bit_for_bit(seed):
    brush = _oracle()
    rng = np.random.default_rng(seed)
    runs = rng.integers(1, [3, 20, 300, 70_000, 200_000, 9][seed], 40)  # single values ... runs over 65,536
    values = np.repeat(rng.integers(0, 256, 40).astype(np.uint8), runs)
    ours = codec.encode_values(values)
    assert ours == list(brush.encode_rle(values))
    assert np.array_equal(codec.decode_values(np.array(ours, np.uint8)), brush.decode_rle(ours))
    assert np.array_equal(codec.decode_values(np.array(ours, np.uint8)), values)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (64, 48), (427, 640)])
def test_encode_mask_is_mask2rle_and_decode_mask_keeps_its_alpha(shape):
    brush = _oracle()
    rng = np.random.default_rng(shape[0])
    mask = rng.random(shape) < 0.3
    mask[shape[0] // 4: shape[0] // 2, : shape[1] // 2] = True
    ours = codec.encode_mask(mask)
    assert ours == list(brush.mask2rle(mask.astype(np.uint8) * 255))
    back = codec.decode_mask(np.array(ours, np.uint8), *shape)
    assert np.array_equal(back, mask)
    assert np.array_equal(back, np.reshape(brush.decode_rle(ours), [*shape, 4])[:, :, 3] > 0)


def _stream(num, word, sizes, records) -> list[int]:
    """A stream built bit by bit from ``(flag, size index, length, [words])`` records (another encoder)."""
    bits = f"{num:032b}{word - 1:05b}" + "".join(f"{s - 1:04b}" for s in sizes)
    for flag, idx, length, words in records:
        bits += f"{flag:b}{idx:02b}{length - 1:0{sizes[idx]}b}" + "".join(f"{v:0{word}b}" for v in words)
    bits += "0" * (-len(bits) % 8)
    return [int(bits[i: i + 8], 2) for i in range(0, len(bits), 8)]


def test_decoder_reads_any_header_and_literal_runs_like_label_studio_converter():
    brush = _oracle()
    # word size 5, field sizes 2, 5, 1, 7; literal runs of several words, repeated runs, a run cut at the end
    data = _stream(20, 5, (2, 5, 1, 7), [(0, 0, 3, [1, 31, 0]), (1, 1, 9, [7]), (0, 2, 2, [4, 5]), (1, 3, 40, [3])])
    ours = codec.decode_values(np.array(data, np.uint8))
    assert np.array_equal(ours, brush.decode_rle(data))
    assert ours.tolist() == [1, 31, 0] + [7] * 9 + [4, 5] + [3] * 6


def test_a_truncated_stream_or_one_of_another_size_is_an_input_error():
    data = np.array(codec.encode_mask(np.ones((4, 5), bool)), np.uint8)
    assert codec.decode_mask(data, 4, 5).all()
    with pytest.raises(InputError, match="a 6x4 RGBA image has 96"):
        codec.decode_mask(data, 4, 6)
    literal = np.array(_stream(80, 8, (3, 4, 8, 16), [(0, 0, 8, list(range(8)))] * 10), np.uint8)
    with pytest.raises(InputError, match="ends before"):
        codec.decode_mask(literal[:-5], 4, 5)
    with pytest.raises(InputError, match="shorter than its header"):
        codec.decode_values(data[:6])
    with pytest.raises(InputError, match="outside 0-255"):
        codec.as_bytes([0, 256])
    with pytest.raises(InputError, match="integers"):
        codec.as_bytes([0, True])


# ------------------------------------------------------------------ conformance: label-studio-converter's exports
@needs_corpus
@pytest.mark.corpus
def test_polygon_export_reads_as_pycocotools_draws_its_points_in_pixels():
    path = CORPUS / "test_export_yolo" / "data_polygons.json"
    ds = segmill.read(path)
    assert ds.meta["source_format"] == "label_studio"
    (item,) = ds.items
    assert (item.id, item.file_name, item.width, item.height) == (68501, "image2", 640, 426)
    assert [(c.id, c.name) for c in ds.categories] == [(1, "Airplane")]
    (ann,) = item.annotations
    raw = json.loads(path.read_text())[0]["annotations"][0]["result"][0]["value"]["points"]
    px = [[x * 640 / 100, y * 426 / 100] for x, y in raw]
    assert isinstance(ann.geometry, Polygons) and len(ann.geometry.parts[0]) == 37
    assert np.array_equal(ann.geometry.parts[0], np.array(px))
    rle = ann.to_rle(426, 640)
    assert rle == _polygon_rle(px, 426, 640)
    mask = rle.decode()
    assert mask[int(px[10][1]) - 2, int(px[10][0]) - 4] == 1 and mask[0, 0] == 0 and rle.area > 1000
    assert ann.attributes == {"annotator": 1}


@needs_corpus
@pytest.mark.corpus
def test_rectangle_export_has_two_annotators_on_its_first_task():
    path = CORPUS / "test_export_yolo" / "data.json"
    ds = segmill.read(path)
    assert [(c.id, c.name) for c in ds.categories] == [(1, "parasites"), (2, "white")]
    assert [(it.id, it.file_name, it.size, len(it.annotations)) for it in ds.items] == [
        (1, "image1", (2800, 2800), 4), (2, "image2", (2800, 2800), 2)]
    first = ds.items[0].annotations
    assert [a.attributes["annotator"] for a in first] == [2, 2, 1, 1]
    v = json.loads(path.read_text())[0]["annotations"][0]["result"][0]["value"]
    box = first[0].geometry
    assert isinstance(box, Box)
    assert (box.x, box.y, box.w, box.h) == (v["x"] * 2800 / 100, v["y"] * 2800 / 100, v["width"] * 2800 / 100,
                                            v["height"] * 2800 / 100)
    coco_box = mask_util.frPyObjects(np.array([[box.x, box.y, box.w, box.h]]), 2800, 2800)
    assert first[0].to_rle(2800, 2800) == from_coco(coco_box[0])
    assert [a.attributes["annotator"] for a in segmill.read(path, annotations="latest").items[0].annotations] == [1, 1]


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("name", ["test_export_yolo/data.json", "test_export_yolo/data_polygons.json",
                                  "test_export_json_min/data.json"])
def test_corpus_exports_are_detected_and_written_back_unchanged(name, tmp_path):
    path = CORPUS / name
    res = CliRunner().invoke(main, ["info", str(path)])
    assert res.exit_code == 0, res.output
    assert "format: label_studio (Label Studio JSON export" in res.output
    report = segmill.write(segmill.read(path), tmp_path / "out.json", "label_studio")
    assert not report.losses
    assert json.loads((tmp_path / "out.json").read_text()) == json.loads(path.read_text())


#: label-studio-converter's JSON-MIN export of test_export_json_min/data.json (convert_to_json_min).
JSON_MIN = [{"image": "/data/upload/29/example.png", "id": 87, "label": [
    {"closed": True, "points": [[44.44444444444444, 48.25396825396825], [42.53968253968254, 60.317460317460316],
                                [56.19047619047619, 50.79365079365079]],
     "polygonlabels": ["Airplane"], "original_width": 128, "original_height": 128}],
    "annotator": 1, "annotation_id": 22, "created_at": "2024-01-30T02:40:43.893565Z",
    "updated_at": "2024-01-30T02:40:43.893578Z", "lead_time": 8.65}]


def _pixels(a, it):
    if isinstance(a.geometry, Shape):
        return a.geometry.points.tobytes()
    return a.to_rle(it.height, it.width).counts.tobytes()


def _profile(ds):
    names = ds.category_by_id()
    return sorted((it.id, it.file_name, it.size, str(a.attributes.get("annotator")), names[a.category_id].name,
                   repr(a.geometry), _pixels(a, it)) for it in ds.items for a in it.annotations)


def test_json_min_fixture_regroups_records_by_task():
    ds = segmill.read(ROOT / "fixtures" / "label_studio" / "min.json")
    assert ds.meta["label_studio_layout"] == "json-min"
    assert [(it.id, it.file_name, [a.attributes["annotator"] for a in it.annotations]) for it in ds.items] == [
        (1, "image1", [1, 1, 2, 2]), (2, "image2", [1, 1])]
    assert [len(segmill.read(ROOT / "fixtures" / "label_studio" / "min.json", annotations=n).items)
            for n in ("1", "2", "latest")] == [2, 1, 2]


def test_json_min_reads_as_its_json_export(tmp_path):
    ds = segmill.read(_write_json(tmp_path / "min.json", JSON_MIN))
    assert ds.meta["label_studio_layout"] == "json-min"
    (item,) = ds.items
    assert (item.id, item.file_name, item.size) == (87, "29/example.png", (128, 128))
    (ann,) = item.annotations
    pts = JSON_MIN[0]["label"][0]["points"]
    assert ann.to_rle(128, 128) == _polygon_rle([[x * 128 / 100, y * 128 / 100] for x, y in pts], 128, 128)


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize(("data", "config"), [("test_export_json_min/data.json", "test_export_json_min/label_config.xml"),
                                              ("test_export_yolo/data.json", "test_export_yolo/label_config.xml")])
def test_json_min_made_by_label_studio_converter_reads_as_the_json_export(data, config, tmp_path):
    conv = pytest.importorskip("label_studio_converter", reason="label-studio-converter makes the JSON-MIN export")
    conv.Converter(config=(CORPUS / config).read_text(), project_dir=None,
                   download_resources=False).convert_to_json_min(str(CORPUS / data), str(tmp_path), is_dir=False)
    assert detect(tmp_path / "result.json")[0].name == "label_studio"
    assert _profile(segmill.read(tmp_path / "result.json")) == _profile(segmill.read(CORPUS / data))


@needs_corpus
@pytest.mark.corpus
def test_brush_made_by_image2annotation_is_the_thresholded_png_and_round_trips_bit_for_bit(tmp_path):
    brush = _oracle()
    from PIL import Image

    png = CORPUS / "test_brush" / "test.png"
    annotation = brush.image2annotation(str(png), "Airplane", "tag", "image")
    task = {"id": 1, "data": {"image": "/data/upload/1/test.png"}, "annotations": [annotation]}
    src = _write_json(tmp_path / "brush.json", [task])
    ds = segmill.read(src)
    (item,) = ds.items
    (ann,) = item.annotations
    expected = np.asarray(Image.open(png).convert("L")) > 128
    assert item.size == (427, 640) == expected.shape
    assert isinstance(ann.geometry, RLE) and ann.geometry == _coco_rle(expected)
    segmill.write(ds, tmp_path / "same.json", "label_studio")
    assert json.loads((tmp_path / "same.json").read_text()) == [task]
    ann.origin = None  # written anew by segmill's encoder: the same bytes
    segmill.write(ds, tmp_path / "new.json", "label_studio")
    written = json.loads((tmp_path / "new.json").read_text())[0]["annotations"][0]["result"][0]
    assert written["type"] == "brushlabels" and written["value"]["brushlabels"] == ["Airplane"]
    assert written["value"]["rle"] == annotation["result"][0]["value"]["rle"]


# ------------------------------------------------------------------ geometry
@pytest.mark.parametrize("rotation", [0, 30, -45, 90, 200])
def test_rotated_rectangle_is_the_polygon_of_its_corners_turned_about_the_top_left(rotation):
    v = {"x": 20.0, "y": 30.0, "width": 25.0, "height": 10.0, "rotation": rotation}
    g = read_geometry("rectangle", v, (200, 400))
    x, y, w, h = 80.0, 60.0, 100.0, 20.0
    if rotation == 0:
        assert isinstance(g, Box) and (g.x, g.y, g.w, g.h) == (x, y, w, h)
        return
    t = np.radians(rotation)
    corners = np.array([[x, y], [x + w * np.cos(t), y + w * np.sin(t)],
                        [x + w * np.cos(t) - h * np.sin(t), y + w * np.sin(t) + h * np.cos(t)],
                        [x - h * np.sin(t), y + h * np.cos(t)]])
    assert isinstance(g, Polygons) and np.allclose(g.parts[0], corners, atol=1e-9)
    assert g.to_rle(200, 400) == _polygon_rle(g.parts[0], 200, 400)


@pytest.mark.parametrize("rotation", [15, 30, 120, -60])
def test_rotated_rectangle_has_label_studio_converters_bounding_box(rotation):
    conv = pytest.importorskip("label_studio_converter.converter", reason="label-studio-converter's rotated_rectangle")
    v = {"x": 30.0, "y": 40.0, "width": 20.0, "height": 12.0, "rotation": rotation}
    g = read_geometry("rectangle", v, (500, 500))  # square: the converter computes in percent
    pts = g.parts[0] / 5.0
    ours = (pts[:, 0].min(), pts[:, 1].min(), np.ptp(pts[:, 0]), np.ptp(pts[:, 1]))
    assert np.allclose(ours, conv.Converter.rotated_rectangle(v), atol=1e-9)


def test_local_names_of_image_references():
    assert local_name("/data/upload/29/e97d4735-example.png") == "29/e97d4735-example.png"
    assert local_name("/data/local-files/?d=photos/a%20b.jpg") == "photos/a b.jpg"
    assert local_name("s3://bucket/dir/x.jpg") == "bucket/dir/x.jpg"
    assert local_name("https://example.com/img/y.png?token=1") == "example.com/img/y.png"
    assert local_name("gs://b/z.png") == "b/z.png" and local_name("rel/p.png") == "rel/p.png"


# ------------------------------------------------------------------ the bundled fixture: options, annotators
def test_fixture_regions_annotators_and_what_is_kept_aside():
    ds = segmill.read(FIXTURE)
    assert [(c.id, c.name) for c in ds.categories] == [(1, "car"), (2, "person"), (3, "road"), (4, "light")]
    street, b = ds.items
    assert (street.id, street.file_name, street.size) == (11, "3/street.png", (30, 40))
    assert (b.id, b.file_name) == (12, "imgs/b.png")
    kinds = [(a.id, type(a.geometry).__name__, a.category_id, a.attributes.get("annotator")) for a in street.annotations]
    assert kinds == [(1, "Polygons", 1, 1), (2, "Polygons", 2, 1), (3, "RLE", 3, 1), (4, "Shape", 4, 1),
                     (5, "Polygons", 1, 2), (6, "Box", 2, 2), (7, "RLE", 3, 2)]
    assert street.annotations[0].attributes["occluded"] == ["yes"]  # a per-region choices result
    # the cancelled annotation (annotator 3), the prediction and the image-level choices are not read
    assert all(a.score is None and a.attributes.get("annotator") != 3 for a in street.annotations)
    ellipse, polygon = b.annotations
    assert len(ellipse.geometry.parts[0]) == 64 and polygon.category_id == 1  # a "polygon" named by "labels"


def test_brush_regions_of_the_fixture_are_the_masks_drawn_for_them():
    brush = _oracle()
    doc = json.loads(FIXTURE.read_text())
    ds = segmill.read(FIXTURE)
    rle = doc[0]["annotations"][0]["result"][3]["value"]["rle"]
    expected = np.reshape(brush.decode_rle(rle), [30, 40, 4])[:, :, 3] > 0
    assert ds.items[0].annotations[2].geometry == _coco_rle(expected)
    assert expected.sum() == 10 * 18 - 1


@pytest.mark.parametrize(("opts", "annotators", "scores"), [
    ({}, [1, 1, 1, 1, 2, 2, 2, 1, 1], 0),
    ({"annotations": "latest"}, [2, 2, 2, 1, 1], 0),
    ({"annotations": "2"}, [2, 2, 2], 0),
    ({"annotations": "none", "predictions": True}, [None], 1),
    ({"annotations": "1", "predictions": True}, [1, 1, 1, 1, None, 1, 1], 1),
])
def test_annotations_and_predictions_options(opts, annotators, scores):
    ds = segmill.read(FIXTURE, **opts)
    anns = [a for _, a in ds.annotations()]
    assert [a.attributes.get("annotator") for a in anns] == annotators
    preds = [a for a in anns if a.attributes.get("prediction")]
    assert len(preds) == scores and all(a.score == 0.9 and a.attributes["model_version"] == "m1" for a in preds)
    assert [a.id for a in anns] == list(range(1, len(anns) + 1))


def test_an_annotator_who_did_not_annotate_a_task_does_not_have_its_image():
    ds = segmill.read(FIXTURE, annotations="2")
    assert [it.id for it in ds.items] == [11] and ds.meta["label_studio_left_out"] == 1
    with pytest.raises(UsageError):
        segmill.read(FIXTURE, annotations="")
    with pytest.raises(UsageError):
        segmill.read(FIXTURE, predictions="yes")


@pytest.mark.parametrize("opts", [{}, {"predictions": True}, {"annotations": "latest"}, {"annotations": "1"}])
def test_label_studio_round_trip_keeps_every_region_and_reports_nothing(opts, tmp_path):
    ds = segmill.read(FIXTURE, **opts)
    report = segmill.write(ds, tmp_path / "out.json", "label_studio")
    assert not report.losses
    back = segmill.read(tmp_path / "out.json", **opts)
    assert _profile(back) == _profile(ds)
    if not opts:  # read with the defaults: the file itself comes back, cancelled annotation and prediction too
        assert json.loads((tmp_path / "out.json").read_text()) == json.loads(FIXTURE.read_text())


def test_agree_compares_two_annotators_of_one_task(tmp_path):
    """`segmill agree` on a two-annotator task: by_annotator in Python, --annotations per file on the CLI."""
    from segmill.agree import compare

    sets = by_annotator(FIXTURE)
    assert list(sets) == ["1", "2"]
    report = compare(list(sets.values()), names=list(sets)).to_dict()
    # one image seen by both (task 12 has annotator 1 only); per category the instances match one to one
    street = {n: segmill.read(FIXTURE, annotations=n).items[0] for n in ("1", "2")}
    ious = []
    for cid in (1, 2, 3):  # car, person, road; the light keypoint has no pixels
        a, b = ([x for x in street[n].annotations if x.category_id == cid][0] for n in ("1", "2"))
        ra, rb = a.to_rle(30, 40).to_coco(), b.to_rle(30, 40).to_coco()
        ious.append(float(mask_util.iou([ra], [rb], [0])[0, 0]))
    # panopticapi's rule per category (one instance each): a match when IoU > 0.5, else one FP and one FN
    pq = [iou if iou > 0.5 else 0.0 for iou in ious]
    assert [iou > 0.5 for iou in ious] == [True, False, True]  # the person box: rotated 30 degrees by annotator 1
    assert report["pq"] == pytest.approx(sum(pq) / 3, abs=1e-9)
    assert report["rq"] == pytest.approx(2 / 3, abs=1e-9)
    # the command line: one file per annotator with --annotations, then segmill agree
    runner = CliRunner()
    for n in ("1", "2"):
        res = runner.invoke(main, ["convert", str(FIXTURE), str(tmp_path / f"a{n}.json"), "--from", "label_studio",
                                   "--annotations", n, "--to", "label_studio", "-q"])
        assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["agree", str(tmp_path / "a1.json"), str(tmp_path / "a2.json"), "--names", "a1,a2",
                               "--output-format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["pq"] == pytest.approx(report["pq"], abs=1e-9)


# ------------------------------------------------------------------ image references and the image root
def test_image_root_gives_the_size_of_a_task_without_regions_and_stays_confined(tmp_path):
    from PIL import Image

    (tmp_path / "imgs" / "a").mkdir(parents=True)
    Image.new("RGB", (7, 5)).save(tmp_path / "imgs" / "a" / "x.png")
    tasks = [{"id": 1, "data": {"image": "/data/local-files/?d=a/x.png"}, "annotations": []},
             {"id": 2, "data": {"image": "s3://b/y.png"}, "annotations": []}]
    src = _write_json(tmp_path / "t.json", tasks)
    ds = segmill.read(src, image_root=tmp_path / "imgs")
    assert [(it.file_name, it.size) for it in ds.items] == [("a/x.png", (5, 7)), ("b/y.png", None)]
    assert ds.meta["image_root"] == str(tmp_path / "imgs")
    # references are written back verbatim
    segmill.write(ds, tmp_path / "o.json", "label_studio")
    out = json.loads((tmp_path / "o.json").read_text())
    assert [t["data"]["image"] for t in out] == ["/data/local-files/?d=a/x.png", "s3://b/y.png"]
    assert out[0]["meta"] == {"original_width": 7, "original_height": 5}  # the size, for a re-read
    assert segmill.read(tmp_path / "o.json").items[0].size == (5, 7)
    escape = _write_json(tmp_path / "e.json", [{"id": 1, "data": {"image": "/data/local-files/?d=../../etc/x.png"},
                                                "annotations": []}])
    with pytest.raises(InputError, match="names no file inside"):
        segmill.read(escape, image_root=tmp_path / "imgs")
    (tmp_path / "imgs" / "out.png").symlink_to(tmp_path / "imgs" / "a" / ".." / ".." / "t.json")
    link = _write_json(tmp_path / "l.json", [{"id": 1, "data": {"image": "out.png"}, "annotations": []}])
    with pytest.raises(InputError, match="outside"):
        segmill.read(link, image_root=tmp_path / "imgs")
    with pytest.raises(UsageError, match="not a folder"):
        segmill.read(src, image_root=tmp_path / "nothing")


def test_image_prefix_makes_references_for_items_from_other_formats(tmp_path):
    ds = Dataset([Category(1, "a")], [Item(1, "dir/a b.png", 10, 8, [Annotation(1, 1, Box(1, 1, 4, 4))])])
    report = segmill.write(ds, tmp_path / "o.json", "label_studio", image_prefix="/data/local-files/?d=")
    assert not report.losses
    assert json.loads((tmp_path / "o.json").read_text())[0]["data"]["image"] == "/data/local-files/?d=dir/a%20b.png"
    assert segmill.read(tmp_path / "o.json").items[0].file_name == "dir/a b.png"
    report = segmill.write(ds, tmp_path / "q.json", "label_studio", image_prefix="/data/upload/x?")
    assert "L800" in report.summary()


# ------------------------------------------------------------------ COCO and back
def test_coco_to_label_studio_and_back_keeps_vertices_and_pixels_exactly(tmp_path):
    rng = np.random.default_rng(3)
    w, h = 427, 301
    anns = []
    for k in range(30):
        pts = np.round(rng.uniform(0, [w, h], (6, 2)), 2)
        anns.append(Annotation(k + 1, 1 + k % 2, Polygons([pts])))
    mask = np.zeros((h, w), bool)
    mask[40:90, 100:220] = True
    anns.append(Annotation(31, 2, _coco_rle(mask)))
    anns.append(Annotation(32, 1, Box(10.25, 20.5, 30.125, 7.75)))
    ds = Dataset([Category(1, "a"), Category(2, "b")], [Item(1, "x.png", w, h, anns)])
    segmill.write(ds, tmp_path / "c.json", "coco")
    coco = segmill.read(tmp_path / "c.json", "coco")
    report = segmill.write(coco, tmp_path / "ls.json", "label_studio")
    assert set(report.summary()) <= {"L805"}  # COCO's stored area/bbox of the box: a re-read recomputes them
    back = segmill.read(tmp_path / "ls.json")
    exact = 0
    for a, b in zip(coco.items[0].annotations, back.items[0].annotations):
        kinds = (Polygons, RLE, Box)
        assert [isinstance(b.geometry, k) for k in kinds] == [isinstance(a.geometry, k) for k in kinds]
        if isinstance(a.geometry, Polygons):
            # each vertex is the same float, or (when no percentage multiplies back to it) one a few ulps away
            # on the same pycocotools grid point
            p, q = a.geometry.parts[0], b.geometry.parts[0]
            assert np.allclose(p, q, rtol=1e-14, atol=0) and np.array_equal(np.trunc(5 * p + 0.5),
                                                                             np.trunc(5 * q + 0.5))
            exact += int(np.sum(p == q))
            assert b.to_rle(h, w) == _polygon_rle(q, h, w)
        else:
            assert b.geometry == a.geometry
        assert b.to_rle(h, w) == a.to_rle(h, w)
    assert exact >= 0.8 * 30 * 12  # most of the 30 x 6 vertices are the same floats
    report = segmill.write(back, tmp_path / "c2.json", "coco")
    assert not report.losses


# ------------------------------------------------------------------ loss codes
def _one(geometry, **kw):
    ann = Annotation(kw.pop("ann_id", 1), 1, geometry, **kw)
    return Dataset([Category(kw.pop("cat_id", 1), "a")], [Item(1, "a.png", 10, 8, [ann])])


@pytest.mark.parametrize(("ds", "code"), [
    (Dataset([Category(5, "a", supercategory="s")], [Item(1, "a.png", 10, 8, [Annotation(1, 5, Box(0, 0, 2, 2))])]),
     "L801"),
    (_one(Box(0, 0, 2, 2), iscrowd=True), "L802"),
    (Dataset([Category(1, "a")], [Item("im", "a.png", 10, 8, [Annotation(1, 1, Box(0, 0, 2, 2))])]), "L803"),
    (_one(Box(0, 0, 2, 2), ann_id=9), "L804"),
    (_one(Box(0, 0, 2, 2), area=99.0), "L805"),
    (_one(Polygons([[0, 0, 4, 0, 4, 4], [5, 5, 8, 5, 8, 8]])), "L806"),
    (_one(Shape("line", [[0, 0], [5, 5]])), "L807"),
    (_one(Shape("points", [[0, 0], [5, 5]])), "L808"),
    (_one(Box(0, 0, 2, 2), score=0.5), "L809"),
    (_one(Shape("circle", [[0, 0], [5, 5]])), "L002"),
    (Dataset([Category(1, "a")], [Item(1, "a.png", None, None, [Annotation(1, 1, Box(0, 0, 2, 2))])]), "L005"),
    (_one(Box(0, 0, 2, 2), attributes={"occluded": True}), "L001"),
    (_one(Box(0, 0, 2, 2), attributes={"annotator": ["a", "b"]}), "L001"),
])
def test_each_loss_code_is_reported_for_what_a_reread_would_not_give_back(ds, code, tmp_path):
    report = segmill.write(ds, tmp_path / "o.json", "label_studio")
    assert code in report.summary(), report.summary()
    segmill.read(tmp_path / "o.json")  # always readable


def test_a_dataset_the_writer_holds_entirely_reports_nothing(tmp_path):
    mask = np.zeros((8, 10), bool)
    mask[2:5, 3:9] = True
    anns = [Annotation(1, 1, Polygons([[1, 1, 6, 1, 3, 7]])), Annotation(2, 2, Box(0.5, 0.5, 3, 2)),
            Annotation(3, 1, Mask(mask)), Annotation(4, 2, Shape("point", [[2.5, 3.5]]))]
    ds = Dataset([Category(1, "a"), Category(2, "b")], [Item(1, "a.png", 10, 8, anns)])
    report = segmill.write(ds, tmp_path / "o.json", "label_studio")
    assert not report.losses
    back = segmill.read(tmp_path / "o.json")
    assert [a.to_rle(8, 10) for a in back.items[0].annotations[:3]] == [a.to_rle(8, 10) for a in anns[:3]]
    assert back.items[0].annotations[3].geometry == anns[3].geometry


# ------------------------------------------------------------------ refusals and lenient modes
def _bad_region_file(tmp_path):
    doc = json.loads(FIXTURE.read_text())
    doc[0]["annotations"][0]["result"][0]["value"]["points"][1] = ["x", 3]
    return _write_json(tmp_path / "bad.json", doc)


def test_a_bad_region_names_its_task_and_result_and_costs_only_itself_when_lenient(tmp_path):
    bad = _bad_region_file(tmp_path)
    with pytest.raises(InputError, match=r"task 11 annotation 101 result 0 \(id 'p1'\): value.points\[1\]\[0\]"):
        segmill.read(bad)
    skipped = segmill.read(bad, errors="skip")
    assert skipped.num_annotations == segmill.read(FIXTURE).num_annotations - 1
    assert len(skipped.meta["skipped"]) == 1 and "result 0" in skipped.meta["skipped"][0]["record"]
    kept = segmill.read(bad, errors="keep")
    assert isinstance(kept.items[0].annotations[0].geometry, InvalidGeometry)


@pytest.mark.parametrize("doc", [
    {"not": "a list"} , [1], [{"id": 1, "data": "x.png", "annotations": []}], [{"id": 1, "data": {}, "annotations": []}],
    [{"id": [1], "data": {"image": "a.png"}, "annotations": []}],
    [{"id": 1, "data": {"image": "a.png"}, "annotations": {}}],
    [{"id": 1, "data": {"image": "a.png"}, "annotations": [{"result": [{"type": "brushlabels", "value": {
        "format": "rle", "rle": [0, 0, 0, 8, 7, 0x27, 0xf0, 0], "brushlabels": ["a"]},
        "original_width": 2, "original_height": 1}]}]}],
    [{"id": 1, "data": {"image": "a.png"}, "annotations": [{"result": [{"type": "rectanglelabels", "value": {
        "x": 1, "y": 1, "width": -3, "height": 2, "rectanglelabels": ["a"]},
        "original_width": 2, "original_height": 1}]}]}],
])
def test_malformed_exports_are_one_line_input_errors(doc, tmp_path):
    with pytest.raises(InputError) as info:
        segmill.read(_write_json(tmp_path / "x.json", doc), "label_studio")
    assert "\n" not in str(info.value)


def test_detection_does_not_take_other_json_for_label_studio(fixtures_dir, tmp_path):
    ls = segmill.formats.get_format("label_studio")
    for other in ("coco/annotations.json", "coco/results.json", "labelme/basic/img1.json"):
        assert ls.detect(fixtures_dir / other).confidence == 0
    assert detect(FIXTURE)[0].name == "label_studio"  # its first task's data comes after 8 KiB of brushes
    one = _write_json(tmp_path / "one.json", json.loads(FIXTURE.read_text())[1])
    assert detect(one)[0].name == "label_studio" and len(segmill.read(one).items) == 1


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: label_studio: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("ade20k", "label_studio"): {"L001", "L801", "L803"},
    ("cityscapes", "label_studio"): {"L001", "L801", "L802", "L803"},
    ("coco", "label_studio"): {"L001", "L801", "L802", "L804", "L806"},
    ("coco_panoptic", "label_studio"): {"L001", "L801", "L802"},
    ("coco_results", "label_studio"): {"L800", "L801", "L809"},
    ("cvat", "label_studio"): {"L001", "L807"},
    ("label_studio", "cityscapes"): {"L002", "L602", "L605", "L705"},
    ("label_studio", "coco"): {"L002"},
    ("label_studio", "coco_panoptic"): {"L001", "L251", "L701", "L705"},
    ("label_studio", "coco_results"): {"L002", "L101", "L110", "L111", "L112"},
    ("label_studio", "cvat"): {"L504", "L507"},
    ("label_studio", "label_studio"): set(),
    ("label_studio", "labelme"): {"L001", "L405", "L406"},
    ("label_studio", "masks"): {"L001", "L208", "L701", "L703", "L705"},
    ("label_studio", "voc"): {"L002", "L205", "L208", "L701", "L705"},
    ("label_studio", "yolo"): {"L001", "L002", "L305", "L307", "L308"},
    ("labelme", "label_studio"): {"L001", "L803", "L804", "L806", "L807"},
    ("mapillary", "label_studio"): {"L001", "L801", "L803"},
    ("masks", "label_studio"): {"L001", "L801", "L803"},
    ("open_images", "label_studio"): {"L001", "L801", "L803"},
    ("voc", "label_studio"): {"L001", "L801", "L803", "L804"},
    ("yolo", "label_studio"): {"L001", "L801", "L803"},
}
