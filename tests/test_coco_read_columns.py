"""COCO reader: reading a slice of records column by column, and big files a slice at a time, change nothing.

The reader has three ways through the same records: record by record,
column by column (a whole slice of plain polygon annotations at once) and,
for big files, the annotations parsed a slice at a time
(``_coco_json.SplitDocument``). Each test here reads the same bytes the ways
that must agree and compares everything a caller can see: the error (type
and text), or every value of the dataset with its Python type, the records
skipped and the key orders kept for writing back.
"""

from __future__ import annotations

import json
import os
import random
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segmill
from segmill.errors import InputError, LimitError
from segmill.formats import _coco_json as J
from segmill.formats import _coco_read as R
from segmill.formats.coco import CocoPolygons
from segmill.limits import MAX_JSON_DEPTH

MODES = ["raise", "skip", "keep"]

#: Values a field of one annotation may take instead of a good one (``KeyError`` drops the key).
FIELD_VALUES = {
    "id": [7, None, "a7", "", "x" * 300, True, 1.5, [1], KeyError],
    "image_id": [1, 2, 99, None, [1], True, "1", KeyError],
    "category_id": [1, 2, 99, None, "c", True, KeyError],
    "segmentation": [[[0, 0, 4, 0, 4, 4]], [[0.5, 0.5, 3.5, 0.5, 3.5, 3.5], [5, 5, 6, 5, 6, 6.5]], [],
                     None, {"size": [6, 8], "counts": [5, 3, 40]}, {"size": [6, 8], "counts": "52;0"},
                     [[0, 0, 1]], [[0, 0, 1, 0, 1]], [[0, 0, "1", 0, 1, 1]], [[True, 0, 4, 0, 4, 4]],
                     [[0, 0, 3e8, 0, 4, 4]], [["x"]], [[]], [5], "poly", KeyError],
    "area": [2.0, 2, None, "x", True, 1e308, -0.0, 10**400, -(10**400), KeyError],
    "bbox": [[0, 0, 1, 1], [0.5, 0.5, 1.0, 1.0], None, [1, 2, 3], [None, 0, 1, 1], "x", [True, 0, 1, 1],
             [0, 10**400, 1, 1], KeyError],
    "iscrowd": [0, 1, 2, True, None, "1", 1.0, KeyError],
    "score": [0.5, 1, None, "x", False, 10**400, KeyError],
    "attributes": [{"occluded": True}, "night", None, {}, KeyError],
    "x_note": ["kept", 3, KeyError],
}
#: Tokens no Python value dumps to, spliced in for a field's value. (Not integers of 19 digits and
#: more: orjson reads them as floats, the standard library as ints; see the test of its own below.)
LITERALS = ["NaN", "1e999", "-Infinity"]


def _base(n: int, rng: random.Random, area=None) -> dict:
    anns = []
    area = rng.choice([3.75, 4]) if area is None else area  # a column of ints, or of floats
    for k in range(n):
        x, y = rng.choice([0, 1, 2.5]), rng.choice([0, 0.25, 3])
        anns.append({"id": 100 + k, "image_id": 1 + k % 2, "category_id": 1 + k % 2,
                     "segmentation": [[x, y, x + 3, y, x + 3, y + 2.5]], "area": area,
                     "bbox": [x, y, 3, 2.5], "iscrowd": 0})
    return {"info": {"v": 1},
            "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 6},
                       {"id": 2, "file_name": "b.png", "width": 12, "height": 9}],
            "annotations": anns, "x_top": [1, 2],
            "categories": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]}


def _mutated(seed: int, n: int, edits: int) -> bytes:
    """A COCO file of ``n`` annotations, ``edits`` of whose fields are replaced (seeded)."""
    rng = random.Random(seed)
    doc = _base(n, rng)
    anns = doc["annotations"]
    splice = {}
    for _ in range(edits):
        k = rng.randrange(n)
        what = rng.random()
        if what < 0.05:
            anns[k] = rng.choice([[], 5, None])
            continue
        if type(anns[k]) is not dict:
            continue
        if what < 0.1:  # another key order
            items = list(anns[k].items())
            rng.shuffle(items)
            anns[k] = dict(items)
            continue
        if what < 0.13:
            other = anns[rng.randrange(n)]  # a duplicate id, most often
            anns[k]["id"] = other.get("id") if type(other) is dict else 1
            continue
        field = rng.choice(sorted(FIELD_VALUES))
        if what < 0.18:
            token = f"@{len(splice)}@"
            splice[token] = rng.choice(LITERALS)
            anns[k][field] = token
            continue
        value = rng.choice(FIELD_VALUES[field])
        if value is KeyError:
            anns[k].pop(field, None)
        else:
            anns[k][field] = json.loads(json.dumps(value))
    text = json.dumps(doc)
    for token, literal in splice.items():
        text = text.replace(f'"{token}"', literal)
    return text.encode()


