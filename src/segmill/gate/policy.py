"""Gate rules and their configuration (``[tool.segmill.gate]``).

Every rule has a stable code, a name, a default severity and a doc paragraph
(the same text is in ``docs/ci.md``). A gate fails when it produces a finding
at or above the fail level (``error`` by default). Rules are switched with
``select`` / ``ignore`` and re-graded with ``severity``, exactly like check
rules.

Configuration keys (``pyproject.toml``: ``[tool.segmill.gate]``;
``segmill.toml``: ``[gate]`` or ``[tool.segmill.gate]``; dashes and
underscores are interchangeable):

=======================  =========  ==============================================
key                      default    meaning
=======================  =========  ==============================================
fail-on                  "error"    lowest severity that fails the gate
select                   all        rule codes to run
ignore                   []         rule codes to skip
severity                 {}         ``{GATE005 = "error"}``: re-grade a rule
baseline                 none       accepted-findings file (see ``baseline.py``)
max-count-change         20.0       GATE010: % change of a class's annotation count
max-area-change          20.0       GATE011: % change of a class's mean area
min-class-count          20         GATE010/011 skip classes smaller than this in base
max-emptied-images       0          GATE012: images allowed to lose all annotations
max-modified-share       10.0       GATE013: % of retained annotations modified
min-agreement-pq         0.5        GATE020: lowest PQ between annotators
agreement-iou            0.5        GATE020: matching IoU for agreement
annotator-key            none       GATE020: attribute naming each annotation's annotator
match                    "auto"     annotation pairing: "auto", "id" or "iou"
match-iou                0.5        minimum IoU of an "iou" pair
docs-url                 see below  where reports link rule codes
=======================  =========  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import InputError

SEVERITIES = ("info", "warning", "error")
DEFAULT_DOCS_URL = "docs/ci.md"


def severity_rank(s: str) -> int:
    """0 info, 1 warning, 2 error."""
    return SEVERITIES.index(s)


@dataclass(frozen=True)
class GateRule:
    """A gate rule: code, name, default severity and documentation."""

    code: str
    name: str
    severity: str
    summary: str
    doc: str

    @property
    def family(self) -> str:
        """Always ``"gate"`` (check rules are structure / geometry / consistency)."""
        return "gate"

    @property
    def options(self) -> dict:
        """Gate thresholds live in :class:`GateConfig`, not per rule."""
        return {}

    def anchor(self) -> str:
        """The heading anchor of this rule in ``docs/ci.md``."""
        return f"{self.code.lower()}-{self.name}"


RULES: dict[str, GateRule] = {
    r.code: r
    for r in (
        GateRule("GATE001", "new-check-findings", "error",
                 "the head has check findings the base did not have",
                 "Runs `segmill check` on both versions and compares the findings by fingerprint. "
                 "A head finding is new when the base had no finding with the same fingerprint "
                 "(counted with multiplicity) and the baseline does not accept it. Each new finding "
                 "is reported with its check severity; those at or above the fail level fail the gate."),
        GateRule("GATE002", "category-id-reused", "error",
                 "a category id now names a different class",
                 "Data keyed by category id (trained models, label maps) would silently mean "
                 "something else. Bad: id 3 was `cat`, now `dog` while `cat` moved to id 7. "
                 "Good: keep ids, add new classes under new ids."),
        GateRule("GATE003", "category-removed-in-use", "error",
                 "a category was removed while annotations still use it",
                 "The head's annotations point at a category id the head no longer declares. "
                 "Relabel or delete those annotations in the same change."),
        GateRule("GATE004", "category-renumbered", "error",
                 "a category kept its name but changed id",
                 "Renumbering breaks consumers keyed by id. Ignore this rule when the change is "
                 "intended (`ignore = [\"GATE004\"]`)."),
        GateRule("GATE005", "category-renamed", "warning",
                 "a category kept its id but changed name",
                 "Reported so reviewers see it; consumers keyed by name must follow the rename."),
        GateRule("GATE006", "category-set-changed", "info",
                 "categories were added, removed (unused) or merged",
                 "Informational: the class list changed without breaking id references."),
        GateRule("GATE010", "class-count-drift", "error",
                 "a class's annotation count changed more than `max-count-change` %",
                 "Compared per class name for classes with at least `min-class-count` "
                 "annotations in the base. A class that vanished counts as -100 %."),
        GateRule("GATE011", "class-area-drift", "error",
                 "a class's mean area changed more than `max-area-change` %",
                 "Areas are computed from the geometry (COCO convention), for classes with at "
                 "least `min-class-count` annotations in the base."),
        GateRule("GATE012", "images-emptied", "error",
                 "images lost all their annotations",
                 "An image present in both versions had annotations and has none now (more than "
                 "`max-emptied-images` of them). Often a failed export or a bad merge."),
        GateRule("GATE013", "retained-annotations-modified", "error",
                 "too many existing annotations were modified",
                 "Of the base annotations on images present in both versions, the share removed, "
                 "relabelled or reshaped to different pixels exceeds `max-modified-share` %."),
        GateRule("GATE020", "annotator-agreement-low", "error",
                 "annotators agree less than `min-agreement-pq` on shared images",
                 "For a merge of several annotators' work: panoptic quality between them "
                 "(`segmill agree`) on the images more than one of them labelled."),
    )
}


@dataclass
class GateConfig:
    """Gate settings; see the module docstring for every key."""

    fail_on: str = "error"
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    baseline: str | None = None
    max_count_change: float = 20.0
    max_area_change: float = 20.0
    min_class_count: int = 20
    max_emptied_images: int = 0
    max_modified_share: float = 10.0
    min_agreement_pq: float = 0.5
    agreement_iou: float = 0.5
    annotator_key: str | None = None
    match: str = "auto"
    match_iou: float = 0.5
    docs_url: str = DEFAULT_DOCS_URL
    source: str | None = None

    def __post_init__(self):
        if self.fail_on not in SEVERITIES:
            raise InputError(f"fail-on must be one of {', '.join(SEVERITIES)}, got {self.fail_on!r}", self.source)
        for code in (*(self.select or ()), *self.ignore, *self.severity):
            if code not in RULES:
                raise InputError(f"unknown gate rule {code!r}; known: {', '.join(RULES)}", self.source)
        for code, sev in self.severity.items():
            if sev not in SEVERITIES:
                raise InputError(f"severity of {code} must be one of {', '.join(SEVERITIES)}, got {sev!r}",
                                 self.source)
        if self.match not in ("auto", "id", "iou"):
            raise InputError(f"match must be 'auto', 'id' or 'iou', got {self.match!r}", self.source)

    def enabled(self, code: str) -> bool:
        """Whether rule ``code`` runs."""
        return (self.select is None or code in self.select) and code not in self.ignore

    def severity_of(self, code: str, default: str | None = None) -> str:
        """The configured severity of ``code`` (``default`` or the rule's own otherwise)."""
        return self.severity.get(code) or default or RULES[code].severity

    def rule_url(self, code: str) -> str:
        """Link to the documentation of a gate rule."""
        return f"{self.docs_url}#{RULES[code].anchor()}"

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str | None = None) -> "GateConfig":
        """Build from a ``[tool.segmill.gate]`` table, rejecting unknown keys and wrong types."""
        known = {f.name: f for f in fields(cls) if f.name != "source"}
        kwargs: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = raw_key.replace("-", "_")
            if key not in known:
                raise InputError(f"unknown gate setting {raw_key!r}; known: "
                                 f"{', '.join(k.replace('_', '-') for k in known)}", source, "[tool.segmill.gate]")
            kwargs[key] = _coerce(key, value, source)
        return cls(**kwargs, source=source)


