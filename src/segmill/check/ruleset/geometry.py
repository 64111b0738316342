"""Geometry rules (G): malformed shapes, and shapes that disagree with themselves."""

from __future__ import annotations

import numpy as np

from ...geometry import Box, Polygons
from ...rle.kernels import label_components
from .._kernels import maybe_not_simple
from .._tables import KIND_BOX, KIND_INVALID, KIND_MASK, KIND_NONE, KIND_POLY, KIND_RLE
from ..fixes.clip import CLIP
from ..fixes.parts import DROP_BAD_PARTS, DROP_EMPTY
from ..fixes.repair import REPAIR
from ..fixes.rle_size import RLE_SIZE
from ..fixes.stored import STORED, STORED_MALFORMED
from ..fixes.unreadable import DROP_UNDECODABLE
from ..registry import Hit, rule
from ._invalid import classify
from ._stored import stored


def _invalid(ctx):
    """All InvalidGeometry defects of the dataset, grouped by code (cached)."""
    got = ctx.cache.get("invalid")
    if got is not None:
        return got
    got = {}
    t = ctx.table()
    for r in t.rows(KIND_INVALID).tolist():
        it, a = t.item(r), t.anns[r]
        for code, key, msg, data in classify(a.geometry, ctx.size(it)):
            got.setdefault(code, []).append(Hit(msg, it.id, a.id, data, key=key, file=ctx.file_of(it)))
    ctx.cache["invalid"] = got
    return got


def _in_sized(ctx, rows: np.ndarray) -> np.ndarray:
    """The rows of ``rows`` whose image has a usable size."""
    t = ctx.table()
    return rows[t.sizes[0][t.item_of[rows]]]


def _invalid_rule(code, name, summary, doc, severity="error", fix=None, unsafe_fix=None):
    @rule(code, name, severity=severity, summary=summary, doc=doc, fix=fix, unsafe_fix=unsafe_fix)
    def func(ctx):
        return iter(_invalid(ctx).get(code, ()))

    func.__name__ = name.replace("-", "_")
    return func


_invalid_rule("G001", "too-few-points", "A polygon part has fewer than 3 points.", """
    A polygon ring needs at least 3 points to enclose anything; pycocotools
    raises on a 2-point first part and silently draws nothing for a later one.

    Bad: ``"segmentation": [[10, 10, 20, 20]]``.
    Good: ``"segmentation": [[10, 10, 20, 10, 20, 20]]``.
    """, fix=DROP_BAD_PARTS)
_invalid_rule("G002", "odd-coordinate-count", "A polygon part has an odd number of coordinates.", """
    Polygon parts are flat ``x1, y1, x2, y2, ...`` lists: an odd count means a
    coordinate was lost and every later vertex is misread.

    Bad: ``[[10, 10, 20, 10, 20]]``. Good: ``[[10, 10, 20, 10, 20, 20]]``.
    """, fix=DROP_BAD_PARTS)
_invalid_rule("G003", "non-finite-coordinate", "A coordinate is NaN or infinite.", """
    NaN and infinity have no place in pixel space; they come from divisions by
    zero in export scripts and crash or corrupt rasterizers.

    Bad: ``[[10, NaN, 20, 10, 20, 20]]``. Good: ``[[10, 10, 20, 10, 20, 20]]``.
    """, fix=DROP_BAD_PARTS)
_invalid_rule("G009", "rle-counts-sum", "RLE counts do not add up to height x width.", """
    The runs of an RLE must cover the mask exactly; a shorter sum leaves
    pycocotools decoding garbage, a longer one raises.

    Bad: ``{"size": [2, 3], "counts": [1, 2]}`` (3 of 6 pixels).
    Good: ``{"size": [2, 3], "counts": [1, 2, 3]}``.
    """, unsafe_fix=DROP_UNDECODABLE)
