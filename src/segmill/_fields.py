"""An object's fields in bulk: set without ``__init__``, read into a dict.

:func:`without_init` is for code that has already checked every value: a
reader that validated each value, or the check engine making hundreds of
thousands of findings, would otherwise pay for checks (``__post_init__``) or
for a frozen dataclass's ``object.__setattr__`` calls a second time.
:func:`fields_dict` is the plain part of a ``to_dict``.
"""

from __future__ import annotations

from typing import Any, Iterable, TypeVar

__all__ = ["without_init", "fields_dict"]

T = TypeVar("T")


def without_init(cls: type[T], **fields: Any) -> T:
    """An instance of ``cls`` whose attributes are ``fields``, set without calling ``__init__``.

    Parameters
    ----------
    cls : type
        A class whose instances keep their attributes in ``__dict__`` (a
        dataclass without ``__slots__``, frozen or not).
    **fields
        The attributes, in the order ``__init__`` would set them.

    Returns
    -------
    object
        The new instance. Nothing is checked: the caller vouches for every
        value, and for giving every field the class does not default.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def fields_dict(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    """``{name: obj.name}`` for each of ``names``, in that order.

    Parameters
    ----------
    obj : object
    names : iterable of str
        Attribute (or property) names, in the order the dict should have.

    Returns
    -------
    dict
        The values as they are (not converted for JSON).
    """
    return {n: getattr(obj, n) for n in names}
