"""COCO to mask folders (``masks``) as a stream (``FormatSpec.write_stream_any``): what is particular to them.

The generic cases are run for every stream writer by ``tests/test_stream_writers.py``; the oracle is the
whole write, and the stream writer is counted so a test cannot pass by reading whole. Here: modes,
instance maps (which come late when the first images have no instance) and ``instances.json``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import segmill
from segmill.geometry import Box
from segmill.io import ConvertOptions
from segmill.model import Annotation, Category, Dataset, Item
from segmill.transforms import MinArea

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("masks")


@pytest.mark.parametrize("chain, write", [
    ([], {"mode": "P", "overlap": "last", "raster": "pil"}),
    ([], {"mode": "I;16", "instances": False}),
    (S.EDITS, {"instances": True}),
    ([MinArea(60)], {}),  # the first images keep no annotation: their instance maps come late
])
def test_coco_to_masks_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    a, _ = S.same(tmp_path, "masks", S.plain(tmp_path, 25, seed=4), chain, write, streams, at_least=26)
    assert a.losses


def _semantic(i) -> Annotation:
    return Annotation(None, 2, Box(1, 1, 2, 2), extra={"voc_semantic": True})


@pytest.mark.parametrize("kinds", [
    "SSiSIs",  # S: only a semantic region, s: size unknown, i: an instance, I: an instance, size unknown
    "SSSS",  # no instance: no instances/
    "iSSs",
    "sS",
    "",  # no image at all
])
def test_instance_maps_of_a_stream_are_those_of_the_whole_write(tmp_path, kinds):
    def items():
        out = []
        for i, kind in enumerate(kinds):
            anns = [_semantic(i)] + ([Annotation(10 + i, 1, Box(0, 0, 2 + i % 3, 2))] if kind in "iI" else [])
            sized = kind in "Si"
            out.append(Item(i, f"i{i}.png", 5 if sized else None, 4 if sized else None, anns))
        return out

    S.written_alike(tmp_path, "masks", [Category(1, "cat"), Category(2, "dog")], items)  # empty folders too
    assert (tmp_path / "w" / "instances").is_dir() == any(k in "iI" for k in kinds)


def test_instances_json_is_written_as_json_dumps_writes_it(tmp_path):
    src = S.plain(tmp_path, 9, seed=1)
    segmill.convert(src, tmp_path / "s", to_format="masks", options=ConvertOptions(write={"instances": True}))
    text = (tmp_path / "s" / "instances.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert text == json.dumps(doc, indent=1) and len(doc) == 9 and any(doc.values())
    segmill.write(Dataset([Category(1, "a")]), tmp_path / "e", "masks", instances=True)
    assert (tmp_path / "e" / "instances.json").read_text(encoding="utf-8") == "{}"
