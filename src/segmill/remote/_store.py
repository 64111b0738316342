"""Opening a store through fsspec, and turning its failures into segmill errors."""

from __future__ import annotations

import contextlib

from ..errors import InputError, SegmillError, UsageError
from ._urls import EXTRA, SCHEMES, known_scheme, redact


def filesystem(url: str, storage_options: dict | None = None):
    """``(fs, path)``: the fsspec filesystem serving ``url`` and the path it names there.

    Parameters
    ----------
    url : str
        A URL of one of :data:`~segmill.remote._urls.SCHEMES`.
    storage_options : dict, optional
        Keyword arguments of the filesystem (``{"endpoint_url": ...}`` for
        S3); fsspec adds its configuration and ``FSSPEC_<SCHEME>_<KEY>``
        environment variables.

    Raises
    ------
    segmill.errors.UsageError
        An unknown scheme, fsspec or the store's package missing (naming the
        extra), or storage options the store rejects.
    """
    scheme = known_scheme(url)
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise UsageError(f"{redact(url)}: remote paths need fsspec: {EXTRA}") from None
    try:
        return url_to_fs(url, **(storage_options or {}))
    except ImportError as exc:
        package = SCHEMES[scheme] or "fsspec"
        raise UsageError(f"{redact(url)}: {scheme}:// needs the {package} package: {EXTRA} "
                         f"({redact(exc)[:200]})") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{redact(url)}: the {scheme} store refuses its options: {redact(exc)[:200]}") from None


def reason(exc: BaseException) -> str:
    """A short, credential-free description of a store's exception."""
    text = redact(exc)[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def guarded(url: str, doing: str, error: type = InputError):
    """Turn a store's failure inside the block into ``error`` naming ``url`` and the reason.

    ``SegmillError`` passes through; a missing file becomes ``no such file or
    directory``; anything else the store raises (network, authentication,
    protocol errors, which fsspec back-ends do not share a base class for)
    becomes ``error`` ("cannot <doing> <url>: <reason>").
    """
    try:
        yield
    except SegmillError:
        raise
    except FileNotFoundError:
        raise error(f"cannot {doing} {redact(url)}: no such file or directory") from None
    except ImportError as exc:  # a back-end importing a helper package lazily
        raise UsageError(f"{redact(url)}: a package the store needs is missing: {EXTRA} ({reason(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - every other failure here is the store's (see docstring)
        raise error(f"cannot {doing} {redact(url)}: {reason(exc)}") from None
