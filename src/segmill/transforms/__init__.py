"""Dataset edits applied between reading and writing (``segmill convert --map/--keep-class/...``).

Each transform is a small frozen dataclass with one method,
``apply(dataset) -> (Dataset, EditReport)`` (the :class:`Transform`
protocol); it never modifies the dataset it is given (see
:mod:`segmill.transforms.base` for what the result shares with it).
:func:`apply_all` runs several in order. Every change is an
:class:`Edit` with a code of :data:`EDIT_CODES` (``E`` + 3 digits).

=====================  ==========================================  ==========
transform              command-line flag                           codes
=====================  ==========================================  ==========
:class:`MapClasses`    ``--map OLD=NEW``, ``--map-file FILE``      E001, E002
:class:`KeepClasses`   ``--keep-class NAME``                       E003, E007
:class:`DropClasses`   ``--drop-class NAME``                       E003, E007
:class:`MinArea`       ``--min-area PX``                           E004
:class:`DropCrowd`     ``--drop-crowd``                            E005
:class:`Sample`        ``--sample N --seed S``                     E006
:class:`Split`         ``--split a=0.8,b=0.2 --seed S``            E010
=====================  ==========================================  ==========

Examples
--------
>>> import segmill
>>> from segmill.transforms import DropCrowd, MapClasses, apply_all
>>> ds = segmill.read("fixtures/coco/annotations.json")  # doctest: +SKIP
>>> out, report = apply_all(ds, [MapClasses({"car": "vehicle"}), DropCrowd()])  # doctest: +SKIP
>>> report.summary()  # doctest: +SKIP
{'E001': 1, 'E005': 1}
"""

from __future__ import annotations

from .base import Editor, Transform, apply_all
from .classes import DropClasses, KeepClasses
from .codes import EDIT_CODES, EditCode, describe_edit, is_drop
from .crowd import DropCrowd
from .mapfile import read_map_file
from .min_area import MinArea, pixel_areas
from .remap import MapClasses, remap_categories
from .report import Edit, EditReport
from .sample import Sample
from .split import Split, parse_split, quotas

__all__ = [
    "Transform", "apply_all", "Editor", "Edit", "EditReport", "EDIT_CODES", "EditCode", "describe_edit",
    "is_drop", "MapClasses", "remap_categories", "read_map_file", "KeepClasses", "DropClasses", "MinArea",
    "pixel_areas", "DropCrowd", "Sample", "Split", "parse_split", "quotas",
]
