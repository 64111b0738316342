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

from ..check.config import code_list, coerce_setting, load_config
from ..check.finding import SEVERITIES
from ..errors import InputError
from .rules import RULES

DEFAULT_DOCS_URL = "docs/ci.md"


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
            kwargs[key] = _coerce(key, value, known[key].default, source)
        return cls(**kwargs, source=source)


_NON_NEGATIVE_INTS = {"min_class_count", "max_emptied_images"}


def _coerce(key: str, value, default, source):
    """One ``[tool.segmill.gate]`` value, through the shared settings coercion."""
    what = f"gate setting {key.replace('_', '-')!r}"
    if key in ("select", "ignore"):
        return tuple(code_list(value, what, source))
    if key == "severity":
        if not isinstance(value, dict):
            raise InputError(f"{what} must be a table of code = severity, got {value!r}", source,
                             "[tool.segmill.gate]")
        return {str(k).upper(): v for k, v in value.items()}
    if isinstance(default, (int, float)):
        return coerce_setting(value, default, what, source, minimum=0, integer=key in _NON_NEGATIVE_INTS)
    return coerce_setting(value, default, what, source)


def load_configs(file=None, start_dir=None):
    """``(check Config, GateConfig)`` from one configuration file.

    Discovery and parsing are :func:`segmill.check.config.load_config`'s
    (``segmill.toml``, then ``pyproject.toml`` with ``[tool.segmill]``, from
    ``start_dir`` upward; or exactly ``file``); the gate settings are its
    ``gate`` table.
    """
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
