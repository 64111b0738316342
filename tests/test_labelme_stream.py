"""COCO (and SA-1B) to LabelMe as a stream (``FormatSpec.write_stream_any``): what is particular to LabelMe.

The generic cases are run for every stream writer by ``tests/test_stream_writers.py``; the oracle is the
whole write, and the LabelMe stream writer is counted so a test cannot pass by reading whole. LabelMe's
report follows the reader's order (sorted JSON paths): the sources here list their images out of that
order, so the stream's report must be reordered, its annotation ids read back (L407) and its categories'
first appearances (L402) found across the items.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import segmill
from segmill.formats._labelme_order import runs, with_ids
from segmill.geometry import Box, Polygons
from segmill.model import Annotation, Category, Dataset, Item
from segmill.streaming import Stream
from segmill.validate import brief

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)
streams = S.counted("labelme")


def _source(tmp_path, n: int, seed: int, names=None, shuffle_ids: bool = False) -> Path:
    """A COCO file of ``n`` images (file names from ``names(i)``, else listed out of name order), images beside it."""
    doc = S.D.coco_doc(n, seed=seed)
    if shuffle_ids:  # not consecutive within an image: every id is its own run
        ids = np.random.default_rng(seed).permutation(len(doc["annotations"])) + 1
        for a, k in zip(doc["annotations"], ids.tolist()):
            a["id"] = k
    return S.with_images(tmp_path, doc, names or (lambda i: f"d{i % 3}/img{(7 * i) % n:03d}.png"))


@pytest.mark.parametrize("chain, write", [([], {}), ([], {"indent": 1, "embed_images": True}),
                                          ([], {"copy_images": False}), ([], {"link_images": True}),
                                          (S.EDITS, {})])
def test_coco_to_labelme_streams_the_files_and_report_of_the_whole_write(tmp_path, streams, chain, write):
    src = _source(tmp_path, 25, seed=4)
    b = S.same(tmp_path, "labelme", src, chain, write, streams, at_least=11)[1]
    codes = [l.code for l in b.losses]
    assert codes[0] == "L402" and "L407" in codes and b.items == 25


@pytest.mark.parametrize("shuffle_ids", [False, True])
def test_annotation_ids_read_back_as_the_whole_write_reports_them(tmp_path, streams, shuffle_ids):
    # names in order: consecutive ids read back as written, no L407; shuffled ids: an L407 for most
    src = _source(tmp_path, 20, seed=5, names=lambda i: f"img{i:03d}.png", shuffle_ids=shuffle_ids)
    b = S.same(tmp_path, "labelme", src, [], {}, streams, at_least=11)[1]
    assert ("L407" in {l.code for l in b.losses}) == shuffle_ids


def test_images_of_one_name_are_renamed_as_the_whole_write_renames_them(tmp_path, streams):
    src = _source(tmp_path, 14, seed=6, names=lambda i: f"x{i // 2}.{'png' if i % 2 else 'PNG'}")
    b = S.same(tmp_path, "labelme", src, [], {}, streams, at_least=11)[1]
    assert "L409" in {l.code for l in b.losses}


def _dataset(rng, n: int) -> Dataset:
    """Items with annotation ids of every kind (runs, gaps, strings, none), listed out of name order."""
    cats = [Category(1, "a"), Category(2, "b"), Category(3, "c")]
    items, k = [], 0
    for i in rng.permutation(n).tolist():
        anns = []
        for _ in range(int(rng.integers(0, 5))):
            kind = rng.integers(0, 4)
            k += 1
            aid = {0: k, 1: k + 100, 2: f"s{k}", 3: None}[int(kind)]
            g = Box(1, 1, 3, 2) if kind == 1 else Polygons([[[1, 1], [8, 1], [8, 6]]])
            anns.append(Annotation(aid, int(rng.integers(1, 4)), g, score=0.5 if kind == 2 else None))
        items.append(Item(i, f"im{i:02d}.png", 10, 12, anns))
    return Dataset(cats, items)


@pytest.mark.parametrize("seed", range(6))
def test_any_ids_and_any_order_give_the_report_of_the_whole_write(tmp_path, streams, seed):
    ds = _dataset(np.random.default_rng(seed), 12)
    b = segmill.write(ds, tmp_path / "w", "labelme", copy_images=False)
    header = dataclasses.replace(ds, items=[])
    a = segmill.io.write_stream(Stream(header, iter(_dataset(np.random.default_rng(seed), 12).items), True),
                                tmp_path / "s", "labelme", copy_images=False)
    assert streams
    S.same_tree(tmp_path, a, b)
    # the oracle of both: the reader's numbering, by sorted file name, of every annotation (all are written)
    want, seen, n = [], {}, 0
    for item in sorted(ds.items, key=lambda it: it.file_name):
        for ann in item.annotations:
            n += 1
            seen.setdefault(ann.category_id, len(seen) + 1)
            if ann.id != n:
                want.append((item.id, ann.id, f"annotation id {brief(ann.id)} reads back as {n}"))
    assert [(l.item_id, l.annotation_id, l.message) for l in a.losses if l.code == "L407"] == want and want
    assert ("L402" in {l.code for l in a.losses}) == any(seen.get(c) != c for c in (1, 2, 3))


def test_runs_put_each_id_loss_in_its_place():
    marks = [(0, 5), (0, 6), (0, 7), (1, 8), (1, "x"), (1, None), (3, 9), (3, 11)]
    assert runs(marks) == [(0, 5, 3), (1, 8, 1), (1, "x", 1), (1, None, 1), (3, 9, 1), (3, 11, 1)]
    losses = ["A", "B", "C", "D"]
    got = with_ids(losses, 1, runs(marks), 4)  # read back as 5, 6, 7, ...: the first run loses nothing
    assert [l if isinstance(l, str) else (l.code, l.annotation_id) for l in got] == [
        "A", ("L407", "x"), ("L407", None), "B", "C", ("L407", 9), ("L407", 11), "D"]
    assert [l.message for l in got if not isinstance(l, str)][-1] == "annotation id 11 reads back as 12"
    got = with_ids(losses, 1, runs(marks), 0)  # read back as 1, 2, 3, ...: every id is lost, runs included
    assert [l.message for l in got if not isinstance(l, str)][:3] == [
        f"annotation id {k} reads back as {k - 4}" for k in (5, 6, 7)]


def test_the_cli_converts_coco_with_images_to_labelme_as_a_stream(tmp_path, streams):
    out = S.cli(tmp_path, "labelme", _source(tmp_path, 12, seed=8), streams)
    assert len(segmill.read(out).items) == 12
