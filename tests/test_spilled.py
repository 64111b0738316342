"""Spilled datasets (:mod:`segmill.spilled`) and the commands that pair images on them.

A spilled dataset must behave as the list :func:`segmill.read` gives (the
oracle), and ``diff``, ``gate`` and ``agree`` on spilled datasets must give
exactly the in-memory results, on edits that exercise every branch
(relabels, reshapes, removed and added images, renumbered ids).
"""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import segmill
from segmill import spilled, synth
from segmill.agree import compare
from segmill.cli import main
from segmill.formats import coco
from segmill.gate import diff, gate
from segmill.gate.diff import match_images
from segmill.spilled import SpilledItems, spill, spill_or_read


@pytest.fixture(autouse=True, scope="module")
def _every_coco_file_streams():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coco, "STREAM_BYTES", 0)  # else files this small are read whole, and nothing spills
        yield


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def _edited(doc, seed: int, renumber: bool = False):
    """A second version of a synthetic COCO document: relabels, reshapes, a removed and an added image."""
    out = copy.deepcopy(doc)
    anns = out["annotations"]
    cats = [c["id"] for c in out["categories"]]
    for k, a in enumerate(anns[seed % 3::4]):
        if k % 2 == 0:
            a["category_id"] = cats[(cats.index(a["category_id"]) + 1) % len(cats)]
        elif isinstance(a["segmentation"], list) and a["segmentation"]:
            a["segmentation"] = [[v + 1 for v in a["segmentation"][0]]]
    new_id = max(i["id"] for i in out["images"]) + 1
    gone = out["images"].pop(seed % len(out["images"]))["id"]
    out["annotations"] = [a for a in anns if a["image_id"] != gone]
    out["images"].append({"id": new_id, "file_name": f"new_{seed}.jpg", "width": 64, "height": 48})
    if renumber:
        for k, a in enumerate(out["annotations"]):
            a["id"] = 10_000 + k
    return out


def _items(tmp_path, n: int, seed: int) -> list:
    return segmill.read(_write(tmp_path / f"items{seed}.json", synth.coco_dict(n, seed=seed))).items


def test_spilled_items_behave_as_the_list(tmp_path):
    items = _items(tmp_path, 9, 3)
    s = SpilledItems(iter(items))
    assert len(s) == len(items) == 9
    assert list(s) == items
    assert s[0] == items[0] and s[-1] == items[-1] and s[4] == items[4]
    assert s[2:7:2] == items[2:7:2]
    assert list(reversed(s)) == items[::-1]
    assert [k.id for k in s.skeletons] == [i.id for i in items]
    assert all(k.annotations == [] for k in s.skeletons)
    assert [(k.file_name, k.size) for k in s.skeletons] == [(i.file_name, i.size) for i in items]
    with pytest.raises(IndexError):
        s[9]
    assert pickle.loads(pickle.dumps(s)) == items  # a copy sent to another process carries its items
    assert s[3] is not s[3]  # fetched anew: pair by position, never by id()


def test_sequential_read_crosses_its_buffer(tmp_path, monkeypatch):
    items = _items(tmp_path, 6, 5)
    monkeypatch.setattr(spilled, "_READ_AHEAD", 7)  # smaller than any item: every read is a refill
    assert list(SpilledItems(items)) == items
    monkeypatch.setattr(spilled, "_READ_AHEAD", 3000)  # a few items a read, some cut in two
    assert list(SpilledItems(items)) == items


def test_spill_reads_what_read_reads(tmp_path):
    p = _write(tmp_path / "a.json", synth.coco_dict(15, seed=2))
    ds, ref = spill(p), segmill.read(p)
    assert isinstance(ds.items, SpilledItems)
    assert list(ds.items) == ref.items
    assert ds.categories == ref.categories


def test_spill_or_read_falls_back_to_the_lenient_read(tmp_path):
    doc = synth.coco_dict(6, seed=4)
    doc["annotations"][3]["category_id"] = 999  # the strict reader refuses it, the lenient one keeps it
    p = _write(tmp_path / "broken.json", doc)
    with pytest.raises(segmill.errors.InputError):
        segmill.read(p)
    ds = spill_or_read(p)
    ref = segmill.read(p, errors="keep")
    assert not isinstance(ds.items, SpilledItems)
    assert ds.items == ref.items


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), renumber=st.booleans(), match=st.sampled_from(["auto", "id", "iou"]))
def test_diff_on_spilled_equals_in_memory(tmp_path_factory, seed, renumber, match):
    tmp = tmp_path_factory.mktemp("diff")
    doc = synth.coco_dict(8, seed=seed)
    a = _write(tmp / "a.json", doc)
    b = _write(tmp / "b.json", _edited(doc, seed, renumber))
    ref = diff(segmill.read(a), segmill.read(b), match=match).to_dict()
    sa, sb = spill(a), spill(b)
    assert isinstance(sa.items, SpilledItems) and isinstance(sb.items, SpilledItems)
    got = diff(sa, sb, match=match).to_dict()
    assert got == ref
    assert ref["images"]["removed"] == 1 and ref["images"]["added"] == 1  # the edits were seen


