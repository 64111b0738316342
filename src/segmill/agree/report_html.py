"""One self-contained HTML page for an :class:`~segmill.agree.AgreementReport`.

Summary tables, the annotator ranking, and overlays of the images with the
lowest agreement: each annotator's instance outlines in its own colour on a
neutral background (or on the photo, when ``image_root`` holds it). Images
are embedded as base64 PNG; the page loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from .. import rle as R
from .rasterize import prepare
from .report_text import fmt

# Colour-blind-friendly qualitative palette (Okabe & Ito), then extras.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (204, 121, 167), (213, 94, 0),
           (0, 114, 178), (240, 228, 66), (0, 0, 0), (153, 153, 153), (120, 60, 160)]
MAX_SIDE = 640

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.kpi{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.kpi div{background:#f4f6f8;border-radius:6px;padding:8px 14px;min-width:90px}
.kpi b{display:block;font-size:20px} .kpi span{font-size:12px;color:#555}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{padding:3px 9px;border-bottom:1px solid #e5e5e5;text-align:right}
th:first-child,td:first-child{text-align:left} th{background:#fafafa}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.grid{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0;max-width:100%}
figure img{max-width:100%;border:1px solid #ccc;image-rendering:pixelated}
figcaption{font-size:12px;color:#444;margin-top:3px} .note{font-size:12px;color:#666}
"""


