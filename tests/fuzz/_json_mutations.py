"""The JSON mutation engine of the COCO-family fuzz tests (loaded by path: ``--import-mode=importlib``).

A mutation is ``(op, where, pick)``: ``op`` is one of :data:`OPS`, ``where``
chooses a path in the document (any key or index, the root excluded) and
``pick`` a value from the caller's lists. After the mutations, one byte edit
``(kind, pos, byte)`` flips or truncates the encoded text.
"""

from __future__ import annotations

import copy
import json

from hypothesis import strategies as st

OPS = ["replace", "replace", "replace", "literal", "size", "delete", "duplicate"]
mutation = st.tuples(st.sampled_from(OPS), st.integers(0, 10**6), st.integers(0, 10**3))


def byte_edits(none_weight: int = 3):
    """Byte edits, ``none`` ``none_weight`` times as likely as a flip or a truncation."""
    return st.tuples(st.sampled_from(["none"] * none_weight + ["flip", "truncate"]), st.integers(0, 10**7),
                     st.integers(0, 255))


def paths(doc, prefix=()):
    """Every path (a tuple of keys and indices) in a JSON document, the root excluded."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for k, v in items:
        out.append(prefix + (k,))
        if len(out) < 500:
            out.extend(paths(v, prefix + (k,)))
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
    text = json.dumps(doc)
    for marker, literal in spliced.items():
        text = text.replace(marker, literal)
    data = text.encode("utf-8")
    kind, pos, byte = edit
    if kind == "flip" and data:
        i = pos % len(data)
        data = data[:i] + bytes([byte]) + data[i + 1:]
    elif kind == "truncate":
        data = data[: pos % (len(data) + 1)]
    return data
