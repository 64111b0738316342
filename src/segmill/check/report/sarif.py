"""SARIF 2.1.0: one run, the selected rules as reportingDescriptors, one result per finding."""

from __future__ import annotations

import json
from pathlib import PurePath
from urllib.parse import quote

from ... import __version__
from ..finding import jsonable

__all__ = ["render_sarif", "to_sarif"]

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/segmill/segmill"


def _uri(path: str) -> str:
    """A relative or absolute URI reference for a file path (spaces and the like percent-encoded)."""
    return quote(PurePath(path).as_posix(), safe="/:")


def to_sarif(result) -> dict:
    """The SARIF log as a dict (see :func:`render_sarif`)."""
    index = {r.code: i for i, r in enumerate(result.rules)}
    rules = [
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
    results = []
    for f in result.findings:
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
        results.append(res)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "segmill", "version": __version__, "informationUri": INFO_URI,
                                    "rules": rules}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def render_sarif(result) -> str:
    """The SARIF 2.1.0 log as indented JSON.

    Severities map to SARIF levels ``error``, ``warning`` and ``note``; each
    result carries the finding's fingerprint in ``partialFingerprints`` and
    the image / annotation ids and numbers in ``properties``.
    """
    return json.dumps(to_sarif(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
