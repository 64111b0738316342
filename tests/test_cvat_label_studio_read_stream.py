"""CVAT XML and Label Studio JSON read as streams (``FormatSpec.stream``): an image (a task) at a time, equal to ``read``.

The oracle is the whole read: the same items, categories and meta, the same
error message for malformed input (a refusal of the whole file before any
item), the same ``segmill check`` findings, and the same bytes for
``segmill convert``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

import segmill
from segmill.check import Config, check_path
from segmill.check import streamed as dcheck
from segmill.errors import InputError, LimitError
from segmill.formats import _cvat_xml, _label_studio_read, cvat, label_studio
from segmill.limits import MAX_JSON_DEPTH
from segmill.transforms import streamed

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"


_spec = importlib.util.spec_from_file_location("test_perfile_stream", HERE / "test_perfile_stream.py")
P = importlib.util.module_from_spec(_spec)  # same_as_read: the stream is bounded and gives the read's dataset or error
_spec.loader.exec_module(P)
S = P.S  # tests/_stream_writers.py


def _error(fn) -> str | None:
    try:
        fn()
    except InputError as exc:
        return str(exc)
    return None


def streamed_error(path, fmt: str, **options) -> str:
    """The read's error, which the stream raises too (after ``n`` items); the message."""
    err = _error(lambda: segmill.read(path, fmt, **options))
    assert err is not None
    assert _error(lambda: list(segmill.stream(path, fmt, **options))) == err
    return err


# ================================================================== CVAT
LABELS = "".join(f"<label><name>{n}</name><color>#ff00{k}0</color><attributes><attribute><name>a</name>"
                 f"<mutable>False</mutable><input_type>text</input_type><default_value>x</default_value>"
                 f"<values>x</values></attribute></attributes></label>" for k, n in enumerate(("cat", "dog", "bird")))
BOX = '<box label="cat" xtl="1" ytl="1" xbr="5" ybr="6" occluded="1" z_order="2"><attribute name="a">y</attribute></box>'
MASK = '<mask label="dog" left="1" top="1" width="3" height="2" rle="1, 2, 2, 1" group_id="{g}"/>'
LINE = '<polyline label="bird" points="1,1;5,5;8,2"/><points label="cat" points="3,3"/><tag label="dog"/>'
VOID = '<polygon label="" points="0,0;4,0;4,4"><attribute name="void">true</attribute></polygon>'


def _poly(label: str, gid: int = 0, dx: int = 0) -> str:
    return f'<polygon label="{label}" points="{1 + dx},1;{9 + dx},1;{9 + dx},9" group_id="{gid}" source="manual"/>'


def _image(k: int, shapes: str = "", iid=None, subset=None, name=None) -> str:
    attrs = f'id="{k if iid is None else iid}" name="{name or f"i{k}.png"}" width="20" height="16"'
    return f"<image {attrs}{f' subset={chr(34)}{subset}{chr(34)}' if subset else ''}>{shapes}</image>"


def _shapes(k: int) -> str:
    """Boxes, polygon groups (one with a mask), lines, points, tags and void regions, varying with ``k``."""
    return [BOX + _poly("dog", 1) + _poly("dog", 1, 4), _poly("cat", 3) + MASK.format(g=3) + LINE, VOID + BOX,
            "", MASK.format(g=0) + _poly("bird")][k % 5]


def cvat_set(root: Path, images: list[str], head: str = "", prologue: str = "") -> Path:
    """``root/annotations.xml`` of ``images`` (the cat, dog and bird labels declared), ``head`` before them."""
    root.mkdir(parents=True, exist_ok=True)
    text = (f'<?xml version="1.0" encoding="utf-8"?>\n{prologue}<annotations>\n  <version>1.1</version>\n'
            f"  <meta><task><labels>{LABELS}</labels></task></meta>\n{head}"
            + "".join(f"  {im}\n" for im in images) + "</annotations>\n")
    (root / "annotations.xml").write_text(text)
    return root / "annotations.xml"


