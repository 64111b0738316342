"""Diff and gate on datasets written by other tools (``../shared/corpus``)."""

from __future__ import annotations

import pytest

import segmill
from segmill.gate import Origin, diff, gate

DATASETS = [
    "datumaro/coco_dataset/coco_instances/annotations/instances_val.json",
    "labelme/instance_segmentation/data_annotated",
    "datumaro/voc_dataset/voc_dataset1",
    "datumaro/cityscapes_dataset/dataset",
]


def _read(corpus, rel):
    path = corpus / rel
    if not path.exists():
        pytest.skip(f"{rel} not in this corpus")
    return path, segmill.read(path, errors="keep")


@pytest.mark.corpus
@pytest.mark.parametrize("rel", DATASETS)
def test_a_dataset_gated_against_itself_passes_with_nothing_changed(corpus, rel):
    path, base = _read(corpus, rel)
    head = segmill.read(path, errors="keep")
    res = gate(base, head, origin=Origin(base_path=path, head_path=path))
    assert not res.diff.changed and res.findings == [] and not res.failed
    assert res.diff.annotations["unchanged"] == base.num_annotations


@pytest.mark.corpus
@pytest.mark.parametrize("rel", DATASETS)
def test_one_relabel_in_a_foreign_dataset_is_found_exactly(corpus, rel):
    path, base = _read(corpus, rel)
    head = segmill.read(path, errors="keep")
    pairs = [(it, a) for it, a in head.annotations() if a.category_id is not None]
    ids = [c.id for c in head.categories]
    if not pairs or len(ids) < 2:
        pytest.skip("needs an annotation and two classes")
    _, ann = pairs[0]
    ann.category_id = next(i for i in ids if i != ann.category_id)
    d = diff(base, head)
    assert d.annotations["relabelled"] == 1
    assert d.annotations["unchanged"] == base.num_annotations - 1
    assert d.images["modified"] == 1
