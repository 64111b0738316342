"""Decide whether a change to a dataset may merge.

:func:`gate` diffs the two versions, checks both, and applies the rules of
:mod:`segmill.gate.policy`. Gate findings use the same
:class:`segmill.check.Finding` type as ``segmill check`` (codes ``GATE0xx``),
so baselines, fingerprints and CI reports work the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any, Callable, Sequence

from .. import __version__
from ..agree import compare
from ..check import Finding
from ..check import check as check_dataset
from ..check.finding import severity_rank
from ..model import Dataset, Item
from ..spilled import SpilledItems, as_stream
from .baseline import Baseline
from .diff import DatasetDiff, diff
from .policy import RULES, GateConfig

SCHEMA = "segmill.gate/1"


@dataclass
class GateResult:
    """Outcome of :func:`gate`.

    Attributes
    ----------
    diff : DatasetDiff
    findings : list of Finding
        Gate findings (codes ``GATE0xx``) of every severity, sorted by code.
    config : GateConfig
    fail_on : str
    check_counts : dict
        ``{"base": n, "head": n, "new": n, "accepted": n}``: check findings on
        each side, new in the head, and new ones accepted by the baseline.
    accepted : list of Finding
        Findings (check or gate) that the baseline accepted.
    agreement : dict or None
        ``{"pq": ..., "annotators": [...], "images": n}`` when GATE020 ran.
    head_check : list of Finding
        Every check finding on the head (what ``--write-baseline`` records).
    """

    diff: DatasetDiff
    findings: list = field(default_factory=list)
    config: GateConfig = field(default_factory=GateConfig)
    fail_on: str = "error"
    check_counts: dict[str, int] = field(default_factory=dict)
    accepted: list = field(default_factory=list)
    agreement: dict | None = None
    head_check: list = field(default_factory=list)

    def failing(self) -> list:
        """Findings at or above the fail level."""
        level = severity_rank(self.fail_on)
        return [f for f in self.findings if severity_rank(f.severity) >= level]

    @property
    def failed(self) -> bool:
        """Whether the gate fails (exit code 1)."""
        return bool(self.failing())

    def with_baseline(self, baseline: Baseline) -> "GateResult":
        """A copy in which the findings ``baseline`` accepts are moved to :attr:`accepted`.

        A new check finding (GATE001) is accepted by its check fingerprint,
        any other gate finding by its own.
        """
        kept, accepted = [], list(self.accepted)
        for f in self.findings:
            fp = f.data.get("check_fingerprint") if f.code == "GATE001" else f.fingerprint()
            (accepted if baseline.accepts(fp) else kept).append(f)
        counts = dict(self.check_counts)
        counts["accepted"] = sum(1 for f in accepted if f.code == "GATE001")
        return replace(self, findings=kept, accepted=accepted, check_counts=counts)

    def by_rule(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for f in self.findings:
            out.setdefault(f.code, []).append(f)
        return out

    def to_dict(self, spliced: bool = False) -> dict[str, Any]:
        """JSON-ready data; layout named by ``schema`` (documented in ``docs/ci.md``). ``spliced``: the
        diff's change lists as generators (:meth:`DatasetDiff.to_dict`)."""
        return {
            "schema": SCHEMA,
            "segmill_version": __version__,
            "base": self.diff.base_label,
            "head": self.diff.head_label,
            "fail_on": self.fail_on,
            "failed": self.failed,
            "summary": {
                "findings": len(self.findings),
                "failing": len(self.failing()),
                "by_rule": {c: len(fs) for c, fs in self.by_rule().items()},
                "check": dict(self.check_counts),
                "accepted": len(self.accepted),
            },
            "rules": [
                {"code": r.code, "name": r.name, "severity": self.config.severity_of(r.code),
                 "enabled": self.config.enabled(r.code), "url": self.config.rule_url(r.code)}
                for r in RULES.values()
            ],
            "findings": [f.to_dict() for f in self.findings],
            "agreement": self.agreement,
            "diff": self.diff.to_dict(spliced),
        }


