"""Run the interop tests and record their outcomes for the README's interop table.

Each test in ``tests/interop/`` appends one row per comparison (format,
client, direction, loads, instance counts equal, masks, note) to the JSON-lines
file named by ``$SEGMILL_INTEROP_REPORT``. This script runs them with that set,
writes the rows to ``docs/interop-results.json`` (sorted, one per format,
client and direction) and regenerates the README table from it
(``tools/gen_docs.py``, block ``interop``). The clients' environments come from
``bash tools/interop_env.sh``.

Usage::

    python tools/interop_table.py            # run, record, regenerate
    python tools/interop_table.py -k yolo    # extra arguments go to pytest
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "interop-results.json"


def collect(pytest_args: list[str]) -> tuple[int, list[dict]]:
    """Run the interop tests; ``(pytest exit code, rows they reported)``."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rows.jsonl"
        env = {**os.environ, "SEGMILL_INTEROP_REPORT": str(report)}
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/interop",
                                *pytest_args], cwd=ROOT, env=env)
        lines = report.read_text(encoding="utf-8").splitlines() if report.exists() else []
    rows = {}
    for line in lines:
        row = json.loads(line)
        rows[(row["format"], row["client"], row.get("direction", ""))] = row
    return code, [rows[k] for k in sorted(rows)]


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    code, rows = collect(args)
    if code != 0:
        print(f"interop tests failed (pytest exit {code}); {RESULTS.name} left as it was", file=sys.stderr)
        return code
    RESULTS.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(rows)} rows -> {RESULTS.relative_to(ROOT)}")
    return subprocess.call([sys.executable, str(ROOT / "tools" / "gen_docs.py")], cwd=ROOT)


if __name__ == "__main__":
    raise SystemExit(main())
