"""Accepted findings: a baseline file the gate does not count against a change.

The file is JSON, sorted and stable so it diffs well in review::

    {
      "segmill_baseline": 1,
      "findings": [
        {"fingerprint": "3f2a...", "code": "C201", "message": "..."},
        ...
      ]
    }

Only ``fingerprint`` matters for matching; ``code`` and ``message`` are there
for the people reading the file. A fingerprint in the baseline accepts every
finding with that fingerprint (check findings and gate findings alike).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .._atomic import write_bytes
from ..errors import InputError

VERSION = 1


@dataclass
class Baseline:
    """A set of accepted finding fingerprints.

    Examples
    --------
    >>> b = Baseline({"abc": {"code": "C101", "message": "x"}})
    >>> b.accepts("abc"), b.accepts("def")
    (True, False)
    """

    entries: dict[str, dict] = field(default_factory=dict)
    path: str | None = None

    def accepts(self, fingerprint: str) -> bool:
        return fingerprint in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_findings(cls, findings) -> "Baseline":
        """A baseline accepting every one of ``findings`` (objects with ``fingerprint()``)."""
        return cls({f.fingerprint(): {"code": f.code, "message": f.message} for f in findings})

    def to_json(self) -> str:
        rows = [{"fingerprint": fp, **self.entries[fp]} for fp in sorted(self.entries)]
        rows.sort(key=lambda r: (str(r.get("code")), r["fingerprint"]))
        return json.dumps({"segmill_baseline": VERSION, "findings": rows}, indent=2, ensure_ascii=False) + "\n"

    def write(self, path) -> None:
        """Write atomically to ``path``."""
        write_bytes(path, self.to_json().encode("utf-8"))


def load_baseline(path) -> Baseline:
    """Read a baseline file; :class:`~segmill.errors.InputError` naming the file when malformed."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("baseline file not found", p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the baseline: {exc}", p) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg}", p, f"line {exc.lineno}") from None
    if not isinstance(data, dict) or data.get("segmill_baseline") != VERSION or not isinstance(
        data.get("findings"), list
    ):
        raise InputError(f'not a segmill baseline (expected {{"segmill_baseline": {VERSION}, "findings": [...]}})', p)
    entries = {}
    for i, row in enumerate(data["findings"]):
        if not isinstance(row, dict) or not isinstance(row.get("fingerprint"), str):
            raise InputError("each finding needs a string 'fingerprint'", p, f"findings[{i}]")
        entries[row["fingerprint"]] = {k: v for k, v in row.items() if k != "fingerprint"}
    return Baseline(entries, str(p))