_invalid_rule("G010", "malformed-geometry", "A geometry cannot be parsed at all.", """
    The segmentation is neither a list of polygons nor an RLE (wrong types,
    an undecodable counts string, a missing key).

    Bad: ``"segmentation": "person"``.
    Good: ``"segmentation": [[10, 10, 20, 10, 20, 20]]``.
    """, unsafe_fix=DROP_UNDECODABLE)


@rule("G004", "empty-geometry", severity="error", fix=DROP_EMPTY,
      summary="An annotation has no geometry at all.",
      doc="""
      An annotation without a shape (missing or empty ``segmentation``) counts
      as an object but covers nothing; evaluation treats it as an unmatched
      ground truth.

      Bad: ``"segmentation": []``. Good: a polygon or RLE of the object.
      """)
def empty_geometry(ctx):
    yield from _invalid(ctx).get("G004", ())
    t = ctx.table()
    for r in t.rows(KIND_NONE).tolist():
        it = t.item(r)
        yield Hit("annotation has no geometry", it.id, t.anns[r].id, {}, file=ctx.file_of(it))


@rule("G005", "zero-area", severity="error", fix=DROP_EMPTY,
      summary="A geometry covers no pixel.",
      doc="""
      A degenerate polygon (collinear or repeated points), an all-zero mask or
      a box of width 0 is an object of no size: it can never be matched.
      Pixels are counted with the COCO rasterization rule; without an image
      size the polygon's shoelace area decides.

      Bad: ``[[10, 10, 20, 10, 30, 10]]`` (a line). Good: ``[[10, 10, 20, 10, 20, 20]]``.
      """)
def zero_area(ctx):
    t = ctx.table()
    pix = ctx.pixel_table()
    has = np.flatnonzero(pix.row >= 0)
    empty = has[pix.area[pix.row[has]] == 0]
    # Without an image size the shoelace area decides (polygons and boxes only).
    shapes = np.flatnonzero((t.kind == KIND_POLY) | (t.kind == KIND_BOX))
    unsized = shapes[~t.sizes[0][t.item_of[shapes]]]
    for r in np.union1d(empty, unsized).tolist():
        it, a = t.item(r), t.anns[r]
        g = a.geometry
        if pix.row[r] >= 0:
            data = {"pixels": 0}
            if isinstance(g, (Polygons, Box)):
                data["shoelace_area"] = g.area
            yield Hit("geometry covers no pixel", it.id, a.id, data, file=ctx.file_of(it))
        elif g.area == 0:
            yield Hit("geometry has zero area", it.id, a.id, {"shoelace_area": 0.0}, file=ctx.file_of(it))


@rule("G006", "self-intersection", severity="warning", fix=REPAIR,
      options={"abs_area_difference": 1.0, "rel_area_difference": 0.005},
      option_docs={"abs_area_difference": "report when shoelace and enclosed areas differ by more pixels than this",
                   "rel_area_difference": "... and by more than this fraction of the enclosed area"},
      summary="A polygon ring crosses itself.",
      doc="""
      A ring that crosses itself (a bow-tie, a pentagram) encloses a region
      that depends on the fill rule: its shoelace area (COCO's stored area)
      disagrees with its pixels. Found with shapely: a ring that is not simple
      and whose shoelace area differs from the area of its repaired polygon.
      Rings that only touch themselves (COCO's zero-width bridges to holes)
      are fine, and so are slivers folded by clipping to the image border
      whose area error is below both thresholds. The enclosed area is that
      of shapely's ``make_valid(method="structure")`` repair.

      Bad: ``[[0, 0, 10, 10, 10, 0, 0, 10]]`` (a bow-tie).
      Good: ``[[0, 0, 10, 0, 10, 10, 0, 10]]``.
      """)
def self_intersection(ctx, abs_area_difference, rel_area_difference):
    t = ctx.polygons()
    if not len(t.plen):
        return
    # A conservative numba pre-test proves most rings simple; shapely decides the rest. (Rings whose only
    # flaw is a collinear turn-back along the border are not cleared: GEOS's repair nodes overlapping
    # collinear edges by parity, and may then enclose less than the shoelace area.)
    sus = np.flatnonzero(maybe_not_simple(t.xy, t.pstart, t.plen))
    if sus.size == 0:
        return
    # lazy: start-up time (shapely is only needed by this rule, for the rings the pre-test left)
    import shapely

    vidx = np.repeat(t.pstart[sus] - np.cumsum(np.r_[0, t.plen[sus][:-1]]), t.plen[sus]) + np.arange(
        int(t.plen[sus].sum()))
    rings = shapely.linearrings(t.xy[vidx], indices=np.repeat(np.arange(sus.size), t.plen[sus]))
    bad = sus[~shapely.is_simple(rings)]
    if bad.size == 0:
        return
    polys = shapely.polygons(rings[np.searchsorted(sus, bad)])
    shoelace = shapely.area(polys)
    # "structure" repair: the union of the faces the ring encloses (fast, vectorized).
    fixed = shapely.area(shapely.make_valid(polys, method="structure"))
    diff = np.abs(fixed - shoelace)
    owner_of_part = np.repeat(np.arange(len(t.gcount)), t.gcount)
    for n in np.flatnonzero((diff > abs_area_difference) & (diff > rel_area_difference * fixed)):
        k = owner_of_part[bad[n]]
        part = int(bad[n] - t.gstart[k])
        it, a = t.owner(k)
        reason = shapely.is_valid_reason(polys[n])
        yield Hit(f"polygon part {part} crosses itself ({reason}); shoelace area {shoelace[n]:.6g}, "
                  f"enclosed area {fixed[n]:.6g}", it.id, a.id,
                  {"part": part, "shoelace_area": float(shoelace[n]), "enclosed_area": float(fixed[n]),
                   "difference": float(diff[n])},
                  key=f"part {part}", file=ctx.file_of(it))


@rule("G007", "vertex-outside-image", severity="warning", fix=CLIP,
      options={"tolerance": 0.0},
      option_docs={"tolerance": "pixels a vertex may lie beyond the image edge"},
      summary="A vertex or box corner lies outside the image.",
      doc="""
      Coordinates live in ``[0, width] x [0, height]`` (pixel corners).
      Vertices beyond are clipped by rasterizers, so the stored area and bbox
      no longer describe the pixels, and some tools reject the annotation.

      Bad: ``[[-5, 10, 20, 10, 20, 20]]`` in any image.
      Good: ``[[0, 10, 20, 10, 20, 20]]``.
      """)
def vertex_outside_image(ctx, tolerance):
    yield from _invalid(ctx).get("G007", ())  # refused by the reader (YOLO: outside [0, 1])
    t = ctx.polygons()
    at = ctx.table()
    _, ih, iw = at.sizes
    # Polygons whose vertex extent is inside their image are done (so is every vertex).
    polys = _in_sized(ctx, t.rows)
    k = np.searchsorted(t.rows, polys)
    x, y, bw, bh = t.bounds[k].T
    w, h = iw[at.item_of[polys]], ih[at.item_of[polys]]
    inside = (x >= -tolerance) & (y >= -tolerance) & (x + bw <= w + tolerance) & (y + bh <= h + tolerance)
    for r in np.union1d(polys[~inside], _in_sized(ctx, at.rows(KIND_BOX))).tolist():
        it, a = at.item(r), at.anns[r]
        g = a.geometry
        h, w = ctx.size(it)
        if isinstance(g, Polygons):
            pts = np.concatenate(g.parts)
        else:
            pts = np.array([[g.x, g.y], [g.x + g.w, g.y + g.h]])
        over = np.maximum.reduce([-pts[:, 0], -pts[:, 1], pts[:, 0] - w, pts[:, 1] - h])
        bad = over > tolerance
        if bad.any():
            yield Hit(f"{int(bad.sum())} vertices lie outside the {w}x{h} image "
                      f"(up to {float(over.max()):.3g} px)", it.id, a.id,
                      {"vertices": int(bad.sum()), "max_distance": float(over.max()), "tolerance": tolerance},
                      file=ctx.file_of(it))