def new_findings(base_findings: Sequence, head_findings: Sequence) -> list:
    """Head findings without a base counterpart, matched by fingerprint with multiplicity.

    Examples
    --------
    >>> from segmill.check import Finding
    >>> old = [Finding("G001", "error", "x", item_id=1)]
    >>> new = [Finding("G001", "error", "x", item_id=1), Finding("G001", "error", "x", item_id=2)]
    >>> [f.item_id for f in new_findings(old, new)]
    [2]
    """
    left = Counter(f.fingerprint() for f in base_findings)
    out = []
    for f in head_findings:
        fp = f.fingerprint()
        if left[fp] > 0:
            left[fp] -= 1
        else:
            out.append(f)
    return out


def _relocate(findings, base_path, head_path) -> list:
    """Base findings about the dataset's own file, renamed to the head's file.

    A finding's fingerprint includes its file's base name; comparing
    ``v1/instances.json`` with ``v2/instances_new.json`` must not make every
    finding look new. Findings in other files (per-image files of folder
    formats) keep their names, which are the same in both versions.
    """
    if base_path is None or head_path is None:
        return list(findings)
    bname = PurePath(str(base_path)).name
    out = []
    for f in findings:
        if f.file is not None and PurePath(str(f.file)).name == bname:
            f = replace(f, file=str(head_path))
        out.append(f)
    return out


def split_by_annotator(ds: Dataset, key: str) -> tuple[list[Dataset], list[str]]:
    """One dataset per annotator, from the attribute ``key`` of each annotation.

    Only images that at least two annotators labelled are kept (the
    overlapping images the agreement rule compares). Annotations without the
    attribute are left out.
    """
    per: dict[str, dict[int, list]] = {}
    for idx, item in enumerate(ds.items):
        for ann in item.annotations:
            who = ann.attributes.get(key, ann.extra.get(key))
            if who is not None:
                per.setdefault(str(who), {}).setdefault(idx, []).append(ann)
    names = sorted(per)
    shared = [i for i in range(len(ds.items)) if sum(1 for n in names if i in per[n]) >= 2]
    out = []
    for n in names:
        items = []
        for i in shared:
            src = ds.items[i]
            items.append(Item(src.id, src.file_name, src.width, src.height, list(per[n].get(i, [])), src.split))
        out.append(Dataset(list(ds.categories), items, meta={"annotator": n}))
    return out, names


def _agreement(datasets: Sequence[Dataset], names: Sequence[str], iou: float) -> dict:
    report = compare(list(datasets), list(names), iou=iou)
    d = report.to_dict()
    return {"pq": float(d["pq"]), "annotators": list(names),
            "images": len(datasets[0].items) if datasets else 0}


@dataclass(frozen=True)
class Origin:
    """Where the two versions came from: paths name files in check findings, labels name versions in reports.

    :class:`segmill.gate.open_versions` yields an object with these four
    attributes too.
    """

    base_path: str | None = None
    head_path: str | None = None
    base_label: str = "base"
    head_label: str = "head"


