"""YOLO and LabelMe read as streams (``FormatSpec.stream``): one image's file at a time, equal to ``read``.

The oracle is the whole read: the same items, categories and meta, the same
error message for a malformed file, the same ``segmill check`` findings, and
the same bytes for ``segmill convert``.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from PIL import Image

import segmill
from segmill.check import Config, check_path
from segmill.check import streamed as dcheck
from segmill.errors import InputError
from segmill.io import ConvertOptions
from segmill.formats import detect, yolo
from segmill.transforms import streamed

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


S = _load("_stream_writers")
R = _load("test_roundtrip_pairs")  # its random datasets


def _fixture_sets() -> list:
    """Every folder and file under fixtures/ detected as YOLO or LabelMe."""
    out = []
    for p in sorted(FIXTURES.rglob("*")):
        if not (p.is_dir() or p.suffix in (".json", ".yaml")):
            continue
        try:
            spec, _ = detect(p)
        except Exception:  # noqa: BLE001 - not a dataset at all
            continue
        if spec.name in ("yolo", "labelme"):
            out.append(pytest.param(p, spec.name, {}, id=str(p.relative_to(FIXTURES))))
    return out


def _outcome(fn):
    try:
        return fn(), None
    except InputError as exc:
        return None, str(exc)


def same_as_read(path, fmt: str, **options) -> segmill.Dataset | None:
    """The stream of ``path`` gives what :func:`segmill.read` gives (or its error); the dataset read."""
    whole, err = _outcome(lambda: segmill.read(path, fmt, **options))
    st, serr = _outcome(lambda: segmill.stream(path, fmt, **options))
    if serr is None:
        assert st.bounded
        got, serr = _outcome(st.to_dataset)
    assert serr == err
    if err is None:
        assert got.items == whole.items
        assert got.categories == whole.categories and got.meta == whole.meta
        assert [[a.origin for a in i.annotations] for i in got.items] == \
               [[a.origin for a in i.annotations] for i in whole.items]
        assert [i.origin for i in got.items] == [i.origin for i in whole.items]
    return whole


@pytest.mark.parametrize("path, fmt, options", _fixture_sets())
def test_every_fixture_streams_as_it_reads(path, fmt, options):
    same_as_read(path, fmt, **options)


@pytest.mark.parametrize("options", [{}, {"labels": "labels.txt"}, {"raster": "pil", "labels": "labels.txt"}])
def test_labelmes_own_example_streams_as_it_reads(corpus, options):
    root = corpus / "labelme" / "instance_segmentation"
    if "labels" in options:
        options = dict(options, labels=root / options["labels"])
    assert len(same_as_read(root / "data_annotated", "labelme", **options).items) == 3


def test_lenient_modes_read_whole():
    for fmt, path in (("yolo", FIXTURES / "yolo" / "seg"), ("labelme", FIXTURES / "labelme" / "basic")):
        for errors in ("skip", "keep"):
            st = segmill.stream(path, fmt, errors=errors)
            assert not st.bounded and st.to_dataset().items == segmill.read(path, fmt, errors=errors).items


# ------------------------------------------------------------------ built datasets
def _png(path: Path, w: int = 20, h: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h)).save(path)


def yolo_set(root: Path, labels: dict, names=("cat", "dog", "bird"), extra: str = "") -> Path:
    """A YOLO folder: ``labels`` maps ``split/stem`` to label text; an image for each (20 x 16)."""
    for key, text in labels.items():
        _png(root / "images" / f"{key}.png")
        (root / "labels" / f"{key}.txt").parent.mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"{key}.txt").write_text(text)
    if names is not None:
        (root / "data.yaml").write_text("names:\n" + "".join(f"  - {n}\n" for n in names) + extra)
    return root


def labelme_set(root: Path, shapes: dict, raw: dict | None = None) -> Path:
    """A LabelMe folder: ``shapes`` maps a stem to its shapes (20 x 16 images); ``raw`` stem -> file text."""
    root.mkdir(parents=True, exist_ok=True)
    for stem, sh in shapes.items():
        _png(root / f"{stem}.png")
        doc = {"version": "5.0.1", "flags": {}, "shapes": sh, "imagePath": f"{Path(stem).name}.png",
               "imageData": None, "imageHeight": 16, "imageWidth": 20}
        (root / f"{stem}.json").parent.mkdir(parents=True, exist_ok=True)
        (root / f"{stem}.json").write_text(json.dumps(doc))
    for stem, text in (raw or {}).items():
        (root / f"{stem}.json").write_text(text)
    return root


def poly(label, pts, group_id=None, kind="polygon"):
    return {"label": label, "points": pts, "group_id": group_id, "shape_type": kind, "flags": {}}


TRI = "0.1 0.1 0.5 0.1 0.3 0.6"
BOWTIE = "0.1 0.1 0.6 0.6 0.6 0.1 0.1 0.6"  # self-intersecting
SQ = [[1, 1], [9, 1], [9, 9], [1, 9]]
BOW = [[1, 1], [9, 9], [9, 1], [1, 9]]


def _yolo_cases(root: Path) -> dict:
    many = {f"train/x{k:02d}": f"{k % 3} {TRI}\n" for k in range(12)}
    return {
        "good": yolo_set(root / "good", many),
        "no_yaml": yolo_set(root / "no_yaml", {"train/a": f"7 {TRI}\n", "val/b": f"2 {TRI}\n5 {TRI}\n"}, None),
        "boxes": yolo_set(root / "boxes", {"a": "0 0.5 0.5 0.2 0.2\n", "b": "1 0.3 0.3 0.1 0.1\n"}),
        # classes outside names in two files: the message lists both, after every file was read
        "undeclared": yolo_set(root / "undeclared", {**many, "train/x03": f"9 {TRI}\n", "val/z": f"4 {TRI}\n"}),
        # ... unless a later file is malformed: its error comes first
        "undeclared_then_bad": yolo_set(root / "undeclared_then_bad", {**many, "train/x01": f"9 {TRI}\n",
                                                                       "train/x11": "0 0.1 0.2 0.3\n"}),
        "bad_line": yolo_set(root / "bad_line", {**many, "train/x05": "0 0.1 0.2 1.5 0.3 0.2 0.2\n"}),
        "no_names_bad_class": yolo_set(root / "no_names_bad_class", {"a": f"1 {TRI}\n", "b": f"x {TRI}\n"}, None),
        "ids_key": yolo_set(root / "ids_key", many, extra="segmill_category_ids: [10, 20, 30]\n"),
        "bad_ids_key": yolo_set(root / "bad_ids_key", many, extra="segmill_category_ids: [10, 20]\n"),
        "defects": yolo_set(root / "defects", {**many, "train/x02": f"0 {BOWTIE}\n", "train/x04": "1 0.1 0.1 0.2 "
                                               "0.1 0.3 0.1\n", "val/e": ""}, names=("cat", "dog", "bird", "fox")),
    }


def _labelme_cases(root: Path) -> dict:
    many = {f"d{k % 2}/x{k:02d}": [poly(f"c{k % 4}", SQ), poly("__ignore__", SQ), poly(f"c{7 - k}", SQ, 1),
                                   poly(f"c{7 - k}", BOW, 1)] for k in range(8)}
    return {
        "good": labelme_set(root / "good", many),
        "lines": labelme_set(root / "lines", {"a": [poly("p", [[1, 1]], kind="point"), poly("q", [[5, 5], [8, 5]], kind="circle")],
                                              "b": [poly("q", [[1, 1], [6, 7]], 2, "rectangle"), poly("r", [[1, 1], [3, 4]],
                                                                                        kind="line")]}),
        "bad_json": labelme_set(root / "bad_json", many, raw={"d0/x04": "{not json"}),
        "bad_label": labelme_set(root / "bad_label", {**many, "d1/x05": [{"label": 3, "points": SQ,
                                                                          "shape_type": "polygon"}]}),
        "defects": labelme_set(root / "defects", {**many, "d0/y": [poly("c1", BOW), poly("c2", [[1, 1], [2, 2],
                                                                                           [3, 3]])], "e": []}),
    }


def test_built_yolo_sets_stream_as_they_read(tmp_path):
    cases = _yolo_cases(tmp_path)
    for name, path in cases.items():
        same_as_read(path, "yolo")
    for name in ("undeclared", "undeclared_then_bad", "bad_line", "no_names_bad_class", "bad_ids_key"):
        with pytest.raises(InputError):
            segmill.read(cases[name], "yolo")
    with pytest.raises(InputError, match=r"class ids \[4, 9\] are not in data.yaml names"):
        list(segmill.stream(cases["undeclared"], "yolo"))
    assert yolo.stream(cases["bad_ids_key"]) is None  # read refuses the key after every file: read whole
    assert [c.id for c in segmill.stream(cases["ids_key"], "yolo").header.categories] == [10, 20, 30]
    assert [c.id for c in segmill.stream(cases["no_yaml"], "yolo").header.categories] == [2, 5, 7]


def test_built_labelme_sets_stream_as_they_read(tmp_path):
    cases = _labelme_cases(tmp_path)
    for path in cases.values():
        for options in ({}, {"raster": "pil"}):
            same_as_read(path, "labelme", **options)
    labels = tmp_path / "labels.txt"
    labels.write_text("__ignore__\n_background_\n" + "".join(f"c{k}\n" for k in range(7)))  # c7 is missing
    same_as_read(cases["good"], "labelme", labels=labels)
    header = segmill.stream(cases["good"], "labelme").header
    # known before the first item, in order of first appearance across the sorted files (d0/x00, d0/x02, ...)
    assert [c.name for c in header.categories] == ["c0", "c7", "c2", "c5", "c3", "c1", "c6", "c4"]


# ------------------------------------------------------------------ random datasets
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=R.datasets(max_images=4))
def test_random_datasets_written_as_yolo_and_labelme_stream_as_they_read(case):
    ds, _ = case
    with tempfile.TemporaryDirectory(prefix="segmill-perfile-") as tmp:
        root = Path(tmp)
        R._save_images(ds, root)
        for fmt in ("yolo", "labelme"):
            segmill.write(ds, root / fmt, fmt)
            same_as_read(root / fmt, fmt)


# ------------------------------------------------------------------ segmill check
def _same_check(a, b):
    assert [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in a.findings] == \
           [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in b.findings]
    assert (a.images, a.annotations, [r.code for r in a.rules]) == (b.images, b.annotations, [r.code for r in b.rules])


@pytest.mark.parametrize("select", [None, ["ALL"], ["G", "S"], ["S002", "S010", "C004"]])
@pytest.mark.parametrize("fmt", ["yolo", "labelme"])
def test_a_streamed_check_finds_what_the_whole_check_finds(tmp_path, monkeypatch, fmt, select):
    monkeypatch.setattr(streamed, "BATCH", 3)  # many batches
    src = (_yolo_cases if fmt == "yolo" else _labelme_cases)(tmp_path)["defects"]
    cfg = Config(select=select) if select else Config()
    whole = check_path(src, format=fmt, config=cfg)
    got = dcheck.check_streamed([src], format=fmt, config=cfg)
    assert got is not None and (whole.findings or select == ["S002", "S010", "C004"])
    _same_check(got, whole)


@pytest.mark.parametrize("fmt, case", [("yolo", "bad_line"), ("yolo", "undeclared"), ("labelme", "bad_label")])
def test_a_record_the_stream_refuses_is_checked_whole(tmp_path, fmt, case):
    src = (_yolo_cases if fmt == "yolo" else _labelme_cases)(tmp_path)[case]
    assert dcheck.check_streamed([src], format=fmt) is None  # the caller then checks the lenient whole read


# ------------------------------------------------------------------ segmill convert
@pytest.mark.parametrize("target", ["coco", "yolo", "labelme"])
@pytest.mark.parametrize("fmt, case", [("yolo", "good"), ("yolo", "ids_key"), ("yolo", "no_yaml"), ("yolo", "boxes"),
                                       ("labelme", "good"), ("labelme", "lines")])
def test_convert_of_a_stream_writes_the_bytes_of_the_whole_write(tmp_path, monkeypatch, fmt, case, target):
    src = (_yolo_cases if fmt == "yolo" else _labelme_cases)(tmp_path / "in")[case]
    calls = S.count_writes(monkeypatch, target)
    a = segmill.convert(src, tmp_path / "s", fmt, target)
    b = segmill.write(segmill.read(src, fmt), tmp_path / "w", target)
    if target != "coco":  # COCO's stream writer takes COCO streams only: that conversion reads whole
        assert calls, "the conversion did not stream"
    S.same_tree(tmp_path, a, b)


def test_convert_of_labelmes_example_streams_its_bytes(corpus, tmp_path, monkeypatch):
    root = corpus / "labelme" / "instance_segmentation"
    calls = S.count_writes(monkeypatch, "labelme")
    opts = ConvertOptions(read={"labels": root / "labels.txt", "raster": "pil"})
    a = segmill.convert(root / "data_annotated", tmp_path / "s", "labelme", "labelme", options=opts)
    b = segmill.write(segmill.read(root / "data_annotated", "labelme", labels=root / "labels.txt", raster="pil"),
                      tmp_path / "w", "labelme")
    assert calls
    S.same_tree(tmp_path, a, b)
