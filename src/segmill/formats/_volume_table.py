"""Label tables of label volumes: which name each label value has.

Read (beside the volume file(s), or given with ``labels=FILE``):

* an ITK-SNAP label description file (``labels.txt``): ``#`` comment lines,
  then one label a line, ``IDX R G B A VIS MSH "NAME"``;
* a JSON or YAML mapping ``{value: name}`` (``labels.json``, ``labels.yaml``
  / ``labels.yml``).

Written: ``labels.txt`` in ITK-SNAP's layout (value 0, "Clear Label", first,
as ITK-SNAP writes it; it names no category).
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import jsonio
from ..errors import InputError, LimitError
from ..jsonio import MAX_JSON_DEPTH
from ..validate import brief, int_in, string

__all__ = ["MAX_LABEL", "TABLE_NAMES", "LabelEntry", "find_table", "read_table", "table_text"]

#: The label-table file names looked for beside the volume(s), in this order.
TABLE_NAMES = ("labels.txt", "labels.json", "labels.yaml", "labels.yml")
#: The largest label value segmill reads or writes (16-bit label maps when painting).
MAX_LABEL = 0xFFFF
#: The most bytes a label table may have.
MAX_TABLE_BYTES = 16 << 20

_ITK_LINE = re.compile(r'^\s*(-?\d{1,9})\s+(\d{1,9})\s+(\d{1,9})\s+(\d{1,9})\s+([-+0-9.eE]{1,32})'
                       r'\s+(\d{1,9})\s+(\d{1,9})\s+"(.*)"\s*$')


class LabelEntry(tuple):
    """``(value, name, color or None)``."""

    __slots__ = ()

    def __new__(cls, value: int, name: str, color=None):
        return super().__new__(cls, (value, name, color))

    value = property(lambda self: self[0])
    name = property(lambda self: self[1])
    color = property(lambda self: self[2])


def find_table(folder: Path) -> Path | None:
    """The first of :data:`TABLE_NAMES` that is a file in ``folder``, else ``None``."""
    for name in TABLE_NAMES:
        f = folder / name
        if f.is_file():
            return f
    return None


def read_table(path: Path) -> dict[int, LabelEntry]:
    """``{value: LabelEntry}`` of a label table (value 0 is left out: it is background).

    Raises
    ------
    segmill.errors.InputError
        Unreadable, malformed, a value out of 0..65535, a name twice.
    """
    p = Path(path)
    try:
        if p.stat().st_size > MAX_TABLE_BYTES:
            raise LimitError(f"label table is larger than {MAX_TABLE_BYTES >> 20} MiB", p)
    except OSError as exc:
        raise InputError(f"cannot read the label table: {exc.strerror or exc}", p) from None
    suffix = p.suffix.lower()
    if suffix == ".json":
        doc, _ = jsonio.load(p)
        entries = _mapping(doc, p)
    elif suffix in (".yaml", ".yml"):
        entries = _mapping(_yaml(p), p)
    else:
        entries = _itk(p)
    out: dict[int, LabelEntry] = {}
    names: set = set()
    for e in entries:
        if e.value == 0:
            continue
        if e.value in out:
            raise InputError(f"label value {e.value} is listed twice", p)
        if e.name in names:
            raise InputError(f"label name {brief(e.name)} is listed twice", p)
        names.add(e.name)
        out[e.value] = e
    return out


def _text(p: Path) -> str:
    try:
        return p.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the label table: {exc.strerror or exc}", p) from None
    except UnicodeDecodeError:
        raise InputError("label table is not UTF-8 text", p) from None


def _itk(p: Path) -> list[LabelEntry]:
    """The entries of an ITK-SNAP label description file."""
    out = []
    for n, line in enumerate(_text(p).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _ITK_LINE.match(line)
        if m is None:
            raise InputError('expected an ITK-SNAP label line: IDX R G B A VIS MSH "NAME"', p, f"line {n}")
        value = int_in(int(m.group(1)), "label value", p, f"line {n}", lo=0, hi=MAX_LABEL)
        rgb = tuple(int_in(int(m.group(i)), "colour", p, f"line {n}", lo=0, hi=255) for i in (2, 3, 4))
        name = _name(m.group(8), p, f"line {n}")
        out.append(LabelEntry(value, name, rgb))
    return out


def _mapping(doc, p: Path) -> list[LabelEntry]:
    """The entries of a ``{value: name}`` mapping (keys are integers or their decimal strings)."""
    if not isinstance(doc, dict):
        raise InputError(f"a label table must be a mapping {{value: name}}, got {brief(doc)}", p)
    out = []
    for k, name in doc.items():
        rec = f"entry {brief(k)}"
        if isinstance(k, bool) or not isinstance(k, (int, str)) or (isinstance(k, str) and not k.isdigit()):
            raise InputError(f"label value {brief(k)} is not a non-negative integer", p, rec)
        if isinstance(k, str) and len(k) > 6:
            raise InputError(f"label value {brief(k)} is out of 0..{MAX_LABEL}", p, rec)
        value = int_in(int(k), "label value", p, rec, lo=0, hi=MAX_LABEL)
        out.append(LabelEntry(value, _name(name, p, rec)))
    return out


def _yaml(p: Path):
    # lazy: start-up time (yaml is only needed for a YAML label table)
    import yaml

    text = _text(p)
    depth = top = 0
    for ch in text:  # PyYAML takes quadratic time to reach its RecursionError on deep flow nesting
        depth += ch in "[{"
        depth -= ch in "]}"
        top = max(top, depth)
    if top > MAX_JSON_DEPTH:
        raise LimitError(f"YAML nested deeper than {MAX_JSON_DEPTH} levels", p)
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {getattr(exc, 'problem', None) or type(exc).__name__}", p) from None
    except RecursionError:
        raise LimitError("YAML nested too deeply", p) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"invalid YAML value: {exc}", p) from None


def table_text(entries: list[LabelEntry]) -> str:
    """An ITK-SNAP label description file holding ``entries`` (value, name, colour)."""
    lines = ["################################################",
             "# ITK-SnAP Label Description File (written by segmill)",
             "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
             "################################################",
             '    0     0    0    0        0  0  0    "Clear Label"']
    for e in entries:
        r, g, b = e.color or _color(e.value)
        lines.append(f'{e.value:5d} {r:5d} {g:4d} {b:4d}        1  1  1    "{e.name}"')
    return "\n".join(lines) + "\n"


def _color(value: int) -> tuple[int, int, int]:
    """A distinct colour for a label value without one."""
    return ((value * 97) % 200 + 55, (value * 57) % 200 + 55, (value * 31) % 200 + 55)


def name_ok(name: str) -> bool:
    """Whether ``name`` reads back from an ITK-SNAP line as itself (UTF-8 text on one line, no quote)."""
    return (bool(name) and '"' not in name and len(name.splitlines()) == 1 and name == name.strip("\r\n")
            and encodable(name))


def encodable(name: str) -> bool:
    """Whether ``name`` can be written as UTF-8 (no lone surrogate)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _name(value, path, rec) -> str:
    """A label name from a table: a non-empty string that UTF-8 can hold."""
    name = string(value, "label name", path, rec)
    if not name:
        raise InputError("empty label name", path, rec)
    if not encodable(name):
        raise InputError(f"label name {brief(name)} is not valid Unicode text", path, rec)
    return name
