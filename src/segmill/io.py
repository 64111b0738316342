"""``segmill.read``, ``segmill.write`` and ``segmill.convert``: detect, look up, call."""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import _atomic, remote
from .errors import InputError, LossError, OutputError, SegmillError, UsageError
from .formats import Detection, FormatSpec, detect, get_format
from .losses import WriteReport, describe
from .model import Dataset, carried_meta
from .streaming import Stream
from .validate import ErrorPolicy, brief

__all__ = ["read", "stream", "write", "write_stream", "convert", "ConvertOptions", "detect_format", "check_destination", "split_targets",
           "SPLIT_FIELD"]


def detect_format(path) -> tuple[str, Detection]:
    """The name of the format at ``path`` and the detector's reason."""
    if remote.is_remote(path):  # a URL: a local copy is detected (segmill.remote)
        return remote.detect_format(path)
    spec, det = detect(path)
    return spec.name, det


def read(path, format: str | None = None, **options) -> Dataset:
    """Read a dataset.

    Parameters
    ----------
    path : str or os.PathLike
        A file or folder, as the format expects.
    format : str, optional
        A registered format name; detected when omitted.
    **options
        Passed to the format's reader (see ``segmill formats``).

    Raises
    ------
    segmill.errors.InputError
        Unreadable or malformed input; the message names the file and record.
    segmill.errors.FormatDetectionError
        The format cannot be told.
    """
    if remote.is_remote(path):  # a URL: a local copy is read (segmill.remote)
        return remote.read(path, format, **options)
    p, spec = _reader(path, format, options)
    return _stamped(spec.read(p, **options), spec, p)


def stream(path, format: str | None = None, **options) -> Stream:
    """Read a dataset one item at a time (see :mod:`segmill.streaming`).

    Parameters and errors are those of :func:`read`. The items are checked
    as :func:`read` checks them (and image ids for uniqueness) as they are
    yielded, so an error may come after some items were used.

    Returns
    -------
    Stream
        ``header`` (the dataset without its items: categories, dataset-level
        fields, ``meta``) and the items, once, in order; ``bounded`` when the
        format yields items as it reads them, else the dataset was read whole.
    """
    if remote.is_remote(path):  # a URL: a local copy is streamed, removed after the items (segmill.remote)
        return remote.stream(path, format, **options)
    p, spec = _reader(path, format, options)
    st = _bounded(p, spec, options)
    if st is not None:
        return st
    ds = _stamped(spec.read(p, **options), spec, p)
    items, ds.items = ds.items, []
    return Stream(ds, iter(items), False, p)


def stream_bounded(path, format: str | None = None, **options) -> Stream | None:
    """:func:`stream` when the format yields this path's items as it reads them, else ``None`` (nothing read).

    For a caller with another way to handle a dataset read whole (``segmill
    check`` checks it leniently); a remote path is ``None`` too.
    """
    if remote.is_remote(path):
        return None
    p, spec = _reader(path, format, options)
    return _bounded(p, spec, options)


def _bounded(p: Path, spec: FormatSpec, options: dict) -> Stream | None:
    parts = spec.stream(p, **options) if spec.stream is not None else None
    if parts is None:
        return None
    header, items = parts
    return Stream(_stamped(header, spec, p), items, True, p)