def _cvat_cases(root: Path) -> dict:
    many = [_image(k, _shapes(k)) for k in range(30)]
    f = cvat_set(root / "cut", many)
    f.write_bytes(f.read_bytes()[:-200])
    return {
        "good": cvat_set(root / "good", many),
        "no_ids": cvat_set(root / "no_ids", [im.replace(f'id="{k}" ', "") for k, im in enumerate(many)]),
        "subsets": cvat_set(root / "subsets", [_image(k % 10, _shapes(k), subset=("train", "val", "test")[k // 10],
                                                      name=f"s{k}.png") for k in range(30)]),
        # "01" is id 1 again: the read's duplicate, at the end, unless a later image is malformed
        "dup_ids": cvat_set(root / "dup_ids", many[:6] + [_image(6, BOX, iid="01")] + many[7:]),
        "dup_then_bad": cvat_set(root / "dup_then_bad", many[:6] + [_image(6, BOX, iid="01")] + many[7:20]
                                 + [_image(20, '<box label="cat" xtl="9" ytl="1" xbr="5" ybr="6"/>')]),
        "bad_shape": cvat_set(root / "bad_shape", many[:12] + [_image(12, '<polygon label="cat" points="1,x"/>')]
                              + many[13:]),
        "undeclared": cvat_set(root / "undeclared", many + [_image(30, _poly("fox"))]),
        "escape": cvat_set(root / "escape", many + [_image(30, name="../../x.png")]),
        "track": cvat_set(root / "track", many + ['<track id="0" label="cat"><box frame="0" xtl="1" ytl="1" '
                                                  'xbr="2" ybr="2" outside="0" occluded="0" keyframe="1"/></track>']),
        "cut": f,
        "entity": cvat_set(root / "entity", many, prologue='<!DOCTYPE annotations [<!ENTITY x "xx">]>\n'),
        "no_meta": cvat_set(root / "no_meta", many[3:4], head="<meta/>"),
        "empty": cvat_set(root / "empty", []),
    }


@pytest.mark.parametrize("options", [{}, {"errors": "skip"}, {"split_groups": True}, {"raster": "pil"}])
def test_every_cvat_fixture_and_built_set_streams_as_it_reads(tmp_path, options):
    paths = [p for p in sorted((FIXTURES / "cvat").iterdir())] + list(_cvat_cases(tmp_path).values())
    for path in paths:
        P.same_as_read(path, "cvat", **options)


def test_the_corpus_cvat_exports_stream_as_they_read(corpus):
    root = corpus / "datumaro" / "cvat_dataset" / "for_images"
    assert len(P.same_as_read(root / "export_project", "cvat").items) > 1
    assert len(P.same_as_read(root / "export_task" / "train.xml", "cvat").items) > 1


def test_a_malformed_cvat_file_is_refused_as_the_read_refuses_it(tmp_path):
    cases = _cvat_cases(tmp_path)
    assert streamed_error(cases["dup_ids"], "cvat").endswith("duplicate image id 1")
    assert "box has xbr < xtl" in streamed_error(cases["dup_then_bad"], "cvat")  # an image's error comes first
    assert "image id '12'" in streamed_error(cases["bad_shape"], "cvat")
    assert "is not declared" in streamed_error(cases["undeclared"], "cvat")
    for name, words in (("track", "CVAT for video"), ("cut", "not valid XML"), ("entity", "entity declaration")):
        with pytest.raises(InputError, match=words):  # the whole file is checked before the first item
            segmill.stream(cases[name], "cvat")
        streamed_error(cases[name], "cvat")
    st = segmill.stream(cases["bad_shape"], "cvat")
    assert st.bounded and len([_ for _, _ in zip(range(12), st)]) == 12  # the images before it come first


def test_cvat_item_ids_are_checked_once_by_the_stream(tmp_path):
    cases = _cvat_cases(tmp_path)
    st = segmill.stream(cases["subsets"], "cvat")
    assert getattr(st._items, "ids_unique", False)  # checked as read checks them: the Stream keeps no set
    assert [i.id for i in st][:2] == ["train/0", "train/1"]


def test_cvat_lenient_modes(tmp_path):
    cases = _cvat_cases(tmp_path)
    st = segmill.stream(cases["bad_shape"], "cvat", errors="skip")
    assert st.bounded and st.to_dataset() == segmill.read(cases["bad_shape"], "cvat", errors="skip")
    assert len(st.header.meta["skipped"]) == 1
    assert cvat.stream(cases["good"], errors="keep") is None  # keep keeps repeated ids, which a stream refuses
    st = segmill.stream(cases["bad_shape"], "cvat", errors="keep")
    assert not st.bounded and st.to_dataset() == segmill.read(cases["bad_shape"], "cvat", errors="keep")



def test_a_changed_cvat_file_is_refused(tmp_path):
    path = _cvat_cases(tmp_path)["good"]
    st = segmill.stream(path, "cvat")
    text = path.read_text()
    path.write_text(text.replace('label="cat"', 'label="dog"', 1))  # a label the first pass did not see here
    assert path.read_text() != text
    with pytest.raises(InputError, match="XML file changed while it was read"):
        list(st)
    st = segmill.stream(path, "cvat")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # touched: same bytes
    with pytest.raises(InputError, match="XML file changed while it was read"):
        list(st)
    assert len(list(segmill.stream(path, "cvat"))) == len(segmill.read(path, "cvat").items)

def test_cvat_items_come_one_image_at_a_time(tmp_path, monkeypatch):
    n = 3000  # many parser blocks
    f = cvat_set(tmp_path / "big", [_image(k, _shapes(k)) for k in range(n)])
    assert f.stat().st_size > 8 * _cvat_xml.CHUNK
    calls, handed = [], []
    real_item, real_drain = cvat._item, _cvat_xml.Images.drain
    monkeypatch.setattr(cvat, "_item", lambda *a, **k: calls.append(a[1]) or real_item(*a, **k))

    def drain(self):
        out = real_drain(self)
        handed.append((len(out), len(self.root)))
        return out

    monkeypatch.setattr(_cvat_xml.Images, "drain", drain)
    st = segmill.stream(f, "cvat")
    assert st.bounded and calls == [] and [c.name for c in st.header.categories] == ["cat", "dog", "bird"]
    first_pass = len(handed)
    assert sum(k for k, _ in handed) == n and max(k for k, _ in handed) < n / 4  # a block's images at a time
    assert max(r for _, r in handed) <= 3  # the root keeps <meta>, <version> and no image
    it = iter(st)
    next(it)
    assert calls == [0] and sum(k for k, _ in handed[first_pass:]) < n / 4
    assert len(list(it)) == n - 1 and max(r for _, r in handed[first_pass:]) <= 1


# ================================================================== Label Studio
def _result(k: int, j: int, label: str, kind: str = "polygon") -> dict:
    value = {"points": [[10, 10], [60, 10], [60, 70]]} if kind == "polygon" else \
        {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0}
    value[f"{kind}labels"] = [label]
    return {"id": f"r{k}_{j}", "type": f"{kind}labels", "from_name": "label", "to_name": "image",
            "original_width": 20, "original_height": 16, "value": value}


def _task(k: int) -> dict:
    """A task of two annotators (the second not on every task), a choice and, every third task, a prediction."""
    names = ["cat", "dog", "bird", "fox", "owl"]
    first = [_result(k, 0, names[(7 * k) % 5]), _result(k, 1, names[(3 * k + 1) % 5], "rectangle"),
             {"type": "choices", "from_name": "mood", "to_name": "image", "value": {"choices": ["calm"]}}]
    anns = [{"id": 100 + k, "completed_by": {"id": 1, "email": "a@b.c"}, "result": first,
             "updated_at": f"2024-01-0{1 + k % 3}T00:00:00"}]
    if k % 4:
        anns.append({"id": 200 + k, "completed_by": 2, "result": [_result(k, 2, names[k % 5])],
                     "updated_at": "2024-01-02T00:00:00"})
    task = {"id": k + 1, "data": {"image": f"/data/upload/1/i{k}.png"}, "annotations": anns}
    if k % 3 == 0:
        task["predictions"] = [{"model_version": "m1", "score": 0.5, "result": [_result(k, 3, "yak")]}]
    return task


def ls_export(path: Path, tasks, indent=None, text: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tasks, indent=indent) if text is None else text)
    return path