def _defective(doc):
    """``doc`` with geometry defects a strict read accepts (check findings for the gate)."""
    out = copy.deepcopy(doc)
    for a in out["annotations"][::4]:
        if isinstance(a["segmentation"], list) and a["segmentation"]:
            x, y = a["segmentation"][0][:2]
            a["segmentation"] = [[x, y, x + 9, y + 9, x + 9, y, x, y + 9]]  # a bow tie
    return out


def test_gate_on_spilled_equals_in_memory(tmp_path):
    from segmill.gate.evaluate import Origin

    doc = synth.coco_dict(10, seed=8)
    a = _write(tmp_path / "a.json", doc)
    b = _write(tmp_path / "b.json", _defective(_edited(doc, 8)))
    where = Origin(str(a), str(b), "a", "b")
    ref = gate(segmill.read(a, errors="keep"), segmill.read(b, errors="keep"), origin=where).to_dict()
    sa, sb = spill_or_read(a), spill_or_read(b)
    assert isinstance(sa.items, SpilledItems) and isinstance(sb.items, SpilledItems)
    got = gate(sa, sb, origin=where).to_dict()
    assert got == ref
    assert any(f["code"] == "GATE001" for f in ref["findings"])  # new check findings were compared
    run = CliRunner().invoke(main, ["gate", str(a), str(b), "--output-format", "json"])
    assert run.exit_code == 1, run.output
    cli = json.loads(run.stdout)
    assert cli["findings"] == ref["findings"]


def test_gate_checks_the_spilled_items_without_reading_the_files_again(tmp_path, monkeypatch):
    from segmill import io
    from segmill.gate.evaluate import Origin

    doc = synth.coco_dict(6, seed=9)
    a = _write(tmp_path / "a.json", doc)
    b = _write(tmp_path / "b.json", _defective(_edited(doc, 9)))
    where = Origin(str(a), str(b), "a", "b")
    ref = gate(segmill.read(a, errors="keep"), segmill.read(b, errors="keep"), origin=where).to_dict()
    sa, sb = spill_or_read(a), spill_or_read(b)
    opened = []
    real = io.stream_bounded
    monkeypatch.setattr(io, "stream_bounded", lambda *a, **k: opened.append(a) or real(*a, **k))
    assert gate(sa, sb, origin=where).to_dict() == ref
    assert opened == []  # each version was read once, when it was spilled
    assert any(f["code"] == "GATE001" for f in ref["findings"])


@pytest.mark.parametrize("match_by", ["file_name", "id"])
def test_agree_on_spilled_equals_in_memory(tmp_path, match_by):
    doc = synth.coco_dict(7, seed=11)
    other = _edited(doc, 11)
    other["images"].reverse()  # another order: the line-up fetches items out of order
    a, b = _write(tmp_path / "ann1.json", doc), _write(tmp_path / "ann2.json", other)
    ref = compare([segmill.read(a), segmill.read(b)], match_by=match_by).to_dict()
    got = compare([spill(a), spill(b)], match_by=match_by).to_dict()
    assert got == ref
    assert got["pq"] is not None and 0 < got["pq"] < 1  # the edits left some, not all, in agreement