def gate(base: Dataset, head: Dataset, *, config: GateConfig | None = None, baseline: Baseline | None = None,
         check_config=None, checker: Callable | None = None, annotators=None, origin=None) -> GateResult:
    """Gate ``head`` against ``base``.

    Parameters
    ----------
    base, head : Dataset
        Best read with ``errors="keep"`` so that broken records become check
        findings instead of read errors.
    config : GateConfig, optional
        Rules, thresholds and the fail level (defaults when omitted).
    baseline : Baseline, optional
        Accepted findings.
    check_config : segmill.check.Config, optional
        Settings for the check runs.
    checker : callable, optional
        ``checker(dataset, config=..., path=...) -> CheckResult``; default
        :func:`segmill.check.check`.
    annotators : mapping of str to Dataset, or sequence of Dataset, optional
        Several annotators' datasets merged into ``head`` (by name; a sequence
        names them ``annotator1``, ...): enables GATE020. Without it,
        ``config.annotator_key`` splits ``head`` by annotator.
    origin : Origin, optional
        Paths and labels of the two versions (or anything with those four
        attributes, such as what :func:`open_versions` yields).

    Returns
    -------
    GateResult
    """
    cfg = config or GateConfig()
    level = cfg.fail_on
    where = origin if origin is not None else Origin()
    base_path, head_path = where.base_path, where.head_path
    d = diff(base, head, match=cfg.match, match_iou=cfg.match_iou, base_label=where.base_label,
             head_label=where.head_label)
    out = _Findings(cfg, str(head_path) if head_path is not None else None)
    counts = {"base": 0, "head": 0, "new": 0, "accepted": 0}
    head_check: list = []
    if cfg.enabled("GATE001"):
        head_check = _new_check_findings(out, base, head, counts, checker, check_config, (base_path, head_path))
    _category_rules(out, d)
    _drift_rules(out, d, cfg)
    _image_rules(out, d, cfg)
    agreement = None
    if cfg.enabled("GATE020"):
        agreement = _agreement_rule(out, head, cfg, annotators)
    found = sorted(out.found, key=lambda f: (f.code, -severity_rank(f.severity)))
    res = GateResult(d, found, cfg, level, counts, [], agreement, head_check)
    return res.with_baseline(baseline) if baseline is not None else res


class _Findings:
    """Collects gate findings of the enabled rules, with their configured severities."""

    def __init__(self, cfg: GateConfig, head_file: str | None):
        self.cfg, self.head_file = cfg, head_file
        self.finding = Finding
        self.found: list = []

    def add(self, code, message, *, item_id=None, annotation_id=None, key="", data=None, severity=None,
            file=None) -> None:
        if self.cfg.enabled(code):
            where = file if file is not None else self.head_file
            self.found.append(self.finding(code, self.cfg.severity_of(code, severity), message, where, item_id,
                                           annotation_id, data or {}, key))


def _new_check_findings(out: _Findings, base, head, counts: dict, checker, check_config, paths) -> list:
    """GATE001: check both versions, report the head's new findings; the head's check findings."""
    base_path, head_path = paths
    bres = _check_version(base, checker, check_config, base_path)
    hres = _check_version(head, checker, check_config, head_path)
    fresh = new_findings(_relocate(bres.findings, base_path, head_path), hres.findings)
    counts.update(base=len(bres.findings), head=len(hres.findings), new=len(fresh))
    for f in fresh:
        out.add("GATE001", f"new {f.code} ({f.severity}): {f.message}", item_id=f.item_id,
                annotation_id=f.annotation_id, key=f.fingerprint(), severity=f.severity, file=f.file,
                data={"check_code": f.code, "check_fingerprint": f.fingerprint(), "location": f.location()})
    return list(hres.findings)


def _check_version(ds: Dataset, checker, config, path):
    """The check of one version: ``checker``'s, or for a spilled dataset the streamed check of its file.

    A spilled dataset (:mod:`segmill.spilled`) is checked as ``segmill
    check`` checks its file, a batch of images at a time (the same findings
    as the whole check, :func:`segmill.check.streamed.check_streams`), from
    the items spilled: the file is not read again.
    """
    if checker is None and path is not None and isinstance(ds.items, SpilledItems):
        # lazy: the streamed check is needed only for a spilled dataset
        from ..check.streamed import check_streams

        res = check_streams([(str(path), as_stream(ds, path))], [str(path)], config=config)
        if res is not None:
            return res
    return (checker or check_dataset)(ds, config=config, path=path)


def _category_rules(out: _Findings, d: DatasetDiff) -> None:
    """GATE002-GATE006: what happened to the category list."""
    for ch in d.categories.changes:
        ref = ch.base or ch.head
        if ch.kind == "id_reused":
            code, key = "GATE002", f"id:{ch.base['id']}"
        elif ch.kind in ("removed", "merged") and ch.still_used:
            code, key = "GATE003", f"id:{ch.base['id']}"
        elif ch.kind == "renumbered":
            code, key = "GATE004", f"name:{ch.base['name']}"
        elif ch.kind == "renamed":
            code, key = "GATE005", f"id:{ch.base['id']}"
        else:
            code, key = "GATE006", f"{ch.kind}:{ref['id']}:{ref['name']}"
        out.add(code, f"category {ch.describe()}", key=key, data=ch.to_dict())