def _ls_cases(root: Path) -> dict:
    many = [_task(k) for k in range(40)]
    bad = json.loads(json.dumps(many))
    bad[20]["annotations"][0]["result"][0]["value"]["points"] = [[1, 2]]
    deep = json.loads(json.dumps(many))
    deep[3]["data"]["x"] = "DEEP"
    text = json.dumps(deep).replace('"DEEP"', "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    return {
        "good": ls_export(root / "good.json", many),
        "indented": ls_export(root / "indented.json", many, indent=2),
        "crlf": ls_export(root / "crlf.json", many, text="\r\n\t[ " + json.dumps(many, indent="\t")[1:-1].replace(
            "\n", "\r\n") + "\r\n]\r\n"),
        "big_int": ls_export(root / "big_int.json", many[:5] + [dict(many[5], extra=2**70)] + many[6:]),
        "no_ids": ls_export(root / "no_ids.json", [{k: v for k, v in t.items() if k != "id"} for t in many]),
        "empty": ls_export(root / "empty.json", [], text=" [ ] "),
        "bad_region": ls_export(root / "bad_region.json", bad),
        "dup_ids": ls_export(root / "dup_ids.json", many[:9] + [dict(many[9], id=3)] + many[10:]),
        "scalar": ls_export(root / "scalar.json", many[:4] + [7] + many[4:]),
        # what the scan cannot vouch for: read whole, with the whole read's error or dataset
        "cut": ls_export(root / "cut.json", many, text=json.dumps(many)[:-30]),
        "trailing": ls_export(root / "trailing.json", many, text=json.dumps(many) + " x"),
        "no_comma": ls_export(root / "no_comma.json", many, text=json.dumps(many[:2]).replace("}, {", "} {")),
        "deep": ls_export(root / "deep.json", many, text=text),
        "bom": ls_export(root / "bom.json", many, text="\ufeff" + json.dumps(many)),
        "one_task": ls_export(root / "one_task.json", many[0]),
        "min": FIXTURES / "label_studio" / "min.json",
    }


