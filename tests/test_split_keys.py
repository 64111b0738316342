"""The split's packed keys (:class:`segmill.transforms.split.SplitKeys`) choose what the list of pairs chose.

The oracle is the stratified split as first written, over a list of
``(id, class set)`` pairs (kept here); hypothesis draws ids of every kind a
reader gives (ints, strings, bools, ints past 64 bits) and class sets.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from segmill.transforms.split import SplitKeys, _deal, _Split, quotas
from segmill.transforms.stable import seeded_order, stable_key


def _stratified_reference(keys: list, seed: int, room: list, assigned: list) -> int:
    groups: dict = {}
    for k, (_, group) in enumerate(keys):
        groups.setdefault(group, []).append(k)
    names = list(groups)
    group_rank = {g: r for r, g in enumerate(names[i] for i in seeded_order(seed, names))}
    for members in groups.values():
        members.sort(key=lambda k: (stable_key(seed, keys[k][0]), k))
    room = list(room)
    for g in sorted(names, key=lambda g: (len(groups[g]), group_rank[g])):
        members = groups[g]
        if len(members) < len(room):
            continue
        for j in range(len(room)):
            if room[j] > 0:
                assigned[members.pop(0)] = j
                room[j] -= 1
    rest = [k for g in sorted(names, key=group_rank.get) for k in groups[g]]
    _deal(rest, room, assigned)
    return len(groups)


def _reference(keys: list, splits, seed: int, stratify: bool) -> list:
    room = quotas([f for _, f in splits], len(keys))
    assigned = [None] * len(keys)
    if stratify:
        _stratified_reference(keys, seed, room, assigned)
    else:
        _deal(seeded_order(seed, [i for i, _ in keys]), room, assigned)
    return assigned


IDS = st.one_of(st.integers(-5, 400), st.integers(2**63, 2**64), st.text(max_size=3), st.booleans())
GROUPS = st.sampled_from([(), ("cat",), ("dog",), ("cat", "dog"), ("bird", "cat")])
SPLITS = st.sampled_from([(("train", 0.8), ("val", 0.2)), (("a", 0.5), ("b", 0.25), ("c", 0.25)),
                          (("only", 1.0),)])


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(st.tuples(IDS, GROUPS), max_size=60), splits=SPLITS, seed=st.integers(0, 2**32),
       stratify=st.booleans(), plain_ints=st.booleans())
def test_packed_keys_choose_as_the_list_did(keys, splits, seed, stratify, plain_ints):
    if plain_ints:  # the packed case: every id a plain machine integer
        keys = [(k, g) for k, (_, g) in enumerate(keys)]
    step = _Split(splits, seed, stratify)
    packed = step.new_keys()
    packed.extend(keys)
    assert isinstance(packed, SplitKeys) and len(packed) == len(keys)
    assert [packed[k] for k in range(len(keys))] == keys
    machine = all(type(i) is int and -(2**63) <= i < 2**63 for i, _ in keys)
    assert (packed.loose is None) == machine  # a str, bool or huge id keeps the list (its digest is its type's)
    step.decide(packed)
    assert list(step.assigned) == _reference(keys, splits, seed, stratify)
    other = _Split(splits, seed, stratify)
    other.decide(list(keys))  # a plain list of pairs, as a caller may give
    assert list(other.assigned) == list(step.assigned)
