"""What ``segmill tile`` and ``untile`` did: one record per clip, drop and join, and the area accounting."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CODES", "TileReport"]

#: The codes of the records (tile: T1xx, untile: T2xx).
CODES = {
    "T101": "an object cut by a chip border: the part inside the chip kept",
    "T102": "a part under --min-visible dropped",
    "T103": "an annotation that has no area and is not a point or a line (or is invalid) dropped",
    "T201": "parts of an object joined across chip borders",
    "T202": "a mask part kept without joining (untile joins polygons only)",
    "T203": "a part outside its chip's core dropped (the neighbouring chip's copy kept)",
}


@dataclass
class TileReport:
    """Records ``{code, image, chip, annotation_id, visible}`` and the area accounting per object.

    Attributes
    ----------
    records : list of dict
    accounting : dict
        ``objects`` (area objects seen), ``area`` (their total area),
        ``kept`` and ``dropped`` (the areas of the parts kept and dropped,
        each counted in the core of one chip only), ``max_error`` (the
        largest relative difference between an object's area and its kept +
        dropped parts), ``chips_area`` (the kept parts summed over every
        chip, overlaps counted as often as they are cut).
    chips, items : int
    notes : list of str
    """

    records: list[dict] = field(default_factory=list)
    accounting: dict[str, Any] = field(default_factory=lambda: {
        "objects": 0, "area": 0.0, "kept": 0.0, "dropped": 0.0, "chips_area": 0.0, "max_error": 0.0})
    chips: int = 0
    items: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, code: str, image, chip, annotation_id, visible: float | None = None) -> None:
        """Record one clip, drop or join."""
        self.records.append({"code": code, "image": image, "chip": chip, "annotation_id": annotation_id,
                             "visible": visible})

    def account(self, area: float, kept: float, dropped: float, chips_area: float) -> None:
        """Add one object's accounting (its area, its kept and dropped core parts, its kept parts in every chip)."""
        a = self.accounting
        a["objects"] += 1
        a["area"] += area
        a["kept"] += kept
        a["dropped"] += dropped
        a["chips_area"] += chips_area
        if area > 0:
            a["max_error"] = max(a["max_error"], abs(kept + dropped - area) / area)

    def summary(self) -> dict[str, int]:
        """Records per code, sorted."""
        return dict(sorted(Counter(r["code"] for r in self.records).items()))

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "chips": self.chips, "summary": {
            c: {"count": n, "description": CODES[c]} for c, n in self.summary().items()},
            "accounting": dict(self.accounting), "records": list(self.records), "notes": list(self.notes)}

    def text(self) -> str:
        """A few lines for the terminal."""
        a = self.accounting
        lines = [f"{self.items} image(s) -> {self.chips} chip(s)"]
        lines += [f"  {c} x{n}: {CODES[c]}" for c, n in self.summary().items()]
        if a["objects"]:
            lines.append(f"  area accounted: {a['objects']} object(s), area {a['area']:.6g} = kept {a['kept']:.6g} + "
                         f"dropped {a['dropped']:.6g} (max relative error {a['max_error']:.2g})")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