_FLOATS = {"max_count_change", "max_area_change", "max_modified_share", "min_agreement_pq", "agreement_iou",
           "match_iou"}
_INTS = {"min_class_count", "max_emptied_images"}


def _coerce(key: str, value, source):
    def bad(what):
        return InputError(f"gate setting {key.replace('_', '-')!r} must be {what}, got {value!r}", source,
                          "[tool.segmill.gate]")

    if key in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise bad("a non-negative number")
        return float(value)
    if key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad("a non-negative integer")
        return value
    if key in ("select", "ignore"):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of rule codes")
        return tuple(v.upper() for v in value)
    if key == "severity":
        if not isinstance(value, dict):
            raise bad("a table of code = severity")
        return {str(k).upper(): v for k, v in value.items()}
    if not isinstance(value, str):
        raise bad("a string")
    return value


def load_configs(file=None, start_dir=None):
    """``(check Config, GateConfig)`` from one configuration file.

    Discovery and parsing are :func:`segmill.check.config.load_config`'s
    (``segmill.toml``, then ``pyproject.toml`` with ``[tool.segmill]``, from
    ``start_dir`` upward; or exactly ``file``); the gate settings are its
    ``gate`` table.
    """
    from ..check.config import load_config

    check_cfg = load_config(start_dir=start_dir, file=file)
    tables = check_cfg.tables
    table = tables.get("gate")
    if table is None and isinstance(tables.get("tool"), dict):  # [tool.segmill.gate] inside segmill.toml
        table = tables["tool"].get("segmill", {}).get("gate")
    source = str(check_cfg.path) if check_cfg.path else None
    if table is None:
        return check_cfg, GateConfig(source=source)
    if not isinstance(table, dict):
        raise InputError("[tool.segmill.gate] must be a table", source)
    cfg = GateConfig.from_mapping(table, source)
    if cfg.baseline is not None and source and not Path(cfg.baseline).is_absolute():
        cfg.baseline = str(Path(source).parent / cfg.baseline)
    return check_cfg, cfg


def load_gate_config(file=None, start_dir=None) -> GateConfig:
    """The gate settings alone (see :func:`load_configs`)."""
    return load_configs(file, start_dir)[1]
