"""Label Studio JSON and JSON-MIN exports (image segmentation: polygons, rectangles, brushes, keypoints).

Reading
-------
One ``.json`` file: the JSON export (a list of tasks, or one task) or the
JSON-MIN export (one flat record per annotation, regrouped by task id; see
:mod:`segmill.formats._label_studio_tasks`). A task is an item: its id, its
image reference (``data.image``, else the first text value of ``data``) kept
verbatim and mapped to a file name relative to the image root (``/data/upload/``,
``/data/local-files/?d=``, ``s3://``, URLs: :func:`~segmill.formats._label_studio_tasks.local_name`).
Its size is the regions' ``original_width`` / ``original_height`` (else the
task's ``meta``, else the image file's header when it is found under the
image root).

Each region of a read annotation becomes an annotation (ids 1, 2, ... in file
order): results sharing an ``id`` are one region (a ``rectangle`` and the
``labels`` naming it, per-region ``choices``...). Geometry, in percent of the
image: :mod:`segmill.formats._label_studio_geometry`; brush masks in Label
Studio's own RLE: :mod:`segmill.formats._label_studio_rle`. The first label
is the category (ids 1, 2, ... by first appearance); several labels go to
``attributes["labels"]``; per-region results of other kinds go to
``attributes[from_name]``. The annotator (``completed_by``: the user's email,
else id) goes to ``attributes["annotator"]``; a prediction's regions carry
``attributes["prediction"] = True``, its ``model_version`` and score.

Which annotations are read (``annotations=``): ``all`` (every annotation not
cancelled), ``latest`` (the most recently updated one per task), ``none``, or
an annotator's email or user id; ``predictions=True`` reads the predictions
too. Image-level results (choices, text areas of the whole image) and
cancelled annotations are not part of the model: they are kept, with every
other field of the task, only to be written back to Label Studio.

Writing
-------
See :mod:`segmill.formats._label_studio_write`: one JSON export, a task per
item; the codes below say what a re-read would not give back.
"""

from __future__ import annotations

from pathlib import Path

from ..losses import register_codes
from ..model import Dataset
from . import NO, Detection, FormatSpec, register_format
from ._label_studio_read import ReadSettings, read_tasks
from ._label_studio_stream import shard_tasks, stream_tasks
from ._label_studio_write import write, write_stream
from ._perfile_stream import validated
from .options import ERRORS, Option

register_codes(
    {
        "L800": "image file name that the written image reference does not give back",
        "L801": "category ids and details dropped (Label Studio keeps label names; ids follow first use)",
        "L802": "crowd flag dropped (Label Studio regions have no crowd flag)",
        "L803": "image id not kept (Label Studio task ids are integers)",
        "L804": "annotation id not kept (Label Studio regions are numbered in file order when read)",
        "L805": "stored area / bbox dropped (Label Studio keeps shapes; a re-read recomputes other values)",
        "L806": "a multi-part polygon written as one region per part (reads back as several annotations)",
        "L807": "a line shape written as an open polygon (reads back as a linestrip)",
        "L808": "a multi-point shape written as one keypoint per point (reads back as several annotations)",
        "L809": "a scored annotation written as a prediction (read back only with predictions on)",
    }
, changes={
    "classes": ("L801",),
    "crowd": ("L802",),
    "images": ("L800",),
    "pixels": ("L806", "L808"),
})

__all__ = ["detect", "read", "shards", "stream", "write", "by_annotator"]

#: Bytes of a file's head the detector reads.
_HEAD = 8192


def detect(path) -> Detection:
    """A ``.json`` list of tasks (``annotations`` with a ``result``, or ``data``) or of JSON-MIN records.

    Only the first and last 8 KiB are read (a task's ``data`` may come after
    kilobytes of brush values). A JSON-MIN record is told by the keys
    label-studio-converter writes to every one: ``annotator`` and
    ``annotation_id``.
    """
    p = Path(path)
    if not p.is_file() or p.suffix.lower() != ".json":
        return NO
    with open(p, "rb") as fh:
        head = fh.read(_HEAD)
        size = fh.seek(0, 2)
        fh.seek(max(size - _HEAD, len(head)))
        ends = head + fh.read(_HEAD)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    has = lambda *keys: all(f'"{k}"'.encode() in ends for k in keys)
    task = has("data") or has("result", "from_name", "to_name")
    if start == b"[" and task and (has("annotations") or has("predictions") or has("completions")):
        return Detection(0.9, "Label Studio JSON export: a list of tasks with 'data' and 'annotations'")
    if start == b"[" and has("annotator", "annotation_id"):
        return Detection(0.85, "Label Studio JSON-MIN export: records with 'annotator' and 'annotation_id'")
    if start == b"{" and has("data", "annotations", "result") and not has("images"):
        return Detection(0.8, "one Label Studio task: 'data' and 'annotations' with a 'result'")
    return NO


