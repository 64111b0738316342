"""Label Studio as a stream: what the generic cases (``tests/test_stream_writers.py``) do not cover.

The export is one JSON list written a task at a time; what a later task changes of the earlier ones (a
made-up task id above every integer id, L803; lone surrogates making the whole list ``ensure_ascii``) is put
right at the end. The oracle is the whole write.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

import segmill
from segmill.io import ConvertOptions
from segmill.model import Category, Dataset
from segmill.streaming import Stream

_spec = importlib.util.spec_from_file_location("_stream_writers", Path(__file__).with_name("_stream_writers.py"))
S = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(S)

streams = S.counted("label_studio")
CATS = [Category(1, "cat"), Category(2, "dog")]


def _written_alike(tmp_path, items, **write):
    a = segmill.io.write_stream(Stream(Dataset(CATS), iter(items()), bounded=True), tmp_path / "s.json",
                                "label_studio", **write)
    b = segmill.write(Dataset(CATS, items()), tmp_path / "w.json", "label_studio", **write)
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "w.json").read_bytes()
    S.same_report(a, b)
    return a, (tmp_path / "s.json").read_bytes()


def _items(ids, names=None):
    def make():
        out = S.boxes(len(ids))
        for k, (item, iid) in enumerate(zip(out, ids)):
            item.id = iid
            if names and names[k] is not None:
                item.file_name = names[k]
        return out

    return make


@pytest.mark.parametrize("write", [{"indent": 0}, {"indent": None}, {"indent": "\t"},
                                   {"image_prefix": "/data/local-files/?d=images/"}])
def test_coco_streams_the_export_of_the_whole_write_with_options(tmp_path, streams, write):
    src = S.plain(tmp_path, 15, seed=3)
    e = segmill.convert(src, tmp_path / "s.json", to_format="label_studio", options=ConvertOptions(write=write))
    assert streams, "the conversion did not stream"
    w = segmill.write(segmill.read(src), tmp_path / "w.json", "label_studio", **write)
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "w.json").read_bytes()
    S.same_report(e, w)
    assert e.items == 15 and e.losses


@pytest.mark.parametrize("indent", [2, None])
@pytest.mark.parametrize("ids", [["a", 3, "b", 40, 7], ["a", "b"], [9, "a", 2], ["a", -5, "b"]])
def test_made_up_task_ids_are_the_whole_writes(tmp_path, ids, indent):
    a, data = _written_alike(tmp_path, _items(ids), indent=indent)
    made = [l.message.rsplit(" ", 1)[1] for l in a.losses if l.code == "L803"]
    assert len(made) == sum(not isinstance(i, int) for i in ids) and f'"id": {made[0]}'.encode() in data


@pytest.mark.parametrize("indent", [2, None, "\u00a0"])
def test_a_lone_surrogate_makes_the_whole_list_ascii_as_the_whole_write_does(tmp_path, indent):
    ids = ["a", 5, 6, "b", 70]
    names = ["caf\u00e9.png", "\u732b.png", None, "x\ud800.png", "\U0001f600.png"]
    _, data = _written_alike(tmp_path, _items(ids, names), indent=indent)
    assert b"\\u00e9" in data and b"\\ud83d\\ude00" in data and b"\\ud800" in data


@pytest.mark.parametrize("later", [None, "undeclared"])
def test_text_json_cannot_hold_is_refused_as_the_whole_write_refuses_it(tmp_path, later):
    items = S.boxes(5)
    items[1].annotations[0].attributes["annotator"] = object()  # into a task's completed_by
    if later:  # refused when its item comes: the whole write refuses it first, so the stream must too
        items[3].annotations[0].category_id = 5
    err = S.refused_alike(tmp_path, "label_studio", CATS, items)
    assert ("category_id 5" if later else "cannot write as JSON") in err.message


@pytest.mark.parametrize("n", [0, 3])
def test_an_indent_json_cannot_use_is_refused_as_the_whole_write_refuses_it(tmp_path, n):
    with pytest.raises(segmill.errors.InputError) as whole:
        segmill.write(Dataset(CATS, S.boxes(n)), tmp_path / "w.json", "label_studio", indent=2.5)
    with pytest.raises(segmill.errors.InputError) as streamed:
        segmill.io.write_stream(Stream(Dataset(CATS), iter(S.boxes(n)), bounded=True), tmp_path / "s.json",
                                "label_studio", indent=2.5)
    assert streamed.value.message == whole.value.message and "cannot write as JSON" in whole.value.message
    assert list(tmp_path.iterdir()) == []


def test_a_label_studio_export_streams_back_to_the_whole_writes_bytes(tmp_path, fixtures_dir):
    src = fixtures_dir / "label_studio" / "tasks.json"
    a = segmill.io.write_stream(segmill.stream(src, "label_studio"), tmp_path / "s.json", "label_studio")
    b = segmill.write(segmill.read(src, "label_studio"), tmp_path / "w.json", "label_studio")
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "w.json").read_bytes()
    S.same_report(a, b)
    assert a.items > 0


def test_the_cli_converts_coco_to_label_studio_as_a_stream(tmp_path, streams):
    from segmill.cli import main

    src = S.plain(tmp_path, 12, seed=8)
    got = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "s.json"), "--to", "label_studio", "-q",
                                    "--indent", "4"])
    assert got.exit_code == 0, got.output
    assert streams and segmill.formats.get_format("label_studio").detect(tmp_path / "s.json").confidence >= 0.5
    segmill.write(segmill.read(src), tmp_path / "w.json", "label_studio", indent=4)
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "w.json").read_bytes()