def _drift_rules(out: _Findings, d: DatasetDiff, cfg: GateConfig) -> None:
    """GATE010/GATE011: per-class count and mean-area drift."""
    drift = d.class_drift()
    for name, side in d.classes.items():
        b = side["base"]
        if b is None or b.count < cfg.min_class_count:
            continue
        h = side["head"]
        dc, da = drift[name]["count"], drift[name]["mean_area"]
        if dc is not None and abs(dc) > cfg.max_count_change:
            out.add("GATE010", f"class {name!r}: {b.count} -> {h.count if h else 0} annotations ({dc:+.1f} %, "
                    f"limit ±{cfg.max_count_change:g} %)", key=f"class:{name}",
                    data={"class": name, "base": b.count, "head": h.count if h else 0, "change_pct": dc,
                          "limit_pct": cfg.max_count_change})
        if da is not None and abs(da) > cfg.max_area_change:
            out.add("GATE011", f"class {name!r}: mean area {b.mean_area:.1f} -> {h.mean_area:.1f} px "
                    f"({da:+.1f} %, limit ±{cfg.max_area_change:g} %)", key=f"class:{name}",
                    data={"class": name, "base": b.mean_area, "head": h.mean_area, "change_pct": da,
                          "limit_pct": cfg.max_area_change})


def _image_rules(out: _Findings, d: DatasetDiff, cfg: GateConfig) -> None:
    """GATE012/GATE013: emptied images and modified retained annotations."""
    if len(d.emptied_images) > cfg.max_emptied_images:
        emptied = set(d.emptied_images)
        ids = {c.image: c.head_id for c in d.image_changes if c.status == "modified" and c.image in emptied}
        for img in d.emptied_images:
            out.add("GATE012", f"image {img!r} lost all its annotations ({len(d.emptied_images)} such image(s), "
                    f"limit {cfg.max_emptied_images})", item_id=ids.get(img), key=f"image:{img}",
                    data={"image": img, "emptied": len(d.emptied_images), "limit": cfg.max_emptied_images})
    share = d.modified_share
    if share > cfg.max_modified_share:
        out.add("GATE013", f"{d.retained['modified']} of {d.retained['annotations']} annotations on images "
                f"present in both versions were removed, relabelled or reshaped ({share:.1f} %, limit "
                f"{cfg.max_modified_share:g} %)", key="retained",
                data={"modified": d.retained["modified"], "annotations": d.retained["annotations"],
                      "share_pct": share, "limit_pct": cfg.max_modified_share})


def _agreement_rule(out: _Findings, head: Dataset, cfg: GateConfig, annotators) -> dict | None:
    """GATE020: agreement between annotators on shared images; the agreement summary or ``None``."""
    if annotators:
        if isinstance(annotators, Mapping):
            names, sets = list(annotators), list(annotators.values())
        else:
            sets = list(annotators)
            names = [f"annotator{i + 1}" for i in range(len(sets))]
    elif cfg.annotator_key:
        sets, names = split_by_annotator(head, cfg.annotator_key)
    else:
        return None
    if len(sets) < 2 or not all(s.items for s in sets):
        return None
    agreement = _agreement(sets, names, cfg.agreement_iou)
    # NaN (nothing to compare) is recorded in the report but cannot fail the rule.
    if agreement["pq"] < cfg.min_agreement_pq:
        out.add("GATE020", f"annotators {', '.join(names)} agree with PQ {agreement['pq']:.3f} on shared "
                f"images (minimum {cfg.min_agreement_pq:g})", key="agreement",
                data=dict(agreement, minimum=cfg.min_agreement_pq))
    return agreement
