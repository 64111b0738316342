"""Property tests: the diff's counts always account for every annotation."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from segmill.geometry import Polygons
from segmill.gate import diff
from segmill.model import Annotation, Category, Dataset, Item

CATS = [Category(1, "a"), Category(2, "b"), Category(3, "c")]


def _square(x, y, s):
    return Polygons([[x, y, x + s, y, x + s, y + s, x, y + s]])


@st.composite
def base_and_edits(draw):
    n_items = draw(st.integers(1, 4))
    items, next_id = [], 1
    for i in range(n_items):
        anns = []
        for _ in range(draw(st.integers(0, 5))):
            x, y = draw(st.integers(0, 40)), draw(st.integers(0, 40))
            anns.append(Annotation(next_id, draw(st.sampled_from([1, 2, 3])), _square(x, y, draw(st.integers(2, 20)))))
            next_id += 1
        items.append(Item(i + 1, f"im{i}.png", 64, 64, anns))
    edits = draw(st.lists(st.tuples(st.sampled_from(["relabel", "move", "drop", "add", "drop_image"]),
                                    st.integers(0, 100), st.integers(1, 3)), max_size=8))
    return Dataset(list(CATS), items), edits


def _apply(base, edits):
    head = copy.deepcopy(base)
    next_id = 10_000
    for kind, k, v in edits:
        if not head.items:
            break
        item = head.items[k % len(head.items)]
        if kind == "drop_image":
            head.items.remove(item)
        elif kind == "add":
            item.annotations.append(Annotation(next_id, v, _square(k % 50, v * 7, 6)))
            next_id += 1
        elif item.annotations:
            ann = item.annotations[k % len(item.annotations)]
            if kind == "relabel":
                ann.category_id = v
            elif kind == "move":
                p = ann.geometry.parts[0]
                ann.geometry = Polygons([(p + v).reshape(-1).tolist()])
            else:
                item.annotations.remove(ann)
    return head


@settings(max_examples=60, deadline=None)
@given(base_and_edits(), st.sampled_from(["auto", "id", "iou"]))
def test_counts_account_for_every_annotation_on_both_sides(case, match):
    base, edits = case
    head = _apply(base, edits)
    a = diff(base, head, match=match).annotations
    assert a["unchanged"] + a["modified"] + a["removed"] == base.num_annotations
    assert a["unchanged"] + a["modified"] + a["added"] == head.num_annotations
    assert a["modified"] <= a["relabelled"] + a["reshaped"] + a["attributes"]


@settings(max_examples=40, deadline=None)
@given(base_and_edits())
def test_a_dataset_compared_with_its_copy_has_no_change(case):
    base, _ = case
    d = diff(base, copy.deepcopy(base))
    assert not d.changed and d.annotations["unchanged"] == base.num_annotations


@settings(max_examples=200, deadline=None)
@given(a=st.sets(st.integers(-60, 60), max_size=40), b=st.sets(st.integers(-60, 60), max_size=40),
       wide=st.booleans(), run=st.integers(1, 5))
def test_shared_ids_are_counted_a_run_at_a_time_in_the_narrowest_type(a, b, wide, run):
    import numpy as np

    from segmill.gate import _match

    def unique_ids(ids):  # as _unique_ids keeps them: sorted, 4 bytes where they fit
        class _Ann:
            def __init__(self, i):
                self.id = i

        class _Ds:
            def annotations(self):
                return ((None, _Ann(i)) for i in ids)

        return _match._unique_ids(_Ds())

    big = [x + (1 << 40) for x in b] if wide else list(b)
    ua, ub = unique_ids(list(a)), unique_ids(big)
    assert ua.dtype == np.int32 and ub.dtype == (np.int64 if wide and b else np.int32)
    assert list(ub) == sorted(big)
    old = _match._LOOKUP_RUN
    try:
        _match._LOOKUP_RUN = run
        assert _match._shared_count(ua, ub) == len(set(a) & set(big))
        assert _match._shared_count(ub, ua) == len(set(a) & set(big))
    finally:
        _match._LOOKUP_RUN = old
