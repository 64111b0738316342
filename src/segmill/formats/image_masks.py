"""Image + mask folders: ``images/`` and ``masks/`` side by side, classes in ``dataset_meta.json``.

Datumaro's "common semantic segmentation" (OpenVINO accuracy checker) layout,
and the everyday "same stem, two folders" one::

    <root>/
      dataset_meta.json     {"label_map": {"0": "Void", "1": "Animal", ...},
                             "segmentation_colors": [[0, 0, 0], [64, 128, 64], ...],
                             "background_label": "0"}          (or "labels": [names])
      images/<id>.png       images (any image type)
      masks/<id>.png        class values (grey / paletted / 16-bit), or RGB in segmentation_colors

or ``<root>/<split>/{dataset_meta.json,images,masks}`` per split.

Facts and rules:

* Label value = the ``label_map`` key (``labels``: the list position); the
  colour of value ``v`` is ``segmentation_colors[v]``. The background is
  ``background_label``, else the label coloured black, else none (every
  value is a class); ``background=`` overrides. Background pixels are not
  an annotation; every other class present is one annotation.
* Pairing: a mask ``masks/<masks_prefix><id><masks_suffix>.png`` belongs to
  the image ``images/<images_prefix><id>.*`` (sub-folders kept in the id);
  Datumaro's ``--image-prefix`` / ``--mask-prefix`` are ``images_prefix`` /
  ``masks_prefix``, and ``img001.jpg`` + ``masks/img001_mask.png`` is
  ``masks_suffix="_mask"``. An image without a mask is an item without
  annotations (sized from its header); masks that match no image are read
  all the same and counted in a note.
* Without ``dataset_meta.json`` (and without ``labels=``) the classes are the
  values found in the masks (``class_<v>``, 0 the background); RGB masks
  then have no colours to be read with and are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import jsonio
from ..errors import InputError, UsageError
from ..images import image_size
from ..losses import register_codes
from ..model import Category, Dataset, Item
from ..paths import confine, confined_glob
from ..validate import ErrorPolicy, brief, int_in, string
from . import NO, Detection, FormatSpec, register_format
from ._file_runs import chosen, first_annotation_id, runs, size_of, with_headers
from ._image_masks_write import META, MODES, write, write_stream
from ._perfile_stream import UniqueIds, validated
from ._semantic_maps import BACKGROUND_KEY, class_annotations, read_class_map
from ._stream_passes import by_run, decoded_mode, first_pass, unchanged, whole_and_own
from ._voc_masks import read_class_names
from .options import ERRORS, Option, overlap, raster

__all__ = ["detect", "parse_meta", "read", "stream", "write"]

register_codes({
    "L840": "several annotations of one class in an image merged into one class region (a mask holds classes, not "
            "instances)",
    "L841": "crowd flag dropped (a class mask has no crowd regions)",
    "L842": "void region written as background: it does not read back",
    "L843": "label colour changed: it was taken by another label (colour-coded masks need one colour per label, "
            "black for the background only)",
    "L844": "category supercategory / isthing / extra fields dropped (dataset_meta.json holds names and colours)",
    "L845": "unannotated pixels written as value 0, which is a class (the dataset has no background value)",
}, changes={
    "crowd": ("L841",),
    "pixels": ("L840", "L842", "L845"),
})

#: Image file extensions paired with masks.
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_DETECT_DIRS = 16


def detect(path) -> Detection:
    """``dataset_meta.json`` beside ``masks/`` (or per split folder), or ``images/`` beside ``masks/``."""
    p = Path(path)
    try:
        if not p.is_dir():
            return NO
        if (p / META).is_file() and (p / "masks").is_dir():
            return Detection(0.85, f"{META} with masks/ (image + mask folders)")
        if (p / "masks").is_dir() and (p / "images").is_dir():
            return Detection(0.55, f"images/ and masks/ folders (image + mask folders without {META})")
        subs = sorted(d for d in p.iterdir() if d.is_dir())[:_DETECT_DIRS]
        hit = next((d for d in subs if (d / META).is_file() and (d / "masks").is_dir()), None)
    except OSError:
        return NO
    if hit is not None:
        return Detection(0.8, f"{hit.name}/{META} with masks/ (image + mask folders per split)")
    return NO


# ------------------------------------------------------------------ the label table
class LabelMeta(NamedTuple):
    """A label table: names and colours by value, and the background value (None: none)."""

    names: dict
    colors: dict
    background: int | None


def _color(raw, f, rec):
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != 3:
        raise InputError(f"a colour must be [r, g, b], got {brief(raw)}", f, rec)
    return tuple(int_in(v, "colour value", f, rec, lo=0, hi=255) for v in raw)


def _value(raw, what, f, rec) -> int:
    """A label value from a JSON key or value (``"3"`` or 3), 0..65535."""
    if isinstance(raw, str):
        s = raw.strip()
        if not s.isdigit() or len(s) > 6:
            raise InputError(f"{what} must be an integer 0..65535, got {brief(raw)}", f, rec)
        raw = int(s)
    return int_in(raw, what, f, rec, lo=0, hi=0xFFFF)


def parse_meta(f: Path) -> LabelMeta:
    """The label table of a ``dataset_meta.json`` (module docs)."""
    doc, _ = jsonio.load(f)
    if not isinstance(doc, dict):
        raise InputError(f"must be an object with label_map or labels, got {brief(doc)}", f)
    if doc.get("label_map") is not None:
        raw = doc["label_map"]
        if not isinstance(raw, dict) or not raw:
            raise InputError(f"label_map must be a non-empty object {{value: name}}, got {brief(raw)}", f)
        names = {_value(k, "label_map key", f, f"label {brief(k)}"): string(v, "label name", f, f"label {brief(k)}")
                 for k, v in raw.items()}
    elif doc.get("labels") is not None:
        raw = doc["labels"]
        if not isinstance(raw, list) or not raw or len(raw) > 0x10000:
            raise InputError(f"labels must be a list of 1..65536 names, got {brief(raw)}", f)
        names = {i: string(v, "label name", f, f"label {i}") for i, v in enumerate(raw)}
    else:
        raise InputError("no label_map and no labels: the classes are not named", f)
    colors = {}
    raw_colors = doc.get("segmentation_colors")
    if raw_colors is not None:
        if not isinstance(raw_colors, list):
            raise InputError(f"segmentation_colors must be a list of [r, g, b], got {brief(raw_colors)}", f)
        for v in names:
            c = _color(raw_colors[v], f, f"segmentation_colors[{v}]") if v < len(raw_colors) else None
            if c is not None:
                colors[v] = c
    bg = doc.get("background_label")
    if bg is not None:
        bg = _value(bg, "background_label", f, None)
    return LabelMeta(names, colors, bg)


def _labels_file(path: Path) -> LabelMeta:
    if path.suffix.lower() == ".json":
        return parse_meta(path)
    cl = read_class_names(path)  # one name a line, line n = value n - 1
    return LabelMeta(dict(enumerate(cl.names)), {}, None)


def _background(table: LabelMeta, option) -> int | None:
    if option is not None:
        if isinstance(option, bool) or not isinstance(option, int) or not 0 <= option <= 0xFFFF:
            raise UsageError(f"background must be an integer 0..65535, got {brief(option)}")
        return option
    if table.background is not None:
        return table.background
    return next((v for v, c in table.colors.items() if c == (0, 0, 0)), None)


# ------------------------------------------------------------------ pairing
class Naming(NamedTuple):
    """How masks and images are named: ``<prefix><id><suffix>.png`` and ``<prefix><id>.*``."""

    masks_prefix: str
    masks_suffix: str
    images_prefix: str


def _strip(name: str, prefix: str, suffix: str) -> str | None:
    stem = name.rsplit(".", 1)[0]
    if not stem.startswith(prefix) or not stem.endswith(suffix) or len(stem) <= len(prefix) + len(suffix):
        return None
    return stem[len(prefix): len(stem) - len(suffix)]


def _ids(folder: Path, prefix: str, suffix: str, exts) -> dict:
    """``{id: file}`` of the files below ``folder`` named ``<prefix><id><suffix>.<ext>``."""
    out: dict = {}
    if not folder.is_dir():
        return out
    for f in confined_glob(folder, "*", recursive=True):
        if f.suffix.lower() not in exts or f.name.startswith("."):
            continue
        core = _strip(f.name, prefix, suffix)
        if core is None:
            continue
        rel = f.parent.relative_to(folder).as_posix()
        out.setdefault(core if rel == "." else f"{rel}/{core}", f)
    return dict(sorted(out.items()))


class _Part(NamedTuple):
    """One folder of images and masks: its split (None for the root itself) and its table."""

    split: str | None
    folder: Path
    table: LabelMeta | None


def _parts(p: Path, labels) -> list[_Part]:
    given = _labels_file(Path(labels)) if labels is not None else None
    if (p / META).is_file() or (p / "masks").is_dir():
        table = given or (parse_meta(confine(p, p / META)) if (p / META).is_file() else None)
        return [_Part(None, p, table)]
    parts = []
    for d in sorted(x for x in p.iterdir() if x.is_dir() and not x.name.startswith(".")):
        if (d / META).is_file() and (d / "masks").is_dir():
            parts.append(_Part(d.name, confine(p, d), given or parse_meta(confine(p, d / META))))
    if not parts:
        raise InputError(f"no masks/ folder and no <split>/{META} with masks/ (image + mask folders are "
                         f"{META}, images/<id>.png and masks/<id>.png)", p)
    first = parts[0].table
    other = next((x for x in parts if x.table != first), None)
    if other is not None:
        raise InputError(f"the label table of {other.split}/ differs from that of {parts[0].split}/", other.folder)
    return parts


# ------------------------------------------------------------------ reading
class _Reading(NamedTuple):
    """What every item of one read shares."""

    root: Path
    naming: Naming
    background: int | None
    policy: ErrorPolicy
    found: set | None  # values seen (classes inferred from the masks), or None with a table


def _colors(table: LabelMeta | None) -> dict | None:
    if table is None:
        return None
    return {c: v for v, c in reversed(list(table.colors.items()))}  # the first value wins a colour


def _read_item(r: _Reading, part: _Part, iid: str, mask: Path | None, image: Path | None):
    """``(item, mask mode or None)`` of one id of one part."""
    if image is not None:
        file_name = image.relative_to(r.root).as_posix()
    else:
        where = "" if part.split is None else f"{part.split}/"
        file_name = f"{where}images/{r.naming.images_prefix}{iid}.png"
    item = Item(iid if part.split is None else f"{part.split}/{iid}", file_name, split=part.split)
    if mask is None:
        item.height, item.width = image_size(image, image, iid)
        return item, None
    values, mode = read_class_map(mask, _colors(part.table))
    item.height, item.width = int(values.shape[0]), int(values.shape[1])
    if part.table is None:
        known = _values(values)
        r.found.update(known)
    else:
        known = part.table.names
    item.annotations = class_annotations(values, known, r.background, mask)
    return item, mode


def _values(values: np.ndarray) -> set:
    """The label values in a class map."""
    return set(int(v) for v in set(values.reshape(-1).tolist()))


def _categories(table: LabelMeta | None, found: set | None, bg) -> list[Category]:
    if table is not None:
        return [Category(v, table.names[v], color=table.colors.get(v)) for v in sorted(table.names)]
    values = sorted(found | ({bg} if bg is not None else set()))
    return [Category(v, "background" if v == bg else f"class_{v}") for v in values]


def read(path, errors: str = "raise", labels=None, background: int | None = None, masks_prefix: str = "",
         masks_suffix: str = "", images_prefix: str = "") -> Dataset:
    """Read image + mask folders (layout and rules in the module docs).

    Parameters
    ----------
    errors : {"raise", "skip", "keep"}
        With ``"skip"`` an unreadable mask or image is dropped and listed in
        ``meta["skipped"]``.
    labels : path, optional
        The label table: a ``dataset_meta.json``-style JSON file, or a class
        list (one name a line, line order = value). Default: ``dataset_meta.json``.
    background : int, optional
        The value that is no annotation (default: ``background_label``, else
        the black label, else none; 0 when classes are inferred).
    masks_prefix, masks_suffix, images_prefix : str
        How masks and images are named around the shared id.
    """
    policy = ErrorPolicy.of(errors)
    r, parts, ds = _start(path, policy, labels, background, Naming(masks_prefix, masks_suffix, images_prefix))
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    modes, unpaired = set(), [0, 0]
    ds.items = list(_items(r, _listing(parts, r.naming, unpaired), modes))
    ds.categories = _categories(parts[0].table, r.found, r.background)
    _describe(ds, parts, modes, unpaired, r.naming)
    if not policy.keeping:
        ds.validate(r.root)
    return ds


def stream(path, errors: str = "raise", labels=None, background: int | None = None, masks_prefix: str = "",
           masks_suffix: str = "", images_prefix: str = "", selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come). The folders are listed first and the names
    kept (the unpaired files are counted from them). The header depends on
    every mask: a first pass (:func:`segmill.formats._stream_passes.first_pass`)
    reads each mask's PNG header for its mode; without a label table the
    classes are the values found in the masks, so that pass decodes every
    mask (one at a time), which the items then decode again: twice the
    decoding, the memory of one mask. ``None`` (read whole) for ``errors``
    other than ``"raise"``, and when listing a folder fails (the read
    raises that after the items of the folders before it). ``selection``:
    one part of :func:`shards`, a run of the ids in reading order (see
    :mod:`segmill.formats._file_runs`), which carries what every mask says
    of the header and what the run's own say (what they must still say
    when read).
    """
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        return None
    naming = Naming(masks_prefix, masks_suffix, images_prefix)
    r, parts, ds = _start(path, policy, labels, background, naming)
    unpaired = [0, 0]
    try:
        entries = list(_listing(parts, naming, unpaired))
    except InputError:
        return None
    part = chosen(entries, selection)
    whole, (found, modes) = whole_and_own(selection, lambda e: _first_facts(e, r.found), entries, part)
    ds.categories = _categories(parts[0].table, whole[0], r.background)
    _describe(ds, parts, set(whole[1]), unpaired, naming)
    expected = (found, modes - {None})
    r = r._replace(found=set() if found is not None else None)
    modes = set()
    seen = lambda: (r.found, modes - {None})  # noqa: E731 (what the items' masks said)
    items = unchanged(_items(r, iter(part), modes, first_annotation_id(selection)), seen, expected, r.root)
    return ds, UniqueIds(validated(items, ds.categories, r.root))


