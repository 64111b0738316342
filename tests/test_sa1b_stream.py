"""COCO and SA-1B to SA-1B as a stream (``FormatSpec.write_stream_any``): what is particular to SA-1B.

The generic cases are run for every stream writer by ``tests/test_stream_writers.py``. Here: sources
with their images (in ``src/``), shards, JSON names, and the CLI read back; the oracle is the whole
write, and the SA-1B stream writer is counted so a test cannot pass by reading whole (SA-1B sources
always stream).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import segmill

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("sa1b")


def _source(tmp_path, n: int, seed: int, names=None) -> Path:
    """A COCO file of ``n`` images in ``tmp_path/src`` with blank images beside it (names from ``names(i)``)."""
    return S.with_images(tmp_path / "src", S.D.coco_doc(n, seed=seed), names)


@pytest.mark.parametrize("chain, write", [([], {}), ([], {"shard_size": 4}), ([], {"copy_images": False}),
                                          ([], {"raster": "pil", "shard_size": 3, "link_images": True}),
                                          (S.EDITS, {})])
def test_coco_to_sa1b_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    _, b = S.same(tmp_path, "sa1b", _source(tmp_path, 25, seed=4), chain, write, streams, at_least=3)
    assert {l.code for l in b.losses} >= {"L880"} and b.items == 25


def test_images_of_one_stem_are_named_as_the_whole_write_names_them(tmp_path, streams):
    # x0.jpg and x0.png share a JSON name: the second is x0_2.json
    src = _source(tmp_path, 14, seed=5, names=lambda i: f"x{i // 2}.{'png' if i % 2 else 'jpg'}")
    S.same(tmp_path, "sa1b", src, [], {}, streams, at_least=3)
    assert (tmp_path / "s" / "x3_2.json").is_file()


@pytest.mark.parametrize("write", [{}, {"shard_size": 2}])
def test_sa1b_shards_to_sa1b_stream_the_files_of_the_whole_write(tmp_path, streams, write):
    src = _source(tmp_path, 9, seed=6)
    segmill.write(segmill.read(src), tmp_path / "shards", "sa1b", shard_size=4)  # images inside the shards
    S.same(tmp_path, "sa1b", tmp_path / "shards", [], write, streams, at_least=3)
    assert len(streams) == 1


def test_an_image_refused_midway_in_shards_leaves_nothing(tmp_path, streams):
    S.refuses_image(tmp_path, "sa1b", "bad\x00name.png", {"shard_size": 2})  # refused at the seventh image
    assert streams


def test_the_cli_converts_coco_with_images_to_sa1b_as_a_stream(tmp_path, streams):
    out = S.cli(tmp_path, "sa1b", _source(tmp_path, 12, seed=8), streams)
    assert len(segmill.read(out).items) == 12
