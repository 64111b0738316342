"""Diff and gate reports written a change at a time: the change lists spill (``Entries``), and the JSON
chunks join to ``json.dumps`` of ``to_dict`` (the text they replaced), whatever the spill."""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill import _entries
from segmill.check.finding import jsonable
from segmill.check.report.json import Spliced, document_chunks
from segmill.gate import DIFF_FORMATS, GATE_FORMATS, diff, gate, render_diff, render_diff_chunks, render_gate
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item


def _square(x, s):
    return Polygons([[x, x, x + s, x, x + s, x + s, x, x + s]])


def _versions(n: int, seed: int):
    cats = [Category(1, "cat"), Category(2, "dog")]
    base = Dataset(cats, [Item(i, f"img{i:03d}.jpg", 64, 64, [Annotation(10 * i + k, 1 + k % 2, _square(4 + k, 10))
                                                                for k in range(3)]) for i in range(1, n + 1)])
    head = copy.deepcopy(base)
    for k, item in enumerate(head.items):
        item.id += 1000  # every image renumbered: every one "modified"
        if (k + seed) % 3 == 0:
            item.annotations[0].category_id = 2
        if (k + seed) % 4 == 1:
            item.annotations[1].geometry = _square(7, 12)
        if (k + seed) % 5 == 2:
            item.annotations.pop()
    head.items.pop(seed % n)
    head.items.append(Item(9999, "new é.jpg", 64, 64, [Annotation(1, 1, _square(1, 5))]))
    return base, head


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 50))
def test_diff_json_chunks_join_to_the_whole_dump(n, seed):
    d = diff(*_versions(n, seed))
    want = json.dumps(jsonable(d.to_dict()), indent=2, ensure_ascii=False) + "\n"
    assert render_diff(d, "json") == want
    assert len(list(render_diff_chunks(d, "json"))) >= len(d.image_changes)  # a change a chunk


@pytest.mark.parametrize("run", [1, 2, 5])
def test_spilled_change_lists_give_the_same_reports(monkeypatch, run):
    versions = _versions(9, 1)
    whole = diff(*versions)
    whole_gate = gate(*versions)
    assert whole.image_changes._spill is None
    monkeypatch.setattr(_entries, "SPILL_ENTRIES", run)  # `run` changes kept in memory at most
    spilled = diff(*versions)
    assert spilled.image_changes._spill is not None and spilled.annotation_changes._spill is not None
    assert spilled.images["modified"] == 8 and spilled.to_dict() == whole.to_dict()
    for fmt in DIFF_FORMATS:
        assert render_diff(spilled, fmt) == render_diff(whole, fmt)
    spilled_gate = gate(*versions)
    for fmt in GATE_FORMATS:
        assert render_gate(spilled_gate, fmt) == render_gate(whole_gate, fmt)
    want = json.dumps(jsonable(whole_gate.to_dict()), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    assert render_gate(spilled_gate, "json") == want


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4)
                           | st.floats(allow_nan=False, allow_infinity=False),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                      max_size=3), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=3), json_values, max_size=3),
       lists=st.lists(st.lists(json_values, max_size=3), min_size=1, max_size=3), nest=st.booleans(),
       ascii=st.booleans())
def test_document_chunks_write_spliced_lists_where_they_stand(doc, lists, nest, ascii):
    plain, spliced = dict(doc), dict(doc)
    for k, values in enumerate(lists):
        plain[f"list{k}"], spliced[f"list{k}"] = values, Spliced(iter(values))
    if nest:
        plain, spliced = {"outer": [plain, 1]}, {"outer": [spliced, 1]}
    want = json.dumps(plain, indent=2, ensure_ascii=ascii, allow_nan=False) + "\n"
    assert "".join(document_chunks(spliced, ensure_ascii=ascii)) == want


def test_document_chunks_refuse_what_json_refuses():
    with pytest.raises(ValueError):
        "".join(document_chunks({"x": Spliced([math.nan])}))