def _typed(v):
    """``v`` with the type of every number and container spelled out (2 and 2.0 differ)."""
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [_typed(x) for x in v])
    if isinstance(v, dict):
        return ("dict", [(k, _typed(x)) for k, x in v.items()])
    return (type(v).__name__, repr(v))


def _geometry(g):
    if g is None:
        return None
    out = [type(g).__name__]
    if isinstance(g, CocoPolygons):
        out.append(_typed(g.source))
    for name in ("raw", "reason"):
        if hasattr(g, name):
            out.append(_typed(getattr(g, name)))
    if hasattr(g, "counts"):
        out.append(g.counts.tolist())
    if hasattr(g, "x"):
        out.append(_typed((g.x, g.y, g.w, g.h)))
    return out


def _seen(ds) -> list:
    """Everything a caller sees of a dataset read from COCO, types included."""
    out = [_typed([(c.id, c.name, c.extra) for c in ds.categories]), _typed(ds.extra),
           _typed(ds.meta.get("skipped")), ds.meta.get("placeholder_images"), ds.meta["coco"]["keys"]]
    for it in ds.items:
        out.append(_typed((it.id, it.file_name, it.width, it.height, it.attributes, it.extra)))
        for a in it.annotations:
            out.append((_typed((a.id, a.category_id, a.iscrowd, a.area, a.bbox, a.score, a.attributes, a.extra)),
                        _geometry(a.geometry), a.origin))
    order = ds.meta["coco"]["order"]
    out.append(_typed([(a.id, a.category_id, it.id) for a, it in zip(order.anns, order.items)]))
    out.append(_typed(order.ids))
    out.append(order.undeclared)
    return out


def _outcome(path, mode):
    try:
        ds = segmill.read(path, "coco", errors=mode)
    except (InputError, LimitError) as exc:
        return ("error", type(exc).__name__, str(exc).replace(str(path), "<path>"))
    return ("dataset", _seen(ds), _pixels(ds) if mode != "keep" else None)


def _pixels(ds):
    from segmill.formats.coco import rasterize_items

    try:
        return [[r.counts.tolist() for r in row] for row in rasterize_items(ds.items)]
    except segmill.SegmillError as exc:
        return str(exc)


def _no_columns():
    return mock.patch.object(R._AnnotationReader, "_columns", lambda self, recs, lean=False: False)


def _split(slice_size: int):
    """Every file is big (parsed a slice at a time), with slices of ``slice_size`` annotations."""
    return mock.patch.multiple(R, COMPACT_BYTES=0), mock.patch.object(J, "SLICE", slice_size)


def _read_ways(path, mode) -> dict:
    ways = {"columns": _outcome(path, mode)}
    with _no_columns():
        ways["records"] = _outcome(path, mode)
    for size in (1, 3):
        a, b = _split(size)
        with a, b:
            ways[f"split {size}"] = _outcome(path, mode)
    return ways


def _assert_all_agree(ways: dict) -> None:
    first, *rest = ways
    for name in rest:
        assert ways[name] == ways[first], f"{name} differs from {first}"


# ------------------------------------------------------------------ properties
@settings(max_examples=int(os.environ.get("SEGMILL_READ_EXAMPLES", "120")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), n=st.integers(1, 9), edits=st.integers(0, 4), mode=st.sampled_from(MODES))
def test_every_way_through_the_reader_sees_the_same_file(tmp_path, seed, n, edits, mode):
    path = tmp_path / "in.json"
    path.write_bytes(_mutated(seed, n, edits))
    _assert_all_agree(_read_ways(path, mode))


ONE_ODD_VALUE = [(field, value) for field, values in FIELD_VALUES.items() for value in values] + [
    (field, literal) for field in ("area", "bbox", "score", "segmentation") for literal in LITERALS]


@pytest.mark.parametrize("field, value", ONE_ODD_VALUE, ids=[f"{f}={v!r:.24}" for f, v in ONE_ODD_VALUE])
@pytest.mark.parametrize("area", [3.75, 4])
def test_one_odd_value_in_a_slice_reads_the_same_every_way(tmp_path, field, value, area):
    doc = _base(6, random.Random(8), area)
    ann = doc["annotations"][4]
    if value is KeyError:
        ann.pop(field, None)
    else:
        ann[field] = "@" if value in LITERALS else value
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc).replace('"@"', str(value)))
    for mode in MODES:
        _assert_all_agree(_read_ways(path, mode))


def test_a_clean_file_takes_the_column_path_for_every_slice(tmp_path):
    path = tmp_path / "in.json"
    path.write_bytes(_mutated(1, 40, 0))
    calls = []
    real = R._AnnotationReader._columns

    def spy(self, recs, lean=False):
        calls.append(real(self, recs, lean))
        return calls[-1]

    with mock.patch.object(R._AnnotationReader, "_columns", spy):
        ds = segmill.read(path, "coco")
    assert calls == [True] and ds.num_annotations == 40


def test_the_split_path_parses_slices_and_keeps_polygons_lean(tmp_path):
    doc = _base(10, random.Random(2))
    for k, ann in enumerate(doc["annotations"]):
        ann["segmentation"] = [[0.5, 0.5, 3.5, 0.5, 3.5, 3.5]] + [[5.5, 5.5, 6.5, 5.5, 6.5, 6.5]] * (k % 2)
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc))
    loaded = []
    real = J.load_split
    a, b = _split(4)
    with a, b, mock.patch.object(J, "load_split", lambda p: loaded.append(real(p)) or loaded[-1]):
        ds = segmill.read(path, "coco")
    assert [type(d) for d in loaded] == [J.SplitDocument] and len(loaded[0]) == 10
    parts = [p for _, ann in ds.annotations() for p in ann.geometry._src]
    assert {type(p).__name__ for p in parts} == {"array"}  # every coordinate a float: 8 bytes each
    assert {a.id: a.geometry.source for _, a in ds.annotations()} == {a["id"]: a["segmentation"]
                                                                       for a in doc["annotations"]}


def test_int_coordinates_stay_ints_on_the_split_path(tmp_path):
    doc = _base(5, random.Random(0))
    doc["annotations"][3]["segmentation"] = [[1, 2.5, 4, 2, 4.0, 6, 1, 6]]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc))
    a, b = _split(2)
    with a, b:
        ds = segmill.read(path, "coco")
    src = ds.items[1].annotations[1].geometry.source
    assert src == [[1, 2.5, 4, 2, 4.0, 6, 1, 6]] and [type(v) for v in src[0][:3]] == [int, float, int]


# --------------------------------------------------- the split path: the JSON
def _text_ways(tmp_path, text: str, mode: str = "raise") -> dict:
    path = tmp_path / "in.json"
    path.write_text(text)
    return _read_ways(path, mode)


@pytest.mark.parametrize("tail", ["]}", ",]}", "]", "] , }", "]}}", "] x}"])
def test_invalid_json_after_the_annotations_is_the_error_whatever_the_slices(tmp_path, tail):
    good = json.dumps(_base(7, random.Random(3)))
    cut = good.index("]", good.index('"annotations"'))  # the annotations close here
    ways = _text_ways(tmp_path, good[:cut] + tail + good[cut + 1:])
    _assert_all_agree(ways)


def test_a_bad_record_before_invalid_json_reports_the_json(tmp_path):
    doc = _base(9, random.Random(4))
    doc["annotations"][1]["iscrowd"] = 7
    text = json.dumps(doc)
    last = text.rindex('"iscrowd": 0')
    ways = _text_ways(tmp_path, text[:last] + '"iscrowd": 0,,' + text[last + 12:])
    _assert_all_agree(ways)
    assert "invalid JSON" in ways["split 1"][2]


@pytest.mark.parametrize("mode", MODES)
def test_a_stray_comma_between_annotations_is_invalid_json(tmp_path, mode):
    text = json.dumps(_base(4, random.Random(5)))
    at = text.index("}, {", text.index('"annotations"')) + 1
    ways = _text_ways(tmp_path, text[:at] + ", " + text[at:], mode)
    _assert_all_agree(ways)
    assert ways["split 1"][0] == "error"


@pytest.mark.parametrize("text", [
    '{"images": [], "annotations": [], "categories": []}',
    '{"images": [], "annotations": [ ], "categories": []}',
    '{"annotations": [1], "images": [], "annotations": [], "categories": []}',
    '{"annotations": [], "images": [], "annotations": 5, "categories": []}',
    '{"ann\\u006ftations": [{"id": 1}], "images": [], "categories": []}',
    '{"images": [], "categories": [], "annotations": [{"id": 12345678901234567890, "image_id": 1}]}',
    '\ufeff{"images": [], "annotations": [], "categories": []}',
    '[{"id": 1}]',
    '{"images": [], "annotations": [[], {}], "categories": []}',
    '{"images": [], "annotations": [1, 2}, "categories": []}',
])
@pytest.mark.parametrize("mode", MODES)
def test_odd_documents_read_the_same_on_the_split_path(tmp_path, text, mode):
    _assert_all_agree(_text_ways(tmp_path, text, mode))