def shards(path, n: int, errors: str = "raise", labels=None, background: int | None = None, masks_prefix: str = "",
           masks_suffix: str = "", images_prefix: str = "") -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of ids of about equal bytes (their masks; 1 without one).

    ``None`` where :func:`stream` reads whole. Annotation ids run across the
    whole dataset: a part numbers from 1 and a sharded run renumbers.
    """
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        return None
    naming = Naming(masks_prefix, masks_suffix, images_prefix)
    r, parts, _ = _start(path, policy, labels, background, naming)
    try:
        entries = list(_listing(parts, naming, [0, 0]))
    except InputError:
        return None
    sels = runs([size_of(e.mask, 1) for e in entries], n)
    return with_headers(sels, by_run(entries, sels, lambda e: _first_facts(e, r.found), _merged_facts))


def _first_facts(entries, found: set | None) -> tuple[tuple[set | None, set], bool]:
    """``(values found, or None with a label table; modes)`` of the masks of ``entries`` (first pass), and
    whether the pass stopped at a mask the read refuses."""
    found = set() if found is not None else None
    modes: set = set()
    return (found, modes), first_pass(entries, lambda e: _mask_facts(e, found, modes))


def _merged_facts(a: tuple, b: tuple) -> tuple[set | None, set]:
    """The facts (:func:`_first_facts`) of the masks of two runs."""
    return None if a[0] is None else a[0] | b[0], a[1] | b[1]


def _start(path, policy: ErrorPolicy, labels, background, naming: Naming):
    """``(what every item shares, parts, dataset without items)``; the options checked."""
    for name, v in zip(Naming._fields, naming):
        if not isinstance(v, str) or "/" in v or "\\" in v or "\0" in v:
            raise UsageError(f"{name} must be a part of a file name, got {brief(v)}")
    p = Path(path)
    if not p.is_dir():
        raise InputError("image + mask folders are a folder", p)
    parts = _parts(p, labels)
    table = parts[0].table
    bg = _background(table, background) if table is not None else _background(LabelMeta({}, {}, 0), background)
    r = _Reading(p, naming, bg, policy, None if table is not None else set())
    return r, parts, Dataset(meta={"image_root": str(p), BACKGROUND_KEY: bg})


class _Entry(NamedTuple):
    """One id of one part: its mask and image files (None: none)."""

    part: _Part
    iid: str
    mask: Path | None
    image: Path | None


def _listing(parts, naming: Naming, unpaired: list):
    """Yield the :class:`_Entry` of every id of each part in turn; ``unpaired`` counts masks without an image
    and images without a mask as each part is listed."""
    for part in parts:
        masks = _ids(part.folder / "masks", naming.masks_prefix, naming.masks_suffix, IMAGE_EXTS)
        images = _ids(part.folder / "images", naming.images_prefix, "", IMAGE_EXTS)
        for iid in sorted(set(masks) | set(images)):
            unpaired[0] += iid not in images
            unpaired[1] += iid not in masks
            yield _Entry(part, iid, masks.get(iid), images.get(iid))


def _items(r: _Reading, entries, modes: set, nid: int = 1):
    """Yield the item of each entry, annotation ids ``nid``, ``nid + 1``, ...; each mask's mode is added to
    ``modes``."""
    for e in entries:
        try:
            item, mode = _read_item(r, e.part, e.iid, e.mask, e.image)
        except InputError as exc:
            r.policy.drop(exc)
            continue
        modes.add(mode)
        for ann in item.annotations:
            ann.id, nid = nid, nid + 1
        yield item


def _mask_facts(e: _Entry, found: set | None, modes: set) -> None:
    """What one entry's mask says of the header (first pass): its mode, and its values without a table."""
    if e.mask is None:
        return
    if found is None:
        modes.add(decoded_mode(e.mask))
        return
    values, mode = read_class_map(e.mask)  # no table: RGB is refused, as the read refuses it
    found.update(_values(values))
    modes.add(mode)


