"""`segmill convert` edit flags: order, --strict, usage errors, per-split output, and docs/editing.md's examples."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main

_spec = importlib.util.spec_from_file_location("_edit_data", Path(__file__).with_name("_edit_data.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)

ROOT = Path(__file__).resolve().parent.parent


def _run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def doc():
    return D.coco_doc(30, seed=5)


@pytest.fixture()
def src(doc, tmp_path):
    return D.write_doc(tmp_path / "in.json", doc)


def _one_error_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("segmill: error: ")
    return lines[0]


# ------------------------------------------------------------------ order
def test_the_order_of_the_flags_is_the_order_of_the_edits(doc, src, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    ra = _run("convert", src, a, "--map", "car=vehicle", "--drop-class", "vehicle")
    rb = _run("convert", src, b, "--drop-class", "vehicle", "--map", "car=vehicle")
    assert ra.exit_code == 0 and rb.exit_code == 0, ra.output + rb.output
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert [(c["id"], c["name"]) for c in da["categories"]] == [(1, "person"), (7, "dog")]
    assert [(c["id"], c["name"]) for c in db["categories"]] == [(1, "person"), (3, "vehicle"), (7, "dog")]
    by_cat = {k: sorted(x["id"] for x in doc["annotations"] if x["category_id"] in k) for k in [(1, 7), (1, 3, 7)]}
    assert sorted(x["id"] for x in da["annotations"]) == by_cat[(1, 7)]
    assert sorted(x["id"] for x in db["annotations"]) == by_cat[(1, 3, 7)]
    assert ra.stderr.index("E002") < ra.stderr.index("E003") and "E001" in rb.stderr


def test_interleaved_maps_and_filters_run_in_command_line_order(doc, src, tmp_path):
    out = tmp_path / "o.json"
    r = _run("convert", src, out, "--map", "car=x", "--keep-class", "x", "--map", "x=person",
             "--keep-class", "dog", "--json", "-q")
    # keep-class names form one step where the first one is: keep {x, dog}, then x -> person (a rename)
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert [(c["id"], c["name"]) for c in d["categories"]] == [(3, "person"), (7, "dog")]
    rep = json.loads(r.stdout)["edits"]
    assert [e["code"] for e in rep["edits"] if e["code"] in ("E001", "E007")] == ["E001", "E007", "E007", "E001"]


def test_map_merges_pixels_as_pycocotools_sees_them(doc, src, tmp_path):
    out = tmp_path / "o.json"
    assert _run("convert", src, out, "--map", "car=vehicle", "-q").exit_code == 0
    before, after = D.class_unions(doc), D.class_unions(json.loads(out.read_text()))
    for (iid, name), m in after.items():
        if name == "vehicle":
            parts = [before[k] for k in ((iid, "car"), (iid, "vehicle")) if k in before]
            assert np.array_equal(m, np.logical_or.reduce(parts))


def test_map_file_and_min_area_from_the_command_line(doc, src, tmp_path):
    mf = tmp_path / "m.txt"
    mf.write_text("car vehicle\ndog,animal\n")
    out = tmp_path / "o.json"
    r = _run("convert", src, out, "--map-file", mf, "--min-area", "12", "--json", "-q")
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert [c["name"] for c in d["categories"]] == ["person", "vehicle", "animal"]
    keep = sorted(a["id"] for a in doc["annotations"] if D.ann_area(a, D.H, D.W) >= 12)
    assert sorted(a["id"] for a in d["annotations"]) == keep
    summary = json.loads(r.stdout)["edits"]["summary"]
    assert summary["E004"]["count"] == len(doc["annotations"]) - len(keep) and summary["E004"]["drop"] is True
    assert summary["E002"]["count"] == 1 and summary["E001"]["count"] == 1


def test_stderr_lists_each_code_with_count_meaning_and_examples(src, tmp_path):
    r = _run("convert", src, tmp_path / "o.json", "--drop-crowd")
    assert r.exit_code == 0
    assert re.search(r"^  E005 x\d+  crowd annotation dropped \(--drop-crowd\)$", r.stderr, re.M)
    assert "    e.g. E005 crowd annotation dropped (image " in r.stderr


def test_json_has_an_empty_edits_report_without_edit_flags(src, tmp_path):
    r = _run("convert", src, tmp_path / "o.json", "--json", "-q")
    assert json.loads(r.stdout)["edits"] == {"summary": {}, "edits": [], "notes": []}


# ------------------------------------------------------------------ strict
@pytest.mark.parametrize("flags", [["--drop-crowd"], ["--drop-class", "dog"], ["--keep-class", "car"],
                                   ["--min-area", "5"], ["--sample", "3"]])
def test_strict_with_a_drop_exits_1_and_writes_nothing(src, tmp_path, flags):
    out = tmp_path / "o" / "o.json"
    r = _run("convert", src, out, *flags, "--strict")
    assert r.exit_code == 1, r.output
    assert "strict mode, nothing written" in r.stderr and re.search(r"E00\d x\d+", r.stderr)
    assert not (tmp_path / "o").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]


def test_strict_accepts_renames_merges_and_split_assignment(src, tmp_path):
    r = _run("convert", src, tmp_path / "s_{split}.json", "--map", "car=vehicle", "--map", "dog=canine",
             "--split", "train=0.5,val=0.5", "--strict")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s_train.json").is_file() and (tmp_path / "s_val.json").is_file()


# ------------------------------------------------------------------ usage errors: exit 2, one line, nothing written
@pytest.mark.parametrize("flags,words", [
    (["--map", "car"], "--map 'car': expected OLD=NEW"),
    (["--map", "car=a=b"], "expected OLD=NEW"),
    (["--map", "=vehicle"], "expected OLD=NEW"),
    (["--map", "truck=vehicle"], "no class named 'truck'"),
    (["--keep-class", "person", "--keep-class", "cat"], "no class named 'cat' to keep"),
    (["--drop-class", "cat"], "no class named 'cat' to drop"),
    (["--split", "train=0.8,val=0.3"], "sum to 1.1"),
    (["--split", "train=0.8;val=0.2"], "not a number"),
    (["--split", "train=0.8,val"], "expected NAME=FRACTION"),
    (["--split", "train=1,train=0"], "--split 'train=1,train=0'"),
    (["--split", "val"], "to assign splits, give --split NAME=FRACTION"),
    (["--min-area", "ten"], "--min-area must be a number"),
    (["--min-area", "-1"], "--min-area"),
    (["--sample", "2.5"], "--sample must be an integer"),
    (["--sample", "3", "--seed", "-4"], "--seed"),
    (["--seed", "3"], "--seed is a setting of --split"),
    (["--stratify"], "--stratify is a setting of --split"),
    (["--min-area", "3", "--min-area", "4"], "--min-area is given twice"),
    (["--map-file", "nowhere.txt"], "nowhere.txt: cannot read the file"),
])
def test_a_bad_edit_flag_exits_2_with_one_line_and_writes_nothing(src, tmp_path, flags, words):
    out = tmp_path / "out.json"
    r = _run("convert", src, out, *flags)
    assert r.exit_code == 2, r.output
    assert words in _one_error_line(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]


def test_a_bad_map_file_line_is_named(src, tmp_path):
    mf = tmp_path / "m.txt"
    mf.write_text("car vehicle\ncar truck\n")
    r = _run("convert", src, tmp_path / "o.json", "--map-file", mf)
    assert r.exit_code == 2 and "m.txt: line 2: class 'car' is mapped twice" in _one_error_line(r)


def test_split_into_one_coco_file_is_refused_before_reading(src, tmp_path):
    r = _run("convert", src, tmp_path / "o.json", "--split", "train=0.8,val=0.2")
    assert r.exit_code == 2 and "put {split} in DST" in _one_error_line(r)
    assert not (tmp_path / "o.json").exists()


# ------------------------------------------------------------------ per-split outputs through the CLI
def test_coco_per_split_files_hold_every_image_once(doc, src, tmp_path):
    r = _run("convert", src, tmp_path / "out" / "instances_{split}.json", "--split", "train=0.6,val=0.2,test=0.2",
             "--seed", "4", "--stratify")
    assert r.exit_code == 0, r.output
    ids = {}
    for s, n in (("train", 18), ("val", 6), ("test", 6)):
        back = segmill.read(tmp_path / "out" / f"instances_{s}.json")
        assert len(back.items) == n
        ids.update({i.id: s for i in back.items})
    assert sorted(ids) == sorted(im["id"] for im in doc["images"])
    again = tmp_path / "again" / "instances_{split}.json"
    assert _run("convert", src, again, "--split", "train=0.6,val=0.2,test=0.2", "--seed", "4",
                "--stratify").exit_code == 0
    for s in ("train", "val", "test"):
        assert (tmp_path / "again" / f"instances_{s}.json").read_bytes() == \
            (tmp_path / "out" / f"instances_{s}.json").read_bytes()


def test_yolo_and_voc_outputs_hold_the_assigned_splits(doc, tmp_path):
    src = D.write_doc(tmp_path / "in.json", doc)
    D.write_images(tmp_path / "images", doc)
    for fmt in ("yolo", "voc"):
        r = _run("convert", src, tmp_path / fmt, "--to", fmt, "--split", "train=0.7,val=0.3", "--seed", "2",
                 "--json", "-q")
        assert r.exit_code == 0, r.output
        back = segmill.read(tmp_path / fmt, fmt)
        from collections import Counter

        assert Counter(i.split for i in back.items) == {"train": 21, "val": 9}, fmt
    yolo = {str(i.id).split("/")[-1]: i.split for i in segmill.read(tmp_path / "yolo", "yolo").items}
    voc = {str(i.id): i.split for i in segmill.read(tmp_path / "voc", "voc").items}
    assert yolo == voc  # the same seed gives the same assignment whatever the target


def test_plain_split_name_is_still_the_yolo_writer_option(tmp_path, fixtures_dir):
    r = _run("convert", fixtures_dir / "coco" / "annotations.json", tmp_path / "y", "--to", "yolo",
             "--split", "val", "-q")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "y" / "labels" / "val").is_dir() and not (tmp_path / "y" / "labels" / "train").exists()


# ------------------------------------------------------------------ docs/editing.md runs verbatim
def _doc_commands():
    text = (ROOT / "docs" / "editing.md").read_text(encoding="utf-8")
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip():
                m = re.search(r"#\s*exit (\d)\s*$", line)
                cmds.append((line, int(m.group(1)) if m else 0))
    return text, cmds


def test_docs_editing_examples_run_verbatim_in_order(monkeypatch):
    monkeypatch.chdir(ROOT)
    text, cmds = _doc_commands()
    assert len(cmds) >= 12
    for line, want in cmds:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "segmill" and argv[1] == "convert", line
        dsts = [a for a in argv[2:4] if a.startswith("/tmp/segmill-docs-editing-")]
        assert dsts and ("--force" in argv or want != 0), line
        r = CliRunner().invoke(main, argv[1:])
        assert r.exit_code == want, (line, r.output)
    python = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(python) == 1
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(python[0], "docs/editing.md", "exec"), {})
    printed = buf.getvalue().splitlines()
    expected = re.findall(r"^print\(.*\)  # (.*)$", python[0], re.M)
    assert printed == expected


def test_docs_editing_examples_write_distinct_places():
    _, cmds = _doc_commands()
    dsts = [shlex.split(line, comments=True)[3] for line, _ in cmds]
    assert len(dsts) == len(set(dsts))