def _reader(path, format, options) -> tuple[Path, FormatSpec]:
    """The path and the format spec a read uses (the format detected when not given), checked."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or directory", p)
    if "errors" in options:
        ErrorPolicy.of(options["errors"])  # an unknown mode is a usage error, whatever the reader
    spec = get_format(format) if format else detect(p)[0]
    if spec.read is None:
        raise InputError(f"segmill cannot read the {spec.name} format", p)
    return p, spec


def _stamped(ds: Dataset, spec: FormatSpec, p: Path) -> Dataset:
    ds.meta.setdefault("source_format", spec.name)
    ds.meta.setdefault("source_path", str(p))
    return ds


def write(dataset: Dataset, path, format: str, *, strict: bool = False, force: bool = False,
          sources=(), **options) -> WriteReport:
    """Write a dataset atomically.

    Parameters
    ----------
    dataset : Dataset
    path : str or os.PathLike
        Destination file or folder (as the format writes). A path holding
        ``{split}`` is a pattern: one output per split, ``{split}`` replaced
        by the split's name (``out/instances_{split}.json`` gives
        ``out/instances_train.json``, ...); every image must have a split.
    format : str
        A registered format name.
    strict : bool, default False
        Raise :class:`~segmill.errors.LossError` (writing nothing) if the
        format cannot hold everything.
    force : bool, default False
        Replace an existing destination, but only an empty one or a previous
        output of ``format`` (its detector recognizes it), and only of the
        same kind (file or folder). See ``docs/cli.md`` for the rules.
    sources : iterable of paths, optional
        Inputs the dataset was made from; ``dataset.meta["source_path"]`` is
        always one. The destination may never be, contain or lie inside a
        source, with or without ``force``.
    **options
        Passed to the format's writer.

    Returns
    -------
    WriteReport
        Every loss, with its code. For a ``{split}`` pattern, one report for
        all the outputs (``path`` is the pattern; a note names each file).

    Notes
    -----
    With a ``{split}`` pattern, every destination is checked before anything
    is written and all are moved into place only when every split was
    written: nothing is left behind when one fails.
    """
    if remote.is_remote(path):  # a URL: staged locally, then uploaded (segmill.remote)
        return remote.write(dataset, path, format, strict=strict, force=force, sources=sources, **options)
    spec = get_format(format)
    if spec.write is None:
        raise InputError(f"segmill cannot write the {spec.name} format", path)
    targets = split_targets(dataset, path)
    rules = destination_rules(spec, dataset, sources)
    _refuse_early([dst for dst, _ in targets], force, rules)
    writes = [(dst, rules, lambda tmp, part=part: spec.write(part, tmp, **options)) for dst, part in targets]
    joined = len(targets) != 1 or SPLIT_FIELD in str(path)
    return _write_staged(writes, spec, path, strict=strict, force=force, joined=joined)


def write_staged(write_to: Callable, path, format: str, header: Dataset, *, strict: bool = False,
                 force: bool = False, sources=()) -> WriteReport:
    """Write atomically what ``write_to(tmp)`` writes, as :func:`write` writes a dataset (same rules and errors).

    For a writer that is not the format's :attr:`FormatSpec.write` (a sharded
    conversion's assembled parts). ``path`` is one local destination;
    ``header`` is the dataset without its items (its ``source_path`` is a
    source); ``write_to`` returns the :class:`WriteReport`.
    """
    spec = get_format(format)
    return _write_staged([(Path(path), destination_rules(spec, header, sources), write_to)], spec, path,
                         strict=strict, force=force, joined=False)


def _refuse_early(destinations: list, force: bool, rules: dict) -> None:
    """Refuse any of several destinations before writing one (``staged`` checks each again)."""
    if len(destinations) > 1:
        for dst in destinations:
            _atomic.check_destination(dst, force=force, **rules)


def _write_staged(writes, spec, path, *, strict: bool, force: bool, joined: bool) -> WriteReport:
    """The one staged write: each ``(destination, rules, write_to)`` of ``writes`` (read as it goes)
    written by ``write_to(tmp) -> WriteReport`` into a staging path, all moved into place once every
    one is written.

    ``rules`` are the destination's :func:`destination_rules`; ``path`` the destination asked for
    (what errors name); ``joined``: one report covers the outputs (a ``{split}`` pattern). Each
    ``write_to`` is let go once it has written, so what it holds (a stream's index) goes before the
    next destination's is made.
    """
    try:
        with contextlib.ExitStack() as stack:
            reports = []
            for dst, rules, write_to in writes:
                tmp = stack.enter_context(_atomic.staged(dst, force=force, **rules))
                with _named_as(tmp, dst):
                    rep = write_to(tmp)
                del write_to
                rep.path, rep.format = str(dst), spec.name
                reports.append(rep)
            report = _joined(reports, path) if joined else reports[0]
            if strict and report.losses:
                raise LossError(_loss_message(report))
    except OSError as exc:
        _environment_error(exc, path)
    return report


@contextlib.contextmanager
def _named_as(tmp, dst):
    """An :class:`InputError` a writer raises about its staging path ``tmp`` names ``dst`` instead."""
    try:
        yield
    except InputError as exc:
        staged = str(tmp)
        if exc.path is None or not (exc.path == staged or exc.path.startswith(staged + os.sep)):
            raise
        raise InputError(exc.message, str(dst) + exc.path[len(staged):], exc.record) from None


def _environment_error(exc: OSError, path) -> None:
    """Re-raise ``exc``, as an :class:`OutputError` naming ``path`` when the environment caused it (disk full...)."""
    if isinstance(exc, SegmillError) or exc.errno not in _ENVIRONMENT_ERRNOS:
        raise exc
    raise OutputError(f"cannot write {Path(path)}: {exc.strerror or exc}"
                      + (f" ({Path(exc.filename).name[:80]})" if exc.filename else "")) from None


#: The placeholder of a destination written one output per split.
SPLIT_FIELD = "{split}"


def split_targets(dataset: Dataset, path) -> list[tuple[Path, Dataset]]:
    """``[(destination, dataset)]``: ``path`` itself, or one per split when it holds ``{split}``.

    Each split's dataset has every category and the images of that split, in
    order; splits come in the order their first image does.

    Raises
    ------
    segmill.errors.UsageError
        A pattern, but no image, an image without a split, or a split name
        that cannot be part of a file name.
    """
    text = str(path)
    if SPLIT_FIELD not in text:
        return [(Path(path), dataset)]
    parts: dict = {}
    for item in dataset.items:
        if item.split is None:
            raise UsageError(f"{text}: the destination names one output per split ({SPLIT_FIELD}), but image "
                             f"id {brief(item.id)} has no split (assign splits first, e.g. --split)")
        parts.setdefault(item.split, []).append(item)
    if not parts:
        raise UsageError(f"{text}: the destination names one output per split ({SPLIT_FIELD}), "
                         "but there is no image to split")
    out = []
    for name, items in parts.items():
        if not isinstance(name, str) or not _SPLIT_NAME.fullmatch(name):
            raise UsageError(f"{text}: split {brief(name)} cannot be part of a file name "
                             "(letters, digits, '_', '.', '-')")
        part = copy.copy(dataset)
        part.items, part.meta = items, carried_meta(dataset.meta, items)
        out.append((Path(text.replace(SPLIT_FIELD, name)), part))
    return out


_SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _joined(reports: list[WriteReport], pattern) -> WriteReport:
    """One report for the outputs of a ``{split}`` pattern."""
    out = WriteReport(path=str(pattern), format=reports[0].format)
    for r in reports:
        out.extend(r)
        out.items += r.items
        out.annotations += r.annotations
        out.files += r.files
    out.notes.append("one output per split: " + ", ".join(f"{r.path} ({r.items} images)" for r in reports))
    return out


#: Errors of the place written to, not of segmill: a usage error (exit 2), nothing left behind.
_ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS,
                                 errno.ENAMETOOLONG, errno.EMLINK, errno.EFBIG})


def destination_rules(spec, dataset: Dataset | None = None, sources=()) -> dict:
    """The keyword arguments of :func:`segmill._atomic.check_destination` for writing ``spec``."""
    srcs = [*sources]
    if dataset is not None and dataset.meta.get("source_path"):
        srcs.append(dataset.meta["source_path"])
    return {"sources": srcs, "kind": spec.output, "format_name": spec.name,
            "recognizes": lambda p: spec.detect(p).confidence >= 0.5}


def check_destination(dst, format: str, *, force: bool = False, sources=()) -> None:
    """Raise :class:`~segmill.errors.InputError` now if writing ``format`` to ``dst`` would be refused.

    Commands call this before reading, so a refused destination costs no work.
    """
    if remote.is_remote(dst):
        return remote.check_destination(dst, format, force=force, sources=sources)
    _atomic.check_destination(dst, force=force, **destination_rules(get_format(format), None, sources))


def _loss_message(report: WriteReport) -> str:
    lines = [f"the {report.format} writer would lose information (strict mode, nothing written):"]
    for code, n in report.summary().items():
        lines.append(f"  {code} x{n}: {describe(code)}")
    return "\n".join(lines)


@dataclass(frozen=True)
class ConvertOptions:
    """What :func:`convert` passes to the reader and the writer, and the edit between them.

    Parameters
    ----------
    read : dict, optional
        Keyword arguments of the format's reader.
    write : dict, optional
        Keyword arguments of the format's writer.
    edit : callable, optional
        ``edit(dataset) -> dataset``, called once the dataset is read and
        before it is written (for example a
        :class:`segmill.transforms.Editor`); what it raises stops the
        conversion with nothing written. An edit with an ``edit_stream``
        method (as the Editor has) edits a source that streams as a stream.
    """

    read: dict | None = None
    write: dict | None = None
    edit: Callable[[Dataset], Dataset] | None = None


def convert(src, dst, from_format: str | None = None, to_format: str | None = None, *,
            strict: bool = False, force: bool = False, options: ConvertOptions | None = None) -> WriteReport:
    """Read ``src`` and write it to ``dst``; never writes into ``src``.

    ``to_format`` defaults to the source format. ``options`` holds the
    reader's and the writer's keyword arguments and an optional edit applied
    in between (see :class:`ConvertOptions`); ``dst`` may hold ``{split}``
    (see :func:`write`).

    Examples
    --------
    >>> from segmill.transforms import DropCrowd, Editor
    >>> edit = Editor([DropCrowd()])
    >>> convert("fixtures/coco/annotations.json", "/tmp/x.json", options=ConvertOptions(edit=edit))  # doctest: +SKIP
    """
    opts = options or ConvertOptions()
    if to_format is not None and SPLIT_FIELD not in str(dst):
        check_destination(dst, to_format, force=force, sources=[src])
    streamed = _streamed_convert(src, dst, from_format, to_format, opts, strict, force)
    if streamed is not None:
        return streamed
    ds = read(src, from_format, **(opts.read or {}))
    if opts.edit is not None:
        ds = opts.edit(ds)
    return write(ds, dst, to_format or ds.meta["source_format"], strict=strict, force=force, sources=[src],
                 **(opts.write or {}))


def _streamed_convert(src, dst, from_format, to_format, opts: ConvertOptions, strict: bool,
                      force: bool) -> WriteReport | None:
    """:func:`convert` in the memory of a stream, when it can be (else ``None``, nothing done).

    It can when the source streams bounded and the target format writes
    streams (:attr:`FormatSpec.write_stream`: to the source's own format, or
    to one that takes any reader's stream), to a local destination, with no
    edit or with an edit that streams (``opts.edit.edit_stream``, as
    :class:`segmill.transforms.Editor` has); each file of a ``{split}``
    pattern is then written in a pass of its own.
    """
    edit_stream = getattr(opts.edit, "edit_stream", None)
    if opts.edit is not None and edit_stream is None or remote.is_remote(src) or remote.is_remote(dst):
        return None
    by_split = SPLIT_FIELD in str(dst)
    if by_split and edit_stream is None:
        return None
    p = Path(src)
    if not p.exists():
        return None  # read() words it
    spec = get_format(from_format) if from_format else detect(p)[0]
    target = get_format(to_format) if to_format else spec
    if spec.stream is None or target.write_stream is None or not (target is spec or target.write_stream_any):
        return None
    read_opts, write_opts = opts.read or {}, opts.write or {}
    st = stream(p, spec.name, **read_opts)
    if not st.bounded:  # read whole after all: the same dataset as read() (tests/test_coco_stream.py)
        ds = st.to_dataset()
        return write(ds if opts.edit is None else opts.edit(ds), dst, target.name, strict=strict, force=force,
                     sources=[src], **write_opts)
    if edit_stream is None:
        return write_stream(st, dst, target.name, strict=strict, force=force, sources=[src], **write_opts)
    opened = [st]  # the first pass uses the stream opened here
    del st  # held by `opened` only, so that its index goes once that pass is done
    made = edit_stream(lambda: opened.pop() if opened else stream(p, spec.name, **read_opts), by_split)
    if made is None:
        return None
    targets = [(Path(str(dst).replace(SPLIT_FIELD, name)), make) for name, make in made] if by_split \
        else [(Path(dst), made)]
    return _write_streams(targets, target, strict, force, [src], write_opts, dst, joined=by_split)


def write_stream(st, path, format: str, *, strict: bool = False, force: bool = False, sources=(),
                 **options) -> WriteReport:
    """Write the items of a stream atomically with the format's :attr:`FormatSpec.write_stream`.

    Parameters are those of :func:`write`, for a :class:`~segmill.streaming.Stream`
    (or an object with its ``header``, iteration and ``annotation_positions``:
    ``segmill merge``'s merged stream) in place of a dataset; ``path`` is one
    local destination. An exception raised while the items are read leaves
    nothing written.

    Raises
    ------
    segmill.errors.UsageError
        The format cannot write a stream.
    """
    spec = get_format(format)
    if spec.write_stream is None:
        raise UsageError(f"the {spec.name} writer cannot write a stream")
    return _write_streams([(Path(path), lambda: st)], spec, strict, force, sources, options, path)


def _write_streams(targets, spec, strict: bool, force: bool, sources, options: dict, path,
                   joined: bool = False) -> WriteReport:
    """Write each ``(destination, make_stream)`` of ``targets``, all moved into place once every one is written.

    ``path`` is the destination asked for; ``joined``: it is a ``{split}``
    pattern, and one report covers the outputs. Each stream is opened when
    its turn comes (its header gives the destination rules).
    """
    _refuse_early([dst for dst, _ in targets], force, destination_rules(spec, None, sources))

    def writes():
        for dst, make in targets:
            st = make()
            yield dst, destination_rules(spec, st.header, sources), \
                lambda tmp, st=st: spec.write_stream(st, tmp, **options)
            st = None  # a pass's stream (its index) goes before the next one is opened

    return _write_staged(writes(), spec, path, strict=strict, force=force, joined=joined)