def test_agree_and_diff_commands_on_spilled_files(tmp_path):
    doc = synth.coco_dict(6, seed=12)
    a, b = _write(tmp_path / "a.json", doc), _write(tmp_path / "b.json", _edited(doc, 12))
    run = CliRunner().invoke(main, ["agree", str(a), str(b), "--output-format", "json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout) == compare([segmill.read(a), segmill.read(b)], names=["a.json", "b.json"]).to_dict()
    run = CliRunner().invoke(main, ["diff", str(a), str(b), "--output-format", "json"])
    assert run.exit_code in (0, 1), run.output
    ref = diff(segmill.read(a, errors="keep"), segmill.read(b, errors="keep"), base_label=str(a), head_label=str(b))
    assert json.loads(run.stdout) == ref.to_dict()


def _ids_are_stable_reference(pairs, base, head, min_iou=0.5):
    """The rule of :func:`segmill.gate._match.ids_are_stable` as first written: dicts of every annotation."""
    from segmill.gate._match import STABLE_ID_SHARE, geometry_same, pair_iou

    b_img, h_img = {}, {}
    for ds, where in ((base, b_img), (head, h_img)):
        for item, ann in ds.annotations():
            if ann.id is None or ann.id in where:
                return False
            where[ann.id] = (item, ann)
    shared = b_img.keys() & h_img.keys()
    if not shared:
        return not b_img or not h_img
    pair_of = {(b.file_name, b.id): (h.file_name, h.id) for b, h in pairs if b is not None and h is not None}
    bad = 0
    for a in shared:
        (bi, ba), (hi, ha) = b_img[a], h_img[a]
        if pair_of.get((bi.file_name, bi.id)) == (hi.file_name, hi.id):
            if geometry_same(ba, ha):
                continue
            iou = pair_iou(ba, ha, bi, hi)
            if iou is None or iou >= min_iou:
                continue
        bad += 1
    return bad <= (1.0 - STABLE_ID_SHARE) * len(shared)


def _versions(tmp, seed, renumbered=0.0, swapped=0, moved_every=0, dup=False):
    """Two versions whose ids are renumbered (no longer shared), swapped (naming a neighbour), moved, repeated."""
    doc = synth.coco_dict(6, seed=seed)
    other = _edited(doc, seed)
    anns, images = other["annotations"], [i["id"] for i in other["images"]]
    for k, a in enumerate(anns):
        if k < renumbered * len(anns):
            a["id"] += 1_000_000
        if moved_every and k % moved_every == 0:
            a["image_id"] = images[(images.index(a["image_id"]) + 1) % len(images)]
    for k in range(0, min(2 * swapped, len(anns) - 1), 2):
        anns[k]["id"], anns[k + 1]["id"] = anns[k + 1]["id"], anns[k]["id"]
    if dup and len(anns) > 1:
        anns[-1]["id"] = anns[0]["id"]
    base = segmill.read(_write(tmp / "a.json", doc))
    head = segmill.read(_write(tmp / "b.json", other), errors="keep")
    return list(match_images(base, head)), base, head


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), renumbered=st.floats(0, 1), swapped=st.integers(0, 6),
       moved_every=st.sampled_from([0, 3, 12, 30]), dup=st.booleans())
def test_stable_ids_as_first_written(tmp_path_factory, seed, renumbered, swapped, moved_every, dup):
    from segmill.gate._match import ids_are_stable

    pairs, base, head = _versions(tmp_path_factory.mktemp("ids"), seed, renumbered, swapped, moved_every, dup)
    assert ids_are_stable(pairs, base, head) == _ids_are_stable_reference(pairs, base, head)


@pytest.mark.parametrize(("edits", "stable"), [
    ({}, True), ({"renumbered": 0.5}, True), ({"moved_every": 30}, True),
    ({"swapped": 6}, False), ({"moved_every": 3}, False), ({"dup": True}, False),
])
def test_stable_ids_both_answers(tmp_path, edits, stable):
    """Cases on each side of the rule, so the property test above compares both answers."""
    from segmill.gate._match import ids_are_stable

    pairs, base, head = _versions(tmp_path, 1, **edits)
    assert _ids_are_stable_reference(pairs, base, head) is stable
    assert ids_are_stable(pairs, base, head) is stable


@pytest.mark.parametrize("method", ["majority", "staple"])
def test_consensus_on_spilled_equals_in_memory(tmp_path, method):
    from segmill.agree import consensus

    doc = synth.coco_dict(5, seed=13)
    a, b = _write(tmp_path / "ann1.json", doc), _write(tmp_path / "ann2.json", _edited(doc, 13))
    c = _write(tmp_path / "ann3.json", _edited(doc, 14))
    ref = consensus([segmill.read(p) for p in (a, b, c)], method)
    got = consensus([spill(p) for p in (a, b, c)], method)
    assert got.items == ref.items and got.categories == ref.categories
    assert json.dumps(got.meta, sort_keys=True) == json.dumps(ref.meta, sort_keys=True)  # NaN != NaN in ==
    assert sum(len(i.annotations) for i in got.items) > 0


def _tree(path):
    """Every file under ``path`` (or the file itself), relative name -> bytes."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("fmt", "name"), [("coco", "cons.json"), ("voc", "cons_voc"), ("labelme", "cons_lm")])
def test_consensus_command_writes_what_the_in_memory_consensus_writes(tmp_path, fmt, name):
    """The command writes the consensus as a stream, an image at a time: the bytes of writing it whole."""
    from segmill.agree import consensus

    doc = synth.coco_dict(5, seed=21)
    paths = [_write(tmp_path / f"ann{k}.json", _edited(doc, 21 + k) if k else doc) for k in range(3)]
    out = tmp_path / name
    run = CliRunner().invoke(main, ["agree", *map(str, paths), "--consensus", "majority", "--consensus-out",
                                    str(out), "--to", fmt, "-q", "-o", str(tmp_path / "report.txt")])
    assert run.exit_code == 0, run.output
    ref = tmp_path / f"ref_{name}"
    segmill.write(consensus([segmill.read(p) for p in paths], "majority", names=[p.name for p in paths]), ref, fmt)
    got, want = _tree(out), _tree(ref)
    assert len(want) > 1 or fmt == "coco"
    assert got == {k.replace(f"ref_{name}", name): v for k, v in want.items()}
