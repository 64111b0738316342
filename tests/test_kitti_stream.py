"""COCO to KITTI as a stream (``FormatSpec.write_stream_any``): what is particular to KITTI.

The generic cases (image_root copies and an empty stream included) are run for every stream writer by
``tests/test_stream_writers.py``; the oracle is the whole write, and the stream writer is counted so a
test cannot pass by reading whole. Here: label tables, splits, overlap and rasterizer options.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from segmill.transforms import DropCrowd, MapClasses, MinArea, Split

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("kitti")


@pytest.mark.parametrize("chain, write", [
    ([], {"label_table": "custom", "split": "testing", "overlap": "last", "raster": "pil"}),
    ([DropCrowd(), MapClasses({"dog": "person", "vehicle": "car"}), MinArea(8)], {}),  # the official table
    ([], {"label_table": "official"}),
    ([Split((("train", 0.6), ("val", 0.4)), seed=3)], {}),
])
def test_coco_to_kitti_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    a, _ = S.same(tmp_path, "kitti", S.plain(tmp_path, 25, seed=4), chain, write, streams, at_least=26)
    assert a.losses
