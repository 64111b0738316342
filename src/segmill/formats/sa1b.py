"""SA-1B (Segment Anything 1 Billion): one JSON per image with compressed-RLE masks, in folders or tar shards.

Layout
------
Each image ``<stem>.jpg`` has a ``<stem>.json`` beside it (SA-1B names them
``sa_<n>.jpg`` / ``sa_<n>.json``; any name is accepted when the document has
SA-1B's shape)::

    {"image": {"image_id": 1, "width": 1500, "height": 2250, "file_name": "sa_1.jpg"},
     "annotations": [{"id": 7, "segmentation": {"size": [2250, 1500], "counts": "..."},
                      "bbox": [x, y, w, h], "area": 1234, "predicted_iou": 0.93,
                      "stability_score": 0.97, "point_coords": [[x, y]], "crop_box": [x, y, w, h]}, ...]}

The dataset ships as ~1,000 ``sa_000000.tar`` ... shards, each holding such
pairs. A path may be one ``.json`` file, one ``.tar`` shard, or a folder: a
folder is searched **recursively** for ``*.json`` and ``*.tar`` (sorted by
path); JSON files that do not have SA-1B's shape are refused (passed over
and listed with ``errors="skip"``). Tar shards are read in place with the
standard :mod:`tarfile`, never extracted; see :mod:`._sa1b_source` for the
member-name rules (absolute names, ``..`` and links are refused).

What the model holds
--------------------
* Categories: SA-1B masks have no class. Every annotation belongs to one
  implicit category, id 1, named :data:`CATEGORY_NAME` (``"object"``).
* ``Item.id`` is ``image_id``; ``Item.file_name`` is the image's path
  relative to the dataset root (``file_name`` in the JSON is relative to
  the JSON's own folder, or member folder in a tar).
* ``Annotation.id`` is a running number 1, 2, ... in reading order: SA-1B's
  ``id`` is unique only within one file in some exports (Datumaro's sample
  numbers each file's masks from 1), and the model's annotation ids are
  unique dataset-wide. SA-1B's ``id`` is kept in ``extra["sa1b_id"]``, and
  ``predicted_iou``, ``stability_score``, ``point_coords``, ``crop_box`` and
  any unknown key in ``extra`` under their own names (a COCO writer writes
  them as annotation fields; the COCO reader gives them back).
* ``segmentation`` is an :class:`~segmill.rle.RLE` (all strings of a file
  decoded in one kernel call); ``area`` / ``bbox`` are the stored values.

Streaming
---------
:func:`header` gives the categories and the dataset-level meta,
:func:`iter_items` yields one :class:`~segmill.model.Item` at a time with one
JSON document in memory; :func:`read` collects them and validates the whole.

Writing
-------
See :mod:`._sa1b_write`: a folder of ``<stem>.json`` (images copied beside
them), or ``shard_size`` images per ``sa_NNNNNN.tar``. Polygons and masks
become compressed RLE (the pycocotools rule; not a loss); what SA-1B cannot
hold is reported with the codes below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..losses import register_codes
from ..model import Category, Dataset, Item
from ..validate import ErrorPolicy
from . import NO, Detection, FormatSpec, register_format
from ._file_runs import chosen, first_annotation_id, runs
from ._folder_scan import scan_levels
from ._sa1b_record import CATEGORY_ID, parse_document
from ._sa1b_source import documents, sources
from ._sa1b_write import CATEGORY_NAME, write, write_stream
from .options import ERRORS, Option, raster

register_codes(
    {
        "L880": "class name dropped (SA-1B masks are class-agnostic: written as the implicit 'object' class)",
        "L881": "box-only annotation dropped (SA-1B holds masks; a box is not a mask)",
        "L882": "void region dropped (SA-1B has no void / ignore regions)",
        "L883": "crowd flag dropped (SA-1B has no crowd regions; the mask is written)",
        "L884": "detection score dropped (SA-1B's predicted_iou is the model's own estimate, not a score)",
        "L885": "stored area / bbox differ from the mask's and were replaced by its pixel count / toBbox",
        "L886": "image not copied: not found (or not readable) in the source",
        "L887": "image of unknown size dropped (an SA-1B image record needs width and height)",
    },
    changes={
        "classes": ("L880",),
        "instance classes": ("L880",),
        "pixels": ("L881", "L882"),
        "crowd": ("L883",),
        "images": ("L887",),
    },
)

__all__ = ["CATEGORY_NAME", "detect", "header", "iter_items", "read", "write"]


# ------------------------------------------------------------------ detection
_HEAD = re.compile(rb'"image"\s*:\s*\{')
_DETECT_DEPTH = 5  # the writer mirrors image folders (Cityscapes: leftImg8bit/train/city/)
_DETECT_ENTRIES = 5000


def _looks_sa1b(head: bytes) -> bool:
    return bool(_HEAD.search(head)) and b'"annotations"' in head and b'"image_id"' in head


def _json_head(f: Path, n: int = 4096) -> bytes:
    with open(f, "rb") as fh:
        return fh.read(n)


def _tar_head(f: Path) -> tuple[bool, str]:
    """Whether the first JSON member of a tar (within its first 8 members) looks like SA-1B, and its name."""
    import tarfile

    from ._sa1b_source import member_problem

    try:
        with tarfile.open(f, mode="r:") as tf:
            for _, m in zip(range(8), tf):
                if m.name.lower().endswith(".json") and member_problem(m) is None and m.size < (1 << 30):
                    fh = tf.extractfile(m)
                    return (fh is not None and _looks_sa1b(fh.read(4096))), m.name
    except (tarfile.TarError, EOFError, ValueError):
        return False, ""
    return False, ""


def _check(f: Path, top: Path) -> Detection:
    where = "file" if f == top else f"folder ({f.relative_to(top).as_posix()})"
    if f.suffix.lower() == ".json" and _looks_sa1b(_json_head(f)):
        return Detection(0.9, f"SA-1B JSON {where}: an 'image' object with image_id and an 'annotations' list")
    if f.suffix.lower() == ".tar":
        ok, name = _tar_head(f)
        if ok:
            return Detection(0.9, f"SA-1B tar shard {where}: member {name[:80]!r} is an SA-1B per-image JSON")
    return NO


def detect(path) -> Detection:
    """A ``.json`` whose start has ``"image": {`` with ``image_id`` and ``annotations``, a ``.tar`` shard whose
    first JSON member does, or a folder whose first such files (shallowest level first) do."""
    p = Path(path)
    if p.is_file():
        return _check(p, p)
    if not p.is_dir():
        return NO
    for _, entries in scan_levels(p, _DETECT_DEPTH, _DETECT_ENTRIES):
        cands = [Path(e.path) for e in entries if e.name.lower().endswith((".json", ".tar"))
                 and e.is_file(follow_symlinks=False)]
        for f in cands[:3]:
            d = _check(f, p)
            if d.confidence:
                return d
    return NO


# ------------------------------------------------------------------ reading
def header(path, errors: str = "raise") -> Dataset:
    """The dataset without items: the implicit category and the dataset-level meta (for streaming).

    Parameters
    ----------
    path : path
        As :func:`read`.
    errors : {"raise", "skip", "keep"}
        Checked here so that a bad mode fails before any item is read.
    """
    ErrorPolicy.of(errors)
    p = Path(path)
    root = p.parent if p.is_file() else p
    return Dataset(categories=[Category(CATEGORY_ID, CATEGORY_NAME)],
                   meta={"image_root": str(root), "raster_rule": "coco"})


def iter_items(path, errors: str = "raise", skipped: list | None = None,
               selection: dict | None = None) -> Iterator[Item]:
    """Yield the items of an SA-1B folder, JSON file or tar shard one at a time.

    Parameters
    ----------
    path : path
        A ``.json`` file, a ``.tar`` shard, or a folder of them (searched recursively).
    errors : {"raise", "skip", "keep"}
        See :mod:`segmill.formats`.
    skipped : list, optional
        Where records dropped under ``skip`` / ``keep`` are listed (``{"path", "record", "reason"}``).
    selection : dict, optional
        One part of :func:`shards`: only the inputs ``start`` to ``stop``
        (positions in the sorted inputs), annotation ids numbered from
        ``first_annotation_id`` (1 when ``None``).

    Yields
    ------
    Item
        With annotation ids numbered 1, 2, ... in reading order across the whole path.
    """
    policy = ErrorPolicy.of(errors)
    if skipped is not None:
        policy.skipped = skipped
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or directory", p)
    root, inputs = sources(p)
    inputs, next_id = chosen(inputs, selection), first_annotation_id(selection)
    for src in inputs:
        for doc in documents(root, src, policy):
            try:
                item = parse_document(doc, policy)
            except InputError as exc:
                if policy.raising:
                    raise
                policy.drop(exc)
                continue
            for ann in item.annotations:
                ann.id = next_id
                next_id += 1
            yield item


def stream(path, errors: str = "raise", selection: dict | None = None) -> tuple[Dataset, Iterator[Item]]:
    """The header and a generator of the items (see :mod:`segmill.streaming`); one JSON in memory at a time.

    Records dropped under ``skip`` / ``keep`` are listed in the header's
    ``meta["skipped"]`` as the items are read.
    """
    ds = header(path, errors)
    skipped = None if ErrorPolicy.of(errors).raising else ds.meta.setdefault("skipped", [])
    return ds, iter_items(path, errors, skipped, selection)


def shards(path, n: int, errors: str = "raise") -> list[dict]:
    """At most ``n`` selections of :func:`iter_items`: runs of consecutive inputs of about equal bytes.

    Annotation ids run across the whole path, so a part's first id depends
    on the parts before it: ``first_annotation_id`` is ``None`` here (the
    part numbers from 1) and a sharded run renumbers (see
    :mod:`segmill.distributed`).
    """
    ErrorPolicy.of(errors)
    _, inputs = sources(Path(path))
    return runs([f.stat().st_size for f in inputs], n)


def read(path, errors: str = "raise") -> Dataset:
    """Read an SA-1B folder, JSON file or tar shard (see the module docs).

    Raises
    ------
    segmill.errors.InputError
        Invalid JSON, a document without SA-1B's shape, a value of the wrong
        type or range, an RLE whose size is not the image's, an unsafe tar
        member (absolute name, ``..``, a link), a file that is not a tar or
        is cut short, duplicate image ids.
    """
    ds = header(path, errors)
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    ds.items = list(iter_items(path, policy))
    if not policy.keeping:
        ds.validate(path)
    return ds


register_format(
    FormatSpec(
        name="sa1b",
        example="sa1b",
        description="SA-1B (Segment Anything): one JSON per image with compressed RLE masks, folders or .tar shards",
        detect=detect,
        read=read,
        write=write,
        write_stream=write_stream,
        write_stream_any=True,
        stream=stream,
        shards=shards,
        output="dir",
        options=(
            ERRORS,
            Option("shard_size", "writer", "images per sa_NNNNNN.tar shard (0: a plain folder of JSON and images)",
                   kind="int", default=0),
            Option("image_root", "writer", "where the source images are (default: meta image_root)", kind="path"),
            Option("copy_images", "writer", "put each image beside its JSON (in the folder or the shard)",
                   kind="bool", default=True),
            Option("link_images", "writer", "hard-link images instead of copying them (plain folder only)",
                   kind="bool", default=False),
            raster("writer", "the rule used when polygons become RLE masks: coco (pycocotools) or pil"),
        ),
    )
)
