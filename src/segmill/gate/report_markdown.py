"""Markdown reports: a PR-comment / job-summary ready account of a change.

What changed, what failed, why, and a link to each rule's documentation.
Tables are GitHub-flavoured markdown; text from the data (class names, file
names, messages) is escaped so it cannot break a table or inject markup.
"""

from __future__ import annotations

from .diff import DatasetDiff
from .evaluate import GateResult
from .policy import RULES
from .report_text import class_rows, describe_change, mean_iou


def esc(text) -> str:
    """Escape ``text`` for a markdown table cell or inline text."""
    s = str(text).replace("\\", "\\\\").replace("\r", " ").replace("\n", " ")
    for ch in "|`*_[]":
        s = s.replace(ch, "\\" + ch)
    return s.replace("<", "&lt;")


def code(text) -> str:
    """``text`` as an inline code span (backticks inside become quotes)."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def _num(v) -> str:
    if v is None:
        return "–"
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"


def _arrow(side, attr) -> str:
    b, h = side["base"], side["head"]
    return f"{_num(getattr(b, attr) if b else None)} → {_num(getattr(h, attr) if h else None)}"


def _sml(side) -> str:
    def one(st):
        return "–" if st is None else f"{st.small}/{st.medium}/{st.large}"

    return f"{one(side['base'])} → {one(side['head'])}"


def diff_sections(d: DatasetDiff, limit: int = 20) -> list[str]:
    """Markdown lines describing a diff (used by both reports)."""
    i, a = d.images, d.annotations
    miou = mean_iou(d)
    out = [
        "| | added | removed | modified | unchanged |",
        "|---|---:|---:|---:|---:|",
        f"| images | {i['added']:,} | {i['removed']:,} | {i['modified']:,} | {i['unchanged']:,} |",
        f"| annotations | {a['added']:,} | {a['removed']:,} | {a['modified']:,} | {a['unchanged']:,} |",
        "",
        f"Modified annotations: **{a['relabelled']:,}** relabelled, **{a['reshaped']:,}** reshaped"
        + (f" (mean IoU old vs new {miou:.3f})" if miou is not None else "")
        + f", **{a['attributes']:,}** with other fields changed. Annotations matched by {d.match_rule}.",
    ]
    reasons: dict[str, int] = {}
    for c in d.image_changes:
        for r in c.reasons:
            reasons[r] = reasons.get(r, 0) + 1
    if set(reasons) - {"annotations"}:
        out += ["", "Modified images by reason: " + ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items())) + "."]
    if d.emptied_images:
        out += ["", f"**{len(d.emptied_images):,}** image(s) lost all their annotations."]
    cats = d.categories.changes
    out += ["", "#### Categories", ""]
    out += [f"- {esc(c.describe())}" for c in cats] if cats else ["No category changes."]
    rows = class_rows(d)
    if rows:
        rows.sort(key=lambda r: -max(abs(r[3] or 0), abs(r[6] or 0), 100 if r[1] is None else 0))
        out += ["", "#### Classes that changed", "",
                "| class | count before | after | change | mean area before | after | change "
                "| median area | small/medium/large |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows[:limit]:
            side = d.classes[r[0]]
            out.append(f"| {esc(r[0])} | {_num(r[1])} | {_num(r[2])} | {_pct(r[3])} | {_num(r[4])} | "
                       f"{_num(r[5])} | {_pct(r[6])} | {_arrow(side, 'median_area')} | {_sml(side)} |")
        if len(rows) > limit:
            out.append(f"\n_{len(rows) - limit} more class(es) changed; see the JSON report._")
    ch = d.annotation_changes
    if ch:
        out += ["", f"<details><summary>First {min(limit, len(ch))} of {len(ch):,} annotation changes</summary>",
                ""]
        out += [f"- {esc(describe_change(c))}" for c in ch[:limit]]
        out += ["", "</details>"]
    return out


def render_diff_markdown(d: DatasetDiff, limit: int = 20) -> str:
    """A diff as markdown."""
    out = [f"### segmill diff: {code(d.base_label)} → {code(d.head_label)}", ""]
    out += diff_sections(d, limit)
    return "\n".join(out) + "\n"


def render_gate_markdown(res: GateResult, limit: int = 20) -> str:
    """A gate decision as markdown: verdict, failing rules with reasons and links, what changed."""
    failing = res.failing()
    if failing:
        head = f"### ❌ segmill gate failed: {len(failing)} finding(s) at or above `{res.fail_on}`"
    else:
        head = f"### ✅ segmill gate passed (nothing at or above `{res.fail_on}`)"
    out = [head, "", f"Base {code(res.diff.base_label)} → head {code(res.diff.head_label)}.", ""]
    groups = res.by_rule()
    if groups:
        out += ["| rule | severity | findings | first reason |", "|---|---|---:|---|"]
        for rc, fs in groups.items():
            r = RULES[rc]
            link = f"[{rc}]({res.config.rule_url(rc)}) {r.name}"
            sev = ", ".join(sorted({f.severity for f in fs}))
            out.append(f"| {link} | {sev} | {len(fs):,} | {esc(fs[0].message)} |")
        out += ["", "<details><summary>All gate findings</summary>", ""]
        shown = 0
        for rc, fs in groups.items():
            for f in fs:
                if shown >= 5 * limit:
                    break
                where = f" ({esc(f.location())})" if f.item_id is not None or f.annotation_id is not None else ""
                out.append(f"- **{rc}** {f.severity}: {esc(f.message)}{where}")
                shown += 1
        total = sum(len(fs) for fs in groups.values())
        if total > shown:
            out.append(f"- … and {total - shown:,} more (see the JSON report)")
        out += ["", "</details>", ""]
    c = res.check_counts
    if res.config.enabled("GATE001"):
        out += [f"Check findings: base {c.get('base', 0):,}, head {c.get('head', 0):,}, "
                f"**new {c.get('new', 0):,}**, accepted by the baseline {c.get('accepted', 0):,}.", ""]
    if res.agreement is not None:
        out += [f"Annotator agreement: PQ **{res.agreement['pq']:.3f}** between "
                f"{esc(', '.join(res.agreement['annotators']))} on {res.agreement['images']:,} shared image(s).", ""]
    out += ["#### What changed", ""]
    out += diff_sections(res.diff, limit)
    return "\n".join(out) + "\n"
