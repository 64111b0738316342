"""COCO (and SA-1B) to Cityscapes as a stream (``FormatSpec.write_stream_any``): what is particular to Cityscapes.

The generic cases are run for every stream writer by ``tests/test_stream_writers.py``. Here: label
tables, splits, names that clash; the oracle is the whole write, and the Cityscapes stream writer is
counted so a test cannot pass by reading whole.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from segmill.geometry import Box
from segmill.model import Annotation, Category, Item
from segmill.transforms import DropCrowd, MapClasses, MinArea

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("cityscapes")

#: dog and vehicle mapped away: person and car are official labels, so the official table is written
_OFFICIAL = [DropCrowd(), MapClasses({"dog": "person", "vehicle": "car"}), MinArea(8)]


@pytest.mark.parametrize("chain, write", [([], {"label_table": "custom", "split": "val", "raster": "pil"}),
                                          (_OFFICIAL, {}), ([], {"label_table": "official"})])
def test_coco_to_cityscapes_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    a, _ = S.same(tmp_path, "cityscapes", S.plain(tmp_path, 25, seed=4), chain, write, streams, at_least=75)
    assert a.losses and a.notes


def test_an_image_the_stream_writer_refuses_leaves_nothing(tmp_path, streams):
    err = S.refuses_image(tmp_path, "cityscapes", "other/img000.png")  # the first image's names: refused at the 7th
    assert streams and "both be written" in str(err)


def test_an_item_the_whole_write_would_not_validate_is_refused_alike(tmp_path):
    items = [Item(i, f"i{i}.png", 4, 3, [Annotation(i, 1, Box(0, 0, 2, 2))]) for i in range(4)]
    items[2].annotations.append(Annotation(99, 5, Box(0, 0, 1, 1)))  # category 5 is not declared
    assert "category_id 5" in S.refused_alike(tmp_path, "cityscapes", [Category(1, "car")], items).message


def test_the_cli_converts_coco_to_cityscapes_with_a_split_as_a_stream(tmp_path, streams):
    out = S.cli(tmp_path, "cityscapes", S.plain(tmp_path, 12, seed=8), streams, "--split", "val")
    assert (out / "gtFine" / "val" / "default" / "img000_gtFine_labelIds.png").is_file()
