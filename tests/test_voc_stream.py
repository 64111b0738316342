"""COCO to VOC as a stream (``FormatSpec.write_stream_any``): what is particular to VOC.

The generic cases (plain and edited conversions, refused images, the CLI, SA-1B sources, undeclared
categories, an empty stream) are run for every stream writer by ``tests/test_stream_writers.py``; the
oracle is the whole write, and the VOC stream writer is counted so a test cannot pass by reading whole.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("voc")


def test_coco_to_voc_with_options_streams_the_files_and_report_of_the_whole_write(tmp_path, streams):
    write = {"overlap": "last", "xml_polygons": True}
    S.same(tmp_path, "voc", S.plain(tmp_path, 25, seed=4), [], write, streams, at_least=26)