def test_integers_of_twenty_digits_read_as_the_standard_library_reads_them_on_the_big_file_path(tmp_path):
    doc = _base(3, random.Random(7))
    doc["annotations"][2]["area"] = "@"
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc).replace('"@"', "1" + "0" * 25))
    with mock.patch.object(R, "COMPACT_BYTES", 0):
        ds = segmill.read(path, "coco")
    assert ds.items[0].annotations[1].area == 10**25 and type(ds.items[0].annotations[1].area) is int


def test_duplicate_annotations_keys_keep_the_last_as_the_parsers_do(tmp_path):
    doc = json.dumps(_base(3, random.Random(6)))
    text = doc.replace('"annotations": [', '"annotations": [], "annotations": [', 1)
    ways = _text_ways(tmp_path, text)
    _assert_all_agree(ways)
    assert ways["split 1"][0] == "dataset"


def test_nesting_too_deep_is_refused_before_anything_is_parsed(tmp_path):
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    text = '{"images": [], "annotations": [' + deep + '], "categories": []}'
    ways = _text_ways(tmp_path, text)
    _assert_all_agree(ways)
    assert ways["split 1"][1] == "LimitError"


# ------------------------------------------------------------ the scan kernel
def _scan(text: bytes, step: int = 2):
    import numpy as np

    from segmill._json_depth import split_array

    cuts = np.zeros(len(text) // step + 1, np.int64)
    ints = np.zeros(cuts.shape[0] + 1, np.int64)
    status, start, end, commas, ncuts = split_array(np.frombuffer(text, np.uint8), MAX_JSON_DEPTH,
                                                    np.frombuffer(b'"annotations"', np.uint8), step, cuts, ints, 5)
    return status, (start, end), commas, cuts[:ncuts].tolist(), ints[:ncuts + 1].tolist()


def test_the_scan_finds_the_array_its_cuts_and_the_integers_of_each_slice():
    text = (b'{"a": [1], "annotations": [{"s": [[1.5, -2e3]]}, {"s": [[1, 0.5]]}, {"s": [[-0, 1E+5]]},'
            b' {"s": [[2.0], {"x": [7]}]}, 5], "b": "annotations"}')
    status, (start, end), commas, cuts, ints = _scan(text)
    assert status == 0 and text[start:start + 1] == b"[" and text[end:end + 1] == b"]"
    assert commas == 4 and [text[c:c + 1] for c in cuts] == [b",", b","]
    assert ints == [1, 2, 0]  # [1, 0.5] | [-0, 1E+5] and {"x": [7]} | 5 is not deep


@pytest.mark.parametrize("text, status", [
    (b'{"annotations": [1], "annotations": [2.5]}', 0),
    (b'{"annotations": 5}', 2),
    (b'[{"annotations": []}]', 2),
    (b'{"ann\\u006ftations": []}', 2),
    (b'{"annotations": [1]}', 0),
    (b'{"annotations": [1234567890123456789]}', 2),
    (b'{"annotations": [1}', 2),
])
def test_the_scan_says_when_there_is_no_plan(text, status):
    assert _scan(text)[0] == status


def test_a_duplicate_key_starts_the_count_of_integers_again():
    assert _scan(b'{"annotations": [[[[1]]], [[[2]]], 3], "annotations": [[[[1.5]]]]}')[4] == [0]


# ----------------------------------------------- the check's table of polygons
@pytest.mark.parametrize("shuffle", [False, True])
def test_the_polygon_table_from_the_readers_pack_is_the_one_from_the_sources(tmp_path, shuffle):
    import numpy as np

    from segmill.check import _tables as T
    from segmill.synth import coco_dict

    doc = coco_dict(30, seed=3)
    doc["annotations"][0]["segmentation"] = [[1, 2.5, 4, 2, 4.0, 6, 1, 6], [7.5, 7.5, 9.5, 7.5, 9.5, 9.5]]
    if shuffle:  # the file's order is not the items' order
        random.Random(1).shuffle(doc["annotations"])
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc))
    ds = segmill.read(path, "coco")
    table = T.AnnotationTable(ds.items[::-1])
    assert T._from_pack([table.geoms[r] for r in table.rows(T.KIND_POLY)]) is not None
    packed = T.polygon_table_of(table)
    with mock.patch.object(T, "_from_pack", lambda geoms: None):
        listed = T.polygon_table_of(table)
    for name in ("rows", "xy", "pstart", "plen", "gstart", "gcount", "part_area", "area", "bounds"):
        a, b = getattr(packed, name), getattr(listed, name)
        assert a.dtype == b.dtype and np.array_equal(a, b) and a.flags.writeable, name