@rule("G008", "rle-size-mismatch", severity="error", fix=RLE_SIZE, unsafe_fix=DROP_UNDECODABLE,
      summary="An RLE's size differs from its image's size.",
      doc="""
      An RLE mask is only meaningful at the size of its image; a different
      ``size`` means the mask belongs to another image or was resized.

      Bad: ``{"size": [240, 320], ...}`` on a 480x640 image.
      Good: ``{"size": [480, 640], ...}``.
      """)
def rle_size_mismatch(ctx):
    yield from _invalid(ctx).get("G008", ())
    # A well-formed RLE of the wrong size, kept as an RLE by the reader.
    t = ctx.table()
    for r in _in_sized(ctx, t.rows(KIND_RLE)).tolist():
        it, a = t.item(r), t.anns[r]
        g = a.geometry
        size = ctx.size(it)
        if g.shape != size:
            # counts_fit: the counts cover the image exactly (segmill fix may give the RLE its size).
            yield Hit(f"RLE size [{g.height}, {g.width}] does not match the image size [{size[0]}, {size[1]}]",
                      it.id, a.id, {"rle_size": list(g.shape), "image_size": list(size),
                                    "counts_fit": g.height * g.width == size[0] * size[1]}, file=ctx.file_of(it))


def _expected(ctx, r: int):
    """COCO's expected (area, bbox) for the geometry of annotation row ``r`` (DESIGN.md section 4), or None."""
    t = ctx.table()
    kind = t.kind[r]
    g = t.geoms[r]
    if kind == KIND_POLY:
        area, bounds, _ = ctx.polygon_row_stats(int(np.searchsorted(ctx.polygons().rows, r)))
        return area, bounds
    if kind == KIND_BOX:
        return g.area, g.bounds
    if kind == KIND_RLE:
        size = ctx.size(t.item(r))
        if size is not None and g.shape != size:
            return None
        return float(g.area), g.bbox
    if kind == KIND_MASK:
        pix = ctx.pixel_table()
        if pix.row[r] >= 0:
            got = pix.rle(int(pix.row[r]))
            return float(got.area), got.bbox
    return None


def _suspects(ctx, quiet_polygons: np.ndarray, ok: np.ndarray):
    """``(item, annotation, expected)`` for the rows with a well-formed stored value (``ok``) that the
    bulk polygon test (``quiet_polygons``, one per polygon) could not clear (G011, G012)."""
    t = ctx.table()
    ok = ok.copy()
    ok[ctx.polygons().rows[quiet_polygons]] = False
    ok &= (t.kind == KIND_POLY) | (t.kind == KIND_BOX) | (t.kind == KIND_RLE) | (t.kind == KIND_MASK)
    for r in np.flatnonzero(ok).tolist():
        exp = _expected(ctx, r)
        if exp is not None:
            yield t.item(r), t.anns[r], exp


@rule("G011", "bbox-mismatch", severity="warning", fix=STORED,
      options={"tolerance": 1.0},
      option_docs={"tolerance": "largest allowed difference of any bbox value, in pixels"},
      summary="The stored bbox disagrees with the geometry.",
      doc="""
      COCO's bbox is the vertex extent for polygons and the pixel extent
      (``toBbox``) for RLEs; detectors train on it, so a stale bbox (left from
      before an edit) teaches the wrong box.

      Bad: ``"bbox": [0, 0, 50, 50]`` for a polygon spanning x 10..20, y 10..20.
      Good: ``"bbox": [10, 10, 10, 10]``.
      """)
