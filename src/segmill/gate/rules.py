"""The gate rules: entries of the one rule catalogue (:mod:`segmill.check.registry`).

Gate rules have ``GATE`` codes and no function: :func:`segmill.gate.gate`
evaluates them. Their severities follow the check order (error > warning >
info), and ``docs/ci.md``'s rule table is generated from these entries.
"""

from __future__ import annotations

from ..check.registry import Rule, register

__all__ = ["RULES"]


def _gate(code: str, name: str, severity: str, summary: str, doc: str) -> Rule:
    return register(Rule(code, name, severity, True, summary, doc))


#: Gate rules by code, in catalogue order. Summaries and docs are what ``docs/ci.md`` shows.
RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        _gate("GATE001", "new-check-findings", "error",
              "the head has check findings the base did not have",
              "Each finding keeps its check severity. Runs `segmill check` on both versions and compares the "
              "findings by fingerprint (rule code, file base name, image id, annotation id and a discriminator: "
              "never the message or the numbers). A head finding is new when the base had no finding with the same "
              "fingerprint (counted with multiplicity) and the baseline does not accept it. Each new finding is "
              "reported with its check severity; those at or above the fail level fail the gate."),
        _gate("GATE002", "category-id-reused", "error",
              "a category id now names a different class",
              "Data keyed by category id (trained models, label maps) would silently mean something else. Bad: id 3 "
              "was `cat`, now `dog` while `cat` moved to id 7. Good: keep ids, add new classes under new ids."),
        _gate("GATE003", "category-removed-in-use", "error",
              "a category was removed while annotations still use it",
              "The head's annotations point at a category id the head no longer declares. Relabel or delete those "
              "annotations in the same change."),
        _gate("GATE004", "category-renumbered", "error",
              "a category kept its name but changed id",
              "Renumbering breaks consumers keyed by id. Ignore this rule when the change is intended (`ignore = "
              "[\"GATE004\"]`)."),
        _gate("GATE005", "category-renamed", "warning",
              "a category kept its id but changed name",
              "Reported so reviewers see it; consumers keyed by name must follow the rename. Make it fail with "
              "`[tool.segmill.gate.severity] GATE005 = \"error\"`."),
        _gate("GATE006", "category-set-changed", "info",
              "categories were added, removed (unused) or merged",
              "Informational: the class list changed without breaking id references."),
        _gate("GATE010", "class-count-drift", "error",
              "a class's annotation count changed more than `max-count-change` % (20)",
              "Compared per class name (a renamed class under its new name) for classes with at least "
              "`min-class-count` (20) annotations in the base. A class that vanished counts as -100 %."),
        _gate("GATE011", "class-area-drift", "error",
              "a class's mean area changed more than `max-area-change` % (20)",
              "Areas are computed from the geometry (COCO convention), for classes with at least `min-class-count` "
              "annotations in the base."),
        _gate("GATE012", "images-emptied", "error",
              "images lost all their annotations",
              "An image present in both versions had annotations and has none now (more than `max-emptied-images`, "
              "default 0, of them). Often a failed export or a bad merge."),
        _gate("GATE013", "retained-annotations-modified", "error",
              "too many existing annotations were modified",
              "Of the base annotations on images present in both versions, the share removed, relabelled or "
              "reshaped to different pixels (IoU < 1) exceeds `max-modified-share` % (10). A vendor batch adds "
              "images; it should not rewrite the old ones."),
        _gate("GATE020", "annotator-agreement-low", "error",
              "annotators agree less than `min-agreement-pq` (0.5) on shared images",
              "For a merge of several annotators' work: panoptic quality between them (`segmill.agree.compare`, "
              "instance IoU threshold `agreement-iou`) on the images more than one of them labelled. The "
              "annotators' datasets come from `--annotators A.json --annotators B.json`, or the head is split by "
              "the annotation attribute named by `annotator-key`. Without either, the rule does not run."),
    )
}
