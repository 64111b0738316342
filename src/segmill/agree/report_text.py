"""Plain-text summary tables of an :class:`~segmill.agree.AgreementReport`."""

from __future__ import annotations


def fmt(v, digits: int = 3) -> str:
    """A number for a table cell (``-`` when undefined)."""
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}f}"


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


def render(report, n_lowest: int = 5) -> str:
    """The summary as text: headline, pairs, annotators, missing images, lowest images."""
    d = report.to_dict(per_image=False)
    im = d["images"]
    lines = [
        f"segmill agree: {len(d['annotators'])} annotators ({', '.join(d['annotators'])}), "
        f"{im['compared']} images compared, {im['complete']} seen by all, {len(d['categories'])} categories",
        f"PQ {fmt(d['pq'])}  SQ {fmt(d['sq'])}  RQ {fmt(d['rq'])}  mean IoU {fmt(d['mean_iou'])}  "
        f"kappa {fmt(d['kappa'])}  boundary F1 {fmt(d['boundary_f1'])} "
        f"(IoU > {d['settings']['iou']:g}, boundary tolerance {d['settings']['boundary_tolerance']:g} px)",
    ]
    mr = d["multi_rater"]
    if len(d["annotators"]) > 2:
        lines.append(f"all annotators: Fleiss' kappa {fmt(mr['fleiss_kappa'])}, "
                     f"Krippendorff's alpha {fmt(mr['krippendorff_alpha'])} over {mr['pixels']} pixels")
    else:
        lines.append(f"Krippendorff's alpha {fmt(mr['krippendorff_alpha'])}")
    lines.append("")
    rows = []
    for p in d["pairs"]:
        i, px = p["instance"], p["pixel"]
        rows.append([f"{p['a']} vs {p['b']}", p["images"], i["tp"], i["fp"], i["fn"], fmt(i["f1"]),
                     fmt(i["pq"]), fmt(i["sq"]), fmt(i["rq"]), fmt(i["label_agreement"]["kappa"]),
                     fmt(px["mean_iou"]), fmt(px["mean_dice"]), fmt(px["accuracy"]), fmt(px["kappa"]),
                     fmt(px["boundary_f1"])])
    lines += table(["pair", "images", "TP", "FP", "FN", "F1", "PQ", "SQ", "RQ", "label k",
                    "mIoU", "Dice", "acc", "kappa", "BF1"], rows)
    lines.append("")
    v = d["annotator_view"]
    lines.append(f"annotators against {v['reference']} (best first):")
    lines += table(["annotator", "rank", "sensitivity", "specificity", "IoU"],
                   [[a["name"], a["rank"], fmt(a["sensitivity"]), fmt(a["specificity"]), fmt(a["iou"])]
                    for a in v["annotators"]])
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
    low = report.lowest(n_lowest)
    if low:
        lines.append("")
        lines.append("lowest agreement (mean PQ over pairs):")
        for r in low:
            lines.append(f"  {fmt(r['score'])}  {r['image']}")
    return "\n".join(lines) + "\n"
