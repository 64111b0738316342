"""COCO to VOC as a stream (``FormatSpec.write_stream_any``): the files and the report of the whole write.

The oracle is the in-memory path, ``segmill.write(segmill.read(src), dst, "voc")``; with
``STREAM_BYTES = 0`` the COCO source streams through its index, and the VOC stream writer is counted so
a test cannot pass by reading whole.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

import segmill
from segmill.errors import InputError
from segmill.formats import coco, voc
from segmill.io import ConvertOptions
from segmill.transforms import DropCrowd, Editor, MapClasses, MinArea

_spec = importlib.util.spec_from_file_location("_edit_data", Path(__file__).with_name("_edit_data.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)


@pytest.fixture(autouse=True)
def streams(monkeypatch):
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    calls: list = []
    spec = segmill.formats.get_format("voc")
    counted = dataclasses.replace(spec, write_stream=lambda *a, **k: calls.append(1) or spec.write_stream(*a, **k))
    monkeypatch.setitem(segmill.formats._REGISTRY, "voc", counted)
    return calls


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("chain, write", [([], {}), ([], {"overlap": "last", "xml_polygons": True}),
                                          ([DropCrowd(), MapClasses({"car": "vehicle"}), MinArea(8)], {})])
def test_coco_to_voc_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    src = D.write_doc(tmp_path / "src.json", D.coco_doc(25, seed=4))
    e1, e2 = Editor(chain), Editor(chain)
    a = segmill.convert(src, tmp_path / "s", to_format="voc", options=ConvertOptions(edit=e1, write=write))
    assert streams, "the conversion did not stream"
    b = segmill.write(e2(segmill.read(src)), tmp_path / "w", "voc", **write)
    assert _tree(tmp_path / "s") == _tree(tmp_path / "w") and len(_tree(tmp_path / "w")) > 25
    assert (a.losses, a.notes, a.items, a.annotations, a.files) == (b.losses, b.notes, b.items, b.annotations,
                                                                   b.files)
    assert e1.report.to_dict() == e2.report.to_dict()


def test_an_image_the_stream_writer_refuses_leaves_nothing(tmp_path, streams):
    doc = D.coco_doc(10, seed=2)
    doc["images"][6]["file_name"] = "bad\x00name.png"  # cannot be a file name: refused at the seventh image
    src = D.write_doc(tmp_path / "src.json", doc)
    with pytest.raises(InputError):
        segmill.convert(src, tmp_path / "s", to_format="voc")
    assert streams and [p.name for p in tmp_path.iterdir()] == ["src.json"]


def test_the_cli_converts_coco_to_voc_as_a_stream(tmp_path, streams):
    from segmill.cli import main

    src = D.write_doc(tmp_path / "src.json", D.coco_doc(12, seed=8))
    got = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "s"), "--to", "voc", "-q"])
    assert got.exit_code == 0, got.output
    assert streams and (tmp_path / "s" / "ImageSets" / "Segmentation" / "default.txt").is_file()
    assert voc.detect(tmp_path / "s").confidence >= 0.5


def test_sa1b_to_voc_streams_the_files_of_the_whole_write(tmp_path, streams, fixtures_dir):
    src = fixtures_dir / "sa1b_tar"
    a = segmill.convert(src, tmp_path / "s", to_format="voc")
    assert streams and segmill.stream(src).bounded
    b = segmill.write(segmill.read(src), tmp_path / "w", "voc")
    assert _tree(tmp_path / "s") == _tree(tmp_path / "w") and (a.losses, a.items) == (b.losses, b.items)
