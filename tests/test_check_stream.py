"""``segmill check`` on a stream: per-image rules a batch at a time, dataset-level rules over skeletons.

The oracle is the whole, lenient check (:func:`segmill.check.check_path`): the
findings must be the same, in the same order, for every selection of rules,
batch size and source; a record the strict stream refuses sends the check
back to the whole read, which reports it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill import synth
from segmill.check import check_path
from segmill.cli import main
from segmill.check import streamed as dcheck
from segmill.formats import coco
from segmill.transforms import streamed

_spec = importlib.util.spec_from_file_location("_defects", Path(__file__).with_name("_defects.py"))
_defects = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_defects)
spoil_geometry = _defects.spoil_geometry


def _with_defects(path, n_images: int, seed: int):
    """A synthetic COCO file with defects a strict read accepts (geometry, names, files, usage)."""
    doc = synth.coco_dict(n_images, seed=seed)
    doc["categories"].append({"id": 900, "name": "Class01 ", "supercategory": "x"})  # similar name, unused
    anns = doc["annotations"]
    spoil_geometry(anns[::5])
    for a in anns[::2]:  # a class with enough objects to score sizes (C008)
        a["category_id"] = doc["categories"][0]["id"]
    for a in anns[2::18]:  # a speck: a size outlier of its class
        if isinstance(a["segmentation"], list) and a["segmentation"]:
            x, y = a["segmentation"][0][:2]
            a["segmentation"], a["area"] = [[x, y, x + 1, y, x, y + 1]], 0.5
    doc["images"][1]["file_name"] = doc["images"][0]["file_name"]  # the same file twice
    used = {a["image_id"] for a in anns}
    doc["annotations"] = [a for a in anns if a["image_id"] != doc["images"][2]["id"]] if doc["images"][2]["id"] in used \
        else anns  # an image without annotations
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def streaming(monkeypatch):
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)  # every COCO file streams
    monkeypatch.setattr(streamed, "BATCH", 7)  # many batches
    return monkeypatch


def _same(a, b):
    assert [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in a.findings] == \
           [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.file) for f in b.findings]
    assert (a.images, a.annotations, [r.code for r in a.rules]) == (b.images, b.annotations, [r.code for r in b.rules])


@pytest.mark.parametrize("select", [None, ["ALL"], ["G", "S"], ["C008", "G"], ["S002", "S010", "C004"]])
def test_a_streamed_check_finds_what_the_whole_check_finds(tmp_path, streaming, select):
    src = _with_defects(tmp_path / "a.json", 60, seed=2)
    whole = check_path(src, config=_config(select))
    got = dcheck.check_streamed([src], config=_config(select))
    assert got is not None and len(whole.findings) > 0
    if select and "C008" in select:
        assert any(f.code == "C008" for f in whole.findings)
    _same(got, whole)


def _config(select):
    from segmill.check import Config

    cfg = Config()
    return cfg if select is None else cfg.override(select=select)


def test_the_findings_cover_several_rules_so_the_comparison_means_something(tmp_path, streaming):
    src = _with_defects(tmp_path / "a.json", 60, seed=2)
    got = dcheck.check_streamed([src], config=_config(["ALL"]))
    codes = {f.code for f in got.findings}
    assert {"S006", "S010", "C004", "C001"} <= codes and any(c.startswith("G") for c in codes), codes


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), batch=st.integers(1, 40), n=st.integers(3, 50))
def test_any_batch_size_gives_the_whole_check(tmp_path_factory, seed, batch, n):
    src = _with_defects(tmp_path_factory.mktemp("c") / "a.json", n, seed=seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coco, "STREAM_BYTES", 0)
        mp.setattr(streamed, "BATCH", batch)
        got = dcheck.check_streamed([src])
    assert got is not None
    _same(got, check_path(src))


def test_two_files_are_checked_together_as_splits(tmp_path, streaming):
    a = _with_defects(tmp_path / "a.json", 20, seed=4)
    b = tmp_path / "b.json"
    doc = json.loads(a.read_text())
    doc["categories"][0]["id"] = 777  # the same name under another id in the other split (C005)
    for ann in doc["annotations"]:
        if ann["category_id"] == 1:
            ann["category_id"] = 777
    b.write_text(json.dumps(doc))
    got = dcheck.check_streamed([a, b], config=_config(["ALL"]))
    _same(got, check_path([a, b], config=_config(["ALL"])))
    assert "C005" in {f.code for f in got.findings}


def test_a_record_the_stream_refuses_sends_the_check_to_the_whole_read(tmp_path, streaming):
    src = tmp_path / "a.json"
    doc = synth.coco_dict(12, seed=1)
    doc["images"][3]["id"] = doc["images"][4]["id"]  # a repeated image id: the strict stream stops there
    src.write_text(json.dumps(doc))
    assert dcheck.check_streamed([src]) is None
    runner = CliRunner()
    res = runner.invoke(main, ["check", str(src), "--select", "S001", "-q"])
    assert res.exit_code == 1 and "S001" in res.output


def test_a_small_file_is_not_streamed(tmp_path):
    src = _with_defects(tmp_path / "a.json", 10, seed=3)
    assert dcheck.check_streamed([src]) is None  # under STREAM_BYTES: the caller reads it whole


def test_the_cli_prints_the_same_report_streamed_and_whole(tmp_path, monkeypatch):
    src = _with_defects(tmp_path / "a.json", 40, seed=6)
    runner = CliRunner()
    whole = runner.invoke(main, ["check", str(src), "--output-format", "json", "-q"])
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)
    monkeypatch.setattr(streamed, "BATCH", 5)
    calls = []
    real = dcheck.check_streamed
    monkeypatch.setattr(dcheck, "check_streamed", lambda *a, **k: calls.append(1) or real(*a, **k))
    stream = runner.invoke(main, ["check", str(src), "--output-format", "json", "-q"])
    assert calls and whole.exit_code == stream.exit_code == 1
    assert stream.output == whole.output
