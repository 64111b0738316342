"""Mapillary Vistas and ADE20K read as streams (``FormatSpec.stream``): one image's files at a time, equal to ``read``.

The oracle is the whole read: the same items, categories and meta (stated
by the header before the first item), the same error (message, file,
record) for a malformed input, raised after the items the read would have
read before it; the same ``segmill check`` findings and ``segmill convert``
bytes. Mapillary's panoptic JSON is indexed by the byte spans of its
records, never loaded whole; ADE20K's categories come from a first pass
over the JSON files.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

import segmill
from segmill import jsonio
from segmill.check import Config, check_path
from segmill.check import streamed as dcheck
from segmill.errors import InputError
from segmill.formats import _coco_stream, _mapillary_panoptic, ade20k, mapillary
from segmill.io import ConvertOptions
from segmill.transforms import streamed

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
MV = FIXTURES / "mapillary" / "basic"
ADE = FIXTURES / "ade20k" / "basic"

_spec = importlib.util.spec_from_file_location("_stream_writers", HERE / "_stream_writers.py")
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
_rspec = importlib.util.spec_from_file_location("_read_stream", HERE / "_read_stream.py")
RS = importlib.util.module_from_spec(_rspec)
_rspec.loader.exec_module(RS)
_outcome, same_as_read, streamed_until_error = RS.outcome, RS.same_as_read, RS.streamed_until_error


MV_CHOICES = [(v, s) for v in ("v1.2", "v2.0") for s in ("instances", "panoptic", "labels", "polygons")
              if (v, s) != ("v1.2", "polygons")]
ADE_SOURCES = ["auto", "masks", "polygons", "seg"]


# ------------------------------------------------------------------ built datasets
def mv_grown(root: Path, n: int = 9) -> Path:
    """The Mapillary fixture with ``n`` more v2.0 training images (copies of ``a``), one panoptic record each."""
    shutil.copytree(MV, root)
    d = root / "training" / "v2.0"
    pan = json.loads((d / "panoptic" / "panoptic_2020.json").read_text())
    rec, im = pan["annotations"][0], pan["images"][0]
    for k in range(n):
        stem = f"a{k:02d}"
        for sub, ext in (("labels", "png"), ("instances", "png"), ("panoptic", "png"), ("polygons", "json")):
            shutil.copy(d / sub / f"a.{ext}", d / sub / f"{stem}.{ext}")
        pan["images"].append(dict(im, id=stem, file_name=f"{stem}.jpg"))
        pan["annotations"].append(dict(rec, image_id=stem, file_name=f"{stem}.png"))
    (d / "panoptic" / "panoptic_2020.json").write_text(json.dumps(pan, indent=1))
    return root


def _panoptic(root: Path) -> Path:
    return root / "training" / "v2.0" / "panoptic" / "panoptic_2020.json"


def _edit_panoptic(root: Path, change) -> None:
    f = _panoptic(root)
    doc = json.loads(f.read_text())
    change(doc)
    f.write_text(json.dumps(doc, indent=1))


def _poly(oid, ndx, name, xs=(1, 6, 6, 1), ys=(1, 1, 4, 4), part_of=None):
    parts = {"ispartof": [] if part_of is None else part_of, "part_level": 0 if part_of is None else 1}
    return {"id": oid, "name": name, "name_ndx": ndx, "raw_name": name.split(",")[0], "occluded": "no", "crop": 0,
            "attributes": [], "depth_ordering_rank": oid + 1, "parts": parts, "instance_mask": [],
            "polygon": {"x": list(xs), "y": list(ys)}}


def ade_set(root: Path, files: dict) -> Path:
    """An ADE20K folder: ``files`` maps ``<split>/<scene>/<name>`` to its objects (8 x 6 images, polygons)."""
    for rel, objs in files.items():
        f = root / f"{rel}.json"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"annotation": {"filename": f"{Path(rel).name}.jpg", "imsize": [6, 8, 3],
                                                "scene": ["outdoor"], "object": objs}}))
    return root


CLASSES = [(12, "wall"), (401, "car, auto"), (2978, "wheel"), (7, "sky"), (99, "tree")]


def _ade_many(n: int = 10) -> dict:
    out = {}
    for k in range(n):
        a, b = CLASSES[k % 5], CLASSES[(3 * k + 1) % 5]
        out[f"training/s{k % 2}/img{k:02d}"] = [_poly(0, *a), _poly(1, *b), _poly(2, 2978, "wheel", part_of=1)]
    return out


@pytest.fixture
def mv(tmp_path):
    return mv_grown(tmp_path / "mv")


@pytest.fixture
def ade(tmp_path):
    return ade_set(tmp_path / "ade", _ade_many())


# ------------------------------------------------------------------ the fixtures and built sets
@pytest.mark.parametrize("errors", ["raise", "skip"])
@pytest.mark.parametrize("version, source", MV_CHOICES)
def test_the_mapillary_fixture_streams_as_it_reads(version, source, errors):
    ds = same_as_read(MV, "mapillary", version=version, source=source, errors=errors)
    assert len(ds.items) == 2


@pytest.mark.parametrize("version, source", MV_CHOICES + [(None, "auto")])
def test_a_grown_mapillary_set_streams_as_it_reads(mv, version, source):
    ds = same_as_read(mv, "mapillary", version=version, source=source)
    assert len(ds.items) == (2 if version == "v1.2" else 11)
    same_as_read(mv / "training", "mapillary", version=version, source=source)  # a split folder


@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
@pytest.mark.parametrize("source", ADE_SOURCES)
def test_the_ade20k_fixture_streams_as_it_reads(source, errors):
    same_as_read(ADE, "ade20k", source=source, errors=errors)
    same_as_read(ADE / "validation" / "ADE_val_00000001.json", "ade20k", source=source, errors=errors)


@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
def test_a_built_ade20k_set_streams_as_it_reads(ade, errors):
    for source in ("auto", "polygons"):
        ds = same_as_read(ade, "ade20k", source=source, errors=errors)
        assert len(ds.items) == 10
    header = segmill.stream(ade, "ade20k").header
    # known before the first item: in order of first appearance across the sorted files
    assert [c.id for c in header.categories] == [12, 401, 2978, 99, 7]


def test_the_keep_mode_of_mapillary_reads_whole():
    assert mapillary.stream(MV, errors="keep") is None
    st = segmill.stream(MV, "mapillary", errors="keep")
    assert not st.bounded and st.to_dataset() == segmill.read(MV, "mapillary", errors="keep")


# ------------------------------------------------------------------ lazily, one image at a time
@pytest.mark.parametrize("source", ["instances", "panoptic", "polygons"])
def test_mapillary_items_come_one_image_at_a_time(mv, monkeypatch, source):
    reads, loads = [], []
    real_png, real_item, real_load = mapillary.read_png, mapillary._polygons_item, jsonio.load
    monkeypatch.setattr(mapillary, "read_png", lambda f: reads.append(f) or real_png(f))
    monkeypatch.setattr(mapillary, "_polygons_item", lambda *a: reads.append(a[1]) or real_item(*a))
    monkeypatch.setattr(jsonio, "load", lambda f, **k: loads.append(Path(f).name) or real_load(f, **k))
    st = segmill.stream(mv, "mapillary", source=source)
    assert st.bounded and reads == [] and loads == ["config_v2.0.json"]
    it = iter(st)
    next(it)
    assert len(reads) == 1
    next(it)
    assert len(reads) == 2
    assert len(reads) + len(list(it)) == 11  # one file an item
    assert "panoptic_2020.json" not in loads  # never loaded whole: indexed


def test_ade20k_items_come_one_image_at_a_time(ade, monkeypatch):
    pixels = []
    real = ade20k._from_objects
    monkeypatch.setattr(ade20k, "_from_objects", lambda *a: pixels.append(a[1]) or real(*a))
    st = segmill.stream(ade, "ade20k")
    assert st.bounded and pixels == [] and len(st.header.categories) == 5  # the first pass: JSONs, no pixels
    it = iter(st)
    next(it)
    assert len(pixels) == 1
    next(it)
    assert len(pixels) == 2
    assert len(pixels) + len(list(it)) == 10


def test_a_spilled_panoptic_index_reads_alike(mv, monkeypatch):
    monkeypatch.setattr(_coco_stream, "SPILL_BYTES", 32)  # the spans go to a temporary file
    monkeypatch.setattr(_mapillary_panoptic, "BATCH", 3)
    doc = _mapillary_panoptic.indexed(_panoptic(mv))
    assert isinstance(doc.annotations, _coco_stream.SpanFile) and len(doc.annotations) == 10
    same_as_read(mv, "mapillary", source="panoptic")


def test_a_panoptic_json_changed_while_streamed_is_refused(mv, monkeypatch):
    monkeypatch.setattr(_mapillary_panoptic, "BATCH", 2)
    st = segmill.stream(mv, "mapillary", source="panoptic")
    it = iter(st)
    next(it)
    _edit_panoptic(mv, lambda d: d["annotations"].pop())
    with pytest.raises(InputError, match="the file changed while it was read"):
        list(it)


def test_ade20k_files_changed_between_the_passes_are_refused(ade):
    st = segmill.stream(ade, "ade20k")
    f = ade / "training" / "s1" / "img09.json"
    doc = json.loads(f.read_text())
    doc["annotation"]["object"].append(_poly(5, 555, "new class"))
    f.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="the JSON files changed while they were read"):
        st.to_dataset()


# ------------------------------------------------------------------ the same errors
def _text(root: Path, text: str) -> None:
    _panoptic(root).write_text(text)


PANOPTIC_BREAKERS = {
    "not_json_in_a_record": lambda r: _text(r, _panoptic(r).read_text().replace('"segments_info"', '"segments_info" 1',
                                                                               1)),
    "cut": lambda r: _text(r, _panoptic(r).read_text()[:-40]),
    "byte_order_mark": lambda r: _panoptic(r).write_bytes(b"\xef\xbb\xbf" + _panoptic(r).read_bytes()),
    "not_utf8": lambda r: _panoptic(r).write_bytes(_panoptic(r).read_bytes().replace(b'"a03.png"', b'"a\xff.png"')),
    "deep": lambda r: _edit_panoptic(r, lambda d: d["annotations"][3].update(deep=json.loads("[" * 600 + "]" * 600))),
    # the document is 3 deep where a record's value starts: 64 levels in all are read, 65 are refused
    "deep_64": lambda r: _edit_panoptic(r, lambda d: d["annotations"][3].update(deep=json.loads("[" * 61 + "]" * 61))),
    "deep_65": lambda r: _edit_panoptic(r, lambda d: d["annotations"][3].update(deep=json.loads("[" * 62 + "]" * 62))),
    "nan_area": lambda r: _text(r, _panoptic(r).read_text().replace('"area": 16', '"area": NaN', 3)),
    "repeated_key": lambda r: _text(r, _panoptic(r).read_text()[:-1] + ', "images": []}'),
    "no_images": lambda r: _edit_panoptic(r, lambda d: d.pop("images")),
    "images_not_a_list": lambda r: _edit_panoptic(r, lambda d: d.update(images={"a": 1})),
    "annotations_not_a_list": lambda r: _edit_panoptic(r, lambda d: d.update(annotations=3)),
    "not_an_object": lambda r: _text(r, "[1, 2]"),
    "bad_category": lambda r: _edit_panoptic(r, lambda d: d["categories"][1].update(name="nope")),
    "bad_image_size": lambda r: _edit_panoptic(r, lambda d: d["images"][6].update(height=-3)),
    "image_without_id": lambda r: _edit_panoptic(r, lambda d: d["images"][4].pop("id")),
    "bad_record": lambda r: _edit_panoptic(r, lambda d: d["annotations"].insert(5, "x")),
    "bad_segment": lambda r: _edit_panoptic(r, lambda d: d["annotations"][4]["segments_info"][1].update(id=0)),
    "segments_mismatch": lambda r: _edit_panoptic(r, lambda d: d["annotations"][6]["segments_info"].pop()),
    "size_mismatch": lambda r: _edit_panoptic(r, lambda d: d["images"][7].update(width=9)),
    "missing_png": lambda r: (_panoptic(r).parent / "a04.png").unlink(),
    "repeated_image": lambda r: _edit_panoptic(r, lambda d: d["annotations"].insert(3, d["annotations"][1])),
    "repeated_then_bad": lambda r: _edit_panoptic(r, lambda d: (d["annotations"].insert(3, d["annotations"][1]),
                                                                d["annotations"][8].update(file_name=""))),
    "two_jsons": lambda r: shutil.copy(_panoptic(r), _panoptic(r).with_name("more.json")),
}


@pytest.mark.parametrize("errors", ["raise", "skip"])
@pytest.mark.parametrize("breaker", sorted(PANOPTIC_BREAKERS))
def test_a_bad_panoptic_json_is_refused_alike(mv, breaker, errors):
    PANOPTIC_BREAKERS[breaker](mv)
    for path in (mv, mv / "training"):
        same_as_read(path, "mapillary", source="panoptic", errors=errors)


def test_the_index_vouches_for_a_good_file_only(mv):
    assert _mapillary_panoptic.indexed(_panoptic(mv)) is not None
    for name in ("not_json_in_a_record", "byte_order_mark", "deep", "repeated_key", "no_images", "not_an_object"):
        PANOPTIC_BREAKERS[name](mv)
        assert _mapillary_panoptic.indexed(_panoptic(mv)) is None, name
        shutil.rmtree(mv)
        mv_grown(mv)


def _bad_png(f: Path) -> None:
    f.write_bytes(f.read_bytes()[:50])


@pytest.mark.parametrize("source, sub, ext", [("instances", "instances", "png"), ("labels", "labels", "png"),
                                              ("panoptic", "panoptic", "png"), ("polygons", "polygons", "json")])
def test_a_bad_mapillary_file_raises_the_reads_error_after_the_images_before_it(mv, source, sub, ext):
    _bad_png(mv / "training" / "v2.0" / sub / f"a05.{ext}")
    _, err = _outcome(lambda: segmill.read(mv, "mapillary", source=source))
    items, serr = streamed_until_error(mv, "mapillary", source=source)
    assert err is not None and serr == err
    assert [i.id for i in items][-1] == "training/a04"  # (the files before it: a, a00 ... a04)
    same_as_read(mv, "mapillary", source=source, errors="skip")


def test_a_bad_mapillary_config_is_refused_before_any_item(mv):
    (mv / "config_v2.0.json").write_text('{"labels": []}')
    same_as_read(mv, "mapillary")


ADE_BREAKERS = {
    "not_json": lambda r: (r / "training/s0/img04.json").write_text("{oops"),
    "no_annotation": lambda r: (r / "training/s1/img05.json").write_text("[]"),
    "class_renamed": lambda r: _ade_objects(r, "training/s1/img07", lambda o: o[0].update(name="other")),
    "bad_object": lambda r: _ade_objects(r, "training/s0/img06", lambda o: o[1].update(name_ndx="x")),
    "duplicate_object": lambda r: _ade_objects(r, "training/s0/img02", lambda o: o.append(o[0])),
    "orphan_part": lambda r: _ade_objects(r, "training/s1/img03", lambda o: o[2]["parts"].update(ispartof=9)),
    "short_polygon": lambda r: _ade_objects(r, "training/s0/img08", lambda o: o[0]["polygon"].update(x=[1], y=[1])),
    "bad_scene": lambda r: _ade_edit(r, "training/s1/img01", lambda a: a.update(scene="x")),
    "outside_image": lambda r: _ade_edit(r, "training/s0/img06", lambda a: a.update(filename="../../../x.jpg")),
    "latin1": lambda r: (r / "training/s0/img00.json").write_bytes(
        (r / "training/s0/img00.json").read_bytes().replace(b'"raw_name": "wall"', b'"raw_name": "w\xe4ll"')),
    # a pixel error in an early file and a JSON error in a later one: the early one is the read's error
    "pixels_then_json": lambda r: (_ade_objects(r, "training/s0/img02", lambda o: o[0]["polygon"].update(x=[1],
                                                                                                      y=[1])),
                                   (r / "training/s1/img07.json").write_text("{oops")),
}


def _ade_edit(root: Path, rel: str, change) -> None:
    f = root / f"{rel}.json"
    doc = json.loads(f.read_text())
    change(doc["annotation"])
    f.write_text(json.dumps(doc))


def _ade_objects(root: Path, rel: str, change) -> None:
    _ade_edit(root, rel, lambda a: change(a["object"]))


@pytest.mark.parametrize("errors", ["raise", "skip", "keep"])
@pytest.mark.parametrize("breaker", sorted(ADE_BREAKERS))
def test_a_bad_ade20k_file_is_refused_alike(ade, breaker, errors):
    ADE_BREAKERS[breaker](ade)
    for source in ("auto", "polygons"):
        same_as_read(ade, "ade20k", source=source, errors=errors)


def test_a_bad_ade20k_file_raises_the_reads_error_after_the_images_before_it(ade):
    ADE_BREAKERS["class_renamed"](ade)
    _, err = _outcome(lambda: segmill.read(ade, "ade20k"))
    items, serr = streamed_until_error(ade, "ade20k")
    assert err is not None and "elsewhere" in err[0] and serr == err
    assert len(items) == 8  # img00 ... img08 of s0 (5) and img01 ... img05 of s1 (3), not the renamed img07


def test_a_latin1_file_is_noted_in_the_header(ade):
    ADE_BREAKERS["latin1"](ade)
    notes = segmill.stream(ade, "ade20k").header.meta["read_notes"]
    assert any("Latin-1" in n and "img00.json" in n for n in notes)


# ------------------------------------------------------------------ segmill check and convert
def _same_check(a, b):
    assert [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in a.findings] == \
           [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in b.findings]
    assert (a.images, a.annotations, [r.code for r in a.rules]) == (b.images, b.annotations, [r.code for r in b.rules])


@pytest.mark.parametrize("select", [None, ["ALL"]])
@pytest.mark.parametrize("fmt, options", [("mapillary", {"source": "panoptic"}), ("mapillary", {"source": "polygons"}),
                                          ("ade20k", {}), ("ade20k", {"source": "seg"})])
def test_a_streamed_check_finds_what_the_whole_check_finds(tmp_path, monkeypatch, fmt, options, select):
    monkeypatch.setattr(streamed, "BATCH", 3)  # many batches
    src = mv_grown(tmp_path / "mv") if fmt == "mapillary" else ade_set(tmp_path / "ade", _ade_many())
    if options.get("source") == "seg":
        src = ADE
    cfg = Config(select=select) if select else Config()
    whole = check_path(src, format=fmt, config=cfg, **options)
    got = dcheck.check_streamed([src], format=fmt, config=cfg, **options)
    assert got is not None
    _same_check(got, whole)


@pytest.mark.parametrize("fmt, options", [("mapillary", {"source": "panoptic"}), ("mapillary", {"source": "instances"}),
                                          ("ade20k", {}), ("ade20k", {"source": "seg"})])
def test_convert_of_a_stream_writes_the_bytes_of_the_whole_write(tmp_path, monkeypatch, fmt, options):
    src = mv_grown(tmp_path / "mv") if fmt == "mapillary" else ADE if options else ade_set(tmp_path / "ade",
                                                                                        _ade_many())
    calls = S.count_writes(monkeypatch, "labelme")
    a = segmill.convert(src, tmp_path / "s", fmt, "labelme", options=ConvertOptions(read=options))
    b = segmill.write(segmill.read(src, fmt, **options), tmp_path / "w", "labelme")
    assert calls, "the conversion did not stream"
    S.same_tree(tmp_path, a, b)
