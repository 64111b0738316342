"""Drop what no reader or writer can keep (S014, S005, S004, G008, G009, G010): unsafe fixes.

They run only with ``segmill fix --unsafe-fixes``: each drops data the file
holds, which is why plain ``segmill fix`` refuses to write instead. Every
drop is a reported change with its rule code, file and record:

- S014: a record the lenient reader could not keep (an image whose width is
  a string, an annotation that is not an object) is already out of the
  dataset; the fix accepts its loss (it leaves ``meta["skipped"]``);
- S005: an annotation of an image that is not listed (kept by the lenient
  reader under a placeholder image) is dropped, and so is the placeholder;
- S004: an annotation of a category that is not declared is dropped;
- G008 (counts that do not cover the image), G009, G010: an annotation
  whose geometry cannot be decoded, or not at its image's size, is dropped.
"""

from __future__ import annotations

from ..registry import Fix

__all__ = ["DROP_UNREADABLE", "DROP_ORPHANS", "DROP_UNKNOWN_CATEGORY", "DROP_UNDECODABLE"]


def _unreadable(state, findings) -> None:
    ds = state.dataset
    skipped = list(ds.meta.get("skipped", ()) or ())
    for f in findings:
        at = [k for k, e in enumerate(skipped) if e is not None and str(e.get("record", "")) == f.data.get("record")
              and str(e.get("reason", "")) == f.data.get("reason")]
        if not at:
            state.skip(f, "the record is no longer listed as skipped")
            continue
        skipped[at[0]] = None
        state.record(f, f"dropped the unreadable record ({f.data.get('reason')})",
                     {"record": f.data.get("record"), "reason": f.data.get("reason"), "record_dropped": True})
    ds.meta["skipped"] = [e for e in skipped if e is not None]
    state.dirty = True


def _orphans(state, findings) -> None:
    ds = state.dataset
    placeholders = set(ds.meta.get("placeholder_images", ()) or ())
    gone = {(f.item_id, f.annotation_id) for f in findings}
    for it in ds.items:
        if it.id in placeholders and not it.file_name:
            it.annotations = [a for a in it.annotations if (it.id, a.id) not in gone]
    ds.items = [it for it in ds.items if it.annotations or not (it.id in placeholders and not it.file_name)]
    left = {it.id for it in ds.items if it.id in placeholders and not it.file_name}
    if placeholders:
        ds.meta["placeholder_images"] = [i for i in ds.meta["placeholder_images"] if i in left]
    entries = ds.meta.get("orphan_annotations")
    if entries:
        ds.meta["orphan_annotations"] = [e for e in entries if _orphan_key(e) not in gone]
    for f in findings:
        state.record(f, f"dropped the annotation: its image {f.item_id!r} is not listed",
                     {"annotation_dropped": True})
    state.dirty = True
    state.settle()


def _orphan_key(entry) -> tuple:
    if isinstance(entry, dict):
        image_id, ann = entry.get("image_id"), entry.get("annotation")
    else:
        image_id, ann = entry[0], entry[1]
    return image_id, getattr(ann, "id", None)


def _drop(state, findings) -> None:
    for f, spot in state.located(findings):  # not an annotation another finding has dropped already
        state.drop(spot)
        state.record(f, f"dropped the annotation: {_WHY[f.code]} ({f.message})", {"annotation_dropped": True})


_WHY = {"S004": "its category is not declared", "G008": "its mask is not of its image's size",
        "G009": "its mask cannot be decoded", "G010": "its geometry cannot be read"}


def _counts_do_not_fit(finding) -> bool:
    return finding.data.get("counts_fit") is not True


#: S014.
DROP_UNREADABLE = Fix(5, "drop-unreadable-records", "drop the record the reader could not keep (it is reported)",
                      _unreadable, unsafe=True)
#: S005.
DROP_ORPHANS = Fix(6, "drop-dangling-annotations", "drop the annotation of an image that is not listed",
                   _orphans, unsafe=True)
#: S004 (void regions are not findings of S004).
DROP_UNKNOWN_CATEGORY = Fix(7, "drop-unknown-category-annotations",
                            "drop the annotation of a category that is not declared", _drop, unsafe=True)
#: G008 (counts that do not cover the image: the safe fix takes the others), G009, G010.
DROP_UNDECODABLE = Fix(35, "drop-undecodable-geometry",
                       "drop the annotation whose geometry cannot be decoded at its image's size", _drop,
                       _counts_do_not_fit, when="when its mask cannot be read at its image's size", unsafe=True)
