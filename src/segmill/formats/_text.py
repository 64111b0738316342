"""Text files and strings the line-based formats read and write (YOLO, LabelMe label lists, VOC class lists)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

__all__ = ["is_unicode", "read_utf8"]


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8.

    JSON's and YAML's ``"\\ud800"`` escapes give lone surrogates, which
    cannot: such a name could reach no output file and no message.

    Parameters
    ----------
    text : str

    Returns
    -------
    bool
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_utf8(path: Path, what: str = "the file") -> str:
    """The text of a UTF-8 file.

    Parameters
    ----------
    path : pathlib.Path
    what : str
        How messages name the file (``"the file"``, ``"the label list"``).

    Returns
    -------
    str

    Raises
    ------
    segmill.errors.InputError
        The file cannot be read, or is not UTF-8 (the message gives the
        offending byte's offset).
    """
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text (byte {exc.start})", path) from None
