"""segmill's detector names the format segmill wrote, for every source and every writer.

Every readable format contributes at least one source (a fixture, the
synthetic COCO generator, or a dataset built here); each source is written by
every writer and :func:`segmill.formats.detect` must name that writer's
format. Pairs whose output cannot be detected, or cannot be written, are
listed in :data:`EXPECTED` with the reason, and the test asserts exactly that
outcome (``xfail`` entries are strict: they fail once the bug is fixed, so the
entry must then be removed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import segmill
from segmill import synth
from segmill.cli import main
from segmill.errors import FormatDetectionError
from segmill.formats import detect, formats
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

#: source name -> (reader format, path under fixtures/): every reader's own example (``FormatSpec.example``),
#: plus fixtures of a second layout. Built sources are in _BUILT.
FIXTURE_SOURCES = {n: (n, s.example) for n, s in formats().items() if s.read is not None}
FIXTURE_SOURCES["yolo_boxes"] = ("yolo", "yolo/boxes")
FIXTURE_SOURCES["coco_panoptic_json"] = ("coco_panoptic", "panoptic/annotations/panoptic_val.json")
_BUILT = ("synth", "coco_isthing", "long_polygon", "unannotated", "unannotated_isthing", "empty")
SOURCES = (*FIXTURE_SOURCES, *_BUILT)
WRITERS = tuple(sorted(n for n, s in formats().items() if s.write is not None))

#: (source, writer) -> (outcome, reason); every other pair must be detected as the writer's format, except an
#: empty folder written for a dataset without images (a format with no dataset-level file): undetectable by
#: construction, its categories reported lost.
EXPECTED = {
    ("empty", "label_studio"): ("xfail", ("an export of no task is [], which is also an empty COCO results file: "
                                          "detected as coco_results, as `segmill info` has always said of [] files")),
}


def _coco_isthing(tmp: Path) -> Dataset:
    """COCO instances whose images carry ``panoptic_file_name`` and categories ``isthing``.

    What segmill's COCO writer produces from a panoptic or Cityscapes source,
    and what Detectron2-style files look like: still COCO instances.
    """
    doc = json.loads((FIXTURES / "coco" / "annotations.json").read_text())
    for img in doc["images"]:
        img["panoptic_file_name"] = Path(img["file_name"]).stem + ".png"
    for cat in doc["categories"]:
        cat["isthing"] = 1
    path = tmp / "isthing.json"
    path.write_text(json.dumps(doc))
    return segmill.read(path, "coco")


def _long_polygon() -> Dataset:
    """One image holding one 400-vertex polygon: its records are longer than a detector's first 4 KiB."""
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    ring = np.stack([32 + 20.25 * np.cos(t), 32 + 20.25 * np.sin(t)], axis=1).round(2)
    ann = Annotation(1, 1, Polygons([ring.ravel().tolist()]))
    return Dataset(categories=[Category(1, "disc")], items=[Item(1, "disc.png", 64, 64, annotations=[ann])])


def _build(name: str, tmp: Path) -> Dataset:
    if name in FIXTURE_SOURCES:
        fmt, rel = FIXTURE_SOURCES[name]
        return segmill.read(FIXTURES / rel, fmt)
    if name == "synth":
        return segmill.read(synth.write_coco(tmp / "synth.json", 3, seed=5), "coco")
    if name == "coco_isthing":
        return _coco_isthing(tmp)
    if name == "long_polygon":
        return _long_polygon()
    if name == "unannotated":
        return Dataset(categories=[Category(1, "cat")], items=[Item(1, "a.png", 10, 8)])
    if name == "unannotated_isthing":  # e.g. a Cityscapes-derived dataset before anyone annotated it
        return Dataset(categories=[Category(1, "cat", isthing=True), Category(2, "road", isthing=False)],
                       items=[Item(1, "a.png", 10, 8)])
    if name == "empty":
        return Dataset(categories=[Category(1, "cat")])
    raise AssertionError(name)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sources")
    cache: dict[str, Dataset] = {}

    def get(name: str) -> Dataset:
        if name not in cache:
            cache[name] = _build(name, tmp)
        return cache[name]

    return get


def _out_path(tmp_path: Path, writer: str) -> Path:
    return tmp_path / ("out.json" if formats()[writer].output == "file" else "out")


def test_every_reader_has_a_source_and_the_table_names_real_pairs():
    for name, (fmt, rel) in FIXTURE_SOURCES.items():
        assert rel and (FIXTURES / rel).exists(), f"{name}: FormatSpec.example {rel!r} is not under fixtures/"
    for (src, dst), (outcome, _reason) in EXPECTED.items():
        assert src in SOURCES and dst in WRITERS and outcome in ("xfail", "undetectable", "unwritable")


def _params():
    for src in SOURCES:
        for dst in WRITERS:
            outcome, reason = EXPECTED.get((src, dst), ("ok", ""))
            marks = [pytest.mark.xfail(strict=True, raises=(AssertionError, FormatDetectionError), reason=reason)
                     ] if outcome == "xfail" else []
            yield pytest.param(src, dst, outcome, id=f"{src}-{dst}", marks=marks)


@pytest.mark.parametrize("src,dst,outcome", list(_params()))
def test_detect_names_the_written_format(src, dst, outcome, sources, tmp_path):
    ds = sources(src)
    out = _out_path(tmp_path, dst)
    if outcome == "unwritable":
        with pytest.raises(segmill.errors.SegmillError):
            segmill.write(ds, out, dst)
        return
    report = segmill.write(ds, out, dst)
    if out.is_dir() and not any(out.iterdir()):
        # a format without a dataset-level file writes no file for a dataset without images: nothing can name
        # the format, by construction; what the dataset held (its categories) must be reported lost
        assert not ds.items and report.losses, f"{dst} wrote an empty folder for {src}"
        outcome = "undetectable"
    if outcome == "undetectable":
        with pytest.raises(FormatDetectionError):
            detect(out)
        return
    spec, why = detect(out)
    assert spec.name == dst, f"{src} written as {dst} is detected as {spec.name} ({why.reason})"
    # the same decision reached through the public API, which is what `segmill info` uses
    assert segmill.io.detect_format(out)[0] == dst


def test_coco_from_panoptic_source_is_coco_for_info_and_check(tmp_path):
    """Issue 13: panoptic_file_name kept on images made `segmill info` pick coco_panoptic ("file not found")."""
    src = FIXTURES / "panoptic" / "annotations" / "panoptic_val.json"
    out = tmp_path / "out.json"
    r = CliRunner().invoke(main, ["convert", str(src), str(out), "--to", "coco", "-q"])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert any("panoptic_file_name" in img for img in doc["images"])  # the case of the bug
    info = CliRunner().invoke(main, ["info", str(out), "--json"])
    assert info.exit_code == 0, info.output
    summary = json.loads(info.stdout)
    assert summary["format"] == "coco" and summary["images"] == len(doc["images"])
    check = CliRunner().invoke(main, ["check", str(out), "--output-format", "json"])
    assert check.exit_code in (0, 1), check.output
    assert "file not found" not in check.output and "coco_panoptic" not in check.output


def test_panoptic_json_is_not_taken_for_instances(tmp_path):
    """The rule for annotations carrying segmentation does not capture panoptic files (segments_info)."""
    src = FIXTURES / "panoptic" / "annotations"
    dst = tmp_path / "annotations"
    shutil.copytree(src, dst)
    spec, _ = detect(dst / "panoptic_val.json")
    assert spec.name == "coco_panoptic"
    assert formats()["coco"].detect(dst / "panoptic_val.json").confidence < 0.5
