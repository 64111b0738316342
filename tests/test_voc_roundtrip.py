"""Round trips of random instance maps through the mask writers and readers (voc, masks, panoptic)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import segmill
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import encode

maps = st.integers(1, 12).flatmap(
    lambda h: st.integers(1, 12).flatmap(lambda w: arrays(np.uint8, (h, w), elements=st.integers(0, 4))))


def _dataset(inst_map, classes):
    h, w = inst_map.shape
    anns = [Annotation(i, classes[i - 1], encode(inst_map == i)) for i in range(1, 5) if (inst_map == i).any()]
    cats = [Category(10, "cat"), Category(20, "dog")]
    return Dataset(categories=cats, items=[Item(1, "a.jpg", width=w, height=h, annotations=anns)])


@settings(max_examples=40, deadline=None)
@given(maps, st.lists(st.sampled_from([10, 20]), min_size=4, max_size=4), st.sampled_from(["voc", "masks", "coco_panoptic"]))
def test_disjoint_instances_survive_each_mask_format_unchanged(inst_map, classes, fmt):
    ds = _dataset(inst_map, classes)
    with tempfile.TemporaryDirectory() as tmp:
        report = segmill.write(ds, Path(tmp) / "o", fmt)
        assert set(report.summary()) == ({"L208"} if fmt in ("voc", "masks") else set()), report.losses
        back = segmill.read(Path(tmp) / "o", format=fmt)
    names = {c.id: c.name for c in ds.categories}
    back_names = {c.id: c.name for c in back.categories}
    want = sorted((names[a.category_id], a.geometry.counts.tobytes()) for a in ds.items[0].annotations)
    got = sorted((back_names[a.category_id], a.geometry.counts.tobytes())
                 for a in back.items[0].annotations if a.category_id is not None)
    assert got == want
