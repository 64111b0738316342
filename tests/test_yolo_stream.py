"""COCO (and SA-1B) to YOLO as a stream (``FormatSpec.write_stream_any``): what is particular to YOLO.

The generic cases are run for every stream writer by ``tests/test_stream_writers.py``. Here: sources
with their images beside them, YOLO's options, split edits, and the CLI read back; the oracle is the
whole write, and the YOLO stream writer is counted so a test cannot pass by reading whole.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import segmill
from segmill.transforms import Split

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("yolo")

TRAIN_VAL = (("train", 0.6), ("val", 0.4))


def _source(tmp_path, n: int, seed: int, names=None) -> Path:
    """A COCO file of ``n`` images with blank images beside it (file names from ``names(i)`` when given)."""
    return S.with_images(tmp_path, S.D.coco_doc(n, seed=seed), names)


@pytest.mark.parametrize("chain, write", [([], {}), ([], {"multipart": "lines", "copy_images": False}),
                                          ([], {"split": "val", "link_images": True}), (S.EDITS, {})])
def test_coco_to_yolo_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    _, b = S.same(tmp_path, "yolo", _source(tmp_path, 25, seed=4), chain, write, streams, at_least=11)
    assert b.losses and b.items == 25


# Image names shared two by two ("a/x3.png", "b/x3.png"): under one split folder the second is renamed
# (a note); split among train and val some are not, so a write with ``split`` given places the first
# images of the stream as if there were one split and moves them when the second split shows.
@pytest.mark.parametrize("write", [{}, {"split": "train"}, {"split": "test", "multipart": "lines"}])
def test_a_split_edit_places_the_images_of_the_whole_write(tmp_path, streams, write):
    src = _source(tmp_path, 30, seed=5, names=lambda i: f"{'ab'[i % 2]}/x{i // 2}.png")
    _, b = S.same(tmp_path, "yolo", src, [Split(TRAIN_VAL, seed=1)], write, streams, at_least=11)
    assert any("its name was taken" in n for n in b.notes)
    assert sorted(p.name for p in (tmp_path / "w" / "images").iterdir()) == ["train", "val"]


def test_a_single_split_with_the_split_option_moves_nothing(tmp_path, streams):
    src = _source(tmp_path, 12, seed=6, names=lambda i: f"{'ab'[i % 2]}/x{i // 2}.png")
    _, b = S.same(tmp_path, "yolo", src, [Split((("train", 1.0),), seed=1)], {"split": "val"}, streams, at_least=11)
    assert sorted(p.name for p in (tmp_path / "w" / "images").iterdir()) == ["val"]
    assert len(b.notes) >= 6


def test_the_cli_converts_coco_with_images_to_yolo_as_a_stream(tmp_path, streams):
    out = S.cli(tmp_path, "yolo", _source(tmp_path, 12, seed=8), streams)
    assert (out / "data.yaml").is_file() and len(segmill.read(out).items) == 12


def test_sa1b_to_yolo_without_copies_streams_the_files_of_the_whole_write(tmp_path, streams, fixtures_dir):
    S.from_sa1b(tmp_path, "yolo", fixtures_dir / "sa1b_tar", streams, copy_images=False)
