"""Reading a class mapping from a file (``--map-file``): YAML, or two columns of text.

* ``.yaml`` / ``.yml``: one flat mapping, ``old: new`` per entry (quote names
  YAML would read as numbers, booleans or null: ``"1": person``);
* anything else: one pair a line, ``old new`` (two names without spaces) or
  ``old,new`` (names may hold spaces; surrounding spaces are stripped);
  blank lines and lines starting with ``#`` are skipped, and so is a ``#``
  comment after whitespace.

An old name given twice is an error, whatever the two new names are.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, LimitError
from ..limits import MAX_JSON_DEPTH
from ..validate import brief, string

__all__ = ["read_map_file", "MAX_MAP_FILE_BYTES"]

#: Largest mapping file read (a mapping of a million classes fits).
MAX_MAP_FILE_BYTES = 64 * 1024 * 1024


def read_map_file(path) -> dict[str, str]:
    """The ``{old: new}`` mapping in the file at ``path`` (see the module docs).

    Raises
    ------
    segmill.errors.InputError
        Unreadable, malformed, a value that is not a name, an old name twice;
        the message names the file and the line or entry.
    """
    p = Path(path)
    text = _text(p)
    if p.suffix.lower() in (".yaml", ".yml"):
        return _yaml_pairs(text, p)
    return _text_pairs(text, p)


def _text(p: Path) -> str:
    try:
        if p.stat().st_size > MAX_MAP_FILE_BYTES:
            raise LimitError(f"a mapping file over {MAX_MAP_FILE_BYTES:,} bytes", p)
        data = p.read_bytes()
    except IsADirectoryError:
        raise InputError("is a directory, not a mapping file", p) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", p) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is not UTF-8 text (byte {exc.start})", p) from None


def _add(out: dict, old, new, p: Path, record: str) -> None:
    old = string(old, "the old class name", p, record, max_len=4096, allow_empty=False)
    new = string(new, "the new class name", p, record, max_len=4096, allow_empty=False)
    if old in out:
        raise InputError(f"class {brief(old)} is mapped twice", p, record)
    out[old] = new


def _text_pairs(text: str, p: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for sep in (" #", "\t#"):
            if sep in line:
                line = line[: line.index(sep)].rstrip()
        if "," in line:
            fields = [f.strip() for f in line.split(",")]
            form = "'old,new' (one comma)"
        else:
            fields = line.split()
            form = "'old new' (two names without spaces)"
        if len(fields) != 2 or not all(fields):
            raise InputError(f"expected {form}, got {brief(raw)}", p, f"line {n}")
        _add(out, fields[0], fields[1], p, f"line {n}")
    return out


def _yaml_pairs(text: str, p: Path) -> dict[str, str]:
    # lazy: start-up time (yaml is only needed for a YAML map file)
    import yaml

    if _bracket_depth(text) > MAX_JSON_DEPTH:  # PyYAML takes quadratic time to reach its RecursionError
        raise LimitError(f"YAML nested deeper than {MAX_JSON_DEPTH} levels", p)
    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"invalid YAML{where}: {problem}", p) from None
    except RecursionError:
        raise LimitError("YAML nested too deeply", p) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"invalid YAML value: {exc}", p) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError(f"expected a mapping 'old: new', got {type(doc).__name__}", p)
    out: dict[str, str] = {}
    for k, v in doc.items():
        _add(out, k, v, p, f"entry {brief(k)}")
    return out


def _bracket_depth(text: str) -> int:
    """Deepest nesting of YAML flow brackets, counted without parsing (may only overstate it)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest
