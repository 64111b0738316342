"""The JSON mutation engines of the fuzz tests (loaded by path: ``--import-mode=importlib``).

Two engines, each a list of mutations then one byte edit ``(kind, pos, byte)``
that flips or truncates the encoded text (:func:`edit_bytes`):

- :func:`mutate` (the COCO family): a mutation is ``(op, where, pick)``;
  ``op`` is one of :data:`OPS`, ``where`` chooses a path in the document (any
  key or index, the root excluded) and ``pick`` a value from the caller's
  lists of hostile values, sizes and literals.
- :func:`mutate_values` (LabelMe, Label Studio): a mutation is
  ``(op, where, value, depth)`` (:func:`value_mutations`); ``op`` is one of
  :data:`VALUE_OPS`: a hostile value put in, a key deleted, a value wrapped
  ``depth`` lists deep, or another value of the same document copied in.

Around them, what the JSON fuzz tests share: :func:`file_round_trip` (read a
mutated file, write what is read back), :func:`regression_cases` and
:func:`expect_case_outcome` (the saved reproducers) and
:func:`deep_document_is_refused`.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path

from hypothesis import strategies as st

OPS = ["replace", "replace", "replace", "literal", "size", "delete", "duplicate"]
#: Hostile values every COCO-family test puts in (each adds its own after them): wrong types, special floats,
#: huge integers, short lists.
BASE_HOSTILE = [
    [], {}, "x", "", None, True, False, math.nan, math.inf, -math.inf, -1, 0, 1.5, 1e308, 2**70, -(2**70),
    [42], [1, 2, 3], [None, None, None, None], {"id": 1},
]
#: JSON text no Python value dumps to, spliced in by every COCO-family test (each may add its own after them).
BASE_LITERALS = [
    "[" * 3000 + "]" * 3000, '{"a":' * 3000 + "1" + "}" * 3000, "[" * 60 + "1" + "]" * 60,
    "1e999", "-1e999", "1" + "0" * 400, '"\\ud800"', "NaN", "Infinity",
]
mutation = st.tuples(st.sampled_from(OPS), st.integers(0, 10**6), st.integers(0, 10**3))


def byte_edits(none_weight: int = 3):
    """Byte edits, ``none`` ``none_weight`` times as likely as a flip or a truncation."""
    return st.tuples(st.sampled_from(["none"] * none_weight + ["flip", "truncate"]), st.integers(0, 10**7),
                     st.integers(0, 255))


def paths(doc, prefix=(), *, limit: int | None = 500, max_index: int | None = None):
    """Every path (a tuple of keys and indices) in a JSON document, the root excluded.

    A container's children are followed while it has fewer than ``limit``
    paths (None: always); list items past ``max_index`` are left out (a
    brush's bytes, a polygon's points: a few are enough).
    """
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for k, v in items:
        if max_index is not None and isinstance(k, int) and k > max_index:
            break
        out.append(prefix + (k,))
        if limit is None or len(out) < limit:
            out.extend(paths(v, prefix + (k,), limit=limit, max_index=max_index))
    return out


def _apply(doc, op: str, path: tuple, pick: int, spliced: dict, values) -> None:
    hostile, sizes, literals = values
    *parents, last = path
    node = doc
    for k in parents:
        node = node[k]
    if op == "delete":
        del node[last]
    elif op == "duplicate":  # the record (or the value) twice
        if isinstance(node, list):
            node.append(copy.deepcopy(node[last]))
        else:
            node[last] = [node[last], copy.deepcopy(node[last])]
    elif op == "size":
        node[last] = sizes[pick % len(sizes)]
    elif op == "literal":  # json.dumps cannot produce these: spliced in as text
        marker = f"__LITERAL{len(spliced)}__"
        spliced[json.dumps(marker)] = literals[pick % len(literals)]
        node[last] = marker
    else:
        node[last] = copy.deepcopy(hostile[pick % len(hostile)])


def mutate(doc, ops, edit, *, hostile, sizes, literals) -> bytes:
    """``doc`` (not changed) with ``ops`` applied, as JSON bytes, then one byte edit."""
    doc = copy.deepcopy(doc)
    spliced: dict = {}
    for op, where, pick in ops:
        found = paths(doc)
        if not found:
            break
        try:
            _apply(doc, op, found[where % len(found)], pick, spliced, (hostile, sizes, literals))
        except (KeyError, IndexError, TypeError):
            continue
    return edit_bytes(_spliced(doc, spliced), edit)


def _spliced(doc, spliced: dict) -> bytes:
    """``doc`` as JSON bytes, each marker of ``spliced`` replaced by its text."""
    text = json.dumps(doc)
    for marker, literal in spliced.items():
        text = text.replace(marker, literal)
    return text.encode("utf-8")


def edit_bytes(data: bytes, edit) -> bytes:
    """``data`` with one byte edit ``(kind, pos, byte)``: ``flip`` puts ``byte`` at ``pos``, ``truncate`` cuts
    at ``pos`` (both taken modulo the length); any other kind leaves it as it is."""
    kind, pos, byte = edit
    if kind == "flip" and data:
        i = pos % len(data)
        data = data[:i] + bytes([byte]) + data[i + 1:]
    elif kind == "truncate":
        data = data[: pos % (len(data) + 1)]
    return data


def regression_cases(folder: Path) -> list[Path]:
    """The reproducers saved in ``tests/fuzz/corpus/<format>`` (none when the folder is absent)."""
    return sorted(folder.iterdir()) if folder.is_dir() else []


def expect_case_outcome(case: Path, mode: str, ds) -> None:
    """A regression case named ``ok_*`` reads in ``raise`` mode, any other is refused (the CLI replay of
    ``test_regression_corpus.py`` expects the same)."""
    if mode == "raise":
        assert (ds is not None) == case.name.startswith("ok_"), "the CLI replay expects this outcome"


def file_round_trip(data: bytes, name: str, fmt: str, mode: str, reads_or_refuses, writes_or_refuses, **read_opts):
    """Read ``data``, saved as ``in/<name>`` in a fresh folder, as ``fmt`` in ``errors`` mode ``mode``; write
    what is read back as ``fmt`` (``out/written.json``). Returns the dataset, or None when refused."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        path = src / name
        path.write_bytes(data)
        ds = reads_or_refuses(path, fmt, errors=mode, **read_opts)
        if ds is not None:
            out = Path(tmp) / "out"
            out.mkdir()
            writes_or_refuses(ds, out / "written.json", fmt)
        return ds


