"""The canonical in-memory model: Dataset, Category, Item, Annotation.

Every reader produces a :class:`Dataset`; every writer consumes one. Nothing
here knows about a file format.

What the model guarantees, and what it does not
-----------------------------------------------
* Types are enforced on construction: ids are ``int`` or ``str``, image sizes
  non-negative ``int`` (or ``None`` when unknown), geometry one of the kinds in
  :mod:`segmill.geometry`.
* Referential integrity (unique ids, annotations pointing at existing
  categories) is *not* enforced on construction, because ``segmill check``
  must be able to hold a broken dataset in order to report on it. Readers call
  :meth:`Dataset.validate` unless asked to be lenient, and writers call it
  before writing.
* Unknown fields travel in ``extra`` dicts (in source order) and are written
  back by writers of the same format, so round trips are lossless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Union

from .errors import InputError, ModelError
from .geometry import Box, Geometry, InvalidGeometry, Mask, Polygons, Shape, to_rle
from .rle import RLE
from .validate import brief

Id = Union[int, str]
_GEOMETRY_TYPES = (Polygons, RLE, Mask, Box, Shape, InvalidGeometry, type(None))


def origin_of(obj, fmt: str):
    """The round-trip data format ``fmt`` kept on ``obj`` when it read it (see ``origin``), or None."""
    o = obj.origin
    return o[1] if o is not None and o[0] == fmt else None


def _color(value) -> tuple[int, int, int]:
    """An (r, g, b) colour of integers 0-255."""
    try:
        rgb = tuple(int(c) for c in value)
    except (TypeError, ValueError, OverflowError):
        raise ModelError(f"category color must be three integers, got {brief(value)}") from None
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ModelError(f"category color must be three integers 0-255, got {brief(value)}")
    return rgb


def _check_id(value, what: str, optional: bool = False):
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ModelError(f"{what} must be an int or a str, got {brief(value)}")


@dataclass(eq=True)
class Category:
    """A class label.

    Parameters
    ----------
    id : int or str
        Kept as found (COCO's ids are sparse; never renumbered silently).
    name : str
    supercategory : str, optional
    isthing : bool, optional
        Panoptic: ``True`` for countable things, ``False`` for stuff.
    color : tuple of 3 int, optional
        Display / palette colour.
    extra : dict
        Unknown fields, carried through.
    origin : tuple, optional
        ``(format, data)``: what the format this was read from keeps to write
        it back exactly (COCO's key order, a LabelMe shape as found...). Owned
        by that format (read it with :func:`origin_of`); not an argument of
        the constructor, not compared, and not carried by
        :func:`dataclasses.replace` (a changed object is written anew).
    """

    id: Id
    name: str
    supercategory: str | None = None
    isthing: bool | None = None
    color: tuple[int, int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    origin: Any = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self):
        _check_id(self.id, "category id")
        if not isinstance(self.name, str):
            raise ModelError(f"category name must be a str, got {brief(self.name)}")
        if self.color is not None:
            self.color = _color(self.color)


@dataclass(eq=True)
class Annotation:
    """One labelled region (an instance, a stuff region or a detection).

    Parameters
    ----------
    id : int or str or None
    category_id : int or str or None
    geometry : Polygons, RLE, Mask, Box, Shape, InvalidGeometry or None
    iscrowd : bool
    area : float, optional
        The stored area as found in the file (``None`` when absent). Use
        :func:`segmill.geometry.to_rle` for the pixel area.
    bbox : tuple of 4 float, optional
        The stored ``[x, y, w, h]`` as found.
    score : float, optional
        Detection confidence (results files).
    attributes : dict
        Semantic attributes shared across formats (``occluded``,
        ``truncated``, ``difficult``, ``pose``, ``z_order``, ``group_id``,
        tool attributes ...).
    extra : dict
        Unknown fields, carried through.
    origin : tuple, optional
        What the source format keeps to write this back exactly, as on
        :class:`Category` (read it with :func:`origin_of`).
    """

    id: Id | None
    category_id: Id | None
    geometry: Geometry | None = None
    iscrowd: bool = False
    area: float | None = None
    bbox: tuple[float, float, float, float] | None = None
    score: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    origin: Any = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self):
        _check_id(self.id, "annotation id", optional=True)
        _check_id(self.category_id, "category_id", optional=True)
        if not isinstance(self.geometry, _GEOMETRY_TYPES):
            raise ModelError(f"unsupported geometry {type(self.geometry).__name__}")
        if self.bbox is not None:
            try:
                self.bbox = tuple(self.bbox)
            except TypeError:
                raise ModelError(f"bbox must be a sequence of numbers, got {brief(self.bbox)}") from None

    @classmethod
    def _trusted(cls, id, category_id, geometry=None, iscrowd=False, area=None, bbox=None, score=None,
                 owned=None) -> "Annotation":
        """Build without the checks of ``__post_init__``: for readers only.

        A reader that has already checked every value (ids ``int``/``str``/
        ``None``, a geometry kind, ``bbox`` a tuple or ``None``) uses this to
        skip checking it twice; ``owned`` is ``(attributes, extra)``, dicts
        the new object may own (``None`` in either place, or for the pair,
        gives fresh empty dicts). Anyone else calls the class.
        """
        attributes, extra = (None, None) if owned is None else owned
        # Attributes set one by one on purpose: 0.77 us a call against 1.1 us through _fields.without_init's
        # keyword dict, on the path of every annotation a reader makes (and a new __dict__ would lose the
        # key-sharing dict every instance of the class has).
        self = object.__new__(cls)
        self.id = id
        self.category_id = category_id
        self.geometry = geometry
        self.iscrowd = iscrowd
        self.area = area
        self.bbox = bbox
        self.score = score
        self.attributes = {} if attributes is None else attributes
        self.extra = {} if extra is None else extra
        return self

    def to_rle(self, height: int, width: int, rule: str = "coco") -> RLE:
        """Pixels of this annotation in a ``height x width`` image (cached)."""
        return to_rle(self.geometry, height, width, rule)


@dataclass(eq=True)
class Item:
    """An image and its annotations.

    Parameters
    ----------
    id : int or str
    file_name : str
        Path relative to the dataset's image root, with ``/`` separators.
    width, height : int or None
    annotations : list of Annotation
    split : str, optional
        ``"train"``, ``"val"``... when the format has splits.
    attributes : dict
        Format-neutral image attributes.
    extra : dict
        Unknown fields, carried through.
    origin : tuple, optional
        What the source format keeps to write this back exactly, as on
        :class:`Category` (read it with :func:`origin_of`).
    """

    id: Id
    file_name: str
    width: int | None = None
    height: int | None = None
    annotations: list[Annotation] = field(default_factory=list)
    split: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    origin: Any = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self):
        _check_id(self.id, "image id")
        for name in ("width", "height"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ModelError(f"image {name} must be a non-negative int, got {brief(v)}")

    @classmethod
    def _trusted(cls, id, file_name, width=None, height=None, annotations=None, split=None, attributes=None,
                 extra=None) -> "Item":
        """Build without the checks of ``__post_init__``: for readers only.

        The reader guarantees an ``int``/``str`` id and non-negative ``int``
        (or ``None``) sizes; list and dict arguments must be objects the new
        item may own (``None`` gives fresh empty ones). Anyone else calls the
        class.
        """
        self = object.__new__(cls)  # set one by one, as Annotation._trusted says why
        self.id = id
        self.file_name = file_name
        self.width = width
        self.height = height
        self.annotations = [] if annotations is None else annotations
        self.split = split
        self.attributes = {} if attributes is None else attributes
        self.extra = {} if extra is None else extra
        return self

    @property
    def size(self) -> tuple[int, int] | None:
        """``(height, width)`` when both are known."""
        if self.height is None or self.width is None:
            return None
        return (self.height, self.width)


@dataclass(eq=True)
class Dataset:
    """A whole dataset: categories, items (images) and dataset-level data.

    Parameters
    ----------
    categories : list of Category
        In source order.
    items : list of Item
        In source order.
    info : dict, optional
        COCO ``info`` (or the equivalent).
    licenses : list, optional
    extra : dict
        Unknown top-level keys, carried through.
    meta : dict
        Facts about where the data came from. The keys other packages read
        are these, whatever the format: ``source_format``, ``source_path``,
        ``image_root``, ``raster_rule`` (the rule the reader was given),
        ``palette`` (the label maps' palette, 768 RGB bytes or a list),
        ``skipped`` (records a lenient read dropped, with their reasons),
        ``placeholder_images`` (image ids annotations name but the file does
        not list, given placeholder items under ``errors="keep"``) and
        ``orphan_annotations``. Any other key belongs to the format that set it.
    """

    categories: list[Category] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    info: dict[str, Any] | None = None
    licenses: list[Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def category_by_id(self) -> dict[Id, Category]:
        """Map of category id to category (the first one wins on duplicates)."""
        out: dict[Id, Category] = {}
        for c in self.categories:
            out.setdefault(c.id, c)
        return out

    def category_by_name(self) -> dict[str, Category]:
        """Map of category name to category (the first one wins on duplicates)."""
        out: dict[str, Category] = {}
        for c in self.categories:
            out.setdefault(c.name, c)
        return out

    def annotations(self) -> Iterator[tuple[Item, Annotation]]:
        """Every ``(item, annotation)`` pair, in order."""
        for item in self.items:
            for ann in item.annotations:
                yield item, ann

    @property
    def num_annotations(self) -> int:
        """How many annotations the items hold (items on disk count theirs as they are spilled)."""
        counted = getattr(self.items, "annotation_count", None)  # segmill.spilled.SpilledItems
        return counted if counted is not None else sum(len(i.annotations) for i in self.items)

    def validate(self, path=None) -> None:
        """Check referential integrity; raise :class:`~segmill.errors.InputError`.

        Checks: unique category ids, unique item ids, unique annotation ids
        (where set), every annotation's category exists, no
        :class:`~segmill.geometry.InvalidGeometry`, and RLE sizes equal to
        their image's size.
        """
        seen_c: set = set()
        for c in self.categories:
            if c.id in seen_c:
                raise InputError(f"duplicate category id {c.id!r}", path, f"category {c.name!r}")
            seen_c.add(c.id)
        seen_i: set = set()
        seen_a: set = set()
        for item in self.items:
            if item.id in seen_i:
                raise InputError(f"duplicate image id {item.id!r}", path, f"image {item.file_name!r}")
            seen_i.add(item.id)
            for ann in item.annotations:
                rec = f"image id {item.id!r}, annotation id {ann.id!r}"
                if ann.id is not None:
                    if ann.id in seen_a:
                        raise InputError(f"duplicate annotation id {ann.id!r}", path, rec)
                    seen_a.add(ann.id)
                if ann.category_id is not None and ann.category_id not in seen_c:
                    raise InputError(f"category_id {ann.category_id!r} is not a declared category", path, rec)
                g = ann.geometry
                if isinstance(g, InvalidGeometry):
                    raise InputError(g.reason, path, rec)
                if isinstance(g, RLE) and item.size is not None and g.shape != item.size:
                    raise InputError(
                        f"RLE size [{g.height}, {g.width}] does not match the image size "
                        f"[{item.height}, {item.width}]",
                        path,
                        rec,
                    )


def carried_meta(meta: dict, items: list) -> dict:
    """A copy of ``meta`` for a dataset of ``items``, made from the dataset whose meta it was.

    A value of ``meta`` (or of a dict in ``meta``) with a ``restricted(items)``
    method knows something of each item or annotation (COCO's file order of
    the annotations); it is replaced by what it says of ``items`` (the kept
    annotations, the new annotation objects), or left out when that is
    ``None``. Everything else is shared.
    """
    out = {}
    for key, value in meta.items():
        if isinstance(value, dict) and any(hasattr(v, "restricted") for v in value.values()):
            value = {k: (v.restricted(items) if hasattr(v, "restricted") else v) for k, v in value.items()}
            value = {k: v for k, v in value.items() if v is not None}
        elif hasattr(value, "restricted"):
            value = value.restricted(items)
            if value is None:
                continue
        out[key] = value
    return out
