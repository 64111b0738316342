"""What a remote path is: its scheme, the package that serves it, its name without credentials."""

from __future__ import annotations

import re

from ..errors import UsageError, one_line

#: Scheme -> the package fsspec needs for it (``None``: fsspec alone). All come with ``segmill[cloud]``.
SCHEMES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
           "abfss": "adlfs", "http": "aiohttp", "https": "aiohttp", "memory": None, "file": None}

#: Schemes segmill reads but never writes.
READ_ONLY = frozenset({"http", "https"})

#: How to get every package a scheme needs.
EXTRA = "pip install 'segmill[cloud]'"

# Two characters at least: ``C://data`` is a Windows drive, not a scheme.
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+)://")
# ``user:secret@`` in any URL, and any ``token@`` in an HTTP one (``abfs://container@account`` is not a secret).
_USERINFO = re.compile(r"(://)[^/@\s:]*:[^/@\s]*@|(?<=https://)[^/@\s]*@|(?<=http://)[^/@\s]*@", re.IGNORECASE)


def scheme_of(path) -> str | None:
    """The scheme of ``path`` in lower case (``"s3"``), or ``None`` for a local path.

    Only a string can be a URL: a :class:`pathlib.Path` has lost the ``//`` already.
    """
    if not isinstance(path, str):
        return None
    m = _URL.match(path)
    return m.group(1).lower() if m else None


def is_remote(path) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) that segmill reads and writes through fsspec.

    Examples
    --------
    >>> is_remote("s3://bucket/coco.json"), is_remote("memory://x"), is_remote("data/coco.json")
    (True, True, False)
    """
    return scheme_of(path) is not None


def redact(text) -> str:
    """``text`` with the credentials of any URL in it removed (``https://user:key@host`` -> ``https://host``)."""
    return one_line(_USERINFO.sub(lambda m: m.group(1) or "", str(text)))


def known_scheme(url: str) -> str:
    """The scheme of ``url``; :class:`~segmill.errors.UsageError` when segmill does not serve it."""
    scheme = scheme_of(url)
    if scheme not in SCHEMES:
        raise UsageError(f"{redact(url)}: unknown storage scheme {scheme!r}; segmill reads and writes "
                         + ", ".join(f"{s}://" for s in SCHEMES))
    return scheme


def file_path(url: str) -> str:
    """The local path of a ``file://`` URL (``file:///data/x.json`` -> ``/data/x.json``)."""
    rest = url[len("file://"):]
    if rest.startswith("localhost/"):
        rest = rest[len("localhost"):]
    return rest


def key_text(url: str) -> str:
    """The part of ``url`` after the scheme, without empty parts: what two URLs of one store compare by."""
    rest = url.split("://", 1)[1]
    return "/".join(p for p in rest.split("/") if p)


def url_for(scheme: str, fs_path: str) -> str:
    """The URL of ``fs_path`` (a path as the filesystem object names it) under ``scheme``."""
    if "://" in fs_path:  # http(s) filesystems name paths by their full URL
        return fs_path
    return f"{scheme}://{fs_path.lstrip('/')}"
