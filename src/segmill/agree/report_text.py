"""Plain-text summary tables of an :class:`~segmill.agree.AgreementReport`.

The report's own parts (the images compared, missing, skipped; annotations
left out; the lowest-agreement images) are drawn here; everything else comes
from the metrics (:meth:`segmill.agree.metric.Metric.rows`): the headline
numbers, lines under them, the columns of the pair table, further tables.
"""

from __future__ import annotations

from .metric import fmt

__all__ = ["fmt", "render", "table"]


def table(header, rows) -> list[str]:
    """Left-aligned first column, right-aligned others."""
    cells = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for n, r in enumerate(cells):
        line = "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
        out.append(line.rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def cell(v) -> str:
    """A table cell: text as it is, numbers through :func:`fmt`."""
    return v if isinstance(v, str) else fmt(v)


def render(report, n_lowest: int = 5) -> str:
    """The summary as text: headline, pairs, annotators, missing images, lowest images."""
    d = report.to_dict(per_image=False)
    shown = report.rows()
    im = d["images"]
    labels = {k: v for rows in shown for k, v in rows.headline.items()}
    numbers = "  ".join(f"{labels.get(k, k)} {fmt(v)}" for k, v in report.headline().items())
    lines = [
        (f"segmill agree: {len(d['annotators'])} annotators ({', '.join(d['annotators'])}), "
         f"{im['compared']} images compared, {im['complete']} seen by all, {len(d['categories'])} categories"),
        f"{numbers} (IoU > {d['settings']['iou']:g}, boundary tolerance {d['settings']['boundary_tolerance']:g} px)",
    ]
    lines += [line for rows in shown for line in rows.lines]
    lines.append("")
    lines += _pair_table(d["pairs"], shown)
    for t in (t for rows in shown for t in rows.tables):
        lines.append("")
        lines.append(t.caption)
        lines += table(t.header, [[cell(c) for c in r] for r in t.rows])
    lines += _image_lists(d)
    low = report.lowest(n_lowest)
    if low:
        lines.append("")
        lines.append("lowest agreement (mean PQ over pairs):")
        for r in low:
            lines.append(f"  {fmt(r['score'])}  {r['image']}")
    return "\n".join(lines) + "\n"


def _pair_table(pairs, shown) -> list[str]:
    """One row per annotator pair: its name, its images, then every metric's compact columns."""
    columns = [(col, cells) for rows in shown for col, cells in rows.pair_columns if col.compact]
    header = ["pair", "images"] + [col.text_label for col, _ in columns]
    body = [[f"{p['a']} vs {p['b']}", p["images"]] + [cell(cells[i]) for _, cells in columns]
            for i, p in enumerate(pairs)]
    return table(header, body)


def _image_lists(d) -> list[str]:
    """Images missing from some annotators, images not compared, annotations left out."""
    im, lines = d["images"], []
    if im["missing"]:
        lines.append("")
        lines.append(f"{len(im['missing'])} image(s) missing from some annotators:")
        for x in im["missing"][:10]:
            lines.append(f"  {x['image']}: missing from {', '.join(x['missing_from'])}")
        if len(im["missing"]) > 10:
            lines.append(f"  ... and {len(im['missing']) - 10} more (see --output-format json)")
    if im["skipped"]:
        lines.append("")
        lines.append(f"{len(im['skipped'])} image(s) not compared:")
        for x in im["skipped"][:10]:
            lines.append(f"  {x['image']}: {x['reason']}")
    un = d["unusable_annotations"]
    if un["count"]:
        lines.append("")
        lines.append(f"{un['count']} annotation(s) left out (no area or undeclared category), e.g.:")
        for x in un["items"][:5]:
            lines.append(f"  {x['image']} [{x['annotator']}]: {x['reason']}")
    return lines
