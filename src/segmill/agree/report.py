"""The result of :func:`segmill.agree.compare`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .multirater import MultiRaterCounts
from .pairing import Pairing

SCHEMA = "segmill.agree/1"


@dataclass
class AgreementReport:
    """Every agreement number of one comparison.

    Use :meth:`to_dict` for the numbers (a JSON-ready dict), and
    :mod:`segmill.agree.report_text`, :mod:`~segmill.agree.report_json`,
    :mod:`~segmill.agree.report_html` to render it.
    """

    pairing: Pairing
    settings: dict
    pairs: list[dict]
    multi: MultiRaterCounts
    view: np.ndarray
    per_image: list[dict] = field(default_factory=list)
    unusable: list[dict] = field(default_factory=list)
    consensus: dict | None = None  # set by the CLI when a consensus was built

    @property
    def names(self) -> list[str]:
        return self.pairing.names

    def annotator_view(self) -> dict:
        """Each annotator against the reference: sensitivity, specificity, IoU, ranked by IoU."""
        ref = self.settings.get("reference")
        rows = []
        for a, name in enumerate(self.names):
            c = self.view[a].astype(np.float64)
            total = c.sum()
            tp = np.diag(c)
            fp = c.sum(1) - tp
            fn = c.sum(0) - tp
            tn = total - tp - fp - fn
            present = [k for k in range(1, c.shape[0]) if tp[k] + fp[k] + fn[k] > 0]
            if not present or total == 0:
                rows.append({"name": name, "sensitivity": None, "specificity": None, "iou": None,
                             "pixels": int(total)})
                continue
            sens = [tp[k] / (tp[k] + fn[k]) for k in present if tp[k] + fn[k] > 0]
            spec = [tn[k] / (tn[k] + fp[k]) for k in present if tn[k] + fp[k] > 0]
            rows.append({
                "name": name,
                "sensitivity": float(np.mean(sens)) if sens else None,
                "specificity": float(np.mean(spec)) if spec else None,
                "iou": float(np.mean([tp[k] / (tp[k] + fp[k] + fn[k]) for k in present])),
                "pixels": int(total),
            })
        ranked = sorted((r for r in rows if r["name"] != ref),
                        key=lambda r: (-(r["iou"] if r["iou"] is not None else -1.0), r["name"]))
        for i, r in enumerate(ranked, 1):
            r["rank"] = i
        return {
            "reference": ref if ref is not None else "majority vote",
            "definition": "per category (background excluded) against the reference label map, "
                          "averaged over the categories either uses; ranked by IoU",
            "annotators": ranked,
        }

    def lowest(self, n: int = 8) -> list[dict]:
        """The ``n`` images with the lowest agreement score (mean PQ over the pairs)."""
        scored = [r for r in self.per_image if r.get("score") is not None]
        scored.sort(key=lambda r: (r["score"], r["image"]))
        return scored[:n]

    def to_dict(self, per_image: bool = True) -> dict:
        """All numbers as a JSON-ready dict (schema ``segmill.agree/1``)."""
        pqs = [p["instance"]["pq"] for p in self.pairs if p["instance"]["pq"] is not None]
        sqs = [p["instance"]["sq"] for p in self.pairs if p["instance"]["sq"] is not None]
        rqs = [p["instance"]["rq"] for p in self.pairs if p["instance"]["rq"] is not None]
        mious = [p["pixel"]["mean_iou"] for p in self.pairs if p["pixel"]["mean_iou"] is not None]
        bf1 = [p["pixel"]["boundary_f1"] for p in self.pairs if p["pixel"]["boundary_f1"] is not None]
        fleiss = self.multi.fleiss_kappa()
        if len(self.names) == 2:
            kappa = self.pairs[0]["pixel"]["kappa"]
        else:
            kappa = fleiss
        complete = sum(1 for g in self.pairing.groups if g.complete)
        out = {
            "schema": SCHEMA,
            "annotators": list(self.names),
            "categories": list(self.pairing.categories),
            "settings": dict(self.settings),
            "pq": _mean(pqs),
            "sq": _mean(sqs),
            "rq": _mean(rqs),
            "mean_iou": _mean(mious),
            "kappa": kappa,
            "boundary_f1": _mean(bf1),
            "images": {
                "total": len(self.pairing.groups) + len(self.pairing.skipped),
                "compared": len(self.pairing.groups),
                "complete": complete,
                "missing": list(self.pairing.missing),
                "skipped": list(self.pairing.skipped),
            },
            "unusable_annotations": {"count": len(self.unusable), "items": list(self.unusable)},
            "pairs": self.pairs,
            "multi_rater": {
                "pixels": self.multi.subjects,
                "fleiss_kappa": fleiss,
                "krippendorff_alpha": self.multi.krippendorff_alpha(),
            },
            "annotator_view": self.annotator_view(),
            "lowest_images": [r["image"] for r in self.lowest()],
        }
        if self.consensus is not None:
            out["consensus"] = self.consensus
        if per_image:
            out["per_image"] = self.per_image
        return out

    def check_thresholds(self, min_pq=None, min_iou=None, min_kappa=None) -> list[str]:
        """Messages for every threshold the report falls below (empty when all pass)."""
        d = self.to_dict(per_image=False)
        fails = []
        for key, limit, label in (("pq", min_pq, "PQ"), ("mean_iou", min_iou, "mean IoU"),
                                  ("kappa", min_kappa, "kappa")):
            if limit is None:
                continue
            v = d[key]
            if v is None:
                fails.append(f"{label} is undefined (nothing to compare) and --min-{key.split('_')[-1]} is set")
            elif v < limit:
                fails.append(f"{label} {v:.4f} is below the minimum {limit:g}")
        return fails


def _mean(values):
    return float(np.mean(values)) if values else None
