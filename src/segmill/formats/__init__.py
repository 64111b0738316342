"""The format registry: one module per format, registered in one place.

Each format module (``segmill/formats/<name>.py`` or a subpackage) calls
:func:`register_format` with a :class:`FormatSpec` at import time. The modules
are imported lazily, the first time the registry is consulted, so ``import
segmill`` stays fast.

A reader is ``read(path, **options) -> Dataset``; a writer is
``write(dataset, path, **options) -> WriteReport`` and may assume ``path`` does
not exist yet (:func:`segmill.write` stages output in a temporary sibling and
moves it into place only when the writer succeeds). A detector is
``detect(path) -> Detection`` and must be cheap: look at names and at most the
first few KiB of a file.

Conventions every reader follows
--------------------------------
``errors="raise"`` (default)
    Malformed input raises :class:`~segmill.errors.InputError` naming the
    file and the record (image id / annotation id / line), and the reader
    calls :meth:`Dataset.validate` before returning.
``errors="skip"``
    Bad records are dropped and each one is listed in
    ``dataset.meta["skipped"]`` as ``{"path", "record", "reason"}`` (the CLI's
    ``--skip-invalid`` prints and counts them: never silently).
``errors="keep"``
    For ``segmill check``: bad geometry is kept as
    :class:`~segmill.geometry.InvalidGeometry`, duplicate ids and dangling
    references are kept as found, and :meth:`Dataset.validate` is not called.
    Only input that cannot be parsed at all (broken JSON/XML/PNG) still raises.

``raster="coco"|"pil"`` is the option name wherever a reader or writer must
turn polygons into pixels. Paths read from inside a dataset (image names,
mask files) are resolved against the dataset root and refused when they
escape it (see :func:`segmill.paths.resolve_inside`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import FormatDetectionError, spelling
from .options import Option

__all__ = ["Detection", "FormatSpec", "Option", "register_format", "formats", "get_format", "detect", "NO"]

# Modules imported by the registry, in the order detection ties are listed.
_MODULES = (
    "coco",
    "coco_results",
    "coco_panoptic",
    "voc",
    "masks",
    "yolo",
    "labelme",
    "cvat",
    "cityscapes",
    "ade20k",
    "mapillary",
    "open_images",
    "label_studio",
    "kitti",
    "camvid",
    "image_masks",
    "sa1b",
    "geojson",
    "nifti",
    "nrrd",
    "dicom_seg",
)


@dataclass(frozen=True)
class Detection:
    """How sure a detector is that a path holds its format, and why."""

    confidence: float
    reason: str


NO = Detection(0.0, "")


@dataclass(frozen=True)
class FormatSpec:
    """A registered format.

    Parameters
    ----------
    name : str
        What users type after ``--from`` / ``--to``.
    description : str
    detect : callable
        ``detect(path) -> Detection``.
    read, write : callable, optional
        ``None`` when the format is write-only or read-only.
    output : {"file", "dir"}
        What the writer produces at its path.
    options : tuple of Option
        Every keyword the reader and the writer take, declared as data
        (:mod:`segmill.formats.options`): the CLI flags, their routing and
        ``segmill formats`` come from here.
    annotators : callable, optional
        ``annotators(path, **reader_options) -> {annotator: Dataset}`` for a
        format whose one file holds several annotators' work on the same
        images (a Label Studio export): ``segmill agree`` given that one file
        compares them.
    stream : callable, optional
        ``stream(path, **reader_options) -> (header, items)``: the dataset
        without its items, then an iterator yielding them one at a time as
        they are read (see :mod:`segmill.streaming`); ``None`` when the
        reader needs the whole file first.
    write_stream : callable, optional
        ``write_stream(stream, path, **writer_options) -> WriteReport``: write
        a bounded :class:`~segmill.streaming.Stream` with the bytes
        :attr:`write` gives for the whole dataset, in the memory of the
        stream (``segmill convert`` uses it when the source streams). A
        stream of this same format's reader only, unless
        :attr:`write_stream_any`.
    write_stream_any : bool, default False
        :attr:`write_stream` takes any reader's stream (VOC: an image's files
        need only that image), not only its own format's (COCO: the file
        order of the annotations, and its ids, come from its own reader).
    shards : callable, optional
        ``shards(path, n, **reader_options) -> list of selections``: the
        dataset cut into at most ``n`` parts read apart (groups of files, in
        reading order), each a picklable value that ``stream(path,
        selection=s, **reader_options)`` reads alone, as the whole read
        would (see :mod:`segmill.distributed`). ``None`` (the attribute, or
        what it returns for a path the format reads whole): sharded runs cut
        the dataset into ranges of item positions instead.
    example : str
        A sample this format reads, as a path under the repository's
        ``fixtures/`` folder (``""``: none). Not used at run time: the generic
        tests (detection of the writer's own output, the conversion matrix,
        the fuzz harness and its seeds) start from it, so a new format needs
        no edit to them.
    """

    name: str
    description: str
    detect: Callable[[Path], Detection]
    read: Callable | None = None
    write: Callable | None = None
    output: str = "dir"
    options: tuple[Option, ...] = ()
    annotators: Callable | None = None
    stream: Callable | None = None
    example: str = ""
    shards: Callable | None = None
    write_stream: Callable | None = None
    write_stream_any: bool = False

    def option(self, name: str, side: str) -> Option | None:
        """The option ``name`` of this format's ``side`` (``"reader"``/``"writer"``), or ``None``."""
        if (side == "reader" and self.read is None) or (side == "writer" and self.write is None):
            return None
        return next((o for o in self.options if o.name == name and o.on(side)), None)


