"""``segmill merge`` of COCO files as streams (segmill.merging.streamed): the in-memory merge's bytes and report.

The oracle is the in-memory merge (tests/test_merge.py checks it against
pycocotools): with ``STREAM_BYTES = 0`` every COCO source streams through its
index, and the output file and the ``--json`` merge report must equal those of
the default run, which reads these small files whole.
"""

from __future__ import annotations

import copy
import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from segmill.cli import main
from segmill.formats import coco
from segmill.merging import streamed
from segmill.merging.ids import IdPool
from segmill.synth import write_coco


def _sources(folder, conflicts: bool = True):
    """a.json (synthetic), b.json (a's images, half renamed, some with a's ids; its annotations shifted or exact
    copies, half their ids a's), c.json (one image of b, with another field)."""
    a = json.loads(write_coco(folder / "a.json", 30, 0).read_text())
    b = copy.deepcopy(a)
    moved = {}
    for j, im in enumerate(b["images"][::2]):
        new = im["id"] + 100000 if j % 2 else im["id"]  # the even ones keep a's id: M002
        moved[im["id"]] = new
        im["id"], im["file_name"] = new, "b_" + im["file_name"]
    for k, an in enumerate(b["annotations"]):
        an["image_id"] = moved.get(an["image_id"], an["image_id"])
        if k % 3 == 1:
            an["id"] += 500000  # free; the others collide with a's: M003
        if k % 2 and isinstance(an["segmentation"], list):
            an["segmentation"] = [[v + 3 for v in part] for part in an["segmentation"]]  # the others: duplicates
    b["categories"].append({"id": 500, "name": "newclass", "supercategory": "x"})
    if conflicts:
        b["images"][1]["license"] = 99
        b["categories"][0]["supercategory"] = "other"
        b["info"] = {"description": "b"}
    (folder / "b.json").write_text(json.dumps(b))
    im = b["images"][3]
    c = {"images": [dict(im, extra_field=1)], "categories": b["categories"],
         "annotations": [dict(x, id=7) for x in b["annotations"] if x["image_id"] == im["id"]][:1]}
    (folder / "c.json").write_text(json.dumps(c))
    return [folder / "a.json", folder / "b.json", folder / "c.json"]


def _merge(srcs, out, *args):
    res = CliRunner().invoke(main, ["merge", *map(str, srcs), "-o", str(out), "--json", *args])
    return res.exit_code, (out.read_bytes() if out.exists() else None), res


def _both(tmp_path, monkeypatch, srcs, *args, threshold=0):
    """The merge read whole, then streamed: (exit codes, outputs, JSON reports without the write path), and how
    many sources streamed through their index."""
    got = []
    for name, limit in (("whole", coco.STREAM_BYTES), ("stream", threshold)):
        monkeypatch.setattr(coco, "STREAM_BYTES", limit)
        code, data, res = _merge(srcs, tmp_path / f"{name}.json", *args)
        report = json.loads(res.stdout) if code == 0 else res.output
        if code == 0:
            report["write"].pop("path")
        got.append((code, data, report))
    return got


@pytest.fixture
def indexed(monkeypatch):
    """Counts the sources the streamed merge reads through their index."""
    seen = []
    real = streamed._Source.__init__

    def spy(self, header, items, whole=None):
        seen.append(whole is None)
        real(self, header, items, whole)

    monkeypatch.setattr(streamed._Source, "__init__", spy)
    return seen


@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("policy", ["first", "last", "union", "error"])
def test_the_streamed_merge_writes_the_in_memory_bytes(tmp_path, monkeypatch, indexed, policy, drop):
    srcs = _sources(tmp_path, conflicts=policy != "error")
    args = ["--on-conflict", policy] + (["--drop-duplicates"] if drop else [])
    (c1, whole, r1), (c2, stream, r2) = _both(tmp_path, monkeypatch, srcs, *args)
    assert c1 == c2 == 0, (r1, r2)
    assert indexed == [True, True, True]
    assert whole == stream and r1 == r2
    summary = r1["merge"]["summary"]
    assert {"M002", "M003", "M004", "M005" if not drop else "M006"} <= set(summary)
    if policy != "error":
        assert {"M007", "M008", "M009"} & set(summary) or "M010" in summary
    assert r1["merge"]["duplicates"] and r1["merge"]["image_maps"][1]


