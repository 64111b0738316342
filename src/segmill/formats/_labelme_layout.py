"""Where the LabelMe writer puts each JSON and image, and how it finds the source images.

labelme opens ``<stem>.json`` beside the image ``<stem>.<ext>`` and reads
``imagePath`` relative to the JSON's folder. The writer mirrors each item's
image path (``file_name``) inside its output folder, so two images with one
stem in different sub-folders keep their sub-folders and never collide, and
puts the JSON beside the image: ``imagePath`` is then the image's own name.

A name that would leave the output folder (``../x.jpg``, an absolute path)
loses the escaping part; two items that would still share a JSON or an image
name (``a.jpg`` and ``a.png``, or one image named twice) get ``_1``, ``_2``
... after the stem. Both are reported (L409) because the file name read back
differs.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from ..model import origin_of
from ..paths import output_name
from ..validate import brief

__all__ = ["Place", "image_roots", "place", "plan"]


@dataclass(frozen=True)
class Place:
    """Where one item goes.

    Attributes
    ----------
    json, image : tuple of str
        The paths (parts) of the JSON and of the image inside the output folder.
    renamed : bool
        Whether the re-read file name differs from the item's (L409).
    """

    json: tuple
    image: tuple
    renamed: bool

    @property
    def item_id(self) -> str:
        """The id the LabelMe reader gives the item back (the JSON's path without ``.json``)."""
        return "/".join(self.json)[: -len(".json")]

    @property
    def file_name(self) -> str:
        """The file name the LabelMe reader gives the item back."""
        return "/".join(self.image)

    @property
    def image_path(self) -> str:
        """``imagePath``: the image relative to the JSON's folder."""
        return posixpath.relpath(self.file_name, "/".join(self.json[:-1]) or ".")


def _parts(text: str) -> tuple[list[str], bool]:
    """The parts of a relative path inside the output folder, and whether something was cut off."""
    raw, text = text, text.replace("\\", "/")
    absolute = text.startswith("/") or text[1:2] == ":"
    parts = [q for q in posixpath.normpath(text).split("/") if q not in ("", ".")] if text else []
    kept = [q for q in parts if q != ".."]
    if absolute or len(kept) != len(parts):
        kept = kept[-1:]  # only the file name of a path leaving the dataset
    return kept, "/".join(kept) != raw


def _image_parts(item) -> tuple[list[str], bool]:
    raw = item.file_name if isinstance(item.file_name, str) else ""
    kept, cut = _parts(raw)
    if not kept:
        kept = _parts(str(item.id))[0][-1:] or ["image"]
        cut = True
    return kept, cut


def _json_of_labelme_item(item, image: list[str]) -> list[str] | None:
    """A LabelMe item's own JSON path (its id), when it names a file apart from its image; else ``None``."""
    if origin_of(item, "labelme") is None or not isinstance(item.id, str):
        return None
    parts, cut = _parts(item.id)
    if cut or not parts:
        return None
    parts = [*parts[:-1], parts[-1] + ".json"]
    return None if parts == image else parts


def _split(name: str) -> tuple[str, str]:
    stem, ext = os.path.splitext(name)
    if not stem or ext.casefold() == ".json":  # ".jpg", or an image named x.json: the whole name is the stem
        return name, ""
    return stem, ext


def plan(dataset, path) -> list[Place]:
    """The :class:`Place` of every item, every name checked before anything is written (see :func:`place`)."""
    taken: set = set()
    return [place(item, taken, path) for item in dataset.items]


def place(item, taken: set, path) -> Place:
    """The :class:`Place` of one item, its names unique among ``taken`` (then added to it), and checked.

    An item read from LabelMe keeps its JSON's path (its id) and its image
    path; any other goes beside its image, named by the image's stem.
    ``taken`` holds the names (case-folded) of the items placed before it.

    Raises
    ------
    segmill.errors.InputError
        A name no file system can hold (a NUL byte, a part longer than
        ``NAME_MAX`` bytes with its suffix, text that cannot be encoded).
    """
    rec = f"image id {brief(item.id)}"
    image, cut = _image_parts(item)
    own = _json_of_labelme_item(item, image)
    folder = image[:-1]
    stem, ext = _split(image[-1])
    base, n = stem, 0
    while True:
        img = [*folder, stem + ext]
        js = own if own is not None else [*folder, stem + ".json"]
        keys = {"/".join(img).casefold(), "/".join(js).casefold()}
        if not keys & taken and len(keys) == 2:
            break
        if own is not None:  # the source's JSON name is taken: beside the image, by its stem
            own = None
            continue
        n += 1
        stem = f"{base}_{n}"
    for q in img + js:
        output_name(q, "file name part", path, rec)
    taken |= keys
    return Place(tuple(js), tuple(img), cut or n > 0)


def image_roots(dataset, image_root=None) -> list[Path]:
    """Folders that may hold the source images, most likely first (existing ones only).

    ``image_root`` alone when given; otherwise ``meta["image_root"]`` (set by
    readers of formats that keep images beside their annotations) and the
    folder of ``meta["source_path"]`` and the one above it, each with the
    usual ``images/`` and ``JPEGImages/`` sub-folders and COCO's
    ``val2017/`` for ``instances_val2017.json``.
    """
    if image_root is not None:
        return [Path(image_root)]
    bases = []
    if dataset.meta.get("image_root"):
        bases.append(Path(dataset.meta["image_root"]))
    src = dataset.meta.get("source_path")
    subs = ["images", "JPEGImages"]
    if isinstance(src, str) and src:
        folder = Path(src) if Path(src).is_dir() else Path(src).parent
        bases += [folder, folder.parent]
        tail = Path(src).stem.partition("_")[2]  # instances_val2017.json: images in val2017/
        if tail and tail not in (".", ".."):
            subs.append(tail)
    roots: list[Path] = []
    for base in bases:
        for cand in (base, *(base / s for s in subs)):
            if cand not in roots and cand.is_dir():
                roots.append(cand)
    return roots