def read(path, errors: str = "raise", annotations: str = "all", predictions: bool = False,
         image_root=None) -> Dataset:
    """Read a Label Studio JSON or JSON-MIN export.

    Parameters
    ----------
    path : path
        The export file.
    errors : {"raise", "skip", "keep"}
        See :mod:`segmill.formats`; a bad task, annotation or region costs
        only itself with ``skip`` (listed) and ``keep`` (a bad region is kept
        as invalid geometry for ``segmill check``).
    annotations : str, default "all"
        ``all``, ``latest``, ``none`` or an annotator's email or user id.
    predictions : bool, default False
        Read the tasks' predictions too (regions with a score).
    image_root : path, optional
        The folder image references are resolved in (confined inside it):
        where a task's image is looked for when no region gives its size, and
        the dataset's image root. Default: the export's folder.

    Raises
    ------
    segmill.errors.InputError
        Invalid JSON, a task or region of the wrong types, coordinates that
        are not finite, a brush that does not decode to its image's size, an
        image reference leaving the image root.
    segmill.errors.UsageError
        An unknown ``errors`` mode, an ``image_root`` that is not a folder.
    """
    return read_tasks(ReadSettings.of(path, errors, annotations, predictions, image_root))


def stream(path, errors: str = "raise", annotations: str = "all", predictions: bool = False, image_root=None,
           selection: dict | None = None):
    """The header and a generator of the items, one task at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come, a failure raised once every task was read). A
    first pass parses every task of the list (a task at a time) and keeps
    the labels of the regions read: the categories, in order of first
    appearance (:mod:`segmill.formats._label_studio_stream`). ``None`` (read
    whole) for ``errors`` other than ``"raise"``, where the categories depend
    on the regions every task drops or keeps; for a JSON-MIN export, whose
    records of one task may lie anywhere in the file; for one task; and for
    JSON the stream cannot vouch for (invalid JSON, whose message names its
    line in the whole file). ``selection``: one part of :func:`shards`, a run
    of the tasks, which carries what the first pass found.
    """
    s = ReadSettings.of(path, errors, annotations, predictions, image_root)
    if not s.policy.raising:
        return None
    parts = stream_tasks(s, selection)
    if parts is None:
        return None
    ds, items = parts
    return ds, validated(items, ds.categories, s.path)


def shards(path, n: int, errors: str = "raise", annotations: str = "all", predictions: bool = False,
           image_root=None) -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of tasks of about equal bytes of JSON.

    ``None`` where :func:`stream` reads whole (the file is parsed once to
    tell: that parse is the stream's first pass, whose findings each
    selection carries). Annotation ids run across the whole export: a part
    numbers from 1 and a sharded run renumbers.
    """
    s = ReadSettings.of(path, errors, annotations, predictions, image_root)
    return shard_tasks(s, n) if s.policy.raising else None


def by_annotator(path, **options) -> dict:
    """One dataset per annotator of an export, ``{annotator: Dataset}`` (for ``segmill.agree.compare``).

    Reads the export once to find the annotators (``attributes["annotator"]``),
    then once per annotator with ``annotations=<annotator>``.
    """
    options.pop("annotations", None)
    everyone = read(path, **options)
    names = []
    for _, a in everyone.annotations():
        who = a.attributes.get("annotator")
        if who is not None and who not in names:
            names.append(who)
    return {str(who): read(path, annotations=str(who), **options) for who in names}


register_format(
    FormatSpec(
        name="label_studio",
        example="label_studio/tasks.json",
        description="Label Studio JSON / JSON-MIN export (polygons, rectangles, brush RLE masks, keypoints; "
                    "percent coordinates)",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=write,
        write_stream=write_stream,
        write_stream_any=True,
        output="file",
        annotators=by_annotator,
        options=(
            ERRORS,
            Option("annotations", "reader", "which annotations of a task: all, latest, none, or an annotator's "
                   "email or user id", default="all"),
            Option("predictions", "reader", "read the tasks' predictions too (regions with a score)", kind="bool",
                   default=False),
            Option("image_root", "reader", "folder the image references are resolved in (default: the export's "
                   "folder)", kind="path"),
            Option("indent", "writer", "JSON indentation", kind="int", default=2),
            Option("image_prefix", "writer", "put before an image's file name to make data.image when the item "
                   "has no Label Studio reference (e.g. /data/local-files/?d=images/)", default=""),
        ),
    )
)
