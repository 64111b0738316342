"""`segmill._entries.Entries`: the list of a report's coded entries, spilled past a run, behaves as the list."""

from __future__ import annotations

import copy
import pickle
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill import _entries
from segmill._entries import Entries
from segmill.losses import Loss, WriteReport

_OPS = st.lists(st.tuples(st.sampled_from(["append", "extend", "iadd", "prepend"]),
                          st.lists(st.integers(0, 30), max_size=7)), max_size=12)


def _loss(k: int) -> Loss:
    return Loss(f"L{100 + k % 4}", f"m{k}", k, None)


@settings(max_examples=80, deadline=None)
@given(ops=_OPS, run=st.integers(1, 6))
def test_entries_behave_as_the_list_they_replace_spilled_or_not(ops, run):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_entries, "SPILL_ENTRIES", run)
        _check(ops)


def _check(ops) -> None:
    got, want = Entries(), []
    for op, ks in ops:
        items = [_loss(k) for k in ks]
        if op == "append":
            for x in items:
                got.append(x)
                want.append(x)
        elif op == "extend":
            got.extend(iter(items))
            want.extend(items)
        elif op == "iadd":
            got += items
            want += items
        else:
            got.prepend(items)
            want[:0] = items
    assert list(got) == want and len(got) == len(want) and bool(got) == bool(want) and got == want
    assert got.counts() == dict(sorted(Counter(e.code for e in want).items()))
    for k in range(-len(want), len(want)):
        assert got[k] == want[k]
    for a, b, s in [(0, 5, None), (2, None, None), (-3, None, None), (None, None, 2), (4, 1, None)]:
        assert got[a:b:s] == want[a:b:s]
    if want:
        with pytest.raises(IndexError):
            got[len(want)]
    assert pickle.loads(pickle.dumps(got)) == want and copy.deepcopy(got) == want
    assert got + want == want + want and want + got == want + want


def test_a_spilled_write_report_counts_without_reading_back_and_equals_the_list(monkeypatch):
    monkeypatch.setattr(_entries, "SPILL_ENTRIES", 4)
    r = WriteReport(losses=[_loss(k) for k in range(3)])
    for k in range(3, 23):
        r.lose(f"L{100 + k % 4}", f"m{k}", k)
    assert r.losses._spill is not None and len(r.losses._tail) < 4
    assert r.summary() == {"L100": 6, "L101": 6, "L102": 6, "L103": 5}
    assert r == WriteReport(losses=[_loss(k) for k in range(23)]) and not r.lossless
    assert [x["image_id"] for x in r.to_dict()["losses"]] == list(range(23))
    assert pickle.loads(pickle.dumps(r)) == r
