"""Give repeated ids fresh ones (S001, S002, S003): unsafe fixes, run only with ``--unsafe-fixes``.

A repeated id is ambiguous for every tool that reads the file, and a writer
refuses it. The fix keeps the first holder of an id as it is and gives each
later holder a fresh integer id after the largest one in use, in file order,
so the result depends on nothing but the input. What the reader attached to
a repeated id stays where it was read: annotations of a repeated image id
stay with the image the reader gave them to (COCO: the first), annotations
of a repeated category id keep meaning the first declaration (the
renumbered category is then unused, and S010's fix may drop it).

It is unsafe because which holder is "the first" is a convention, not
something the file says.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from ..registry import Fix

__all__ = ["RENUMBER_IMAGES", "RENUMBER_ANNOTATIONS", "RENUMBER_CATEGORIES", "fresh_ids"]


def _int_id(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def fresh_ids(used):
    """Integers after the largest integer in ``used`` (1 up when there is none), one per ``next()``."""
    n = max((v for v in used if _int_id(v)), default=0)
    while True:
        n += 1
        yield n


def _renumber(state, findings, holders, what: str, ident, set_id) -> list:
    """Give the later holders of the ids ``findings`` name fresh ids; the holders, changed where renumbered.

    ``holders`` are the objects with an ``id`` in file order (the order the
    rule counted occurrences in: its key ends in ``#n``); ``ident(finding)``
    is the id a finding names, and ``set_id(holder, new)`` returns the holder
    with its new id.
    """
    wanted = {(ident(f), "#" + f.key.rsplit("#", 1)[-1]): f for f in findings}
    fresh = fresh_ids([h.id for h in holders])
    seen: dict = defaultdict(int)
    out = list(holders)
    for k, h in enumerate(holders):
        if h.id is None:
            continue
        seen[h.id] += 1
        f = wanted.pop((h.id, f"#{seen[h.id]}"), None)
        if f is None:
            continue
        old, new = h.id, next(fresh)
        name = f" {h.name!r}" if what == "category" else f" {h.file_name!r}" if what == "image" else ""
        keep = {"image": "; its annotations stay as read",
                "category": f"; annotations of id {old!r} keep meaning the first declaration"}.get(what, "")
        out[k] = set_id(h, new)
        state.record(f, f"{what}{name} id {old!r} (repeated) renumbered to {new}{keep}",
                     {"old_id": old, "new_id": new})
    for f in wanted.values():
        state.skip(f, f"no {what} holds that id there any more")
    state.dirty = True
    return out


def _set_item_id(item, new):
    item.id = new  # the working copy's own copy of the item (see working_copy)
    return item


def _images(state, findings) -> None:
    ds = state.dataset
    placeholders = set(ds.meta.get("placeholder_images", ()) or ())
    real = [it for it in ds.items if it.id not in placeholders or it.file_name]
    _renumber(state, findings, real, "image", lambda f: f.item_id, _set_item_id)
    state.settle()


def _annotations(state, findings) -> None:
    ds = state.dataset
    holders = [a for it in ds.items for a in it.annotations]
    out = iter(_renumber(state, findings, holders, "annotation", lambda f: f.annotation_id,
                         lambda a, new: replace(a, id=new, attributes=dict(a.attributes), extra=dict(a.extra))))
    for it in ds.items:
        it.annotations = [next(out) for _ in it.annotations]
    state.settle()


def _categories(state, findings) -> None:
    ds = state.dataset
    ds.categories = _renumber(state, findings, ds.categories, "category", lambda f: f.data.get("category_id"),
                              lambda c, new: replace(c, id=new))


#: S001: later images with a repeated id get fresh ids.
RENUMBER_IMAGES = Fix(1, "renumber-repeated-image-ids", "give a later image with a repeated id a fresh id",
                      _images, unsafe=True)
#: S002: later annotations with a repeated id get fresh ids.
RENUMBER_ANNOTATIONS = Fix(2, "renumber-repeated-annotation-ids",
                           "give a later annotation with a repeated id a fresh id", _annotations, unsafe=True)
#: S003: later categories with a repeated id get fresh ids.
RENUMBER_CATEGORIES = Fix(3, "renumber-repeated-category-ids",
                          "give a later category with a repeated id a fresh id (annotations keep the first)",
                          _categories, unsafe=True)