def bbox_mismatch(ctx, tolerance):
    # Polygons in bulk: rows whose stored bbox is within tolerance of the
    # vertex extent are skipped; every other annotation takes the full path.
    st = stored(ctx)
    t = ctx.polygons()
    with np.errstate(invalid="ignore"):
        quiet = np.abs(st.box[t.rows] - t.bounds).max(axis=1, initial=-np.inf) <= tolerance
    for it, a, exp in _suspects(ctx, quiet, st.box_ok):
        diff = max(abs(float(s) - float(e)) for s, e in zip(a.bbox, exp[1]))
        if diff > tolerance:
            yield Hit(f"stored bbox {list(a.bbox)} differs from the geometry's "
                      f"{[round(v, 3) for v in exp[1]]} by {diff:.3g} px", it.id, a.id,
                      {"stored": list(a.bbox), "expected": list(exp[1]), "max_difference": diff,
                       "tolerance": tolerance}, file=ctx.file_of(it))


@rule("G012", "area-mismatch", severity="warning", fix=STORED,
      options={"rel_tolerance": 0.02, "abs_tolerance": 1.0},
      option_docs={"rel_tolerance": "allowed difference as a fraction of the expected area",
                   "abs_tolerance": "allowed difference in pixels (the larger tolerance wins)"},
      summary="The stored area disagrees with the geometry.",
      doc="""
      COCO's area is the shoelace area for polygons and the pixel count for
      RLEs; COCOeval buckets objects into small / medium / large by it, so a
      wrong area (a bbox area, a stale value) moves objects between buckets.

      Bad: ``"area": 10000`` for a 10x10 square polygon.
      Good: ``"area": 100``.
      """)
def area_mismatch(ctx, rel_tolerance, abs_tolerance):
    # Polygons in bulk, as in G011: only rows outside the tolerance take the full path.
    st = stored(ctx)
    t = ctx.polygons()
    exp = t.area
    with np.errstate(invalid="ignore"):
        quiet = np.abs(st.area[t.rows] - exp) <= np.maximum(abs_tolerance, rel_tolerance * exp)
    for it, a, exp in _suspects(ctx, quiet, st.area_ok):
        diff = abs(float(a.area) - exp[0])
        allowed = max(abs_tolerance, rel_tolerance * exp[0])
        if diff > allowed:
            yield Hit(f"stored area {a.area:.6g} differs from the geometry's {exp[0]:.6g}", it.id, a.id,
                      {"stored": float(a.area), "expected": exp[0], "difference": diff, "allowed": allowed},
                      file=ctx.file_of(it))


@rule("G013", "tiny-fragment", severity="warning",
      options={"min_area": 4.0},
      option_docs={"min_area": "fragments smaller than this many pixels are reported"},
      summary="A multi-part object has a speck of a part.",
      doc="""
      A part (polygon ring, or connected component of a non-crowd mask) far
      smaller than the object is usually a stray click or mask noise. Only
      objects with several parts are looked at: a small object alone is fine.
      Crowd regions are fragmented by nature and skipped.

      Bad: a car polygon plus a second 1-pixel triangle.
      Good: the car polygon alone.
      """)
def tiny_fragment(ctx, min_area):
    at = ctx.table()
    t = ctx.polygons()
    objects = at.area_flags  # crowd regions and void are fragmented by nature
    # Polygons with several parts, one of them under min_area (decided on the part areas in bulk).
    small = np.zeros(len(t.rows), bool)
    if len(t.rows):
        small = np.logical_or.reduceat(t.part_area < min_area, t.gstart) & (t.gcount >= 2)
    polys = t.rows[small & objects[t.rows]]
    masks = np.flatnonzero(((at.kind == KIND_RLE) | (at.kind == KIND_MASK)) & objects)
    for r in np.union1d(polys, _in_sized(ctx, masks)).tolist():
        it, a = at.item(r), at.anns[r]
        if at.kind[r] == KIND_POLY:
            yield from _tiny_parts(ctx, it, a, ctx.polygon_row_stats(int(np.searchsorted(t.rows, r)))[2], min_area)
        else:
            yield from _tiny_components(ctx, it, a, r, min_area)