# ----------------------------------------------------------------------------- values (LabelMe, Label Studio)
VALUE_OPS = ["replace"] * 4 + ["delete", "wrap", "copy", "copy"]
#: Byte edits of :func:`mutate_values`: none six times as likely as a flip or a truncation.
value_byte_edit = st.tuples(st.sampled_from(["flip", "truncate"] + ["none"] * 6), st.integers(0, 10**6),
                            st.integers(0, 255))


def value_mutations(hostile: list):
    """``(op, where, value, depth)``: ``value`` one of ``hostile``, ``depth`` the nesting of a ``wrap``."""
    return st.tuples(st.sampled_from(VALUE_OPS), st.integers(0, 10**6), st.sampled_from(hostile),
                     st.sampled_from([1, 2, 2, 70, 3000]))


def deep(depth: int, leaf=0):
    """``leaf`` inside ``depth`` nested lists."""
    out = leaf
    for _ in range(depth):
        out = [out]
    return out


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _apply_value(doc, op: str, path: tuple, value, spliced: dict) -> None:
    *parents, last = path
    node = _get(doc, parents)
    if op == "delete":
        del node[last]
    elif op == "copy":  # another value of the same document: a type swap between real fields
        node[last] = copy.deepcopy(value)
    elif op == "wrap" and value > 500:  # json.dumps recurses: splice very deep nesting in as text
        marker = f"__DEEP{len(spliced)}__"
        spliced[json.dumps(marker)] = "[" * value + json.dumps(node[last]) + "]" * value
        node[last] = marker
    elif op == "wrap":
        node[last] = deep(value, node[last])
    else:
        node[last] = value


def mutate_values(doc, ops, edit, *, limit: int | None = None, max_index: int | None = None) -> bytes:
    """``doc`` (changed in place) with the :func:`value_mutations` ``ops`` applied, as JSON bytes, then one
    byte edit; ``limit`` and ``max_index`` choose the paths as in :func:`paths`."""
    spliced: dict = {}
    for op, where, value, depth in ops:
        found = paths(doc, limit=limit, max_index=max_index)
        if not found:
            break
        path = found[where % len(found)]
        if op == "copy":
            value = _get(doc, found[(where * 7919 + depth) % len(found)])
        try:
            _apply_value(doc, op, path, depth if op == "wrap" else copy.deepcopy(value), spliced)
        except (KeyError, IndexError, TypeError):
            continue
    return edit_bytes(_spliced(doc, spliced), edit)


def deep_document_is_refused(reads_or_refuses, doc, marker: str, depth: int, fmt: str) -> None:
    """``doc`` with the string ``marker`` replaced by ``depth`` nested lists around a 0, read as ``fmt``, is
    refused (json.dumps recurses: the deep part is spliced in as text)."""
    text = json.dumps(doc).replace(json.dumps(marker), "[" * depth + "0" + "]" * depth)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "deep.json"
        f.write_text(text)
        assert reads_or_refuses(f, fmt) is None
