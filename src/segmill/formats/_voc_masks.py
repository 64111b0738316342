"""Class lists and mask joining shared by the VOC and plain mask-folder formats.

* ``labelmap.txt`` (``name:r,g,b:parts:actions``, as Datumaro and CVAT write it)
  and plain class lists (one name a line; labelme's ``__ignore__`` is void
  255 and ``_background_`` is 0);
* :func:`masks_to_annotations`: a class map (and optionally an instance map)
  -> annotations. Instance ``i`` of the instance map becomes one annotation
  per class found under it; class pixels that no instance covers become one
  "semantic" annotation per class; void pixels become one void annotation
  (no category, ``attributes["void"] = True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..model import Annotation, Category
from ..rle import encode
from ..validate import brief
from ._png import voc_colormap
from ._text import is_unicode

__all__ = [
    "VOC_CLASSES",
    "VOID_NAMES",
    "ClassList",
    "check_class_names",
    "masks_to_annotations",
    "read_class_names",
    "read_labelmap",
    "read_text_lines",
    "write_labelmap",
]

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
#: Class-list names that mean void (255), not a class: labelme's and Datumaro's.
VOID_NAMES = ("__ignore__", "ignored")


@dataclass
class ClassList:
    """Class names by label value, their colours, and the void entry's name."""

    names: list[str]
    colors: list[tuple[int, int, int]]
    void_name: str | None = None
    void_color: tuple[int, int, int] | None = None
    source: str = "default"
    extra: dict = field(default_factory=dict)

    def categories(self) -> list[Category]:
        return [Category(i, n, color=c) for i, (n, c) in enumerate(zip(self.names, self.colors))]

    def color_table(self, void_value: int = 255) -> np.ndarray:
        """``(256, 3)`` colours: class colours at their values, VOC colours elsewhere."""
        cmap = voc_colormap(max(256, len(self.names)))
        for i, c in enumerate(self.colors):
            cmap[i] = c
        if self.void_color is not None and void_value < len(cmap):
            cmap[void_value] = self.void_color
        return cmap


def read_text_lines(path, what: str) -> list[str]:
    """The lines of a UTF-8 text file; a directory, an unreadable file or other bytes are an InputError."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"cannot read {what}: is a directory", path) from None
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", path) from None
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {what}: not UTF-8 text (byte {exc.start})", path) from None


def default_classes() -> ClassList:
    cmap = voc_colormap()
    return ClassList(list(VOC_CLASSES), [tuple(int(v) for v in cmap[i]) for i in range(21)], "ignored",
                     tuple(int(v) for v in cmap[255]), "default")


def read_labelmap(path) -> ClassList:
    """Parse ``labelmap.txt``: ``name:r,g,b:parts:actions`` lines, ``#`` comments."""
    names, colors, void_name, void_color = [], [], None, None
    cmap = voc_colormap()
    lines = read_text_lines(path, "label map")
    for ln, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = s.split(":")
        name = fields[0].strip()
        color = None
        if len(fields) > 1 and fields[1].strip():
            try:
                rgb = tuple(int(v) for v in fields[1].split(","))
            except ValueError:
                raise InputError(f"colour {brief(fields[1])} is not r,g,b", path, f"line {ln}") from None
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
                raise InputError(f"colour {brief(fields[1])} is not three values 0..255", path, f"line {ln}")
            color = rgb
        if name in VOID_NAMES:
            void_name, void_color = name, color or tuple(int(v) for v in cmap[255])
            continue
        if name in names:
            raise InputError(f"class {brief(name)} is listed twice", path, f"line {ln}")
        names.append(name)
        colors.append(color or tuple(int(v) for v in cmap[(len(names) - 1) % 256]))  # the map has 256 colours
    if not names:
        raise InputError("label map lists no class", path)
    return ClassList(names, colors, void_name, void_color, "labelmap")


def read_class_names(path) -> ClassList:
    """A plain class list: one name a line, line order = label value.

    ``__ignore__`` (labelme) is void (255) and takes no value; ``_background_``
    is a class like any other (labelme puts it first, so it is 0).
    """
    cmap = voc_colormap()
    lines = [ln.strip() for ln in read_text_lines(path, "class list")]
    names, void = [], None
    for ln, name in enumerate(lines, 1):
        if not name:
            continue
        if name in VOID_NAMES:
            void = name
            continue
        if name in names:
            raise InputError(f"class {brief(name)} is listed twice", path, f"line {ln}")
        names.append(name)
    if not names:
        raise InputError("class list is empty", path)
    colors = [tuple(int(v) for v in cmap[i % 256]) for i in range(len(names))]
    return ClassList(names, colors, void, tuple(int(v) for v in cmap[255]) if void else None, "labels")