def _tiny_parts(ctx, it, a, part_areas, min_area):
    for part, ar in enumerate(part_areas):
        ar = float(ar)
        if ar < min_area:
            yield Hit(f"polygon part {part} has area {ar:.3g} px (< {min_area:g})", it.id, a.id,
                      {"part": part, "area": ar, "min_area": min_area}, key=f"part {part}", file=ctx.file_of(it))


def _tiny_components(ctx, it, a, r, min_area):
    pix = ctx.pixel_table()
    if pix.row[r] < 0:
        return
    rle = pix.rle(int(pix.row[r]))
    if rle.is_empty() or len(rle.counts) < 4:
        return
    x, y, bw, bh = (int(v) for v in rle.bbox)
    m = rle.decode()[y:y + bh, x:x + bw]
    lab, n = label_components(m, True)
    if n < 2:
        return
    sizes = np.bincount(lab.ravel())[1:]
    for comp in np.flatnonzero(sizes < min_area):
        yield Hit(f"mask fragment of {int(sizes[comp])} px (< {min_area:g}) beside {n - 1} other part(s)",
                  it.id, a.id, {"pixels": int(sizes[comp]), "min_area": min_area},
                  key=f"component {int(comp)}", file=ctx.file_of(it))


@rule("G014", "crowd-polygon", severity="warning",
      summary="A crowd annotation is a polygon.",
      doc="""
      COCO crowd regions (``iscrowd: 1``) are RLE masks; COCOeval and most
      converters assume so. A crowd polygon usually means the flag is wrong.

      Bad: ``"iscrowd": 1, "segmentation": [[...]]``.
      Good: ``"iscrowd": 0`` for a polygon, or an RLE for a crowd.
      """)
def crowd_polygon(ctx):
    t = ctx.table()
    for r in np.flatnonzero((t.kind == KIND_POLY) & t.crowd).tolist():
        it = t.item(r)
        yield Hit("crowd annotation stored as a polygon", it.id, t.anns[r].id, {}, file=ctx.file_of(it))


@rule("G015", "invalid-stored-bbox", severity="error", fix=STORED_MALFORMED,
      summary="The stored bbox is malformed (not 4 finite numbers, negative size).",
      doc="""
      A bbox is ``[x, y, width, height]`` with finite numbers and a
      non-negative size; anything else breaks every detector's data loader.

      Bad: ``"bbox": [10, 10, -5, 20]``. Good: ``"bbox": [5, 10, 5, 20]``.
      """)
def invalid_stored_bbox(ctx):
    st = stored(ctx)
    t = ctx.table()
    for r in np.flatnonzero(~st.box_none & ~st.box_ok).tolist():
        it, a = t.item(r), t.anns[r]
        exp = _expected(ctx, r)  # what segmill fix would store (None: the geometry gives no bbox)
        yield Hit(f"stored bbox {list(a.bbox)!r} is not [x, y, w, h] with finite values and w, h >= 0",
                  it.id, a.id, {"stored": [str(v) for v in a.bbox], "expected": None if exp is None else list(exp[1])},
                  file=ctx.file_of(it))


@rule("G016", "invalid-stored-area", severity="error", fix=STORED_MALFORMED,
      summary="The stored area is negative, NaN or not a number.",
      doc="""
      ``area`` is a non-negative number of pixels; COCOeval buckets by it.

      Bad: ``"area": -12.5``. Good: ``"area": 12.5``.
      """)
def invalid_stored_area(ctx):
    st = stored(ctx)
    t = ctx.table()
    for r in np.flatnonzero(~st.area_none & ~st.area_ok).tolist():
        it, a = t.item(r), t.anns[r]
        exp = _expected(ctx, r)  # what segmill fix would store (None: the geometry gives no area)
        yield Hit(f"stored area {a.area!r} is not a non-negative number", it.id, a.id,
                  {"stored": str(a.area), "expected": None if exp is None else exp[0]}, file=ctx.file_of(it))
