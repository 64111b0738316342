"""Drop categories no annotation uses (S010).

Only where a category list stands on its own: formats whose files name a
class by its position in the class list or by a pixel value (VOC, mask
folders, Cityscapes, YOLO) would renumber every later class, so their unused
categories (VOC's background, say) are left alone.
"""

from __future__ import annotations

from ..registry import Fix

__all__ = ["DROP_UNUSED_CATEGORIES", "POSITIONAL_FORMATS"]

#: Formats whose class ids are positions in the class list or pixel values.
POSITIONAL_FORMATS = frozenset({"voc", "masks", "cityscapes", "yolo"})


def _apply(state, findings) -> None:
    ds = state.dataset
    used = {a.category_id for it in ds.items for a in it.annotations}
    for f in findings:
        cid = f.data.get("category_id")
        at = [k for k, c in enumerate(ds.categories) if c.id == cid]
        if len(at) != 1:
            state.skip(f, "its category id is not unique (S003)")
            continue
        if cid in used:
            state.skip(f, "the category is used")  # pragma: no cover - the rule was run on this dataset
            continue
        name = ds.categories[at[0]].name
        ds.categories = [c for k, c in enumerate(ds.categories) if k != at[0]]
        state.dirty = True
        state.record(f, f"dropped category {name!r} (id {cid!r}): no annotation uses it",
                     {"category_id": cid, "name": name})


def _standalone(finding) -> bool:
    return not finding.data.get("positional", False)


#: S010: the rule says in ``positional`` whether the dataset's format numbers its classes by position.
DROP_UNUSED_CATEGORIES = Fix(80, "drop-unused-categories", "drop the category from the category list",
                             _apply, _standalone,
                             when="outside formats that number classes by position (VOC, masks, Cityscapes, YOLO)")
