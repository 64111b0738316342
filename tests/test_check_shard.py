"""A worker of ``segmill check --workers N`` streams its part and sends back skeletons without the geometry's text.

``check_shard`` runs in the test's own process here (no cluster): the oracle
is the same shard checked in one batch, and the whole check of the folder.
The sharded reports themselves are compared with the single process in
tests/test_distributed.py.
"""

from __future__ import annotations

import pickle
import weakref

import pytest

import segmill
from segmill.check import check_path, render
from segmill.check.config import Config
from segmill.check.streamed import SKELETON_EXTRA, assemble, skeleton_item, split_rules
from segmill.distributed import check as dcheck
from segmill.distributed.shards import plan
from segmill.model import Annotation, Dataset, Item


@pytest.fixture(scope="module")
def tar_folder(tmp_path_factory, sa1b_tars):
    """One SA-1B-like tar of 8 small images (one part for one worker)."""
    return sa1b_tars(tmp_path_factory.mktemp("sa1b") / "data", 1, 8)


def _shard(folder):
    shards = plan(folder, "sa1b", {"errors": "keep"}, 1)
    assert len(shards) == 1  # one tar: one part
    return shards[0]


def _check(shard, batch, monkeypatch):
    monkeypatch.setattr(dcheck, "BATCH", batch)
    _, _, _, full, worker_cfg = split_rules(Config())
    return dcheck.check_shard(shard, worker_cfg, full)


def _counting(monkeypatch):
    """Have ``open_shard`` count the items of its stream alive at once; returns the peak's box."""
    real, alive, peak = dcheck.open_shard, [0], [0]

    def gone():
        alive[0] -= 1

    def counted(items):
        for it in items:
            alive[0] += 1
            peak[0] = max(peak[0], alive[0])
            weakref.finalize(it, gone)
            yield it

    def open_counted(shard, whole=False):
        header, items, everything = real(shard, whole=whole)
        return header, counted(items), everything

    monkeypatch.setattr(dcheck, "open_shard", open_counted)
    return peak


def test_a_part_is_checked_a_batch_at_a_time_with_the_same_result(tar_folder, monkeypatch):
    shard = _shard(tar_folder)
    _, whole_skel, whole_found, whole_meta = _check(shard, 1000, monkeypatch)
    peak = _counting(monkeypatch)
    _, skel, found, meta = _check(shard, 2, monkeypatch)
    assert peak[0] <= 4  # two batches of 2 at most (the one checked, the one being read), not the part's 8
    assert pickle.dumps(skel) == pickle.dumps(whole_skel) and len(skel) == 8
    assert found.keys() == whole_found.keys() and found  # the synthetic masks overlap: C001 at least
    assert all([f.__dict__ for f in found[c]] == [f.__dict__ for f in whole_found[c]] for c in found)
    assert meta == whole_meta


def test_a_skeleton_annotation_keeps_no_origin_without_its_geometry(tar_folder):
    item = next(iter(segmill.stream(tar_folder, "sa1b")))
    assert any("counts" in repr(a.origin) for a in item.annotations)  # the reader kept the RLE text
    bare = skeleton_item(item, keep_geometry=False)
    assert all(a.geometry is None and a.origin is None and a.extra == {} for a in bare.annotations)
    assert all("point_coords" in a.extra for a in item.annotations)  # the reader's own, not the rules'
    assert bare.origin is item.origin and [a.id for a in bare.annotations] == [a.id for a in item.annotations]
    kept = skeleton_item(item, keep_geometry=True)  # C007's items keep everything
    assert [a.origin for a in kept.annotations] == [a.origin for a in item.annotations]
    assert b"counts" not in pickle.dumps(bare) and b"counts" in pickle.dumps(kept)


def test_the_folder_checked_a_batch_at_a_time_reports_as_the_whole_check(tar_folder, monkeypatch):
    cfg = Config()
    rules, codes, driver, _, _ = split_rules(cfg)
    _, skel, found, _ = _check(_shard(tar_folder), 3, monkeypatch)
    ds = Dataset(segmill.read(tar_folder, "sa1b").categories, skel)
    got = assemble(cfg, rules, codes, driver, [[found]], [(ds, str(tar_folder))], [tar_folder])
    assert render(got, "json") == render(check_path(tar_folder, format="sa1b"), "json")


def test_a_skeleton_keeps_the_extra_keys_the_dataset_level_rules_read():
    ann = Annotation(id=1, category_id=1, extra={"voc_instance": 3, "voc_semantic": True, "note": "x" * 1000})
    item = Item(id=1, file_name="a.png", width=4, height=4, annotations=[ann])
    bare = skeleton_item(item, keep_geometry=False)
    assert bare.annotations[0].extra == {k: ann.extra[k] for k in SKELETON_EXTRA} and ann.extra["note"]
