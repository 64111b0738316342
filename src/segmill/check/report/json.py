"""JSON report: :meth:`CheckResult.to_dict`, pretty-printed, with ``summary["fixable"]``.

The text is exactly ``json.dumps(result.to_dict(), indent=2,
ensure_ascii=False, allow_nan=False)`` plus a newline, where the summary also
counts the findings ``segmill fix`` would fix (``"fixable"``) and those only
``segmill fix --unsafe-fixes`` would (``"unsafe_fixable"``), the last keys of
``summary`` (added here unless the result's own summary has them). The standard library
encodes indented JSON in pure Python, one generator step per token, which
costs tens of seconds for a few hundred thousand findings; :func:`_dumps`
writes the same text with less work per value, and each finding is turned
into a dict only while it is written and given away as a chunk
(:func:`json_chunks`): the report is never held whole. Anything it does not
know how to write exactly as :mod:`json` would (a value of an unexpected
type, a cycle) sends that part (the head, or one finding) to
:func:`json.dumps`, indented to its place: the same text.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Iterator

from .._tally import tally_of

__all__ = ["Spliced", "document_chunks", "json_chunks", "json_text", "list_chunks", "render_json"]

_INF = float("inf")


class _Unusual(Exception):
    """A value :func:`_dumps` leaves to :mod:`json` (which words any error)."""


def _float(o: float) -> str:
    if o != o or o == _INF or o == -_INF:
        raise _Unusual  # json raises "Out of range float values are not JSON compliant"
    return float.__repr__(o)


def _key(k) -> str:
    if isinstance(k, str):
        return encode_basestring(k)
    if isinstance(k, float):
        return encode_basestring(_float(k))
    if k is True:
        return '"true"'
    if k is False:
        return '"false"'
    if k is None:
        return '"null"'
    if isinstance(k, int):
        return encode_basestring(int.__repr__(k))
    raise _Unusual


def _scalar(o):
    """The JSON text of a non-container value, or None for a list, tuple or dict."""
    t = type(o)
    if t is str:
        return encode_basestring(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if t is int:
        return int.__repr__(o)
    if t is float:
        return _float(o)
    # Subclasses, in the order json tests them.
    if isinstance(o, str):
        return encode_basestring(o)
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return _float(o)
    if isinstance(o, (list, tuple, dict)):
        return None
    raise _Unusual


#: Encoded dict keys with their separator (findings repeat a few dozen keys a million times).
_KEY_TEXT: dict = {}


def _key_text(k) -> str:
    got = _KEY_TEXT.get(k) if type(k) is str else None
    if got is None:
        got = _key(k) + ": "
        if type(k) is str and len(_KEY_TEXT) < 4096:
            _KEY_TEXT[k] = got
    return got


_NONFINITE = frozenset(("nan", "inf", "-inf"))  # float.__repr__ of the values json refuses here


def _text(o, indent: str) -> str:
    """The JSON text of ``o`` at nesting ``indent`` (json's ``indent=2`` layout)."""
    t = type(o)
    # The plain types first, inline (the same answers as _scalar, which decides the rest).
    if t is str:
        return encode_basestring(o)
    if t is int:
        return int.__repr__(o)
    if t is float:
        return _float(o)
    if o is None:
        return "null"
    text = _scalar(o)
    if text is not None:
        return text
    if len(indent) > 400:
        raise _Unusual  # deeper than any result; maybe a cycle: json words it
    inner = indent + "  "
    if isinstance(o, dict):
        return _dict_text(o, indent, inner) if o else "{}"
    if not o:
        return "[]"
    return "[\n" + inner + (",\n" + inner).join([_text(v, inner) for v in o]) + "\n" + indent + "]"


def _dict_text(o: dict, indent: str, inner: str) -> str:
    """A non-empty dict: plain keys and values written inline (no call per value), the rest by :func:`_text`."""
    keys = _KEY_TEXT
    enc = encode_basestring
    irepr = int.__repr__
    frepr = float.__repr__
    items = []
    add = items.append
    for k, v in o.items():
        kt = keys.get(k) if type(k) is str else None
        if kt is None:
            kt = _key_text(k)
        t = type(v)
        if t is str:
            add(kt + enc(v))
        elif t is int:
            add(kt + irepr(v))
        elif t is float:
            vt = frepr(v)
            if vt in _NONFINITE:
                raise _Unusual
            add(kt + vt)
        elif v is None:
            add(kt + "null")
        else:
            add(kt + _text(v, inner))
    return "{\n" + inner + (",\n" + inner).join(items) + "\n" + indent + "}"


def _head(result, tally) -> dict:
    """:meth:`CheckResult.head_dict` with ``summary["fixable"]`` (``"unsafe_fixable"``): how many findings
    ``segmill fix`` (only ``--unsafe-fixes``) would fix."""
    head = result.head_dict(tally)
    summary = head.get("summary")
    if isinstance(summary, dict) and "fixable" not in summary:
        summary["fixable"] = tally.fixable
        summary["unsafe_fixable"] = tally.unsafe
    return head


def json_text(o, indent: str) -> str:
    """``json.dumps(o, indent=2, ensure_ascii=False, allow_nan=False)`` at nesting ``indent`` (its lines after
    the first start with ``indent``): :func:`_text`'s, or :func:`json.dumps`'s where it gives up."""
    try:
        return _text(o, indent)
    except (_Unusual, RecursionError):
        # json's indented text of a nested value is its own with every line break indented (strings
        # hold no raw line break: json escapes them)
        return json.dumps(o, indent=2, ensure_ascii=False, allow_nan=False).replace("\n", "\n" + indent)


def json_chunks(result) -> Iterator[str]:
    """:meth:`CheckResult.to_dict` as indented JSON: the head, then one chunk per finding, then the end."""
    head = json_text(_head(result, tally_of(result)), "")  # every key but the last, "findings"
    yield head[:-2] + ",\n  " + _key("findings") + ": "  # the head without its closing "\n}"
    yield from list_chunks((f.to_dict() for f in result.findings), "    ")  # one string per finding
    yield "\n}\n"


def list_chunks(values, indent: str) -> Iterator[str]:
    """The JSON list of ``values`` as :func:`json_text` writes it with items at ``indent``, a value a chunk.

    ``[]`` when there is none; else the closing bracket two spaces less in.
    """
    return _chunked(values, indent, lambda v: json_text(v, indent))


def _chunked(values, indent: str, text) -> Iterator[str]:
    """The JSON list of ``values``, each written by ``text`` at ``indent``, a value a chunk."""
    sep = "[\n" + indent
    for v in values:
        yield sep + text(v)
        sep = ",\n" + indent
    yield "[]" if sep[0] == "[" else "\n" + indent[:-2] + "]"


class Spliced:
    """A list in a document given to :func:`document_chunks`, written a value at a time as it is iterated
    (a report's change list that waits on disk, :class:`segmill._entries.Entries`)."""

    def __init__(self, values):
        self.values = values

    @classmethod
    def or_list(cls, values, spliced: bool):
        """``values`` as a :class:`Spliced` (iterated as it is written) when ``spliced``, else as a list."""
        return cls(iter(values)) if spliced else list(values)


def document_chunks(doc, convert=None, ensure_ascii: bool = False) -> Iterator[str]:
    """``json.dumps(convert(doc), indent=2, ensure_ascii=ensure_ascii, allow_nan=False)`` plus a newline, as
    chunks: each :class:`Spliced` list in ``doc`` written a value a chunk, never held whole.

    Parameters
    ----------
    doc : dict or list
        JSON data, with :class:`Spliced` lists anywhere in its dicts and lists.
    convert : callable, optional
        Applied to ``doc`` (its spliced lists replaced) and to each spliced value as it is written: what
        makes them JSON-ready (:func:`segmill.check.finding.jsonable`).
    ensure_ascii : bool, default False
        As :func:`json.dumps`'s.
    """
    convert = convert or (lambda o: o)
    spliced: list = []

    def marked(o):
        if isinstance(o, Spliced):
            spliced.append(o.values)
            return f"\x00spliced {len(spliced) - 1}\x00"  # a string no report holds
        if isinstance(o, dict):
            return {k: marked(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [marked(v) for v in o]
        return o

    text = json.dumps(convert(marked(doc)), indent=2, ensure_ascii=ensure_ascii, allow_nan=False) + "\n"
    at = 0
    for k, values in enumerate(spliced):
        mark = json.dumps(f"\x00spliced {k}\x00")
        where = text.index(mark, at)
        line = text[text.rfind("\n", 0, where) + 1:where]
        yield text[at:where]
        indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
        if ensure_ascii:  # json's text, its line breaks indented to the value's place
            yield from _chunked(values, indent, lambda v: json.dumps(
                convert(v), indent=2, allow_nan=False).replace("\n", "\n" + indent))
        else:
            yield from _chunked(values, indent, lambda v: json_text(convert(v), indent))
        at = where + len(mark)
    yield text[at:]


def render_json(result) -> str:
    """The result as indented JSON with a trailing newline."""
    return "".join(json_chunks(result))