def test_small_sources_read_whole_join_a_streamed_merge(tmp_path, monkeypatch, indexed):
    srcs = _sources(tmp_path)
    limit = srcs[2].stat().st_size + 1  # c.json is under the threshold, a.json and b.json over it
    (c1, whole, r1), (c2, stream, r2) = _both(tmp_path, monkeypatch, srcs, "--on-conflict", "union",
                                               threshold=limit)
    assert c1 == c2 == 0 and indexed == [True, True, False]
    assert whole == stream and r1 == r2


def test_a_conflict_under_error_is_refused_and_nothing_is_written(tmp_path, monkeypatch, indexed):
    srcs = _sources(tmp_path)
    (c1, w1, r1), (c2, w2, r2) = _both(tmp_path, monkeypatch, srcs)
    assert c1 == c2 == 2 and w1 is None and w2 is None and indexed
    assert "supercategory" in r1 and "supercategory" in r2


def test_strict_refuses_a_merge_loss_after_streaming_and_writes_nothing(tmp_path, monkeypatch, indexed):
    srcs = _sources(tmp_path, conflicts=False)
    (c1, w1, r1), (c2, w2, r2) = _both(tmp_path, monkeypatch, srcs, "--drop-duplicates", "--strict")
    assert c1 == c2 == 1 and w1 is None and w2 is None and indexed
    assert "M006" in r1 and r1.splitlines()[:2] == r2.splitlines()[:2]
    assert not list(tmp_path.glob("stream.json*")) and not list(tmp_path.glob(".*stream*"))


def test_ids_that_are_not_integers_are_merged_in_memory(tmp_path, monkeypatch):
    srcs = _sources(tmp_path, conflicts=False)
    doc = json.loads(srcs[2].read_text())
    doc["annotations"][0]["id"] = "seven"
    srcs[2].write_text(json.dumps(doc))
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    assert streamed.merge_files(srcs, tmp_path / "none.json") is None
    assert not (tmp_path / "none.json").exists()
    (c1, whole, r1), (c2, stream, r2) = _both(tmp_path, monkeypatch, srcs)
    assert c1 == c2 == 0 and whole == stream and r1 == r2


def test_only_local_coco_sources_with_a_big_one_stream(tmp_path, monkeypatch, fixtures_dir):
    srcs = _sources(tmp_path)
    assert not streamed.streams(srcs, [None] * 3)  # all under the threshold
    monkeypatch.setattr(coco, "STREAM_BYTES", srcs[0].stat().st_size)
    assert streamed.streams(srcs, [None] * 3) and streamed.streams(srcs, [None] * 3, tmp_path / "m.json")
    assert not streamed.streams(srcs, [None] * 3, "s3://bucket/m.json")
    assert not streamed.streams(srcs, [None] * 3, tmp_path / "m_{split}.json")
    assert not streamed.streams([srcs[0], fixtures_dir / "voc"], [None, None])
    assert not streamed.streams([srcs[0], tmp_path / "missing.json"], [None, None])


def test_the_int_pool_claims_what_the_id_pool_claims():
    rng = random.Random(5)
    for _ in range(200):
        pool, ints = IdPool(), streamed.IntPool()
        for _ in range(rng.randint(1, 4)):
            wanted = rng.sample(range(-5, 40), rng.randint(0, 20))
            want = pool.claim_all(wanted)
            assert ints.claim_all(np.array(wanted, np.int64)).tolist() == [want[w] for w in wanted]


def test_an_id_map_is_a_mapping_in_source_order():
    m = streamed.IdMap(np.array([9, 3, 5], np.int64), np.array([9, 10, 5], np.int64))
    assert dict(m) == {9: 9, 3: 10, 5: 5} and list(m) == [9, 3, 5] and list(m.items()) == [(9, 9), (3, 10), (5, 5)]
    assert m[3] == 10 and 4 not in m and "3" not in m and len(m) == 3