_REGISTRY: dict[str, FormatSpec] = {}
_loaded = False


def register_format(spec: FormatSpec) -> None:
    """Add a format to the registry (a module calls this at import time).

    Raises
    ------
    ValueError
        A malformed declaration: bad ``output``, a name registered twice,
        options that are not :class:`~segmill.formats.options.Option`, or one
        option declared twice for a side.
    """
    if spec.output not in ("file", "dir"):
        raise ValueError(f"output must be 'file' or 'dir', got {spec.output!r}")
    if spec.name in _REGISTRY:
        raise ValueError(f"format {spec.name!r} is registered twice")
    seen = set()
    for opt in spec.options:
        if not isinstance(opt, Option):
            raise ValueError(f"format {spec.name!r}: options must be Option declarations, got {opt!r}")
        for side in ("reader", "writer"):
            if opt.on(side):
                if (opt.name, side) in seen:
                    raise ValueError(f"format {spec.name!r}: option {opt.name!r} declared twice for the {side}")
                seen.add((opt.name, side))
    _REGISTRY[spec.name] = spec


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in _MODULES:  # a missing module is an ImportError: a format never vanishes silently
        importlib.import_module(f"{__name__}.{name}")
    # Registration order is import order, which callers may have changed by importing a format module
    # first: put the registry in _MODULES order (it orders listings and detection ties), others after.
    rank = {f"{__name__}.{m}": i for i, m in enumerate(_MODULES)}
    ordered = sorted(_REGISTRY.values(), key=lambda s: rank.get(getattr(s.detect, "__module__", ""), len(rank)))
    _REGISTRY.clear()
    _REGISTRY.update((s.name, s) for s in ordered)


def formats() -> dict[str, FormatSpec]:
    """Every registered format by name."""
    _load()
    return dict(_REGISTRY)


def get_format(name: str) -> FormatSpec:
    """The format called ``name``; a clear error listing the known ones otherwise."""
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise FormatDetectionError(f"unknown format {name!r}; known formats: {known}") from None


def detect(path, threshold: float = 0.5) -> tuple[FormatSpec, Detection]:
    """Tell the format of ``path``.

    Returns the best match. Raises :class:`~segmill.errors.FormatDetectionError`
    when nothing reaches ``threshold`` or two formats tie at the top, listing
    the candidates with their reasons and how the caller names the format
    (:func:`segmill.errors.spelling`: ``format=NAME`` in Python, the running
    command's flag on the command line).
    """
    _load()
    p = Path(path)
    if not p.exists():
        raise FormatDetectionError(f"{p}: no such file or directory")
    scored = []
    for spec in _REGISTRY.values():
        if spec.read is None:
            continue
        try:
            d = spec.detect(p)
        except OSError:
            continue
        if d.confidence > 0:
            scored.append((d.confidence, spec, d))
    scored.sort(key=lambda t: -t[0])
    listing = "; ".join(f"{s.name} ({d.confidence:.2f}: {d.reason})" for _, s, d in scored) or "none"
    if not scored or scored[0][0] < threshold:
        raise FormatDetectionError(f"{p}: cannot tell the format (candidates: {listing}); name it with "
                                   f"{spelling('format')}")
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        raise FormatDetectionError(f"{p}: several formats fit equally well ({listing}); name it with "
                                   f"{spelling('format')}")
    return scored[0][1], scored[0][2]