WHOLE = ("cut", "trailing", "no_comma", "deep", "bom", "one_task", "min")
LS_OPTIONS = [{}, {"annotations": "latest"}, {"annotations": "none", "predictions": True}, {"annotations": "2"},
              {"annotations": "a@b.c", "predictions": True}]


@pytest.mark.parametrize("options", LS_OPTIONS)
def test_every_label_studio_export_streams_as_it_reads(tmp_path, options):
    for name, path in _ls_cases(tmp_path).items():
        if name in WHOLE:
            assert label_studio.stream(path, **options) is None
            st, err = P._outcome(lambda: segmill.stream(path, "label_studio", **options))
            whole, werr = P._outcome(lambda: segmill.read(path, "label_studio", **options))
            assert err == werr and (err is not None or st.to_dataset() == whole)
        else:
            P.same_as_read(path, "label_studio", **options)
    P.same_as_read(FIXTURES / "label_studio" / "tasks.json", "label_studio", **options)


def test_the_corpus_label_studio_exports_stream_as_they_read(corpus):
    root = corpus / "label-studio-converter"
    for path in (root / "test_export_yolo" / "data.json", root / "test_export_yolo" / "data_polygons.json"):
        for options in LS_OPTIONS:
            ds = P.same_as_read(path, "label_studio", **options)
            assert ds.items or options  # (annotator 2 or a@b.c may have none)


def test_label_studio_header_knows_the_categories_and_left_out_tasks(tmp_path):
    cases = _ls_cases(tmp_path)
    st = segmill.stream(cases["good"], "label_studio")
    assert [c.name for c in st.header.categories] == ["cat", "dog", "bird", "owl", "fox"]  # first appearance
    st = segmill.stream(cases["good"], "label_studio", annotations="2", predictions=True)
    assert st.header.meta["label_studio_left_out"] == 10  # tasks annotator 2 did not annotate
    assert "yak" in [c.name for c in st.header.categories]
    assert len(st.to_dataset().items) == 30


def test_a_malformed_label_studio_export_is_refused_as_the_read_refuses_it(tmp_path):
    cases = _ls_cases(tmp_path)
    assert "task 21" in streamed_error(cases["bad_region"], "label_studio")
    assert "duplicate task id 3" in streamed_error(cases["dup_ids"], "label_studio")
    assert "a task must be an object" in streamed_error(cases["scalar"], "label_studio")
    st = segmill.stream(cases["bad_region"], "label_studio")
    assert st.bounded and len([_ for _, _ in zip(range(20), st)]) == 20  # the tasks before it come first
    assert "invalid JSON at line 1" in streamed_error(cases["cut"], "label_studio")
    with pytest.raises(LimitError):
        segmill.stream(cases["deep"], "label_studio")


