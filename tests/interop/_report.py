"""One row of the README's interop table, recorded by an interop test (see tools/interop_table.py).

A test calls :func:`report_row` once per comparison; when
``$SEGMILL_INTEROP_REPORT`` names a file, the row is appended to it as one
JSON line, and ``tools/interop_table.py`` turns the rows into the table.
"""

from __future__ import annotations

import json
import os


def masks_text(masks) -> str:
    """A ``masks`` cell: text as given, or ``{"equal", "min_iou", "mean_iou"}`` worded."""
    if not isinstance(masks, dict):
        return str(masks)
    if masks.get("equal"):
        return "equal"
    lo, mean = masks.get("min_iou"), masks.get("mean_iou")
    if lo is None:
        return "differ"
    return f"IoU min {lo:.3f}" + (f", mean {mean:.3f}" if mean is not None else "")


def report_row(fmt: str, client: str, direction: str, loads, counts_equal, masks, note: str = "") -> None:
    """Append one outcome to ``$SEGMILL_INTEROP_REPORT`` when it is set."""
    target = os.environ.get("SEGMILL_INTEROP_REPORT")
    if not target:
        return
    row = {"format": fmt, "client": client, "direction": direction, "loads": loads, "counts_equal": counts_equal,
           "masks": masks_text(masks), "note": note}
    with open(target, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