def _describe(ds: Dataset, parts, modes: set, unpaired, naming: Naming) -> None:
    """``meta``: whether ids are label values, the mask mode, and the read notes."""
    table = parts[0].table
    values = [c.id for c in ds.categories]
    ds.meta["voc_class_values"] = table is not None and values == list(range(len(values)))
    modes.discard(None)
    if len(modes) == 1:
        ds.meta["image_masks_mode"] = "RGB" if modes.pop() == "RGB" else "L"
    bg = ds.meta[BACKGROUND_KEY]
    notes = [f"label table: {META}" if table is not None else
             f"no {META}: classes are the mask values found ({len(values)}, named class_<value>)",
             f"background value: {bg}" if bg is not None else "no background value: every mask value is a class"]
    if parts[0].split is not None:
        notes.append(f"splits: {', '.join(x.split for x in parts)} (a folder each)")
    if unpaired[0]:
        notes.append(f"{unpaired[0]} mask(s) without an image in images/ (masks_prefix, masks_suffix and "
                     f"images_prefix are {tuple(naming)!r})")
    if unpaired[1]:
        notes.append(f"{unpaired[1]} image(s) without a mask: read as images without annotations")
    ds.meta["read_notes"] = notes


register_format(
    FormatSpec(
        name="image_masks",
        example="image_masks",
        description="image + mask folders: images/ and masks/ (class values or colours), dataset_meta.json "
                    "(Datumaro's common semantic segmentation)",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=write,
        write_stream=write_stream,
        write_stream_any=True,
        output="dir",
        options=(
            ERRORS,
            raster("writer"),
            Option("labels", "reader", f"label table: a {META}-style JSON file or a class list (one name a line); "
                   f"default: {META}", kind="path"),
            Option("background", "reader", "label value that is not an object (default: background_label, else "
                   "the black label, else none)", kind="int"),
            Option("masks_prefix", "reader", "masks are masks/<prefix><id><suffix>.png (Datumaro's --mask-prefix; "
                   "default none)"),
            Option("masks_suffix", "reader", "e.g. _mask for images/img001.jpg + masks/img001_mask.png (default "
                   "none)"),
            Option("images_prefix", "reader", "images are images/<prefix><id>.* (Datumaro's --image-prefix; default "
                   "none)"),
            overlap(),
            Option("mask_mode", "writer", "masks as 8-bit class values (L) or RGB colours; default: as read, else L",
                   kind="choice", choices=MODES),
            Option("copy_images", "writer", "copy images into images/", kind="bool", default=True),
            Option("image_root", "writer", "where the source images are (default: meta image_root)", kind="path"),
        ),
    )
)
