"""The array pairer (:func:`segmill.agree.align.align`) against the dictionary one it replaced
(:func:`align_by_dicts`, kept here as the oracle): the same rows, keys and order for any lists and rules,
spilled or not."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill.agree.align import VERSION_RULES, KeyRule, align
from segmill.errors import InputError
from segmill.model import Item
from segmill.spilled import SpilledItems

# ------------------------------------------------------------------ the oracle


def align_by_dicts(lists, rules) -> list[tuple]:
    """``(key, positions)`` of every row, formed with one dict per rule (see segmill.agree.align)."""
    row_of = [[None] * len(items) for items in lists]
    first_key: dict = {}
    rows: list[tuple] = []
    for rule in rules:
        slots: dict = {}
        for li, items in enumerate(lists):
            for j, k in _keyed(items, row_of[li], rule, li):
                first_key.setdefault((li, j), k)
                slots.setdefault(k, [None] * len(lists))[li] = j
        for k, slot in slots.items():
            if sum(j is not None for j in slot) < 2:
                continue
            for li, j in enumerate(slot):
                if j is not None:
                    row_of[li][j] = len(rows)
            rows.append((k, tuple(slot)))
    for li, placed in enumerate(row_of):
        for j, r in enumerate(placed):
            if r is None:
                placed[j] = len(rows)
                alone = [None] * len(lists)
                alone[li] = j
                rows.append((first_key.get((li, j)), tuple(alone)))
    order, seen = [], set()
    for placed in row_of:
        for r in placed:
            if r not in seen:
                seen.add(r)
                order.append(r)
    return [rows[r] for r in order]


def _keyed(items, placed, rule, li):
    cand = [(j, rule.key(it)) for j, it in enumerate(items)
            if placed[j] is None and (rule.when is None or rule.when(it))]
    if not callable(rule.duplicates) and rule.duplicates == "skip":
        n = Counter(k for _, k in cand)
        return [(j, k) for j, k in cand if n[k] == 1]
    out, seen = [], set()
    for j, k in cand:
        if k in seen:
            if callable(rule.duplicates):
                rule.duplicates(li, k)
            continue
        seen.add(k)
        out.append((j, k))
    return out


# ------------------------------------------------------------------ the tests

NAMES = ["a.png", "b.png", "a.jpg", "sub/a.png", "x/b.png", "c_leftImg8bit.png", "c.png", "", "d.tif"]

item_lists = st.lists(
    st.lists(st.tuples(st.one_of(st.integers(0, 6), st.sampled_from(["1", "2", "k"])), st.sampled_from(NAMES)),
             max_size=9),
    min_size=1, max_size=4)


def _items(specs):
    return [Item(i, name, 4, 4, []) for i, name in specs]


def _rows(got):
    return [(r.key, r.positions) for r in got]


@settings(max_examples=300, deadline=None)
@given(specs=item_lists)
def test_version_rules_pair_as_the_dictionaries_did(specs):
    lists = [_items(s) for s in specs]
    assert _rows(align(lists, VERSION_RULES)) == align_by_dicts(lists, VERSION_RULES)


rule_sets = st.lists(st.tuples(st.sampled_from(["first", "skip"]), st.sampled_from(["upper", "len", "last"]),
                               st.booleans()), min_size=1, max_size=3)
KEYS = {"upper": str.upper, "len": len, "last": lambda s: s[-1:]}


@settings(max_examples=300, deadline=None)
@given(lists=st.lists(st.lists(st.text("abAB", max_size=3), max_size=8), min_size=1, max_size=3), spec=rule_sets)
def test_any_rules_pair_as_the_dictionaries_did(lists, spec):
    rules = [KeyRule(key=KEYS[k], when=(lambda s: s != "a") if w else None, duplicates=d) for d, k, w in spec]
    assert _rows(align(lists, rules)) == align_by_dicts(lists, rules)


def test_spilled_lists_pair_as_in_memory_ones_and_read_their_skeletons_only():
    base = _items([(1, "a.png"), (2, "dup.png"), (3, "dup.png"), (4, "old.png"), (5, "")])
    head = _items([(9, "dup.png"), (4, "new.png"), (1, "a.png"), (8, "x.png"), (5, "")])
    want = align_by_dicts([head, base], VERSION_RULES)
    spilled = [SpilledItems(head), SpilledItems(base)]
    for s in spilled:  # the line-up reads the skeletons; an item is read only when a row's items are asked for
        s.__class__ = type("Guarded", (SpilledItems,), {"__getitem__": _refused, "__iter__": _refused})
    rows = align(spilled, VERSION_RULES)
    assert _rows(rows) == want
    assert [[None if s is None else s.id for s in r.skeletons] for r in rows] == \
        [[None if j is None else lst[j].id for lst, j in zip([head, base], p)] for _, p in want]


def _refused(*args):
    raise AssertionError("an item was read during the line-up")


def test_a_callable_duplicate_policy_is_called_for_the_first_repeat_in_list_order():
    seen = []
    rule = KeyRule(key=str.lower, duplicates=lambda li, k: seen.append((li, k)))
    align([["x", "A", "y", "a", "X"], ["b", "B"]], [rule])
    assert seen == [(0, "a"), (0, "x"), (1, "b")]

    def refuse(li, key):
        raise InputError(f"list {li} repeats {key!r}")

    with pytest.raises(InputError, match="list 1 repeats 'b'"):
        align([["x"], ["b", "B"]], [KeyRule(key=str.lower, duplicates=refuse)])
