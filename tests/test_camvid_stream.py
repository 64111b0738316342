"""COCO to CamVid as a stream (``FormatSpec.write_stream_any``): its options, against the whole write.

Mask modes, splits, overlap and rasterizer options; what every stream writer must do (image_root
copies, an empty stream, refused images, the CLI, SA-1B sources) is in ``tests/test_stream_writers.py``.
The CamVid stream writer is counted so a test cannot pass by reading whole.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from segmill.transforms import Split

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("camvid")


@pytest.mark.parametrize("chain, write", [
    ([Split((("train", 0.6), ("val", 0.4)), seed=3)], {}),
    ([], {"mask_mode": "L", "split": "test", "overlap": "last", "raster": "pil"}),
])
def test_coco_to_camvid_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    a, _ = S.same(tmp_path, "camvid", S.plain(tmp_path, 25, seed=4), chain, write, streams, at_least=26)
    assert a.losses
