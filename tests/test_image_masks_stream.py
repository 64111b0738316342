"""COCO to image + mask folders as a stream (``FormatSpec.write_stream_any``): what is particular to them.

The generic cases are run for every stream writer by ``tests/test_stream_writers.py``; the oracle is the
whole write, and the stream writer is counted so a test cannot pass by reading whole. Where images go
depends on whether any image has a split: a stream of images without one and then with one is compared
with the whole write too.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from segmill.geometry import Box
from segmill.model import Annotation, Category, Item
from segmill.transforms import Split

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("image_masks")

CATS = [Category(1, "cat"), Category(2, "dog")]


@pytest.mark.parametrize("chain, write", [
    ([], {"mask_mode": "RGB", "overlap": "last", "raster": "pil"}),
    ([Split((("train", 0.6), ("val", 0.4)), seed=3)], {}),
])
def test_coco_to_image_masks_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    a, _ = S.same(tmp_path, "image_masks", S.plain(tmp_path, 25, seed=4), chain, write, streams, at_least=26)
    assert a.losses


def _items(splits) -> list:
    """One 5 x 4 image per split (None: no split), each with a box; two named ``a.png`` in the root folder."""
    names = ["a.png", "b.png", "a.png", "c.png", "d.png", "a.png", "e.png"]
    return [Item(i, names[i % len(names)], 5, 4, [Annotation(i + 1, 1 + i % 2, Box(0, 0, 2 + i % 3, 2))],
                 split=sp) for i, sp in enumerate(splits)]


@pytest.mark.parametrize("splits", [
    [None, None, None],  # one folder: the root
    [None, None, "train", None, "val", None],  # the root's images move to default/ when train comes
    ["test", None, "default", None, "bad split!"],  # default/ shared by the images without a split and "default"
    [None, "masks", None, "images"],  # splits named like the root's folders
    [],  # no image: an empty root folder with its dataset_meta.json
])
def test_a_stream_places_images_without_a_split_where_the_whole_write_does(tmp_path, splits):
    a = S.written_alike(tmp_path, "image_masks", CATS, lambda: _items(splits))  # empty folders too
    assert a.files == len(S.files(S.tree(tmp_path / "w")))


def test_an_item_the_whole_write_would_not_validate_is_refused_alike(tmp_path):
    items = _items([None] * 5)
    items[3].annotations.append(Annotation(99, 5, Box(0, 0, 1, 1)))  # category 5 is not declared
    assert "category_id 5" in S.refused_alike(tmp_path, "image_masks", CATS, items).message
