"""Plain-text reports of a diff and of a gate decision (for terminals and CI logs)."""

from __future__ import annotations

from .diff import DatasetDiff
from .evaluate import GateResult
from .policy import RULES


def _fmt_pct(v) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def _fmt_num(v) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def mean_iou(d: DatasetDiff) -> float | None:
    """Mean IoU of old vs new over reshaped annotations that have one (a pass over the changes, none kept)."""
    n = 0

    def ious():
        nonlocal n
        for c in d.annotation_changes:
            if "reshaped" in c.kinds and c.iou is not None:
                n += 1
                yield c.iou

    total = sum(ious())
    return total / n if n else None


def describe_change(c) -> str:
    """One line for an :class:`~segmill.gate.diff.AnnotationChange`."""
    if c.status == "added":
        return f"{c.image}: + annotation {c.head_id!r} ({c.head_class})"
    if c.status == "removed":
        return f"{c.image}: - annotation {c.base_id!r} ({c.base_class})"
    bits = []
    if "relabelled" in c.kinds:
        bits.append(f"relabelled {c.base_class} -> {c.head_class}")
    if "reshaped" in c.kinds:
        bits.append("reshaped" + (f" (IoU {c.iou:.3f})" if c.iou is not None else " (IoU n/a)"))
    if "attributes" in c.kinds:
        bits.append("attributes changed")
    ident = c.head_id if c.head_id == c.base_id else f"{c.base_id!r} -> {c.head_id!r}"
    return f"{c.image}: annotation {ident}: " + ", ".join(bits)


def summary_lines(d: DatasetDiff) -> list[str]:
    """The counts of a diff, a few lines."""
    i, a = d.images, d.annotations
    miou = mean_iou(d)
    reshaped = f"{a['reshaped']} reshaped" + (f" (mean IoU {miou:.3f})" if miou is not None else "")
    lines = [
        f"images:      +{i['added']} added, -{i['removed']} removed, {i['modified']} modified, "
        f"{i['unchanged']} unchanged",
        f"annotations: +{a['added']} added, -{a['removed']} removed, {a['relabelled']} relabelled, {reshaped}, "
        f"{a['attributes']} attributes changed, {a['unchanged']} unchanged (matched by {d.match_rule})",
    ]
    reasons: dict[str, int] = {}
    for c in d.image_changes:
        for r in c.reasons:
            reasons[r] = reasons.get(r, 0) + 1
    if set(reasons) - {"annotations"}:
        lines.append("modified images by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    cats = d.categories.changes
    lines.append("categories:  " + ("; ".join(c.describe() for c in cats) if cats else "unchanged"))
    return lines


def class_rows(d: DatasetDiff, only_changed: bool = True) -> list[tuple]:
    """``(name, count base, count head, count %, mean area base, head, area %)`` rows."""
    drift = d.class_drift()
    rows = []
    for name, side in d.classes.items():
        b, h = side["base"], side["head"]
        row = (name, b.count if b else None, h.count if h else None, drift[name]["count"],
               b.mean_area if b else None, h.mean_area if h else None, drift[name]["mean_area"])
        if only_changed and b and h and b.count == h.count and b.mean_area == h.mean_area:
            continue
        rows.append(row)
    return rows


def render_diff_text(d: DatasetDiff, limit: int = 20) -> str:
    """A diff as text: counts, category changes, per-class table, first ``limit`` changes."""
    out = [f"segmill diff: {d.base_label} -> {d.head_label}"]
    out += ["  " + s for s in summary_lines(d)]
    rows = class_rows(d)
    if rows:
        out.append("classes (changed only):")
        out.append(f"  {'class':<24} {'count':>7} {'->':>7} {'change':>8} {'mean area':>10} {'->':>10} {'change':>8}")
        for r in rows:
            out.append(f"  {r[0][:24]:<24} {_fmt_num(r[1]):>7} {_fmt_num(r[2]):>7} {_fmt_pct(r[3]):>8} "
                       f"{_fmt_num(r[4]):>10} {_fmt_num(r[5]):>10} {_fmt_pct(r[6]):>8}")
    if d.emptied_images:
        out.append(f"images that lost all annotations: {len(d.emptied_images)}")
    ch = d.annotation_changes
    if ch:
        out.append(f"annotation changes (first {min(limit, len(ch))} of {len(ch)}):")
        out += ["  " + describe_change(c) for c in ch[:limit]]
    if not d.changed:
        out.append("no changes")
    return "\n".join(out) + "\n"


def render_gate_text(res: GateResult, limit: int = 20) -> str:
    """A gate decision as text: verdict, findings grouped by rule, the diff summary."""
    failing = res.failing()
    verdict = (f"FAILED: {len(failing)} finding(s) at or above {res.fail_on}" if failing
               else f"passed (nothing at or above {res.fail_on})")
    out = [f"segmill gate: {res.diff.base_label} -> {res.diff.head_label}: {verdict}"]
    for code, fs in res.by_rule().items():
        r = RULES[code]
        out.append(f"{code} {r.name} x{len(fs)}: {r.summary}")
        for f in fs[:limit]:
            where = f" [{f.location()}]" if f.item_id is not None or f.annotation_id is not None else ""
            out.append(f"  {f.severity}: {f.message}{where}")
        if len(fs) > limit:
            out.append(f"  ... and {len(fs) - limit} more")
    c = res.check_counts
    if res.config.enabled("GATE001"):
        out.append(f"check findings: base {c.get('base', 0)}, head {c.get('head', 0)}, new {c.get('new', 0)}"
                   f", accepted by baseline {c.get('accepted', 0)}")
    if res.agreement is not None:
        out.append(f"agreement: PQ {res.agreement['pq']:.3f} between {', '.join(res.agreement['annotators'])} "
                   f"on {res.agreement['images']} shared image(s)")
    out += summary_lines(res.diff)
    return "\n".join(out) + "\n"
