"""Tell what is wrong with a geometry a lenient reader kept as InvalidGeometry.

The raw value is re-examined (COCO-style polygon lists and RLE dicts), so one
annotation can show several defects (an odd part and a NaN part); otherwise the
reader's ``code`` or the wording of its reason decides.
"""

from __future__ import annotations

import math
import re

from ...errors import RLEError
from ...geometry import InvalidGeometry
from ...rle import string_to_counts

__all__ = ["classify", "INVALID_CODES"]

#: Codes a lenient reader may put in ``InvalidGeometry.code``.
INVALID_CODES = {"G001", "G002", "G003", "G004", "G007", "G008", "G009", "G010"}

_REASONS = (
    (re.compile(r"at least 3|fewer than 3|\b[0-2] points?\b"), "G001"),
    (re.compile(r"odd number of coordinates|odd coordinate"), "G002"),
    (re.compile(r"nan|infinite|inf\b|not finite", re.I), "G003"),
    (re.compile(r"no parts|empty|no geometry|missing segmentation", re.I), "G004"),
    (re.compile(r"does not match the image size|size mismatch", re.I), "G008"),
    (re.compile(r"outside \[0, ?1\]|outside the image", re.I), "G007"),
    (re.compile(r"counts sum to|sum to|pixels", re.I), "G009"),
)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _polygon_list(raw):
    out = []
    if len(raw) == 0:
        return [("G004", "", "segmentation is an empty list", {})]
    if all(_number(v) for v in raw):  # one flat part without the outer list
        raw = [raw]
    for i, part in enumerate(raw):
        key = f"part {i}"
        if not isinstance(part, (list, tuple)) or not all(_number(v) for v in part):
            out.append(("G010", key, f"polygon part {i} is not a list of numbers", {"part": i}))
            continue
        n = len(part)
        if any(not math.isfinite(v) for v in part):
            out.append(("G003", key, f"polygon part {i} has a NaN or infinite coordinate", {"part": i}))
        if n % 2:
            out.append(("G002", key, f"polygon part {i} has an odd number of coordinates ({n})",
                        {"part": i, "values": n}))
        elif n // 2 < 3:
            out.append(("G001", key, f"polygon part {i} has {n // 2} points; at least 3 are needed",
                        {"part": i, "points": n // 2}))
    return out


def _rle_dict(raw, size):
    s = raw.get("size")
    if not isinstance(s, (list, tuple)) or len(s) != 2 or not all(_number(v) for v in s):
        return [("G010", "", f"RLE size must be [height, width], got {s!r}", {})]
    h, w = int(s[0]), int(s[1])
    counts = raw.get("counts")
    try:
        if isinstance(counts, (str, bytes)):
            counts = string_to_counts(counts)
        total = sum(int(c) for c in counts)
    except (RLEError, TypeError, ValueError):
        total = None
    out = []
    if size is not None and (h, w) != tuple(size):
        # counts_fit: the counts cover the image exactly, so segmill fix may give the RLE the image's size.
        out.append(("G008", "", f"RLE size [{h}, {w}] does not match the image size [{size[0]}, {size[1]}]",
                    {"rle_size": [h, w], "image_size": list(size), "counts_fit": total == size[0] * size[1]}))
    if total is None:
        out.append(("G010", "", "RLE counts cannot be decoded", {}))
        return out
    if total != h * w:
        out.append(("G009", "", f"RLE counts sum to {total}, but a {h}x{w} mask has {h * w} pixels",
                    {"sum": total, "pixels": h * w}))
    return out


def classify(geom: InvalidGeometry, size=None) -> list[tuple[str, str, str, dict]]:
    """``(code, key, message, data)`` for each defect found in ``geom``.

    Parameters
    ----------
    geom : InvalidGeometry
    size : (height, width), optional
        The image size, for the RLE size check.
    """
    raw = geom.raw
    found: list = []
    if isinstance(raw, (list, tuple)):
        found = _polygon_list(raw)
    elif isinstance(raw, dict) and "counts" in raw and "size" in raw:
        found = _rle_dict(raw, size)
    if found:
        return found
    if geom.code in INVALID_CODES:
        return [(geom.code, "", geom.reason, {})]
    for pattern, code in _REASONS:
        if pattern.search(geom.reason or ""):
            return [(code, "", geom.reason, {})]
    return [("G010", "", geom.reason or "malformed geometry", {})]
