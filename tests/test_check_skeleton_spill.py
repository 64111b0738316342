"""A streamed check keeps its skeletons on disk: the dataset-level rules read them in passes.

The rules that compare images (S001, S002, S006, S010, C007) used to index an
annotation table held in memory; they now read the items once and keep packed
values (ids as int64, name hashes). The oracles are the dict versions they
replace (the same answers, including for ids that are not integers) and the
whole check (the same findings).
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill import synth
from segmill.check import check, check_path
from segmill.check import streamed as dcheck
from segmill.check.context import Context
from segmill.check.ruleset import structure
from segmill.formats import coco
from segmill.model import Annotation, Category, Dataset, Item
from segmill.spilled import SpilledItems
from segmill.transforms import streamed


def _dict_repeats(values):
    """The rule's old answer: a dict over the values, ``None`` never a repeat."""
    first, seen, out = {}, defaultdict(int), []
    for i, v in enumerate(values):
        if v is None:
            continue
        seen[v] += 1
        if v in first:
            out.append((i, first[v], seen[v]))
        else:
            first[v] = i
    return out


_ids = st.one_of(st.integers(-3, 6), st.integers(2**62, 2**62 + 2), st.just(2**64), st.none(), st.booleans(),
                 st.sampled_from(["a", "b", 1.0, 2.5]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-5, 8), max_size=60) | st.lists(_ids, max_size=60))
def test_repeats_packed_or_not_answer_as_the_dict(values):
    assert list(structure._repeats(iter(values))) == _dict_repeats(values)


def test_repeats_packs_more_than_a_chunk(monkeypatch):
    monkeypatch.setattr(structure, "_CHUNK", 3)
    values = [5, 1, 5, 2, 1, 5, 7, "x", 7, "x"]
    assert list(structure._repeats(values)) == _dict_repeats(values) == \
        [(2, 0, 2), (4, 1, 2), (5, 0, 3), (8, 6, 2), (9, 7, 2)]


def _dataset(n_images=12):
    items = []
    for k in range(n_images):
        anns = [Annotation(id=10 * k + j, category_id=1 + j % 2, geometry=None) for j in range(3)]
        items.append(Item(id=k, file_name=f"im/{k % 5}.jpg", width=8, height=8, annotations=anns))
    items[7].annotations[1].id = items[2].annotations[0].id  # a repeated annotation id
    items[9].id = items[4].id  # a repeated image id
    items[11].file_name = "./IM/0.JPG"  # the same file as image 0, another spelling
    return Dataset(categories=[Category(1, "cat"), Category(2, "dog"), Category(3, "unused")], items=items)


_RULES = ["S001", "S002", "S006", "S010"]


def _rows(res):
    return [(f.code, f.item_id, f.annotation_id, f.message, f.data, f.key) for f in res.findings]


def test_rules_over_spilled_items_find_what_they_find_in_memory(monkeypatch):
    ds = _dataset()
    whole = check(ds, select=_RULES)
    assert {f.code for f in whole.findings} == set(_RULES), _rows(whole)
    spilled = Dataset(categories=ds.categories, items=[])
    spilled.items = SpilledItems(ds.items, skeletons=False)

    def no_table(self):  # the point: no annotation table over items on disk
        raise AssertionError("annotation table built over spilled items")

    monkeypatch.setattr(Context, "table", no_table)
    assert _rows(check(spilled, select=_RULES)) == _rows(whole)


def test_names_are_compared_where_hashes_collide(monkeypatch):
    """Every name hashing alike: the names themselves decide (same findings as without collisions)."""
    ds = _dataset()
    expected = _rows(check(ds, select=["S006"]))
    assert len(expected) == 6  # images 5-11 repeat a name; 9 shares its id with 4, so is not reported
    monkeypatch.setattr(structure, "hash", lambda s: 42, raising=False)
    assert _rows(check(ds, select=["S006"])) == expected


@pytest.fixture
def streaming(monkeypatch):
    monkeypatch.setattr(coco, "STREAM_BYTES", 0)  # every COCO file streams
    monkeypatch.setattr(streamed, "BATCH", 5)
    return monkeypatch


def test_a_streamed_check_spills_its_skeletons_and_builds_no_table_over_them(tmp_path, streaming):
    doc = synth.coco_dict(30, seed=3)
    doc["images"][4]["file_name"] = doc["images"][1]["file_name"]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    whole = check_path(path)
    seen = []
    real_table = Context.table

    def table(self):
        seen.append(type(self.dataset.items))
        assert not isinstance(self.dataset.items, SpilledItems), "annotation table built over spilled items"
        return real_table(self)

    streaming.setattr(Context, "table", table)
    got = dcheck.check_streamed(path)
    assert got is not None and _rows(got) == _rows(whole)
    assert "S006" in {f.code for f in got.findings}
    assert (got.images, got.annotations) == (whole.images, whole.annotations) == (30, len(doc["annotations"]))
    assert seen and SpilledItems not in seen  # tables were built, for the batches only
