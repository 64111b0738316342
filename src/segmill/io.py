"""``segmill.read``, ``segmill.write`` and ``segmill.convert``: detect, look up, call."""

from __future__ import annotations

import errno
from pathlib import Path

from . import _atomic
from .errors import InputError, LossError, OutputError, SegmillError
from .formats import Detection, detect, get_format
from .losses import WriteReport, describe
from .model import Dataset
from .validate import ErrorPolicy

__all__ = ["read", "write", "convert", "detect_format", "check_destination"]


def detect_format(path) -> tuple[str, Detection]:
    """The name of the format at ``path`` and the detector's reason."""
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
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or directory", p)
    if "errors" in options:
        ErrorPolicy.of(options["errors"])  # an unknown mode is a usage error, whatever the reader
    spec = get_format(format) if format else detect(p)[0]
    if spec.read is None:
        raise InputError(f"segmill cannot read the {spec.name} format", p)
    ds = spec.read(p, **options)
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
        Destination file or folder (as the format writes).
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
        Every loss, with its code.
    """
    spec = get_format(format)
    if spec.write is None:
        raise InputError(f"segmill cannot write the {spec.name} format", path)
    dst = Path(path)
    rules = destination_rules(spec, dataset, sources)
    try:
        with _atomic.staged(dst, force=force, **rules) as tmp:
            report = spec.write(dataset, tmp, **options)
            report.path = str(dst)
            report.format = spec.name
            if strict and report.losses:
                raise LossError(_loss_message(report))
    except OSError as exc:
        if isinstance(exc, SegmillError) or exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        raise OutputError(f"cannot write {dst}: {exc.strerror or exc}"
                          + (f" ({Path(exc.filename).name[:80]})" if exc.filename else "")) from None
    return report


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
    _atomic.check_destination(dst, force=force, **destination_rules(get_format(format), None, sources))


def _loss_message(report: WriteReport) -> str:
    lines = [f"the {report.format} writer would lose information (strict mode, nothing written):"]
    for code, n in report.summary().items():
        lines.append(f"  {code} x{n}: {describe(code)}")
    return "\n".join(lines)


def convert(src, dst, from_format: str | None = None, to_format: str | None = None, *,
            strict: bool = False, force: bool = False, read_options: dict | None = None,
            write_options: dict | None = None, on_read=None) -> WriteReport:
    """Read ``src`` and write it to ``dst``; never writes into ``src``.

    ``to_format`` defaults to the source format. ``on_read``, when given, is
    called with the dataset once it is read (the CLI reports skipped records).
    """
    if to_format is not None:
        check_destination(dst, to_format, force=force, sources=[src])
    ds = read(src, from_format, **(read_options or {}))
    if on_read is not None:
        on_read(ds)
    return write(ds, dst, to_format or ds.meta["source_format"], strict=strict, force=force, sources=[src],
                 **(write_options or {}))