def check_class_names(names, what: str = "class list") -> None:
    """Refuse names a line-based class list cannot hold as they are (they would read back as other classes).

    Raises
    ------
    segmill.errors.InputError
        A name that is empty, has surrounding white space (read back
        stripped), holds a line break or a lone surrogate (no UTF-8 for
        it); in a ``labelmap.txt`` also one that holds a ``:`` (the field
        separator) or starts with ``#`` (a comment).
    """
    for n in names:
        bad = (not n or n != n.strip() or len(n.splitlines()) != 1 or not is_unicode(n)
               or (what == "labelmap.txt" and (":" in n or n.startswith("#"))))
        if bad:
            raise InputError(f"category name {brief(n)} cannot be written in a {what} (one name a line)")


def write_labelmap(path, classes: ClassList) -> None:
    check_class_names(list(classes.names) + ([classes.void_name] if classes.void_name else []), "labelmap.txt")
    lines = ["# label:color_rgb:parts:actions"]
    for n, c in zip(classes.names, classes.colors):
        lines.append(f"{n}:{c[0]},{c[1]},{c[2]}::")
    if classes.void_name:
        c = classes.void_color or (224, 224, 192)
        lines.append(f"{classes.void_name}:{c[0]},{c[1]},{c[2]}::")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def masks_to_annotations(class_map, instance_map, n_classes, path, *, void_value=255, background=0,
                         next_id=1, instance_classes=None):
    """Annotations of one image from its class map and (optional) instance map.

    Parameters
    ----------
    class_map : (h, w) int array or None
    instance_map : (h, w) int array or None
    n_classes : int
        Valid class values are ``0 .. n_classes - 1`` (and ``void_value``).
    instance_classes : dict, optional
        ``{instance value: class value}`` used when there is no class map.

    Returns
    -------
    list of (Annotation, instance value or None)
    """
    out = []
    nid = next_id
    if class_map is not None:
        vals = np.unique(class_map)
        bad = [int(v) for v in vals if v != void_value and not (0 <= v < n_classes)]
        if bad:
            pos = np.argwhere(class_map == bad[0])[0]
            raise InputError(
                f"pixel value {bad[0]} has no class (classes are 0..{n_classes - 1}, void {void_value}); "
                f"first at row {pos[0]}, col {pos[1]}", path)
    covered = None
    if instance_map is not None:
        covered = np.zeros(instance_map.shape, bool)
        for i in np.unique(instance_map).tolist():
            if i == 0 or i == void_value:
                continue
            inst = instance_map == i
            if class_map is not None:
                under = class_map[inst]
                classes = [int(c) for c in np.unique(under) if c != void_value]
            else:
                c = (instance_classes or {}).get(i)
                if c is None:
                    raise InputError(f"instance {i} has no class", path)
                classes = [int(c)]
            for c in classes:
                m = inst & (class_map == c) if class_map is not None else inst
                covered |= m
                ann = Annotation(nid, c, encode(m), extra={"voc_instance": i})
                nid += 1
                out.append((ann, i))
    if class_map is not None:
        for c in np.unique(class_map).tolist():
            if c == void_value or c == background:
                continue
            m = class_map == c
            if covered is not None:
                m &= ~covered
            if m.any():
                out.append((Annotation(nid, int(c), encode(m), extra={"voc_semantic": True}), None))
                nid += 1
        void = class_map == void_value
        if void.any():
            out.append((Annotation(nid, None, encode(void), attributes={"void": True}), None))
            nid += 1
    return out


#: extra keys that only record how a region was stored (not information a writer loses)
STRUCTURAL_KEYS = frozenset({"voc_instance", "voc_object", "voc_no_xml", "voc_semantic", "panoptic_id"})


def dropped_fields(ann, keep_extra=(), keep_attributes=("void",)) -> list[str]:
    """Attribute and extra-field names of ``ann`` that a mask-only writer cannot hold.

    ``keep_attributes`` are the attributes the writer keeps (``void``: painted
    as the void value by the mask writers); ``keep_extra`` the extra fields.
    """
    out = [f"attributes.{k}" for k in ann.attributes if k not in keep_attributes]
    out += [k for k in ann.extra if k not in STRUCTURAL_KEYS and k not in keep_extra]
    return sorted(out)
