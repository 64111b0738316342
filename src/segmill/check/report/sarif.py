"""SARIF 2.1.0: one run, the selected rules as reportingDescriptors, one result per finding."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Iterator
from urllib.parse import quote

from ... import __version__
from ..finding import jsonable

__all__ = ["render_sarif", "sarif_chunks", "to_sarif"]

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/segmill/segmill"


def _uri(path: str) -> str:
    """A relative or absolute URI reference for a file path (spaces and the like percent-encoded)."""
    return quote(PurePath(path).as_posix(), safe="/:")


def _rules(result) -> list[dict]:
    """The reportingDescriptors of the rules that ran."""
    return [
        {
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.doc},
            "help": {"text": r.doc},
            "defaultConfiguration": {"level": _LEVEL[result.severities.get(r.code, r.severity)]},
            "properties": {"family": r.family, "options": jsonable(r.options)},
        }
        for r in result.rules
    ]


def _result(f, index: dict) -> dict:
    """The SARIF result of one finding (``index``: rule code -> position in the rules)."""
    res = {
        "ruleId": f.code,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message},
        "partialFingerprints": {"segmillFinding/v1": f.fingerprint()},
        "properties": {"item_id": f.item_id, "annotation_id": f.annotation_id, "key": f.key,
                       "data": jsonable(f.data)},
    }
    if f.code in index:
        res["ruleIndex"] = index[f.code]
    loc: dict = {}
    if f.file:
        loc["physicalLocation"] = {"artifactLocation": {"uri": _uri(f.file)}}
    logical = f.location().split(": ", 1)[-1] if f.file else f.location()
    loc["logicalLocations"] = [{"name": logical, "kind": "object"}]
    res["locations"] = [loc]
    return res


def _log(result, results) -> dict:
    """The SARIF log of ``result`` with ``results`` as its run's results."""
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "segmill", "version": __version__, "informationUri": INFO_URI,
                                    "rules": _rules(result)}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def _index(result) -> dict:
    """Rule code -> its position in the log's rules."""
    return {r.code: i for i, r in enumerate(result.rules)}


def to_sarif(result) -> dict:
    """The SARIF log as a dict (see :func:`render_sarif`)."""
    index = _index(result)
    return _log(result, [_result(f, index) for f in result.findings])


def render_sarif(result) -> str:
    """The SARIF 2.1.0 log as indented JSON.

    Severities map to SARIF levels ``error``, ``warning`` and ``note``; each
    result carries the finding's fingerprint in ``partialFingerprints`` and
    the image / annotation ids and numbers in ``properties``.
    """
    return "".join(sarif_chunks(result))


#: Where the results go in the log's text (no rule's text holds it).
_HOLE = "segmill:sarif:results-go-here"
#: The indentation of a result in the log: results is a key of the run, in the runs list, in the log.
_AT = " " * 8


def sarif_chunks(result) -> Iterator[str]:
    """:func:`render_sarif`'s text: the log around its results, then one chunk per finding."""
    text = _dumps(_log(result, _HOLE))
    hole = json.dumps(_HOLE)
    if text.count(hole) != 1:  # pragma: no cover - a rule's text holds the marker: the log made whole
        yield _dumps(to_sarif(result))
        return
    before, after = text.split(hole)
    yield before
    # lazy: start-up time (only the renderer asked for is loaded); json.dumps's text without its
    # closures per call (cycles, which no_gc would keep: a few hundred bytes a finding)
    from .json import list_chunks

    index = _index(result)
    yield from list_chunks((_result(f, index) for f in result.findings), _AT)
    yield after


def _dumps(o) -> str:
    """``o`` as the log is written: indented JSON and a newline."""
    return json.dumps(o, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