def render(report, n_lowest: int = 6, image_root=None) -> str:
    """The report as one HTML page (a ``str``).

    Parameters
    ----------
    report : AgreementReport
    n_lowest : int
        How many lowest-agreement images to draw.
    image_root : path, optional
        Folder holding the images (by ``file_name``) to draw the outlines on.
    """
    d = report.to_dict(per_image=False)
    names = d["annotators"]
    colours = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    esc = html.escape
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
           f"<title>segmill agree: {esc(', '.join(names))}</title><style>{_CSS}</style></head><body>",
           "<h1>Annotator agreement</h1>",
           f"<div class='note'>{len(names)} annotators, {d['images']['compared']} images compared "
           f"({d['images']['complete']} seen by all), {len(d['categories'])} categories; instances match at "
           f"IoU &gt; {d['settings']['iou']:g}, boundaries within {d['settings']['boundary_tolerance']:g} px.</div>",
           "<div class='kpi'>"]
    for key, label in (("pq", "PQ"), ("sq", "SQ"), ("rq", "RQ"), ("mean_iou", "mean IoU"),
                       ("kappa", "kappa"), ("boundary_f1", "boundary F1")):
        out.append(f"<div><b>{fmt(d[key])}</b><span>{label}</span></div>")
    mr = d["multi_rater"]
    out.append(f"<div><b>{fmt(mr['fleiss_kappa'])}</b><span>Fleiss' kappa</span></div>")
    out.append(f"<div><b>{fmt(mr['krippendorff_alpha'])}</b><span>Krippendorff's alpha</span></div></div>")

    out.append("<h2>Annotator pairs</h2>")
    out.append(_table(["pair", "images", "TP", "FP", "FN", "precision", "recall", "F1", "PQ", "SQ", "RQ",
                       "label kappa", "pixel mIoU", "Dice", "accuracy", "pixel kappa", "boundary F1"],
                      [[f"{_sw(colours[p['a']])}{esc(p['a'])} vs {_sw(colours[p['b']])}{esc(p['b'])}", p["images"],
                        p["instance"]["tp"], p["instance"]["fp"], p["instance"]["fn"],
                        fmt(p["instance"]["precision"]), fmt(p["instance"]["recall"]), fmt(p["instance"]["f1"]),
                        fmt(p["instance"]["pq"]), fmt(p["instance"]["sq"]), fmt(p["instance"]["rq"]),
                        fmt(p["instance"]["label_agreement"]["kappa"]), fmt(p["pixel"]["mean_iou"]),
                        fmt(p["pixel"]["mean_dice"]), fmt(p["pixel"]["accuracy"]), fmt(p["pixel"]["kappa"]),
                        fmt(p["pixel"]["boundary_f1"])] for p in d["pairs"]]))

    v = d["annotator_view"]
    out.append(f"<h2>Annotators against {esc(v['reference'])}</h2>")
    out.append(_table(["annotator", "rank", "sensitivity", "specificity", "IoU"],
                      [[f"{_sw(colours[a['name']])}{esc(a['name'])}", a["rank"], fmt(a["sensitivity"]),
                        fmt(a["specificity"]), fmt(a["iou"])] for a in v["annotators"]]))

    out.append("<h2>Per category</h2>")
    for p in d["pairs"]:
        rows = []
        for name in d["categories"]:
            ins = p["instance"]["per_class"].get(name, {})
            px = p["pixel"]["per_class"].get(name, {})
            if not ins and not px:
                continue
            rows.append([esc(name), ins.get("tp", 0), ins.get("fp", 0), ins.get("fn", 0), fmt(ins.get("pq")),
                         fmt(ins.get("sq")), fmt(ins.get("rq")), fmt(px.get("iou")), fmt(px.get("dice")),
                         fmt(px.get("boundary_f1"))])
        out.append(f"<div class='note'>{esc(p['a'])} vs {esc(p['b'])}</div>")
        out.append(_table(["category", "TP", "FP", "FN", "PQ", "SQ", "RQ", "IoU", "Dice", "boundary F1"], rows))

    missing = d["images"]["missing"]
    if missing:
        out.append(f"<h2>Images missing from some annotators ({len(missing)})</h2>")
        out.append(_table(["image", "missing from"], [[esc(x["image"]), esc(", ".join(x["missing_from"]))]
                                                       for x in missing[:200]]))

    low = report.lowest(n_lowest)
    if low:
        out.append(f"<h2>Lowest agreement ({len(low)} images)</h2>")
        out.append("<div class='note'>" + " ".join(f"{_sw(colours[n])}{esc(n)}" for n in names)
                   + " &mdash; outlines of each annotator's instances (dotted: crowd regions); "
                   "score = mean PQ over pairs.</div>")
        out.append("<div class='grid'>")
        by_key = {g.key: g for g in report.pairing.groups}
        skipped_photos = []
        for r in low:
            g = by_key[r["image"]]
            png, why = _overlay_png(report, g, colours, image_root)
            if why:
                skipped_photos.append((g.key, why))
            pairs = "; ".join(f"{esc(k)}: PQ {fmt(x['pq'])}, mIoU {fmt(x['mean_iou'])}" for k, x in r["pairs"].items())
            out.append(f"<figure><img alt='{esc(g.key)}' src='data:image/png;base64,{png}'>"
                       f"<figcaption><b>{esc(g.key)}</b> score {fmt(r['score'])}<br>{pairs}</figcaption></figure>")
        out.append("</div>")
        for key, why in skipped_photos:
            out.append(f"<p class='note'>Photo of {esc(key)} not shown: {esc(why)}</p>")
    out.append("<p class='note'>Generated by segmill agree. Self-contained: no network access needed.</p>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _sw(rgb) -> str:
    return f"<span class='sw' style='background:rgb{tuple(rgb)}'></span>"


def _table(header, rows) -> str:
    """An HTML table; cells are inserted as given (callers escape text)."""
    cells = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    for r in rows:
        cells.append("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
    cells.append("</table>")
    return "".join(cells)


def _photo(image_root, key: str, h: int, w: int):
    """The grey photo under ``image_root`` for ``key`` as an RGB float canvas, or ``(None, why not)``.

    The name comes from the dataset: it must resolve inside ``image_root``
    (no ``..``, no absolute path, no symlink out), and the file is decoded
    only within the pixel limit.
    """
    from ..errors import InputError
    from ..images import open_image
    from ..paths import resolve_inside

    try:
        p = resolve_inside(image_root, key)
    except InputError as exc:
        return None, exc.message
    if not p.is_file():
        return None, None
    try:
        photo = open_image(p).convert("L")
    except InputError as exc:
        return None, exc.message
    if photo.size != (w, h):
        return None, f"the image file is {photo.size[0]}x{photo.size[1]}, the annotations {w}x{h}"
    return np.repeat(np.asarray(photo, np.float64)[:, :, None], 3, axis=2) * 0.6 + 80, None


def _overlay_png(report, group, colours, image_root=None) -> tuple[str, str | None]:
    """The overlay of ``group`` as base64 PNG, and why its photo was not used (or ``None``)."""
    from PIL import Image

    h, w = group.height, group.width
    canvas, why = (None, None) if image_root is None else _photo(image_root, group.key, h, w)
    if canvas is None:
        canvas = np.full((h, w, 3), 236.0)
    pairing = report.pairing
    raster = report.settings.get("raster", "coco")
    for a, item in enumerate(group.items):
        if item is None:
            continue
        col = np.array(colours[pairing.names[a]], np.float64)
        prep = prepare(item, pairing.category_index[a], h, w, raster)  # outlines only: no void needed
        for r, crowd in zip(prep.rles, prep.crowd):
            mask = R.decode(r)
            canvas[mask] = canvas[mask] * 0.88 + col * 0.12
            edge = _outline(mask)
            if crowd:  # crowd regions get a dotted outline
                rr, cc = np.indices(edge.shape)
                edge &= ((rr + cc) // 3) % 2 == 0
            canvas[edge] = col
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    scale = MAX_SIDE / max(h, w, 1)
    if scale < 1:
        img = img.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.LANCZOS)
    elif max(h, w) < 200:
        f = int(200 // max(h, w, 1)) or 1
        img = img.resize((w * f, h * f), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii"), why


def _outline(mask: np.ndarray) -> np.ndarray:
    """Inner boundary of a mask, two pixels thick."""
    m = np.asarray(mask, bool)
    inner = m.copy()
    for _ in range(2):
        e = inner.copy()
        e[1:, :] &= inner[:-1, :]
        e[:-1, :] &= inner[1:, :]
        e[:, 1:] &= inner[:, :-1]
        e[:, :-1] &= inner[:, 1:]
        inner = e
    return m & ~inner