def test_label_studio_lenient_modes_read_whole(tmp_path):
    path = _ls_cases(tmp_path)["bad_region"]
    for errors in ("skip", "keep"):
        assert label_studio.stream(path, errors=errors) is None
        st = segmill.stream(path, "label_studio", errors=errors)
        assert not st.bounded and st.to_dataset() == segmill.read(path, "label_studio", errors=errors)


def test_label_studio_items_come_one_task_at_a_time(tmp_path, monkeypatch):
    path = _ls_cases(tmp_path)["good"]
    calls = []
    real = _label_studio_read.Reader.task
    monkeypatch.setattr(_label_studio_read.Reader, "task", lambda self, task, k, rec: calls.append(k) or
                        real(self, task, k, rec))
    st = segmill.stream(path, "label_studio")
    assert st.bounded and calls == []
    it = iter(st)
    next(it)
    assert calls == [0]
    assert len(list(it)) == 39 and calls == list(range(40))


def test_a_changed_export_is_refused(tmp_path):
    path = _ls_cases(tmp_path)["good"]
    st = segmill.stream(path, "label_studio")
    tasks = json.loads(path.read_text())
    tasks[1]["annotations"][0]["result"][0]["value"]["polygonlabels"] = ["new"]
    path.write_text(json.dumps(tasks))
    with pytest.raises(InputError, match="changed while it was read"):
        list(st)


# ================================================================== segmill check and convert
def _ls_defects(tmp_path) -> Path:
    tasks = [_task(k) for k in range(12)]
    tasks[4]["annotations"][0]["result"][0]["value"]["points"] = [[10, 10], [60, 70], [60, 10], [10, 70]]  # bowtie
    tasks[7]["annotations"][0]["result"] = []
    return ls_export(tmp_path / "defects.json", tasks)


def _cvat_defects(tmp_path) -> Path:
    images = [_image(k, _shapes(k)) for k in range(12)]
    images[4] = _image(4, '<polygon label="cat" points="1,1;9,9;9,1;1,9"/>' + BOX)  # bowtie
    images[6] = _image(6, '<polygon label="bird" points="1,1;2,2;3,3"/>')  # no area
    return cvat_set(tmp_path / "defects", images)


@pytest.mark.parametrize("select", [None, ["ALL"]])
@pytest.mark.parametrize("fmt, make", [("cvat", _cvat_defects), ("label_studio", _ls_defects)])
def test_a_streamed_check_finds_what_the_whole_check_finds(tmp_path, monkeypatch, fmt, make, select):
    monkeypatch.setattr(streamed, "BATCH", 3)  # many batches
    src = make(tmp_path)
    cfg = Config(select=select) if select else Config()
    whole = check_path(src, format=fmt, config=cfg)
    got = dcheck.check_streamed([src], format=fmt, config=cfg)
    assert got is not None and whole.findings
    P._same_check(got, whole)


@pytest.mark.parametrize("target", ["coco", "cvat", "labelme", "label_studio"])
@pytest.mark.parametrize("fmt, case", [("cvat", "good"), ("cvat", "subsets"), ("label_studio", "good"),
                                       ("label_studio", "no_ids")])
def test_convert_of_a_stream_writes_the_bytes_of_the_whole_write(tmp_path, monkeypatch, fmt, case, target):
    src = (_cvat_cases if fmt == "cvat" else _ls_cases)(tmp_path / "in")[case]
    calls = S.count_writes(monkeypatch, target)
    suffix = ".json" if target in ("coco", "label_studio") else ""
    a = segmill.convert(src, tmp_path / f"s{suffix}", fmt, target)
    b = segmill.write(segmill.read(src, fmt), tmp_path / f"w{suffix}", target)
    if target != "coco":  # COCO's stream writer takes COCO streams only: that conversion reads whole
        assert calls, "the conversion did not stream"
    if suffix:
        assert (tmp_path / f"s{suffix}").read_bytes() == (tmp_path / f"w{suffix}").read_bytes()
        S.same_report(a, b)
    else:
        S.same_tree(tmp_path, a, b)
