"""Give an RLE the size of its image when its counts cover exactly that many pixels (G008).

The usual cause is a ``size`` written as ``[width, height]`` (or copied from
another image) while the counts were made from the right mask: reading the
same counts at the image's size gives that mask back. When the counts cover
another number of pixels, the mask belongs elsewhere and nothing is changed.
"""

from __future__ import annotations

from ...errors import RLEError
from ...geometry import InvalidGeometry
from ...rle import RLE, string_to_counts
from ..registry import Fix
from .stored import refreshed

__all__ = ["RLE_SIZE"]


def _counts(geometry):
    """The counts of an RLE, or of an RLE dict a lenient reader kept as read; None for anything else."""
    if isinstance(geometry, RLE):
        return geometry.counts, geometry.shape
    raw = geometry.raw if isinstance(geometry, InvalidGeometry) else None
    if not isinstance(raw, dict) or "counts" not in raw or "size" not in raw:
        return None
    counts = raw["counts"]
    if isinstance(counts, (str, bytes)):
        counts = string_to_counts(counts)
    return counts, tuple(raw["size"])


def _apply(state, findings) -> None:
    for f, spot in state.located(findings):
        ann = state.current(spot)
        size = spot.item.size
        try:
            got = _counts(ann.geometry)
            if got is None or size is None:
                state.skip(f, "not an RLE of an image with a size")
                continue
            geom = RLE(got[0], *size)
        except (RLEError, TypeError, ValueError) as exc:
            state.skip(f, f"the counts do not make a mask of the image's size ({exc})")
            continue
        state.replace(spot, geometry=geom, **refreshed(ann, geom, size))
        old = [int(v) for v in got[1]] if all(isinstance(v, (int, float)) for v in got[1]) else list(got[1])
        state.record(f, f"RLE size {old} replaced by the image's [{size[0]}, {size[1]}] (its counts cover "
                        f"{size[0]} x {size[1]} pixels)", {"old_size": old, "new_size": list(size)})


def _counts_fit(finding) -> bool:
    return finding.data.get("counts_fit") is True


#: G008.
RLE_SIZE = Fix(30, "rle-size-from-image", "set the RLE's size to its image's when its counts cover the image",
               _apply, _counts_fit, when="when the counts cover the image exactly")
